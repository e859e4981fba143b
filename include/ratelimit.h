/* SPDX-License-Identifier: MIT */
/*
 * ratelimit: the client-side limiter for the published per-account API
 * limits, shared by every thread of a mount, so that a tree walk slows down
 * instead of being throttled (README "Caching").
 *
 * Limits (SWAS "QPS limits"): ListRegions and ListInstances, 10 calls a
 * minute per account, burst 10. Every other action is unlimited here.
 *
 * Each limited action is a token bucket kept as a GCRA "theoretical arrival
 * time": a caller reserves the next free slot under the mutex and then sleeps
 * until it, outside the lock, so waiters are served in arrival order and
 * nobody holds the lock while waiting.
 *
 * The clock is injectable (struct ratelimit_clock) so unit tests move time by
 * hand; the default is CLOCK_MONOTONIC and a sleep that a cancel switch
 * (cancel.h) ends at once: a wait here can last minutes, and shutdown must not.
 *
 * Ownership: ratelimit_new() returns an object freed with ratelimit_free().
 * Thread-safety: every function but ratelimit_free() may be called from any
 * thread at once.
 */
#ifndef SWASFS_RATELIMIT_H
#define SWASFS_RATELIMIT_H

#include <stdint.h>

struct cancel;
struct ratelimit;

#define RATELIMIT_LIST_PER_MINUTE 10 /* ListRegions, ListInstances: "10 calls per minute" */
#define RATELIMIT_LIST_BURST	  10

struct ratelimit_clock {
	uint64_t (*now_ms)(void *ctx);		  /* monotonic milliseconds */
	void (*sleep_ms)(void *ctx, uint64_t ms); /* may return early (EINTR): callers re-check */
	void *ctx;
};

/* @clock is copied; NULL means CLOCK_MONOTONIC and a sleep on @cancel.
 * @cancel (borrowed, may be NULL, must outlive the limiter) makes waiting
 * acquires return -ECANCELED; with an injected clock it is checked each time
 * sleep_ms returns. Returns 0 and *ret (free with ratelimit_free()) or -ENOMEM. */
int ratelimit_new(const struct ratelimit_clock *clock, struct cancel *cancel, struct ratelimit **ret);
/* Accepts NULL. */
void ratelimit_free(struct ratelimit *rl);

/* The limiter's clock, in milliseconds. */
uint64_t ratelimit_now_ms(struct ratelimit *rl);

/* Reserves the next slot for @action and says how long to wait before using
 * it (*ret_wait_ms, 0 = now; unlimited actions always get 0). If the slot
 * would start after @deadline_ms (0 = no deadline), nothing is reserved and
 * -ETIMEDOUT is returned with the wait it would have needed. */
int ratelimit_reserve(struct ratelimit *rl, const char *action, uint64_t deadline_ms, uint64_t *ret_wait_ms);

/* ratelimit_reserve(), then sleeps until the slot. Returns 0, -ETIMEDOUT, or
 * -ECANCELED as soon as the cancel switch is set (before or while waiting). */
int ratelimit_acquire(struct ratelimit *rl, const char *action, uint64_t deadline_ms);

#endif
