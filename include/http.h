/* SPDX-License-Identifier: MIT */
/*
 * http: one HTTP(S) exchange at a time per call, over a pool of reusable
 * libcurl handles so connections stay alive across calls and threads.
 *
 * The only module that includes libcurl. TLS verification is always on
 * (cafile, if set, replaces the system CA store); CURLOPT_NOSIGNAL is set so
 * timeouts work in a threaded daemon; only http and https are allowed and
 * redirects are not followed. A response body is capped as it arrives: the
 * write callback aborts past the request's max_body (at most the pool's
 * http_config.max_body), so a server cannot make us hold more than that for
 * one response, however long it streams. A cancel switch (cancel.h) given
 * in http_config aborts every exchange in flight from curl's progress
 * callback, which curl calls at least about once a second even while
 * nothing arrives. curl's default "Content-Type" and
 * "Expect" headers are suppressed because they would change what the V3
 * signature covers.
 *
 * The caller must have called curl_global_init() (main does; tests too).
 *
 * Ownership: http_new() returns a pool freed with http_free(); a response is
 * owned by the caller and released with http_response_done().
 * Thread-safety: http_send() may be called from any number of threads at
 * once; each call borrows its own handle from the pool.
 */
#ifndef SWASFS_HTTP_H
#define SWASFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct cancel;
struct http;

#define HTTP_MAX_CONNECT_MS 10000 /* connect timeout: min(request timeout, 10 s) */

struct http_config {
	const char *cafile;    /* NULL: the system store; copied */
	size_t max_body;       /* bytes, > 0 */
	size_t max_handles;    /* handles kept for reuse (one per concurrent request), > 0 */
	struct cancel *cancel; /* borrowed, may be NULL; must outlive the pool */
};

struct http_request {
	const char *method; /* "POST", "PUT" (with @body, or empty) or "GET" */
	const char *url;
	const char *const *headers; /* "name: value" lines, borrowed */
	size_t header_count;
	unsigned long timeout_ms; /* whole exchange, connection included, > 0 */
	size_t max_body;	  /* body bytes this response may have; 0 or more than the
				     pool's max_body: the pool's */
	const char *body;	  /* POST/PUT request body, borrowed; NULL: empty. A caller that
			     sends one names its Content-Type among @headers */
	size_t body_len;
};

struct http_response {
	long status; /* HTTP status of the final response */
	char *body;  /* NUL-terminated, never NULL on success */
	size_t body_len;
	char content_type[128]; /* "" if absent */
	char retry_after[32];	/* x-acs-retry-after, "" if absent */
	char request_id[128];	/* x-acs-request-id, "" if absent */
	bool framed;		/* the server announced where the body ends (Content-Length or
			chunked encoding) and curl saw that end: the body arrived whole, so
			if it does not parse, the server sent it that way */
};

/* Returns 0 and *ret (free with http_free()), -EINVAL or -ENOMEM. */
int http_new(const struct http_config *cfg, struct http **ret);
/* Accepts NULL; no request may be in flight. */
void http_free(struct http *h);

/*
 * Sends @req. Returns 0 when a complete HTTP response arrived, whatever its
 * status, and fills *ret (free with http_response_done()). Otherwise, with
 * curl's error text in @errbuf (size @errsize, never holding a credential):
 *   -ETIMEDOUT     connect or total timeout;
 *   -ECONNREFUSED  could not connect or resolve;
 *   -ECONNRESET    the connection broke (reset, nothing received, send/recv error);
 *   -EPROTO        truncated body (Content-Length mismatch, curl error 18) or
 *                  a garbled HTTP exchange;
 *   -EFBIG         the body exceeded the request's max_body (not worth retrying);
 *   -ECANCELED     the pool's cancel switch is set (checked before sending too);
 *   -EKEYREJECTED  TLS verification failed (not worth retrying);
 *   -EINVAL        bad URL or unsupported scheme;
 *   -ENOMEM, -EIO  anything else.
 */
int http_send(struct http *h, const struct http_request *req, struct http_response *ret, char *errbuf,
	      size_t errsize);

void http_response_done(struct http_response *r);

#endif
