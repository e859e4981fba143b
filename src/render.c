// SPDX-License-Identifier: MIT
/*
 * render: metadata.json and parameters.json printed from the compact record
 * (swas.h) when read. The record is the API's record as json.c parsed it,
 * printed unformatted, less the members the struct holds; parsing it again
 * gives the same tree (cJSON prints every number so that it reads back to
 * the same double, and strings verbatim), and with those members put back
 * at their indices, printing it formatted gives the bytes a direct rendering
 * of the API's record gave (fuzz_json compares the two). The only other
 * user of cJSON besides json.c, whose parser (with its caps and U+0000
 * handling) it shares through json_i.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "b64.h"
#include "json_i.h"
#include "render.h"
#include "swas.h"

static bool is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parses @inv's record; it must be an object. */
static int parse_record(const struct swas_invocation *inv, cJSON **ret, bool *ret_marked)
{
	cJSON *root = NULL;
	int r;

	if (!inv->invoke_id)
		return -EBADMSG;
	r = json_parse_text(swas_invocation_record(inv), inv->record_len, &root, ret_marked);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EBADMSG;
	}
	*ret = root;
	return 0;
}

/* parameters.json from the parsed record. Other values than an object (or a
 * string holding one) are rendered as they are rather than dropped. U+0000
 * marks (@marked: the record's) are undone here, since an unwrapped string
 * may hold its own \u0000. */
static int parameters_of(const cJSON *record, bool marked, char **ret, size_t *ret_len)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(record, "Parameters");
	cJSON *empty = NULL, *inner = NULL;
	bool inner_marked = false;
	int r;

	if (cJSON_IsString(p) && p->valuestring) {
		const char *s = p->valuestring;

		while (is_ascii_space(*s))
			s++;
		if (*s == '\0') {
			p = NULL;
		} else if (json_parse_text(p->valuestring, strlen(p->valuestring), &inner, &inner_marked) ==
			   0) {
			if (cJSON_IsObject(inner))
				p = inner;
		}
	}
	if (!p || cJSON_IsNull(p)) {
		empty = cJSON_CreateObject();
		if (!empty) {
			r = -ENOMEM;
			goto out_free;
		}
		p = empty;
	}
	r = json_print_file(p, marked || inner_marked, ret, ret_len);
out_free:
	cJSON_Delete(inner);
	cJSON_Delete(empty);
	return r;
}

/* Adds @name = @value to @obj unless the API already sent that field. */
static int add_if_absent(cJSON *obj, const char *name, const char *value)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, name))
		return 0;
	return cJSON_AddStringToObject(obj, name, value) ? 0 : -ENOMEM;
}

/* Links the detached @item into @obj's members at @index (appended when
 * @index is past the end), keeping cJSON's list shape: the first member's
 * prev is the last one, the last one's next is NULL. By hand, because the
 * cJSON 1.7.15 of Debian 12 refuses cJSON_InsertItemInArray here. */
static void link_at(cJSON *obj, cJSON *item, int32_t index)
{
	cJSON *after = obj->child;

	for (int32_t i = 0; after && i < index; i++)
		after = after->next;
	if (!after) {
		if (!obj->child) {
			obj->child = item;
			item->prev = item;
		} else {
			item->prev = obj->child->prev;
			obj->child->prev->next = item;
			obj->child->prev = item;
		}
		item->next = NULL;
		return;
	}
	item->next = after;
	item->prev = after->prev;
	if (after == obj->child)
		obj->child = item;
	else
		after->prev->next = item;
	after->prev = item;
}

/* The names of the kept members, by enum swas_kept (as json.c takes them). */
static const char *const kept_names[SWAS_KEPT_COUNT] = {
	[SWAS_KEPT_INVOKE_ID] = "InvokeId",
	[SWAS_KEPT_INVOKE_STATUS] = "InvokeStatus",
	[SWAS_KEPT_CREATION_TIME] = "CreationTime",
	[SWAS_KEPT_COMMAND_CONTENT] = "CommandContent",
};

/* Puts kept member @k back into @record at @index, its value as the API
 * sent it (swas.h says why these give it back byte for byte). */
static int put_back_one(cJSON *record, const struct swas_invocation *inv, enum swas_kept k, int index)
{
	char when[21], *b64 = NULL;
	const char *value = NULL;
	cJSON *item;
	int r = 0;

	switch (k) {
	case SWAS_KEPT_INVOKE_ID:
		value = inv->invoke_id;
		break;
	case SWAS_KEPT_INVOKE_STATUS:
		value = inv->invoke_status;
		break;
	case SWAS_KEPT_CREATION_TIME:
		swas_format_time(inv->ctime, when);
		value = when;
		break;
	case SWAS_KEPT_COMMAND_CONTENT:
		r = b64_encode(inv->command, inv->command_len, &b64, NULL);
		value = b64;
		break;
	case SWAS_KEPT_COUNT:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	r = -ENOMEM;
	/* Added last (cJSON sets the key), then moved to its place. */
	item = cJSON_AddStringToObject(record, kept_names[k], value);
	if (item) {
		link_at(record, cJSON_DetachItemViaPointer(record, item), index);
		r = 0;
	}
	free(b64);
	return r;
}

/* Puts every kept member back, lowest index first: each index counts the
 * members before it in the API's record, those put back included. */
static int put_back(cJSON *record, const struct swas_invocation *inv)
{
	bool done[SWAS_KEPT_COUNT] = { false };

	for (;;) {
		int next = -1, r;

		for (int k = 0; k < SWAS_KEPT_COUNT; k++)
			if (!done[k] && inv->put_back[k] >= 0 &&
			    (next < 0 || inv->put_back[k] < inv->put_back[next]))
				next = k;
		if (next < 0)
			return 0;
		done[next] = true;
		r = put_back_one(record, inv, (enum swas_kept)next, inv->put_back[next]);
		if (r < 0)
			return r;
	}
}

/* metadata.json from the parsed record, which it completes in place. */
static int metadata_of(cJSON *record, const struct swas_invocation *inv, const char *region_id,
		       const char *instance_id, bool marked, char **ret, size_t *ret_len)
{
	int r;

	r = put_back(record, inv);
	if (r == 0)
		r = add_if_absent(record, "InstanceId", instance_id);
	if (r == 0)
		r = add_if_absent(record, "RegionId", region_id);
	if (r == 0)
		r = json_print_file(record, marked, ret, ret_len);
	return r;
}

int render_metadata(const struct swas_invocation *inv, const char *region_id, const char *instance_id,
		    char **ret, size_t *ret_len)
{
	cJSON *record = NULL;
	bool marked = false;
	int r;

	r = parse_record(inv, &record, &marked);
	if (r < 0)
		return r;
	r = metadata_of(record, inv, region_id, instance_id, marked, ret, ret_len);
	cJSON_Delete(record);
	return r;
}

int render_parameters(const struct swas_invocation *inv, char **ret, size_t *ret_len)
{
	cJSON *record = NULL;
	bool marked = false;
	int r;

	r = parse_record(inv, &record, &marked);
	if (r < 0)
		return r;
	r = parameters_of(record, marked, ret, ret_len);
	cJSON_Delete(record);
	return r;
}

int render_sizes(const struct swas_invocation *inv, const char *region_id, const char *instance_id,
		 size_t *ret_metadata_len, size_t *ret_parameters_len)
{
	cJSON *record = NULL;
	bool marked = false;
	char *text = NULL;
	size_t plen, mlen;
	int r;

	r = parse_record(inv, &record, &marked);
	if (r < 0)
		return r;
	/* Parameters first: metadata_of changes the tree. */
	r = parameters_of(record, marked, &text, &plen);
	if (r < 0)
		goto out_delete;
	free(text);
	text = NULL;
	r = metadata_of(record, inv, region_id, instance_id, marked, &text, &mlen);
	if (r < 0)
		goto out_delete;
	free(text);
	*ret_metadata_len = mlen;
	*ret_parameters_len = plen;
out_delete:
	cJSON_Delete(record);
	return r;
}

int render_sizes_of(const struct swas_invocation *inv, const char *region_id, const char *instance_id,
		    size_t *ret_metadata_len, size_t *ret_parameters_len)
{
	/* The sizes are the one thing about a record that is filled in after
	 * it is built; the object itself was never const (render.h). */
	struct swas_invocation *memo = (struct swas_invocation *)inv;
	uint32_t m = atomic_load_explicit(&memo->metadata_json_len, memory_order_relaxed);
	uint32_t p = atomic_load_explicit(&memo->parameters_json_len, memory_order_relaxed);
	size_t mlen, plen;
	int r;

	/* Both files end in "\n", so 0 is never a size: it means unknown. */
	if (m != 0 && p != 0) {
		*ret_metadata_len = m;
		*ret_parameters_len = p;
		return 0;
	}
	r = render_sizes(inv, region_id, instance_id, &mlen, &plen);
	if (r < 0)
		return r;
	if (mlen > UINT32_MAX || plen > UINT32_MAX)
		return -EOVERFLOW;
	atomic_store_explicit(&memo->parameters_json_len, (uint32_t)plen, memory_order_relaxed);
	atomic_store_explicit(&memo->metadata_json_len, (uint32_t)mlen, memory_order_relaxed);
	*ret_metadata_len = mlen;
	*ret_parameters_len = plen;
	return 0;
}
