/* SPDX-License-Identifier: MIT */
/*
 * bg: the one owner of the daemon's background threads.
 *
 * Every thread swasfs runs besides main and libfuse's workers belongs to a
 * struct bg, in one of two shapes:
 *   - services: one long-lived thread each (the kernel notifier, credential
 *     renewal, a store writer), registered with bg_service(): a run function
 *     that loops until its stop function tells it to return;
 *   - jobs: short pieces of background work (a cache refresh, a readahead
 *     fetch) handed to bg_submit() and run by a bounded pool of job threads.
 *
 * No thread exists before bg_start(): the daemon calls it in FUSE's init,
 * after fuse_daemonize()'s fork (a thread does not survive a fork). What is
 * registered or submitted earlier waits for it. bg_stop() refuses new work,
 * asks every service to stop, drops the jobs still queued (their drop
 * function frees what they hold), and joins every thread; a job that is
 * running is waited for, so its owner cancels its I/O first (the fetcher's
 * cancel) to make that quick.
 *
 * Ownership: bg_new() returns a struct bg freed with bg_free(), which stops it
 * first. A service's or job's @arg is its owner's; bg never frees it, but it
 * calls a job's drop(@arg) exactly once if the job will never run.
 * Thread-safety: every function may be called from any thread, except that
 * bg_free must not race with anything; bg_stop may be called more than once.
 */
#ifndef SWASFS_BG_H
#define SWASFS_BG_H

#include <stdbool.h>
#include <stddef.h>

struct bg;

/* Job threads at most: background work waits on the API, whose own
 * concurrency limit (-o jobs, at most 64) bounds what could run at once. */
#define BG_MAX_JOB_THREADS 64
/* Jobs waiting at most: past it bg_submit refuses, and the owner does the work
 * itself or not at all. */
#define BG_MAX_QUEUED 4096

struct bg_config {
	unsigned job_threads; /* 0: 8 */
};

/* Returns 0 or -ENOMEM; starts no thread. */
int bg_new(const struct bg_config *cfg, struct bg **ret);
/* bg_stop(), then frees. Accepts NULL. */
void bg_free(struct bg *bg);

/* Starts the services registered so far and the job threads. Returns 0,
 * -EALREADY, or -EAGAIN (a thread could not be made: the ones made are
 * stopped again). */
int bg_start(struct bg *bg);
/* See above. After it, bg_service and bg_submit refuse (-ESHUTDOWN). */
void bg_stop(struct bg *bg);
/* True between bg_start and bg_stop. */
bool bg_is_running(struct bg *bg);

/*
 * Registers a service: @run(@arg) runs on a thread of its own from
 * bg_start (at once if already started) until it returns; bg_stop calls
 * @stop(@arg), which must make @run return soon, then joins. @name is for
 * logs (copied, at most 15 bytes are used as the thread name). Returns 0,
 * -ENOMEM, -EAGAIN (no thread) or -ESHUTDOWN.
 */
int bg_service(struct bg *bg, const char *name, void (*run)(void *arg), void (*stop)(void *arg), void *arg);

/*
 * Queues @fn(@arg) to run on a job thread. Returns 0 (it will run, or, if
 * bg_stop comes first, @drop(@arg) will be called instead; @drop may be NULL),
 * -EAGAIN (BG_MAX_QUEUED are waiting) or -ESHUTDOWN; on failure neither is
 * called. Jobs may start in any order and run concurrently.
 */
int bg_submit(struct bg *bg, void (*fn)(void *arg), void (*drop)(void *arg), void *arg);

/* Counters, for tests and the log. */
struct bg_stats {
	unsigned services;	/* registered and not returned */
	unsigned job_threads;	/* made so far */
	unsigned long jobs_run; /* finished */
	unsigned long jobs_dropped;
	size_t queued; /* waiting now */
};
void bg_get_stats(struct bg *bg, struct bg_stats *ret);

#endif
