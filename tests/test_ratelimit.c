// SPDX-License-Identifier: MIT
/*
 * test_ratelimit: with a fake clock, ListInstances gets a burst of 10 and
 * then one call every 6 s, reservations queue in order, deadlines reserve
 * nothing, unlimited actions never wait, and buckets refill while idle.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

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

	ASSERT_EQ_INT(ratelimit_new(&clock, &rl), 0);
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

	ASSERT_EQ_INT(ratelimit_new(NULL, &rl), 0);
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

int main(void)
{
	RUN(test_burst_then_one_per_six_seconds);
	RUN(test_unlimited_actions_never_wait);
	RUN(test_deadline_reserves_nothing);
	RUN(test_acquire_sleeps_until_slot);
	RUN(test_idle_refills_up_to_burst);
	RUN(test_threads_share_one_bucket);
	return 0;
}
