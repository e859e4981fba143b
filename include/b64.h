/* SPDX-License-Identifier: MIT */
/*
 * b64: base64 (RFC 4648 §4, the standard alphabet) for CommandContent and
 * Output, which the API sends base64-encoded, and for V1 signatures.
 *
 * Decoding is strict about content and lenient about padding only: every
 * character must be in the alphabet (no whitespace, no URL-safe "-_"), "="
 * may appear only as the last one or two characters of a 4-character group,
 * and a final group may omit its padding ("YQ" decodes like "YQ=="). A lone
 * final character (length % 4 == 1) and non-zero bits left over in the final
 * group are rejected, so every accepted input has exactly one meaning.
 *
 * Ownership: results are malloc'ed; the caller frees them with free().
 * Thread-safety: pure functions, safe from any thread.
 */
#ifndef SWASFS_B64_H
#define SWASFS_B64_H

#include <stddef.h>

/* Encodes @len bytes with padding. Returns 0 and *ret (NUL-terminated, caller
 * frees) and *ret_len (may be NULL), or -ENOMEM / -EOVERFLOW. */
int b64_encode(const void *data, size_t len, char **ret, size_t *ret_len);

/* Decodes @len characters of @s (NUL bytes inside are invalid). Returns 0 and
 * *ret (the bytes plus a NUL terminator not counted in *ret_len; caller
 * frees), -EINVAL for anything that is not base64 as described above, or
 * -ENOMEM. */
int b64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_len);

#endif
