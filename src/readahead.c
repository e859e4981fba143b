// SPDX-License-Identifier: MIT
/*
 * readahead: walks, their windows, and the background jobs that fetch ahead
 * of them (see readahead.h).
 *
 * A walk follows one status directory (results) or one region (listings). It
 * holds a reference to the snapshot its positions index (a listing, an
 * instance list), so a job that ends can hand the next position to the next
 * job without asking the cache again; when the snapshot the readers see is a
 * newer one, the walk starts over on it. A walk's job carries the walk's slot
 * and epoch: a job whose walk ended or started over meanwhile only counts.
 *
 * Locking: ra->lock guards the walk table, the congestion window and the
 * counters. It is never held while the cache is called, so a job's fetch
 * never blocks a reader's note.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lockrule.h"
#include "log.h"
#include "readahead.h"
#include "reqclass.h"

/* Results fetched ahead and not yet visited, per walk: the largest window
 * the options allow (-o jobs is at most 64). */
#define READAHEAD_MAX_AHEAD 64

struct walk {
	bool used;
	bool listings;	/* a region walk over instance listings; else results of a status directory */
	uint64_t epoch; /* bumped each time the slot starts a new walk */
	char region[CACHE_NAME_MAX + 1];
	char instance[CACHE_NAME_MAX + 1];
	char status[CACHE_NAME_MAX + 1];
	time_t instance_ctime;
	/* the snapshot the positions index; a reference of the walk's */
	const struct cache_invocations *listing;
	const struct cache_status *st; /* in @listing */
	const struct cache_instances *instances;
	size_t last;			   /* highest position visited */
	unsigned visits;		   /* increasing visits so far */
	size_t next;			   /* first position not yet handed to a job */
	unsigned window;		   /* 0 until it is a walk, then 2, 4, ... up to cfg.window */
	unsigned inflight;		   /* its jobs running or queued */
	uint64_t progress_ms;		   /* when it last advanced */
	size_t ahead[READAHEAD_MAX_AHEAD]; /* positions fetched ahead, not yet visited */
	unsigned nahead;
	bool chained; /* the next status directory's walk was started ahead */
};

struct readahead {
	struct readahead_config cfg;

	pthread_mutex_t lock;
	struct walk walks[READAHEAD_MAX_WALKS]; /* protected by lock */
	uint64_t epochs;			/* protected by lock */
	unsigned cwnd;				/* congestion window; protected by lock */
	/* The last results walk that was walking: a walk that moves on to the
	 * next status directory of the same region goes on there at once. */
	char hot_region[CACHE_NAME_MAX + 1]; /* protected by lock */
	unsigned hot_window;		     /* protected by lock */
	uint64_t hot_ms;		     /* protected by lock */
	/* ... and where it was, to learn in which order the walker takes the
	 * status directories of an instance: by name (ls, rsync) or as they are
	 * listed (find, grep). Known once it moved on from one to the next. */
	char hot_instance[CACHE_NAME_MAX + 1];			     /* protected by lock */
	char hot_status[CACHE_NAME_MAX + 1];			     /* protected by lock */
	enum { ORDER_UNKNOWN, ORDER_NAME, ORDER_LISTING } hot_order; /* protected by lock */
	struct readahead_stats stats;				     /* protected by lock */
};

/* One prefetch: what it fetches, copied, and the walk it serves. */
struct job {
	struct readahead *ra;
	size_t slot;
	uint64_t epoch;
	size_t pos;
	bool listings;
	char region[CACHE_NAME_MAX + 1];
	struct cache_instance inst;	/* id owned */
	const struct cache_record *rec; /* a reference; results only */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned long throttled_so_far(const struct metrics *m)
{
	unsigned long n = 0;

	if (m == NULL)
		return 0;
	for (size_t a = 0; a < METRICS_ACTIONS; a++)
		n += metrics_get(m, a, METRICS_THROTTLED);
	return n;
}

/* ---- walks (under ra->lock) ---- */

/* Ends @w: what it fetched ahead and nobody visited was wasted. Its
 * snapshots are returned for the caller to drop after unlocking. */
static void walk_end(struct readahead *ra, struct walk *w, const struct cache_invocations **ret_listing,
		     const struct cache_instances **ret_instances)
{
	if (!w->listings)
		ra->stats.results_wasted += w->nahead;
	*ret_listing = w->listing;
	*ret_instances = w->instances;
	memset(w, 0, sizeof(*w));
}

static bool walk_is(const struct walk *w, bool listings, const char *region, const char *instance,
		    const char *status)
{
	return w->used && w->listings == listings && strcmp(w->region, region) == 0 &&
	       (listings || (strcmp(w->instance, instance) == 0 && strcmp(w->status, status) == 0));
}

/* The walk of that key, or a slot for it: a free one, else the least
 * recently advanced (ended here). */
static struct walk *walk_find(struct readahead *ra, bool listings, const char *region, const char *instance,
			      const char *status, const struct cache_invocations **drop_listing,
			      const struct cache_instances **drop_instances, bool *ret_new)
{
	struct walk *oldest = NULL;

	*ret_new = false;
	for (size_t i = 0; i < READAHEAD_MAX_WALKS; i++) {
		struct walk *w = &ra->walks[i];

		if (walk_is(w, listings, region, instance, status))
			return w;
		if (oldest == NULL || !w->used || (oldest->used && w->progress_ms < oldest->progress_ms))
			oldest = w;
	}
	if (oldest->used)
		walk_end(ra, oldest, drop_listing, drop_instances);
	*ret_new = true;
	return oldest;
}

/* Records a visit of @pos; returns true if the walk goes on (or starts),
 * false if it is a first visit. */
static bool walk_visit(struct readahead *ra, struct walk *w, size_t pos, uint64_t now)
{
	if (w->visits > 0 && pos == w->last)
		return w->window > 0; /* output, then result.json of the same one */
	for (unsigned i = 0; i < w->nahead; i++) {
		if (w->ahead[i] == pos) {
			ra->stats.results_hit++;
			w->ahead[i] = w->ahead[--w->nahead];
			break;
		}
	}
	w->last = pos;
	w->visits++;
	w->progress_ms = now;
	if (w->next <= pos)
		w->next = pos + 1;
	if (w->visits < 2)
		return false;
	w->window = w->window == 0 ? 2 : w->window * 2;
	if (w->window > ra->cfg.window)
		w->window = ra->cfg.window;
	return true;
}

/* Positions past the last visit that may be fetched ahead now. */
static size_t walk_count(const struct walk *w)
{
	return w->listings ? w->instances->count : w->st->count;
}

static bool walk_wants_more(const struct readahead *ra, const struct walk *w)
{
	unsigned limit = w->window < ra->cwnd ? w->window : ra->cwnd;

	return w->window > 0 && w->next < walk_count(w) && w->next <= w->last + w->window &&
	       w->inflight < limit && w->nahead + w->inflight < READAHEAD_MAX_AHEAD;
}

/* ---- jobs ---- */

static void job_free(struct job *j)
{
	if (j->rec != NULL)
		cache_record_unref(j->ra->cfg.cache, j->rec);
	free(j->inst.id);
	free(j);
}

/* A job for the walk's next position, or NULL (no memory). Under ra->lock. */
static struct job *job_for(struct readahead *ra, struct walk *w)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->ra = ra;
	j->slot = (size_t)(w - ra->walks);
	j->epoch = w->epoch;
	j->pos = w->next;
	j->listings = w->listings;
	memcpy(j->region, w->region, sizeof(j->region));
	if (w->listings) {
		const struct cache_instance *in = &w->instances->items[w->next];

		j->inst.id = strdup(in->id);
		j->inst.ctime = in->ctime;
	} else {
		j->inst.id = strdup(w->instance);
		j->inst.ctime = w->instance_ctime;
		j->rec = w->st->records[w->next];
		cache_record_ref(ra->cfg.cache, j->rec);
	}
	if (j->inst.id == NULL) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void job_run(void *arg);
static void job_drop(void *arg);

/* Hands the walk's next positions to jobs while its window allows. Under
 * ra->lock; bg_submit takes bg's lock, which never takes ours. */
static void walk_pump(struct readahead *ra, struct walk *w)
{
	while (walk_wants_more(ra, w)) {
		struct job *j = job_for(ra, w);

		if (j == NULL)
			return;
		if (bg_submit(ra->cfg.bg, job_run, job_drop, j) != 0) {
			job_free(j);
			return;
		}
		w->next++;
		w->inflight++;
	}
}

/* Shrinks or widens the congestion window after a prefetch. Under ra->lock. */
static void congestion(struct readahead *ra, bool throttled)
{
	unsigned old = ra->cwnd;

	if (throttled)
		ra->cwnd = ra->cwnd > 1 ? ra->cwnd / 2 : 1;
	else if (ra->cwnd < ra->cfg.window)
		ra->cwnd++;
	if (ra->cfg.verbose && ra->cwnd != old && (throttled || ra->cwnd == ra->cfg.window))
		log_info("readahead: window %u (%s)", ra->cwnd, throttled ? "throttled" : "recovered");
}

/* True if nothing should be fetched ahead now: the endpoint is down, or the
 * cache is close to its bound. */
static bool must_hold_back(struct readahead *ra, const char *region)
{
	size_t held, max;

	if (cache_endpoint_is_open(ra->cfg.cache, region))
		return true;
	cache_get_bytes(ra->cfg.cache, &held, &max);
	return held > max / 4 * 3;
}

static void job_finish(struct job *j, bool ran, bool fetched, bool throttled, bool promoted)
{
	struct readahead *ra = j->ra;
	struct walk *w = &ra->walks[j->slot];

	pthread_mutex_lock(&ra->lock);
	if (ran)
		congestion(ra, throttled);
	if (fetched && j->listings)
		ra->stats.listings_fetched++;
	if (fetched && !j->listings)
		ra->stats.results_fetched++;
	if (promoted)
		ra->stats.promoted++;
	if (w->used && w->epoch == j->epoch) {
		w->inflight--;
		/* Visited already: the reader waited for this very fetch. */
		if (fetched && !j->listings && j->pos <= w->last)
			ra->stats.results_hit++;
		else if (fetched && !j->listings && w->nahead < READAHEAD_MAX_AHEAD)
			w->ahead[w->nahead++] = j->pos;
		if (ran && !throttled)
			walk_pump(ra, w);
	}
	ra->stats.window = ra->cwnd;
	pthread_mutex_unlock(&ra->lock);
	job_free(j);
}

static void job_run(void *arg)
{
	struct job *j = arg;
	struct readahead *ra = j->ra;
	unsigned long before = throttled_so_far(ra->cfg.metrics);
	struct reqclass_ticket ticket;
	bool fetched = false;
	int r = 0;

	lockrule_assert_none();
	if (must_hold_back(ra, j->region)) {
		job_finish(j, false, false, false, false);
		return;
	}
	/* Background until a reader waits for this fetch (reqclass.h); the
	 * cache lets go of the ticket before its fetch returns. */
	reqclass_ticket_init(&ticket);
	reqclass_set(&ticket);
	if (j->listings)
		r = cache_prefetch_invocations(ra->cfg.cache, j->region, &j->inst, &fetched);
	else
		r = cache_prefetch_result(ra->cfg.cache, j->region, j->inst.id, j->rec, &fetched);
	reqclass_set(NULL);
	job_finish(j, true, r == 0 && fetched, throttled_so_far(ra->cfg.metrics) != before,
		   !reqclass_is_background(&ticket));
}

static void job_drop(void *arg)
{
	job_finish(arg, false, false, false, false);
}

/* ---- notes ---- */

/* Ends the walks that did not advance for READAHEAD_IDLE_MS. Under
 * ra->lock; collects their snapshots into @drop (two per walk). */
static size_t end_idle(struct readahead *ra, uint64_t now, const void **drop)
{
	size_t n = 0;

	for (size_t i = 0; i < READAHEAD_MAX_WALKS; i++) {
		struct walk *w = &ra->walks[i];
		const struct cache_invocations *l = NULL;
		const struct cache_instances *in = NULL;

		if (!w->used || now - w->progress_ms < READAHEAD_IDLE_MS)
			continue;
		walk_end(ra, w, &l, &in);
		drop[n++] = l;
		drop[n++] = in;
	}
	return n;
}

static void drop_snapshots(struct readahead *ra, const void **drop, size_t n)
{
	for (size_t i = 0; i < n; i += 2) {
		cache_invocations_unref(ra->cfg.cache, drop[i]);
		cache_instances_unref(ra->cfg.cache, drop[i + 1]);
	}
}

/* Starts @w over on the snapshot the reader sees. Under ra->lock; the old
 * snapshots go to @drop. */
static void walk_start(struct readahead *ra, struct walk *w, bool listings, const char *region,
		       const void **drop, size_t *ndrop)
{
	const struct cache_invocations *l = NULL;
	const struct cache_instances *in = NULL;

	if (w->used)
		walk_end(ra, w, &l, &in);
	drop[(*ndrop)++] = l;
	drop[(*ndrop)++] = in;
	w->used = true;
	w->listings = listings;
	w->epoch = ++ra->epochs;
	snprintf(w->region, sizeof(w->region), "%s", region);
}

/* What a note collects under ra->lock to drop after it: the snapshots of
 * the walks it ended (two a walk). */
struct note {
	const void *drop[2 * READAHEAD_MAX_WALKS + 12];
	size_t ndrop;
	uint64_t now;
};

/* Takes ra->lock, ends the idle walks, and finds the walk of that key (or a
 * slot for a new one: *ret_fresh). */
static struct walk *note_begin(struct readahead *ra, struct note *nt, bool listings, const char *region,
			       const char *instance, const char *status, bool *ret_fresh)
{
	const struct cache_invocations *dl = NULL;
	const struct cache_instances *di = NULL;
	struct walk *w;

	nt->now = now_ms();
	pthread_mutex_lock(&ra->lock);
	nt->ndrop = end_idle(ra, nt->now, nt->drop);
	w = walk_find(ra, listings, region, instance, status, &dl, &di, ret_fresh);
	nt->drop[nt->ndrop++] = dl;
	nt->drop[nt->ndrop++] = di;
	return w;
}

/* Releases ra->lock, then what the note collected. */
static void note_end(struct readahead *ra, struct note *nt)
{
	pthread_mutex_unlock(&ra->lock);
	drop_snapshots(ra, nt->drop, nt->ndrop);
}

/* The status directory after @cur in @order, skipping empty ones; NULL if
 * none. */
static const struct cache_status *next_status(const struct cache_invocations *l, const char *cur, int order)
{
	const struct cache_status *best = NULL;
	bool after = false;

	for (size_t i = 0; i < l->nstatuses; i++) {
		const struct cache_status *st = &l->statuses[i];

		if (order == ORDER_LISTING) {
			if (after && st->count > 0)
				return st;
			after = after || strcmp(st->name, cur) == 0;
		} else if (st->count > 0 && strcmp(st->name, cur) > 0 &&
			   (best == NULL || strcmp(st->name, best->name) < 0)) {
			best = st;
		}
	}
	return best;
}

/* Learns the order from a walker that moved from the hot status directory to
 * @status of the same instance. Under ra->lock. */
static void learn_order(struct readahead *ra, const struct cache_invocations *l, const char *instance,
			const char *status)
{
	const struct cache_status *by_name, *by_listing;

	if (strcmp(ra->hot_instance, instance) != 0 || strcmp(ra->hot_status, status) == 0)
		return;
	by_name = next_status(l, ra->hot_status, ORDER_NAME);
	by_listing = next_status(l, ra->hot_status, ORDER_LISTING);
	if (by_name != NULL && strcmp(by_name->name, status) == 0)
		ra->hot_order = ORDER_NAME;
	else if (by_listing != NULL && strcmp(by_listing->name, status) == 0)
		ra->hot_order = ORDER_LISTING;
	else
		ra->hot_order = ORDER_UNKNOWN;
}

/* When walk @w has handed out its last position and the order is known,
 * starts the walk of the status directory the walker takes next, so its
 * first results are under way when it gets there. Under ra->lock. */
/* The first non-empty status directory of @l in @order; NULL if none. */
static const struct cache_status *first_status(const struct cache_invocations *l, int order)
{
	const struct cache_status *best = NULL;

	for (size_t i = 0; i < l->nstatuses; i++) {
		const struct cache_status *st = &l->statuses[i];

		if (st->count == 0)
			continue;
		if (order == ORDER_LISTING)
			return st;
		if (best == NULL || strcmp(st->name, best->name) < 0)
			best = st;
	}
	return best;
}

/* The instance after @w's in its region's list, if that list and the next
 * instance's listing are held (a reference in *ret_listing); else false.
 * Peeks only: memory work under ra->lock. */
static bool next_instance(struct readahead *ra, const struct walk *w, char ret_id[static CACHE_NAME_MAX + 1],
			  time_t *ret_ctime, const struct cache_invocations **ret_listing)
{
	const struct cache_instances *l = NULL;
	const struct cache_instance *in;
	bool found = false;

	if (cache_peek_instances(ra->cfg.cache, w->region, &l) < 0)
		return false;
	in = cache_find_instance(l, w->instance);
	if (in != NULL && (size_t)(in - l->items) + 1 < l->count) {
		/* Copied: the list may be replaced once let go. */
		snprintf(ret_id, CACHE_NAME_MAX + 1, "%s", in[1].id);
		*ret_ctime = in[1].ctime;
		found = cache_peek_invocations(ra->cfg.cache, w->region, ret_id, ret_listing) == 0;
	}
	cache_instances_unref(ra->cfg.cache, l);
	return found;
}

/* When walk @w has handed out its last position and the order is known,
 * starts the walk of the status directory the walker takes next (in this
 * instance, else the first of the next instance whose listing is held), so
 * its first results are under way when it gets there. Under ra->lock. */
static void chain_next(struct readahead *ra, struct walk *w, uint64_t now, const void **drop, size_t *ndrop)
{
	const struct cache_invocations *dl = NULL, *l = w->listing, *next_listing = NULL;
	const struct cache_instances *di = NULL;
	char id[CACHE_NAME_MAX + 1];
	time_t ctime = w->instance_ctime;
	const struct cache_status *ns;
	struct walk *w2;
	bool fresh;

	if (w->chained || w->next < w->st->count || ra->hot_order == ORDER_UNKNOWN ||
	    strcmp(ra->hot_instance, w->instance) != 0)
		return;
	w->chained = true;
	snprintf(id, sizeof(id), "%s", w->instance);
	ns = next_status(l, w->status, ra->hot_order);
	if (ns == NULL && next_instance(ra, w, id, &ctime, &next_listing)) {
		l = next_listing;
		ns = first_status(l, ra->hot_order);
	}
	drop[(*ndrop)++] = next_listing; /* the walk takes its own reference */
	drop[(*ndrop)++] = NULL;
	if (ns == NULL)
		return;
	w2 = walk_find(ra, false, w->region, id, ns->name, &dl, &di, &fresh);
	drop[(*ndrop)++] = dl;
	drop[(*ndrop)++] = di;
	if (!fresh || w2 == w)
		return;
	walk_start(ra, w2, false, w->region, drop, ndrop);
	snprintf(w2->instance, sizeof(w2->instance), "%s", id);
	snprintf(w2->status, sizeof(w2->status), "%s", ns->name);
	w2->instance_ctime = ctime;
	cache_invocations_ref(ra->cfg.cache, l);
	w2->listing = l;
	w2->st = ns;
	w2->window = w->window;
	w2->progress_ms = now;
	walk_pump(ra, w2);
}

void readahead_note_result(struct readahead *ra, const char *region, const struct cache_instance *instance,
			   const struct cache_invocations *listing, const struct cache_status *status,
			   size_t index)
{
	struct note nt;
	struct walk *w;
	bool fresh;

	if (ra == NULL || ra->cfg.window == 0)
		return;
	w = note_begin(ra, &nt, false, region, instance->id, status->name, &fresh);
	/* A new walk, another snapshot, or a jump back: start over here. */
	if (fresh || w->listing != listing || index < w->last) {
		walk_start(ra, w, false, region, nt.drop, &nt.ndrop);
		snprintf(w->instance, sizeof(w->instance), "%s", instance->id);
		snprintf(w->status, sizeof(w->status), "%s", status->name);
		w->instance_ctime = instance->ctime;
		cache_invocations_ref(ra->cfg.cache, listing);
		w->listing = listing;
		w->st = status;
		/* The walker comes from a walk next door (ls -lR, rsync): it
		 * walks here too, at the window it had. */
		if (ra->hot_window > 0 && nt.now - ra->hot_ms < READAHEAD_IDLE_MS &&
		    strcmp(ra->hot_region, region) == 0) {
			learn_order(ra, listing, instance->id, status->name);
			w->visits = 1;
			w->last = index;
			w->next = index + 1;
			w->progress_ms = nt.now;
			w->window = ra->hot_window;
		}
	}
	if (walk_visit(ra, w, index, nt.now) || (w->visits == 1 && w->window > 0)) {
		walk_pump(ra, w);
		snprintf(ra->hot_region, sizeof(ra->hot_region), "%s", region);
		snprintf(ra->hot_instance, sizeof(ra->hot_instance), "%s", instance->id);
		snprintf(ra->hot_status, sizeof(ra->hot_status), "%s", status->name);
		ra->hot_window = w->window;
		ra->hot_ms = nt.now;
		chain_next(ra, w, nt.now, nt.drop, &nt.ndrop);
	}
	note_end(ra, &nt);
}

void readahead_note_listing(struct readahead *ra, const char *region, const struct cache_instances *instances,
			    size_t index)
{
	struct note nt;
	struct walk *w;
	bool fresh;

	if (ra == NULL || ra->cfg.window == 0)
		return;
	w = note_begin(ra, &nt, true, region, NULL, NULL, &fresh);
	/* In order means the next instance: a jump either way starts over. */
	if (fresh || w->instances != instances || (index != w->last && index != w->last + 1)) {
		walk_start(ra, w, true, region, nt.drop, &nt.ndrop);
		cache_instances_ref(ra->cfg.cache, instances);
		w->instances = instances;
	}
	if (walk_visit(ra, w, index, nt.now))
		walk_pump(ra, w);
	note_end(ra, &nt);
}

/* ---- life ---- */

int readahead_new(const struct readahead_config *cfg, struct readahead **ret)
{
	struct readahead *ra;

	if (cfg == NULL || cfg->cache == NULL || cfg->bg == NULL)
		return -EINVAL;
	ra = calloc(1, sizeof(*ra));
	if (ra == NULL)
		return -ENOMEM;
	ra->cfg = *cfg;
	if (ra->cfg.window > READAHEAD_MAX_AHEAD)
		ra->cfg.window = READAHEAD_MAX_AHEAD;
	ra->cwnd = ra->cfg.window;
	ra->stats.window = ra->cwnd;
	pthread_mutex_init(&ra->lock, NULL);
	*ret = ra;
	return 0;
}

void readahead_free(struct readahead *ra)
{
	if (ra == NULL)
		return;
	for (size_t i = 0; i < READAHEAD_MAX_WALKS; i++) {
		cache_invocations_unref(ra->cfg.cache, ra->walks[i].listing);
		cache_instances_unref(ra->cfg.cache, ra->walks[i].instances);
	}
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

void readahead_get_stats(struct readahead *ra, struct readahead_stats *ret)
{
	if (ra == NULL) {
		memset(ret, 0, sizeof(*ret));
		return;
	}
	pthread_mutex_lock(&ra->lock);
	*ret = ra->stats;
	ret->window = ra->cwnd;
	pthread_mutex_unlock(&ra->lock);
}
