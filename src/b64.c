// SPDX-License-Identifier: MIT
/*
 * b64: strict RFC 4648 base64 with optional final padding (see b64.h for the
 * exact acceptance rules). Table-driven, no locale, no allocation beyond the
 * result.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "b64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, -1 for everything else ('=' included). */
static int value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_encode(const void *data, size_t len, char **ret, size_t *ret_len)
{
	const unsigned char *in = data;
	size_t groups, out_len, i, o = 0;
	char *out;

	groups = len / 3 + (len % 3 != 0);
	if (groups > (SIZE_MAX - 1) / 4)
		return -EOVERFLOW;
	out_len = groups * 4;
	out = malloc(out_len + 1);
	if (!out)
		return -ENOMEM;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	*ret = out;
	if (ret_len)
		*ret_len = o;
	return 0;
}

int b64_decode(const char *s, size_t len, unsigned char **ret, size_t *ret_len)
{
	size_t data_len = len, tail, out_cap, i, o = 0;
	unsigned char *out;
	int r = -EINVAL;

	/* Padding: at most two '=' and only where a complete group ends. */
	if (data_len > 0 && s[data_len - 1] == '=') {
		data_len--;
		if (data_len > 0 && s[data_len - 1] == '=')
			data_len--;
		if (len % 4 != 0)
			return -EINVAL;
	}
	tail = data_len % 4;
	if (tail == 1)
		return -EINVAL;
	/* With padding present, it must fill exactly the missing characters. */
	if (data_len != len && (tail == 0 || len - data_len != 4 - tail))
		return -EINVAL;

	out_cap = data_len / 4 * 3 + (tail ? tail - 1 : 0);
	out = malloc(out_cap + 1);
	if (!out)
		return -ENOMEM;

	for (i = 0; i + 4 <= data_len; i += 4) {
		int a = value_of((unsigned char)s[i]), b = value_of((unsigned char)s[i + 1]);
		int c = value_of((unsigned char)s[i + 2]), d = value_of((unsigned char)s[i + 3]);
		uint32_t v;

		if ((a | b | c | d) < 0)
			goto out_free;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	if (tail) {
		int a = value_of((unsigned char)s[i]), b = value_of((unsigned char)s[i + 1]);
		int c = tail == 3 ? value_of((unsigned char)s[i + 2]) : 0;
		uint32_t v;

		if ((a | b | c) < 0)
			goto out_free;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
		/* Bits beyond the last whole byte must be zero (one meaning per input). */
		if (tail == 2 && (v & 0xffff))
			goto out_free;
		if (tail == 3 && (v & 0xff))
			goto out_free;
		out[o++] = (unsigned char)(v >> 16);
		if (tail == 3)
			out[o++] = (unsigned char)(v >> 8);
	}
	out[o] = '\0';
	*ret = out;
	if (ret_len)
		*ret_len = o;
	return 0;
out_free:
	free(out);
	return r;
}
