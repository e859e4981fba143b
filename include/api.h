/* SPDX-License-Identifier: MIT */
/*
 * api: the four SWAS calls swasfs needs, returning typed C structs.
 *
 * Every call is signed with ACS3-HMAC-SHA256 (a fresh date, nonce and signature
 * on every attempt), sent through the shared HTTP pool, retried with exponential
 * backoff and full jitter on throttling, 5xx, network errors, timeouts and
 * truncated bodies (honouring x-acs-retry-after) within
 * api_config.retry_budget_ms, and never retried on credential, permission or
 * parameter errors. A body that arrived whole (its Content-Length met or its
 * chunked end seen) but does not parse, or is not shaped as documented (a
 * page with more records than the PageSize asked for, say), is retried once:
 * the server meant it, and asking again for the whole budget would only
 * repeat it. A client-side limiter shared by all threads holds the
 * published per-action limits (ListRegions, ListInstances: 10 calls a minute
 * per account), and at most api_config.jobs requests are in flight at once.
 *
 * Return values: 0 on success, else a negative errno:
 *   -EACCES  the API rejected the credentials or permission
 *            (InvalidAccessKeyId.*, SignatureDoesNotMatch, IncompleteSignature,
 *             InvalidSecurityToken.*, Forbidden*, NoPermission);
 *   -ENOENT  the API says the instance or invocation does not exist
 *            (codes ending in ".NotFound", InvalidInstanceId.*, InvalidInvokeId.*);
 *   -EINVAL  the API refused a parameter (MissingParameter, InvalidParameter*);
 *   -EIO     retries exhausted (network, timeout, 5xx, throttling, bad body);
 *   -ECANCELED  api_cancel() was called (the daemon is shutting down);
 *   -ENOMEM.
 * Whenever a call fails, *err (if non-NULL) says why: the API's Code, Message
 * and RequestId and the HTTP status, or curl's error text in message with an
 * empty code and http_status 0.
 *
 * Ownership: result structs are filled only on success and owned by the caller,
 * who releases them with the matching *_done() function.
 *
 * Bounds the server cannot move: every response body is capped as it arrives
 * (API_BODY_CAP of the records asked for); a page holding more records than
 * its PageSize is a bad body; paging stops at the first short or empty page,
 * and TotalCount only says how many pages to fetch in parallel, within
 * API_MAX_INVOCATION_PAGES, API_MAX_INVOCATIONS and API_MAX_PASS_BYTES for a
 * DescribeInvocations pass and API_MAX_INSTANCE_PAGES for ListInstances. A
 * pass that reaches a cap keeps what arrived and succeeds with .truncated set;
 * this layer does not log it, the caller does.
 *
 * Thread-safety: a struct api may be used by any number of threads at once
 * after api_new() returns; api_free() must not race with calls. api_cancel()
 * may be called from any thread or a signal handler.
 */
#ifndef SWASFS_API_H
#define SWASFS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct api;
struct cred;

/* The API's own limits and ours, with their sources. */
#define API_INSTANCES_PAGE_SIZE	  100	 /* ListInstances: PageSize max 100 */
#define API_INVOCATIONS_PAGE_SIZE 50	 /* DescribeInvocations: PageSize max 50 */
#define API_MAX_INVOCATIONS	  100000 /* retention: "up to 100,000 entries" */
/* One pass: the pages API_MAX_INVOCATIONS fill at 50 a page. */
#define API_MAX_INVOCATION_PAGES (API_MAX_INVOCATIONS / API_INVOCATIONS_PAGE_SIZE)
/* One pass's records in memory (commands, rendered JSON), counted as pages
 * arrive: typical records take 1-2 KiB, so 100,000 of them fit; a server
 * sending 64 KiB records cannot make one pass hold gigabytes. */
#define API_MAX_PASS_BYTES ((size_t)256u << 20)
/* ListInstances: 500 instances a region, far beyond a SWAS account's quota
 * of servers; a server that keeps paging past it is not telling the truth. */
#define API_MAX_INSTANCE_PAGES 5u
#define API_MAX_INSTANCES      (API_MAX_INSTANCE_PAGES * API_INSTANCES_PAGE_SIZE)
#define API_MAX_REGIONS	       256
/* Response bodies, capped while they arrive: a record's CommandContent is at
 * most 16 KiB of base64 (SWAS's command size limit), and Parameters, names
 * and JSON escaping (\uXXXX is 6 bytes a character) can add as much again
 * twice over, so 64 KiB a record; the fixed part holds the envelope and
 * whitespace. A 50-record page may thus be 3.2 MiB, a ListInstances page
 * 6.3 MiB. */
#define API_BODY_RECORD_BYTES ((size_t)64u << 10)
#define API_BODY_FIXED_BYTES  ((size_t)64u << 10)
#define API_BODY_CAP(records) (API_BODY_FIXED_BYTES + (size_t)(records)*API_BODY_RECORD_BYTES)
/* The largest body any call may have (a full ListInstances page). */
#define API_MAX_BODY_BYTES API_BODY_CAP(API_INSTANCES_PAGE_SIZE)

struct api_config {
	const char *endpoint; /* template, "{region}" replaced, e.g. "https://swas.{region}.aliyuncs.com" */
	const char *home_region;  /* whose endpoint answers ListRegions */
	const char *cafile;	  /* NULL: the system CA store; verification is never off */
	unsigned jobs;		  /* requests in flight at once, >= 1 */
	unsigned timeout_s;	  /* one request, connection included */
	unsigned retry_budget_ms; /* all attempts of one call, backoff included (about 30 s) */
	bool verbose;		  /* one log line per API call: action, region, status, ms, RequestId */
};

struct api_error {
	int http_status;      /* 0 when no HTTP response was received */
	char code[128];	      /* API Code, "" for transport errors */
	char message[512];    /* API Message or curl's error text */
	char request_id[128]; /* "" when unknown */
};

struct swas_region {
	char *region_id;
	char *local_name;
	char *endpoint; /* RegionEndpoint; may be "" */
};

struct swas_region_list {
	struct swas_region *items;
	size_t count;
};

struct swas_instance {
	char *instance_id;
	char *instance_name;
	char *status;
	char *region_id;
	char *creation_time; /* verbatim from the API */
	time_t ctime;	     /* creation_time parsed, 0 if absent or unparsable */
};

struct swas_instance_list {
	struct swas_instance *items;
	size_t count;
	bool truncated; /* paging stopped at API_MAX_INSTANCE_PAGES though the server had more */
};

struct swas_invocation {
	char *invoke_id;
	char *invoke_status; /* Running, Finished, Failed, Stopped, or anything the API says */
	char *invocation_status;
	char *command_name;
	char *command_type;
	char *creation_time;	/* verbatim */
	time_t ctime;		/* creation_time parsed, 0 if absent or unparsable */
	unsigned char *command; /* CommandContent, base64-decoded; NUL-terminated for convenience */
	size_t command_len;
	char *parameters_json; /* the "parameters.json" file: Parameters as a JSON object ({} if none) + "\n" */
	size_t parameters_json_len;
	char *metadata_json; /* the "metadata.json" file: the record as a JSON object, with InstanceId
	                            and RegionId added, + "\n" */
	size_t metadata_json_len;
};

struct swas_invocation_list {
	struct swas_invocation *items; /* deduplicated by invoke_id, in the API's order */
	size_t count;
	bool truncated; /* the pass stopped at a cap (pages, records or bytes) though the
			   server had more: items holds what arrived */
};

struct swas_result {
	unsigned char *output; /* Output, base64-decoded; NUL-terminated for convenience */
	size_t output_len;
	char *result_json; /* the "result.json" file: every InvocationResult field but Output,
	                            ExitCode a number, + "\n" */
	size_t result_json_len;
	char *invoke_record_status; /* InvokeRecordStatus, "" if absent */
	time_t finished;	    /* FinishedTime parsed, 0 if absent */
	time_t started;		    /* StartTime parsed, 0 if absent */
};

/* Creates the client. Takes ownership of @cred (freed by api_free, also on
 * failure). Opens no connection and starts no thread (safe before fork).
 * Returns 0, -EINVAL (bad config) or -ENOMEM. */
int api_new(const struct api_config *cfg, struct cred *cred, struct api **ret_api);
/* Accepts NULL. */
void api_free(struct api *api);

/* Cancels every call, now and later, for good: requests in flight abort
 * (within about a second, curl's progress-callback period), limiter waits and
 * backoff sleeps end at once, and every call returns -ECANCELED.
 * Async-signal-safe and thread-safe. */
void api_cancel(struct api *api);

/* ListRegions against home_region's endpoint. */
int api_list_regions(struct api *api, struct swas_region_list *ret, struct api_error *err);

/* Every instance of @region_id (all pages, up to API_MAX_INSTANCE_PAGES). */
int api_list_instances(struct api *api, const char *region_id, struct swas_instance_list *ret,
		       struct api_error *err);

/* Every invocation of one instance: one pass without a status filter, page 1
 * first, then the pages TotalCount announces in parallel (up to jobs), more
 * if a later page announces more, until a page comes back short or empty or
 * a cap is reached (see the top of this file); deduplicated by InvokeId. */
int api_list_invocations(struct api *api, const char *region_id, const char *instance_id,
			 struct swas_invocation_list *ret, struct api_error *err);

/* DescribeInvocationResult for one invocation. */
int api_get_result(struct api *api, const char *region_id, const char *instance_id, const char *invoke_id,
		   struct swas_result *ret, struct api_error *err);

void swas_region_list_done(struct swas_region_list *l);
void swas_instance_list_done(struct swas_instance_list *l);
void swas_invocation_list_done(struct swas_invocation_list *l);
/* Frees one invocation's fields (not the struct itself). */
void swas_invocation_done(struct swas_invocation *inv);
void swas_result_done(struct swas_result *r);

/* Parses "yyyy-MM-ddTHH:mm:ssZ" (UTC); returns 0 if unparsable. */
time_t api_parse_time(const char *s);

/* Counters since api_new(), for the verbose log and tests. */
struct api_stats {
	unsigned long calls; /* HTTP requests sent, retries included */
	unsigned long retries;
	unsigned long failures; /* calls that returned an error */
};
void api_get_stats(struct api *api, struct api_stats *ret);

#endif
