// SPDX-License-Identifier: MIT
/*
 * fuzz_json: every parser of json.h on every input, since a body meant for
 * one action may arrive for another: the error body, RequestId peeking,
 * ListRegions, ListInstances, DescribeInvocations, DescribeInvocationResult
 * and the aliyun CLI config. Invariants (json.h states the rules):
 *   - a parser returns 0 or one of its documented errors, and on failure
 *     leaves its result untouched (a list it appends to keeps its count);
 *   - every string it returns is NUL-terminated, every length matches its
 *     bytes (decoded command and output carry a NUL past their length), fixed
 *     fields end inside their arrays, and a shorter RequestId buffer gets a
 *     prefix of a longer one;
 *   - the rendered files (metadata.json, parameters.json, result.json) end in
 *     "\n", parse as JSON, metadata.json is an object naming its InstanceId
 *     and RegionId, result.json is an object without Output whose ExitCode,
 *     if any, is a number;
 *   - an invocation's files, rendered from its compact record as a read
 *     renders them, have the sizes computed at parse time, and metadata.json
 *     is byte for byte what rendering the API's record directly gives
 *     (checked for bodies without U+0000), CommandContent back in place;
 *   - U+0000 handling: no returned string or file holds U+001F (the internal
 *     marker) unless the body itself did;
 *   - times are swas_parse_time of the returned text; parsing the same page
 *     twice into one instance list appends the same items again.
 * The harness reads the rendered files back with cJSON; the code under test
 * keeps cJSON inside json.c and render.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "b64.h"
#include "fuzz.h"
#include "json.h"
#include "render.h"
#include "swas.h"

#define FUZZ_REGION   "cn-fuzz"
#define FUZZ_INSTANCE "i-fuzz"

/* Whether the body holds U+001F of its own (raw or escaped), which may then
 * legitimately reach the results. */
static bool body_has_1f;

static bool has_escape_1f(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 6 <= len; i++)
		if (s[i] == '\\' && strncasecmp(s + i + 1, "u001f", 5) == 0)
			return true;
	return false;
}

static void check_str(const char *s)
{
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(body_has_1f || !strchr(s, '\x1f'));
}

static void check_field(const char *s, size_t size)
{
	FUZZ_CHECK(fuzz_is_terminated(s, size));
	check_str(s);
}

static void check_meta(const struct json_meta *m)
{
	check_field(m->request_id, sizeof(m->request_id));
	FUZZ_CHECK(m->page_number >= 0 && m->page_size >= 0 && m->total_count >= -1);
}

/* A rendered file: its text, "\n"-terminated, parsed back. Caller deletes. */
static cJSON *check_rendered(const char *text, size_t len)
{
	cJSON *root;

	FUZZ_CHECK(text != NULL && strlen(text) == len && len > 0 && text[len - 1] == '\n');
	FUZZ_CHECK(body_has_1f || !has_escape_1f(text, len));
	root = cJSON_ParseWithLength(text, len);
	FUZZ_CHECK(root != NULL);
	return root;
}

static void check_error(const char *body, size_t len)
{
	struct json_error err = { 0 };
	int r = json_parse_error(body, len, &err);

	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	check_field(err.code, sizeof(err.code));
	check_field(err.message, sizeof(err.message));
	check_field(err.request_id, sizeof(err.request_id));
	FUZZ_CHECK(r != 0 || err.code[0] != '\0');
}

static void check_peek(const char *body, size_t len)
{
	char small[8], big[128];

	memset(small, 'x', sizeof(small));
	memset(big, 'x', sizeof(big));
	json_peek_request_id(body, len, small, sizeof(small));
	json_peek_request_id(body, len, big, sizeof(big));
	check_field(small, sizeof(small));
	check_field(big, sizeof(big));
	FUZZ_CHECK(strncmp(small, big, strlen(small)) == 0);
}

static void check_regions(const char *body, size_t len)
{
	struct swas_region_list l = { (struct swas_region *)&l, 12345 }; /* must stay untouched on failure */
	struct json_meta meta;
	size_t i;
	int r = json_parse_regions(body, len, &l, &meta);

	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(l.items == (struct swas_region *)&l && l.count == 12345);
		return;
	}
	check_meta(&meta);
	FUZZ_CHECK(l.count <= API_MAX_REGIONS);
	for (i = 0; i < l.count; i++) {
		check_str(l.items[i].region_id);
		check_str(l.items[i].local_name);
		check_str(l.items[i].endpoint);
	}
	swas_region_list_done(&l);
}

static bool same_str(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static void check_instances(const char *body, size_t len)
{
	struct swas_instance_list l = { .items = NULL, .count = 0 };
	struct json_meta meta;
	size_t i, n;
	int r = json_parse_instances(body, len, API_INSTANCES_PAGE_SIZE, &l, &meta);

	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(l.count == 0);
		free(l.items);
		return;
	}
	check_meta(&meta);
	n = l.count;
	FUZZ_CHECK(n <= API_INSTANCES_PAGE_SIZE);
	for (i = 0; i < n; i++) {
		const struct swas_instance *in = &l.items[i];

		check_str(in->instance_id);
		check_str(in->instance_name);
		check_str(in->status);
		check_str(in->region_id);
		check_str(in->creation_time);
		FUZZ_CHECK(in->ctime == swas_parse_time(in->creation_time));
	}
	/* The next page appends (here: the same page again). */
	FUZZ_CHECK(json_parse_instances(body, len, API_INSTANCES_PAGE_SIZE, &l, NULL) == 0);
	FUZZ_CHECK(l.count == 2 * n);
	for (i = 0; i < n; i++) {
		const struct swas_instance *a = &l.items[i], *b = &l.items[n + i];

		FUZZ_CHECK(same_str(a->instance_id, b->instance_id) &&
			   same_str(a->instance_name, b->instance_name) && same_str(a->status, b->status) &&
			   same_str(a->region_id, b->region_id) &&
			   same_str(a->creation_time, b->creation_time) && a->ctime == b->ctime);
	}
	swas_instance_list_done(&l);
}

/* The metadata.json the listing used to keep, rendered straight from the
 * API's record as json.c did before records were kept compact: the record
 * duplicated, InstanceId and RegionId added unless present, printed, "\n".
 * The bytes a read renders now must be these. Caller frees. */
static char *reference_metadata(const cJSON *record)
{
	cJSON *copy = cJSON_Duplicate(record, true);
	char *printed, *out = NULL;
	size_t len;

	FUZZ_CHECK(copy != NULL);
	if (!cJSON_GetObjectItemCaseSensitive(copy, "InstanceId"))
		FUZZ_CHECK(cJSON_AddStringToObject(copy, "InstanceId", FUZZ_INSTANCE) != NULL);
	if (!cJSON_GetObjectItemCaseSensitive(copy, "RegionId"))
		FUZZ_CHECK(cJSON_AddStringToObject(copy, "RegionId", FUZZ_REGION) != NULL);
	printed = cJSON_Print(copy);
	FUZZ_CHECK(printed != NULL);
	len = strlen(printed);
	out = malloc(len + 2);
	FUZZ_CHECK(out != NULL);
	memcpy(out, printed, len);
	memcpy(out + len, "\n", 2);
	cJSON_free(printed);
	cJSON_Delete(copy);
	return out;
}

/* @ref: the API's record as the harness parsed it, or NULL when the body holds
 * a U+0000 (which json.c parses its own way). */
static void check_invocation(const struct swas_invocation *inv, const cJSON *ref)
{
	cJSON *md, *params, *record;
	const cJSON *cc;
	char *text = NULL, *b64 = NULL, *want;
	size_t len = 0, metadata_len, parameters_len;

	check_str(inv->invoke_id);
	check_str(inv->invoke_status);
	FUZZ_CHECK(inv->command != NULL && inv->command[inv->command_len] == '\0');
	FUZZ_CHECK(strlen(swas_invocation_record(inv)) == inv->record_len);
	record = cJSON_ParseWithLength(swas_invocation_record(inv), inv->record_len);
	FUZZ_CHECK(cJSON_IsObject(record));
	cJSON_Delete(record);

	/* What a read renders: the size stat reported, parsed back. */
	FUZZ_CHECK(render_sizes_of(inv, FUZZ_REGION, FUZZ_INSTANCE, &metadata_len, &parameters_len) == 0);
	FUZZ_CHECK(inv->metadata_json_len == metadata_len && inv->parameters_json_len == parameters_len);
	FUZZ_CHECK(render_parameters(inv, &text, &len) == 0 && len == parameters_len);
	params = check_rendered(text, len);
	cJSON_Delete(params);
	free(text);
	FUZZ_CHECK(render_metadata(inv, FUZZ_REGION, FUZZ_INSTANCE, &text, &len) == 0 && len == metadata_len);
	md = check_rendered(text, len);
	FUZZ_CHECK(cJSON_IsObject(md));
	FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(md, "InstanceId") != NULL);
	FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(md, "RegionId") != NULL);
	for (int k = 0; k < SWAS_KEPT_COUNT; k++) {
		static const char *const names[SWAS_KEPT_COUNT] = { "InvokeId", "InvokeStatus",
								    "CreationTime", "CommandContent" };
		char when[21];
		const char *want_value = when;

		if (inv->put_back[k] < 0)
			continue;
		/* Put back where it was, the first of its name, the value the struct gives. */
		cc = cJSON_GetArrayItem(md, inv->put_back[k]);
		FUZZ_CHECK(cc != NULL && cc == cJSON_GetObjectItemCaseSensitive(md, names[k]));
		switch (k) {
		case SWAS_KEPT_INVOKE_ID:
			want_value = inv->invoke_id;
			break;
		case SWAS_KEPT_INVOKE_STATUS:
			want_value = inv->invoke_status;
			break;
		case SWAS_KEPT_CREATION_TIME:
			swas_format_time(inv->ctime, when);
			break;
		default:
			FUZZ_CHECK(b64_encode(inv->command, inv->command_len, &b64, NULL) == 0);
			want_value = b64;
			break;
		}
		FUZZ_CHECK(cJSON_IsString(cc) && strcmp(cc->valuestring, want_value) == 0);
		free(b64);
		b64 = NULL;
	}
	cJSON_Delete(md);
	if (ref) {
		want = reference_metadata(ref);
		FUZZ_CHECK(strcmp(text, want) == 0);
		free(want);
	}
	free(text);
}

static bool has_escape_0000(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 6 <= len; i++)
		if (s[i] == '\\' && strncmp(s + i + 1, "u0000", 5) == 0)
			return true;
	return false;
}

/* The records of a DescribeInvocations body as json.c finds them (the
 * "Invocations" array, or its wrapped {"Invocation":[...]} form), parsed by
 * the harness; NULL when it holds a U+0000. Caller deletes *ret_root. */
static const cJSON *reference_list(const char *body, size_t len, cJSON **ret_root)
{
	const cJSON *list;

	*ret_root = NULL;
	if (has_escape_0000(body, len))
		return NULL;
	*ret_root = cJSON_ParseWithLength(body, len);
	list = cJSON_GetObjectItemCaseSensitive(*ret_root, "Invocations");
	if (cJSON_IsObject(list))
		list = cJSON_GetObjectItemCaseSensitive(list, "Invocation");
	return cJSON_IsArray(list) ? list : NULL;
}

static void check_invocations(const char *body, size_t len)
{
	struct swas_invocation_list l = { .items = (struct swas_invocation *)&l, .count = 12345 };
	struct json_meta meta;
	const cJSON *list, *item;
	cJSON *root;
	size_t i = 0;
	int r = json_parse_invocations(body, len, API_INVOCATIONS_PAGE_SIZE, &l, &meta);

	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(l.items == (struct swas_invocation *)&l && l.count == 12345);
		return;
	}
	check_meta(&meta);
	FUZZ_CHECK(l.count <= API_INVOCATIONS_PAGE_SIZE);
	list = reference_list(body, len, &root);
	if (list) {
		cJSON_ArrayForEach(item, list)
		{
			if (!cJSON_IsObject(item))
				continue;
			FUZZ_CHECK(i < l.count);
			check_invocation(&l.items[i++], item);
		}
		FUZZ_CHECK(i == l.count);
	} else {
		for (i = 0; i < l.count; i++)
			check_invocation(&l.items[i], NULL);
	}
	cJSON_Delete(root);
	swas_invocation_list_done(&l);
}

static void check_result(const char *body, size_t len)
{
	struct swas_result res = { .output_len = 12345 };
	const cJSON *item;
	struct json_meta meta;
	cJSON *rj;
	int r = json_parse_result(body, len, &res, &meta);

	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(res.output == NULL && res.output_len == 12345 && res.result_json == NULL);
		return;
	}
	check_meta(&meta);
	FUZZ_CHECK(res.output != NULL && res.output[res.output_len] == '\0');
	check_str(res.invoke_record_status);
	rj = check_rendered(res.result_json, res.result_json_len);
	FUZZ_CHECK(cJSON_IsObject(rj));
	cJSON_ArrayForEach(item, rj)
	{
		FUZZ_CHECK(!item->string || strcmp(item->string, "Output") != 0);
		if (item->string && strcmp(item->string, "ExitCode") == 0)
			FUZZ_CHECK(cJSON_IsNumber(item));
	}
	cJSON_Delete(rj);
	swas_result_done(&res);
}

static void check_cli(const char *body, size_t len, const char *profile)
{
	struct json_cli_profile p = { 0 };
	char name[256];
	int r;

	memset(name, 'x', sizeof(name));
	r = json_parse_cli_profile(body, len, profile, &p, name, sizeof(name));
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
	if (r == -ENOENT)
		FUZZ_CHECK(fuzz_is_terminated(name, sizeof(name)) && name[0] != '\0');
	if (r < 0) {
		FUZZ_CHECK(!p.name && !p.mode && !p.access_key_id && !p.access_key_secret && !p.sts_token);
		return;
	}
	FUZZ_CHECK(fuzz_is_terminated(name, sizeof(name)));
	FUZZ_CHECK(p.name && p.mode && p.access_key_id && p.access_key_secret && p.sts_token);
	/* Every field of every mode (json.h): set, possibly "". */
	FUZZ_CHECK(p.ram_role_arn && p.ram_session_name && p.expired_seconds && p.duration_seconds &&
		   p.sts_region && p.sts_endpoint && p.enable_vpc && p.source_profile && p.ram_role_name &&
		   p.oidc_provider_arn && p.oidc_token_file && p.credentials_uri);
	FUZZ_CHECK(strcmp(p.name, name) == 0);
	FUZZ_CHECK(!profile || strcmp(p.name, profile) == 0);
	json_cli_profile_done(&p);
	FUZZ_CHECK(!p.name && !p.credentials_uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy without a terminator: bodies are (pointer, length). */
	char *body = malloc(size ? size : 1);

	FUZZ_CHECK(body != NULL);
	if (size)
		memcpy(body, data, size);
	body_has_1f = memchr(body, '\x1f', size) || has_escape_1f(body, size);

	check_error(body, size);
	check_peek(body, size);
	check_regions(body, size);
	check_instances(body, size);
	check_invocations(body, size);
	check_result(body, size);
	check_cli(body, size, NULL);
	check_cli(body, size, "default");
	free(body);
	return 0;
}
