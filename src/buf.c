// SPDX-License-Identifier: MIT
/*
 * buf: growable NUL-terminated byte buffer with a sticky failure flag (see
 * buf.h). Growth doubles the allocation; a cap (max) turns an oversized
 * result into a failure instead of unbounded memory use.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* First allocation; small strings (headers, query parts) fit without regrowth. */
#define BUF_MIN_ALLOC 64

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->failed = false;
}

void buf_done(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	b->failed = false;
}

bool buf_failed(const struct buf *b)
{
	return b->failed;
}

/* Makes room for @extra more bytes plus the NUL; false (and failed) if not. */
static bool buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return false;
	if (extra > SIZE_MAX - b->len - 1)
		goto out_fail;
	need = b->len + extra;
	if (b->max && need > b->max)
		goto out_fail;
	if (need + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : BUF_MIN_ALLOC;
	while (cap < need + 1) {
		if (cap > SIZE_MAX / 2) {
			cap = need + 1;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p)
		goto out_fail;
	b->data = p;
	b->cap = cap;
	return true;
out_fail:
	b->failed = true;
	return false;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	if (!buf_grow(b, len))
		return;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	/* Room for the NUL so vsnprintf can write in place when it fits. */
	if (!buf_grow(b, 0))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!buf_grow(b, (size_t)n))
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
	}
	if (b->max && b->len + (size_t)n > b->max) {
		b->data[b->len] = '\0';
		b->failed = true;
		return;
	}
	b->len += (size_t)n;
}

char *buf_steal(struct buf *b, size_t *ret_len)
{
	char *p;

	if (b->failed) {
		buf_done(b);
		b->failed = false;
		return NULL;
	}
	if (!b->data) {
		p = strdup("");
		if (!p)
			return NULL;
	} else {
		p = b->data;
	}
	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
