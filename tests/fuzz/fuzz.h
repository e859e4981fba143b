/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h: what every libFuzzer harness in tests/fuzz/ shares. FUZZ_CHECK
 * states an invariant of the code under test; when it does not hold it names
 * the condition and file:line on stderr and aborts, which libFuzzer reports
 * as a crash and saves the input that caused it.
 *
 * Thread-safety: libFuzzer runs a harness on one thread; so do these helpers.
 */
#ifndef SWASFS_FUZZ_H
#define SWASFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(expr)                                                                             \
	do {                                                                                         \
		if (!(expr)) {                                                                       \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #expr); \
			abort();                                                                     \
		}                                                                                    \
	} while (0)

/* libFuzzer's entry point; each harness defines it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of @size bytes of @data (which may hold NULs), so a
 * harness can hand C-string APIs exactly the fuzzer's bytes and ASan sees any
 * read past them. Caller frees; aborts on ENOMEM (a harness cannot go on). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A string of @size bytes, terminated within its array: strnlen < size. */
static inline int fuzz_is_terminated(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

#endif
