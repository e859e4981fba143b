// SPDX-License-Identifier: MIT
/*
 * test_json: response bodies shaped like the API documents them
 * (ListRegions, ListInstances, DescribeInvocations plain and wrapped,
 * DescribeInvocationResult, error bodies) and hostile ones: truncated,
 * garbage, deep nesting, wrong types, huge numbers, the \u0000 escape (per
 * field: '/' in names, verbatim in rendered files, see json.h), raw NUL
 * bytes, and the aliyun CLI config. Rendered files are checked byte for byte
 * where the shape matters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "render.h"
#include "swas.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_regions(void)
{
	struct swas_region_list l = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(
		json_parse_regions(
			S("{\"RequestId\":\"R-1\",\"Regions\":[{\"LocalName\":\"\xe5\x8d\x8e\xe4\xb8\x9c "
			  "1\",\"RegionEndpoint\":\"swas.cn-hangzhou.aliyuncs.com\",\"RegionId\":\"cn-"
			  "hangzhou\"},{\"RegionId\":\"ap-southeast-1\"}]}"),
			&l, &m),
		0);
	ASSERT_EQ_STR(m.request_id, "R-1");
	ASSERT_EQ_INT(l.count, 2);
	ASSERT_EQ_STR(l.items[0].region_id, "cn-hangzhou");
	ASSERT_EQ_STR(l.items[0].local_name, "\xe5\x8d\x8e\xe4\xb8\x9c 1");
	ASSERT_EQ_STR(l.items[0].endpoint, "swas.cn-hangzhou.aliyuncs.com");
	ASSERT_EQ_STR(l.items[1].endpoint, "");
	swas_region_list_done(&l);

	ASSERT_EQ_INT(json_parse_regions(S("{\"RequestId\":\"R-2\",\"Regions\":[]}"), &l, &m), 0);
	ASSERT_EQ_INT(l.count, 0);
	swas_region_list_done(&l);
	ASSERT_EQ_INT(json_parse_regions(S("{\"RequestId\":\"R-2\"}"), &l, &m), 0);
	ASSERT_EQ_INT(l.count, 0);
	swas_region_list_done(&l);
	ASSERT_EQ_INT(json_parse_regions(S("{\"Regions\":\"cn-hangzhou\"}"), &l, &m), -EPROTO);
	ASSERT_EQ_INT(json_parse_regions(S("[]"), &l, &m), -EPROTO);
}

static void test_instances_pages_append(void)
{
	struct swas_instance_list l = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(
		json_parse_instances(
			S("{\"RequestId\":\"R\",\"PageNumber\":1,\"PageSize\":100,\"TotalCount\":2,"
			  "\"Instances\":[{\"InstanceId\":\"i-1\",\"InstanceName\":\"web\",\"Status\":"
			  "\"Running\",\"RegionId\":\"cn-hangzhou\",\"CreationTime\":\"2024-01-02T03:04:"
			  "05Z\",\"ResourceSpec\":{\"Cpu\":2},\"Combination\":false}]}"),
			API_INSTANCES_PAGE_SIZE, &l, &m),
		0);
	ASSERT_EQ_INT(m.page_number, 1);
	ASSERT_EQ_INT(m.page_size, 100);
	ASSERT_EQ_INT(m.total_count, 2);
	ASSERT_EQ_INT(json_parse_instances(
			      S("{\"TotalCount\":\"2\",\"Instances\":{\"Instance\":[{\"InstanceId\":\"i-2\","
				"\"CreationTime\":\"garbage\"}]}}"),
			      API_INSTANCES_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_INT(m.total_count, 2);
	ASSERT_EQ_INT(l.count, 2);
	ASSERT_EQ_STR(l.items[0].instance_id, "i-1");
	ASSERT_EQ_INT(l.items[0].ctime, 1704164645);
	ASSERT_EQ_STR(l.items[1].instance_id, "i-2");
	ASSERT_EQ_STR(l.items[1].status, "");
	ASSERT_EQ_INT(l.items[1].ctime, 0);
	/* A bad page leaves the list as it was. */
	ASSERT_EQ_INT(json_parse_instances(S("{\"Instances\":[{\"InstanceId\":\"i-3\"}"),
					   API_INSTANCES_PAGE_SIZE, &l, &m),
		      -EBADMSG);
	ASSERT_EQ_INT(l.count, 2);
	swas_instance_list_done(&l);
}

static const char invocations_body[] =
	"{\"RequestId\":\"30637AD6-D977-4833-A54C-CC89483E****\",\"PageNumber\":1,\"PageSize\":50,"
	"\"TotalCount\":2,"
	"\"Invocations\":["
	"{\"InvokeId\":\"t-hz02p9545t6****\",\"CommandName\":\"uptime\",\"CommandType\":\"RunShellScript\","
	"\"CommandContent\":\"dXB0aW1lCg==\",\"CreationTime\":\"2022-07-11T06:37:16Z\",\"Parameters\":{"
	"\"name\":"
	"\"x\"},\"InvokeStatus\":\"Finished\",\"InvocationStatus\":\"Success\",\"Unknown\":[1,2]},"
	"{\"InvokeId\":\"t-2\",\"CommandName\":\"caf\xc3\xa9 \\\"q\\\"\",\"CommandType\":\"RunShellScript\","
	"\"CommandContent\":\"\",\"CreationTime\":\"2022-07-11T06:37Z\",\"Parameters\":{},"
	"\"InvokeStatus\":\"Weird\",\"InvocationStatus\":\"Running\"}]}";

/* The two JSON files of @inv rendered as tree.c renders them on read, checked
 * against the sizes render.c gives stat. Kept in a ring, so an assertion may
 * use a few at once; rendered_free() ends them. */
static char *rendered[8];
static size_t rendered_next;

static const char *keep_rendered(char *text, size_t len, size_t want_len)
{
	ASSERT_EQ_INT(len, want_len);
	ASSERT_EQ_INT(strlen(text), len);
	free(rendered[rendered_next]);
	rendered[rendered_next] = text;
	rendered_next = (rendered_next + 1) % (sizeof(rendered) / sizeof(rendered[0]));
	return text;
}

static const char *meta_of(const struct swas_invocation *inv, const char *region, const char *instance)
{
	char *text = NULL;
	size_t len = 0;

	size_t metadata_len, parameters_len;

	ASSERT_EQ_INT(render_sizes_of(inv, region, instance, &metadata_len, &parameters_len), 0);
	ASSERT_EQ_INT(render_metadata(inv, region, instance, &text, &len), 0);
	return keep_rendered(text, len, metadata_len);
}

static const char *params_of(const struct swas_invocation *inv)
{
	char *text = NULL;
	size_t len = 0;

	size_t metadata_len, parameters_len;

	/* Parameters do not depend on where the record is listed. */
	ASSERT_EQ_INT(render_sizes(inv, "r", "i", &metadata_len, &parameters_len), 0);
	ASSERT_EQ_INT(render_parameters(inv, &text, &len), 0);
	return keep_rendered(text, len, parameters_len);
}

static void rendered_free(void)
{
	for (size_t i = 0; i < sizeof(rendered) / sizeof(rendered[0]); i++) {
		free(rendered[i]);
		rendered[i] = NULL;
	}
}

static void test_invocations(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(json_parse_invocations(invocations_body, strlen(invocations_body),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_STR(m.request_id, "30637AD6-D977-4833-A54C-CC89483E****");
	ASSERT_EQ_INT(m.total_count, 2);
	ASSERT_EQ_INT(l.count, 2);
	ASSERT_EQ_STR(l.items[0].invoke_id, "t-hz02p9545t6****");
	ASSERT_EQ_STR(l.items[0].invoke_status, "Finished");
	ASSERT_EQ_MEM(l.items[0].command, l.items[0].command_len, "uptime\n", 7);
	ASSERT_EQ_INT(l.items[0].ctime, 1657521436);
	/* A page renders no file: they are sized when first asked for. */
	ASSERT_EQ_INT(l.items[0].metadata_json_len, 0);
	ASSERT_EQ_INT(l.items[0].parameters_json_len, 0);
	ASSERT_EQ_STR(params_of(&l.items[0]), "{\n\t\"name\":\t\"x\"\n}\n");
	ASSERT_EQ_STR(meta_of(&l.items[0], "cn-hangzhou", "i-1"),
		      "{\n\t\"InvokeId\":\t\"t-hz02p9545t6****\",\n\t\"CommandName\":\t\"uptime\",\n"
		      "\t\"CommandType\":\t\"RunShellScript\",\n\t\"CommandContent\":\t\"dXB0aW1lCg==\",\n"
		      "\t\"CreationTime\":\t\"2022-07-11T06:37:16Z\",\n\t\"Parameters\":\t{\n\t\t\"name\":"
		      "\t\"x\"\n\t},\n"
		      "\t\"InvokeStatus\":\t\"Finished\",\n\t\"InvocationStatus\":\t\"Success\",\n"
		      "\t\"Unknown\":\t[1, "
		      "2],\n\t\"InstanceId\":\t\"i-1\",\n\t\"RegionId\":\t\"cn-hangzhou\"\n}\n");
	/* ... and then remembered: what the first stat rendered, the next one reads. */
	ASSERT_EQ_INT(l.items[0].metadata_json_len, strlen(meta_of(&l.items[0], "cn-hangzhou", "i-1")));
	ASSERT_EQ_INT(l.items[0].parameters_json_len, strlen(params_of(&l.items[0])));
	/* Nothing twice: the four fields the struct holds are out of the record. */
	ASSERT_EQ_STR(
		swas_invocation_record(&l.items[0]),
		"{\"CommandName\":\"uptime\",\"CommandType\":\"RunShellScript\",\"Parameters\":{\"name\":"
		"\"x\"},\"InvocationStatus\":\"Success\",\"Unknown\":[1,2]}");
	/* Strings verbatim: UTF-8 kept as is, quotes escaped as JSON. */
	ASSERT_TRUE(strstr(meta_of(&l.items[1], "cn-hangzhou", "i-1"), "\"caf\xc3\xa9 \\\"q\\\"\"") != NULL);
	ASSERT_EQ_INT(l.items[1].command_len, 0);
	ASSERT_EQ_STR((char *)l.items[1].command, "");
	ASSERT_EQ_STR(params_of(&l.items[1]), "{\n}\n");
	ASSERT_EQ_STR(l.items[1].invoke_status, "Weird");
	ASSERT_EQ_INT(l.items[1].ctime, 1657521420);
	swas_invocation_list_done(&l);
}

static void test_invocations_wrapped_and_empty(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(json_parse_invocations(
			      S("{\"TotalCount\":1,\"Invocations\":{\"Invocation\":[{\"InvokeId\":\"t-w\","
				"\"Parameters\":\"{\\\"a\\\":1}\"}]}}"),
			      API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_INT(l.count, 1);
	ASSERT_EQ_STR(l.items[0].invoke_id, "t-w");
	/* A string holding a JSON object is unwrapped; no Parameters gives {}. */
	ASSERT_EQ_STR(params_of(&l.items[0]), "{\n\t\"a\":\t1\n}\n");
	swas_invocation_list_done(&l);

	ASSERT_EQ_INT(json_parse_invocations(S("{\"TotalCount\":0,\"Invocations\":[]}"),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_INT(l.count, 0);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(json_parse_invocations(S("{\"TotalCount\":0,\"Invocations\":{\"Invocation\":[]}}"),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_INT(l.count, 0);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(json_parse_invocations(S("{\"Invocations\":null}"), API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_INT(m.total_count, -1);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(json_parse_invocations(S("{\"Invocations\":{\"Invocation\":7}}"),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      -EPROTO);
}

static void test_truncated_and_garbage(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;
	size_t cut;

	/* Every proper prefix of a real body is rejected as malformed. */
	for (cut = 0; cut < strlen(invocations_body); cut++)
		ASSERT_EQ_INT(
			json_parse_invocations(invocations_body, cut, API_INVOCATIONS_PAGE_SIZE, &l, &m),
			-EBADMSG);
	ASSERT_EQ_INT(
		json_parse_invocations(S("<html>502 Bad Gateway</html>"), API_INVOCATIONS_PAGE_SIZE, &l, &m),
		-EBADMSG);
	ASSERT_EQ_INT(
		json_parse_invocations(S("{\"Invocations\":[]} trailing"), API_INVOCATIONS_PAGE_SIZE, &l, &m),
		-EBADMSG);
	ASSERT_EQ_INT(json_parse_invocations(S("{\"Invocations\":[]}\n"), API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(
		json_parse_invocations(S("{\"Invocations\":[]}\0{}"), API_INVOCATIONS_PAGE_SIZE, &l, &m),
		-EBADMSG);
	ASSERT_EQ_INT(json_parse_invocations(NULL, 0, API_INVOCATIONS_PAGE_SIZE, &l, &m), -EBADMSG);
}

static void test_deep_nesting_fails_cleanly(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;
	size_t depth = 100000, i, n = 0;
	char *body = malloc(2 * depth + 64);

	ASSERT_TRUE(body != NULL);
	memcpy(body, "{\"Invocations\":", 15);
	n = 15;
	for (i = 0; i < depth; i++)
		body[n++] = '[';
	for (i = 0; i < depth; i++)
		body[n++] = ']';
	body[n++] = '}';
	ASSERT_EQ_INT(json_parse_invocations(body, n, API_INVOCATIONS_PAGE_SIZE, &l, &m), -EBADMSG);
	free(body);

	/* Moderately deep Parameters are fine and rendered. */
	ASSERT_EQ_INT(
		json_parse_invocations(S("{\"Invocations\":[{\"InvokeId\":\"t\",\"Parameters\":{\"a\":{\"b\":"
					 "{\"c\":[[[{}]]]}}}}]}"),
				       API_INVOCATIONS_PAGE_SIZE, &l, &m),
		0);
	ASSERT_TRUE(strstr(params_of(&l.items[0]), "\"c\"") != NULL);
	swas_invocation_list_done(&l);
}

/* A bound checked before cJSON: 65 levels are refused, 64 parse; a flat array
 * of more values than a body could legitimately hold is refused too. */
static void test_nesting_and_value_bounds(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;
	size_t i, n, count = 300000;
	char *body = malloc(2 * count + 64);

	ASSERT_TRUE(body != NULL);
	for (int depth = 63; depth <= 64; depth++) {
		/* The body object is one level, Invocations' array another. */
		n = (size_t)snprintf(body, 64, "{\"Invocations\":");
		for (i = 0; i < (size_t)depth; i++)
			body[n++] = '[';
		for (i = 0; i < (size_t)depth; i++)
			body[n++] = ']';
		body[n++] = '}';
		ASSERT_EQ_INT(json_parse_invocations(body, n, API_INVOCATIONS_PAGE_SIZE, &l, &m),
			      depth == 63 ? 0 : -EBADMSG);
		swas_invocation_list_done(&l);
	}
	n = (size_t)snprintf(body, 64, "{\"Invocations\":[");
	for (i = 0; i < count; i++) {
		body[n++] = '0';
		body[n++] = ',';
	}
	body[n - 1] = ']';
	body[n++] = '}';
	ASSERT_EQ_INT(json_parse_invocations(body, n, API_INVOCATIONS_PAGE_SIZE, &l, &m), -EBADMSG);
	free(body);
}

/* More records than the PageSize asked for: the page is malformed. */
static void test_page_over_page_size_is_refused(void)
{
	struct swas_invocation_list l = { 0 };
	struct swas_instance_list il = { 0 };
	struct json_meta m;
	char body[4096];
	size_t n;
	int i;

	n = (size_t)snprintf(body, sizeof(body), "{\"TotalCount\":3,\"Invocations\":[");
	for (i = 0; i < 3; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s{\"InvokeId\":\"t-%d\"}", i ? "," : "",
				      i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "]}");
	ASSERT_EQ_INT(json_parse_invocations(body, n, 2, &l, &m), -EPROTO);
	ASSERT_EQ_INT(json_parse_invocations(body, n, 3, &l, &m), 0);
	ASSERT_EQ_INT(l.count, 3);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(
		json_parse_instances(S("{\"Instances\":[{\"InstanceId\":\"a\"},{\"InstanceId\":\"b\"}]}"), 1,
				     &il, &m),
		-EPROTO);
	ASSERT_EQ_INT(il.count, 0);
}

static void test_wrong_types_are_coerced(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(json_parse_invocations(
			      S("{\"TotalCount\":1e400,\"PageNumber\":-5,\"RequestId\":12,"
				"\"Invocations\":[{\"InvokeId\":12345,\"CommandName\":{\"x\":1},"
				"\"CommandType\":true,\"CreationTime\":null,\"InvokeStatus\":[\"Running\"],"
				"\"CommandContent\":\"not base64!\",\"InvocationStatus\":1.5},"
				"42, \"str\", null]}"),
			      API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_STR(m.request_id, "12");
	ASSERT_EQ_INT(m.total_count, 1000000000);
	ASSERT_EQ_INT(m.page_number, 0);
	ASSERT_EQ_INT(l.count, 1); /* non-object items are skipped */
	ASSERT_EQ_STR(l.items[0].invoke_id, "12345");
	ASSERT_EQ_INT(l.items[0].ctime, 0);
	ASSERT_EQ_STR(l.items[0].invoke_status, "");
	/* The files show every field as sent, whatever its type. */
	ASSERT_EQ_STR(
		meta_of(&l.items[0], "r", "i"),
		"{\n\t\"InvokeId\":\t12345,\n\t\"CommandName\":\t{\n\t\t\"x\":\t1\n\t},\n"
		"\t\"CommandType\":\ttrue,\n\t\"CreationTime\":\tnull,\n\t\"InvokeStatus\":\t[\"Running\"],\n"
		"\t\"CommandContent\":\t\"not base64!\",\n\t\"InvocationStatus\":\t1.5,\n"
		"\t\"InstanceId\":\t\"i\",\n\t\"RegionId\":\t\"r\"\n}\n");
	/* Undecodable CommandContent is shown as sent. */
	ASSERT_EQ_MEM(l.items[0].command, l.items[0].command_len, "not base64!", 11);
	swas_invocation_list_done(&l);

	ASSERT_EQ_INT(
		json_parse_invocations(S("{\"TotalCount\":-99999999999999999999999,\"Invocations\":[]}"),
				       API_INVOCATIONS_PAGE_SIZE, &l, &m),
		0);
	ASSERT_EQ_INT(m.total_count, 0);
	swas_invocation_list_done(&l);
}

static void test_nul_in_strings(void)
{
	struct swas_invocation_list l = { 0 };
	struct swas_region_list rl = { 0 };
	struct swas_result res = { 0 };
	struct json_meta m;

	/* "t-1\u0000x" must not come out cut to the valid name "t-1": the NUL
	 * becomes '/', which the filesystem refuses; the other records are intact. */
	ASSERT_EQ_INT(json_parse_invocations(
			      S("{\"Invocations\":[{\"InvokeId\":\"t-1\\u0000x\",\"CommandName\":"
				"\"n\\u0000\",\"CommandContent\":\"a\\u0000b\",\"Parameters\":{\"k\":"
				"\"v\\u0000\"}},{\"InvokeId\":\"t-2\"}]}"),
			      API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_INT(l.count, 2);
	ASSERT_EQ_STR(l.items[0].invoke_id, "t-1/x");

	ASSERT_EQ_MEM(l.items[0].command, l.items[0].command_len, "a\0b", 3);
	ASSERT_TRUE(strstr(meta_of(&l.items[0], "r", "i"), "\"InvokeId\":\t\"t-1\\u0000x\"") != NULL);
	ASSERT_TRUE(strstr(meta_of(&l.items[0], "r", "i"), "\"CommandName\":\t\"n\\u0000\"") != NULL);
	ASSERT_TRUE(strstr(meta_of(&l.items[0], "r", "i"), "\"CommandContent\":\t\"a\\u0000b\"") != NULL);
	ASSERT_EQ_STR(params_of(&l.items[0]), "{\n\t\"k\":\t\"v\\u0000\"\n}\n");
	ASSERT_EQ_STR(l.items[1].invoke_id, "t-2");
	swas_invocation_list_done(&l);

	/* Parameters as a string holding an object with its own \u0000 (found by fuzz_json). */
	ASSERT_EQ_INT(json_parse_invocations(S("{\"Invocations\":[{\"InvokeId\":\"t\",\"Parameters\":\"{"
					       "\\\"a\\\":\\\"x\\\\u0000y\\\"}\"}]}"),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_STR(params_of(&l.items[0]), "{\n\t\"a\":\t\"x\\u0000y\"\n}\n");
	swas_invocation_list_done(&l);

	ASSERT_EQ_INT(json_parse_regions(S("{\"Regions\":[{\"RegionId\":\"\\u0000\"}]}"), &rl, &m), 0);
	ASSERT_EQ_STR(rl.items[0].region_id, "/");
	swas_region_list_done(&rl);
	ASSERT_EQ_INT(json_parse_result(
			      S("{\"InvocationResult\":{\"ErrorInfo\":\"e\\u0000\",\"Output\":\"\\u0000\"}}"),
			      &res, &m),
		      0);
	ASSERT_EQ_MEM(res.output, res.output_len, "\0", 1);
	ASSERT_TRUE(strstr(res.result_json, "\"e\\u0000\"") != NULL);
	swas_result_done(&res);

	/* U+0000 and U+001F in one body cannot be told apart afterwards: rejected. */
	ASSERT_EQ_INT(json_parse_invocations(S("{\"Invocations\":[{\"InvokeId\":\"\\u0000\\u001F\"}]}"),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      -EPROTO);
	/* A lone U+001F is an ordinary character. */
	ASSERT_EQ_INT(json_parse_invocations(S("{\"Invocations\":[{\"InvokeId\":\"a\\u001fb\"}]}"),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_STR(l.items[0].invoke_id, "a\x1f"
					    "b");
	swas_invocation_list_done(&l);
	/* An escaped backslash followed by "u0000" is an ordinary string. */
	ASSERT_EQ_INT(json_parse_invocations(S("{\"Invocations\":[{\"InvokeId\":\"a\\\\u0000\"}]}"),
					     API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_STR(l.items[0].invoke_id, "a\\u0000");
	swas_invocation_list_done(&l);
	/* Hostile names otherwise come through verbatim for the filesystem to filter. */
	ASSERT_EQ_INT(
		json_parse_invocations(S("{\"Invocations\":[{\"InvokeId\":\"../..\"},{\"InvokeId\":\"a/b\"},"
					 "{\"InvokeId\":\"\"}]}"),
				       API_INVOCATIONS_PAGE_SIZE, &l, &m),
		0);
	ASSERT_EQ_INT(l.count, 3);
	ASSERT_EQ_STR(l.items[0].invoke_id, "../..");
	ASSERT_EQ_STR(l.items[1].invoke_id, "a/b");
	ASSERT_EQ_STR(l.items[2].invoke_id, "");
	swas_invocation_list_done(&l);
}

static void test_result(void)
{
	struct swas_result r = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(
		json_parse_result(
			S("{\"RequestId\":\"R\",\"InvocationResult\":{\"InvokeId\":\"t-1\","
			  "\"InstanceId\":\"i-1\",\"InvokeUser\":\"root\",\"StartTime\":\"2024-01-02T03:"
			  "04:05Z\",\"FinishedTime\":\"2024-01-02T03:04:06Z\",\"ExitCode\":0,\"Output\":"
			  "\"YWRtaW4K\",\"ErrorCode\":\"\",\"ErrorInfo\":\"\",\"InvocationStatus\":"
			  "\"Success\",\"InvokeRecordStatus\":\"Finished\"}}"),
			&r, &m),
		0);
	ASSERT_EQ_MEM(r.output, r.output_len, "admin\n", 6);
	ASSERT_EQ_STR(r.invoke_record_status, "Finished");
	ASSERT_EQ_INT(r.started, 1704164645);
	ASSERT_EQ_INT(r.finished, 1704164646);
	ASSERT_EQ_STR(
		r.result_json,
		"{\n\t\"InvokeId\":\t\"t-1\",\n\t\"InstanceId\":\t\"i-1\",\n\t\"InvokeUser\":\t\"root\",\n"
		"\t\"StartTime\":\t\"2024-01-02T03:04:05Z\",\n\t\"FinishedTime\":\t\"2024-01-02T03:04:06Z\","
		"\n"
		"\t\"ExitCode\":\t0,\n\t\"ErrorCode\":\t\"\",\n\t\"ErrorInfo\":\t\"\",\n"
		"\t\"InvocationStatus\":\t\"Success\",\n\t\"InvokeRecordStatus\":\t\"Finished\"\n}\n");
	ASSERT_EQ_INT(r.result_json_len, strlen(r.result_json));
	swas_result_done(&r);

	/* ExitCode as a string becomes a number; no Output is an empty file. */
	ASSERT_EQ_INT(
		json_parse_result(S("{\"InvocationResult\":{\"ExitCode\":\"137\",\"InvokeRecordStatus\":7}}"),
				  &r, &m),
		0);
	ASSERT_EQ_STR(r.result_json, "{\n\t\"ExitCode\":\t137,\n\t\"InvokeRecordStatus\":\t7\n}\n");
	ASSERT_EQ_INT(r.output_len, 0);
	ASSERT_EQ_STR(r.invoke_record_status, "7");
	ASSERT_EQ_INT(r.finished, 0);
	swas_result_done(&r);

	/* Repeated keys (found by fuzz_json): no Output at all, the first ExitCode only. */
	ASSERT_EQ_INT(json_parse_result(S("{\"InvocationResult\":{\"ExitCode\":\"1\",\"Output\":\"YQ==\","
					  "\"ExitCode\":\"x\",\"Output\":\"Yg==\"}}"),
					&r, &m),
		      0);
	ASSERT_EQ_STR(r.result_json, "{\n\t\"ExitCode\":\t1\n}\n");
	ASSERT_EQ_MEM(r.output, r.output_len, "a", 1);
	swas_result_done(&r);

	ASSERT_EQ_INT(json_parse_result(S("{\"InvocationResult\":[]}"), &r, &m), -EPROTO);
	ASSERT_EQ_INT(json_parse_result(S("{\"RequestId\":\"R\"}"), &r, &m), -EPROTO);
}

static void test_error_bodies(void)
{
	struct json_error e = { 0 };

	ASSERT_EQ_INT(
		json_parse_error(
			S("{\"RequestId\":\"6BE56E05-XXXX\",\"HostId\":\"ecs.ap-southeast-3.aliyuncs.com\","
			  "\"Code\":\"InvalidImageId.NotFound\",\"Message\":\"The specified ImageId does "
			  "not exist.\",\"Recommend\":\"https://api.alibabacloud.com/troubleshoot\"}"),
			&e),
		0);
	ASSERT_EQ_STR(e.code, "InvalidImageId.NotFound");
	ASSERT_EQ_STR(e.message, "The specified ImageId does not exist.");
	ASSERT_EQ_STR(e.request_id, "6BE56E05-XXXX");

	memset(&e, 0, sizeof(e));
	ASSERT_EQ_INT(json_parse_error(
			      S("{\"requestId\":\"r\",\"code\":\"Throttling.User\",\"message\":\"m\"}"), &e),
		      0);
	ASSERT_EQ_STR(e.code, "Throttling.User");
	ASSERT_EQ_STR(e.message, "m");
	ASSERT_EQ_STR(e.request_id, "r");

	memset(&e, 0, sizeof(e));
	ASSERT_EQ_INT(json_parse_error(S("<html>503</html>"), &e), -EBADMSG);
	ASSERT_EQ_INT(json_parse_error(S("{\"RequestId\":\"only\"}"), &e), -EBADMSG);
	ASSERT_EQ_STR(e.request_id, "only");
}

static void test_temp_cred(void)
{
	struct json_temp_cred t = { 0 };
	const char sts[] = "{\"RequestId\":\"R\",\"AssumedRoleUser\":{},\"Credentials\":{\"AccessKeyId\":"
			   "\"STS.a\",\"AccessKeySecret\":\"s\",\"SecurityToken\":\"t\",\"Expiration\":"
			   "\"2030-01-02T03:04:05Z\"}}";
	const char ecs[] = "{\"AccessKeyId\":\"STS.b\",\"AccessKeySecret\":\"s2\",\"SecurityToken\":\"t2\","
			   "\"Expiration\":\"2030-01-02T03:04:05Z\",\"Code\":\"Success\"}";

	ASSERT_EQ_INT(json_parse_temp_cred(S(sts), "Credentials", &t), 0);
	ASSERT_EQ_STR(t.access_key_id, "STS.a");
	ASSERT_EQ_STR(t.security_token, "t");
	ASSERT_EQ_STR(t.expiration, "2030-01-02T03:04:05Z");
	ASSERT_EQ_STR(t.code, "");
	json_temp_cred_done(&t);
	ASSERT_EQ_INT(json_parse_temp_cred(S(ecs), NULL, &t), 0);
	ASSERT_EQ_STR(t.access_key_secret, "s2");
	ASSERT_EQ_STR(t.code, "Success");
	json_temp_cred_done(&t);
	/* No wrapper object, not JSON, not an object. */
	ASSERT_EQ_INT(json_parse_temp_cred(S(ecs), "Credentials", &t), -EPROTO);
	ASSERT_EQ_INT(json_parse_temp_cred(S("{\"Credentials\":"), "Credentials", &t), -EBADMSG);
	ASSERT_EQ_INT(json_parse_temp_cred(S("[1]"), NULL, &t), -EPROTO);
	/* Absent fields are "", for the caller to refuse. */
	ASSERT_EQ_INT(json_parse_temp_cred(S("{\"Credentials\":{}}"), "Credentials", &t), 0);
	ASSERT_EQ_STR(t.access_key_id, "");
	json_temp_cred_done(&t);
}

static void test_cli_profile(void)
{
	struct json_cli_profile p = { 0 };
	char name[64];
	const char body[] =
		"{\"current\":\"b\",\"profiles\":[{\"name\":\"a\",\"mode\":\"AK\",\"access_key_id\":\"A\","
		"\"access_key_secret\":\"sa\"},{\"name\":\"b\",\"mode\":\"StsToken\",\"access_key_id\":"
		"\"B\",\"access_key_secret\":\"sb\",\"sts_token\":\"tb\"}]}";

	ASSERT_EQ_INT(json_parse_cli_profile(S(body), NULL, &p, name, sizeof(name)), 0);
	ASSERT_EQ_STR(p.name, "b");
	ASSERT_EQ_STR(p.mode, "StsToken");
	ASSERT_EQ_STR(p.sts_token, "tb");
	json_cli_profile_done(&p);
	ASSERT_EQ_INT(json_parse_cli_profile(S(body), "a", &p, name, sizeof(name)), 0);
	ASSERT_EQ_STR(p.access_key_secret, "sa");
	ASSERT_EQ_STR(p.sts_token, "");
	json_cli_profile_done(&p);
	/* The role modes' fields; numbers and booleans as their text. */
	{
		const char role[] = "{\"profiles\":[{\"name\":\"r\",\"mode\":\"RamRoleArn\",\"ram_role_arn\":"
				    "\"acs:ram::1:role/x\",\"expired_seconds\":1800,\"enable_vpc\":true,"
				    "\"source_profile\":\"a\",\"credentials_uri\":\"http://u\"}]}";

		ASSERT_EQ_INT(json_parse_cli_profile(S(role), "r", &p, name, sizeof(name)), 0);
		ASSERT_EQ_STR(p.ram_role_arn, "acs:ram::1:role/x");
		ASSERT_EQ_STR(p.expired_seconds, "1800");
		ASSERT_EQ_STR(p.enable_vpc, "true");
		ASSERT_EQ_STR(p.source_profile, "a");
		ASSERT_EQ_STR(p.credentials_uri, "http://u");
		ASSERT_EQ_STR(p.oidc_token_file, "");
		json_cli_profile_done(&p);
		ASSERT_TRUE(p.name == NULL);
	}
	ASSERT_EQ_INT(json_parse_cli_profile(S(body), "zz", &p, name, sizeof(name)), -ENOENT);
	ASSERT_EQ_STR(name, "zz");
	/* A long name is matched whole, never cut to a shorter profile's (found by fuzz_credentials). */
	{
		char a255[256], a300[301], cfg[800];
		int n;

		memset(a255, 'a', 255);
		a255[255] = '\0';
		memset(a300, 'a', 300);
		a300[300] = '\0';
		n = snprintf(cfg, sizeof(cfg),
			     "{\"current\":\"%s\",\"profiles\":[{\"name\":\"%s\",\"access_key_id\":\"A\"}]}",
			     a300, a255);
		ASSERT_TRUE(n > 0 && (size_t)n < sizeof(cfg));
		ASSERT_EQ_INT(json_parse_cli_profile(cfg, (size_t)n, a300, &p, name, sizeof(name)), -ENOENT);
		ASSERT_EQ_INT(json_parse_cli_profile(cfg, (size_t)n, NULL, &p, name, sizeof(name)), -ENOENT);
	}
	ASSERT_EQ_INT(json_parse_cli_profile(S("{\"profiles\":{}}"), NULL, &p, name, sizeof(name)), -EPROTO);
	ASSERT_EQ_INT(json_parse_cli_profile(S("{\"profiles\":["), NULL, &p, name, sizeof(name)), -EBADMSG);
}

/* The record keeps CommandContent only when encoding the command again would
 * not give it back byte for byte; either way metadata.json shows it as sent,
 * in its place. */
static void test_content_spelled_as_sent(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(json_parse_invocations(
			      S("{\"Invocations\":[{\"CommandContent\":\"dXB0aW1lCg==\",\"InvokeId\":\"t-a\","
				"\"CommandContent\":\"eA==\"},"
				"{\"InvokeId\":\"t-b\",\"CommandContent\":\"dXB0aW1lCg\"},"
				"{\"InvokeId\":\"t-c\",\"CommandContent\":\"dXB0 aW1lCg==\"},"
				"{\"InvokeId\":\"t-d\",\"InstanceId\":\"i-x\",\"CommandContent\":\"eA==\","
				"\"Parameters\":\"\"},"
				"{\"InvokeId\":\"t-e\",\"CommandContent\":12}]}"),
			      API_INVOCATIONS_PAGE_SIZE, &l, &m),
		      0);
	ASSERT_EQ_INT(l.count, 5);
	/* Canonical: out of the record (one copy of the command), back at index 0;
	 * a second CommandContent is an ordinary field. */
	ASSERT_EQ_MEM(l.items[0].command, l.items[0].command_len, "uptime\n", 7);
	ASSERT_EQ_INT(l.items[0].put_back[SWAS_KEPT_COMMAND_CONTENT], 0);
	ASSERT_TRUE(strstr(swas_invocation_record(&l.items[0]), "dXB0aW1lCg") == NULL);
	ASSERT_EQ_STR(
		meta_of(&l.items[0], "r", "i"),
		"{\n\t\"CommandContent\":\t\"dXB0aW1lCg==\",\n\t\"InvokeId\":\t\"t-a\",\n"
		"\t\"CommandContent\":\t\"eA==\",\n\t\"InstanceId\":\t\"i\",\n\t\"RegionId\":\t\"r\"\n}\n");
	/* Without padding, or with a space: kept as sent. */
	ASSERT_EQ_INT(l.items[1].put_back[SWAS_KEPT_COMMAND_CONTENT], -1);
	ASSERT_EQ_STR(meta_of(&l.items[1], "r", "i"),
		      "{\n\t\"InvokeId\":\t\"t-b\",\n\t\"CommandContent\":\t\"dXB0aW1lCg\",\n"
		      "\t\"InstanceId\":\t\"i\",\n\t\"RegionId\":\t\"r\"\n}\n");
	ASSERT_EQ_INT(l.items[2].put_back[SWAS_KEPT_COMMAND_CONTENT], -1);
	ASSERT_TRUE(strstr(meta_of(&l.items[2], "r", "i"), "\"CommandContent\":\t\"dXB0 aW1lCg==\",\n") !=
		    NULL);
	/* Last but one, with the API's own InstanceId. */
	ASSERT_EQ_INT(l.items[3].put_back[SWAS_KEPT_COMMAND_CONTENT], 2);
	ASSERT_EQ_STR(meta_of(&l.items[3], "r", "i"),
		      "{\n\t\"InvokeId\":\t\"t-d\",\n\t\"InstanceId\":\t\"i-x\",\n\t\"CommandContent\":"
		      "\t\"eA==\",\n"
		      "\t\"Parameters\":\t\"\",\n\t\"RegionId\":\t\"r\"\n}\n");
	ASSERT_EQ_STR(params_of(&l.items[3]), "{\n}\n");
	/* Not a string: stays, a number. */
	ASSERT_EQ_INT(l.items[4].put_back[SWAS_KEPT_COMMAND_CONTENT], -1);
	ASSERT_TRUE(strstr(meta_of(&l.items[4], "r", "i"), "\"CommandContent\":\t12,\n") != NULL);
	swas_invocation_list_done(&l);
}

/* InvokeId, InvokeStatus and CreationTime leave the record only when the
 * struct gives them back as sent; a minutes-only time, a coerced id, a
 * second InvokeId stay. */
static void test_kept_fields_spelled_as_sent(void)
{
	struct swas_invocation_list l = { 0 };
	struct json_meta m;

	ASSERT_EQ_INT(
		json_parse_invocations(
			S("{\"Invocations\":[{\"CreationTime\":\"2022-07-11T06:37Z\",\"InvokeId\":\"t-a\","
			  "\"X\":1,\"InvokeStatus\":\"Odd\",\"InvokeId\":\"t-b\"},"
			  "{\"InvokeId\":7,\"InvokeStatus\":\"Running\",\"CreationTime\":\"2022-07-11T06:37:"
			  "16Z\"}]}"),
			API_INVOCATIONS_PAGE_SIZE, &l, &m),
		0);
	ASSERT_EQ_INT(l.count, 2);
	ASSERT_EQ_INT(l.items[0].ctime, 1657521420);
	ASSERT_EQ_INT(l.items[0].put_back[SWAS_KEPT_CREATION_TIME], -1);
	ASSERT_EQ_INT(l.items[0].put_back[SWAS_KEPT_INVOKE_ID], 1);
	ASSERT_EQ_INT(l.items[0].put_back[SWAS_KEPT_INVOKE_STATUS], 3);
	ASSERT_EQ_STR(swas_invocation_record(&l.items[0]),
		      "{\"CreationTime\":\"2022-07-11T06:37Z\",\"X\":1,\"InvokeId\":\"t-b\"}");
	ASSERT_EQ_STR(
		meta_of(&l.items[0], "r", "i"),
		"{\n\t\"CreationTime\":\t\"2022-07-11T06:37Z\",\n\t\"InvokeId\":\t\"t-a\",\n\t\"X\":\t1,\n"
		"\t\"InvokeStatus\":\t\"Odd\",\n\t\"InvokeId\":\t\"t-b\",\n\t\"InstanceId\":\t\"i\",\n"
		"\t\"RegionId\":\t\"r\"\n}\n");
	ASSERT_EQ_STR(l.items[1].invoke_id, "7");
	ASSERT_EQ_INT(l.items[1].put_back[SWAS_KEPT_INVOKE_ID], -1);
	ASSERT_EQ_INT(l.items[1].put_back[SWAS_KEPT_INVOKE_STATUS], 1);
	ASSERT_EQ_INT(l.items[1].put_back[SWAS_KEPT_CREATION_TIME], 2);
	ASSERT_EQ_STR(meta_of(&l.items[1], "r", "i"),
		      "{\n\t\"InvokeId\":\t7,\n\t\"InvokeStatus\":\t\"Running\",\n"
		      "\t\"CreationTime\":\t\"2022-07-11T06:37:16Z\",\n\t\"InstanceId\":\t\"i\",\n"
		      "\t\"RegionId\":\t\"r\"\n}\n");
	swas_invocation_list_done(&l);
}

int main(void)
{
	RUN(test_regions);
	RUN(test_instances_pages_append);
	RUN(test_invocations);
	RUN(test_invocations_wrapped_and_empty);
	RUN(test_truncated_and_garbage);
	RUN(test_nesting_and_value_bounds);
	RUN(test_page_over_page_size_is_refused);
	RUN(test_deep_nesting_fails_cleanly);
	RUN(test_wrong_types_are_coerced);
	RUN(test_nul_in_strings);
	RUN(test_result);
	RUN(test_error_bodies);
	RUN(test_cli_profile);
	RUN(test_temp_cred);
	RUN(test_content_spelled_as_sent);
	RUN(test_kept_fields_spelled_as_sent);
	rendered_free();
	return 0;
}
