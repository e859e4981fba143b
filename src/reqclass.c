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
	if (pthread_cond_init(&s->cond, NULL) != 0) {
		pthread_mutex_destroy(&s->lock);
		return -ENOMEM;
	}
	s->jobs = jobs;
	s->in_flight = 0;
	s->background = 0;
	s->fg_waiting = 0;
	s->waiting = 0;
	return 0;
}

void reqclass_slots_destroy(struct reqclass_slots *s)
{
	pthread_cond_destroy(&s->cond);
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

/* Takes a slot if the rule allows it now. Under s->lock. */
static bool take_locked(struct reqclass_slots *s, struct reqclass_ticket *t, bool background)
{
	if (s->in_flight >= s->jobs)
		return false;
	if (background && (s->background >= background_cap(s) || s->fg_waiting > 0))
		return false;
	s->in_flight++;
	if (background) {
		s->background++;
		t->held++;
	}
	return true;
}

void reqclass_acquire(struct reqclass_slots *s, struct reqclass_ticket *t)
{
	bool waited_fg = false;

	ticket_bind(s, t);
	slots_lock(s);
	for (;;) {
		/* Read again after each wait: a promotion may have come. */
		bool background = reqclass_is_background(t);

		if (take_locked(s, t, background))
			break;
		if (!background)
			s->fg_waiting++;
		s->waiting++;
		pthread_cond_wait(&s->cond, &s->lock);
		s->waiting--;
		if (!background)
			s->fg_waiting--;
		waited_fg = waited_fg || !background;
	}
	/* Background requests that woke while we waited stood aside for us:
	 * if a slot is left, they may go now. */
	if (waited_fg && s->fg_waiting == 0 && s->in_flight < s->jobs)
		pthread_cond_broadcast(&s->cond);
	slots_unlock(s);
}

bool reqclass_try_acquire(struct reqclass_slots *s, struct reqclass_ticket *t)
{
	bool taken;

	ticket_bind(s, t);
	slots_lock(s);
	taken = take_locked(s, t, reqclass_is_background(t));
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
	/* Both kinds wait on it: wake them all, the ones that fit go. */
	pthread_cond_broadcast(&s->cond);
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
	pthread_cond_broadcast(&s->cond);
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
