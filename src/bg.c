// SPDX-License-Identifier: MIT
/*
 * bg: services and a job pool, all started by bg_start and joined by bg_stop
 * (see bg.h for why one owner).
 *
 * Locking: bg->lock protects every field below it; it is never held while a
 * service, a job, a stop or a drop function runs, so any of them may call
 * bg_submit. Job threads are made on demand, one more whenever a job is queued
 * and none is idle, up to job_threads; they never exit before bg_stop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg.h"

#define BG_DEFAULT_JOB_THREADS 8
#define BG_NAME_MAX	       15 /* pthread_setname_np's limit, without the NUL */

struct bg_service {
	struct bg *bg;
	char name[BG_NAME_MAX + 1];
	void (*run)(void *arg);
	void (*stop)(void *arg);
	void *arg;
	pthread_t thread;
	bool started;
	struct bg_service *next;
};

struct bg_job {
	void (*fn)(void *arg);
	void (*drop)(void *arg);
	void *arg;
	struct bg_job *next;
};

struct bg {
	unsigned max_threads;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a job was queued, or stopping */
	enum { BG_NEW, BG_RUNNING, BG_STOPPED } state;
	struct bg_service *services; /* newest first */
	struct bg_job *head, *tail;  /* queued jobs, oldest first */
	pthread_t threads[BG_MAX_JOB_THREADS];
	unsigned nthreads;
	unsigned idle; /* job threads waiting for a job */
	struct bg_stats stats;
};

int bg_new(const struct bg_config *cfg, struct bg **ret)
{
	struct bg *bg = calloc(1, sizeof(*bg));
	pthread_condattr_t ca;

	if (bg == NULL)
		return -ENOMEM;
	bg->max_threads = cfg && cfg->job_threads ? cfg->job_threads : BG_DEFAULT_JOB_THREADS;
	if (bg->max_threads > BG_MAX_JOB_THREADS)
		bg->max_threads = BG_MAX_JOB_THREADS;
	pthread_mutex_init(&bg->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bg->cond, &ca);
	pthread_condattr_destroy(&ca);
	*ret = bg;
	return 0;
}

static void *service_main(void *p)
{
	struct bg_service *s = p;

	pthread_setname_np(pthread_self(), s->name);
	s->run(s->arg);
	pthread_mutex_lock(&s->bg->lock);
	s->bg->stats.services--;
	pthread_mutex_unlock(&s->bg->lock);
	return NULL;
}

/* Under bg->lock. */
static int start_service(struct bg *bg, struct bg_service *s)
{
	int r = pthread_create(&s->thread, NULL, service_main, s);

	if (r != 0)
		return -EAGAIN;
	s->started = true;
	bg->stats.services++;
	return 0;
}

static void *job_main(void *p)
{
	struct bg *bg = p;

	pthread_setname_np(pthread_self(), "swasfs-job");
	pthread_mutex_lock(&bg->lock);
	for (;;) {
		struct bg_job *j;

		while (bg->head == NULL && bg->state == BG_RUNNING) {
			bg->idle++;
			pthread_cond_wait(&bg->cond, &bg->lock);
			bg->idle--;
		}
		if (bg->state != BG_RUNNING)
			break;
		j = bg->head;
		bg->head = j->next;
		if (bg->head == NULL)
			bg->tail = NULL;
		bg->stats.queued--;
		pthread_mutex_unlock(&bg->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&bg->lock);
		bg->stats.jobs_run++;
	}
	pthread_mutex_unlock(&bg->lock);
	return NULL;
}

/* Under bg->lock: one more job thread if every one is busy. Failing to make
 * one is not an error while another exists: the job waits for it. */
static int grow_pool(struct bg *bg)
{
	if (bg->idle >= bg->stats.queued || bg->nthreads >= bg->max_threads)
		return 0;
	if (pthread_create(&bg->threads[bg->nthreads], NULL, job_main, bg) != 0)
		return bg->nthreads > 0 ? 0 : -EAGAIN;
	bg->nthreads++;
	bg->stats.job_threads = bg->nthreads;
	return 0;
}

int bg_start(struct bg *bg)
{
	int r = 0;

	pthread_mutex_lock(&bg->lock);
	if (bg->state != BG_NEW) {
		r = -EALREADY;
		goto out_unlock;
	}
	bg->state = BG_RUNNING;
	for (struct bg_service *s = bg->services; s != NULL && r == 0; s = s->next)
		r = start_service(bg, s);
	if (r == 0)
		r = grow_pool(bg);
out_unlock:
	pthread_mutex_unlock(&bg->lock);
	if (r == -EAGAIN)
		bg_stop(bg);
	return r;
}

bool bg_is_running(struct bg *bg)
{
	bool running;

	pthread_mutex_lock(&bg->lock);
	running = bg->state == BG_RUNNING;
	pthread_mutex_unlock(&bg->lock);
	return running;
}

int bg_service(struct bg *bg, const char *name, void (*run)(void *arg), void (*stop)(void *arg), void *arg)
{
	struct bg_service *s = calloc(1, sizeof(*s));
	int r = 0;

	if (s == NULL)
		return -ENOMEM;
	s->bg = bg;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->run = run;
	s->stop = stop;
	s->arg = arg;
	pthread_mutex_lock(&bg->lock);
	if (bg->state == BG_STOPPED)
		r = -ESHUTDOWN;
	else if (bg->state == BG_RUNNING)
		r = start_service(bg, s);
	if (r == 0) {
		s->next = bg->services;
		bg->services = s;
	}
	pthread_mutex_unlock(&bg->lock);
	if (r < 0)
		free(s);
	return r;
}

int bg_submit(struct bg *bg, void (*fn)(void *arg), void (*drop)(void *arg), void *arg)
{
	struct bg_job *j;
	int r = 0;

	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -EAGAIN;
	j->fn = fn;
	j->drop = drop;
	j->arg = arg;
	pthread_mutex_lock(&bg->lock);
	if (bg->state == BG_STOPPED) {
		r = -ESHUTDOWN;
		goto out_unlock;
	}
	if (bg->stats.queued >= BG_MAX_QUEUED) {
		r = -EAGAIN;
		goto out_unlock;
	}
	if (bg->tail != NULL)
		bg->tail->next = j;
	else
		bg->head = j;
	bg->tail = j;
	bg->stats.queued++;
	j = NULL;
	if (bg->state == BG_RUNNING) {
		grow_pool(bg);
		pthread_cond_signal(&bg->cond);
	}
out_unlock:
	pthread_mutex_unlock(&bg->lock);
	free(j);
	return r;
}

void bg_stop(struct bg *bg)
{
	struct bg_job *jobs;
	unsigned nthreads;

	pthread_mutex_lock(&bg->lock);
	bg->state = BG_STOPPED;
	jobs = bg->head;
	bg->head = bg->tail = NULL;
	bg->stats.queued = 0;
	nthreads = bg->nthreads;
	bg->nthreads = 0;
	pthread_cond_broadcast(&bg->cond);
	pthread_mutex_unlock(&bg->lock);

	/* Jobs that will never run give back what they hold. */
	while (jobs != NULL) {
		struct bg_job *next = jobs->next;

		if (jobs->drop != NULL)
			jobs->drop(jobs->arg);
		free(jobs);
		jobs = next;
		pthread_mutex_lock(&bg->lock);
		bg->stats.jobs_dropped++;
		pthread_mutex_unlock(&bg->lock);
	}
	/* Job threads finish the job in hand, then see the state. */
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(bg->threads[i], NULL);
	/* Services: ask each to return, then join. The list is no longer
	 * changed (bg_service refuses once stopped). */
	for (struct bg_service *s = bg->services; s != NULL; s = s->next) {
		if (s->started && s->stop != NULL)
			s->stop(s->arg);
	}
	for (struct bg_service *s = bg->services; s != NULL; s = s->next) {
		if (s->started) {
			pthread_join(s->thread, NULL);
			s->started = false;
		}
	}
}

void bg_free(struct bg *bg)
{
	if (bg == NULL)
		return;
	bg_stop(bg);
	while (bg->services != NULL) {
		struct bg_service *next = bg->services->next;

		free(bg->services);
		bg->services = next;
	}
	pthread_cond_destroy(&bg->cond);
	pthread_mutex_destroy(&bg->lock);
	free(bg);
}

void bg_get_stats(struct bg *bg, struct bg_stats *ret)
{
	pthread_mutex_lock(&bg->lock);
	*ret = bg->stats;
	pthread_mutex_unlock(&bg->lock);
}
