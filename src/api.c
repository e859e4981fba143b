// SPDX-License-Identifier: MIT
/*
 * api: the four SWAS calls of api.h on top of sign, http, json, ratelimit and
 * credentials, returning the data model of swas.h.
 *
 * One call = one api_call(): wait for the limiter (holding no jobs slot),
 * take a jobs slot (reqclass.h: foreground, or background under the
 * thread's ticket), sign and send one attempt with a fresh date and nonce,
 * release the slot, then classify the outcome: success (parse the body),
 * final error (credentials, permission, parameters, not found) or retryable
 * (transport, 5xx, Throttling*, ServiceUnavailable, InternalError, truncated
 * or malformed body). Retries back off exponentially with full jitter,
 * honour x-acs-retry-after, and never sleep past the retry budget, which
 * starts when the limiter lets the first attempt go. A malformed body that
 * arrived whole gets one retry only (API_MAX_BAD_BODY_RETRIES). The cancel
 * switch (cancel.h) is shared with http and ratelimit and checked before
 * every attempt; every sleep here is taken on it.
 *
 * api_list_invocations fetches page 1, then the pages a pager (api_i.h)
 * hands out on up to `jobs` worker threads, and merges them in page order
 * without duplicate InvokeIds.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_i.h"
#include "buf.h"
#include "cancel.h"
#include "config.h"
#include "credentials.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "ratelimit.h"
#include "reqclass.h"
#include "sign.h"
#include "swas.h"

#define API_VERSION    "2020-06-01"
#define API_USER_AGENT "swasfs/" SWASFS_VERSION

/* Backoff: full jitter over base * 2^attempt, capped (contrib/docs/api.md §5). */
#define API_BACKOFF_BASE_MS 200u
#define API_BACKOFF_CAP_MS  5000u
/* An attempt with less time left than this is not worth starting. */
#define API_MIN_ATTEMPT_MS 250u
/* The first attempt waits for the limiter at most this long (ListInstances
 * for every region of a large account at 10 a minute). */
#define API_MAX_LIMITER_WAIT_MS (10u * 60u * 1000u)
/* A body that arrived whole but does not parse: the server sent it that way,
 * so asking again for the whole budget would only repeat it; one retry
 * covers a server that was mid-deploy. */
#define API_MAX_BAD_BODY_RETRIES 1u
/* Headers we send: host, 6 x-acs-*, two STS, two retry, accept, user-agent, authorization. */
#define API_MAX_HEADERS 16
/* Region ids go into the endpoint's host name: keep them to DNS label characters. */
#define API_MAX_REGION_ID 64

struct api {
	char *endpoint;
	char *home_region;
	unsigned jobs;
	unsigned timeout_s;
	unsigned retry_budget_ms;
	bool verbose;
	struct cred *cred;		/* NULL when provider is set */
	struct cred_provider *provider; /* borrowed */
	struct http *http;
	struct ratelimit *rl;
	struct cancel *cancel; /* set by api_cancel(); shared with http and rl */

	struct reqclass_slots slots; /* the jobs request slots (reqclass.h) */

	atomic_ulong calls;
	atomic_ulong retries;
	struct metrics *metrics; /* borrowed; may be NULL */
	atomic_ulong failures;
	atomic_uint seed; /* jitter state, advanced atomically */
};

/* One logical call; parse() turns a 2xx body into the caller's result. */
struct call {
	const char *action;
	const char *region;
	const struct sign_param *params;
	size_t param_count;
	int (*parse)(const char *body, size_t len, void *ctx, struct json_meta *meta);
	void *ctx;
	size_t max_body; /* API_BODY_CAP of the records asked for */
};

/* The outcome of one attempt. */
enum verdict {
	VERDICT_OK,
	VERDICT_RETRY,
	VERDICT_FAIL,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool is_region_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static bool is_valid_region(const char *r)
{
	size_t n = 0;

	for (; r[n]; n++)
		if (!is_region_char(r[n]) || n >= API_MAX_REGION_ID)
			return false;
	return n > 0;
}

/* Splits "scheme://authority[/]" into the Host header value (default ports
 * dropped); -EINVAL if there is a path, query or anything odd. */
static int url_host(const char *url, char *out, size_t size)
{
	const char *p, *auth, *end;
	size_t len;
	bool https;

	if (strncmp(url, "https://", 8) == 0) {
		https = true;
		auth = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		https = false;
		auth = url + 7;
	} else {
		return -EINVAL;
	}
	end = auth + strcspn(auth, "/?#");
	if (*end && strcmp(end, "/") != 0)
		return -EINVAL;
	len = (size_t)(end - auth);
	if (len == 0 || memchr(auth, '@', len))
		return -EINVAL;
	for (p = auth; p < end; p++)
		if ((unsigned char)*p <= ' ')
			return -EINVAL;
	if (https && len > 4 && memcmp(end - 4, ":443", 4) == 0)
		len -= 4;
	else if (!https && len > 3 && memcmp(end - 3, ":80", 3) == 0)
		len -= 3;
	if (len >= size)
		return -EINVAL;
	memcpy(out, auth, len);
	out[len] = '\0';
	return 0;
}

/* The endpoint for @region, "{region}" replaced, without a trailing '/'. */
static int region_base_url(const struct api *api, const char *region, struct buf *out)
{
	const char *p = api->endpoint, *hit;

	if (!is_valid_region(region))
		return -EINVAL;
	while ((hit = strstr(p, "{region}"))) {
		buf_append(out, p, (size_t)(hit - p));
		buf_puts(out, region);
		p = hit + strlen("{region}");
	}
	buf_puts(out, p);
	if (buf_failed(out))
		return -ENOMEM;
	if (out->len > 0 && out->data[out->len - 1] == '/')
		out->data[--out->len] = '\0';
	return 0;
}

int api_new(const struct api_config *cfg, struct cred *cred, struct api **ret_api)
{
	struct http_config hc = { 0 };
	char host[256];
	struct buf probe = BUF_INIT;
	struct api *api;
	int r = -EINVAL;

	if (!cfg || !cfg->endpoint || !cfg->home_region || !cfg->jobs || !cfg->timeout_s ||
	    (!cred && !cfg->credentials))
		goto out_free_cred;
	r = -ENOMEM;
	api = calloc(1, sizeof(*api));
	if (!api)
		goto out_free_cred;
	api->cred = cred;
	api->provider = cfg->credentials;
	api->endpoint = strdup(cfg->endpoint);
	api->home_region = strdup(cfg->home_region);
	if (!api->endpoint || !api->home_region)
		goto out_free_api;
	api->jobs = cfg->jobs;
	api->timeout_s = cfg->timeout_s;
	api->retry_budget_ms = cfg->retry_budget_ms;
	api->verbose = cfg->verbose;
	api->metrics = cfg->metrics;
	atomic_init(&api->seed, (unsigned)now_ms() ^ (unsigned)(uintptr_t)api);

	/* The template must make a valid URL for the home region. */
	r = region_base_url(api, api->home_region, &probe);
	if (r == 0)
		r = url_host(probe.data, host, sizeof(host));
	buf_done(&probe);
	if (r < 0)
		goto out_free_api;

	r = reqclass_slots_init(&api->slots, api->jobs);
	if (r < 0)
		goto out_free_api;
	r = cancel_new(&api->cancel);
	if (r < 0)
		goto out_destroy_slots;
	hc.cafile = cfg->cafile;
	hc.max_body = API_MAX_BODY_BYTES;
	hc.max_handles = cfg->jobs;
	hc.cancel = api->cancel;
	r = http_new(&hc, &api->http);
	if (r < 0)
		goto out_free_cancel;
	r = ratelimit_new(NULL, api->cancel, &api->rl);
	if (r < 0)
		goto out_free_http;
	*ret_api = api;
	return 0;
out_free_http:
	http_free(api->http);
out_free_cancel:
	cancel_free(api->cancel);
out_destroy_slots:
	reqclass_slots_destroy(&api->slots);
out_free_api:
	free(api->endpoint);
	free(api->home_region);
	free(api);
out_free_cred:
	cred_free(cred);
	return r;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	ratelimit_free(api->rl);
	http_free(api->http);
	cancel_free(api->cancel);
	reqclass_slots_destroy(&api->slots);
	cred_free(api->cred);
	free(api->endpoint);
	free(api->home_region);
	free(api);
}

void api_cancel(struct api *api)
{
	if (api)
		cancel_set(api->cancel);
}

void api_get_stats(struct api *api, struct api_stats *ret)
{
	ret->calls = atomic_load(&api->calls);
	ret->retries = atomic_load(&api->retries);
	ret->failures = atomic_load(&api->failures);
}

/* Uniform in [0, n]: xorshift over a shared atomic state (jitter, not crypto). */
static uint64_t jitter(struct api *api, uint64_t n)
{
	unsigned x = atomic_load(&api->seed), next;

	do {
		next = x;
		next ^= next << 13;
		next ^= next >> 17;
		next ^= next << 5;
		if (!next)
			next = 0x9e3779b9u;
	} while (!atomic_compare_exchange_weak(&api->seed, &x, next));
	return n ? next % (n + 1) : 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* An API error Code and HTTP status to a verdict and errno (api.h). */
static enum verdict classify_code(const char *code, long status, int *ret_errno)
{
	if (has_prefix(code, "Throttling") || strcmp(code, "ServiceUnavailable") == 0 ||
	    strcmp(code, "InternalError") == 0) {
		*ret_errno = -EIO;
		return VERDICT_RETRY;
	}
	if (has_prefix(code, "InvalidAccessKeyId") || strcmp(code, "SignatureDoesNotMatch") == 0 ||
	    strcmp(code, "IncompleteSignature") == 0 || has_prefix(code, "InvalidSecurityToken") ||
	    has_prefix(code, "Forbidden") || strcmp(code, "NoPermission") == 0) {
		*ret_errno = -EACCES;
		return VERDICT_FAIL;
	}
	if (has_suffix(code, ".NotFound") || has_prefix(code, "InvalidInstanceId.") ||
	    has_prefix(code, "InvalidInvokeId.")) {
		*ret_errno = -ENOENT;
		return VERDICT_FAIL;
	}
	if (has_prefix(code, "MissingParameter") || has_prefix(code, "InvalidParameter")) {
		*ret_errno = -EINVAL;
		return VERDICT_FAIL;
	}
	/* An unknown code: the status decides. */
	if (status >= 500) {
		*ret_errno = -EIO;
		return VERDICT_RETRY;
	}
	if (status == 401 || status == 403)
		*ret_errno = -EACCES;
	else if (status == 404)
		*ret_errno = -ENOENT;
	else if (status == 400)
		*ret_errno = -EINVAL;
	else
		*ret_errno = -EIO;
	return VERDICT_FAIL;
}

/* The codes that say the key or token itself is invalid or expired (contrib/
 * docs/api.md §5): worth renewing or re-reading the credentials once.
 * Forbidden* and NoPermission are the key's permissions: renewing would not
 * change them. */
static bool is_key_refusal(const char *code)
{
	return has_prefix(code, "InvalidAccessKeyId") || has_prefix(code, "InvalidSecurityToken") ||
	       strcmp(code, "SignatureDoesNotMatch") == 0;
}

/* Appends "name: value" to the header lines and the signing list. */
struct headers {
	struct sign_header sign[API_MAX_HEADERS];
	char *lines[API_MAX_HEADERS];
	size_t count;
	bool failed;
};

static void headers_add(struct headers *h, const char *name, const char *value)
{
	struct buf line = BUF_INIT;

	if (h->failed || h->count == API_MAX_HEADERS) {
		h->failed = true;
		return;
	}
	buf_printf(&line, "%s: %s", name, value);
	h->lines[h->count] = buf_steal(&line, NULL);
	if (!h->lines[h->count]) {
		h->failed = true;
		return;
	}
	h->sign[h->count].name = name;
	h->sign[h->count].value = value;
	h->count++;
}

static void headers_done(struct headers *h)
{
	size_t i;

	for (i = 0; i < h->count; i++)
		free(h->lines[i]);
	h->count = 0;
}

/* Signs and sends one attempt. Returns 0 with *resp, or http_send()'s error. */
static int send_attempt(struct api *api, const struct call *c, const struct cred *cred, unsigned attempt,
			uint64_t last_delay_ms, unsigned long timeout_ms, struct http_response *resp,
			char *errbuf, size_t errsize)
{
	char date[SIGN_TIMESTAMP_LEN + 1], nonce[SIGN_NONCE_LEN + 1], host[256], attempts[16], delay[24];
	struct buf url = BUF_INIT;
	struct headers h = { 0 };
	struct sign_v3 sig = { 0 };
	struct sign_v3_request sreq;
	struct http_request hreq;
	const char *token = cred_token(cred);
	char *query = NULL;
	int r;

	r = sign_canonical_query(c->params, c->param_count, &query);
	if (r < 0)
		return r;
	r = region_base_url(api, c->region, &url);
	if (r < 0)
		goto out_free_query;
	r = url_host(url.data, host, sizeof(host));
	if (r < 0)
		goto out_free_url;
	buf_puts(&url, "/");
	if (query[0]) {
		buf_putc(&url, '?');
		buf_puts(&url, query);
	}
	r = sign_timestamp(time(NULL), date);
	if (r == 0)
		r = sign_nonce(nonce);
	if (r < 0)
		goto out_free_url;
	snprintf(attempts, sizeof(attempts), "%u", attempt);
	snprintf(delay, sizeof(delay), "%llu", (unsigned long long)last_delay_ms);

	headers_add(&h, "host", host);
	headers_add(&h, "x-acs-version", API_VERSION);
	headers_add(&h, "x-acs-action", c->action);
	headers_add(&h, "user-agent", API_USER_AGENT);
	headers_add(&h, "x-acs-date", date);
	headers_add(&h, "x-acs-signature-nonce", nonce);
	headers_add(&h, "accept", "application/json");
	headers_add(&h, "x-acs-content-sha256", SIGN_EMPTY_SHA256);
	if (token) {
		headers_add(&h, "x-acs-accesskey-id", cred_access_key_id(cred));
		headers_add(&h, "x-acs-security-token", token);
	}
	if (attempt > 0) {
		headers_add(&h, "x-acs-retry-attempts", attempts);
		headers_add(&h, "x-acs-retry-delay", delay);
	}
	r = -ENOMEM;
	if (h.failed || buf_failed(&url))
		goto out_free_headers;

	sreq = (struct sign_v3_request){
		.method = "POST",
		.uri = "/",
		.canonical_query = query,
		.headers = h.sign,
		.header_count = h.count,
		.payload_hash = SIGN_EMPTY_SHA256,
	};
	r = sign_v3(&sreq, cred, &sig);
	if (r < 0)
		goto out_free_headers;
	headers_add(&h, "authorization", sig.authorization);
	r = -ENOMEM;
	if (h.failed)
		goto out_free_sig;

	hreq = (struct http_request){
		.method = "POST",
		.url = url.data,
		.headers = (const char *const *)h.lines,
		.header_count = h.count,
		.timeout_ms = timeout_ms,
		.max_body = c->max_body,
	};
	atomic_fetch_add(&api->calls, 1);
	r = http_send(api->http, &hreq, resp, errbuf, errsize);
out_free_sig:
	sign_v3_done(&sig);
out_free_headers:
	/* The token was copied into a header line: wipe it with the rest. */
	if (token) {
		size_t i;

		for (i = 0; i < h.count; i++)
			explicit_bzero(h.lines[i], strlen(h.lines[i]));
	}
	headers_done(&h);
out_free_url:
	buf_done(&url);
out_free_query:
	free(query);
	return r;
}

/* json_parse_error fills a struct json_error (json depends on the data model,
 * not on us); error_set copies it into an api_error, whole. */
#define SAME_SIZE(field) (sizeof(((struct json_error *)0)->field) == sizeof(((struct api_error *)0)->field))
_Static_assert(SAME_SIZE(code) && SAME_SIZE(message) && SAME_SIZE(request_id),
	       "struct json_error and struct api_error hold the same strings");
#undef SAME_SIZE

static void error_set(struct api_error *err, int http_status, const char *code, const char *message,
		      const char *request_id)
{
	if (!err)
		return;
	err->http_status = http_status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->message, sizeof(err->message), "%s", message);
	snprintf(err->request_id, sizeof(err->request_id), "%s", request_id);
}

/* Looks at one completed exchange: parses success, classifies failure.
 * *ret_bad_body says a 2xx body did not parse or had the wrong shape. */
static enum verdict judge_response(const struct call *c, const struct http_response *resp,
				   struct api_error *err, int *ret_errno, char *ret_request_id,
				   size_t rid_size, bool *ret_bad_body)
{
	struct json_error e = { 0 };
	struct json_meta meta = { 0 };
	int r;

	if (resp->status >= 200 && resp->status < 300) {
		r = c->parse(resp->body, resp->body_len, c->ctx, &meta);
		snprintf(ret_request_id, rid_size, "%s",
			 meta.request_id[0] ? meta.request_id : resp->request_id);
		if (r == 0)
			return VERDICT_OK;
		if (r == -ENOMEM) {
			*ret_errno = -ENOMEM;
			error_set(err, (int)resp->status, "", "out of memory", ret_request_id);
			return VERDICT_FAIL;
		}
		json_peek_request_id(resp->body, resp->body_len, e.request_id, sizeof(e.request_id));
		if (!e.request_id[0])
			snprintf(e.request_id, sizeof(e.request_id), "%s", resp->request_id);
		snprintf(ret_request_id, rid_size, "%s", e.request_id);
		*ret_errno = -EIO;
		error_set(err, (int)resp->status, "",
			  r == -EBADMSG ? "malformed or truncated response body"
					: "response body is not shaped as documented",
			  e.request_id);
		/* Garbled or wrongly shaped: a proxy or server hiccup as far as we
		 * can tell, retried (api_call limits how often if it arrived whole). */
		*ret_bad_body = true;
		return VERDICT_RETRY;
	}

	r = json_parse_error(resp->body, resp->body_len, &e);
	if (!e.request_id[0])
		snprintf(e.request_id, sizeof(e.request_id), "%s", resp->request_id);
	snprintf(ret_request_id, rid_size, "%s", e.request_id);
	if (r < 0 && !e.message[0])
		snprintf(e.message, sizeof(e.message), "HTTP %ld without an API error body", resp->status);
	error_set(err, (int)resp->status, e.code, e.message, e.request_id);
	if (r < 0) {
		/* No Code: 5xx and 429 are worth retrying, other statuses decide. */
		if (resp->status >= 500 || resp->status == 429) {
			*ret_errno = -EIO;
			return VERDICT_RETRY;
		}
		return classify_code("", resp->status, ret_errno);
	}
	return classify_code(e.code, resp->status, ret_errno);
}

static enum verdict judge_transport(int rc, const char *errbuf, struct api_error *err, int *ret_errno)
{
	error_set(err, 0, "", errbuf[0] ? errbuf : strerror(-rc), "");
	switch (rc) {
	case -ENOMEM:
		*ret_errno = -ENOMEM;
		return VERDICT_FAIL;
	case -ECANCELED:
		*ret_errno = -ECANCELED;
		return VERDICT_FAIL;
	case -EFBIG:
	case -EKEYREJECTED:
	case -EINVAL:
		*ret_errno = -EIO;
		return VERDICT_FAIL;
	default:
		*ret_errno = -EIO;
		return VERDICT_RETRY;
	}
}

/* What a call asked for, as the log shows it: " InstanceId=... PageNumber=...
 * InvokeId=..." for the parameters it has (none of them is secret). */
static void describe_target(const struct call *c, char *out, size_t size)
{
	static const char *const shown[] = { "InstanceId", "PageNumber", "InvokeId" };
	size_t used = 0;

	out[0] = '\0';
	for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++)
		for (size_t i = 0; i < c->param_count && used < size; i++) {
			int n;

			if (strcmp(c->params[i].key, shown[k]) != 0)
				continue;
			n = snprintf(out + used, size - used, " %s=%s", shown[k], c->params[i].value);
			used = n < 0 ? size : used + (size_t)n;
		}
}

static void log_attempt(const struct api *api, const struct call *c, unsigned attempt, long status,
			uint64_t ms, const char *request_id, const char *transport_error)
{
	char target[192];

	if (!api->verbose)
		return;
	describe_target(c, target, sizeof(target));
	if (transport_error)
		log_info("api: %s region=%s%s http=0 ms=%llu attempt=%u error=%s", c->action, c->region,
			 target, (unsigned long long)ms, attempt + 1, transport_error);
	else
		log_info("api: %s region=%s%s http=%ld ms=%llu request_id=%s attempt=%u", c->action,
			 c->region, target, status, (unsigned long long)ms, request_id[0] ? request_id : "-",
			 attempt + 1);
}

/* The next backoff delay: full jitter, or the server's x-acs-retry-after if longer. */
static uint64_t backoff_ms(struct api *api, unsigned attempt, const char *retry_after)
{
	uint64_t ceiling = API_BACKOFF_BASE_MS, delay;
	unsigned i;

	for (i = 0; i < attempt && ceiling < API_BACKOFF_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > API_BACKOFF_CAP_MS)
		ceiling = API_BACKOFF_CAP_MS;
	delay = jitter(api, ceiling);
	if (retry_after && retry_after[0]) {
		char *end = NULL;
		unsigned long long ra = strtoull(retry_after, &end, 10);

		if (end && *end == '\0' && ra > delay)
			delay = ra;
	}
	return delay;
}

/* Runs one logical call with retries (see the top of this file). */
static int api_call(struct api *api, const struct call *c, struct api_error *err)
{
	char errbuf[256], request_id[128], retry_after[32];
	uint64_t start = 0, deadline = 0, t0, last_delay = 0;
	unsigned attempt, bad_bodies = 0;
	struct api_error local = { 0 };
	bool renewed = false;
	int r = -EIO, rc;

	if (!err)
		err = &local;
	for (attempt = 0;; attempt++) {
		struct cred *cred = NULL;
		struct http_response resp = { 0 };
		struct reqclass_ticket *ticket;
		unsigned long timeout_ms = api->timeout_s * 1000ul;
		bool bad_body = false, throttled = false;
		size_t body_bytes = 0;
		enum verdict v;

		if (attempt == 0) {
			rc = ratelimit_acquire(api->rl, c->action,
					       ratelimit_now_ms(api->rl) + API_MAX_LIMITER_WAIT_MS);
			start = now_ms();
			deadline = start + api->retry_budget_ms;
		} else {
			uint64_t now = now_ms();

			if (now >= deadline)
				break;
			rc = ratelimit_acquire(api->rl, c->action,
					       ratelimit_now_ms(api->rl) + (deadline - now));
		}
		if (rc == -ECANCELED) {
			error_set(err, 0, "", "cancelled: shutting down", "");
			r = -ECANCELED;
			break;
		}
		if (rc < 0) {
			if (attempt == 0)
				error_set(err, 0, "", "client-side rate limit: waited too long", "");
			r = -EIO;
			break;
		}
		/* Every attempt ends by the deadline: the budget covers them all. */
		if (api->retry_budget_ms > 0) {
			uint64_t now = now_ms(), left = deadline > now ? deadline - now : 0;

			if (attempt > 0 && left < API_MIN_ATTEMPT_MS)
				break;
			if (left < API_MIN_ATTEMPT_MS)
				left = API_MIN_ATTEMPT_MS;
			if (left < timeout_ms)
				timeout_ms = (unsigned long)left;
		}

		/* The credentials of this attempt: a reference, so a renewal
		 * meanwhile cannot free them under the signer. */
		if (api->provider) {
			rc = cred_provider_get(api->provider, &cred);
			if (rc < 0) {
				error_set(err, 0, "", "the credentials have expired and could not be renewed",
					  "");
				r = -EACCES;
				break;
			}
		} else {
			cred = cred_ref(api->cred);
		}
		/* A request slot, background if the thread's ticket says so
		 * (reqclass.h): the same ticket gives it back. */
		ticket = reqclass_current();
		reqclass_acquire(&api->slots, ticket);
		t0 = now_ms();
		rc = send_attempt(api, c, cred, attempt, last_delay, timeout_ms, &resp, errbuf,
				  sizeof(errbuf));
		reqclass_release(&api->slots, ticket);

		retry_after[0] = '\0';
		request_id[0] = '\0';
		if (rc == 0) {
			snprintf(retry_after, sizeof(retry_after), "%s", resp.retry_after);
			v = judge_response(c, &resp, err, &r, request_id, sizeof(request_id), &bad_body);
			body_bytes = resp.body_len;
			throttled = metrics_is_throttling(resp.status, err->code);
			/* Whole but unreadable: the server meant it (see the top). */
			if (bad_body && resp.framed && bad_bodies++ >= API_MAX_BAD_BODY_RETRIES)
				v = VERDICT_FAIL;
			log_attempt(api, c, attempt, resp.status, now_ms() - t0, request_id, NULL);
			http_response_done(&resp);
		} else if (rc == -ENOMEM || rc == -EINVAL) {
			/* Our own failure before or instead of sending. */
			error_set(err, 0, "", errbuf[0] ? errbuf : strerror(-rc), "");
			r = rc == -ENOMEM ? -ENOMEM : -EIO;
			v = VERDICT_FAIL;
		} else {
			v = judge_transport(rc, errbuf, err, &r);
			log_attempt(api, c, attempt, 0, now_ms() - t0, "",
				    errbuf[0] ? errbuf : strerror(-rc));
		}

		if (v == VERDICT_FAIL && r == -EACCES && api->provider && !renewed &&
		    is_key_refusal(err->code) && cred_provider_refused(api->provider, cred) == 0) {
			/* Renewed or read again: once more at once, with them. */
			renewed = true;
			cred_free(cred);
			metrics_count(api->metrics, c->action, METRICS_RETRIED, body_bytes);
			continue;
		}
		cred_free(cred);
		if (v == VERDICT_OK) {
			metrics_count(api->metrics, c->action, METRICS_OK, body_bytes);
			return 0;
		}
		if (v == VERDICT_RETRY) {
			uint64_t now = now_ms();

			last_delay = backoff_ms(api, attempt, retry_after);
			/* Never sleep past the budget; leave room for a useful attempt. */
			if (now + last_delay + API_MIN_ATTEMPT_MS > deadline)
				v = VERDICT_FAIL;
		}
		metrics_count(api->metrics, c->action,
			      throttled		   ? METRICS_THROTTLED
			      : v == VERDICT_RETRY ? METRICS_RETRIED
						   : METRICS_FAILED,
			      body_bytes);
		if (v == VERDICT_FAIL)
			break;
		atomic_fetch_add(&api->retries, 1);
		if (cancel_sleep_ms(api->cancel, last_delay) < 0) {
			error_set(err, 0, "", "cancelled: shutting down", "");
			r = -ECANCELED;
			break;
		}
	}
	atomic_fetch_add(&api->failures, 1);
	return r;
}

/* ---- ListRegions ---- */

static int parse_regions(const char *body, size_t len, void *ctx, struct json_meta *meta)
{
	return json_parse_regions(body, len, ctx, meta);
}

int api_list_regions(struct api *api, struct swas_region_list *ret, struct api_error *err)
{
	struct swas_region_list l = { 0 };
	struct call c = {
		.action = "ListRegions",
		.region = api->home_region,
		.parse = parse_regions,
		.ctx = &l,
		/* 256 regions of about 100 bytes each: the room of 4 records. */
		.max_body = API_BODY_CAP(4),
	};
	int r;

	r = api_call(api, &c, err);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

/* ---- paging and deduplication (api_i.h) ---- */

void api_pager_init(struct api_pager *p, unsigned page_size, unsigned max_pages, size_t max_records,
		    size_t max_bytes)
{
	memset(p, 0, sizeof(*p));
	p->page_size = page_size;
	p->max_pages = max_pages;
	p->max_records = max_records;
	p->max_bytes = max_bytes;
	p->next = 1;
}

unsigned api_pager_next(struct api_pager *p)
{
	/* Nothing after a short or empty page: the data ends there. */
	if (p->end != 0 && p->next > p->end)
		return 0;
	/* Page 1 always; later ones only while the hint asks for them. */
	if (p->next > 1 && p->next > p->hint_pages)
		return 0;
	if (p->next > p->max_pages || p->records >= p->max_records || p->bytes >= p->max_bytes) {
		p->capped = true;
		return 0;
	}
	return p->next++;
}

void api_pager_done(struct api_pager *p, unsigned n, size_t count, long long total, size_t bytes)
{
	unsigned long long hint;

	p->records += count;
	p->bytes += bytes;
	if (count < p->page_size && (p->end == 0 || n < p->end))
		p->end = n;
	if (total >= 0)
		hint = ((unsigned long long)total + p->page_size - 1) / p->page_size;
	else
		hint = count >= p->page_size ? (unsigned long long)n + 1 : n;
	if (hint > UINT_MAX)
		hint = UINT_MAX;
	if (hint > p->hint_pages)
		p->hint_pages = (unsigned)hint;
}

bool api_pager_more(struct api_pager *p)
{
	unsigned n = api_pager_next(p);

	if (n != 0)
		p->next = n; /* not handed out after all */
	return n != 0;
}

bool api_pager_truncated(const struct api_pager *p)
{
	/* A short page means every page before it was handed out: complete. */
	return p->capped && p->end == 0;
}

struct id_pos {
	const char *id;
	size_t pos;
};

static int cmp_id_pos(const void *a, const void *b)
{
	const struct id_pos *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int api_dedup_first(const char *const *ids, size_t n, bool *keep)
{
	struct id_pos *v;
	size_t i;

	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = (struct id_pos){ ids[i], i };
	qsort(v, n, sizeof(*v), cmp_id_pos);
	for (i = 0; i < n; i++)
		keep[v[i].pos] = i == 0 || strcmp(v[i].id, v[i - 1].id) != 0;
	free(v);
	return 0;
}

/* ---- ListInstances ---- */

struct instances_ctx {
	struct swas_instance_list *list;
	struct json_meta meta;
};

static int parse_instances(const char *body, size_t len, void *ctx, struct json_meta *meta)
{
	struct instances_ctx *ic = ctx;
	int r = json_parse_instances(body, len, API_INSTANCES_PAGE_SIZE, ic->list, meta);

	if (r == 0)
		ic->meta = *meta;
	return r;
}

/* Keeps the first of each InstanceId, in order. */
static int dedup_instances(struct swas_instance_list *l)
{
	const char **ids;
	bool *keep;
	size_t i, kept = 0;
	int r = -ENOMEM;

	if (l->count < 2)
		return 0;
	ids = calloc(l->count, sizeof(*ids));
	keep = calloc(l->count, sizeof(*keep));
	if (!ids || !keep)
		goto out_free;
	for (i = 0; i < l->count; i++)
		ids[i] = l->items[i].instance_id;
	r = api_dedup_first(ids, l->count, keep);
	if (r < 0)
		goto out_free;
	for (i = 0; i < l->count; i++) {
		if (keep[i])
			l->items[kept++] = l->items[i];
		else
			swas_instance_done(&l->items[i]);
	}
	l->count = kept;
out_free:
	free(keep);
	free(ids);
	return r;
}

int api_list_instances(struct api *api, const char *region_id, struct swas_instance_list *ret,
		       struct api_error *err)
{
	struct swas_instance_list l = { 0 };
	struct instances_ctx ic = { .list = &l };
	struct api_pager pager;
	char page[24], size[24];
	struct sign_param params[] = {
		{ "RegionId", region_id },
		{ "PageNumber", page },
		{ "PageSize", size },
	};
	struct call c = {
		.action = "ListInstances",
		.region = region_id,
		.params = params,
		.param_count = sizeof(params) / sizeof(params[0]),
		.parse = parse_instances,
		.ctx = &ic,
		.max_body = API_BODY_CAP(API_INSTANCES_PAGE_SIZE),
	};
	unsigned n;
	int r = 0;

	/* One page at a time: the limiter allows 10 a minute anyway. */
	api_pager_init(&pager, API_INSTANCES_PAGE_SIZE, API_MAX_INSTANCE_PAGES, API_MAX_INSTANCES, SIZE_MAX);
	snprintf(size, sizeof(size), "%d", API_INSTANCES_PAGE_SIZE);
	while ((n = api_pager_next(&pager)) != 0) {
		size_t before = l.count;

		snprintf(page, sizeof(page), "%u", n);
		r = api_call(api, &c, err);
		if (r < 0)
			goto out_free;
		api_pager_done(&pager, n, l.count - before, ic.meta.total_count, 0);
	}
	r = dedup_instances(&l);
	if (r < 0)
		goto out_free;
	l.truncated = api_pager_truncated(&pager);
	*ret = l;
	return 0;
out_free:
	swas_instance_list_done(&l);
	return r;
}

/* ---- DescribeInvocations ---- */

/* One page's worth of a listing pass. */
struct inv_page {
	struct swas_invocation_list list;
};

/*
 * One pass. Pages are kept in page order and merged at the end; what they
 * may hold is bounded as they arrive, by the pager's caps (at most
 * API_MAX_INVOCATION_PAGES pages of at most a PageSize of records each,
 * API_MAX_INVOCATIONS records, API_MAX_PASS_BYTES bytes), plus the pages in
 * flight when a cap is reached (at most jobs of them).
 */
struct inv_pass {
	struct api *api;
	const char *region_id;
	const char *instance_id;

	pthread_mutex_t lock;
	struct inv_page *pages;		/* protected by lock: [0] is page 1 */
	unsigned page_count;		/* protected by lock: pages allocated */
	struct api_pager pager;		/* protected by lock */
	int error;			/* protected by lock: first failure, stops the workers */
	struct api_error err;		/* protected by lock */
	struct reqclass_ticket *ticket; /* the caller's (reqclass_current), for its page workers */
};

struct inv_page_ctx {
	struct inv_pass *pass;
	struct swas_invocation_list list; /* this page's records until stored */
	long long total_count;
};

static int parse_invocations(const char *body, size_t len, void *ctx, struct json_meta *meta)
{
	struct inv_page_ctx *pc = ctx;
	int r;

	r = json_parse_invocations(body, len, API_INVOCATIONS_PAGE_SIZE, &pc->list, meta);
	if (r == 0)
		pc->total_count = meta->total_count;
	return r;
}

/* What one record costs in memory, roughly: its struct and its one
 * allocation (swas.h). */
static size_t invocation_bytes(const struct swas_invocation *inv)
{
	return sizeof(*inv) + swas_invocation_bytes(inv);
}

/* Grows pass->pages to hold page @n. Called with pass->lock held. */
static int pass_grow(struct inv_pass *pass, unsigned n)
{
	struct inv_page *p;
	unsigned want = pass->page_count ? pass->page_count : 8;

	if (n <= pass->page_count)
		return 0;
	while (want < n)
		want *= 2;
	if (want > API_MAX_INVOCATION_PAGES)
		want = API_MAX_INVOCATION_PAGES;
	if (want < n)
		return -EINVAL;
	p = realloc(pass->pages, want * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + pass->page_count, 0, (want - pass->page_count) * sizeof(*p));
	pass->pages = p;
	pass->page_count = want;
	return 0;
}

/* Fetches page @n and files its records in the pass. */
static int fetch_invocation_page(struct inv_pass *pass, unsigned n, struct api_error *err)
{
	struct inv_page_ctx pc = { .pass = pass, .total_count = -1 };
	char page[24], size[24];
	struct sign_param params[] = {
		{ "RegionId", pass->region_id },
		{ "InstanceId", pass->instance_id },
		{ "PageNumber", page },
		{ "PageSize", size },
	};
	struct call c = {
		.action = "DescribeInvocations",
		.region = pass->region_id,
		.params = params,
		.param_count = sizeof(params) / sizeof(params[0]),
		.parse = parse_invocations,
		.ctx = &pc,
		.max_body = API_BODY_CAP(API_INVOCATIONS_PAGE_SIZE),
	};
	size_t bytes = 0, i;
	int r;

	snprintf(page, sizeof(page), "%u", n);
	snprintf(size, sizeof(size), "%d", API_INVOCATIONS_PAGE_SIZE);
	r = api_call(pass->api, &c, err);
	if (r < 0)
		return r;
	for (i = 0; i < pc.list.count; i++)
		bytes += invocation_bytes(&pc.list.items[i]);

	pthread_mutex_lock(&pass->lock);
	r = pass_grow(pass, n);
	if (r == 0) {
		pass->pages[n - 1].list = pc.list;
		pc.list = (struct swas_invocation_list){ 0 };
		api_pager_done(&pass->pager, n, pass->pages[n - 1].list.count, pc.total_count, bytes);
	}
	pthread_mutex_unlock(&pass->lock);
	swas_invocation_list_done(&pc.list);
	if (r < 0)
		error_set(err, 0, "", strerror(-r), "");
	return r;
}

static void *inv_worker(void *arg)
{
	struct inv_pass *pass = arg;

	reqclass_set(pass->ticket);

	for (;;) {
		struct api_error err = { 0 };
		unsigned n;
		int r;

		pthread_mutex_lock(&pass->lock);
		n = pass->error ? 0 : api_pager_next(&pass->pager);
		pthread_mutex_unlock(&pass->lock);
		if (n == 0)
			return NULL;

		r = fetch_invocation_page(pass, n, &err);
		if (r < 0) {
			pthread_mutex_lock(&pass->lock);
			if (!pass->error) {
				pass->error = r;
				pass->err = err;
			}
			pthread_mutex_unlock(&pass->lock);
			return NULL;
		}
	}
}

/* Runs workers (jobs of them, or this thread alone if one) until the pager
 * has no page to hand out. False if a page failed. */
static bool fetch_round(struct inv_pass *pass)
{
	pthread_t threads[64];
	unsigned want = pass->api->jobs, started = 0, i;

	if (want > sizeof(threads) / sizeof(threads[0]))
		want = sizeof(threads) / sizeof(threads[0]);
	for (i = 0; want > 1 && i < want; i++) {
		if (pthread_create(&threads[i], NULL, inv_worker, pass) != 0)
			break;
		started++;
	}
	if (started == 0)
		inv_worker(pass);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	return !pass->error;
}

/* Moves every page's records into @ret in page order, first InvokeId wins. */
static int merge_pages(struct inv_pass *pass, struct swas_invocation_list *ret)
{
	struct swas_invocation_list out = { 0 };
	const char **ids = NULL;
	bool *keep = NULL;
	size_t total = 0, k = 0, i;
	unsigned p;
	int r = -ENOMEM;

	for (p = 0; p < pass->page_count; p++)
		total += pass->pages[p].list.count;
	out.items = calloc(total ? total : 1, sizeof(*out.items));
	ids = calloc(total ? total : 1, sizeof(*ids));
	keep = calloc(total ? total : 1, sizeof(*keep));
	if (!out.items || !ids || !keep)
		goto out_free;
	for (p = 0; p < pass->page_count; p++)
		for (i = 0; i < pass->pages[p].list.count; i++)
			ids[k++] = pass->pages[p].list.items[i].invoke_id;
	r = api_dedup_first(ids, total, keep);
	if (r < 0)
		goto out_free;
	k = 0;
	for (p = 0; p < pass->page_count; p++) {
		struct swas_invocation_list *l = &pass->pages[p].list;

		for (i = 0; i < l->count; i++, k++) {
			if (keep[k])
				out.items[out.count++] = l->items[i];
			else
				swas_invocation_done(&l->items[i]);
		}
		free(l->items);
		l->items = NULL;
		l->count = 0;
	}
	*ret = out;
	out.items = NULL;
out_free:
	free(out.items);
	free(keep);
	free(ids);
	return r;
}

int api_list_invocations(struct api *api, const char *region_id, const char *instance_id,
			 struct swas_invocation_list *ret, struct api_error *err)
{
	struct inv_pass pass = {
		.api = api,
		.region_id = region_id,
		.instance_id = instance_id,
		.ticket = reqclass_current(),
	};
	unsigned p;
	bool truncated;
	int r;

	if (pthread_mutex_init(&pass.lock, NULL) != 0)
		return -ENOMEM;
	api_pager_init(&pass.pager, API_INVOCATIONS_PAGE_SIZE, API_MAX_INVOCATION_PAGES, API_MAX_INVOCATIONS,
		       API_MAX_PASS_BYTES);
	/* Page 1 alone: its TotalCount says how wide to go. */
	p = api_pager_next(&pass.pager);
	r = fetch_invocation_page(&pass, p, err);
	if (r < 0)
		goto out_free_pages;
	/* Then workers for as long as the pager hands out pages (a worker still
	 * running picks up pages a later TotalCount adds; a new round only if
	 * they all stopped first). No worker runs between rounds, so the pager
	 * is read here without the lock. */
	while (api_pager_more(&pass.pager) && fetch_round(&pass))
		;
	if (pass.error) {
		r = pass.error;
		if (err)
			*err = pass.err;
		goto out_free_pages;
	}
	truncated = api_pager_truncated(&pass.pager);
	r = merge_pages(&pass, ret);
	if (r == 0)
		ret->truncated = truncated;
	if (r == 0 && log_enabled(LOG_LEVEL_DEBUG))
		log_debug("api: DescribeInvocations %s: %zu records from %u pages%s", instance_id, ret->count,
			  pass.pager.next - 1, truncated ? ", truncated at a cap" : "");
out_free_pages:
	for (p = 0; p < pass.page_count; p++)
		swas_invocation_list_done(&pass.pages[p].list);
	free(pass.pages);
	pthread_mutex_destroy(&pass.lock);
	return r;
}

/* ---- DescribeInvocationResult ---- */

static int parse_result(const char *body, size_t len, void *ctx, struct json_meta *meta)
{
	return json_parse_result(body, len, ctx, meta);
}

int api_get_result(struct api *api, const char *region_id, const char *instance_id, const char *invoke_id,
		   struct swas_result *ret, struct api_error *err)
{
	struct swas_result res = { 0 };
	struct sign_param params[] = {
		{ "RegionId", region_id },
		{ "InstanceId", instance_id },
		{ "InvokeId", invoke_id },
	};
	struct call c = {
		.action = "DescribeInvocationResult",
		.region = region_id,
		.params = params,
		.param_count = sizeof(params) / sizeof(params[0]),
		.parse = parse_result,
		.ctx = &res,
		/* One record, but Output can be long: as much as a full page. */
		.max_body = API_BODY_CAP(API_INVOCATIONS_PAGE_SIZE),
	};
	int r;

	r = api_call(api, &c, err);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}
