// SPDX-License-Identifier: MIT
/*
 * http: libcurl behind a small locked free-list of easy handles. A request
 * pops a handle (or creates one), resets its options, runs, and pushes it
 * back, so the handle's connection cache keeps connections alive for the next
 * request from any thread. Handles beyond max_handles are closed instead of
 * kept. Response headers are scanned for the few the api layer needs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "cancel.h"
#include "http.h"

struct http {
	pthread_mutex_t lock;
	CURL **free_handles; /* protected by lock */
	size_t free_count;   /* protected by lock */
	size_t max_handles;
	size_t max_body;
	char *cafile;
	struct cancel *cancel; /* borrowed, may be NULL */
};

/* What the callbacks of one exchange write into. */
struct exchange {
	struct buf body;
	bool too_big;
	bool chunked; /* Transfer-Encoding: chunked in the final response */
	struct http_response *resp;
	struct cancel *cancel;
};

int http_new(const struct http_config *cfg, struct http **ret)
{
	struct http *h;

	if (!cfg->max_body || !cfg->max_handles)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->free_handles = calloc(cfg->max_handles, sizeof(*h->free_handles));
	if (!h->free_handles)
		goto out_free;
	if (cfg->cafile) {
		h->cafile = strdup(cfg->cafile);
		if (!h->cafile)
			goto out_free;
	}
	if (pthread_mutex_init(&h->lock, NULL) != 0)
		goto out_free;
	h->max_handles = cfg->max_handles;
	h->max_body = cfg->max_body;
	h->cancel = cfg->cancel;
	*ret = h;
	return 0;
out_free:
	free(h->cafile);
	free(h->free_handles);
	free(h);
	return -ENOMEM;
}

void http_free(struct http *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->free_count; i++)
		curl_easy_cleanup(h->free_handles[i]);
	pthread_mutex_destroy(&h->lock);
	free(h->free_handles);
	free(h->cafile);
	free(h);
}

static CURL *handle_get(struct http *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->lock);
	if (h->free_count > 0)
		c = h->free_handles[--h->free_count];
	pthread_mutex_unlock(&h->lock);
	if (c)
		curl_easy_reset(c); /* options only: live connections and DNS cache stay */
	else
		c = curl_easy_init();
	return c;
}

static void handle_put(struct http *h, CURL *c)
{
	pthread_mutex_lock(&h->lock);
	if (h->free_count < h->max_handles) {
		h->free_handles[h->free_count++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	if (c)
		curl_easy_cleanup(c);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct exchange *ex = userdata;
	size_t len = size * nmemb;

	buf_append(&ex->body, data, len);
	if (buf_failed(&ex->body)) {
		ex->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return len;
}

/* Copies the value of "name: value" if @line is that header. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t out_size)
{
	size_t name_len = strlen(name), start, end;

	if (len <= name_len || line[name_len] != ':' || strncasecmp(line, name, name_len) != 0)
		return;
	start = name_len + 1;
	end = len;
	while (start < end && (line[start] == ' ' || line[start] == '\t'))
		start++;
	while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' '))
		end--;
	snprintf(out, out_size, "%.*s", (int)(end - start), line + start);
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
	struct exchange *ex = userdata;
	struct http_response *resp = ex->resp;
	size_t len = size * nitems;

	/* A new status line (after 100 Continue, say): forget the previous headers. */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		resp->content_type[0] = '\0';
		resp->retry_after[0] = '\0';
		resp->request_id[0] = '\0';
		ex->chunked = false;
		return len;
	}
	if (len > 18 && strncasecmp(data, "transfer-encoding:", 18) == 0) {
		char te[64] = "";

		header_value(data, len, "transfer-encoding", te, sizeof(te));
		ex->chunked = strcasestr(te, "chunked") != NULL;
	}
	header_value(data, len, "content-type", resp->content_type, sizeof(resp->content_type));
	header_value(data, len, "x-acs-retry-after", resp->retry_after, sizeof(resp->retry_after));
	header_value(data, len, "x-acs-request-id", resp->request_id, sizeof(resp->request_id));
	return len;
}

static int errno_of(CURLcode rc, bool too_big)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -ECONNREFUSED;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return -EPROTO;
	case CURLE_WRITE_ERROR:
		return too_big ? -EFBIG : -EIO;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
		return -EKEYREJECTED;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

/* curl's progress callback: a non-zero return aborts the transfer with
 * CURLE_ABORTED_BY_CALLBACK. curl calls it often while data moves and about
 * once a second while it waits, which bounds how long a cancel takes. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct exchange *ex = userdata;

	return cancel_is_set(ex->cancel) ? 1 : 0;
}

/* Sets every option of one exchange; false if curl refused one. */
static bool set_options(struct http *h, CURL *c, const struct http_request *req, struct curl_slist *headers,
			struct exchange *ex, char *curl_err)
{
	unsigned long connect_ms =
		req->timeout_ms < HTTP_MAX_CONNECT_MS ? req->timeout_ms : HTTP_MAX_CONNECT_MS;
	bool ok = true;

	ok &= curl_easy_setopt(c, CURLOPT_URL, req->url) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	if (h->cafile)
		ok &= curl_easy_setopt(c, CURLOPT_CAINFO, h->cafile) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_WRITEDATA, ex) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_HEADERDATA, ex) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK;
	ok &= curl_easy_setopt(c, CURLOPT_XFERINFODATA, ex) == CURLE_OK;
	if (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
		/* An empty body is sent as Content-Length: 0 (the SDK's wire form).
		 * PUT goes as a POST with its method renamed, so curl sends the
		 * body from memory the same way (the metadata token request). */
		ok &= curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK;
		ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "") == CURLE_OK;
		ok &= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				       (curl_off_t)(req->body ? req->body_len : 0)) == CURLE_OK;
		if (req->method[1] == 'U')
			ok &= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT") == CURLE_OK;
	} else {
		ok &= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	}
	return ok;
}

int http_send(struct http *h, const struct http_request *req, struct http_response *ret, char *errbuf,
	      size_t errsize)
{
	/* Empty values remove curl's own headers, which our signature does not cover. */
	static const char *const suppressed[] = { "Content-Type:", "Expect:" };
	char curl_err[CURL_ERROR_SIZE] = "";
	struct http_response resp = { 0 };
	struct exchange ex = { .resp = &resp, .cancel = h->cancel };
	struct curl_slist *headers = NULL, *tmp;
	size_t max_body = req->max_body && req->max_body < h->max_body ? req->max_body : h->max_body;
	curl_off_t content_length = -1;
	size_t i;
	CURL *c;
	CURLcode rc;
	int r = -ENOMEM;

	errbuf[0] = '\0';
	buf_init(&ex.body, max_body);
	if (cancel_is_set(h->cancel)) {
		snprintf(errbuf, errsize, "cancelled");
		buf_done(&ex.body);
		return -ECANCELED;
	}
	/* A request with a body names its own Content-Type. */
	for (i = req->body ? 1 : 0; i < sizeof(suppressed) / sizeof(suppressed[0]); i++) {
		tmp = curl_slist_append(headers, suppressed[i]);
		if (!tmp)
			goto out_free_headers;
		headers = tmp;
	}
	for (i = 0; i < req->header_count; i++) {
		tmp = curl_slist_append(headers, req->headers[i]);
		if (!tmp)
			goto out_free_headers;
		headers = tmp;
	}

	c = handle_get(h);
	if (!c)
		goto out_free_headers;
	if (!set_options(h, c, req, headers, &ex, curl_err)) {
		snprintf(errbuf, errsize, "curl refused an option");
		r = -EIO;
		goto out_put_handle;
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		r = errno_of(rc, ex.too_big);
		if (ex.too_big)
			snprintf(errbuf, errsize, "response body larger than %zu bytes", max_body);
		else if (r == -ECANCELED)
			snprintf(errbuf, errsize, "cancelled");
		else
			snprintf(errbuf, errsize, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
		goto out_put_handle;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
	/* curl fails the transfer (CURLE_PARTIAL_FILE and kin) when a declared
	 * length or the chunked terminator is not met, so reaching here with
	 * either means the whole body arrived. */
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &content_length) != CURLE_OK)
		content_length = -1;
	resp.framed = content_length >= 0 || ex.chunked;
	resp.body = buf_steal(&ex.body, &resp.body_len);
	if (!resp.body)
		goto out_put_handle;
	*ret = resp;
	r = 0;
out_put_handle:
	/* Don't keep a dangling pointer to our stack in the pooled handle. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	handle_put(h, c);
out_free_headers:
	curl_slist_free_all(headers);
	buf_done(&ex.body);
	return r;
}

void http_response_done(struct http_response *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}
