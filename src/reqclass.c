// SPDX-License-Identifier: MIT
/*
 * reqclass: the jobs request slots, background requests and their promotion
 * (see reqclass.h).
 *
 * Why a promotion cannot miss a request being admitted: reqclass_acquire
 * publishes the ticket's slots (t->slots) before it takes the lock and reads
 * t->promoted under it; reqclass_promote sets t->promoted before it reads
 * t->slots. Both are sequentially consistent atomics, so either the
 * promotion reads the slots (then it takes the lock and gives back whatever
 * background count the ticket holds, after any admission that read the flag
 * unset) or the admission reads the flag set (and counts as foreground).
 * Once a promotion has given the count back, no request of the ticket is
 * counted background again, so a release gives back background count only
 * while the ticket still holds some.
 */
#include <assert.h>
#include <errno.h>

#include "lockrule.h"
#include "reqclass.h"

/* Set by readahead's jobs around their fetches, inherited by page workers. */
static _Thread_local struct reqclass_ticket *current;

void reqclass_set(struct reqclass_ticket *t)
{
	current = t;
}

struct reqclass_ticket *reqclass_current(void)
{
	return current;
}

void reqclass_ticket_init(struct reqclass_ticket *t)
{
	atomic_init(&t->promoted, false);
	atomic_init(&t->slots, NULL);
	t->held = 0;
}

bool reqclass_is_background(struct reqclass_ticket *t)
{
	return t != NULL && !atomic_load(&t->promoted);
}

int reqclass_slots_init(struct reqclass_slots *s, unsigned jobs)
{
	if (jobs == 0)
		return -EINVAL;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		return -ENOMEM;
	s->jobs = jobs;
	s->in_flight = 0;
	s->background = 0;
	s->queue = NULL;
	s->tail = &s->queue;
	s->fg_waiting = 0;
	s->waiting = 0;
	return 0;
}

void reqclass_slots_destroy(struct reqclass_slots *s)
{
	assert(s->queue == NULL);
	pthread_mutex_destroy(&s->lock);
}

/* s->lock, with the locking rules' bookkeeping (lockrule.h). */
static void slots_lock(struct reqclass_slots *s)
{
	pthread_mutex_lock(&s->lock);
	lockrule_acquired(LOCK_SLOTS);
}

static void slots_unlock(struct reqclass_slots *s)
{
	lockrule_released(LOCK_SLOTS);
	pthread_mutex_unlock(&s->lock);
}

/* Publishes the slots @t's requests use, before its first admission. */
static void ticket_bind(struct reqclass_slots *s, struct reqclass_ticket *t)
{
	struct reqclass_slots *none = NULL;

	if (t != NULL && !atomic_compare_exchange_strong(&t->slots, &none, s))
		assert(none == s); /* one struct reqclass_slots a ticket */
}

/* The most background requests in flight at once: all but one slot, or
 * the one slot shared. */
static unsigned background_cap(const struct reqclass_slots *s)
{
	return s->jobs > 1 ? s->jobs - 1 : 1;
}

/* Takes a slot for @t if the rule allows it now, @fg_waiting foreground
 * requests waiting besides. Under s->lock. */
static bool take_locked(struct reqclass_slots *s, struct reqclass_ticket *t, bool background,
			unsigned fg_waiting)
{
	if (s->in_flight >= s->jobs)
		return false;
	if (background && (s->background >= background_cap(s) || fg_waiting > 0))
		return false;
	s->in_flight++;
	if (background) {
		s->background++;
		t->held++;
	}
	return true;
}

/* Unlinks @w, whose predecessor's link is @link, and wakes it with its slot. */
static void grant_locked(struct reqclass_slots *s, struct reqclass_waiter **link, struct reqclass_waiter *w)
{
	*link = w->next;
	if (s->tail == &w->next)
		s->tail = link;
	s->waiting--;
	w->granted = true;
	pthread_cond_signal(&w->cond);
}

/* Hands the free slots to the waiting requests the rule lets go: the
 * foreground ones first, then background ones, each kind oldest first. A
 * waiter's kind is read now (a promotion may have come), and so is
 * fg_waiting. Under s->lock. */
static void hand_out_locked(struct reqclass_slots *s)
{
	struct reqclass_waiter **link, *w;
	unsigned fg = 0;

	for (link = &s->queue; (w = *link) != NULL;) {
		if (!reqclass_is_background(w->ticket) && take_locked(s, w->ticket, false, 0)) {
			grant_locked(s, link, w);
			continue;
		}
		fg += !reqclass_is_background(w->ticket);
		link = &w->next;
	}
	s->fg_waiting = fg;
	for (link = &s->queue; (w = *link) != NULL && s->in_flight < s->jobs;) {
		if (reqclass_is_background(w->ticket) && take_locked(s, w->ticket, true, fg)) {
			grant_locked(s, link, w);
			continue;
		}
		link = &w->next;
	}
}

void reqclass_acquire(struct reqclass_slots *s, struct reqclass_ticket *t)
{
	struct reqclass_waiter w = { .cond = PTHREAD_COND_INITIALIZER, .ticket = t };

	ticket_bind(s, t);
	slots_lock(s);
	if (take_locked(s, t, reqclass_is_background(t), s->fg_waiting)) {
		slots_unlock(s);
		return;
	}
	*s->tail = &w;
	s->tail = &w.next;
	s->waiting++;
	hand_out_locked(s); /* counts it in fg_waiting, if it is foreground */
	while (!w.granted)
		pthread_cond_wait(&w.cond, &s->lock);
	slots_unlock(s);
	pthread_cond_destroy(&w.cond);
}

bool reqclass_try_acquire(struct reqclass_slots *s, struct reqclass_ticket *t)
{
	bool taken;

	ticket_bind(s, t);
	slots_lock(s);
	taken = take_locked(s, t, reqclass_is_background(t), s->fg_waiting);
	slots_unlock(s);
	return taken;
}

void reqclass_release(struct reqclass_slots *s, struct reqclass_ticket *t)
{
	slots_lock(s);
	assert(s->in_flight > 0);
	s->in_flight--;
	if (t != NULL && t->held > 0) {
		t->held--;
		s->background--;
	}
	hand_out_locked(s);
	slots_unlock(s);
}

bool reqclass_promote(struct reqclass_ticket *t)
{
	struct reqclass_slots *s;

	if (t == NULL || atomic_exchange(&t->promoted, true))
		return false;
	s = atomic_load(&t->slots);
	if (s == NULL)
		return true; /* no request yet: the first one reads the flag */
	slots_lock(s);
	assert(s->background >= t->held);
	s->background -= t->held;
	t->held = 0;
	hand_out_locked(s);
	slots_unlock(s);
	return true;
}

void reqclass_get(struct reqclass_slots *s, unsigned *ret_in_flight, unsigned *ret_background)
{
	slots_lock(s);
	*ret_in_flight = s->in_flight;
	*ret_background = s->background;
	slots_unlock(s);
}
