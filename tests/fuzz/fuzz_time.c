// SPDX-License-Identifier: MIT
/*
 * fuzz_time: swas_parse_time (swas.h), which reads CreationTime, StartTime and
 * FinishedTime from API bodies, against sign_timestamp (sign.h), which writes
 * the same "yyyy-MM-ddTHH:mm:ssZ" form. Invariants:
 *   - an accepted text whose time sign_timestamp can print (years 1000-9999)
 *     prints canonically and parses back to the same time (no lossy or
 *     wrapping result);
 *   - a canonical text (4-digit year from 1000, real calendar date, seconds
 *     0-59) round-trips exactly: print(parse(s)) == s;
 *   - the first 8 input bytes as a time_t: sign_timestamp either refuses it
 *     or prints exactly 20 canonical characters that parse back to it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "sign.h"
#include "swas.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int num(const char *s, size_t n)
{
	int v = 0;

	while (n--)
		v = v * 10 + (*s++ - '0');
	return v;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "yyyy-MM-ddTHH:mm:ssZ" with every field in range: the one spelling of a time. */
static bool is_canonical(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	int y, mo, d;
	size_t i;

	if (strlen(s) != SIGN_TIMESTAMP_LEN)
		return false;
	for (i = 0; i < SIGN_TIMESTAMP_LEN; i++)
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return false;
	y = num(s, 4);
	mo = num(s + 5, 2);
	d = num(s + 8, 2);
	if (y < 1000 || mo < 1 || mo > 12 || d < 1)
		return false;
	if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return false;
	return num(s + 11, 2) < 24 && num(s + 14, 2) < 60 && num(s + 17, 2) < 60;
}

static void check_text(const char *s)
{
	char out[SIGN_TIMESTAMP_LEN + 1];
	time_t t = swas_parse_time(s);

	if (is_canonical(s) && strcmp(s, "1970-01-01T00:00:00Z") != 0) {
		FUZZ_CHECK(t != 0);
		FUZZ_CHECK(sign_timestamp(t, out) == 0);
		FUZZ_CHECK(strcmp(out, s) == 0);
	}
	if (t == 0 || sign_timestamp(t, out) < 0)
		return;
	FUZZ_CHECK(is_canonical(out));
	FUZZ_CHECK(swas_parse_time(out) == t);
}

static void check_time(time_t t)
{
	char out[SIGN_TIMESTAMP_LEN + 1];

	memset(out, 'x', sizeof(out));
	if (sign_timestamp(t, out) < 0)
		return;
	FUZZ_CHECK(is_canonical(out));
	FUZZ_CHECK(swas_parse_time(out) == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	int64_t t;

	check_text(s);
	free(s);
	if (size >= sizeof(t)) {
		memcpy(&t, data, sizeof(t));
		check_time((time_t)t);
	}
	return 0;
}
