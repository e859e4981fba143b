// SPDX-License-Identifier: MIT
/*
 * test_reqclass: the jobs request slots' accounting (reqclass.h) without a
 * server: background requests never hold more than jobs - 1 slots, a
 * foreground request starts at once while jobs - 1 prefetches run, a
 * waiting foreground request goes before waiting background ones, and a
 * promotion (before a ticket's first request, while its requests are in
 * flight, or while one waits for a slot) gives the ticket's background
 * count back at once and wakes the requests that wait.
 *
 * Single-threaded tests use reqclass_try_acquire (the same rule, without the
 * wait); threaded ones wait for another thread to reach a known state by
 * polling the slots under their lock, with a generous limit that only
 * catches a hang.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "reqclass.h"
#include "test.h"

#define JOBS 8

/* Real time a test waits for another thread at most: a hang still fails. */
#define WAIT_LIMIT_MS 20000u

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void counts(struct reqclass_slots *s, unsigned in_flight, unsigned background)
{
	unsigned f, b;

	reqclass_get(s, &f, &b);
	ASSERT_EQ_INT(f, in_flight);
	ASSERT_EQ_INT(b, background);
}

static unsigned waiting(struct reqclass_slots *s, bool foreground)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = foreground ? s->fg_waiting : s->waiting;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Waits until @n requests of other threads wait for a slot (as foreground
 * if @foreground). */
static void wait_waiting(struct reqclass_slots *s, unsigned n, bool foreground)
{
	uint64_t end = real_ms() + WAIT_LIMIT_MS;

	while (waiting(s, foreground) < n) {
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
	}
}

/* One request on a thread of its own: takes a slot (waiting), says so,
 * and gives it back when told. */
struct request {
	struct reqclass_slots *s;
	struct reqclass_ticket *t;
	atomic_bool started;
	atomic_bool release;
	pthread_t thread;
};

static void *request_run(void *arg)
{
	struct request *rq = arg;

	reqclass_acquire(rq->s, rq->t);
	atomic_store(&rq->started, true);
	while (!atomic_load(&rq->release))
		usleep(1000);
	reqclass_release(rq->s, rq->t);
	return NULL;
}

static void request_start(struct request *rq, struct reqclass_slots *s, struct reqclass_ticket *t)
{
	rq->s = s;
	rq->t = t;
	atomic_init(&rq->started, false);
	atomic_init(&rq->release, false);
	ASSERT_EQ_INT(pthread_create(&rq->thread, NULL, request_run, rq), 0);
}

static void request_wait_started(struct request *rq)
{
	uint64_t end = real_ms() + WAIT_LIMIT_MS;

	while (!atomic_load(&rq->started)) {
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
	}
}

static void request_finish(struct request *rq)
{
	atomic_store(&rq->release, true);
	pthread_join(rq->thread, NULL);
}

/* ---- the rule ---- */

/* Gives back the requests of tickets @from..@to - 1, one each; then none
 * may be in flight, and the slots go. */
static void all_released(struct reqclass_slots *s, struct reqclass_ticket *t, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		reqclass_release(s, &t[i]);
	counts(s, 0, 0);
	reqclass_slots_destroy(s);
}

/* JOBS slots and JOBS fresh tickets, the first JOBS - 1 of which hold a
 * background request each: all the slots prefetches may have. */
static void prefetches_hold_all_they_may(struct reqclass_slots *s, struct reqclass_ticket t[JOBS])
{
	ASSERT_EQ_INT(reqclass_slots_init(s, JOBS), 0);
	for (unsigned i = 0; i < JOBS; i++)
		reqclass_ticket_init(&t[i]);
	for (unsigned i = 0; i < JOBS - 1; i++)
		ASSERT_TRUE(reqclass_try_acquire(s, &t[i]));
}

static void test_background_requests_leave_one_slot_and_a_foreground_one_takes_it(void)
{
	struct reqclass_ticket t[JOBS];
	struct reqclass_slots s;

	prefetches_hold_all_they_may(&s, t);
	counts(&s, JOBS - 1, JOBS - 1);
	/* The last slot is not a prefetch's, whichever ticket asks. */
	ASSERT_TRUE(!reqclass_try_acquire(&s, &t[JOBS - 1]));
	ASSERT_TRUE(!reqclass_try_acquire(&s, &t[0]));
	/* A reader's request starts at once (acquire, not try: a wait would
	 * hang the test). */
	reqclass_acquire(&s, NULL);
	counts(&s, JOBS, JOBS - 1);
	ASSERT_TRUE(!reqclass_try_acquire(&s, NULL)); /* all jobs slots taken */
	reqclass_release(&s, NULL);
	/* One prefetch done: another may start, and no more. */
	reqclass_release(&s, &t[0]);
	counts(&s, JOBS - 2, JOBS - 2);
	ASSERT_TRUE(reqclass_try_acquire(&s, &t[JOBS - 1]));
	ASSERT_TRUE(!reqclass_try_acquire(&s, &t[0]));
	counts(&s, JOBS - 1, JOBS - 1);
	all_released(&s, t, 1, JOBS);
}

static void test_background_requests_share_the_total_with_foreground_ones(void)
{
	struct reqclass_ticket t;
	struct reqclass_slots s;

	ASSERT_EQ_INT(reqclass_slots_init(&s, JOBS), 0);
	reqclass_ticket_init(&t);
	/* A reader's listing pass holds all but two slots: prefetches get
	 * those two, not jobs - 1. */
	for (unsigned i = 0; i < JOBS - 2; i++)
		ASSERT_TRUE(reqclass_try_acquire(&s, NULL));
	ASSERT_TRUE(reqclass_try_acquire(&s, &t));
	ASSERT_TRUE(reqclass_try_acquire(&s, &t));
	ASSERT_TRUE(!reqclass_try_acquire(&s, &t));
	counts(&s, JOBS, 2);
	reqclass_release(&s, &t);
	reqclass_release(&s, &t);
	for (unsigned i = 0; i < JOBS - 2; i++)
		reqclass_release(&s, NULL);
	counts(&s, 0, 0);
	reqclass_slots_destroy(&s);
}

static void test_one_slot_is_shared(void)
{
	struct reqclass_ticket t;
	struct reqclass_slots s;

	ASSERT_EQ_INT(reqclass_slots_init(&s, 1), 0);
	ASSERT_EQ_INT(reqclass_slots_init(&s, 0), -EINVAL);
	reqclass_ticket_init(&t);
	ASSERT_TRUE(reqclass_try_acquire(&s, &t));
	ASSERT_TRUE(!reqclass_try_acquire(&s, NULL));
	reqclass_release(&s, &t);
	ASSERT_TRUE(reqclass_try_acquire(&s, NULL));
	ASSERT_TRUE(!reqclass_try_acquire(&s, &t));
	reqclass_release(&s, NULL);
	counts(&s, 0, 0);
	reqclass_slots_destroy(&s);
}

/* A slot given back goes to a foreground request that waits, not to a
 * prefetch that asks at the same time. */
static void test_a_waiting_foreground_request_goes_first(void)
{
	struct reqclass_ticket a, b;
	struct reqclass_slots s;
	struct request rq;

	ASSERT_EQ_INT(reqclass_slots_init(&s, 2), 0);
	reqclass_ticket_init(&a);
	reqclass_ticket_init(&b);
	ASSERT_TRUE(reqclass_try_acquire(&s, NULL));
	ASSERT_TRUE(reqclass_try_acquire(&s, &a));
	request_start(&rq, &s, NULL);
	wait_waiting(&s, 1, true);
	reqclass_release(&s, &a);
	/* Whether or not the waiter has woken yet, the slot is its own. */
	ASSERT_TRUE(!reqclass_try_acquire(&s, &b));
	request_wait_started(&rq);
	counts(&s, 2, 0);
	request_finish(&rq);
	ASSERT_TRUE(reqclass_try_acquire(&s, &b));
	counts(&s, 2, 1);
	reqclass_release(&s, &b);
	reqclass_release(&s, NULL);
	reqclass_slots_destroy(&s);
}

/* Handed out in order of kind first: a reader that comes to wait after a
 * prefetch that could go gets the first slot given back all the same. */
static void test_a_reader_waiting_behind_a_prefetch_goes_first(void)
{
	struct reqclass_ticket a;
	struct reqclass_slots s;
	struct request prefetch, reader;

	ASSERT_EQ_INT(reqclass_slots_init(&s, 2), 0);
	reqclass_ticket_init(&a);
	ASSERT_TRUE(reqclass_try_acquire(&s, NULL));
	ASSERT_TRUE(reqclass_try_acquire(&s, NULL));
	request_start(&prefetch, &s, &a);
	wait_waiting(&s, 1, false);
	request_start(&reader, &s, NULL);
	wait_waiting(&s, 1, true);
	reqclass_release(&s, NULL);
	request_wait_started(&reader);
	counts(&s, 2, 0);
	ASSERT_TRUE(!atomic_load(&prefetch.started));
	reqclass_release(&s, NULL);
	request_wait_started(&prefetch);
	counts(&s, 2, 1);
	request_finish(&reader);
	request_finish(&prefetch);
	counts(&s, 0, 0);
	reqclass_slots_destroy(&s);
}

/* ---- promotion ---- */

static void test_promotion_gives_the_slot_back_and_lets_one_more_prefetch_start(void)
{
	struct reqclass_ticket t[JOBS];
	struct reqclass_slots s;

	ASSERT_EQ_INT(reqclass_slots_init(&s, JOBS), 0);
	for (unsigned i = 0; i < JOBS; i++)
		reqclass_ticket_init(&t[i]);
	/* Ticket 0 has two requests in flight (a listing pass's pages). */
	ASSERT_TRUE(reqclass_try_acquire(&s, &t[0]));
	for (unsigned i = 0; i < JOBS - 2; i++)
		ASSERT_TRUE(reqclass_try_acquire(&s, &t[i == 0 ? 0 : i]));
	counts(&s, JOBS - 1, JOBS - 1);
	ASSERT_TRUE(!reqclass_try_acquire(&s, &t[JOBS - 1]));
	ASSERT_TRUE(reqclass_is_background(&t[0]));
	ASSERT_TRUE(reqclass_promote(&t[0]));
	ASSERT_TRUE(!reqclass_is_background(&t[0]));
	ASSERT_TRUE(!reqclass_promote(&t[0])); /* once */
	/* Both of its requests count as foreground now. */
	counts(&s, JOBS - 1, JOBS - 3);
	ASSERT_TRUE(reqclass_try_acquire(&s, &t[JOBS - 1]));
	counts(&s, JOBS, JOBS - 2);
	/* Its releases give back no background count. */
	reqclass_release(&s, &t[0]);
	reqclass_release(&s, &t[0]);
	counts(&s, JOBS - 2, JOBS - 2);
	/* Its later requests are foreground: they may take the last slot. */
	ASSERT_TRUE(reqclass_try_acquire(&s, &t[JOBS - 2]));
	ASSERT_TRUE(!reqclass_try_acquire(&s, &t[JOBS - 2]));
	ASSERT_TRUE(reqclass_try_acquire(&s, &t[0]));
	counts(&s, JOBS, JOBS - 1);
	reqclass_release(&s, &t[0]);
	all_released(&s, t, 1, JOBS);
}

static void test_promotion_before_the_first_request(void)
{
	struct reqclass_ticket t[JOBS];
	struct reqclass_slots s;

	ASSERT_EQ_INT(reqclass_slots_init(&s, JOBS), 0);
	for (unsigned i = 0; i < JOBS; i++)
		reqclass_ticket_init(&t[i]);
	ASSERT_TRUE(!reqclass_promote(NULL));
	ASSERT_TRUE(!reqclass_is_background(NULL));
	ASSERT_TRUE(reqclass_promote(&t[0]));
	for (unsigned i = 1; i < JOBS; i++)
		ASSERT_TRUE(reqclass_try_acquire(&s, &t[i]));
	counts(&s, JOBS - 1, JOBS - 1);
	/* Never used, promoted: its first request is foreground. */
	ASSERT_TRUE(reqclass_try_acquire(&s, &t[0]));
	counts(&s, JOBS, JOBS - 1);
	all_released(&s, t, 0, JOBS);
}

/* A prefetch that waits for a slot: another's promotion wakes it. */
static void test_promotion_wakes_a_waiting_prefetch(void)
{
	struct reqclass_ticket t[JOBS];
	struct reqclass_slots s;
	struct request rq;

	prefetches_hold_all_they_may(&s, t);
	request_start(&rq, &s, &t[JOBS - 1]);
	wait_waiting(&s, 1, false);
	ASSERT_TRUE(!atomic_load(&rq.started));
	ASSERT_EQ_INT(waiting(&s, true), 0); /* it waits as background */
	ASSERT_TRUE(reqclass_promote(&t[0]));
	request_wait_started(&rq); /* a hang here: the promotion woke nobody */
	counts(&s, JOBS, JOBS - 1);
	request_finish(&rq);
	all_released(&s, t, 0, JOBS - 1);
}

/* A prefetch that waits for a slot and is promoted itself goes as
 * foreground, into the last slot. */
static void test_a_promoted_waiter_takes_the_last_slot(void)
{
	struct reqclass_ticket t[JOBS];
	struct reqclass_slots s;
	struct request rq;

	prefetches_hold_all_they_may(&s, t);
	request_start(&rq, &s, &t[JOBS - 1]);
	wait_waiting(&s, 1, false);
	ASSERT_TRUE(reqclass_promote(&t[JOBS - 1]));
	request_wait_started(&rq);
	counts(&s, JOBS, JOBS - 1);
	request_finish(&rq);
	counts(&s, JOBS - 1, JOBS - 1);
	all_released(&s, t, 0, JOBS - 1);
}

/* ---- many threads ---- */

#define STRESS_THREADS 24
#define STRESS_ROUNDS  400

struct stress {
	struct reqclass_slots *s;
	atomic_uint *running;	 /* requests between acquire and release */
	atomic_uint *background; /* ... of unpromoted tickets */
	atomic_uint *max_running;
	atomic_uint *max_background;
	bool prefetch;
	pthread_t thread;
};

static void raise_to(atomic_uint *max, unsigned v)
{
	unsigned m = atomic_load(max);

	while (v > m && !atomic_compare_exchange_weak(max, &m, v))
		;
}

static void *stress_run(void *arg)
{
	struct stress *st = arg;

	for (unsigned i = 0; i < STRESS_ROUNDS; i++) {
		struct reqclass_ticket t;
		struct reqclass_ticket *tp = st->prefetch ? &t : NULL;

		reqclass_ticket_init(&t);
		reqclass_acquire(st->s, tp);
		raise_to(st->max_running, atomic_fetch_add(st->running, 1) + 1);
		if (tp != NULL)
			raise_to(st->max_background, atomic_fetch_add(st->background, 1) + 1);
		sched_yield();
		if (tp != NULL)
			atomic_fetch_sub(st->background, 1);
		atomic_fetch_sub(st->running, 1);
		reqclass_release(st->s, tp);
	}
	return NULL;
}

/* Counted from outside the slots: what the rule promises holds under any
 * interleaving the scheduler picks. */
static void test_many_threads_keep_the_bounds(void)
{
	atomic_uint running = 0, background = 0, max_running = 0, max_background = 0;
	struct stress st[STRESS_THREADS];
	struct reqclass_slots s;

	ASSERT_EQ_INT(reqclass_slots_init(&s, JOBS), 0);
	for (unsigned i = 0; i < STRESS_THREADS; i++) {
		st[i] = (struct stress){
			.s = &s,
			.running = &running,
			.background = &background,
			.max_running = &max_running,
			.max_background = &max_background,
			.prefetch = i % 3 != 0,
		};
		ASSERT_EQ_INT(pthread_create(&st[i].thread, NULL, stress_run, &st[i]), 0);
	}
	for (unsigned i = 0; i < STRESS_THREADS; i++)
		pthread_join(st[i].thread, NULL);
	ASSERT_TRUE(atomic_load(&max_running) <= JOBS);
	ASSERT_TRUE(atomic_load(&max_background) <= JOBS - 1);
	counts(&s, 0, 0);
	reqclass_slots_destroy(&s);
}

/* The thread's ticket is its own. */
static void *read_current(void *arg)
{
	*(struct reqclass_ticket **)arg = reqclass_current();
	return NULL;
}

static void test_the_current_ticket_is_per_thread(void)
{
	struct reqclass_ticket t, *seen = &t;
	pthread_t th;

	reqclass_ticket_init(&t);
	ASSERT_TRUE(reqclass_current() == NULL);
	reqclass_set(&t);
	ASSERT_TRUE(reqclass_current() == &t);
	ASSERT_EQ_INT(pthread_create(&th, NULL, read_current, &seen), 0);
	pthread_join(th, NULL);
	ASSERT_TRUE(seen == NULL);
	reqclass_set(NULL);
	ASSERT_TRUE(reqclass_current() == NULL);
}

int main(void)
{
	RUN(test_background_requests_leave_one_slot_and_a_foreground_one_takes_it);
	RUN(test_background_requests_share_the_total_with_foreground_ones);
	RUN(test_one_slot_is_shared);
	RUN(test_a_waiting_foreground_request_goes_first);
	RUN(test_a_reader_waiting_behind_a_prefetch_goes_first);
	RUN(test_promotion_gives_the_slot_back_and_lets_one_more_prefetch_start);
	RUN(test_promotion_before_the_first_request);
	RUN(test_promotion_wakes_a_waiting_prefetch);
	RUN(test_a_promoted_waiter_takes_the_last_slot);
	RUN(test_many_threads_keep_the_bounds);
	RUN(test_the_current_ticket_is_per_thread);
	return 0;
}
