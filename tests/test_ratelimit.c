// SPDX-License-Identifier: MIT
/*
 * test_ratelimit: with a fake clock, ListInstances gets a burst of 10 and
 * then one call every 6 s, reservations queue in order, deadlines reserve
 * nothing, unlimited actions never wait, and buckets refill while idle. With
 * the real clock, a cancel switch ends a wait of several seconds at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "cancel.h"
#include "ratelimit.h"
#include "test.h"

struct fake_clock {
	uint64_t now;
	unsigned sleeps;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

static void fake_sleep(void *ctx, uint64_t ms)
{
	struct fake_clock *fc = ctx;

	fc->now += ms;
	fc->sleeps++;
}

static struct ratelimit *make(struct fake_clock *fc)
{
	struct ratelimit_clock clock = { fake_now, fake_sleep, fc };
	struct ratelimit *rl = NULL;

	ASSERT_EQ_INT(ratelimit_new(&clock, NULL, &rl), 0);
	return rl;
}

static void test_burst_then_one_per_six_seconds(void)
{
	struct fake_clock fc = { 1000000, 0 };
	struct ratelimit *rl = make(&fc);
	uint64_t wait = 0;
	int i;

	for (i = 0; i < RATELIMIT_LIST_BURST; i++) {
		ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
		ASSERT_EQ_INT(wait, 0);
	}
	/* The 11th and 12th queue behind each other. */
	ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
	ASSERT_EQ_INT(wait, 6000);
	ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
	ASSERT_EQ_INT(wait, 12000);
	/* Another action has its own bucket. */
	ASSERT_EQ_INT(ratelimit_reserve(rl, "ListRegions", 0, &wait), 0);
	ASSERT_EQ_INT(wait, 0);
	ratelimit_free(rl);
}

static void test_unlimited_actions_never_wait(void)
{
	struct fake_clock fc = { 5, 0 };
	struct ratelimit *rl = make(&fc);
	uint64_t wait = 1;
	int i;

	for (i = 0; i < 1000; i++) {
		ASSERT_EQ_INT(ratelimit_reserve(rl, "DescribeInvocations", 0, &wait), 0);
		ASSERT_EQ_INT(wait, 0);
	}
	ASSERT_EQ_INT(ratelimit_acquire(rl, "DescribeInvocationResult", 1), 0);
	ASSERT_EQ_INT(fc.sleeps, 0);
	ratelimit_free(rl);
}

static void test_deadline_reserves_nothing(void)
{
	struct fake_clock fc = { 0, 0 };
	struct ratelimit *rl = make(&fc);
	uint64_t wait = 0;
	int i;

	for (i = 0; i < RATELIMIT_LIST_BURST; i++)
		ASSERT_EQ_INT(ratelimit_reserve(rl, "ListRegions", 0, &wait), 0);
	ASSERT_EQ_INT(ratelimit_reserve(rl, "ListRegions", fc.now + 5999, &wait), -ETIMEDOUT);
	ASSERT_EQ_INT(wait, 6000);
	/* Nothing was taken: the next caller still gets the 6 s slot. */
	ASSERT_EQ_INT(ratelimit_reserve(rl, "ListRegions", fc.now + 6000, &wait), 0);
	ASSERT_EQ_INT(wait, 6000);
	ratelimit_free(rl);
}

static void test_acquire_sleeps_until_slot(void)
{
	struct fake_clock fc = { 0, 0 };
	struct ratelimit *rl = make(&fc);
	int i;

	for (i = 0; i < RATELIMIT_LIST_BURST; i++)
		ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), 0);
	ASSERT_EQ_INT(fc.now, 0);
	ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), 0);
	ASSERT_EQ_INT(fc.now, 6000);
	ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), 0);
	ASSERT_EQ_INT(fc.now, 12000);
	ratelimit_free(rl);
}

static void test_idle_refills_up_to_burst(void)
{
	struct fake_clock fc = { 0, 0 };
	struct ratelimit *rl = make(&fc);
	uint64_t wait = 0;
	int i;

	for (i = 0; i < RATELIMIT_LIST_BURST; i++)
		ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
	fc.now += 18000; /* three slots back */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
		ASSERT_EQ_INT(wait, 0);
	}
	ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
	ASSERT_EQ_INT(wait, 6000);
	/* A long idle never banks more than the burst. */
	fc.now += 3600000;
	for (i = 0; i < RATELIMIT_LIST_BURST; i++) {
		ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
		ASSERT_EQ_INT(wait, 0);
	}
	ASSERT_EQ_INT(ratelimit_reserve(rl, "ListInstances", 0, &wait), 0);
	ASSERT_EQ_INT(wait, 6000);
	ratelimit_free(rl);
}

/* Many threads on the real clock: reservations are unique, waits distinct. */
struct race {
	struct ratelimit *rl;
	uint64_t waits[4];
};

static void *reserver(void *arg)
{
	struct race *rc = arg;
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ_INT(ratelimit_reserve(rc->rl, "ListRegions", 0, &rc->waits[i]), 0);
	return NULL;
}

static void test_threads_share_one_bucket(void)
{
	struct race rc[5];
	pthread_t t[5];
	struct ratelimit *rl = NULL;
	unsigned zero = 0;
	int i, j;

	ASSERT_EQ_INT(ratelimit_new(NULL, NULL, &rl), 0);
	for (i = 0; i < 5; i++) {
		rc[i].rl = rl;
		ASSERT_EQ_INT(pthread_create(&t[i], NULL, reserver, &rc[i]), 0);
	}
	for (i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 5; i++)
		for (j = 0; j < 4; j++)
			zero += rc[i].waits[j] == 0;
	/* 20 reservations: exactly the burst go at once (the clock barely moves). */
	ASSERT_EQ_INT(zero, RATELIMIT_LIST_BURST);
	ratelimit_free(rl);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct canceller {
	struct cancel *cancel;
	unsigned after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *cl = arg;
	struct timespec ts = { 0, (long)cl->after_ms * 1000000L };

	nanosleep(&ts, NULL);
	cancel_set(cl->cancel);
	return NULL;
}

/* The 11th ListInstances call would wait 6 s; a cancel 200 ms in ends it. */
static void test_cancel_ends_a_wait_at_once(void)
{
	struct canceller cl = { NULL, 200 };
	struct ratelimit *rl = NULL;
	uint64_t t0, took;
	pthread_t t;
	int i;

	ASSERT_EQ_INT(cancel_new(&cl.cancel), 0);
	ASSERT_EQ_INT(ratelimit_new(NULL, cl.cancel, &rl), 0);
	for (i = 0; i < RATELIMIT_LIST_BURST; i++)
		ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), 0);
	t0 = mono_ms();
	ASSERT_EQ_INT(pthread_create(&t, NULL, cancel_later, &cl), 0);
	ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), -ECANCELED);
	took = mono_ms() - t0;
	pthread_join(t, NULL);
	/* Generous: the point is "not the 6 s the slot was away". */
	ASSERT_TRUE(took >= 150 && took < 3000);
	/* Once set, every acquire fails at once, even one that would not wait. */
	ASSERT_EQ_INT(ratelimit_acquire(rl, "DescribeInvocations", 0), -ECANCELED);
	ASSERT_EQ_INT(cancel_sleep_ms(cl.cancel, 60000), -ECANCELED);
	ratelimit_free(rl);
	cancel_free(cl.cancel);
}

/* An injected clock's sleep is followed by a check of the switch. */
static void test_cancel_with_fake_clock(void)
{
	struct fake_clock fc = { 1000000, 0 };
	struct ratelimit_clock clock = { fake_now, fake_sleep, &fc };
	struct ratelimit *rl = NULL;
	struct cancel *cancel = NULL;
	int i;

	ASSERT_EQ_INT(cancel_new(&cancel), 0);
	ASSERT_EQ_INT(ratelimit_new(&clock, cancel, &rl), 0);
	for (i = 0; i < RATELIMIT_LIST_BURST; i++)
		ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), 0);
	ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), 0);
	ASSERT_EQ_INT(fc.sleeps, 1);
	cancel_set(cancel);
	cancel_set(cancel); /* idempotent */
	ASSERT_EQ_INT(ratelimit_acquire(rl, "ListInstances", 0), -ECANCELED);
	ASSERT_EQ_INT(fc.sleeps, 1);
	ratelimit_free(rl);
	cancel_free(cancel);
}

int main(void)
{
	RUN(test_burst_then_one_per_six_seconds);
	RUN(test_unlimited_actions_never_wait);
	RUN(test_deadline_reserves_nothing);
	RUN(test_acquire_sleeps_until_slot);
	RUN(test_idle_refills_up_to_burst);
	RUN(test_threads_share_one_bucket);
	RUN(test_cancel_ends_a_wait_at_once);
	RUN(test_cancel_with_fake_clock);
	return 0;
}
