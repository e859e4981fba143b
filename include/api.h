/* SPDX-License-Identifier: MIT */
/*
 * api: the four SWAS calls swasfs needs, returning the typed C structs of
 * swas.h (the data model).
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
 * Of those jobs request slots, requests sent by a thread whose ticket
 * (reqclass.h: reqclass_set, which a listing pass hands to its page
 * workers) is set and not promoted are background: they start only while
 * fewer than jobs - 1 background requests are in flight and no foreground
 * request waits, so one slot is always left to a reader, who never waits
 * behind prefetches. A promoted ticket's requests, those in flight
 * included, count as foreground from then on.
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
 * Ownership: result structs (the data model, swas.h) are filled only on
 * success and owned by the caller, who releases them with the matching
 * swas_*_done() function.
 *
 * Bounds the server cannot move: every response body is capped as it arrives
 * (API_BODY_CAP of the records asked for); a page holding more records than
 * its PageSize is a bad body; paging stops at the first short or empty page,
 * and TotalCount only says how many pages to fetch in parallel, within
 * API_MAX_INVOCATION_PAGES, API_MAX_INVOCATIONS and API_MAX_PASS_BYTES for a
 * DescribeInvocations pass and API_MAX_INSTANCE_PAGES for ListInstances (all
 * in swas.h, with their sources). A pass that reaches a cap keeps what
 * arrived and succeeds with .truncated set; this layer does not log it, the
 * caller does.
 *
 * Thread-safety: a struct api may be used by any number of threads at once
 * after api_new() returns; api_free() must not race with calls. api_cancel()
 * may be called from any thread or a signal handler.
 */
#ifndef SWASFS_API_H
#define SWASFS_API_H

#include <stdbool.h>

#include "metrics.h"
#include "swas.h"

struct api;
struct cred;
struct cred_provider;

struct api_config {
	const char *endpoint; /* template, "{region}" replaced, e.g. "https://swas.{region}.aliyuncs.com" */
	const char *home_region;  /* whose endpoint answers ListRegions */
	const char *cafile;	  /* NULL: the system CA store; verification is never off */
	unsigned jobs;		  /* requests in flight at once, >= 1 */
	unsigned timeout_s;	  /* one request, connection included */
	unsigned retry_budget_ms; /* all attempts of one call, backoff included (about 30 s) */
	bool verbose;		  /* one log line per API call: action, region, status, ms, RequestId */
	struct metrics *metrics;  /* counts every request (metrics.h); borrowed, may be NULL */
	/* Borrowed, must outlive the client; NULL: sign with the struct cred
	 * given to api_new. Each attempt signs with the provider's current
	 * credentials, and an answer that says they are invalid or expired
	 * (InvalidAccessKeyId.*, InvalidSecurityToken.*, SignatureDoesNotMatch)
	 * makes the provider renew or re-read them once (cred_provider_refused)
	 * and the call retried with them before it fails with -EACCES. */
	struct cred_provider *credentials;
};

/* Why a call failed. An API error body's fields arrive through json's own
 * struct json_error (json.h) and are copied here; http_status and the
 * transport's text are this layer's alone. */
struct api_error {
	int http_status;      /* 0 when no HTTP response was received */
	char code[128];	      /* API Code, "" for transport errors */
	char message[512];    /* API Message or curl's error text */
	char request_id[128]; /* "" when unknown */
};

/* Creates the client. Takes ownership of @cred (freed by api_free, also on
 * failure); @cred may be NULL when cfg->credentials is set. Opens no connection and starts no thread (safe before fork).
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

/* Counters since api_new(), for the verbose log and tests. */
struct api_stats {
	unsigned long calls; /* HTTP requests sent, retries included */
	unsigned long retries;
	unsigned long failures; /* calls that returned an error */
};
void api_get_stats(struct api *api, struct api_stats *ret);

#endif
