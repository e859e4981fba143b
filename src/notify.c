// SPDX-License-Identifier: MIT
/*
 * notify: the queue of kernel invalidations and the thread that sends them
 * (see notify.h for why handlers may not send them themselves).
 *
 * Locking: n->lock protects the pending set, the stop flag and the counters;
 * it is never held while the send function runs, so a send that waits on the
 * kernel never blocks a handler that queues.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"

struct notify {
	notify_send_fn send;
	void *arg;
	pthread_t thread; /* the service's, while running */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t *pending;	   /* insertion order; protected by lock */
	size_t count;		   /* protected by lock */
	size_t cap;		   /* protected by lock */
	bool stop;		   /* protected by lock */
	bool running;		   /* notify_run is looping; protected by lock */
	struct notify_stats stats; /* protected by lock */
};

static bool is_pending(const struct notify *n, uint64_t ino)
{
	/* A linear scan: the set is nearly always a handful of inodes, and
	 * the thread empties it as fast as the kernel takes them. */
	for (size_t i = 0; i < n->count; i++) {
		if (n->pending[i] == ino)
			return true;
	}
	return false;
}

/* Adds @ino to the set; false if the set is full and could not grow. */
static bool add_pending(struct notify *n, uint64_t ino)
{
	if (is_pending(n, ino))
		return true;
	if (n->count == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		uint64_t *v;

		if (cap > NOTIFY_MAX_PENDING)
			cap = NOTIFY_MAX_PENDING;
		if (cap == n->count)
			return false;
		v = realloc(n->pending, cap * sizeof(*v));
		if (v == NULL)
			return false;
		n->pending = v;
		n->cap = cap;
	}
	n->pending[n->count++] = ino;
	return true;
}

void notify_inode(struct notify *n, uint64_t ino)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->lock);
	n->stats.queued++;
	if (add_pending(n, ino))
		pthread_cond_signal(&n->cond);
	else
		n->stats.dropped++;
	pthread_mutex_unlock(&n->lock);
}

/* The service's loop (bg.h): runs from bg_start until notify_stop. */
static void notify_run(void *arg)
{
	struct notify *n = arg;
	uint64_t *batch = NULL;
	size_t nbatch;

	pthread_mutex_lock(&n->lock);
	n->thread = pthread_self();
	n->running = true;
	for (;;) {
		while (n->count == 0 && !n->stop)
			pthread_cond_wait(&n->cond, &n->lock);
		if (n->stop)
			break;
		/* Take the whole set, send it unlocked. */
		batch = n->pending;
		nbatch = n->count;
		n->pending = NULL;
		n->count = 0;
		n->cap = 0;
		n->stats.sent += nbatch;
		pthread_mutex_unlock(&n->lock);
		for (size_t i = 0; i < nbatch; i++)
			n->send(n->arg, batch[i]);
		free(batch);
		batch = NULL;
		pthread_mutex_lock(&n->lock);
	}
	n->running = false;
	pthread_mutex_unlock(&n->lock);
}

static void notify_stop(void *arg)
{
	struct notify *n = arg;

	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

int notify_new(struct bg *bg, notify_send_fn send, void *arg, struct notify **ret)
{
	struct notify *n;
	int r;

	if (send == NULL || bg == NULL)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->send = send;
	n->arg = arg;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	r = bg_service(bg, "swasfs-notify", notify_run, notify_stop, n);
	if (r < 0) {
		pthread_cond_destroy(&n->cond);
		pthread_mutex_destroy(&n->lock);
		free(n);
		return r;
	}
	*ret = n;
	return 0;
}

bool notify_is_own_thread(struct notify *n)
{
	bool own;

	pthread_mutex_lock(&n->lock);
	own = n->running && pthread_equal(n->thread, pthread_self());
	pthread_mutex_unlock(&n->lock);
	return own;
}

void notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	/* bg_stop joined the thread (notify.h); a loop still running would
	 * use what is freed here. */
	pthread_mutex_lock(&n->lock);
	assert(!n->running);
	pthread_mutex_unlock(&n->lock);
	free(n->pending);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void notify_get_stats(struct notify *n, struct notify_stats *ret)
{
	pthread_mutex_lock(&n->lock);
	*ret = n->stats;
	pthread_mutex_unlock(&n->lock);
}
