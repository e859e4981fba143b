/* SPDX-License-Identifier: MIT */
/*
 * reqclass: the jobs request slots, and which requests are background.
 *
 * The API client (api.c) lets at most `jobs` requests be in flight at once.
 * A request is foreground (a reader waits for it) unless the thread that
 * sends it holds a ticket that is not promoted: a readahead job sets one on
 * its thread for the duration of its fetch (reqclass_set), and a listing
 * pass hands the pointer to its page workers. The rule:
 *
 *   - a foreground request starts while fewer than jobs are in flight;
 *   - a background request starts while fewer than jobs are in flight,
 *     fewer than jobs - 1 background ones are, and no foreground request
 *     waits for a slot.
 *
 * So prefetches never hold more than jobs - 1 slots: one is always left to
 * a reader's own request, which never waits behind them (with jobs = 1 the
 * one slot is shared, a waiting reader first), while a reader served by
 * readahead (issuing nothing itself) leaves them jobs - 1, not jobs - 2.
 *
 * A slot given back is handed to the request it goes to, oldest first, and
 * only that thread is woken: with a few dozen page workers waiting, waking
 * them all at every answer would cost more than the answer.
 *
 * Promotion: a prefetch a reader comes to wait for (the cache's
 * singleflight, cache.c slot_get) is no longer background.
 * reqclass_promote() makes every request of the ticket foreground from then
 * on, those in flight included: their background count is given back at
 * once, waking the requests that wait for a slot. A promotion may come
 * before the ticket's first request or while one is being admitted; the
 * ticket learns its slots on first use (an atomic pointer), and its
 * background requests in flight are counted under the slots' lock, so
 * either the promotion sees them or they see the promotion.
 *
 * Ownership: the caller owns both structs (embedded or on its stack); a
 * ticket must outlive every request sent under it and every pointer the
 * cache keeps to it (the cache drops its pointer when the fetch ends), and
 * is used with one struct reqclass_slots only.
 *
 * Thread-safety: every function may be called from any thread at once. The
 * slots' lock is a leaf (lockrule.h): reqclass_promote() may be called with
 * the cache's lock held, and nothing is called with the slots' lock held.
 * The current ticket (reqclass_set/reqclass_current) is per thread.
 */
#ifndef SWASFS_REQCLASS_H
#define SWASFS_REQCLASS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct reqclass_slots;

struct reqclass_ticket {
	atomic_bool promoted;
	_Atomic(struct reqclass_slots *) slots; /* the slots of its first request; NULL before */
	unsigned held; /* its background requests in flight; protected by slots->lock */
};

/* A request waiting for a slot: on its thread's stack, in the slots' queue
 * until a slot is handed to it. */
struct reqclass_waiter {
	pthread_cond_t cond;
	struct reqclass_ticket *ticket;
	bool granted;
	struct reqclass_waiter *next;
};

struct reqclass_slots {
	pthread_mutex_t lock;
	unsigned jobs;		       /* >= 1 */
	unsigned in_flight;	       /* protected by lock */
	unsigned background;	       /* of them background; protected by lock */
	struct reqclass_waiter *queue; /* waiting requests, oldest first; protected by lock */
	struct reqclass_waiter **tail; /* where the next one is linked; protected by lock */
	unsigned fg_waiting;	       /* foreground requests waiting for a slot; protected by lock */
	unsigned waiting; /* requests of both kinds waiting for a slot (tests); protected by lock */
};

/* A ticket not promoted and not yet used. */
void reqclass_ticket_init(struct reqclass_ticket *t);

/* Returns 0, -EINVAL (jobs 0) or -ENOMEM. */
int reqclass_slots_init(struct reqclass_slots *s, unsigned jobs);
void reqclass_slots_destroy(struct reqclass_slots *s);

/* Takes a slot for one request under @t (NULL: foreground), waiting as
 * the rule at the top says; reqclass_try_acquire returns false instead of
 * waiting. Every slot taken is given back with reqclass_release() and the
 * same @t. */
void reqclass_acquire(struct reqclass_slots *s, struct reqclass_ticket *t);
bool reqclass_try_acquire(struct reqclass_slots *s, struct reqclass_ticket *t);
void reqclass_release(struct reqclass_slots *s, struct reqclass_ticket *t);

/* Makes @t foreground for good (see the top). Accepts NULL. Returns true if
 * this call promoted it, false if it was NULL or promoted already. */
bool reqclass_promote(struct reqclass_ticket *t);
/* True if requests under @t count as background now (false for NULL). */
bool reqclass_is_background(struct reqclass_ticket *t);

/* The calling thread's ticket for the requests it sends, NULL (the
 * default) for foreground. Borrowed: set it back to NULL before @t goes. */
void reqclass_set(struct reqclass_ticket *t);
struct reqclass_ticket *reqclass_current(void);

/* Requests in flight now, and of them background, for tests. */
void reqclass_get(struct reqclass_slots *s, unsigned *ret_in_flight, unsigned *ret_background);

#endif
