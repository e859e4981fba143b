// SPDX-License-Identifier: MIT
/*
 * fuzz_sign: the canonical forms of sign.h fed with fuzzer-chosen keys and
 * values. The input is split at its NUL bytes into strings s0, s1, ...;
 * (s0, s1), (s2, s3), ... are query parameters and also request headers (an
 * odd last string gets a NULL value). Invariants:
 *   - sign_encode of the raw input: only A-Z a-z 0-9 - _ . ~ and %XX with
 *     uppercase hex, one escape per other byte, decoding back to the input;
 *   - sign_canonical_query: n "key=value" pairs joined by '&', encoded as
 *     above, sorted by the bytes of the encoded key then value, and decoding
 *     to exactly the input pairs (NULL as "");
 *   - sign_v3: succeeds whenever every header name has 1-127 bytes and there
 *     are at most 64 headers; SignedHeaders are lowercase, strictly sorted,
 *     only host, content-type and x-acs-*, one per distinct signed name; the
 *     canonical request has the documented layout; the hash, string to sign
 *     and Authorization agree with each other, and the signature equals an
 *     HMAC-SHA256 computed here with OpenSSL directly.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "credentials.h"
#include "fuzz.h"
#include "sign.h"

/* Enough pairs to exercise sorting and the 64-header cap; more add nothing. */
#define FUZZ_MAX_STRINGS 200

#define FUZZ_SECRET "fuzz-secret"
#define FUZZ_AK_ID  "fuzz-id"

static struct cred *cred;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FUZZ_CHECK(cred_new(FUZZ_AK_ID, FUZZ_SECRET, NULL, &cred) == 0);
	return 0;
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.' || c == '~';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lowercase hex is wrong here too */
}

/* Checks @len bytes of @enc are a well-formed encoding and decodes them into
 * a new NUL-terminated string (*ret_len bytes, NULs possible). */
static char *check_decode(const char *enc, size_t len, size_t *ret_len)
{
	char *out = malloc(len + 1);
	size_t i, o = 0;

	FUZZ_CHECK(out != NULL);
	for (i = 0; i < len; i++) {
		if (enc[i] != '%') {
			FUZZ_CHECK(is_unreserved((unsigned char)enc[i]));
			out[o++] = enc[i];
			continue;
		}
		FUZZ_CHECK(i + 2 < len);
		FUZZ_CHECK(hex_value(enc[i + 1]) >= 0 && hex_value(enc[i + 2]) >= 0);
		out[o] = (char)(hex_value(enc[i + 1]) << 4 | hex_value(enc[i + 2]));
		/* An escape only for bytes that may not stay literal. */
		FUZZ_CHECK(!is_unreserved((unsigned char)out[o]));
		o++;
		i += 2;
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

static void check_encode(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT;
	size_t len, dec_len;
	char *enc, *dec;

	sign_encode(&b, (const char *)data, size);
	enc = buf_steal(&b, &len);
	FUZZ_CHECK(enc != NULL);
	FUZZ_CHECK(strlen(enc) == len);
	dec = check_decode(enc, len, &dec_len);
	FUZZ_CHECK(dec_len == size && (size == 0 || memcmp(dec, data, size) == 0));
	free(dec);
	free(enc);
}

struct pair {
	const char *key;
	const char *value;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

static void check_query(const struct sign_param *params, size_t n)
{
	struct pair *want = calloc(n + 1, sizeof(*want)), *got = calloc(n + 1, sizeof(*got));
	const char *p, *prev_key = NULL, *prev_value = NULL;
	char *q = NULL;
	size_t i, count = 0;

	FUZZ_CHECK(want && got);
	FUZZ_CHECK(sign_canonical_query(params, n, &q) == 0);
	FUZZ_CHECK(n > 0 || q[0] == '\0');
	for (p = q; n > 0; p++) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		size_t key_len, value_len, dec_len;
		char *key, *value;

		FUZZ_CHECK(count < n);
		FUZZ_CHECK(eq != NULL);
		key = check_decode(p, (size_t)(eq - p), &dec_len);
		FUZZ_CHECK(dec_len == strlen(key)); /* keys are C strings: no %00 */
		value = check_decode(eq + 1, (size_t)(end - eq - 1), &dec_len);
		FUZZ_CHECK(dec_len == strlen(value));

		/* Sorted by the encoded bytes: compare the encoded key and value. */
		key_len = (size_t)(eq - p);
		value_len = (size_t)(end - eq - 1);
		if (prev_key) {
			size_t pk = (size_t)(prev_value - 1 - prev_key), pv = (size_t)(p - 1 - prev_value);
			size_t m = pk < key_len ? pk : key_len;
			int c = memcmp(prev_key, p, m);

			if (c == 0)
				c = (pk > key_len) - (pk < key_len);
			if (c == 0) {
				m = pv < value_len ? pv : value_len;
				c = memcmp(prev_value, eq + 1, m);
				if (c == 0)
					c = (pv > value_len) - (pv < value_len);
			}
			FUZZ_CHECK(c <= 0);
		}
		prev_key = p;
		prev_value = eq + 1;
		got[count].key = key;
		got[count].value = value;
		count++;
		if (!amp)
			break;
		p = amp;
	}
	FUZZ_CHECK(count == n);
	for (i = 0; i < n; i++) {
		want[i].key = params[i].key;
		want[i].value = params[i].value ? params[i].value : "";
	}
	qsort(want, n, sizeof(*want), pair_cmp);
	qsort(got, n, sizeof(*got), pair_cmp);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(pair_cmp(&want[i], &got[i]) == 0);
	for (i = 0; i < n; i++) {
		free((char *)got[i].key);
		free((char *)got[i].value);
	}
	free(got);
	free(want);
	free(q);
}

static bool is_signed_name(const char *lower)
{
	return strncmp(lower, "x-acs-", 6) == 0 || strcmp(lower, "host") == 0 ||
	       strcmp(lower, "content-type") == 0;
}

static char *lowercase_dup(const char *s)
{
	char *l = strdup(s), *p;

	FUZZ_CHECK(l != NULL);
	for (p = l; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return l;
}

/* How many distinct lowercase signed names @h holds. */
static size_t distinct_signed(const struct sign_header *h, size_t n)
{
	size_t i, j, count = 0;

	for (i = 0; i < n; i++) {
		char *li = lowercase_dup(h[i].name);
		bool seen = !is_signed_name(li);

		for (j = 0; j < i && !seen; j++) {
			char *lj = lowercase_dup(h[j].name);

			seen = strcmp(li, lj) == 0;
			free(lj);
		}
		count += !seen;
		free(li);
	}
	return count;
}

static void check_v3(const struct sign_header *h, size_t n, const char *query)
{
	struct sign_v3_request req = { "POST", "/", query, h, n, SIGN_EMPTY_SHA256 };
	char hashed[SIGN_SHA256_HEX_LEN + 1], *sts, *auth, *p;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t i, mac_len = 0, names = 0, lines = 0;
	bool names_ok = n <= 64, plain = true;
	struct sign_v3 s;
	int r, len;

	for (i = 0; i < n; i++) {
		size_t l = strlen(h[i].name);

		names_ok = names_ok && l > 0 && l < 128;
		plain = plain && !strpbrk(h[i].name, ";:\n") && !(h[i].value && strchr(h[i].value, '\n'));
	}
	r = sign_v3(&req, cred, &s);
	FUZZ_CHECK(r == 0 || (r == -EINVAL && !names_ok));
	if (r < 0)
		return;

	FUZZ_CHECK(sign_sha256_hex(s.canonical_request, strlen(s.canonical_request), hashed) == 0);
	FUZZ_CHECK(strcmp(hashed, s.hashed_canonical_request) == 0);
	len = asprintf(&sts, "ACS3-HMAC-SHA256\n%s", hashed);
	FUZZ_CHECK(len > 0 && strcmp(sts, s.string_to_sign) == 0);
	FUZZ_CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, FUZZ_SECRET, strlen(FUZZ_SECRET),
			     (const unsigned char *)sts, strlen(sts), mac, sizeof(mac), &mac_len) != NULL);
	FUZZ_CHECK(strlen(s.signature) == 2 * mac_len);
	for (i = 0; i < mac_len; i++) {
		char hex[3];

		snprintf(hex, sizeof(hex), "%02x", mac[i]);
		FUZZ_CHECK(memcmp(s.signature + 2 * i, hex, 2) == 0);
	}
	len = asprintf(&auth, "ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s", FUZZ_AK_ID,
		       s.signed_headers, s.signature);
	FUZZ_CHECK(len > 0 && strcmp(auth, s.authorization) == 0);
	free(auth);
	free(sts);

	/* The canonical request: method, URI, query, header lines, blank, names, hash. */
	len = asprintf(&sts, "POST\n/\n%s\n", query);
	FUZZ_CHECK(len > 0 && strncmp(s.canonical_request, sts, (size_t)len) == 0);
	p = s.canonical_request + len;
	free(sts);
	if (!plain)
		goto out_done; /* names or values that contain the separators */
	for (; *p != '\n'; lines++) {
		p = strchr(p, '\n');
		FUZZ_CHECK(p != NULL);
		p++;
	}
	p++;
	FUZZ_CHECK(strncmp(p, s.signed_headers, strlen(s.signed_headers)) == 0);
	p += strlen(s.signed_headers);
	FUZZ_CHECK(strcmp(p, "\n" SIGN_EMPTY_SHA256) == 0);

	/* SignedHeaders: lowercase, strictly increasing, signed kinds only. */
	if (s.signed_headers[0]) {
		char *copy = strdup(s.signed_headers), *save = NULL, *name, *prev = NULL;

		FUZZ_CHECK(copy != NULL);
		for (name = strtok_r(copy, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
			char *lower = lowercase_dup(name);

			FUZZ_CHECK(strcmp(lower, name) == 0);
			FUZZ_CHECK(is_signed_name(name));
			FUZZ_CHECK(!prev || strcmp(prev, name) < 0);
			free(lower);
			prev = name;
			names++;
		}
		free(copy);
	}
	FUZZ_CHECK(names == distinct_signed(h, n));
	FUZZ_CHECK(lines == names);
out_done:
	sign_v3_done(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = fuzz_strndup(data, size), *strs[FUZZ_MAX_STRINGS], *q = NULL;
	struct sign_param params[FUZZ_MAX_STRINGS / 2 + 1];
	struct sign_header headers[FUZZ_MAX_STRINGS / 2 + 1];
	size_t n = 0, off = 0, i, pairs;

	check_encode(data, size);

	while (off <= size && n < FUZZ_MAX_STRINGS) {
		strs[n++] = copy + off;
		off += strlen(copy + off) + 1;
	}
	if (size == 0)
		n = 0;
	pairs = (n + 1) / 2;
	for (i = 0; i < pairs; i++) {
		params[i].key = strs[2 * i];
		params[i].value = 2 * i + 1 < n ? strs[2 * i + 1] : NULL;
		headers[i].name = params[i].key;
		headers[i].value = params[i].value;
	}
	check_query(params, pairs);
	FUZZ_CHECK(sign_canonical_query(params, pairs, &q) == 0);
	check_v3(headers, pairs, q);
	free(q);
	free(copy);
	return 0;
}
