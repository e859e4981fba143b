// SPDX-License-Identifier: MIT
/*
 * api_walk: drives the api layer from the command line for
 * tests/test_client.py. It loads credentials through the normal chain
 * (cred_load; the tests use the environment), runs one command and prints
 * one JSON object per line on stdout, with the C structs' fields under the
 * API's names; binary bytes (command, output) are base64 ("*_b64") and the
 * rendered files are embedded as JSON values. On failure it prints
 *   error: <errno name> code=<Code> message=<Message> request_id=<RequestId> http=<status>
 * on stderr and exits 1. Counters go to stderr as "stats: calls=N retries=N
 * failures=N" so tests can see retries without asking the emulator. A listing
 * stopped at a cap prints "truncated: invocations N" (or "instances") on
 * stderr. --cancel-after-ms calls api_cancel() from another thread after
 * that long, as the daemon's signal handler would.
 *
 * Usage: api_walk --endpoint URL --home-region R [--cafile F] [--jobs N]
 *        [--timeout S] [--retry-budget-ms MS] [--cancel-after-ms MS]
 *        [--verbose] COMMAND [ARGS]
 *   regions | instances REGION | invocations REGION INSTANCE |
 *   result REGION INSTANCE INVOKEID | walk
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "api.h"
#include "b64.h"
#include "credentials.h"
#include "log.h"
#include "render.h"

/* Writes @s as a JSON string; bytes >= 0x80 pass through (UTF-8 stays UTF-8). */
static void put_str(const char *s, size_t len)
{
	size_t i;

	putchar('"');
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void field_str(const char *name, const char *value, bool first)
{
	if (!first)
		putchar(',');
	put_str(name, strlen(name));
	putchar(':');
	put_str(value ? value : "", value ? strlen(value) : 0);
}

static void field_b64(const char *name, const unsigned char *data, size_t len)
{
	char *enc = NULL;

	if (b64_encode(data ? data : (const unsigned char *)"", data ? len : 0, &enc, NULL) < 0) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	field_str(name, enc, false);
	free(enc);
}

/* Embeds an already rendered JSON file on the same line: raw newlines and
 * tabs only occur between tokens (inside strings they are escaped). */
static void field_raw(const char *name, const char *json, size_t len)
{
	size_t i;

	printf(",\"%s\":", name);
	for (i = 0; i < len; i++)
		putchar(json[i] == '\n' || json[i] == '\t' ? ' ' : json[i]);
}

static void field_num(const char *name, long long v)
{
	printf(",\"%s\":%lld", name, v);
}

/* Keeps the error on one line: control characters become spaces. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

static int fail(int r, struct api_error *err)
{
	const char *name = strerrorname_np(-r);

	one_line(err->code);
	one_line(err->message);
	one_line(err->request_id);
	fprintf(stderr, "error: %s code=%s message=%s request_id=%s http=%d\n", name ? name : "?", err->code,
		err->message, err->request_id, err->http_status);
	return 1;
}

static void print_region(const struct swas_region *r)
{
	printf("{");
	field_str("kind", "region", true);
	field_str("RegionId", r->region_id, false);
	field_str("LocalName", r->local_name, false);
	field_str("RegionEndpoint", r->endpoint, false);
	printf("}\n");
}

static void print_instance(const struct swas_instance *in)
{
	printf("{");
	field_str("kind", "instance", true);
	field_str("InstanceId", in->instance_id, false);
	field_str("InstanceName", in->instance_name, false);
	field_str("Status", in->status, false);
	field_str("RegionId", in->region_id, false);
	field_str("CreationTime", in->creation_time, false);
	field_num("ctime", (long long)in->ctime);
	printf("}\n");
}

static void print_invocation(const char *region, const char *instance, const struct swas_invocation *inv)
{
	char *text = NULL;
	size_t len;

	printf("{");
	field_str("kind", "invocation", true);
	field_str("RegionId", region, false);
	field_str("InstanceId", instance, false);
	field_str("InvokeId", inv->invoke_id, false);
	field_str("InvokeStatus", inv->invoke_status, false);
	field_num("ctime", (long long)inv->ctime);
	field_b64("command_b64", inv->command, inv->command_len);
	/* The files as a read renders them; the other fields are in metadata. */
	if (render_parameters(inv, &text, &len) < 0)
		goto out_oom;
	field_raw("parameters", text, len);
	free(text);
	if (render_metadata(inv, region, instance, &text, &len) < 0)
		goto out_oom;
	field_raw("metadata", text, len);
	free(text);
	printf("}\n");
	return;
out_oom:
	fprintf(stderr, "out of memory\n");
	exit(1);
}

static void print_result(const struct swas_result *r)
{
	printf("{");
	field_str("kind", "result", true);
	field_b64("output_b64", r->output, r->output_len);
	field_str("InvokeRecordStatus", r->invoke_record_status, false);
	field_num("finished", (long long)r->finished);
	field_num("started", (long long)r->started);
	field_raw("result", r->result_json, r->result_json_len);
	printf("}\n");
}

static int cmd_invocations(struct api *api, const char *region, const char *instance, struct api_error *err)
{
	struct swas_invocation_list l = { 0 };
	size_t i;
	int r;

	r = api_list_invocations(api, region, instance, &l, err);
	if (r < 0)
		return r;
	if (l.truncated)
		fprintf(stderr, "truncated: invocations %zu\n", l.count);
	for (i = 0; i < l.count; i++)
		print_invocation(region, instance, &l.items[i]);
	swas_invocation_list_done(&l);
	return 0;
}

static int cmd_walk(struct api *api, struct api_error *err)
{
	struct swas_region_list regions = { 0 };
	size_t i, j;
	int r;

	r = api_list_regions(api, &regions, err);
	if (r < 0)
		return r;
	for (i = 0; i < regions.count && r == 0; i++) {
		struct swas_instance_list inst = { 0 };

		print_region(&regions.items[i]);
		r = api_list_instances(api, regions.items[i].region_id, &inst, err);
		for (j = 0; r == 0 && j < inst.count; j++) {
			print_instance(&inst.items[j]);
			r = cmd_invocations(api, regions.items[i].region_id, inst.items[j].instance_id, err);
		}
		swas_instance_list_done(&inst);
	}
	swas_region_list_done(&regions);
	return r;
}

static int run(struct api *api, int argc, char **argv, struct api_error *err)
{
	const char *cmd = argv[0];
	size_t i;
	int r;

	if (strcmp(cmd, "regions") == 0 && argc == 1) {
		struct swas_region_list l = { 0 };

		r = api_list_regions(api, &l, err);
		for (i = 0; r == 0 && i < l.count; i++)
			print_region(&l.items[i]);
		swas_region_list_done(&l);
		return r;
	}
	if (strcmp(cmd, "instances") == 0 && argc == 2) {
		struct swas_instance_list l = { 0 };

		r = api_list_instances(api, argv[1], &l, err);
		if (r == 0 && l.truncated)
			fprintf(stderr, "truncated: instances %zu\n", l.count);
		for (i = 0; r == 0 && i < l.count; i++)
			print_instance(&l.items[i]);
		swas_instance_list_done(&l);
		return r;
	}
	if (strcmp(cmd, "invocations") == 0 && argc == 3)
		return cmd_invocations(api, argv[1], argv[2], err);
	if (strcmp(cmd, "result") == 0 && argc == 4) {
		struct swas_result res = { 0 };

		r = api_get_result(api, argv[1], argv[2], argv[3], &res, err);
		if (r == 0)
			print_result(&res);
		swas_result_done(&res);
		return r;
	}
	if (strcmp(cmd, "walk") == 0 && argc == 1)
		return cmd_walk(api, err);
	return -EINVAL;
}

static unsigned long number(const char *s, const char *what)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !end || *end || end == s) {
		fprintf(stderr, "api_walk: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

struct canceller {
	struct api *api;
	unsigned long after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *cl = arg;
	struct timespec ts = { (time_t)(cl->after_ms / 1000), (long)(cl->after_ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	api_cancel(cl->api);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: api_walk --endpoint URL --home-region R [--cafile F] [--jobs N] [--timeout S]\n"
		"                [--retry-budget-ms MS] [--cancel-after-ms MS] [--verbose] COMMAND [ARGS]\n"
		"  regions | instances REGION | invocations REGION INSTANCE |\n"
		"  result REGION INSTANCE INVOKEID | walk\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "home-region", required_argument, NULL, 'r' },
		{ "cafile", required_argument, NULL, 'c' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "retry-budget-ms", required_argument, NULL, 'b' },
		{ "cancel-after-ms", required_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct api_config cfg = { .jobs = 8, .timeout_s = 15, .retry_budget_ms = 30000 };
	struct api_error err = { 0 };
	struct cred_diag diag;
	struct api_stats st;
	struct cred *cred = NULL;
	struct api *api = NULL;
	struct canceller cl = { 0 };
	pthread_t canceller;
	bool cancelling = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			cfg.endpoint = optarg;
			break;
		case 'r':
			cfg.home_region = optarg;
			break;
		case 'c':
			cfg.cafile = optarg;
			break;
		case 'j':
			cfg.jobs = (unsigned)number(optarg, "--jobs");
			break;
		case 't':
			cfg.timeout_s = (unsigned)number(optarg, "--timeout");
			break;
		case 'b':
			cfg.retry_budget_ms = (unsigned)number(optarg, "--retry-budget-ms");
			break;
		case 'x':
			cl.after_ms = number(optarg, "--cancel-after-ms");
			cancelling = true;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		default:
			usage();
		}
	}
	if (!cfg.endpoint || !cfg.home_region || optind >= argc)
		usage();

	log_init(false, cfg.verbose ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "api_walk: curl_global_init failed\n");
		return 1;
	}
	r = cred_load(NULL, &cred, &diag);
	if (r < 0) {
		fprintf(stderr, "api_walk: %s\n", diag.message);
		curl_global_cleanup();
		return 1;
	}
	if (diag.warning[0])
		fprintf(stderr, "api_walk: warning: %s\n", diag.warning);
	r = api_new(&cfg, cred, &api);
	if (r < 0) {
		fprintf(stderr, "api_walk: bad configuration: %s\n", strerror(-r));
		curl_global_cleanup();
		return 2;
	}
	cl.api = api;
	if (cancelling && pthread_create(&canceller, NULL, cancel_later, &cl) != 0) {
		fprintf(stderr, "api_walk: cannot start the cancelling thread\n");
		cancelling = false;
	}
	r = run(api, argc - optind, argv + optind, &err);
	if (cancelling)
		pthread_join(canceller, NULL);
	fflush(stdout);
	api_get_stats(api, &st);
	fprintf(stderr, "stats: calls=%lu retries=%lu failures=%lu\n", st.calls, st.retries, st.failures);
	api_free(api);
	curl_global_cleanup();
	if (r == -EINVAL && !err.code[0] && !err.message[0])
		usage();
	return r < 0 ? fail(r, &err) : 0;
}
