// SPDX-License-Identifier: MIT
/*
 * test_bg: no thread runs before bg_start (work submitted earlier waits for
 * it); jobs run on job threads, at most job_threads at once; bg_stop asks every
 * service to stop and joins it, drops queued jobs through their drop function
 * exactly once, waits for running ones, and refuses later work.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "bg.h"
#include "test.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct counter {
	atomic_int ran;
	atomic_int dropped;
	atomic_int running;
	atomic_int peak;
	atomic_bool on_caller;
	pthread_t caller;
	unsigned hold_ms;
};

static void count_job(void *arg)
{
	struct counter *c = arg;
	int now = atomic_fetch_add(&c->running, 1) + 1;
	int peak = atomic_load(&c->peak);

	while (now > peak && !atomic_compare_exchange_weak(&c->peak, &peak, now))
		;
	if (pthread_equal(pthread_self(), c->caller))
		atomic_store(&c->on_caller, true);
	sleep_ms(c->hold_ms);
	atomic_fetch_sub(&c->running, 1);
	atomic_fetch_add(&c->ran, 1);
}

static void count_drop(void *arg)
{
	struct counter *c = arg;

	atomic_fetch_add(&c->dropped, 1);
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
		sleep_ms(1);
}

static void test_nothing_runs_before_start(void)
{
	struct counter c = { .caller = pthread_self() };
	struct bg_stats s;
	struct bg *bg;

	ASSERT_EQ_INT(bg_new(NULL, &bg), 0);
	ASSERT_EQ_INT(bg_submit(bg, count_job, count_drop, &c), 0);
	sleep_ms(50);
	bg_get_stats(bg, &s);
	ASSERT_EQ_INT(s.job_threads, 0);
	ASSERT_EQ_INT(s.queued, 1);
	ASSERT_EQ_INT(atomic_load(&c.ran), 0);
	ASSERT_EQ_INT(bg_start(bg), 0);
	ASSERT_EQ_INT(bg_start(bg), -EALREADY);
	wait_for(&c.ran, 1);
	ASSERT_EQ_INT(atomic_load(&c.ran), 1);
	ASSERT_TRUE(!atomic_load(&c.on_caller));
	bg_free(bg);
	ASSERT_EQ_INT(atomic_load(&c.dropped), 0);
}

static void test_job_threads_are_bounded(void)
{
	struct bg_config cfg = { .job_threads = 3 };
	struct counter c = { .caller = pthread_self(), .hold_ms = 20 };
	struct bg_stats s;
	struct bg *bg;

	ASSERT_EQ_INT(bg_new(&cfg, &bg), 0);
	ASSERT_EQ_INT(bg_start(bg), 0);
	for (int i = 0; i < 30; i++)
		ASSERT_EQ_INT(bg_submit(bg, count_job, count_drop, &c), 0);
	wait_for(&c.ran, 30);
	ASSERT_EQ_INT(atomic_load(&c.ran), 30);
	ASSERT_TRUE(atomic_load(&c.peak) <= 3);
	ASSERT_TRUE(atomic_load(&c.peak) >= 2);
	bg_get_stats(bg, &s);
	ASSERT_EQ_INT(s.job_threads, 3);
	ASSERT_EQ_INT(s.jobs_run, 30);
	bg_free(bg);
}

static void test_stop_drops_queued_jobs_once_and_waits_for_running(void)
{
	struct bg_config cfg = { .job_threads = 1 };
	struct counter c = { .caller = pthread_self(), .hold_ms = 100 };
	struct bg *bg;

	ASSERT_EQ_INT(bg_new(&cfg, &bg), 0);
	ASSERT_EQ_INT(bg_start(bg), 0);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ_INT(bg_submit(bg, count_job, count_drop, &c), 0);
	wait_for(&c.running, 1);
	bg_stop(bg);
	/* The one running finished; the four queued were dropped. */
	ASSERT_EQ_INT(atomic_load(&c.running), 0);
	ASSERT_EQ_INT(atomic_load(&c.ran), 1);
	ASSERT_EQ_INT(atomic_load(&c.dropped), 4);
	ASSERT_EQ_INT(bg_submit(bg, count_job, count_drop, &c), -ESHUTDOWN);
	ASSERT_TRUE(!bg_is_running(bg));
	bg_stop(bg);
	bg_free(bg);
	ASSERT_EQ_INT(atomic_load(&c.dropped), 4);
}

static void test_never_started_drops_everything(void)
{
	struct counter c = { .caller = pthread_self() };
	struct bg *bg;

	ASSERT_EQ_INT(bg_new(NULL, &bg), 0);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ_INT(bg_submit(bg, count_job, count_drop, &c), 0);
	bg_free(bg);
	ASSERT_EQ_INT(atomic_load(&c.ran), 0);
	ASSERT_EQ_INT(atomic_load(&c.dropped), 3);
}

/* A service: loops until told to stop. */
struct service {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	bool running;
	bool returned;
	pthread_t caller;
	bool on_caller;
};

static void service_run(void *arg)
{
	struct service *s = arg;

	pthread_mutex_lock(&s->lock);
	s->on_caller = pthread_equal(pthread_self(), s->caller);
	s->running = true;
	pthread_cond_broadcast(&s->cond);
	while (!s->stop)
		pthread_cond_wait(&s->cond, &s->lock);
	s->returned = true;
	pthread_mutex_unlock(&s->lock);
}

static void service_stop(void *arg)
{
	struct service *s = arg;

	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void service_init(struct service *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->caller = pthread_self();
}

static bool service_is_running(struct service *s)
{
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->running;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void test_services_start_with_bg_and_are_joined_at_stop(void)
{
	struct service early, late;
	struct bg_stats st;
	struct bg *bg;

	service_init(&early);
	service_init(&late);
	ASSERT_EQ_INT(bg_new(NULL, &bg), 0);
	ASSERT_EQ_INT(bg_service(bg, "early", service_run, service_stop, &early), 0);
	sleep_ms(30);
	ASSERT_TRUE(!service_is_running(&early));
	ASSERT_EQ_INT(bg_start(bg), 0);
	ASSERT_EQ_INT(bg_service(bg, "late-service-with-a-long-name", service_run, service_stop, &late), 0);
	for (int i = 0; i < 5000 && !(service_is_running(&early) && service_is_running(&late)); i++)
		sleep_ms(1);
	ASSERT_TRUE(service_is_running(&early));
	ASSERT_TRUE(service_is_running(&late));
	ASSERT_TRUE(!early.on_caller);
	bg_get_stats(bg, &st);
	ASSERT_EQ_INT(st.services, 2);
	bg_stop(bg);
	/* Joined: both returned before bg_stop did. */
	ASSERT_TRUE(early.returned);
	ASSERT_TRUE(late.returned);
	ASSERT_EQ_INT(bg_service(bg, "after", service_run, service_stop, &late), -ESHUTDOWN);
	bg_free(bg);
}

int main(void)
{
	RUN(test_nothing_runs_before_start);
	RUN(test_job_threads_are_bounded);
	RUN(test_stop_drops_queued_jobs_once_and_waits_for_running);
	RUN(test_never_started_drops_everything);
	RUN(test_services_start_with_bg_and_are_joined_at_stop);
	return 0;
}
