// SPDX-License-Identifier: MIT
/*
 * test_b64: RFC 4648 vectors both ways, the padding policy (optional final
 * padding, never misplaced), invalid characters, non-canonical trailing bits,
 * and a binary round trip of every length up to 300.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "test.h"

static void ok(const char *in, const void *expect, size_t expect_len)
{
	unsigned char *out = NULL;
	size_t len = 0;

	ASSERT_EQ_INT(b64_decode(in, strlen(in), &out, &len), 0);
	ASSERT_EQ_MEM(out, len, expect, expect_len);
	ASSERT_EQ_INT(out[len], '\0');
	free(out);
}

static void bad(const char *in, size_t len)
{
	unsigned char *out = (unsigned char *)"untouched";

	ASSERT_EQ_INT(b64_decode(in, len, &out, NULL), -EINVAL);
	ASSERT_EQ_STR((char *)out, "untouched");
}

static void test_rfc4648_vectors(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	size_t i;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		char *e = NULL;
		size_t len = 0;

		ASSERT_EQ_INT(b64_encode(plain[i], strlen(plain[i]), &e, &len), 0);
		ASSERT_EQ_STR(e, enc[i]);
		ASSERT_EQ_INT(len, strlen(enc[i]));
		free(e);
		ok(enc[i], plain[i], strlen(plain[i]));
	}
	/* The Output example of contrib/docs/api.md §3. */
	ok("YWRtaW4K", "admin\n", 6);
}

static void test_missing_padding_is_tolerated(void)
{
	ok("Zg", "f", 1);
	ok("Zm8", "fo", 2);
	ok("Zm9vYg", "foob", 4);
}

static void test_bad_padding(void)
{
	bad("=", 1);
	bad("==", 2);
	bad("====", 4);
	bad("Zg=", 3); /* partial padding */
	bad("Zg===", 5);
	bad("Zm9v=", 5); /* padding after a full group */
	bad("Z===", 4);
	bad("Zg==Zg==", 8); /* padding in the middle */
	bad("Z", 1);	    /* a lone final character */
	bad("Zm9vY", 5);
}

static void test_invalid_characters(void)
{
	bad("Zm9v\n", 5);
	bad(" Zm9v", 5);
	bad("Zm-v", 4); /* URL-safe alphabet */
	bad("Zm_v", 4);
	bad("Zm9\xc3", 4);
	bad("Zm\0v", 4); /* NUL inside */
	bad("Zm9v*A==", 8);
}

static void test_noncanonical_bits_rejected(void)
{
	bad("Zh==", 4); /* 'h' leaves non-zero bits */
	bad("Zm9=", 4);
	ok("Zg==", "f", 1);
}

static void test_binary_round_trip(void)
{
	unsigned char data[300];
	size_t n, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 151 + 7);
	for (n = 0; n <= sizeof(data); n++) {
		unsigned char *back = NULL;
		size_t back_len = 0, enc_len = 0;
		char *enc = NULL;

		ASSERT_EQ_INT(b64_encode(data, n, &enc, &enc_len), 0);
		ASSERT_EQ_INT(enc_len, (n + 2) / 3 * 4);
		ASSERT_EQ_INT(b64_decode(enc, enc_len, &back, &back_len), 0);
		ASSERT_EQ_MEM(back, back_len, data, n);
		free(enc);
		free(back);
	}
}

int main(void)
{
	RUN(test_rfc4648_vectors);
	RUN(test_missing_padding_is_tolerated);
	RUN(test_bad_padding);
	RUN(test_invalid_characters);
	RUN(test_noncanonical_bits_rejected);
	RUN(test_binary_round_trip);
	return 0;
}
