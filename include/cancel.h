/* SPDX-License-Identifier: MIT */
/*
 * cancel: a one-way "stop now" switch for a whole client, so that shutdown
 * never waits for the server. Once set it stays set: every sleep taken
 * through it returns at once, and the code that polls it (curl's progress
 * callback in http.c, the limiter in ratelimit.c, the retry loop in api.c)
 * gives up with -ECANCELED.
 *
 * The switch is an atomic flag plus an eventfd that becomes readable when the
 * flag is set; sleepers poll() the eventfd with their timeout, so they wake
 * the moment it is set instead of at the end of a nanosleep (the limiter can
 * otherwise sleep for minutes).
 *
 * Ownership: cancel_new() returns an object freed with cancel_free().
 * Thread-safety: cancel_set() is async-signal-safe (one atomic exchange and
 * one write(2)) and may be called from any thread or a signal handler;
 * cancel_is_set() and cancel_sleep_ms() from any thread at once.
 */
#ifndef SWASFS_CANCEL_H
#define SWASFS_CANCEL_H

#include <stdbool.h>
#include <stdint.h>

struct cancel;

/* Returns 0 and *ret (free with cancel_free()), -ENOMEM or -EMFILE. Creates a
 * file descriptor (close-on-exec) and no thread: safe before fork. */
int cancel_new(struct cancel **ret);
/* Accepts NULL; nobody may be sleeping on it. */
void cancel_free(struct cancel *c);

/* Sets the switch and wakes every sleeper. Idempotent, async-signal-safe.
 * Accepts NULL (does nothing). */
void cancel_set(struct cancel *c);

/* True once cancel_set() was called. Accepts NULL (false). */
bool cancel_is_set(const struct cancel *c);

/* Sleeps @ms milliseconds of CLOCK_MONOTONIC, signals notwithstanding.
 * Returns 0, or -ECANCELED at once if the switch is or becomes set.
 * With @c NULL it is a plain uncancellable sleep. */
int cancel_sleep_ms(struct cancel *c, uint64_t ms);

#endif
