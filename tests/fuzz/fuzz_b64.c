// SPDX-License-Identifier: MIT
/*
 * fuzz_b64: base64 (b64.h), which decodes CommandContent and Output straight
 * from API bodies. Each input is used twice:
 *   - as text to decode: decoding either fails with -EINVAL or yields bytes
 *     (NUL-terminated past their length) that encode back to exactly the
 *     input, padded to a multiple of 4 with '=' (b64.h: one meaning per
 *     accepted input);
 *   - as bytes to encode: the text has 4*ceil(n/3) characters of the
 *     alphabet plus padding, and decodes to the input, with and without its
 *     padding.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "fuzz.h"

static bool is_alphabet(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

static void check_decode(const char *s, size_t len)
{
	unsigned char *d = NULL;
	char *e = NULL;
	size_t d_len = 0, e_len = 0, padded = len + (4 - len % 4) % 4, i;
	int r;

	r = b64_decode(s, len, &d, &d_len);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0)
		return;
	FUZZ_CHECK(d[d_len] == '\0');
	FUZZ_CHECK(d_len == len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) || s[len - 1] == '=');
	FUZZ_CHECK(b64_encode(d, d_len, &e, &e_len) == 0);
	FUZZ_CHECK(e_len == padded);
	FUZZ_CHECK(memcmp(e, s, len) == 0);
	for (i = len; i < padded; i++)
		FUZZ_CHECK(e[i] == '=');
	free(e);
	free(d);
}

static void check_encode(const uint8_t *data, size_t size)
{
	unsigned char *d = NULL;
	size_t e_len = 0, d_len = 0, bare, i;
	char *e = NULL;

	FUZZ_CHECK(b64_encode(data, size, &e, &e_len) == 0);
	FUZZ_CHECK(e_len == (size + 2) / 3 * 4);
	FUZZ_CHECK(strlen(e) == e_len);
	bare = e_len;
	while (bare > 0 && e[bare - 1] == '=')
		bare--;
	FUZZ_CHECK(e_len - bare == (3 - size % 3) % 3);
	for (i = 0; i < bare; i++)
		FUZZ_CHECK(is_alphabet(e[i]));

	FUZZ_CHECK(b64_decode(e, e_len, &d, &d_len) == 0);
	FUZZ_CHECK(d_len == size && (size == 0 || memcmp(d, data, size) == 0));
	free(d);
	/* The same without padding, as the API may send it. */
	FUZZ_CHECK(b64_decode(e, bare, &d, &d_len) == 0);
	FUZZ_CHECK(d_len == size && (size == 0 || memcmp(d, data, size) == 0));
	free(d);
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches any read past the end. */
	char *s = malloc(size ? size : 1);

	FUZZ_CHECK(s != NULL);
	if (size)
		memcpy(s, data, size);
	check_decode(s, size);
	free(s);
	check_encode(data, size);
	return 0;
}
