// SPDX-License-Identifier: MIT
/*
 * ratelimit: per-action GCRA buckets (see ratelimit.h). For a rate of one
 * call per T ms and a burst of B, the bucket stores the theoretical arrival
 * time (tat) of the next call; a call at time now may go at
 * max(tat, now) - (B - 1) * T, and moves tat on by T. A reservation is final:
 * the caller owns the slot even if it then decides not to send.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cancel.h"
#include "ratelimit.h"

struct bucket {
	const char *action;
	uint64_t interval_ms; /* T: one call per interval */
	uint64_t burst;	      /* B */
	uint64_t tat;	      /* protected by ratelimit->lock */
	bool started;	      /* protected by ratelimit->lock: tat is meaningful */
};

/* The published limits; everything else is unlimited. */
static const struct bucket limits[] = {
	{ "ListRegions", 60000 / RATELIMIT_LIST_PER_MINUTE, RATELIMIT_LIST_BURST, 0, false },
	{ "ListInstances", 60000 / RATELIMIT_LIST_PER_MINUTE, RATELIMIT_LIST_BURST, 0, false },
};

#define BUCKETS (sizeof(limits) / sizeof(limits[0]))

struct ratelimit {
	pthread_mutex_t lock;
	struct ratelimit_clock clock;
	struct cancel *cancel;		/* borrowed, may be NULL */
	struct bucket buckets[BUCKETS]; /* tat/started protected by lock */
};

static uint64_t mono_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* @ctx is the limiter: its cancel switch ends the sleep at once. */
static void mono_sleep_ms(void *ctx, uint64_t ms)
{
	struct ratelimit *rl = ctx;

	(void)cancel_sleep_ms(rl->cancel, ms);
}

int ratelimit_new(const struct ratelimit_clock *clock, struct cancel *cancel, struct ratelimit **ret)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return -ENOMEM;
	if (pthread_mutex_init(&rl->lock, NULL) != 0) {
		free(rl);
		return -ENOMEM;
	}
	if (clock) {
		rl->clock = *clock;
	} else {
		rl->clock.now_ms = mono_now_ms;
		rl->clock.sleep_ms = mono_sleep_ms;
		rl->clock.ctx = rl;
	}
	rl->cancel = cancel;
	memcpy(rl->buckets, limits, sizeof(limits));
	*ret = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

uint64_t ratelimit_now_ms(struct ratelimit *rl)
{
	return rl->clock.now_ms(rl->clock.ctx);
}

static struct bucket *bucket_for(struct ratelimit *rl, const char *action)
{
	size_t i;

	for (i = 0; i < BUCKETS; i++)
		if (strcmp(rl->buckets[i].action, action) == 0)
			return &rl->buckets[i];
	return NULL;
}

int ratelimit_reserve(struct ratelimit *rl, const char *action, uint64_t deadline_ms, uint64_t *ret_wait_ms)
{
	struct bucket *b = bucket_for(rl, action);
	uint64_t now, tat, tolerance, go;
	int r = 0;

	*ret_wait_ms = 0;
	if (!b)
		return 0;
	now = ratelimit_now_ms(rl);
	tolerance = (b->burst - 1) * b->interval_ms;

	pthread_mutex_lock(&rl->lock);
	tat = b->started && b->tat > now ? b->tat : now;
	go = tat > now + tolerance ? tat - tolerance : now;
	*ret_wait_ms = go - now;
	if (deadline_ms && go > deadline_ms) {
		r = -ETIMEDOUT;
		goto out_unlock;
	}
	b->tat = tat + b->interval_ms;
	b->started = true;
out_unlock:
	pthread_mutex_unlock(&rl->lock);
	return r;
}

int ratelimit_acquire(struct ratelimit *rl, const char *action, uint64_t deadline_ms)
{
	uint64_t wait = 0, until, now;
	int r;

	if (cancel_is_set(rl->cancel))
		return -ECANCELED;
	r = ratelimit_reserve(rl, action, deadline_ms, &wait);
	if (r < 0 || wait == 0)
		return r;
	until = ratelimit_now_ms(rl) + wait;
	/* The slot is ours; sleep (unlocked) until it, however often woken.
	 * A cancelled wait leaves the slot reserved: nothing will use it. */
	while ((now = ratelimit_now_ms(rl)) < until) {
		if (cancel_is_set(rl->cancel))
			return -ECANCELED;
		rl->clock.sleep_ms(rl->clock.ctx, until - now);
	}
	return cancel_is_set(rl->cancel) ? -ECANCELED : 0;
}
