/* SPDX-License-Identifier: MIT */
/*
 * buf: a growable byte buffer that is always NUL-terminated.
 *
 * Appends never fail loudly: after the first allocation failure, or once the
 * buffer would exceed its cap, the buffer is marked failed, later appends are
 * ignored, and buf_failed() says so. That keeps builders (canonical requests,
 * URLs, rendered files) free of per-call error checks: build, then check once.
 *
 * Ownership: the buffer owns data; buf_done() frees it, buf_steal() hands it to
 * the caller (free with free()). Thread-safety: none; one owner at a time.
 */
#ifndef SWASFS_BUF_H
#define SWASFS_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;  /* allocated bytes */
	size_t max;  /* 0 = no cap; else appends beyond max bytes fail */
	bool failed; /* out of memory or over max */
};

#define BUF_INIT                     \
	{                            \
		NULL, 0, 0, 0, false \
	}

void buf_init(struct buf *b, size_t max);
void buf_done(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps memory and failed = false */
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...);
bool buf_failed(const struct buf *b);
/* Returns the data (never NULL: "" for an empty buffer, caller frees) and
 * leaves @b empty; NULL if the buffer failed (and @b is then reset). */
char *buf_steal(struct buf *b, size_t *ret_len);

#endif
