// SPDX-License-Identifier: MIT
/*
 * sign: canonical forms and HMACs for Alibaba Cloud signatures V3
 * (ACS3-HMAC-SHA256) and V1 (HMAC-SHA1), byte for byte as the official SDKs
 * compute them (contrib/docs/api.md §1, §2; vectors in §7 and
 * tests/test_sign.c). Strings are built with struct buf and checked once.
 * OpenSSL stays inside this file: EVP_Digest for SHA-256, EVP_MAC for HMAC
 * (the fetched HMAC implementation is shared, contexts are per call),
 * RAND_bytes for nonces.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "b64.h"
#include "buf.h"
#include "credentials.h"
#include "sign.h"

/* Bounds on what we sign: our own requests use a dozen short headers. */
#define SIGN_MAX_HEADERS     64
#define SIGN_MAX_HEADER_NAME 128

#define V3_ALGORITHM "ACS3-HMAC-SHA256"

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static EVP_MAC *hmac_impl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

/* Fetched once; EVP_MAC objects may be shared between threads. */
static void hmac_fetch(void)
{
	hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex_lower[in[i] >> 4];
		out[2 * i + 1] = hex_lower[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* HMAC with @digest ("SHA256", "SHA1") into @out (EVP_MAX_MD_SIZE bytes). */
static int hmac(const char *digest, const void *key, size_t key_len, const void *msg, size_t msg_len,
		unsigned char *out, size_t *ret_len)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t len = 0;
	int r = -EIO;

	pthread_once(&hmac_once, hmac_fetch);
	if (!hmac_impl)
		return -EIO;
	ctx = EVP_MAC_CTX_new(hmac_impl);
	if (!ctx)
		return -ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ctx, key, key_len, params))
		goto out_free_ctx;
	if (!EVP_MAC_update(ctx, msg, msg_len))
		goto out_free_ctx;
	if (!EVP_MAC_final(ctx, out, &len, EVP_MAX_MD_SIZE))
		goto out_free_ctx;
	*ret_len = len;
	r = 0;
out_free_ctx:
	EVP_MAC_CTX_free(ctx);
	return r;
}

int sign_sha256_hex(const void *data, size_t len, char out[SIGN_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != SIGN_SHA256_HEX_LEN / 2)
		return -EIO;
	hex_encode(md, md_len, out);
	return 0;
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.' || c == '~';
}

void sign_encode(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_unreserved(c)) {
			buf_putc(out, (char)c);
		} else {
			char esc[3] = { '%', hex_upper[c >> 4], hex_upper[c & 15] };

			buf_append(out, esc, sizeof(esc));
		}
	}
}

/* An encoded query pair, for sorting. */
struct enc_pair {
	char *key;
	char *value;
};

static int enc_pair_cmp(const void *a, const void *b)
{
	const struct enc_pair *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
	struct buf b = BUF_INIT;

	sign_encode(&b, s ? s : "", s ? strlen(s) : 0);
	return buf_steal(&b, NULL);
}

int sign_canonical_query(const struct sign_param *params, size_t n, char **ret)
{
	struct buf out = BUF_INIT;
	struct enc_pair *pairs;
	size_t i;
	int r = -ENOMEM;
	char *s;

	pairs = calloc(n ? n : 1, sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		pairs[i].key = encode_dup(params[i].key);
		pairs[i].value = encode_dup(params[i].value);
		if (!pairs[i].key || !pairs[i].value)
			goto out_free_pairs;
	}
	/* JS sort() of the SDK = byte order for the ASCII that encoding leaves. */
	qsort(pairs, n, sizeof(*pairs), enc_pair_cmp);
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(&out, '&');
		buf_puts(&out, pairs[i].key);
		buf_putc(&out, '=');
		buf_puts(&out, pairs[i].value);
	}
	s = buf_steal(&out, NULL);
	if (!s)
		goto out_free_pairs;
	*ret = s;
	r = 0;
out_free_pairs:
	for (i = 0; i < n; i++) {
		free(pairs[i].key);
		free(pairs[i].value);
	}
	free(pairs);
	return r;
}

/* A header that takes part in the V3 signature, name lowercased, value trimmed. */
struct canon_header {
	char name[SIGN_MAX_HEADER_NAME];
	const char *value;
	size_t value_len;
};

static int canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	size_t n = x->value_len < y->value_len ? x->value_len : y->value_len;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	c = memcmp(x->value, y->value, n);
	if (c)
		return c;
	return (x->value_len > y->value_len) - (x->value_len < y->value_len);
}

static bool is_signed_header(const char *lower_name)
{
	return strncmp(lower_name, "x-acs-", 6) == 0 || strcmp(lower_name, "host") == 0 ||
	       strcmp(lower_name, "content-type") == 0;
}

/* Lowercases, trims and sorts the signed headers of @req into @out. */
static int collect_headers(const struct sign_v3_request *req, struct canon_header *out, size_t *ret_n)
{
	size_t i, j, n = 0;

	for (i = 0; i < req->header_count; i++) {
		const char *name = req->headers[i].name,
			   *v = req->headers[i].value ? req->headers[i].value : "";
		size_t name_len = strlen(name), v_len;
		struct canon_header *h;

		if (name_len == 0 || name_len >= SIGN_MAX_HEADER_NAME)
			return -EINVAL;
		if (n == SIGN_MAX_HEADERS)
			return -EINVAL;
		h = &out[n];
		for (j = 0; j <= name_len; j++)
			h->name[j] = (char)tolower((unsigned char)name[j]);
		if (!is_signed_header(h->name))
			continue;
		v_len = strlen(v);
		while (v_len > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			v_len--;
		}
		while (v_len > 0 && (v[v_len - 1] == ' ' || v[v_len - 1] == '\t'))
			v_len--;
		h->value = v;
		h->value_len = v_len;
		n++;
	}
	qsort(out, n, sizeof(*out), canon_header_cmp);
	*ret_n = n;
	return 0;
}

/* CanonicalHeaders and SignedHeaders; repeated names join their sorted values with ','. */
static void build_headers(const struct canon_header *h, size_t n, struct buf *canon, struct buf *names)
{
	size_t i;

	for (i = 0; i < n; i++) {
		bool same_as_prev = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;

		if (same_as_prev) {
			buf_putc(canon, ',');
		} else {
			if (i > 0) {
				buf_putc(canon, '\n');
				buf_putc(names, ';');
			}
			buf_puts(canon, h[i].name);
			buf_putc(canon, ':');
			buf_puts(names, h[i].name);
		}
		buf_append(canon, h[i].value, h[i].value_len);
	}
	if (n > 0)
		buf_putc(canon, '\n');
}

void sign_v3_done(struct sign_v3 *s)
{
	if (!s)
		return;
	free(s->canonical_request);
	free(s->hashed_canonical_request);
	free(s->string_to_sign);
	free(s->signed_headers);
	free(s->signature);
	free(s->authorization);
	memset(s, 0, sizeof(*s));
}

int sign_v3(const struct sign_v3_request *req, const struct cred *cred, struct sign_v3 *ret)
{
	struct canon_header headers[SIGN_MAX_HEADERS];
	struct buf canon = BUF_INIT, names = BUF_INIT, b = BUF_INIT;
	char hashed[SIGN_SHA256_HEX_LEN + 1], sig_hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char mac[EVP_MAX_MD_SIZE];
	const char *secret = cred_secret(cred);
	struct sign_v3 s = { 0 };
	size_t n = 0, mac_len = 0;
	int r;

	r = collect_headers(req, headers, &n);
	if (r < 0)
		return r;
	build_headers(headers, n, &canon, &names);

	r = -ENOMEM;
	buf_printf(&b, "%s\n%s\n%s\n", req->method, req->uri, req->canonical_query);
	buf_append(&b, canon.data ? canon.data : "", canon.len);
	buf_printf(&b, "\n%s\n%s", names.data ? names.data : "", req->payload_hash);
	s.canonical_request = buf_steal(&b, NULL);
	s.signed_headers = buf_steal(&names, NULL);
	if (!s.canonical_request || !s.signed_headers)
		goto out_free;

	r = sign_sha256_hex(s.canonical_request, strlen(s.canonical_request), hashed);
	if (r < 0)
		goto out_free;
	r = -ENOMEM;
	s.hashed_canonical_request = strdup(hashed);
	buf_printf(&b, V3_ALGORITHM "\n%s", hashed);
	s.string_to_sign = buf_steal(&b, NULL);
	if (!s.hashed_canonical_request || !s.string_to_sign)
		goto out_free;

	r = hmac("SHA256", secret, strlen(secret), s.string_to_sign, strlen(s.string_to_sign), mac, &mac_len);
	if (r < 0)
		goto out_free;
	hex_encode(mac, mac_len, sig_hex);
	r = -ENOMEM;
	s.signature = strdup(sig_hex);
	buf_printf(&b, V3_ALGORITHM " Credential=%s,SignedHeaders=%s,Signature=%s", cred_access_key_id(cred),
		   s.signed_headers, sig_hex);
	s.authorization = buf_steal(&b, NULL);
	if (!s.signature || !s.authorization)
		goto out_free;

	*ret = s;
	r = 0;
	goto out_done;
out_free:
	sign_v3_done(&s);
out_done:
	buf_done(&canon);
	buf_done(&names);
	buf_done(&b);
	return r;
}

int sign_v1(const char *method, const struct sign_param *params, size_t n, const struct cred *cred,
	    char **ret_sts, char **ret_signature)
{
	struct buf sts = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	char *query = NULL, *sts_str = NULL, *sig = NULL, *key;
	const char *secret = cred_secret(cred);
	size_t mac_len = 0, key_len = strlen(secret) + 1;
	int r;

	r = sign_canonical_query(params, n, &query);
	if (r < 0)
		return r;
	buf_puts(&sts, method);
	buf_puts(&sts, "&%2F&");
	sign_encode(&sts, query, strlen(query));
	r = -ENOMEM;
	sts_str = buf_steal(&sts, NULL);
	if (!sts_str)
		goto out_free_query;

	/* The V1 key is the secret with '&' appended (no token part); one
	 * exact allocation so no copy of the secret is left behind by a realloc. */
	key = malloc(key_len);
	if (!key)
		goto out_free_sts;
	memcpy(key, secret, key_len - 1);
	key[key_len - 1] = '&';
	r = hmac("SHA1", key, key_len, sts_str, strlen(sts_str), mac, &mac_len);
	if (r < 0)
		goto out_wipe_key;
	r = b64_encode(mac, mac_len, &sig, NULL);
	if (r < 0)
		goto out_wipe_key;

	*ret_signature = sig;
	if (ret_sts) {
		*ret_sts = sts_str;
		sts_str = NULL;
	}
	r = 0;
out_wipe_key:
	OPENSSL_cleanse(key, key_len);
	free(key);
out_free_sts:
	free(sts_str);
out_free_query:
	free(query);
	return r;
}

int sign_nonce(char out[SIGN_NONCE_LEN + 1])
{
	unsigned char raw[SIGN_NONCE_LEN / 2];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	hex_encode(raw, sizeof(raw), out);
	return 0;
}

int sign_timestamp(time_t t, char out[SIGN_TIMESTAMP_LEN + 1])
{
	struct tm tm;

	/* Four digits only: strftime writes year -100 as "-100", also 4 chars. */
	if (!gmtime_r(&t, &tm) || tm.tm_year < 1000 - 1900 || tm.tm_year > 9999 - 1900)
		return -EINVAL;
	if (strftime(out, SIGN_TIMESTAMP_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != SIGN_TIMESTAMP_LEN)
		return -EINVAL;
	return 0;
}
