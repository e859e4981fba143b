// SPDX-License-Identifier: MIT
/*
 * json: cJSON confined to one file. Each function parses a whole body with
 * cJSON_ParseWithLengthOpts (never cJSON_GetErrorPtr, which uses a global),
 * copies what it needs into the plain structs of swas.h, renders the user
 * visible JSON files from the same tree, and deletes the tree before
 * returning. json.h states the rules for hostile input; the helpers below
 * (str_of, num_of, list_of) are where wrong types are coerced.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "b64.h"
#include "json.h"
#include "json_i.h"
#include "render.h"
#include "swas.h"

/* Bodies are capped by the HTTP layer (API_MAX_BODY_BYTES); this guards the
 * direct callers (config files, tests) as well. */
#define JSON_MAX_INPUT_BYTES API_MAX_BODY_BYTES
/* Nesting: our deepest legitimate document is a DescribeInvocations record's
 * Parameters inside the record inside the list inside the body, about 5
 * levels. cJSON 1.7.15 (Debian 12) refuses only past 1000 levels and parses,
 * duplicates, prints and frees its trees recursively, so a far lower bound is
 * checked before cJSON ever sees the text. */
#define JSON_MAX_DEPTH 64
/* Values in one document: a full page is 50 records of about 20 values plus
 * their Parameters. cJSON spends about 80 bytes on each value (node and
 * malloc overhead), so "[0,0,0,...]" would turn a 4 MiB body into 160 MiB of
 * tree; this bounds a tree at about 20 MiB whatever the body holds. */
#define JSON_MAX_VALUES (256u * 1024u)

/* The marker a U+0000 becomes while parsing (see json.h): U+001F, used only
 * for bodies that contain no U+001F of their own. */
#define NUL_MARK '\x1f'

/* Calls @fn on every \uXXXX escape inside a JSON string of @body whose hex
 * digits equal @hex (case-insensitive); returns how many there were. */
static size_t each_escape(char *body, size_t len, const char *hex, void (*fn)(char *escape))
{
	bool in_string = false;
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char c = body[i];

		if (!in_string) {
			if (c == '"')
				in_string = true;
			continue;
		}
		if (c == '\\') {
			if (i + 5 < len && body[i + 1] == 'u' && strncasecmp(body + i + 2, hex, 4) == 0) {
				n++;
				if (fn)
					fn(body + i);
			}
			i++;
		} else if (c == '"') {
			in_string = false;
		}
	}
	return n;
}

static void escape_to_mark(char *escape)
{
	memcpy(escape + 2, "001f", 4);
}

static void escape_to_nul(char *escape)
{
	memcpy(escape + 2, "0000", 4);
}

/* A struct field that held U+0000: the NUL becomes '/', which no valid name
 * contains, so the filesystem skips (and logs) that entry. */
static void unmark_str(char *s)
{
	for (; s && *s; s++)
		if (*s == NUL_MARK)
			*s = '/';
}

/* A rendered JSON file: the marker, printed by cJSON as \u001f, goes back to
 * \u0000, so the file holds the API's string verbatim. */
static void unmark_json(char *s, size_t len)
{
	if (s)
		each_escape(s, len, "001f", escape_to_nul);
}

/* One pass over the text, no recursion, no allocation: false if it nests
 * deeper than JSON_MAX_DEPTH or holds more than JSON_MAX_VALUES values
 * (counted as separators and openers outside strings, an upper bound). */
static bool is_within_bounds(const char *body, size_t len)
{
	bool in_string = false;
	size_t depth = 0, values = 1, i;

	for (i = 0; i < len; i++) {
		char c = body[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c) {
		case '"':
			in_string = true;
			break;
		case '[':
		case '{':
			if (++depth > JSON_MAX_DEPTH)
				return false;
			values++;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case ',':
			if (++values > JSON_MAX_VALUES)
				return false;
			break;
		default:
			break;
		}
	}
	return true;
}

/* Parses a complete JSON document. -EBADMSG: not JSON (truncated, trailing
 * garbage, raw NUL, too deep or too many values, see is_within_bounds);
 * -EPROTO: holds U+0000 and U+001F both.
 * *ret_marked says U+0000 was parsed as NUL_MARK (json.h). */
static int parse(const char *body, size_t len, cJSON **ret, bool *ret_marked)
{
	const char *end = NULL, *text = body;
	char *copy = NULL;
	cJSON *root;
	bool marked = false;

	if (!body || len == 0 || len > JSON_MAX_INPUT_BYTES)
		return -EBADMSG;
	/* A raw NUL would end cJSON's strings early. */
	if (memchr(body, '\0', len))
		return -EBADMSG;
	if (!is_within_bounds(body, len))
		return -EBADMSG;
	if (each_escape((char *)body, len, "0000", NULL)) {
		if (memchr(body, NUL_MARK, len) || each_escape((char *)body, len, "001f", NULL))
			return -EPROTO;
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, body, len);
		each_escape(copy, len, "0000", escape_to_mark);
		text = copy;
		marked = true;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (root) {
		while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
			end++;
		if (end != text + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	free(copy);
	if (!root)
		return -EBADMSG;
	*ret = root;
	if (ret_marked)
		*ret_marked = marked;
	return 0;
}

int json_parse_text(const char *text, size_t len, cJSON **ret, bool *ret_marked)
{
	return parse(text, len, ret, ret_marked);
}

void json_unmark(char *s, size_t len)
{
	unmark_json(s, len);
}

static const cJSON *get(const cJSON *obj, const char *name)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

/* Writes the text of a scalar into @out: strings as they are, numbers as
 * integers when integral, bools as true/false; anything else as "". */
static void scalar_text(const cJSON *item, char *out, size_t size, const char **ret_str)
{
	*ret_str = NULL;
	out[0] = '\0';
	if (cJSON_IsString(item) && item->valuestring) {
		*ret_str = item->valuestring;
	} else if (cJSON_IsNumber(item)) {
		double v = item->valuedouble;

		if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
			snprintf(out, size, "%.0f", v);
		else
			snprintf(out, size, "%.17g", v);
	} else if (cJSON_IsBool(item)) {
		snprintf(out, size, "%s", cJSON_IsTrue(item) ? "true" : "false");
	}
}

/* A malloc'ed copy of @obj[@name] as text (see scalar_text); NULL on ENOMEM. */
static char *str_of(const cJSON *obj, const char *name)
{
	char num[64];
	const char *s;

	scalar_text(get(obj, name), num, sizeof(num), &s);
	return strdup(s ? s : num);
}

/* A string field of a list item and where its copy goes. */
struct str_field {
	const char *name;
	char **dst;
};

/* Copies each field of @item (see str_of) into its destination, undoing the
 * \u0000 marks when @marked; false if a copy failed (those set stay set, for
 * the caller's cleanup). */
static bool take_strs(const cJSON *item, bool marked, const struct str_field *f, size_t n)
{
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		*f[i].dst = str_of(item, f[i].name);
		if (*f[i].dst == NULL)
			ok = false;
		else if (marked)
			unmark_str(*f[i].dst);
	}
	return ok;
}

/* Copies @obj[@name] as text into a fixed field, cut at its size. */
static void str_into(const cJSON *obj, const char *name, char *out, size_t size)
{
	char num[64];
	const char *s;

	scalar_text(get(obj, name), num, sizeof(num), &s);
	snprintf(out, size, "%s", s ? s : num);
}

/* @obj[@name] as an integer in [lo, hi]; numeric strings count; else @dflt. */
static long long num_of(const cJSON *obj, const char *name, long long lo, long long hi, long long dflt)
{
	const cJSON *item = get(obj, name);
	double v;

	if (cJSON_IsNumber(item)) {
		v = item->valuedouble;
		if (isnan(v))
			return dflt;
	} else if (cJSON_IsString(item) && item->valuestring && item->valuestring[0]) {
		char *end = NULL;

		errno = 0;
		v = strtod(item->valuestring, &end);
		if (*end != '\0' || isnan(v))
			return dflt;
	} else {
		return dflt;
	}
	if (v <= (double)lo)
		return lo;
	if (v >= (double)hi)
		return hi;
	return (long long)v;
}

/* The array under @obj[@name], also in the wrapped {"<item>":[...]} form.
 * Absent or null: *ret = NULL (an empty list). Anything else: -EPROTO. */
static int list_of(const cJSON *obj, const char *name, const char *item_name, const cJSON **ret)
{
	const cJSON *v = get(obj, name);

	*ret = NULL;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsObject(v)) {
		v = get(v, item_name);
		if (!v || cJSON_IsNull(v))
			return 0;
	}
	if (!cJSON_IsArray(v))
		return -EPROTO;
	*ret = v;
	return 0;
}

static void meta_read(const cJSON *root, struct json_meta *meta)
{
	if (!meta)
		return;
	str_into(root, "RequestId", meta->request_id, sizeof(meta->request_id));
	if (!meta->request_id[0])
		str_into(root, "requestId", meta->request_id, sizeof(meta->request_id));
	meta->page_number = num_of(root, "PageNumber", 0, 1000000000, 0);
	meta->page_size = num_of(root, "PageSize", 0, 1000000000, 0);
	meta->total_count = num_of(root, "TotalCount", 0, 1000000000, -1);
}

int json_print_file(const struct cJSON *item, bool marked, char **ret, size_t *ret_len)
{
	char *printed = cJSON_Print(item), *out;
	size_t len;

	if (!printed)
		return -ENOMEM;
	len = strlen(printed);
	out = malloc(len + 2);
	if (!out) {
		cJSON_free(printed);
		return -ENOMEM;
	}
	memcpy(out, printed, len);
	out[len] = '\n';
	out[len + 1] = '\0';
	cJSON_free(printed);
	if (marked)
		json_unmark(out, len + 1);
	*ret = out;
	*ret_len = len + 1;
	return 0;
}

/* Base64 field decoded; text that is not base64 is kept as sent, so the
 * user still sees what the API returned. */
static int decode_b64_field(const cJSON *obj, const char *name, bool marked, unsigned char **ret,
			    size_t *ret_len)
{
	char *text = str_of(obj, name);
	size_t len, i;
	int r;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	r = b64_decode(text, len, ret, ret_len);
	if (r == -EINVAL) {
		/* The length is kept, so a U+0000 can be itself here. */
		for (i = 0; marked && i < len; i++)
			if (text[i] == NUL_MARK)
				text[i] = '\0';
		*ret = (unsigned char *)text;
		*ret_len = len;
		return 0;
	}
	free(text);
	return r;
}

int json_parse_error(const char *body, size_t len, struct json_error *err)
{
	cJSON *root = NULL;
	bool marked = false;
	int r;

	r = parse(body, len, &root, &marked);
	if (r < 0)
		return -EBADMSG;
	r = -EBADMSG;
	if (!cJSON_IsObject(root))
		goto out_delete;
	str_into(root, "RequestId", err->request_id, sizeof(err->request_id));
	if (!err->request_id[0])
		str_into(root, "requestId", err->request_id, sizeof(err->request_id));
	str_into(root, "Message", err->message, sizeof(err->message));
	if (!err->message[0])
		str_into(root, "message", err->message, sizeof(err->message));
	str_into(root, "Code", err->code, sizeof(err->code));
	if (!err->code[0])
		str_into(root, "code", err->code, sizeof(err->code));
	if (marked) {
		unmark_str(err->request_id);
		unmark_str(err->message);
		unmark_str(err->code);
	}
	if (err->code[0])
		r = 0;
out_delete:
	cJSON_Delete(root);
	return r;
}

void json_peek_request_id(const char *body, size_t len, char *out, size_t out_size)
{
	cJSON *root = NULL;

	bool marked = false;

	out[0] = '\0';
	if (parse(body, len, &root, &marked) < 0)
		return;
	str_into(root, "RequestId", out, out_size);
	if (!out[0])
		str_into(root, "requestId", out, out_size);
	if (marked)
		unmark_str(out);
	cJSON_Delete(root);
}

/* Parses and checks the body is an object; fills @meta. */
static int parse_object(const char *body, size_t len, cJSON **ret, struct json_meta *meta, bool *ret_marked)
{
	cJSON *root = NULL;
	int r;

	r = parse(body, len, &root, ret_marked);
	if (r < 0)
		return r;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EPROTO;
	}
	if (meta) {
		memset(meta, 0, sizeof(*meta));
		meta_read(root, meta);
		if (*ret_marked)
			unmark_str(meta->request_id);
	}
	*ret = root;
	return 0;
}

/* Parses @body and finds its list @key (or the wrapped @alt form): sets
 * *ret_root (caller deletes it, also on failure) and *ret_arr; returns the
 * item count, or -EPROTO beyond @max items, or parse_object's error. */
static int open_list(const char *body, size_t len, const char *key, const char *alt, size_t max,
		     struct json_meta *meta, cJSON **ret_root, const cJSON **ret_arr, bool *ret_marked)
{
	int n, r;

	*ret_root = NULL;
	r = parse_object(body, len, ret_root, meta, ret_marked);
	if (r < 0)
		return r;
	r = list_of(*ret_root, key, alt, ret_arr);
	if (r < 0)
		return r;
	n = cJSON_GetArraySize(*ret_arr);
	if (n < 0 || (size_t)n > max)
		return -EPROTO;
	return n;
}

int json_parse_regions(const char *body, size_t len, struct swas_region_list *ret, struct json_meta *meta)
{
	struct swas_region_list l = { 0 };
	const cJSON *arr, *item;
	cJSON *root = NULL;
	bool marked = false;
	int n, r;

	n = r = open_list(body, len, "Regions", "Region", API_MAX_REGIONS, meta, &root, &arr, &marked);
	if (r < 0)
		goto out_delete;
	r = -ENOMEM;
	l.items = calloc(n > 0 ? (size_t)n : 1, sizeof(*l.items));
	if (!l.items)
		goto out_delete;
	cJSON_ArrayForEach(item, arr)
	{
		struct swas_region *reg = &l.items[l.count];

		if (!cJSON_IsObject(item))
			continue;
		l.count++;
		const struct str_field f[] = {
			{ "RegionId", &reg->region_id },
			{ "LocalName", &reg->local_name },
			{ "RegionEndpoint", &reg->endpoint },
		};

		if (!take_strs(item, marked, f, sizeof(f) / sizeof(f[0])))
			goto out_free_list;
	}
	*ret = l;
	r = 0;
	goto out_delete;
out_free_list:
	swas_region_list_done(&l);
out_delete:
	cJSON_Delete(root);
	return r;
}

int json_parse_instances(const char *body, size_t len, size_t max_items, struct swas_instance_list *list,
			 struct json_meta *meta)
{
	const cJSON *arr, *item;
	struct swas_instance *items;
	cJSON *root = NULL;
	size_t start = list->count;
	bool marked = false;
	int n, r;

	n = r = open_list(body, len, "Instances", "Instance", max_items, meta, &root, &arr, &marked);
	if (r < 0)
		goto out_delete;
	if (n == 0) {
		r = 0;
		goto out_delete;
	}
	r = -ENOMEM;
	items = realloc(list->items, (list->count + (size_t)n) * sizeof(*items));
	if (!items)
		goto out_delete;
	list->items = items;
	memset(items + start, 0, (size_t)n * sizeof(*items));
	cJSON_ArrayForEach(item, arr)
	{
		struct swas_instance *in = &list->items[list->count];

		if (!cJSON_IsObject(item))
			continue;
		list->count++;
		const struct str_field f[] = {
			{ "InstanceId", &in->instance_id },
			{ "InstanceName", &in->instance_name },
			{ "Status", &in->status },
			{ "RegionId", &in->region_id },
			{ "CreationTime", &in->creation_time },
		};

		if (!take_strs(item, marked, f, sizeof(f) / sizeof(f[0])))
			goto out_undo;
		in->ctime = swas_parse_time(in->creation_time);
		/* The record as .instance.json shows it; its size is bounded
		 * by the page's (the body cap). */
		r = json_print_file(item, marked, &in->record, &in->record_len);
		if (r < 0)
			goto out_undo;
		r = -ENOMEM;
	}
	r = 0;
	goto out_delete;
out_undo:
	/* Leave @list as it was: free what this page added. */
	{
		struct swas_instance_list added = { .items = list->items + start,
						    .count = list->count - start };
		size_t i;

		for (i = 0; i < added.count; i++)
			swas_instance_done(&added.items[i]);
		list->count = start;
	}
out_delete:
	cJSON_Delete(root);
	return r;
}

/* The index of @member among @obj's members. */
static int member_index(const cJSON *obj, const cJSON *member)
{
	const cJSON *it;
	int i = 0;

	for (it = obj->child; it && it != member; it = it->next)
		i++;
	return i;
}

/* Whether @member (the first of its name in the record) is a string that
 * the struct gives back byte for byte: see swas.h. */
static int is_kept(enum swas_kept k, const cJSON *member, const struct swas_invocation *inv, bool *ret)
{
	const char *s = cJSON_IsString(member) ? member->valuestring : NULL;
	char *b64 = NULL, when[21];
	size_t b64_len;
	int r;

	*ret = false;
	if (!s)
		return 0;
	switch (k) {
	case SWAS_KEPT_INVOKE_ID:
		*ret = strcmp(s, inv->invoke_id) == 0;
		break;
	case SWAS_KEPT_INVOKE_STATUS:
		*ret = strcmp(s, inv->invoke_status) == 0;
		break;
	case SWAS_KEPT_CREATION_TIME:
		swas_format_time(inv->ctime, when);
		*ret = inv->ctime != 0 && strcmp(s, when) == 0;
		break;
	case SWAS_KEPT_COMMAND_CONTENT:
		r = b64_encode(inv->command, inv->command_len, &b64, &b64_len);
		if (r < 0)
			return r;
		*ret = strlen(s) == b64_len && memcmp(s, b64, b64_len) == 0;
		free(b64);
		break;
	case SWAS_KEPT_COUNT:
		break;
	}
	return 0;
}

/* The names of the kept members, by enum swas_kept. */
static const char *const kept_names[SWAS_KEPT_COUNT] = {
	[SWAS_KEPT_INVOKE_ID] = "InvokeId",
	[SWAS_KEPT_INVOKE_STATUS] = "InvokeStatus",
	[SWAS_KEPT_CREATION_TIME] = "CreationTime",
	[SWAS_KEPT_COMMAND_CONTENT] = "CommandContent",
};

/* Takes out of @item the members @fields gives back byte for byte (swas.h),
 * so the record holds nothing twice; notes in @put_back the index each had
 * (-1: stays). An index past INT16_MAX stays too (a record that long is
 * not one the API sends). @fields: a view of the fields, no allocation. */
static int take_kept(cJSON *item, const struct swas_invocation *fields, int16_t put_back[SWAS_KEPT_COUNT])
{
	cJSON *member[SWAS_KEPT_COUNT];
	bool kept;
	int k, r;

	/* All indices first, in the record as the API sent it. */
	for (k = 0; k < SWAS_KEPT_COUNT; k++) {
		int index;

		put_back[k] = -1;
		member[k] = cJSON_GetObjectItemCaseSensitive(item, kept_names[k]);
		if (!member[k])
			continue;
		r = is_kept((enum swas_kept)k, member[k], fields, &kept);
		if (r < 0)
			return r;
		index = member_index(item, member[k]);
		if (kept && index <= INT16_MAX)
			put_back[k] = (int16_t)index;
	}
	for (k = 0; k < SWAS_KEPT_COUNT; k++)
		if (put_back[k] >= 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(item, member[k]));
	return 0;
}

/* One record into its compact form (swas.h). Changes @item (its
 * CommandContent goes), which the caller deletes with its tree. */
static int invocation_fill(cJSON *item, bool marked, struct swas_invocation *inv)
{
	char *invoke_id = NULL, *status = NULL, *created = NULL, *record = NULL;
	unsigned char *command = NULL;
	size_t command_len = 0;
	struct swas_invocation view;
	int16_t put_back[SWAS_KEPT_COUNT];
	int r = -ENOMEM;

	const struct str_field f[] = {
		{ "InvokeId", &invoke_id },
		{ "InvokeStatus", &status },
		{ "CreationTime", &created },
	};

	if (!take_strs(item, marked, f, sizeof(f) / sizeof(f[0])))
		goto out_free;
	r = decode_b64_field(item, "CommandContent", marked, &command, &command_len);
	if (r < 0)
		goto out_free;
	/* The fields as the record will hold them, for take_kept to compare. */
	view = (struct swas_invocation){ .invoke_id = invoke_id,
					 .invoke_status = status,
					 .command = command,
					 .ctime = swas_parse_time(created),
					 .command_len = (uint32_t)command_len };
	r = -EOVERFLOW;
	if (command_len > UINT32_MAX)
		goto out_free;
	r = take_kept(item, &view, put_back);
	if (r < 0)
		goto out_free;
	r = -ENOMEM;
	record = cJSON_PrintUnformatted(item);
	if (!record)
		goto out_free;
	/* Kept as the API's text: \u0000 stays itself (render.c marks it again). */
	if (marked)
		unmark_json(record, strlen(record));
	/* The JSON files are sized when first asked for (render_sizes_of). */
	r = swas_invocation_build(inv, invoke_id, status, view.ctime, command, command_len, record,
				  strlen(record), put_back);
out_free:
	if (record)
		cJSON_free(record);
	free(command);
	free(created);
	free(status);
	free(invoke_id);
	return r;
}

int json_parse_invocations(const char *body, size_t len, size_t max_items, struct swas_invocation_list *ret,
			   struct json_meta *meta)
{
	struct swas_invocation_list l = { 0 };
	const cJSON *arr, *item;
	cJSON *root = NULL;
	bool marked = false;
	int n, r;

	n = r = open_list(body, len, "Invocations", "Invocation", max_items, meta, &root, &arr, &marked);
	if (r < 0)
		goto out_delete;
	r = -ENOMEM;
	l.items = calloc(n > 0 ? (size_t)n : 1, sizeof(*l.items));
	if (!l.items)
		goto out_delete;
	cJSON_ArrayForEach(item, arr)
	{
		if (!cJSON_IsObject(item))
			continue;
		r = invocation_fill((cJSON *)item, marked, &l.items[l.count++]);
		if (r < 0)
			goto out_free_list;
	}
	*ret = l;
	r = 0;
	goto out_delete;
out_free_list:
	swas_invocation_list_done(&l);
out_delete:
	cJSON_Delete(root);
	return r;
}

/* Deletes every member @name of @obj, or every one but the first. */
static void delete_members(cJSON *obj, const char *name, bool keep_first)
{
	cJSON *item, *next;
	bool seen = false;

	for (item = obj->child; item; item = next) {
		next = item->next;
		if (!item->string || strcmp(item->string, name) != 0)
			continue;
		if (keep_first && !seen) {
			seen = true;
			continue;
		}
		cJSON_Delete(cJSON_DetachItemViaPointer(obj, item));
	}
}

/* result.json: InvocationResult without Output, ExitCode as a number. A key
 * may repeat (JSON leaves that undefined; cJSON reads the first, many readers
 * the last), so every Output goes and only the first ExitCode stays. */
static int render_result(const cJSON *res, char **ret, size_t *ret_len)
{
	cJSON *copy = cJSON_Duplicate(res, true);
	cJSON *exit_code;
	int r = -ENOMEM;

	if (!copy)
		return -ENOMEM;
	delete_members(copy, "Output", false);
	delete_members(copy, "ExitCode", true);
	exit_code = cJSON_GetObjectItemCaseSensitive(copy, "ExitCode");
	if (exit_code && !cJSON_IsNumber(exit_code)) {
		long long v = num_of(copy, "ExitCode", -2147483648LL, 4294967295LL, 0);
		cJSON *num = cJSON_CreateNumber((double)v);

		if (!num || !cJSON_ReplaceItemInObjectCaseSensitive(copy, "ExitCode", num)) {
			cJSON_Delete(num);
			goto out_delete;
		}
	}
	r = json_print_file(copy, false, ret, ret_len);
out_delete:
	cJSON_Delete(copy);
	return r;
}

int json_parse_result(const char *body, size_t len, struct swas_result *ret, struct json_meta *meta)
{
	struct swas_result res = { 0 };
	const cJSON *item;
	cJSON *root = NULL;
	bool marked = false;
	char when[64];
	int r;

	r = parse_object(body, len, &root, meta, &marked);
	if (r < 0)
		return r;
	item = get(root, "InvocationResult");
	r = -EPROTO;
	if (!cJSON_IsObject(item))
		goto out_delete;
	r = decode_b64_field(item, "Output", marked, &res.output, &res.output_len);
	if (r < 0)
		goto out_free;
	r = render_result(item, &res.result_json, &res.result_json_len);
	if (r < 0)
		goto out_free;
	r = -ENOMEM;
	res.invoke_record_status = str_of(item, "InvokeRecordStatus");
	if (!res.invoke_record_status)
		goto out_free;
	if (marked) {
		unmark_str(res.invoke_record_status);
		unmark_json(res.result_json, res.result_json_len);
	}
	str_into(item, "FinishedTime", when, sizeof(when));
	res.finished = swas_parse_time(when);
	str_into(item, "StartTime", when, sizeof(when));
	res.started = swas_parse_time(when);
	*ret = res;
	r = 0;
	goto out_delete;
out_free:
	swas_result_done(&res);
out_delete:
	cJSON_Delete(root);
	return r;
}

/* Overwrites every string in the tree (the CLI config holds secrets). The
 * depth is bounded by JSON_MAX_DEPTH. */
static void wipe_strings(cJSON *item)
{
	for (; item; item = item->next) {
		if (item->valuestring)
			explicit_bzero(item->valuestring, strlen(item->valuestring));
		wipe_strings(item->child);
	}
}

static void free_wiped(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

void json_cli_profile_done(struct json_cli_profile *p)
{
	free(p->name);
	free(p->mode);
	free(p->access_key_id);
	free_wiped(p->access_key_secret);
	free_wiped(p->sts_token);
	free(p->ram_role_arn);
	free(p->ram_session_name);
	free(p->expired_seconds);
	free(p->duration_seconds);
	free(p->sts_region);
	free(p->sts_endpoint);
	free(p->enable_vpc);
	free(p->source_profile);
	free(p->ram_role_name);
	free(p->oidc_provider_arn);
	free(p->oidc_token_file);
	free(p->credentials_uri);
	memset(p, 0, sizeof(*p));
}

int json_parse_cli_profile(const char *body, size_t len, const char *profile, struct json_cli_profile *ret,
			   char *ret_name, size_t name_size)
{
	struct json_cli_profile p = { 0 };
	const struct str_field fields[] = {
		{ "mode", &p.mode },
		{ "access_key_id", &p.access_key_id },
		{ "access_key_secret", &p.access_key_secret },
		{ "sts_token", &p.sts_token },
		{ "ram_role_arn", &p.ram_role_arn },
		{ "ram_session_name", &p.ram_session_name },
		{ "expired_seconds", &p.expired_seconds },
		{ "duration_seconds", &p.duration_seconds },
		{ "sts_region", &p.sts_region },
		{ "sts_endpoint", &p.sts_endpoint },
		{ "enable_vpc", &p.enable_vpc },
		{ "source_profile", &p.source_profile },
		{ "ram_role_name", &p.ram_role_name },
		{ "oidc_provider_arn", &p.oidc_provider_arn },
		{ "oidc_token_file", &p.oidc_token_file },
		{ "credentials_uri", &p.credentials_uri },
	};
	const cJSON *profiles, *item, *found = NULL;
	cJSON *root = NULL;
	char *current = NULL;
	const char *want = profile;
	bool marked = false;
	int r;

	r = parse(body, len, &root, &marked);
	if (r < 0)
		return -EBADMSG;
	r = -EPROTO;
	profiles = get(root, "profiles");
	if (!cJSON_IsArray(profiles))
		goto out_wipe;
	/* The whole name: a cut one could match another, shorter profile. */
	if (!want) {
		r = -ENOMEM;
		current = str_of(root, "current");
		if (!current)
			goto out_wipe;
		want = current;
	}
	if (!want[0])
		want = "default";
	cJSON_ArrayForEach(item, profiles)
	{
		const cJSON *name = get(item, "name");

		if (cJSON_IsString(name) && name->valuestring && strcmp(name->valuestring, want) == 0) {
			found = item;
			break;
		}
	}
	if (!found) {
		snprintf(ret_name, name_size, "%s", want);
		r = -ENOENT;
		goto out_wipe;
	}
	r = -ENOMEM;
	p.name = strdup(want);
	if (!take_strs(found, marked, fields, sizeof(fields) / sizeof(fields[0])) || !p.name) {
		json_cli_profile_done(&p);
		goto out_wipe;
	}
	snprintf(ret_name, name_size, "%s", want);
	*ret = p;
	r = 0;
out_wipe:
	free(current);
	wipe_strings(root);
	cJSON_Delete(root);
	return r;
}

void json_temp_cred_done(struct json_temp_cred *c)
{
	free(c->access_key_id);
	free_wiped(c->access_key_secret);
	free_wiped(c->security_token);
	free(c->expiration);
	free(c->code);
	memset(c, 0, sizeof(*c));
}

int json_parse_temp_cred(const char *body, size_t len, const char *wrapper, struct json_temp_cred *ret)
{
	struct json_temp_cred c = { 0 };
	const struct str_field fields[] = {
		{ "AccessKeyId", &c.access_key_id },
		{ "AccessKeySecret", &c.access_key_secret },
		{ "SecurityToken", &c.security_token },
		{ "Expiration", &c.expiration },
	};
	const cJSON *obj;
	cJSON *root = NULL;
	bool marked = false;
	int r;

	r = parse(body, len, &root, &marked);
	if (r < 0)
		return -EBADMSG;
	r = -EPROTO;
	if (!cJSON_IsObject(root))
		goto out_wipe;
	obj = wrapper ? get(root, wrapper) : root;
	if (!cJSON_IsObject(obj))
		goto out_wipe;
	r = -ENOMEM;
	c.code = str_of(root, "Code");
	if (!take_strs(obj, marked, fields, sizeof(fields) / sizeof(fields[0])) || !c.code) {
		json_temp_cred_done(&c);
		goto out_wipe;
	}
	*ret = c;
	r = 0;
out_wipe:
	wipe_strings(root);
	cJSON_Delete(root);
	return r;
}
