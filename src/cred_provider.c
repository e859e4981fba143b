// SPDX-License-Identifier: MIT
/*
 * cred_provider: the credentials sources of credentials.h at run time.
 *
 * A provider holds its current credentials (a refcounted struct cred) under a
 * short lock. Signers take a reference and go; a renewal fetches new ones
 * with no lock held and swaps them in, so a request in flight keeps signing
 * with the ones it took. Only when the current ones have expired does
 * cred_provider_get wait, for the renewal in progress or one it starts.
 *
 * The fetchers follow the official library (@alicloud/credentials 2.4.7,
 * contrib/docs/credentials.md): STS AssumeRole is a V1-signed RPC POST with
 * the common parameters in the query and the role's in a form body
 * (providers/ram_role_arn.ts); AssumeRoleWithOIDC is the same shape, unsigned,
 * with the token file's contents in the body (providers/oidc_role_arn.ts);
 * the metadata service is an IMDSv2 token PUT, then GETs with the token,
 * falling back to no token unless IMDSv1 is disabled
 * (providers/ecs_ram_role.ts); a credentials URI is one GET (providers/uri.ts).
 * Every answer must carry its Expiration. Nothing a server sends is kept
 * beyond CRED_MAX_RESPONSE bytes, and no message built here holds a secret:
 * an STS error shows its Code and RequestId, never its Message (which for
 * SignatureDoesNotMatch echoes the string to sign, SecurityToken included).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bg.h"
#include "buf.h"
#include "cancel.h"
#include "credentials.h"
#include "credentials_i.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "sign.h"

/* An STS, metadata or URI answer is a few KiB; a token file a few. */
#define CRED_MAX_RESPONSE   (64u * 1024)
#define CRED_MAX_OIDC_TOKEN (64u * 1024)
/* Role names from the metadata service go into a path. */
#define CRED_MAX_ROLE_NAME 256
/* providers/ecs_ram_role.ts: 1 s to connect and 1 s to read; one limit here. */
#define CRED_METADATA_TIMEOUT_MS 2000u
#define CRED_DEFAULT_TIMEOUT_MS	 10000u
/* providers/ecs_ram_role.ts defaultMetadataTokenDuration. */
#define CRED_METADATA_TOKEN_TTL "21600"
/* A file source is looked at this often for a change. */
#define CRED_FILE_CHECK_MS 1000u
/* Credentials this close to their Expiration count as expired (clock skew). */
#define CRED_EXPIRY_SKEW_S 1
/* Failed renewals are tried again after 1, 2, 4 ... s, at most this. */
#define CRED_MAX_RETRY_MS 60000u
/* A refusal by the API renews at most this often (one STS call per failing
 * request would be a storm). */
#define CRED_MIN_REFUSAL_RENEW_MS 5000u
#define STS_VERSION		  "2015-04-01"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cred_provider_alloc(enum cred_kind kind, const struct cred_options *opt, struct cred_provider **ret)
{
	struct http_config hc = { .max_body = CRED_MAX_RESPONSE, .max_handles = 1, .cafile = opt->cafile };
	pthread_condattr_t attr;
	struct cred_provider *p;
	int r = -ENOMEM;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kind = kind;
	p->offline = opt->offline;
	p->metrics = opt->metrics;
	p->timeout_ms = opt->timeout_s ? opt->timeout_s * 1000u : CRED_DEFAULT_TIMEOUT_MS;
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		goto out_free;
	if (pthread_condattr_init(&attr) != 0)
		goto out_destroy_lock;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	r = pthread_cond_init(&p->cond, &attr) == 0 ? 0 : -ENOMEM;
	pthread_condattr_destroy(&attr);
	if (r < 0)
		goto out_destroy_lock;
	if (kind != CRED_STATIC && kind != CRED_FILE) {
		r = -ENOMEM;
		if (opt->cafile && !(p->cafile = strdup(opt->cafile)))
			goto out_destroy_cond;
		r = cancel_new(&p->cancel);
		if (r < 0)
			goto out_destroy_cond;
		hc.cancel = p->cancel;
		r = http_new(&hc, &p->http);
		if (r < 0)
			goto out_free_cancel;
	}
	*ret = p;
	return 0;
out_free_cancel:
	cancel_free(p->cancel);
out_destroy_cond:
	free(p->cafile);
	pthread_cond_destroy(&p->cond);
out_destroy_lock:
	pthread_mutex_destroy(&p->lock);
out_free:
	free(p);
	return r;
}

void cred_provider_free(struct cred_provider *p)
{
	if (!p)
		return;
	cred_provider_free(p->inner);
	http_free(p->http);
	cancel_free(p->cancel);
	free(p->cafile);
	cred_free(p->cur);
	free(p->path);
	free(p->section);
	free(p->role_arn);
	free(p->session_name);
	free(p->policy);
	free(p->oidc_provider_arn);
	free(p->sts_url);
	free(p->role_name);
	free(p->metadata_url);
	free(p->uri);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

const char *cred_provider_source(const struct cred_provider *p)
{
	return p->source;
}

void cred_provider_get_stats(struct cred_provider *p, struct cred_provider_stats *ret)
{
	pthread_mutex_lock(&p->lock);
	*ret = p->stats;
	pthread_mutex_unlock(&p->lock);
}

static bool is_temporary(const struct cred_provider *p)
{
	return p->kind == CRED_RAM_ROLE || p->kind == CRED_OIDC || p->kind == CRED_ECS || p->kind == CRED_URI;
}

/* ---- one HTTP exchange ---- */

/* Sends @req; on a complete answer with status 200 returns 0 and *resp.
 * Otherwise -EIO (no answer, or 5xx) or -EACCES (another status), with @why
 * naming @what, the status, and the answer's Code and RequestId if any. */
static int exchange(struct cred_provider *p, const char *action, const char *what,
		    const struct http_request *req, struct http_response *resp, char *why, size_t why_size)
{
	struct json_error e = { 0 };
	char errbuf[256];
	int r;

	r = http_send(p->http, req, resp, errbuf, sizeof(errbuf));
	if (r < 0) {
		metrics_count(p->metrics, action, METRICS_FAILED, 0);
		snprintf(why, why_size, "%s: %s", what, errbuf[0] ? errbuf : strerror(-r));
		return r == -ENOMEM ? r : -EIO;
	}
	if (resp->status == 200) {
		metrics_count(p->metrics, action, METRICS_OK, resp->body_len);
		return 0;
	}
	json_parse_error(resp->body, resp->body_len, &e);
	metrics_count(p->metrics, action,
		      metrics_is_throttling(resp->status, e.code) ? METRICS_THROTTLED : METRICS_FAILED,
		      resp->body_len);
	snprintf(why, why_size, "%s: HTTP %ld%s%s (RequestId %s)", what, resp->status, e.code[0] ? " " : "",
		 e.code,
		 e.request_id[0]       ? e.request_id
		 : resp->request_id[0] ? resp->request_id
				       : "-");
	r = resp->status >= 500 ? -EIO : -EACCES;
	http_response_done(resp);
	return r;
}

/* Turns an answer's credentials into a struct cred and its expiry. */
static int take_temp(const char *what, const struct http_response *resp, const char *wrapper,
		     bool needs_success, struct cred **ret, time_t *ret_expires, char *why, size_t why_size)
{
	struct json_temp_cred t = { 0 };
	time_t exp;
	int r;

	r = json_parse_temp_cred(resp->body, resp->body_len, wrapper, &t);
	if (r < 0) {
		snprintf(why, why_size, "%s: the answer is not %s", what,
			 wrapper ? "JSON with Credentials" : "a JSON object");
		return r == -ENOMEM ? r : -EIO;
	}
	r = -EIO;
	if (needs_success && strcmp(t.code, "Success") != 0) {
		snprintf(why, why_size, "%s: the answer's Code is \"%.64s\", not Success", what, t.code);
		goto out_done;
	}
	if (!t.access_key_id[0] || !t.access_key_secret[0] || !t.security_token[0]) {
		snprintf(why, why_size, "%s: the answer lacks AccessKeyId, AccessKeySecret or SecurityToken",
			 what);
		goto out_done;
	}
	exp = cred_parse_expiration(t.expiration);
	if (exp == 0) {
		snprintf(why, why_size, "%s: the answer has no valid Expiration", what);
		goto out_done;
	}
	r = cred_new(t.access_key_id, t.access_key_secret, t.security_token, ret);
	if (r == -EINVAL) {
		snprintf(why, why_size, "%s: a credential in the answer is too long", what);
		r = -EIO;
	}
	if (r == 0)
		*ret_expires = exp;
out_done:
	json_temp_cred_done(&t);
	return r;
}

/* Wipes and frees a buf that held a secret. */
static void buf_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	buf_done(b);
}

/* The base URL without a trailing '/', then "/?" and @query. */
static void sts_url(struct buf *url, const char *base, const char *query)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_append(url, base, n);
	buf_puts(url, "/?");
	buf_puts(url, query);
}

/* POSTs an STS call: @q in the query, @form in the body. */
static int sts_post(struct cred_provider *p, const char *action, const char *what, const struct sign_param *q,
		    size_t nq, const struct sign_param *form, size_t nform, const char *provider_header,
		    struct cred **ret, time_t *ret_expires, char *why, size_t why_size)
{
	const char *headers[3] = { "Content-Type: application/x-www-form-urlencoded",
				   "Accept: application/json", provider_header };
	char *query = NULL, *body = NULL;
	struct http_response resp = { 0 };
	struct http_request req;
	struct buf url = BUF_INIT;
	int r;

	r = sign_canonical_query(q, nq, &query);
	if (r == 0)
		r = sign_canonical_query(form, nform, &body);
	if (r < 0)
		goto out_free;
	sts_url(&url, p->sts_url, query);
	r = -ENOMEM;
	if (buf_failed(&url))
		goto out_free;
	req = (struct http_request){
		.method = "POST",
		.url = url.data,
		.headers = headers,
		.header_count = provider_header ? 3 : 2,
		.timeout_ms = p->timeout_ms,
		.max_body = CRED_MAX_RESPONSE,
		.body = body,
		.body_len = strlen(body),
	};
	r = exchange(p, action, what, &req, &resp, why, why_size);
	if (r == 0) {
		r = take_temp(what, &resp, "Credentials", false, ret, ret_expires, why, why_size);
		explicit_bzero(resp.body, resp.body_len);
		http_response_done(&resp);
	}
out_free:
	/* The query may hold the source's SecurityToken, the body an OIDC token. */
	buf_wipe(&url);
	if (query)
		explicit_bzero(query, strlen(query));
	if (body)
		explicit_bzero(body, strlen(body));
	free(query);
	free(body);
	return r;
}

static int provider_get(struct cred_provider *p, struct cred **ret);
static void file_check(struct cred_provider *p, bool force);

/* STS AssumeRole (providers/ram_role_arn.ts), signed V1 with the inner
 * provider's credentials. */
static int fetch_assume_role(struct cred_provider *p, struct cred **ret, time_t *ret_expires, char *why,
			     size_t why_size)
{
	char ts[SIGN_TIMESTAMP_LEN + 1], nonce[SIGN_NONCE_LEN + 1], duration[16], what[700];
	char *sig = NULL;
	const char *provider_header;
	struct cred *src = NULL;
	struct sign_param q[10], form[4];
	size_t nq = 0, nform = 0;
	int r;

	if (p->inner->kind == CRED_FILE)
		file_check(p->inner, false);
	r = provider_get(p->inner, &src);
	if (r < 0) {
		snprintf(why, why_size, "STS AssumeRole %s: no credentials to assume it with", p->role_arn);
		return r;
	}
	snprintf(what, sizeof(what), "STS AssumeRole %s at %s", p->role_arn, p->sts_url);
	r = sign_timestamp(time(NULL), ts);
	if (r == 0)
		r = sign_nonce(nonce);
	if (r < 0)
		goto out_unref;
	snprintf(duration, sizeof(duration), "%u", p->duration_s);
	q[nq++] = (struct sign_param){ "Version", STS_VERSION };
	q[nq++] = (struct sign_param){ "Action", "AssumeRole" };
	q[nq++] = (struct sign_param){ "Format", "JSON" };
	q[nq++] = (struct sign_param){ "Timestamp", ts };
	q[nq++] = (struct sign_param){ "SignatureMethod", "HMAC-SHA1" };
	q[nq++] = (struct sign_param){ "SignatureVersion", "1.0" };
	q[nq++] = (struct sign_param){ "SignatureNonce", nonce };
	q[nq++] = (struct sign_param){ "AccessKeyId", cred_access_key_id(src) };
	if (cred_token(src))
		q[nq++] = (struct sign_param){ "SecurityToken", cred_token(src) };
	form[nform++] = (struct sign_param){ "RoleArn", p->role_arn };
	if (p->policy)
		form[nform++] = (struct sign_param){ "Policy", p->policy };
	form[nform++] = (struct sign_param){ "RoleSessionName", p->session_name };
	form[nform++] = (struct sign_param){ "DurationSeconds", duration };
	{
		/* The signature covers the query and the form together. */
		struct sign_param all[14];
		size_t n = 0;

		for (size_t i = 0; i < nq; i++)
			all[n++] = q[i];
		for (size_t i = 0; i < nform; i++)
			all[n++] = form[i];
		r = sign_v1("POST", all, n, src, NULL, &sig);
	}
	if (r < 0)
		goto out_unref;
	q[nq++] = (struct sign_param){ "Signature", sig };
	/* providers/ram_role_arn.ts sends the source's provider name. */
	provider_header = p->inner->kind == CRED_FILE && !cred_token(src)
				  ? "x-acs-credentials-provider: static_ak"
			  : cred_token(src) ? "x-acs-credentials-provider: static_sts"
					    : NULL;
	r = sts_post(p, "AssumeRole", what, q, nq, form, nform, provider_header, ret, ret_expires, why,
		     why_size);
	free(sig);
out_unref:
	cred_free(src);
	return r;
}

/* Reads the OIDC token file whole (it is rotated by its owner: read each time). */
static int read_token_file(const char *path, struct buf *out)
{
	char chunk[4096];
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (out->len + (size_t)n > CRED_MAX_OIDC_TOKEN) {
			r = -EFBIG;
			break;
		}
		buf_append(out, chunk, (size_t)n);
	}
	explicit_bzero(chunk, sizeof(chunk));
	close(fd);
	if (r == 0 && buf_failed(out))
		r = -ENOMEM;
	return r;
}

/* STS AssumeRoleWithOIDC (providers/oidc_role_arn.ts): unsigned. */
static int fetch_oidc(struct cred_provider *p, struct cred **ret, time_t *ret_expires, char *why,
		      size_t why_size)
{
	char ts[SIGN_TIMESTAMP_LEN + 1], duration[16], what[700];
	struct buf token = BUF_INIT;
	struct sign_param q[4], form[5];
	size_t nform = 0;
	int r;

	snprintf(what, sizeof(what), "STS AssumeRoleWithOIDC %s at %s", p->role_arn, p->sts_url);
	r = read_token_file(p->path, &token);
	if (r < 0) {
		snprintf(why, why_size, "%s: the OIDC token file %s: %s", what, p->path,
			 r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		buf_wipe(&token);
		return r == -ENOMEM ? r : -EINVAL;
	}
	if (token.len == 0) {
		snprintf(why, why_size, "%s: the OIDC token file %s is empty", what, p->path);
		buf_wipe(&token);
		return -EINVAL;
	}
	r = sign_timestamp(time(NULL), ts);
	if (r < 0)
		goto out_wipe;
	snprintf(duration, sizeof(duration), "%u", p->duration_s);
	q[0] = (struct sign_param){ "Version", STS_VERSION };
	q[1] = (struct sign_param){ "Action", "AssumeRoleWithOIDC" };
	q[2] = (struct sign_param){ "Format", "JSON" };
	q[3] = (struct sign_param){ "Timestamp", ts };
	form[nform++] = (struct sign_param){ "OIDCProviderArn", p->oidc_provider_arn };
	form[nform++] = (struct sign_param){ "OIDCToken", token.data };
	form[nform++] = (struct sign_param){ "RoleArn", p->role_arn };
	if (p->policy)
		form[nform++] = (struct sign_param){ "Policy", p->policy };
	form[nform++] = (struct sign_param){ "RoleSessionName", p->session_name };
	form[nform++] = (struct sign_param){ "DurationSeconds", duration };
	r = sts_post(p, "AssumeRoleWithOIDC", what, q, 4, form, nform, NULL, ret, ret_expires, why, why_size);
out_wipe:
	buf_wipe(&token);
	return r;
}

/* One metadata request; @token NULL: IMDSv1 (no token header). */
/* What stats.json counts a metadata request as: the token, the role list (a
 * path ending in /), or a role's keys. */
static const char *metadata_action(const char *method, const char *path)
{
	size_t n = strlen(path);

	if (strcmp(method, "PUT") == 0)
		return "MetadataToken";
	return n > 0 && path[n - 1] == '/' ? "MetadataRole" : "MetadataCredentials";
}

static int metadata_send(struct cred_provider *p, const char *method, const char *path, const char *token,
			 struct http_response *resp, char *why, size_t why_size)
{
	struct buf url = BUF_INIT, hdr = BUF_INIT;
	const char *headers[1];
	struct http_request req;
	size_t n = strlen(p->metadata_url);
	int r;

	while (n > 0 && p->metadata_url[n - 1] == '/')
		n--;
	buf_append(&url, p->metadata_url, n);
	buf_puts(&url, path);
	if (strcmp(method, "PUT") == 0)
		buf_printf(&hdr, "X-aliyun-ecs-metadata-token-ttl-seconds: %s", CRED_METADATA_TOKEN_TTL);
	else if (token)
		buf_printf(&hdr, "X-aliyun-ecs-metadata-token: %s", token);
	r = -ENOMEM;
	if (buf_failed(&url) || buf_failed(&hdr))
		goto out_free;
	headers[0] = hdr.data;
	req = (struct http_request){
		.method = method,
		.url = url.data,
		.headers = headers,
		.header_count = hdr.data ? 1 : 0,
		.timeout_ms = CRED_METADATA_TIMEOUT_MS,
		.max_body = CRED_MAX_RESPONSE,
	};
	{
		char what[600];

		snprintf(what, sizeof(what), "the metadata service: %s %s", method, url.data);
		r = exchange(p, metadata_action(method, path), what, &req, resp, why, why_size);
	}
out_free:
	buf_wipe(&hdr);
	buf_done(&url);
	return r;
}

/* GET @path with the IMDSv2 token, falling back to IMDSv1 as the official
 * provider does: when the token could not be had (unless IMDSv1 is
 * disabled), or the request with it failed. */
static int metadata_get(struct cred_provider *p, const char *path, struct http_response *resp, char *why,
			size_t why_size)
{
	struct http_response tr = { 0 };
	char *token = NULL;
	int r;

	r = metadata_send(p, "PUT", "/latest/api/token", NULL, &tr, why, why_size);
	if (r == 0) {
		token = strndup(tr.body, tr.body_len);
		explicit_bzero(tr.body, tr.body_len);
		http_response_done(&tr);
		if (!token)
			return -ENOMEM;
	} else if (p->imdsv1_disabled) {
		return r;
	}
	r = metadata_send(p, "GET", path, token, resp, why, why_size);
	if (r < 0 && token && !p->imdsv1_disabled)
		r = metadata_send(p, "GET", path, NULL, resp, why, why_size);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return r;
}

static bool is_valid_role_name(const char *s, size_t len)
{
	if (len == 0 || len > CRED_MAX_ROLE_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static int fetch_ecs(struct cred_provider *p, struct cred **ret, time_t *ret_expires, char *why,
		     size_t why_size)
{
	static const char base[] = "/latest/meta-data/ram/security-credentials/";
	struct http_response resp = { 0 };
	char path[sizeof(base) + CRED_MAX_ROLE_NAME], role[CRED_MAX_ROLE_NAME + 1];
	int r;

	if (p->role_name) {
		snprintf(role, sizeof(role), "%s", p->role_name);
	} else {
		size_t b = 0, e;

		r = metadata_get(p, base, &resp, why, why_size);
		if (r < 0)
			return r;
		/* The body trimmed (providers/ecs_ram_role.ts doGetRoleName). */
		e = resp.body_len;
		while (b < e && (resp.body[b] == ' ' || resp.body[b] == '\n' || resp.body[b] == '\r' ||
				 resp.body[b] == '\t'))
			b++;
		while (e > b && (resp.body[e - 1] == ' ' || resp.body[e - 1] == '\n' ||
				 resp.body[e - 1] == '\r' || resp.body[e - 1] == '\t'))
			e--;
		if (!is_valid_role_name(resp.body + b, e - b)) {
			snprintf(why, why_size, "the metadata service names no usable RAM role");
			http_response_done(&resp);
			return -EIO;
		}
		snprintf(role, sizeof(role), "%.*s", (int)(e - b), resp.body + b);
		http_response_done(&resp);
	}
	snprintf(path, sizeof(path), "%s%s", base, role);
	r = metadata_get(p, path, &resp, why, why_size);
	if (r < 0)
		return r;
	{
		char what[400];

		snprintf(what, sizeof(what), "the metadata service's credentials of role %s", role);
		r = take_temp(what, &resp, NULL, true, ret, ret_expires, why, why_size);
	}
	explicit_bzero(resp.body, resp.body_len);
	http_response_done(&resp);
	return r;
}

static int fetch_uri(struct cred_provider *p, struct cred **ret, time_t *ret_expires, char *why,
		     size_t why_size)
{
	struct http_response resp = { 0 };
	struct http_request req = {
		.method = "GET",
		.url = p->uri,
		.timeout_ms = p->timeout_ms,
		.max_body = CRED_MAX_RESPONSE,
	};
	int r;

	r = exchange(p, "CredentialsURI", p->source, &req, &resp, why, why_size);
	if (r < 0)
		return r;
	r = take_temp(p->source, &resp, NULL, p->uri_needs_success, ret, ret_expires, why, why_size);
	explicit_bzero(resp.body, resp.body_len);
	http_response_done(&resp);
	return r;
}

/* Fetches fresh credentials of a temporary kind, with no lock held. */
static int fetch(struct cred_provider *p, struct cred **ret, time_t *ret_expires, char *why, size_t why_size)
{
	why[0] = '\0';
	if (p->offline) {
		snprintf(why, why_size, "%s: needs a request, and this is an offline load", p->source);
		return -EOPNOTSUPP;
	}
	switch (p->kind) {
	case CRED_RAM_ROLE:
		return fetch_assume_role(p, ret, ret_expires, why, why_size);
	case CRED_OIDC:
		return fetch_oidc(p, ret, ret_expires, why, why_size);
	case CRED_ECS:
		return fetch_ecs(p, ret, ret_expires, why, why_size);
	case CRED_URI:
		return fetch_uri(p, ret, ret_expires, why, why_size);
	default:
		return -EINVAL;
	}
}

/* When to renew credentials that live until @expires, fetched now: when the
 * smaller of the official margin and a third of their lifetime is left. */
static uint64_t renew_at_of(const struct cred_provider *p, time_t expires)
{
	time_t now = time(NULL);
	uint64_t life = expires > now ? (uint64_t)(expires - now) * 1000u : 0, left = life / 3;

	if (left > (uint64_t)p->margin_s * 1000u)
		left = (uint64_t)p->margin_s * 1000u;
	return mono_ms() + (life - left);
}

/*
 * Fetches and installs new credentials, once at a time: a caller that finds
 * a renewal in progress waits for it and returns its outcome. Returns 0 or
 * the fetch's error (@why says why).
 */
static int renew(struct cred_provider *p, char *why, size_t why_size)
{
	struct cred *fresh = NULL, *old = NULL;
	time_t expires = 0;
	unsigned long before;
	int r;

	pthread_mutex_lock(&p->lock);
	if (p->renewing) {
		before = p->stats.renewals + p->stats.failures;
		while (p->renewing)
			pthread_cond_wait(&p->cond, &p->lock);
		r = p->stats.renewals + p->stats.failures > before && p->failures_in_row == 0 ? 0 : -EAGAIN;
		pthread_mutex_unlock(&p->lock);
		if (r < 0)
			snprintf(why, why_size, "%.500s: the renewal in progress failed", p->source);
		return r;
	}
	p->renewing = true;
	pthread_mutex_unlock(&p->lock);

	r = fetch(p, &fresh, &expires, why, why_size);

	pthread_mutex_lock(&p->lock);
	if (r == 0 && expires <= time(NULL)) {
		snprintf(why, why_size, "%.500s: the credentials it gave have already expired", p->source);
		cred_free(fresh);
		r = -EIO;
	}
	if (r == 0) {
		old = p->cur;
		p->cur = fresh;
		if (old)
			p->stats.renewals++;
		p->expires = expires;
		p->renew_at_ms = renew_at_of(p, expires);
		p->failures_in_row = 0;
	} else {
		uint64_t delay = 1000u << (p->failures_in_row < 6 ? p->failures_in_row : 6);

		p->stats.failures++;
		p->failures_in_row++;
		p->renew_at_ms = mono_ms() + (delay < CRED_MAX_RETRY_MS ? delay : CRED_MAX_RETRY_MS);
	}
	p->renewing = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	cred_free(old);
	return r;
}

static bool same_key(const struct cred *a, const struct cred *b)
{
	const char *ta = cred_token(a), *tb = cred_token(b);

	return strcmp(cred_access_key_id(a), cred_access_key_id(b)) == 0 &&
	       strcmp(cred_secret(a), cred_secret(b)) == 0 && (ta == tb || (ta && tb && strcmp(ta, tb) == 0));
}

/* CRED_FILE: reads the file again if its identity changed (or @force). */
static void file_check(struct cred_provider *p, bool force)
{
	struct cred_file_id id;
	struct cred *fresh = NULL, *old = NULL;
	struct stat st;
	char why[600];
	bool same, changed_key = false;
	int r;

	/* Gone or unreadable: the read would fail too; keep the key read before. */
	if (stat(p->path, &st) < 0)
		return;
	pthread_mutex_lock(&p->lock);
	same = p->file_id.ino == st.st_ino && p->file_id.dev == st.st_dev && p->file_id.size == st.st_size &&
	       p->file_id.mtime.tv_sec == st.st_mtim.tv_sec && p->file_id.mtime.tv_nsec == st.st_mtim.tv_nsec;
	p->next_check_ms = mono_ms() + CRED_FILE_CHECK_MS;
	pthread_mutex_unlock(&p->lock);
	if (same && !force)
		return;
	r = cred_file_read(p, &fresh, &id, why, sizeof(why));
	pthread_mutex_lock(&p->lock);
	if (r == 0) {
		changed_key = !same_key(p->cur, fresh);
		/* The same key stays the same struct: a signer's "is this still
		 * what was refused" question keeps its answer. */
		if (changed_key) {
			old = p->cur;
			p->cur = fresh;
		} else {
			old = fresh;
		}
		p->file_id = id;
		p->stats.rereads++;
	} else {
		/* Keep the old key; note the change as seen, so a half-written
		 * file is read again at its next change only. */
		p->file_id.dev = st.st_dev;
		p->file_id.ino = st.st_ino;
		p->file_id.size = st.st_size;
		p->file_id.mtime = st.st_mtim;
		p->stats.failures++;
	}
	pthread_mutex_unlock(&p->lock);
	cred_free(old);
	/* No caller to return this to: the daemon's log is where it shows. */
	if (r < 0 && !same)
		log_warn("credentials: %s changed but cannot be used (%s); keeping the key read before",
			 p->path, why);
	else if (r == 0 && changed_key)
		log_info("credentials: %s changed: read again, a new key", p->path);
	else if (r == 0 && !same)
		log_debug("credentials: %s changed: read again, the same key", p->path);
}

static bool is_expired_locked(const struct cred_provider *p)
{
	return p->expires != 0 && time(NULL) + CRED_EXPIRY_SKEW_S >= p->expires;
}

static int provider_get(struct cred_provider *p, struct cred **ret)
{
	char why[600];
	int r;

	pthread_mutex_lock(&p->lock);
	while (is_temporary(p) && (is_expired_locked(p) || !p->cur)) {
		pthread_mutex_unlock(&p->lock);
		r = renew(p, why, sizeof(why));
		if (r < 0) {
			pthread_mutex_lock(&p->lock);
			if (p->cur && !is_expired_locked(p))
				break;
			pthread_mutex_unlock(&p->lock);
			log_debug("credentials: expired and not renewed: %s", why);
			return -EKEYEXPIRED;
		}
		pthread_mutex_lock(&p->lock);
	}
	*ret = cred_ref(p->cur);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int cred_provider_get(struct cred_provider *p, struct cred **ret)
{
	return provider_get(p, ret);
}

int cred_provider_refused(struct cred_provider *p, const struct cred *refused)
{
	char why[600];
	uint64_t now = mono_ms();
	bool replaced, go;

	pthread_mutex_lock(&p->lock);
	replaced = p->cur != refused && !same_key(p->cur, refused);
	pthread_mutex_unlock(&p->lock);
	if (replaced)
		return 0;
	switch (p->kind) {
	case CRED_STATIC:
		return -ESTALE;
	case CRED_FILE:
		file_check(p, true);
		break;
	default:
		if (p->kind == CRED_RAM_ROLE && p->inner->kind == CRED_FILE)
			file_check(p->inner, false);
		pthread_mutex_lock(&p->lock);
		go = p->last_refusal_ms == 0 || now - p->last_refusal_ms >= CRED_MIN_REFUSAL_RENEW_MS;
		if (go)
			p->last_refusal_ms = now;
		pthread_mutex_unlock(&p->lock);
		if (go && renew(p, why, sizeof(why)) < 0)
			log_debug("credentials: renewal after a refusal failed: %s", why);
		break;
	}
	pthread_mutex_lock(&p->lock);
	replaced = p->cur != refused && !same_key(p->cur, refused);
	pthread_mutex_unlock(&p->lock);
	return replaced ? 0 : -ESTALE;
}

int cred_provider_prime(struct cred_provider *p, struct cred_diag *diag)
{
	struct cred *fresh = NULL;
	time_t expires = 0;
	int r;

	if (p->cur)
		return 0;
	if (p->kind == CRED_RAM_ROLE) {
		r = cred_provider_prime(p->inner, diag);
		if (r < 0)
			return r;
	}
	r = fetch(p, &fresh, &expires, diag->message, sizeof(diag->message));
	if (r == 0 && expires <= time(NULL)) {
		snprintf(diag->message, sizeof(diag->message),
			 "%s: the credentials it gave have already expired", p->source);
		cred_free(fresh);
		r = -EIO;
	}
	if (r < 0)
		return r;
	p->cur = fresh;
	p->expires = expires;
	p->renew_at_ms = renew_at_of(p, expires);
	return 0;
}

int cred_provider_forget_connections(struct cred_provider *p)
{
	struct http_config hc = {
		.max_body = CRED_MAX_RESPONSE, .max_handles = 1, .cafile = p->cafile, .cancel = p->cancel
	};
	struct http *fresh;
	int r;

	if (p->inner) {
		r = cred_provider_forget_connections(p->inner);
		if (r < 0)
			return r;
	}
	if (!p->http)
		return 0;
	r = http_new(&hc, &fresh);
	if (r < 0)
		return r;
	http_free(p->http);
	p->http = fresh;
	return 0;
}

/* ---- the renewal service ---- */

static void service_run(void *arg)
{
	struct cred_provider *p = arg;
	char why[600];

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		uint64_t now = mono_ms(), due;
		struct timespec ts;

		if (p->kind == CRED_FILE)
			due = p->next_check_ms;
		else
			due = p->renew_at_ms ? p->renew_at_ms : now + CRED_MAX_RETRY_MS;
		if (now < due) {
			ts.tv_sec = (time_t)(due / 1000u);
			ts.tv_nsec = (long)(due % 1000u) * 1000000L;
			pthread_cond_timedwait(&p->cond, &p->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		if (p->kind == CRED_FILE) {
			file_check(p, false);
		} else if (renew(p, why, sizeof(why)) < 0) {
			/* No caller to return this to: the daemon's log is where it shows. */
			log_warn("credentials: renewal failed, trying again: %s", why);
		} else {
			log_debug("credentials: renewed from %s", p->source);
		}
		pthread_mutex_lock(&p->lock);
		if (p->kind == CRED_FILE && p->next_check_ms <= mono_ms())
			p->next_check_ms = mono_ms() + CRED_FILE_CHECK_MS;
	}
	pthread_mutex_unlock(&p->lock);
}

static void service_stop(void *arg)
{
	struct cred_provider *p = arg;

	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	/* A renewal in flight ends now rather than at its timeout. */
	cancel_set(p->cancel);
}

int cred_provider_start(struct cred_provider *p, struct bg *bg)
{
	if (p->kind == CRED_STATIC)
		return 0;
	pthread_mutex_lock(&p->lock);
	p->next_check_ms = mono_ms() + CRED_FILE_CHECK_MS;
	pthread_mutex_unlock(&p->lock);
	return bg_service(bg, "swasfs-cred", service_run, service_stop, p);
}
