/* SPDX-License-Identifier: MIT */
/*
 * sign: Alibaba Cloud request signing (contrib/docs/api.md §1, §2).
 *
 *   - sign_encode: the SDK's encode(), RFC 3986: only A-Z a-z 0-9 - _ . ~ stay
 *     literal; every other byte (UTF-8 bytes of non-ASCII) becomes %XX with
 *     uppercase hex. Space is %20, never '+'.
 *   - sign_canonical_query: enc(key)=enc(value) pairs sorted by the byte order
 *     of the encoded key (then value), joined with '&'. Used for both the
 *     signature and the wire query, so the two can never disagree.
 *   - sign_v3: ACS3-HMAC-SHA256, the SWAS SDK default: canonical request,
 *     string to sign and Authorization header, all exposed for tests.
 *   - sign_v1: HMAC-SHA1 RPC signatures (SignatureVersion 1.0), kept for tools
 *     and the emulator's test vectors.
 *   - sha256 hex, nonces and timestamps.
 *
 * This is the only module that includes OpenSSL (besides OPENSSL_cleanse in
 * credentials.c). HMAC goes through EVP_MAC, which is thread-safe.
 *
 * Ownership: every char ** result is malloc'ed and freed by the caller with
 * free(); sign_v3_done() frees a struct sign_v3. Results are written only on
 * success. Thread-safety: every function may be called from any thread.
 */
#ifndef SWASFS_SIGN_H
#define SWASFS_SIGN_H

#include <stddef.h>
#include <time.h>

struct buf;
struct cred;

#define SIGN_SHA256_HEX_LEN 64 /* lowercase hex of a SHA-256 digest */
#define SIGN_NONCE_LEN	    32 /* 16 random bytes in hex: as long as the doc's samples */
#define SIGN_TIMESTAMP_LEN  20 /* "yyyy-MM-ddTHH:mm:ssZ" */

/* SHA-256 of the empty body: every SWAS request sends an empty POST body. */
#define SIGN_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A query parameter; both strings are borrowed. */
struct sign_param {
	const char *key;
	const char *value;
};

/* A request header; both strings are borrowed. */
struct sign_header {
	const char *name;
	const char *value;
};

/* What sign_v3 signs. Every pointer is borrowed for the call. */
struct sign_v3_request {
	const char *method;		   /* "POST"; "" is allowed (the SDK's test vector) */
	const char *uri;		   /* CanonicalURI, "/" for RPC */
	const char *canonical_query;	   /* from sign_canonical_query() */
	const struct sign_header *headers; /* every header; host, content-type and x-acs-* are signed */
	size_t header_count;
	const char *payload_hash; /* hex SHA-256 of the body, e.g. SIGN_EMPTY_SHA256 */
};

/* What sign_v3 produced; owned by the caller, freed by sign_v3_done(). */
struct sign_v3 {
	char *canonical_request;
	char *hashed_canonical_request; /* hex SHA-256 of canonical_request */
	char *string_to_sign;
	char *signed_headers; /* "host;x-acs-action;..." */
	char *signature;      /* lowercase hex HMAC-SHA256 */
	char *authorization;  /* the Authorization header's value */
};

/* Appends the RFC 3986 encoding of @len bytes of @s to @out. */
void sign_encode(struct buf *out, const char *s, size_t len);

/* Builds the canonical query of @n parameters (a NULL value counts as "").
 * Returns 0 and *ret ("" when n == 0), or -ENOMEM. */
int sign_canonical_query(const struct sign_param *params, size_t n, char **ret);

/* Writes the lowercase hex SHA-256 of @len bytes and a NUL into @out.
 * Returns 0 or -EIO (OpenSSL failure). */
int sign_sha256_hex(const void *data, size_t len, char out[SIGN_SHA256_HEX_LEN + 1]);

/* Signs @req with @cred's AccessKey (the secret as is, no '&'). Returns 0 and
 * fills *ret (free with sign_v3_done()), -EINVAL (bad header name) or -ENOMEM
 * or -EIO. */
int sign_v3(const struct sign_v3_request *req, const struct cred *cred, struct sign_v3 *ret);
void sign_v3_done(struct sign_v3 *s);

/* V1 (HMAC-SHA1): StringToSign = METHOD&%2F&enc(canonical query of @params,
 * Signature excluded by the caller), key = secret + "&". Returns 0, *ret_sts
 * (may be NULL) and *ret_signature (base64), or -ENOMEM / -EIO. */
int sign_v1(const char *method, const struct sign_param *params, size_t n, const struct cred *cred,
	    char **ret_sts, char **ret_signature);

/* A fresh x-acs-signature-nonce: SIGN_NONCE_LEN lowercase hex chars from
 * RAND_bytes, NUL-terminated. Returns 0 or -EIO. */
int sign_nonce(char out[SIGN_NONCE_LEN + 1]);

/* Formats @t as UTC "yyyy-MM-ddTHH:mm:ssZ" (x-acs-date, Timestamp).
 * Returns 0 or -EINVAL (unrepresentable time). */
int sign_timestamp(time_t t, char out[SIGN_TIMESTAMP_LEN + 1]);

#endif
