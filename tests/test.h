/* SPDX-License-Identifier: MIT */
/*
 * test.h: a tiny libuv-style harness for the unit tests. Each ASSERT_* prints
 * both operands and file:line on failure and aborts the test program with
 * exit status 1; exit status 77 tells meson the test was skipped.
 *
 * Usage: write `static void test_x(void)` functions and list them in
 * TEST_MAIN(test_x, test_y); RUN prints each name as it starts.
 */
#ifndef SWASFS_TEST_H
#define SWASFS_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_SKIP 77

#define TEST_FAIL_HERE(...)                                                       \
	do {                                                                      \
		fprintf(stderr, "%s:%d: assertion failed: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                                     \
		fputc('\n', stderr);                                              \
		exit(1);                                                          \
	} while (0)

#define ASSERT_TRUE(expr)                                     \
	do {                                                  \
		if (!(expr))                                  \
			TEST_FAIL_HERE("%s is false", #expr); \
	} while (0)

#define ASSERT_EQ_INT(a, b)                                                       \
	do {                                                                      \
		long long a_ = (long long)(a), b_ = (long long)(b);               \
		if (a_ != b_)                                                     \
			TEST_FAIL_HERE("%s == %s: %lld != %lld", #a, #b, a_, b_); \
	} while (0)

#define ASSERT_EQ_STR(a, b)                                                                         \
	do {                                                                                        \
		const char *a_ = (a), *b_ = (b);                                                    \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                              \
			TEST_FAIL_HERE("%s == %s:\n  got:      \"%s\"\n  expected: \"%s\"", #a, #b, \
				       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
	} while (0)

#define ASSERT_EQ_MEM(a, alen, b, blen)                                                                     \
	do {                                                                                                \
		const void *a_ = (a), *b_ = (b);                                                            \
		size_t al_ = (alen), bl_ = (blen);                                                          \
		if (al_ != bl_ || (al_ && memcmp(a_, b_, al_) != 0)) {                                      \
			fprintf(stderr, "%s:%d: assertion failed: %s == %s\n", __FILE__, __LINE__, #a, #b); \
			test_dump_mem("got", a_, al_);                                                      \
			test_dump_mem("expected", b_, bl_);                                                 \
			exit(1);                                                                            \
		}                                                                                           \
	} while (0)

static inline void test_dump_mem(const char *label, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	fprintf(stderr, "  %s (%zu bytes): ", label, len);
	for (i = 0; i < len && i < 256; i++) {
		if (s[i] >= 32 && s[i] < 127 && s[i] != '\\')
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fputc('\n', stderr);
}

#define RUN(fn)                                 \
	do {                                    \
		fprintf(stderr, "# %s\n", #fn); \
		fn();                           \
	} while (0)

#endif
