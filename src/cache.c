// SPDX-License-Identifier: MIT
/*
 * cache: TTL snapshots of regions, instances, invocation listings and results,
 * with one fetch per stale key however many readers wait (see cache.h).
 *
 * Locking: c->lock protects every slot and the logged-names set; it is held
 * for memory work only, never across an API call or a snapshot free. Waiting
 * for another thread's fetch is c->cond. The one lock taken under it is the
 * request slots' (reqclass.h), a leaf, when a waiter promotes a prefetch.
 * Snapshots are immutable once published and carry an atomic reference
 * count, so readers use them unlocked.
 *
 * Memory: each snapshot knows the bytes it owns (snap.bytes, measured with
 * malloc_usable_size when it is built); each slot is charged those plus its
 * own, and c->bytes is the sum. Slots of results and of invocation listings
 * sit on two
 * LRU lists (most recent first), moved to the front on every get; past
 * c->max_bytes the tail of the results list goes first, then that of the
 * listings list (evict_locked). The region and instance lists are counted
 * but never dropped.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg.h"
#include "breaker.h"
#include "cache.h"
#include "lockrule.h"
#include "log.h"
#include "reqclass.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Slots and logged names: a few per instance and invocation seen. */
#define TABLE_MIN_BUCKETS 1024u

const char *const cache_fixed_statuses[CACHE_FIXED_STATUSES] = {
	"Running",
	"Finished",
	"Failed",
	"Stopped",
};

enum snap_kind {
	SNAP_REGIONS,
	SNAP_INSTANCES,
	SNAP_INVOCATIONS,
	SNAP_RESULT,
};

struct snap {
	atomic_uint refs;
	enum snap_kind kind;
	size_t bytes; /* what the snapshot owns, malloc's real sizes; set once built */
};

struct regions_snap {
	struct snap s;
	struct cache_regions pub;
};

struct instances_snap {
	struct snap s;
	struct cache_instances pub;
};

/* A record shared by the listings that contain it. */
struct record {
	atomic_uint refs;
	struct cache_record pub;
};

struct invocations_snap {
	struct snap s;
	struct cache_invocations pub;
	const struct swas_archive *archive; /* the statuses' archived entries lie in it; a reference */
};

struct result_snap {
	struct snap s;
	struct cache_result pub;
};

/* A chained string-keyed hash table; used under c->lock only. */
struct entry {
	struct entry *next;
	char *key;
	size_t keylen;
	uint64_t hash;
};

struct table {
	struct entry **buckets;
	size_t nbuckets;
	size_t count;
};

/* Which LRU list a slot is on. The region list and the instance lists are on
 * none: they are never dropped (small, and refetching them costs calls
 * limited to 10 a minute). */
enum lru_class {
	LRU_NONE,
	LRU_RESULTS,
	LRU_LISTINGS,
	LRU_CLASSES,
};

/* An intrusive doubly linked list node; a list's head is a node too. */
struct lru {
	struct lru *prev, *next;
};

struct slot {
	struct entry e; /* first: a slot is its table entry */
	struct lru lru; /* on c->lru[cls] unless cls is LRU_NONE */
	enum lru_class cls;
	size_t charged;	      /* bytes counted in c->bytes for this slot */
	unsigned users;	      /* readers inside slot_get for it: not to be dropped */
	struct snap *value;   /* the last good snapshot; the slot holds a reference */
	uint64_t fresh_until; /* ms on the cache clock */
	uint64_t done_seq;    /* completed fetches, for waiters */
	int last_rc;	      /* outcome of the last completed fetch */
	bool fetching;
	/* The request class of the fetch under way when a reader runs it in
	 * slot_get (that thread's reqclass_current(): a prefetch's ticket, or
	 * NULL); cleared in slot_done, before the fetch returns to its owner,
	 * so it is never used after the ticket's job ends. A foreground
	 * reader that joins the fetch promotes it. */
	struct reqclass_ticket *ticket;
	bool probe;  /* the fetch under way is its endpoint's breaker probe */
	bool waited; /* a reader already waited stale_wait_ms for the fetch under way */
	bool pinned; /* never refreshed (-o regions) */
};

/* One API endpoint (a region's, or ListRegions'), keyed by region id. */
struct endpoint {
	struct entry e; /* first: an endpoint is its table entry */
	struct breaker breaker;
};

/* Refreshes running on threads of their own at once; past this, a reader
 * refreshes itself (and waits), so a walk over many stale listings cannot
 * make threads without bound. */
#define CACHE_MAX_REFRESHES 32

struct cache {
	struct fetcher *fetcher; /* borrowed */
	struct bg *bg;		 /* borrowed: runs the refreshes */
	unsigned cache_ttl_s;
	unsigned instance_ttl_s;
	cache_clock_fn clock;
	void *clock_arg;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct table slots;	     /* protected by lock */
	struct table logged;	     /* what was logged once already (first_time); protected by lock */
	struct table endpoints;	     /* struct endpoint; protected by lock */
	uint64_t next_generation;    /* protected by lock */
	unsigned refreshing;	     /* refresh threads running; protected by lock */
	struct lru lru[LRU_CLASSES]; /* most recently used first; protected by lock */
	size_t max_bytes;
	size_t bytes;		    /* sum of the slots' charged bytes; protected by lock */
	unsigned long evictions;    /* protected by lock */
	unsigned long hits, misses; /* protected by lock */
	unsigned stale_wait_ms;
	_Atomic uint64_t degraded_until; /* ms: stale data served until about then */
};

/* What differs between the four kinds of data. */
struct fetch_ctx {
	const char *endpoint; /* breaker key: the region id, "" for ListRegions */
	const char *region;
	const struct cache_instance *inst;
	const struct cache_record *rec;
	const char *what; /* for log lines: "ListInstances cn-hangzhou" */
	enum lru_class cls;
};

typedef int (*fetch_fn)(struct cache *c, const struct fetch_ctx *ctx, struct snap *old, struct snap **ret,
			struct api_error *err);

static uint64_t monotonic_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(const struct cache *c)
{
	return c->clock(c->clock_arg);
}

/* c->lock, with the locking rules' bookkeeping (lockrule.h). */
static void cache_lock(struct cache *c)
{
	lockrule_assert_free(LOCK_NODES | LOCK_SLOTS);
	pthread_mutex_lock(&c->lock);
	lockrule_acquired(LOCK_CACHE);
}

static void cache_unlock(struct cache *c)
{
	lockrule_released(LOCK_CACHE);
	pthread_mutex_unlock(&c->lock);
}

bool cache_is_valid_name(const char *s, size_t len)
{
	if (s == NULL || len == 0 || len > CACHE_NAME_MAX)
		return false;
	if (s[0] == '.')
		return false;
	return memchr(s, '/', len) == NULL && memchr(s, '\0', len) == NULL;
}

/* ---- hash table ---- */

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Folds @len bytes and a separator into a running FNV-1a digest. */
static uint64_t digest_add(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	h ^= 0xff; /* a byte no name holds after its end: "ab"+"c" != "a"+"bc" */
	return h * 0x100000001b3ull;
}

#define DIGEST_INIT 0xcbf29ce484222325ull

/* A digest as a timespec's nanoseconds. */
static long digest_ns(uint64_t h)
{
	return (long)(h % 1000000000u);
}

static int table_init(struct table *t)
{
	t->buckets = calloc(TABLE_MIN_BUCKETS, sizeof(*t->buckets));
	if (t->buckets == NULL)
		return -ENOMEM;
	t->nbuckets = TABLE_MIN_BUCKETS;
	t->count = 0;
	return 0;
}

static struct entry *table_find(const struct table *t, const char *key, size_t keylen, uint64_t h)
{
	for (struct entry *e = t->buckets[h % t->nbuckets]; e != NULL; e = e->next) {
		if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
			return e;
	}
	return NULL;
}

/* Doubling keeps chains short; a failed grow only costs speed. */
static void table_grow(struct table *t)
{
	size_t n = t->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry *e = t->buckets[i];

		while (e != NULL) {
			struct entry *next = e->next;

			e->next = b[e->hash % n];
			b[e->hash % n] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* Links @e (with key set) into @t. */
static void table_insert(struct table *t, struct entry *e)
{
	if (t->count >= t->nbuckets * 2)
		table_grow(t);
	e->next = t->buckets[e->hash % t->nbuckets];
	t->buckets[e->hash % t->nbuckets] = e;
	t->count++;
}

static int entry_init(struct entry *e, const char *key, size_t keylen)
{
	e->key = malloc(keylen ? keylen : 1);
	if (e->key == NULL)
		return -ENOMEM;
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	e->hash = hash_bytes(key, keylen);
	e->next = NULL;
	return 0;
}

/* Unlinks @e from @t; it must be there. */
static void table_remove(struct table *t, struct entry *e)
{
	struct entry **p = &t->buckets[e->hash % t->nbuckets];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	e->next = NULL;
	t->count--;
}

/* ---- LRU lists ---- */

static void lru_init(struct lru *head)
{
	head->prev = head->next = head;
}

static void lru_unlink(struct lru *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

/* Puts @n first in @head's list (most recently used). */
static void lru_push_front(struct lru *head, struct lru *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

/* ---- memory accounting ---- */

/* What malloc really reserved for @p (0 for NULL): the unit of max_bytes. */
static size_t usable(const void *p)
{
	return p != NULL ? malloc_usable_size((void *)p) : 0;
}

/* The record's one allocation (swas.h): everything it holds but its struct. */
static size_t invocation_bytes(const struct swas_invocation *inv)
{
	return usable(inv->invoke_id);
}

/* ---- snapshots ---- */

static void record_unref(struct record *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	swas_invocation_done(&r->pub.inv);
	free(r);
}

static void snap_free(struct snap *s)
{
	switch (s->kind) {
	case SNAP_REGIONS: {
		struct regions_snap *r = (struct regions_snap *)s;

		for (size_t i = 0; i < r->pub.count; i++)
			free(r->pub.ids[i]);
		free(r->pub.ids);
		break;
	}
	case SNAP_INSTANCES: {
		struct instances_snap *l = (struct instances_snap *)s;

		for (size_t i = 0; i < l->pub.count; i++) {
			free(l->pub.items[i].id);
			free(l->pub.items[i].name);
			free(l->pub.items[i].record);
		}
		free(l->pub.items);
		for (size_t i = 0; i < l->pub.nby_name; i++)
			free(l->pub.by_name[i].name);
		free(l->pub.by_name);
		break;
	}
	case SNAP_INVOCATIONS: {
		struct invocations_snap *l = (struct invocations_snap *)s;

		for (size_t i = 0; i < l->pub.nstatuses; i++) {
			struct cache_status *st = &l->pub.statuses[i];

			for (size_t j = 0; j < st->count; j++)
				record_unref(container_of(st->records[j], struct record, pub));
			free(st->records);
			free(st->name);
		}
		free(l->pub.statuses);
		if (l->archive != NULL)
			l->archive->ops->unref(l->archive);
		break;
	}
	case SNAP_RESULT: {
		struct result_snap *r = (struct result_snap *)s;

		swas_result_done(&r->pub.res);
		break;
	}
	}
	free(s);
}

/* Sets s->bytes: everything the snapshot owns (records shared with an older
 * snapshot of the same listing included: the cache holds one of the two).
 * Called once, when the snapshot is built, before it is published. */
static void snap_measure(struct snap *s)
{
	size_t n = usable(s);

	switch (s->kind) {
	case SNAP_REGIONS: {
		const struct regions_snap *r = (const struct regions_snap *)s;

		n += usable(r->pub.ids);
		for (size_t i = 0; i < r->pub.count; i++)
			n += usable(r->pub.ids[i]);
		break;
	}
	case SNAP_INSTANCES: {
		const struct instances_snap *l = (const struct instances_snap *)s;

		n += usable(l->pub.items) + usable(l->pub.by_name);
		for (size_t i = 0; i < l->pub.count; i++)
			n += usable(l->pub.items[i].id) + usable(l->pub.items[i].name) +
			     usable(l->pub.items[i].record);
		for (size_t i = 0; i < l->pub.nby_name; i++)
			n += usable(l->pub.by_name[i].name);
		break;
	}
	case SNAP_INVOCATIONS: {
		const struct invocations_snap *l = (const struct invocations_snap *)s;

		n += usable(l->pub.statuses);
		for (size_t i = 0; i < l->pub.nstatuses; i++) {
			const struct cache_status *st = &l->pub.statuses[i];

			n += usable(st->name) + usable(st->records);
			for (size_t j = 0; j < st->count; j++) {
				const struct record *rec = container_of(st->records[j], struct record, pub);

				n += usable(rec) + invocation_bytes(&rec->pub.inv);
			}
		}
		/* Shared with the listing's other snapshots and the store: counted
		 * here all the same, so max_cache bounds what listings cost. */
		if (l->archive != NULL)
			n += l->archive->bytes;
		break;
	}
	case SNAP_RESULT: {
		const struct result_snap *r = (const struct result_snap *)s;

		n += usable(r->pub.res.output) + usable(r->pub.res.result_json) +
		     usable(r->pub.res.invoke_record_status);
		break;
	}
	}
	s->bytes = n;
}

static void snap_ref(struct snap *s)
{
	atomic_fetch_add(&s->refs, 1);
}

static void snap_unref(struct snap *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		snap_free(s);
}

static void *snap_alloc(size_t size, enum snap_kind kind)
{
	struct snap *s = calloc(1, size);

	if (s == NULL)
		return NULL;
	atomic_init(&s->refs, 1);
	s->kind = kind;
	return s;
}

/* True the first time @key is seen in this mount: for log lines that would
 * otherwise repeat at every refresh. Called without c->lock. */
static bool first_time(struct cache *c, const char *key)
{
	size_t len = strlen(key);
	uint64_t h = hash_bytes(key, len);
	struct entry *e;
	bool first = false;

	cache_lock(c);
	if (table_find(&c->logged, key, len, h) == NULL) {
		e = malloc(sizeof(*e));
		if (e != NULL && entry_init(e, key, len) == 0) {
			table_insert(&c->logged, e);
			first = true;
		} else {
			free(e);
		}
	}
	cache_unlock(c);
	return first;
}

/* Reports an unusable name once per mount. */
static void log_bad_name_once(struct cache *c, const char *what, const char *name)
{
	if (first_time(c, name))
		log_warn("skipping %s \"%.64s\" (%zu bytes): not usable as a file name", what, name,
			 strlen(name));
}

/* ---- the generic get: fresh snapshot, or one fetch for all waiters ---- */

/* Counts slot @s again after its value changed. Called with c->lock. */
static void slot_charge(struct cache *c, struct slot *s)
{
	size_t n = usable(s) + usable(s->e.key) + (s->value != NULL ? s->value->bytes : 0);

	c->bytes = c->bytes - s->charged + n;
	s->charged = n;
}

/* Marks @s used now: first in its LRU list. Called with c->lock. */
static void slot_touch(struct cache *c, struct slot *s)
{
	if (s->cls == LRU_NONE)
		return;
	lru_unlink(&s->lru);
	lru_push_front(&c->lru[s->cls], &s->lru);
}

/* The slot of @key, made (empty, first in the @cls list) if there is none.
 * Called with c->lock. */
static struct slot *slot_find_or_add(struct cache *c, const char *key, size_t keylen, enum lru_class cls)
{
	uint64_t h = hash_bytes(key, keylen);
	struct entry *e = table_find(&c->slots, key, keylen, h);
	struct slot *s;

	if (e != NULL)
		return (struct slot *)e;
	s = calloc(1, sizeof(*s));
	if (s == NULL || entry_init(&s->e, key, keylen) != 0) {
		free(s);
		return NULL;
	}
	s->cls = cls;
	lru_init(&s->lru);
	table_insert(&c->slots, &s->e);
	slot_charge(c, s);
	return s;
}

/* A slot on an LRU list that may be dropped now: nobody fetches it or waits
 * in it. */
static bool slot_is_idle(const struct slot *s)
{
	return !s->fetching && s->users == 0 && !s->pinned;
}

/*
 * Drops idle slots, least recently used results first, then listings, until
 * c->bytes is within c->max_bytes or nothing idle is left. Called with
 * c->lock; the dropped slots are chained on *dropped (through e.next) for
 * slots_free() after the lock is released: freeing a snapshot is not done
 * under the lock.
 */
static void evict_locked(struct cache *c, struct entry **dropped)
{
	static const enum lru_class order[] = { LRU_RESULTS, LRU_LISTINGS };

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]) && c->bytes > c->max_bytes; k++) {
		struct lru *head = &c->lru[order[k]], *n = head->prev;

		while (n != head && c->bytes > c->max_bytes) {
			struct slot *s = container_of(n, struct slot, lru);

			n = n->prev;
			if (!slot_is_idle(s))
				continue;
			lru_unlink(&s->lru);
			table_remove(&c->slots, &s->e);
			c->bytes -= s->charged;
			c->evictions++;
			s->e.next = *dropped;
			*dropped = &s->e;
		}
	}
}

static void slot_free(struct entry *e);

/* Frees the slots evict_locked() chained; called without c->lock. */
static void slots_free(struct entry *dropped)
{
	while (dropped != NULL) {
		struct entry *next = dropped->next;

		free(dropped->key);
		slot_free(dropped);
		dropped = next;
	}
}

static uint64_t ttl_ms_of(const struct cache *c, const struct snap *s)
{
	switch (s->kind) {
	case SNAP_REGIONS:
	case SNAP_INSTANCES:
		return (uint64_t)c->instance_ttl_s * 1000u;
	case SNAP_RESULT:
		if (((const struct result_snap *)s)->pub.is_final)
			return UINT64_MAX / 2; /* final results never change */
		return (uint64_t)c->cache_ttl_s * 1000u;
	case SNAP_INVOCATIONS:
		break;
	}
	return (uint64_t)c->cache_ttl_s * 1000u;
}

static void log_fetch_failure(const struct fetch_ctx *ctx, int rc, const struct api_error *err, bool stale)
{
	const char *tail = stale ? "; serving the last good copy" : "";

	if (err->code[0] != '\0')
		log_error("%s failed: %s: %s (RequestId %s, HTTP %d)%s", ctx->what, err->code, err->message,
			  err->request_id[0] ? err->request_id : "-", err->http_status, tail);
	else if (err->message[0] != '\0')
		log_error("%s failed: %s%s", ctx->what, err->message, tail);
	else
		log_error("%s failed: %s%s", ctx->what, strerror(-rc), tail);
}

/* The breaker of @name's endpoint; created closed. Called with c->lock. */
static struct breaker *endpoint_breaker(struct cache *c, const char *name)
{
	size_t len = strlen(name);
	uint64_t h = hash_bytes(name, len);
	struct entry *e = table_find(&c->endpoints, name, len, h);
	struct endpoint *ep;

	if (e != NULL)
		return &((struct endpoint *)e)->breaker;
	ep = calloc(1, sizeof(*ep));
	if (ep == NULL || entry_init(&ep->e, name, len) != 0) {
		free(ep);
		return NULL;
	}
	table_insert(&c->endpoints, &ep->e);
	return &ep->breaker;
}

/* Failures that say the endpoint is not answering (api.h: -EIO is "retries
 * exhausted": network, timeout, 5xx, throttling, bad body), as opposed to an
 * answer such as NotFound or a refused credential. */
static bool is_transport_failure(int r)
{
	return r == -EIO;
}

/* Kernel caches stay short while stale data is being served: the refresh
 * going on in the background is then seen within about a second. */
static void note_stale_served(struct cache *c)
{
	atomic_store(&c->degraded_until, now_ms(c) + 2u * CACHE_STALE_KERNEL_TTL_S * 1000u);
}

static const char *endpoint_label(const char *endpoint)
{
	return endpoint[0] ? endpoint : "ListRegions";
}

/*
 * Publishes the outcome of a fetch of slot @s (c->lock not held), wakes its
 * waiters, counts its bytes, drops what no longer fits (@s included: the
 * caller must not touch @s afterwards) and logs: a breaker that opens or
 * closes once per outage, other failures once each. @ret is non-NULL for the
 * reader that fetched in slot_get (whose use of the slot ends here), NULL
 * for a refresh thread. Returns the snapshot to serve in *ret (a new
 * reference, or NULL) and 0 if there is one, else the fetch's error.
 */
static int slot_done(struct cache *c, struct slot *s, const struct fetch_ctx *ctx, int r, struct snap *old,
		     struct snap *fresh, const struct api_error *err, struct snap **ret)
{
	bool transport = is_transport_failure(r), stale = false, changed = false, was_open = false;
	struct entry *dropped = NULL;
	struct snap *drop = NULL;
	struct breaker *b;

	cache_lock(c);
	b = endpoint_breaker(c, ctx->endpoint);
	if (b != NULL && r != -ECANCELED && r != -ENOMEM) {
		was_open = breaker_is_open(b);
		changed = breaker_report(b, now_ms(c), transport, s->probe);
	} else if (b != NULL && s->probe) {
		b->probing = false; /* no verdict: let the next caller probe */
	}
	s->probe = false;
	s->fetching = false;
	s->ticket = NULL;
	s->done_seq++;
	s->last_rc = r;
	if (r == 0) {
		drop = s->value;
		s->value = fresh;
		s->fresh_until = now_ms(c) + ttl_ms_of(c, fresh);
	} else if (r == -ENOENT) {
		/* The API says it is gone: an answer, not a failure. */
		drop = s->value;
		s->value = NULL;
	} else if (s->value != NULL) {
		stale = true;
		/* An endpoint that does not answer is the breaker's business (it
		 * decides when to ask again); a refusal is not asked again for a
		 * TTL. */
		if (!transport)
			s->fresh_until = now_ms(c) + ttl_ms_of(c, s->value);
	}
	pthread_cond_broadcast(&c->cond);
	if (ret != NULL && s->value != NULL) {
		snap_ref(s->value);
		*ret = s->value;
	}
	if (ret != NULL)
		s->users--; /* the reader that fetched is done with the slot */
	slot_charge(c, s);
	evict_locked(c, &dropped); /* may drop @s itself: not touched below */
	cache_unlock(c);
	slots_free(dropped);

	if (stale)
		note_stale_served(c);
	if (changed && transport)
		log_error("%s failed: %s; the API endpoint %s is failing: serving cached data, failing what "
			  "was never fetched, probing again in %u s",
			  ctx->what, err->message[0] ? err->message : strerror(-r),
			  endpoint_label(ctx->endpoint), BREAKER_FIRST_MS / 1000u);
	else if (changed)
		log_info("the API endpoint %s answers again", endpoint_label(ctx->endpoint));
	else if (r != 0 && r != -ENOENT && r != -ECANCELED && !(transport && was_open))
		log_fetch_failure(ctx, r, err, stale);
	snap_unref(old);
	snap_unref(drop);
	return stale || r == 0 ? 0 : r;
}

/* A refresh running on a thread of its own, with copies of what it needs. */
struct refresh_job {
	struct cache *c;
	struct slot *s;
	fetch_fn fetch;
	struct snap *old; /* referenced */
	struct fetch_ctx ctx;
	struct cache_instance inst; /* id owned */
	char *region;
	char *endpoint;
	char *what;
};

static void refresh_job_free(struct refresh_job *j)
{
	if (j->ctx.rec != NULL)
		cache_record_unref(j->c, j->ctx.rec);
	free(j->inst.id);
	free(j->region);
	free(j->endpoint);
	free(j->what);
	free(j);
}

/* A refresh job's end, run or dropped: the slot is published, the count
 * falls. */
static void refresh_finish(struct refresh_job *j, int r, struct snap *fresh, const struct api_error *err)
{
	struct cache *c = j->c;

	slot_done(c, j->s, &j->ctx, r, j->old, fresh, err, NULL);
	refresh_job_free(j);
	cache_lock(c);
	c->refreshing--;
	pthread_cond_broadcast(&c->cond);
	cache_unlock(c);
}

/* A refresh, on one of bg's job threads (bg.h). */
static void refresh_run(void *arg)
{
	struct refresh_job *j = arg;
	struct api_error err = { 0 };
	struct snap *fresh = NULL;
	int r;

	r = j->fetch(j->c, &j->ctx, j->old, &fresh, &err);
	refresh_finish(j, r, fresh, &err);
}

/* A refresh that will never run (the daemon is stopping): its waiters get
 * the last good copy, as after a cancelled fetch. */
static void refresh_drop(void *arg)
{
	struct api_error err = { 0 };

	refresh_finish(arg, -ECANCELED, NULL, &err);
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*failed = true;
	return d;
}

/*
 * Starts fetching slot @s (marked fetching) as a background job (bg.h).
 * Called with c->lock held (bg_submit takes bg's lock, never the other way
 * round); returns -EAGAIN when too many refreshes run already, there is no bg
 * or it refuses: the caller then fetches itself.
 */
static int start_refresh(struct cache *c, struct slot *s, fetch_fn fetch, const struct fetch_ctx *ctx)
{
	struct refresh_job *j;
	bool failed = false;
	int r;

	if (c->refreshing >= CACHE_MAX_REFRESHES)
		return -EAGAIN;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -EAGAIN;
	j->c = c;
	j->s = s;
	j->fetch = fetch;
	j->region = dup_or_null(ctx->region, &failed);
	j->endpoint = dup_or_null(ctx->endpoint, &failed);
	j->what = dup_or_null(ctx->what, &failed);
	if (ctx->inst != NULL) {
		j->inst.id = dup_or_null(ctx->inst->id, &failed);
		j->inst.ctime = ctx->inst->ctime;
		j->ctx.inst = &j->inst;
	}
	if (ctx->rec != NULL) {
		cache_record_ref(c, ctx->rec);
		j->ctx.rec = ctx->rec;
	}
	j->ctx.region = j->region;
	j->ctx.endpoint = j->endpoint;
	j->ctx.what = j->what;
	if (failed)
		goto out_job;
	j->old = s->value;
	if (j->old != NULL)
		snap_ref(j->old);
	r = c->bg != NULL ? bg_submit(c->bg, refresh_run, refresh_drop, j) : -EAGAIN;
	if (r != 0) {
		/* Under c->lock: the reference cannot be the last one (the slot
		 * holds another), so this frees nothing. */
		if (j->old != NULL)
			atomic_fetch_sub(&j->old->refs, 1);
		goto out_job;
	}
	c->refreshing++;
	return 0;

out_job:
	refresh_job_free(j);
	return -EAGAIN;
}

/* Adds @ms to CLOCK_MONOTONIC now, as a deadline for c->cond. */
static struct timespec deadline_in(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000u;
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * The generic get. A fresh snapshot is returned at once. Otherwise one fetch
 * runs for all callers (singleflight):
 *   - never fetched: the caller fetches, or waits for the fetch under way,
 *     however long it takes (at most the API's retry budget);
 *   - stale: the refresh runs on a thread of its own; callers wait for it at
 *     most stale_wait_ms (only the first: once one has waited that long, the
 *     others do not wait again for the same refresh), then get the last good
 *     snapshot (stale-while-revalidate) while the kernel is told to keep
 *     things only briefly.
 * While the endpoint's breaker is open, nothing is asked: stale data is
 * served at once and data never fetched fails at once with -EIO. The one
 * probe a period runs on a thread of its own too, so no reader waits a
 * retry budget for it: never-fetched data waits for the probe at most
 * stale_wait_ms, like stale data.
 */
static int slot_get(struct cache *c, const char *key, size_t keylen, fetch_fn fetch,
		    const struct fetch_ctx *ctx, struct snap **ret)
{
	struct api_error err = { 0 };
	struct snap *old, *fresh = NULL;
	enum breaker_verdict verdict;
	struct breaker *b;
	struct timespec deadline;
	struct slot *s;
	uint64_t seq;
	int r;

	*ret = NULL;
	cache_lock(c);
	s = slot_find_or_add(c, key, keylen, ctx->cls);
	if (s == NULL) {
		cache_unlock(c);
		return -ENOMEM;
	}
	slot_touch(c, s);
	if (s->value != NULL && (s->pinned || now_ms(c) < s->fresh_until)) {
		c->hits++;
		goto out_hit;
	}
	c->misses++;
	/* From here on the slot may be waited in: eviction leaves it alone. */
	s->users++;
	if (!s->fetching) {
		b = endpoint_breaker(c, ctx->endpoint);
		if (b == NULL) {
			r = -ENOMEM;
			goto out_release;
		}
		verdict = breaker_check(b, now_ms(c));
		if (verdict == BREAKER_BLOCK) {
			if (s->value != NULL)
				goto out_stale;
			r = -EIO;
			goto out_release;
		}
		s->fetching = true;
		s->waited = false;
		s->probe = verdict == BREAKER_PROBE;
		if ((s->value == NULL && !s->probe) || start_refresh(c, s, fetch, ctx) < 0) {
			/* Fetch here; the others wait for us. slot_done releases
			 * our use of the slot. */
			old = s->value;
			if (old != NULL)
				snap_ref(old);
			s->ticket = reqclass_current();
			cache_unlock(c);
			r = fetch(c, ctx, old, &fresh, &err);
			return slot_done(c, s, ctx, r, old, fresh, &err, ret);
		}
	}
	/* A fetch is under way: share its outcome. A reader waiting for a
	 * prefetch makes it foreground (under c->lock, so the ticket is still
	 * its job's; the slots' lock is a leaf). */
	if (((s->value == NULL && !s->probe) || !s->waited) && !reqclass_is_background(reqclass_current()))
		reqclass_promote(s->ticket);
	seq = s->done_seq;
	if (s->value == NULL && !s->probe) {
		while (s->done_seq == seq)
			pthread_cond_wait(&c->cond, &c->lock);
	} else if (!s->waited) {
		deadline = deadline_in(c->stale_wait_ms);
		while (s->done_seq == seq) {
			if (pthread_cond_timedwait(&c->cond, &c->lock, &deadline) == ETIMEDOUT) {
				s->waited = true;
				break;
			}
		}
	}
	if (s->value == NULL) {
		r = s->done_seq == seq ? -EIO : s->last_rc;
		goto out_release;
	}
	if (s->done_seq == seq || s->last_rc != 0)
		goto out_stale;
	s->users--;
out_hit:
	snap_ref(s->value);
	*ret = s->value;
	cache_unlock(c);
	return 0;

out_stale:
	s->users--;
	snap_ref(s->value);
	*ret = s->value;
	cache_unlock(c);
	note_stale_served(c);
	return 0;

out_release:
	s->users--;
	cache_unlock(c);
	return r;
}

/* The snapshot under @key, fresh or not, without fetching; -ENOENT if none. */
static int slot_peek(struct cache *c, const char *key, size_t keylen, struct snap **ret)
{
	struct entry *e;
	int r = -ENOENT;

	cache_lock(c);
	e = table_find(&c->slots, key, keylen, hash_bytes(key, keylen));
	if (e != NULL)
		slot_touch(c, (struct slot *)e);
	if (e != NULL && ((struct slot *)e)->value != NULL) {
		*ret = ((struct slot *)e)->value;
		snap_ref(*ret);
		r = 0;
	}
	cache_unlock(c);
	return r;
}

static uint64_t next_generation(struct cache *c)
{
	uint64_t g;

	cache_lock(c);
	g = ++c->next_generation;
	cache_unlock(c);
	return g;
}

/* ---- regions ---- */

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Builds a sorted, validated, deduplicated region snapshot from @ids. */
static int regions_snap_new(struct cache *c, const char *const *ids, size_t count, struct snap **ret)
{
	struct regions_snap *r = snap_alloc(sizeof(*r), SNAP_REGIONS);
	size_t n = 0;

	if (r == NULL)
		return -ENOMEM;
	r->pub.ids = calloc(count ? count : 1, sizeof(char *));
	if (r->pub.ids == NULL)
		goto out_nomem;
	for (size_t i = 0; i < count; i++) {
		if (!cache_is_valid_name(ids[i], strlen(ids[i]))) {
			log_bad_name_once(c, "region", ids[i]);
			continue;
		}
		r->pub.ids[n] = strdup(ids[i]);
		if (r->pub.ids[n] == NULL)
			goto out_nomem;
		n++;
		r->pub.count = n;
	}
	if (n > 1)
		qsort(r->pub.ids, n, sizeof(char *), cmp_str_ptr);
	r->pub.generation = next_generation(c);
	/* Keep one of each id: the directory must not list a name twice. */
	for (size_t i = 1, w = 1; i < n; i++) {
		if (strcmp(r->pub.ids[i], r->pub.ids[w - 1]) == 0) {
			free(r->pub.ids[i]);
			r->pub.count--;
		} else {
			r->pub.ids[w++] = r->pub.ids[i];
		}
	}
	{
		uint64_t h = DIGEST_INIT;

		for (size_t i = 0; i < r->pub.count; i++)
			h = digest_add(h, r->pub.ids[i], strlen(r->pub.ids[i]));
		r->pub.entries_ns = digest_ns(h);
	}
	snap_measure(&r->s);
	*ret = &r->s;
	return 0;

out_nomem:
	snap_free(&r->s);
	return -ENOMEM;
}

static int fetch_regions(struct cache *c, const struct fetch_ctx *ctx, struct snap *old, struct snap **ret,
			 struct api_error *err)
{
	struct swas_region_list list = { 0 };
	const char **ids;
	int r;

	lockrule_assert_none(); /* a fetch may take a retry budget */
	r = fetcher_list_regions(c->fetcher, &list, err);
	if (r < 0)
		return r;
	ids = calloc(list.count ? list.count : 1, sizeof(*ids));
	if (ids == NULL) {
		r = -ENOMEM;
		goto out_list;
	}
	for (size_t i = 0; i < list.count; i++)
		ids[i] = list.items[i].region_id;
	r = regions_snap_new(c, ids, list.count, ret);
	free(ids);
out_list:
	swas_region_list_done(&list);
	return r;
}

int cache_set_regions(struct cache *c, const char *const *ids, size_t count, bool pinned)
{
	struct snap *snap, *drop;
	struct slot *s;
	int r;

	r = regions_snap_new(c, ids, count, &snap);
	if (r < 0)
		return r;
	cache_lock(c);
	s = slot_find_or_add(c, "", 0, LRU_NONE);
	if (s == NULL) {
		cache_unlock(c);
		snap_unref(snap);
		return -ENOMEM;
	}
	drop = s->value;
	s->value = snap;
	s->pinned = pinned;
	s->fresh_until = now_ms(c) + ttl_ms_of(c, snap);
	slot_charge(c, s);
	cache_unlock(c);
	snap_unref(drop);
	return 0;
}

int cache_get_regions(struct cache *c, const struct cache_regions **ret)
{
	struct fetch_ctx ctx = { .endpoint = "", .what = "ListRegions", .cls = LRU_NONE };
	struct snap *s;
	int r;

	/* The region list's key is the empty string: no other key is empty. */
	r = slot_get(c, "", 0, fetch_regions, &ctx, &s);
	if (r == 0)
		*ret = &((struct regions_snap *)s)->pub;
	return r;
}

void cache_regions_unref(struct cache *c, const struct cache_regions *r)
{
	(void)c;
	if (r != NULL)
		snap_unref(&container_of(r, struct regions_snap, pub)->s);
}

/* ---- instances ---- */

static int cmp_instance(const void *a, const void *b)
{
	return strcmp(((const struct cache_instance *)a)->id, ((const struct cache_instance *)b)->id);
}

/* Each record's first-seen time: the old snapshot's where the record is
 * byte for byte the same, else now. */
static void keep_seen(struct cache_instances *l, const struct cache_instances *old)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < l->count; i++) {
		struct cache_instance *in = &l->items[i];
		const struct cache_instance *was = old != NULL ? cache_find_instance(old, in->id) : NULL;

		in->seen = now;
		if (was != NULL && was->record_len == in->record_len &&
		    (in->record_len == 0 || memcmp(was->record, in->record, in->record_len) == 0))
			in->seen = was->seen;
	}
}

static int cmp_link(const void *a, const void *b)
{
	return strcmp(((const struct cache_link *)a)->name, ((const struct cache_link *)b)->name);
}

/* True if another instance of @l (sorted by id) has @in's name. */
static bool is_shared_name(const struct cache_instances *l, const struct cache_instance *in)
{
	for (size_t i = 0; i < l->count; i++) {
		if (&l->items[i] != in && l->items[i].name != NULL && strcmp(l->items[i].name, in->name) == 0)
			return true;
	}
	return false;
}

/* The .by-name entries of @l: each usable name once; a name several
 * instances share becomes "<name>.<id>" for each, left out past
 * CACHE_NAME_MAX. Quadratic in the instances of one region (ListInstances
 * returns at most API_MAX_INSTANCES of them). Returns 0 or -ENOMEM. */
static int build_by_name(struct cache_instances *l)
{
	uint64_t h = DIGEST_INIT;
	size_t n = 0;

	l->by_name = calloc(l->count ? l->count : 1, sizeof(*l->by_name));
	if (l->by_name == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < l->count; i++) {
		const struct cache_instance *in = &l->items[i];
		char name[CACHE_NAME_MAX + 2];
		int len;

		if (in->name == NULL)
			continue;
		if (is_shared_name(l, in))
			len = snprintf(name, sizeof(name), "%s.%s", in->name, in->id);
		else
			len = snprintf(name, sizeof(name), "%s", in->name);
		if (len < 0 || (size_t)len > CACHE_NAME_MAX)
			continue;
		l->by_name[n].name = strdup(name);
		if (l->by_name[n].name == NULL)
			return -ENOMEM;
		l->by_name[n++].instance = i;
		l->nby_name = n; /* what snap_free frees */
	}
	if (n > 1)
		qsort(l->by_name, n, sizeof(*l->by_name), cmp_link);
	for (size_t i = 0; i < n; i++)
		h = digest_add(h, l->by_name[i].name, strlen(l->by_name[i].name));
	l->by_name_ns = digest_ns(h);
	return 0;
}

static int fetch_instances(struct cache *c, const struct fetch_ctx *ctx, struct snap *old, struct snap **ret,
			   struct api_error *err)
{
	struct swas_instance_list list = { 0 };
	struct instances_snap *l;
	size_t n = 0;
	int r;

	lockrule_assert_none(); /* a fetch may take a retry budget */
	r = fetcher_list_instances(c->fetcher, ctx->region, &list, err);
	if (r < 0)
		return r;
	if (list.truncated && first_time(c, ctx->what))
		log_warn(
			"%s: the API announced more pages than swasfs reads; listing the first %zu instances",
			ctx->what, list.count);
	r = -ENOMEM;
	l = snap_alloc(sizeof(*l), SNAP_INSTANCES);
	if (l == NULL)
		goto out_list;
	l->pub.items = calloc(list.count ? list.count : 1, sizeof(*l->pub.items));
	if (l->pub.items == NULL)
		goto out_snap;
	for (size_t i = 0; i < list.count; i++) {
		struct swas_instance *in = &list.items[i];

		if (!cache_is_valid_name(in->instance_id, strlen(in->instance_id))) {
			log_bad_name_once(c, "instance", in->instance_id);
			continue;
		}
		l->pub.items[n].id = in->instance_id;
		l->pub.items[n].ctime = in->ctime;
		l->pub.items[n].record = in->record;
		l->pub.items[n].record_len = in->record_len;
		in->instance_id = NULL; /* moved */
		in->record = NULL;
		if (in->instance_name != NULL && in->instance_name[0] != '\0') {
			if (cache_is_valid_name(in->instance_name, strlen(in->instance_name))) {
				l->pub.items[n].name = in->instance_name;
				in->instance_name = NULL;
			} else {
				log_bad_name_once(c, "instance name", in->instance_name);
			}
		}
		n++;
	}
	l->pub.count = n;
	if (n > 1)
		qsort(l->pub.items, n, sizeof(*l->pub.items), cmp_instance);
	l->pub.generation = next_generation(c);
	for (size_t i = 1, w = 1; i < n; i++) {
		if (strcmp(l->pub.items[i].id, l->pub.items[w - 1].id) == 0) {
			free(l->pub.items[i].id);
			free(l->pub.items[i].name);
			free(l->pub.items[i].record);
			l->pub.count--;
		} else {
			l->pub.items[w++] = l->pub.items[i];
		}
	}
	{
		uint64_t h = DIGEST_INIT;

		for (size_t i = 0; i < l->pub.count; i++)
			h = digest_add(h, l->pub.items[i].id, strlen(l->pub.items[i].id));
		l->pub.entries_ns = digest_ns(h);
	}
	keep_seen(&l->pub, old != NULL ? &((struct instances_snap *)old)->pub : NULL);
	if (build_by_name(&l->pub) < 0)
		goto out_snap;
	snap_measure(&l->s);
	*ret = &l->s;
	r = 0;
	goto out_list;

out_snap:
	snap_free(&l->s);
out_list:
	swas_instance_list_done(&list);
	return r;
}

int cache_get_instances(struct cache *c, const char *region, const struct cache_instances **ret)
{
	char what[64 + CACHE_NAME_MAX];
	/* Never dropped: ListInstances is limited to 10 calls a minute, and a
	 * region's list is small (API_MAX_INSTANCES ids at most). */
	struct fetch_ctx ctx = { .endpoint = region, .region = region, .what = what, .cls = LRU_NONE };
	size_t len = strlen(region);
	struct snap *s;
	int r;

	snprintf(what, sizeof(what), "ListInstances %s", region);
	/* Key: the region id; ids never contain NUL, and instance keys do. */
	r = slot_get(c, region, len, fetch_instances, &ctx, &s);
	if (r == 0)
		*ret = &((struct instances_snap *)s)->pub;
	return r;
}

int cache_peek_instances(struct cache *c, const char *region, const struct cache_instances **ret)
{
	struct snap *s;
	int r = slot_peek(c, region, strlen(region), &s);

	if (r == 0)
		*ret = &((struct instances_snap *)s)->pub;
	return r;
}

void cache_instances_ref(struct cache *c, const struct cache_instances *l)
{
	(void)c;
	snap_ref(&container_of(l, struct instances_snap, pub)->s);
}

void cache_instances_unref(struct cache *c, const struct cache_instances *l)
{
	(void)c;
	if (l != NULL)
		snap_unref(&container_of(l, struct instances_snap, pub)->s);
}

const struct cache_link *cache_find_link(const struct cache_instances *l, const char *name)
{
	struct cache_link key = { .name = (char *)name };

	return bsearch(&key, l->by_name, l->nby_name, sizeof(*l->by_name), cmp_link);
}

const struct cache_instance *cache_find_instance(const struct cache_instances *l, const char *id)
{
	struct cache_instance key = { .id = (char *)id };

	return bsearch(&key, l->items, l->count, sizeof(*l->items), cmp_instance);
}

/* ---- invocation listings ---- */

static bool is_final_status(const char *s)
{
	return strcmp(s, "Finished") == 0 || strcmp(s, "Failed") == 0 || strcmp(s, "Stopped") == 0;
}

/* The newest CreationTime of @st's invocations (0 if none). */
static time_t newest_ctime(const struct cache_status *st)
{
	time_t t = 0;

	for (size_t i = 0; i < st->count; i++) {
		if (st->records[i]->inv.ctime > t)
			t = st->records[i]->inv.ctime;
	}
	for (size_t i = 0; i < st->narchived; i++) {
		if (st->archived[i].ctime > t)
			t = st->archived[i].ctime;
	}
	return t;
}

static int cmp_record_id(const void *a, const void *b)
{
	const struct cache_record *x = *(const struct cache_record *const *)a;
	const struct cache_record *y = *(const struct cache_record *const *)b;

	return strcmp(x->inv.invoke_id, y->inv.invoke_id);
}

static int cmp_status_name(const void *a, const void *b)
{
	return strcmp(((const struct cache_status *)a)->name, ((const struct cache_status *)b)->name);
}

/* Index of the status named @name in @l, appending it if new; -ENOMEM. */
static int status_slot(struct cache_invocations *l, size_t *cap, const char *name)
{
	struct cache_status *st;

	for (size_t i = 0; i < l->nstatuses; i++) {
		if (strcmp(l->statuses[i].name, name) == 0)
			return (int)i;
	}
	if (l->nstatuses == *cap) {
		size_t n = *cap * 2;

		st = realloc(l->statuses, n * sizeof(*st));
		if (st == NULL)
			return -ENOMEM;
		l->statuses = st;
		*cap = n;
	}
	st = &l->statuses[l->nstatuses];
	memset(st, 0, sizeof(*st));
	st->name = strdup(name);
	if (st->name == NULL)
		return -ENOMEM;
	return (int)l->nstatuses++;
}

static int status_append(struct cache_status *st, size_t *cap, struct cache_record *rec)
{
	if (st->count == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct cache_record **v = realloc(st->records, n * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		st->records = v;
		*cap = n;
	}
	st->records[st->count++] = rec;
	return 0;
}

/* The record to use for @inv: the old one if it was final (it cannot have
 * changed), else a new one that takes over @inv's fields. */
static struct cache_record *record_for(const struct invocations_snap *old, struct swas_invocation *inv)
{
	const struct cache_record *prev = old ? cache_find_invocation(&old->pub, inv->invoke_id) : NULL;
	struct record *r;

	/* A record that moved from the API's answer to the store's keeps its bytes
	 * but not its origin: a new record then. */
	if (prev != NULL && prev->is_final && strcmp(prev->inv.invoke_status, inv->invoke_status) == 0 &&
	    prev->inv.origin == inv->origin) {
		r = container_of(prev, struct record, pub);
		atomic_fetch_add(&r->refs, 1);
		return &r->pub;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	atomic_init(&r->refs, 1);
	r->pub.inv = *inv;
	r->pub.is_final = is_final_status(inv->invoke_status);
	memset(inv, 0, sizeof(*inv)); /* moved */
	return &r->pub;
}

/* The entries of a status directory: its name and every InvokeId in it, in
 * name order, wherever they come from (an invocation that ages out of the
 * API's answer into the archive leaves the digest as it was). */
static long status_digest_ns(const struct cache_status *st)
{
	uint64_t h = digest_add(DIGEST_INIT, st->name, strlen(st->name));
	size_t a = 0, b = 0;

	while (a < st->count || b < st->narchived) {
		const char *id;

		if (b == st->narchived ||
		    (a < st->count && strcmp(st->records[a]->inv.invoke_id, st->archived[b].invoke_id) < 0))
			id = st->records[a++]->inv.invoke_id;
		else
			id = st->archived[b++].invoke_id;
		h = digest_add(h, id, strlen(id));
	}
	return digest_ns(h);
}

/* Gives each status of @l its run of @archive's entries (sorted by status,
 * then InvokeId); a status the API did not list is added. Takes the
 * caller's reference to @archive. */
static int attach_archive(struct invocations_snap *l, size_t *statuses_cap,
			  const struct swas_archive *archive)
{
	l->archive = archive;
	for (size_t i = 0; i < archive->count;) {
		const char *status = archive->entries[i].invoke_status;
		size_t j = i;
		int k;

		while (j < archive->count && strcmp(archive->entries[j].invoke_status, status) == 0)
			j++;
		k = status_slot(&l->pub, statuses_cap, status);
		if (k < 0)
			return k;
		l->pub.statuses[k].archived = &archive->entries[i];
		l->pub.statuses[k].narchived = j - i;
		i = j;
	}
	return 0;
}

/* Sorts each status by InvokeId and sets its mtime and digest. */
static int invocations_finish(struct invocations_snap *l, time_t instance_ctime)
{
	struct cache_invocations *p = &l->pub;
	uint64_t names = DIGEST_INIT;

	if (p->nstatuses > CACHE_FIXED_STATUSES)
		qsort(p->statuses + CACHE_FIXED_STATUSES, p->nstatuses - CACHE_FIXED_STATUSES,
		      sizeof(*p->statuses), cmp_status_name);
	for (size_t i = 0; i < p->nstatuses; i++) {
		struct cache_status *st = &p->statuses[i];

		/* Listed in name order, so every tool walks them alike and
		 * readahead follows the walk (readahead.h). */
		if (st->count > 1)
			qsort(st->records, st->count, sizeof(*st->records), cmp_record_id);
		st->mtime = newest_ctime(st);
		if (st->mtime == 0)
			st->mtime = instance_ctime;
		names = digest_add(names, st->name, strlen(st->name));
		st->mtime_ns = status_digest_ns(st);
	}
	p->entries_ns = digest_ns(names);
	return 0;
}

static int fetch_invocations(struct cache *c, const struct fetch_ctx *ctx, struct snap *old_snap,
			     struct snap **ret, struct api_error *err)
{
	const struct invocations_snap *old = (const struct invocations_snap *)old_snap;
	struct swas_invocation_list list = { 0 };
	struct invocations_snap *l;
	size_t statuses_cap = 8, *caps = NULL;
	int r;

	lockrule_assert_none(); /* a fetch may take a retry budget */
	r = fetcher_list_invocations(c->fetcher, ctx->region, ctx->inst->id, &list, err);
	if (r < 0)
		return r;
	if (list.truncated && first_time(c, ctx->what))
		log_warn("%s: the API announced more than swasfs keeps from one listing; showing the first "
			 "%zu "
			 "invocations",
			 ctx->what, list.count);
	r = -ENOMEM;
	l = snap_alloc(sizeof(*l), SNAP_INVOCATIONS);
	if (l == NULL)
		goto out_list;
	l->pub.statuses = calloc(statuses_cap, sizeof(*l->pub.statuses));
	caps = calloc(statuses_cap, sizeof(*caps));
	if (l->pub.statuses == NULL || caps == NULL)
		goto out_snap;
	for (size_t i = 0; i < CACHE_FIXED_STATUSES; i++) {
		if (status_slot(&l->pub, &statuses_cap, cache_fixed_statuses[i]) < 0)
			goto out_snap;
	}
	for (size_t i = 0; i < list.count; i++) {
		struct swas_invocation *inv = &list.items[i];
		struct cache_record *rec;
		size_t old_cap = statuses_cap;
		int k;

		if (!cache_is_valid_name(inv->invoke_id, strlen(inv->invoke_id))) {
			log_bad_name_once(c, "invocation", inv->invoke_id);
			continue;
		}
		if (!cache_is_valid_name(inv->invoke_status, strlen(inv->invoke_status))) {
			log_bad_name_once(c, "InvokeStatus", inv->invoke_status);
			continue;
		}
		k = status_slot(&l->pub, &statuses_cap, inv->invoke_status);
		if (k < 0)
			goto out_snap;
		if (statuses_cap != old_cap) {
			size_t *v = realloc(caps, statuses_cap * sizeof(*v));

			if (v == NULL)
				goto out_snap;
			memset(v + old_cap, 0, (statuses_cap - old_cap) * sizeof(*v));
			caps = v;
		}
		rec = record_for(old, inv);
		if (rec == NULL)
			goto out_snap;
		if (status_append(&l->pub.statuses[k], &caps[k], rec) < 0) {
			record_unref(container_of(rec, struct record, pub));
			goto out_snap;
		}
	}
	if (list.archive != NULL) {
		const struct swas_archive *archive = list.archive;

		list.archive = NULL;
		if (attach_archive(l, &statuses_cap, archive) < 0)
			goto out_snap;
	}
	if (invocations_finish(l, ctx->inst->ctime) < 0)
		goto out_snap;
	l->pub.generation = next_generation(c);
	snap_measure(&l->s);
	*ret = &l->s;
	r = 0;
	goto out_caps;

out_snap:
	snap_free(&l->s);
out_caps:
	free(caps);
out_list:
	swas_invocation_list_done(&list);
	return r;
}

/* A listing's key: region NUL instance (names never hold NUL). */
static int listing_key(const char *region, const char *instance, char *key, size_t *ret_len)
{
	size_t rlen = strlen(region), ilen = strlen(instance);

	if (rlen > CACHE_NAME_MAX || ilen > CACHE_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(key, region, rlen);
	key[rlen] = '\0';
	memcpy(key + rlen + 1, instance, ilen);
	*ret_len = rlen + 1 + ilen;
	return 0;
}

int cache_get_invocations(struct cache *c, const char *region, const struct cache_instance *inst,
			  const struct cache_invocations **ret)
{
	char what[64 + 2 * CACHE_NAME_MAX];
	struct fetch_ctx ctx = {
		.endpoint = region, .region = region, .inst = inst, .what = what, .cls = LRU_LISTINGS
	};
	char key[2 * CACHE_NAME_MAX + 2];
	struct snap *s;
	size_t keylen;
	int r;

	r = listing_key(region, inst->id, key, &keylen);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "DescribeInvocations %s/%s", region, inst->id);
	r = slot_get(c, key, keylen, fetch_invocations, &ctx, &s);
	if (r == 0)
		*ret = &((struct invocations_snap *)s)->pub;
	return r;
}

/* True if slot @key holds a snapshot still fresh. */
static bool slot_is_fresh(struct cache *c, const char *key, size_t keylen)
{
	struct entry *e;
	bool fresh;

	cache_lock(c);
	e = table_find(&c->slots, key, keylen, hash_bytes(key, keylen));
	fresh = e != NULL && ((struct slot *)e)->value != NULL && now_ms(c) < ((struct slot *)e)->fresh_until;
	cache_unlock(c);
	return fresh;
}

int cache_prefetch_invocations(struct cache *c, const char *region, const struct cache_instance *inst,
			       bool *ret_fetched)
{
	char key[2 * CACHE_NAME_MAX + 2];
	const struct cache_invocations *l;
	size_t keylen;
	int r;

	*ret_fetched = false;
	r = listing_key(region, inst->id, key, &keylen);
	if (r < 0 || slot_is_fresh(c, key, keylen))
		return r;
	r = cache_get_invocations(c, region, inst, &l);
	if (r < 0)
		return r;
	cache_invocations_unref(c, l);
	*ret_fetched = true;
	return 0;
}

int cache_peek_invocations(struct cache *c, const char *region, const char *instance,
			   const struct cache_invocations **ret)
{
	char key[2 * CACHE_NAME_MAX + 2];
	struct snap *s;
	size_t keylen;
	int r;

	r = listing_key(region, instance, key, &keylen);
	if (r == 0)
		r = slot_peek(c, key, keylen, &s);
	if (r == 0)
		*ret = &((struct invocations_snap *)s)->pub;
	return r;
}

void cache_invocations_unref(struct cache *c, const struct cache_invocations *l)
{
	(void)c;
	if (l != NULL)
		snap_unref(&container_of(l, struct invocations_snap, pub)->s);
}

void cache_invocations_ref(struct cache *c, const struct cache_invocations *l)
{
	(void)c;
	snap_ref(&container_of(l, struct invocations_snap, pub)->s);
}

void cache_record_ref(struct cache *c, const struct cache_record *rec)
{
	(void)c;
	atomic_fetch_add(&container_of(rec, struct record, pub)->refs, 1);
}

void cache_record_unref(struct cache *c, const struct cache_record *rec)
{
	(void)c;
	if (rec != NULL)
		record_unref(container_of(rec, struct record, pub));
}

const struct cache_status *cache_find_status(const struct cache_invocations *l, const char *name)
{
	for (size_t i = 0; i < l->nstatuses; i++) {
		if (strcmp(l->statuses[i].name, name) == 0)
			return &l->statuses[i];
	}
	return NULL;
}

static const struct cache_record *find_in_status(const struct invocations_snap *l, size_t i,
						 const char *invoke_id)
{
	struct swas_invocation key_inv = { .invoke_id = (char *)invoke_id };
	struct cache_record key_rec = { .inv = key_inv };
	const struct cache_record *keyp = &key_rec;
	struct cache_record **hit;

	if (l->pub.statuses[i].count == 0)
		return NULL; /* records may be NULL then, which bsearch must not get */
	hit = bsearch(&keyp, l->pub.statuses[i].records, l->pub.statuses[i].count, sizeof(*hit),
		      cmp_record_id);
	return hit ? *hit : NULL;
}

long cache_status_index(const struct cache_status *st, const char *invoke_id)
{
	struct swas_invocation key_inv = { .invoke_id = (char *)invoke_id };
	struct cache_record key_rec = { .inv = key_inv };
	const struct cache_record *keyp = &key_rec;
	struct cache_record **hit;

	if (st->count == 0)
		return -1;
	hit = bsearch(&keyp, st->records, st->count, sizeof(*hit), cmp_record_id);
	return hit != NULL ? (long)(hit - st->records) : -1;
}

const struct cache_record *cache_find_record(const struct cache_invocations *l, const struct cache_status *st,
					     const char *invoke_id)
{
	const struct invocations_snap *snap = container_of(l, struct invocations_snap, pub);

	return find_in_status(snap, (size_t)(st - l->statuses), invoke_id);
}

const struct cache_record *cache_find_invocation(const struct cache_invocations *l, const char *invoke_id)
{
	const struct invocations_snap *snap = container_of(l, struct invocations_snap, pub);
	const struct cache_record *rec;

	for (size_t i = 0; i < l->nstatuses; i++) {
		rec = find_in_status(snap, i, invoke_id);
		if (rec != NULL)
			return rec;
	}
	return NULL;
}

/* The first entry of @st in name order at or after position @i of the
 * merge: how many of the first @i entries are API records (the rest are
 * archived). Both runs are sorted and share no id: a binary search. */
static size_t records_before(const struct cache_status *st, size_t i)
{
	size_t lo = i > st->narchived ? i - st->narchived : 0, hi = i < st->count ? i : st->count;

	while (lo < hi) {
		size_t a = lo + (hi - lo) / 2, b = i - a;

		/* Too few records taken if the last archived one taken sorts
		 * after the next record. */
		if (b > 0 && strcmp(st->archived[b - 1].invoke_id, st->records[a]->inv.invoke_id) > 0)
			lo = a + 1;
		else
			hi = a;
	}
	return lo;
}

static void entry_of_record(const struct cache_status *st, const struct cache_record *rec,
			    struct cache_entry *ret)
{
	*ret = (struct cache_entry){ .invoke_id = rec->inv.invoke_id,
				     .invoke_status = st->name,
				     .ctime = rec->inv.ctime,
				     .rec = rec };
}

static void entry_of_archived(const struct cache_status *st, const struct swas_archive_entry *e,
			      struct cache_entry *ret)
{
	*ret = (struct cache_entry){
		.invoke_id = e->invoke_id, .invoke_status = st->name, .ctime = e->ctime, .archived = e
	};
}

void cache_status_entry(const struct cache_status *st, size_t i, struct cache_entry *ret)
{
	size_t a = records_before(st, i), b = i - a;

	if (a < st->count &&
	    (b == st->narchived || strcmp(st->records[a]->inv.invoke_id, st->archived[b].invoke_id) < 0))
		entry_of_record(st, st->records[a], ret);
	else
		entry_of_archived(st, &st->archived[b], ret);
}

static int cmp_archived_id(const void *key, const void *elem)
{
	return strcmp(key, ((const struct swas_archive_entry *)elem)->invoke_id);
}

static bool find_in(const struct invocations_snap *l, size_t i, const char *invoke_id,
		    struct cache_entry *ret)
{
	const struct cache_status *st = &l->pub.statuses[i];
	const struct cache_record *rec = find_in_status(l, i, invoke_id);
	const struct swas_archive_entry *e;

	if (rec != NULL) {
		entry_of_record(st, rec, ret);
		return true;
	}
	if (st->narchived == 0)
		return false;
	e = bsearch(invoke_id, st->archived, st->narchived, sizeof(*e), cmp_archived_id);
	if (e != NULL)
		entry_of_archived(st, e, ret);
	return e != NULL;
}

bool cache_find_entry(const struct cache_invocations *l, const struct cache_status *st, const char *invoke_id,
		      struct cache_entry *ret)
{
	const struct invocations_snap *snap = container_of(l, struct invocations_snap, pub);

	if (st != NULL)
		return find_in(snap, (size_t)(st - l->statuses), invoke_id, ret);
	for (size_t i = 0; i < l->nstatuses; i++) {
		if (find_in(snap, i, invoke_id, ret))
			return true;
	}
	return false;
}

size_t cache_invocations_size(const struct cache_invocations *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->nstatuses; i++)
		n += cache_status_size(&l->statuses[i]);
	return n;
}

int cache_entry_record(struct cache *c, const struct cache_invocations *l, const struct cache_entry *e,
		       const struct cache_record **ret)
{
	const struct invocations_snap *snap = container_of(l, struct invocations_snap, pub);
	const struct swas_archive *archive = snap->archive;
	struct record *r;
	int rc;

	if (e->rec != NULL) {
		cache_record_ref(c, e->rec);
		*ret = e->rec;
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	lockrule_assert_free(LOCK_CACHE);
	rc = archive->ops->load(archive, (size_t)(e->archived - archive->entries), &r->pub.inv);
	if (rc < 0) {
		free(r);
		return rc;
	}
	atomic_init(&r->refs, 1);
	r->pub.is_final = is_final_status(r->pub.inv.invoke_status);
	*ret = &r->pub;
	return 0;
}

/* ---- results ---- */

static int fetch_result(struct cache *c, const struct fetch_ctx *ctx, struct snap *old, struct snap **ret,
			struct api_error *err)
{
	const struct cache_record *rec = ctx->rec;
	struct result_snap *rs;
	const char *rs_status;
	int r;

	rs = snap_alloc(sizeof(*rs), SNAP_RESULT);
	if (rs == NULL)
		return -ENOMEM;
	lockrule_assert_none(); /* a fetch may take a retry budget */
	r = fetcher_get_result(c->fetcher, ctx->region, ctx->inst->id, rec->inv.invoke_id, &rs->pub.res, err);
	if (r < 0) {
		free(rs);
		return r;
	}
	/* Final when the result itself says so, or, if it does not say, when
	 * the listing had the invocation in a terminal state. */
	rs_status = rs->pub.res.invoke_record_status;
	if (rs_status != NULL && rs_status[0] != '\0')
		rs->pub.is_final = is_final_status(rs_status);
	else
		rs->pub.is_final = rec->is_final;
	rs->pub.mtime = rs->pub.res.finished  ? rs->pub.res.finished
			: rs->pub.res.started ? rs->pub.res.started
					      : rec->inv.ctime;
	snap_measure(&rs->s);
	*ret = &rs->s;
	return 0;
}

/* A result's slot key: region NUL instance NUL invoke-id (two NULs, unlike a
 * listing's); its length, or 0 if a part is too long. */
static size_t result_key(const char *region, const char *instance, const char *invoke_id,
			 char key[static 3 * CACHE_NAME_MAX + 3])
{
	size_t rlen = strlen(region), ilen = strlen(instance), vlen = strlen(invoke_id);

	if (rlen > CACHE_NAME_MAX || ilen > CACHE_NAME_MAX || vlen > CACHE_NAME_MAX)
		return 0;
	memcpy(key, region, rlen);
	key[rlen] = '\0';
	memcpy(key + rlen + 1, instance, ilen);
	key[rlen + 1 + ilen] = '\0';
	memcpy(key + rlen + ilen + 2, invoke_id, vlen);
	return rlen + ilen + 2 + vlen;
}

int cache_get_result(struct cache *c, const char *region, const char *instance,
		     const struct cache_record *rec, const struct cache_result **ret)
{
	char what[64 + 3 * CACHE_NAME_MAX];
	struct cache_instance inst = { .id = (char *)instance };
	struct fetch_ctx ctx = { .endpoint = region,
				 .region = region,
				 .inst = &inst,
				 .rec = rec,
				 .what = what,
				 .cls = LRU_RESULTS };
	char key[3 * CACHE_NAME_MAX + 3];
	size_t keylen = result_key(region, instance, rec->inv.invoke_id, key);
	struct snap *s;
	int r;

	if (keylen == 0)
		return -ENAMETOOLONG;
	snprintf(what, sizeof(what), "DescribeInvocationResult %s/%s/%s", region, instance,
		 rec->inv.invoke_id);
	r = slot_get(c, key, keylen, fetch_result, &ctx, &s);
	if (r == 0)
		*ret = &((struct result_snap *)s)->pub;
	return r;
}

int cache_prefetch_result(struct cache *c, const char *region, const char *instance,
			  const struct cache_record *rec, bool *ret_fetched)
{
	char key[3 * CACHE_NAME_MAX + 3];
	size_t keylen = result_key(region, instance, rec->inv.invoke_id, key);
	const struct cache_result *res;
	int r;

	if (keylen == 0)
		return -ENAMETOOLONG;
	*ret_fetched = false;
	if (slot_is_fresh(c, key, keylen))
		return 0;
	r = cache_get_result(c, region, instance, rec, &res);
	if (r < 0)
		return r;
	cache_result_unref(c, res);
	*ret_fetched = true;
	return 0;
}

bool cache_endpoint_is_open(struct cache *c, const char *endpoint)
{
	struct entry *e;
	bool open;

	cache_lock(c);
	e = table_find(&c->endpoints, endpoint, strlen(endpoint), hash_bytes(endpoint, strlen(endpoint)));
	open = e != NULL && breaker_is_open(&((struct endpoint *)e)->breaker);
	cache_unlock(c);
	return open;
}

void cache_get_bytes(struct cache *c, size_t *ret_held, size_t *ret_max)
{
	cache_lock(c);
	*ret_held = c->bytes;
	*ret_max = c->max_bytes;
	cache_unlock(c);
}

void cache_result_ref(struct cache *c, const struct cache_result *r)
{
	(void)c;
	snap_ref(&container_of(r, struct result_snap, pub)->s);
}

void cache_result_unref(struct cache *c, const struct cache_result *r)
{
	(void)c;
	if (r != NULL)
		snap_unref(&container_of(r, struct result_snap, pub)->s);
}

/* ---- reload ---- */

/*
 * Every slot's deadline is moved to the past, under the lock, so the next get
 * of it refreshes (in the background, the old snapshot kept as the fallback:
 * slot_get's stale path). Final results never change and pinned region lists
 * are never refreshed: both are left alone. A fetch already under way keeps
 * going and its answer counts as the refresh.
 */
size_t cache_mark_stale(struct cache *c)
{
	size_t marked = 0;

	cache_lock(c);
	for (size_t i = 0; i < c->slots.nbuckets; i++) {
		for (struct entry *e = c->slots.buckets[i]; e != NULL; e = e->next) {
			struct slot *s = (struct slot *)e;

			if (s->value == NULL || s->pinned || s->fresh_until == 0)
				continue;
			if (s->value->kind == SNAP_RESULT && ((struct result_snap *)s->value)->pub.is_final)
				continue;
			s->fresh_until = 0;
			marked++;
		}
	}
	cache_unlock(c);
	return marked;
}

/* ---- lifecycle ---- */

void cache_get_stats(struct cache *c, struct cache_stats *ret)
{
	cache_lock(c);
	ret->bytes = c->bytes;
	ret->slots = c->slots.count;
	ret->evictions = c->evictions;
	ret->hits = c->hits;
	ret->misses = c->misses;
	ret->max_bytes = c->max_bytes;
	ret->listings = ret->results = 0;
	for (size_t i = 0; i < c->slots.nbuckets; i++) {
		for (struct entry *e = c->slots.buckets[i]; e != NULL; e = e->next) {
			const struct snap *v = ((const struct slot *)e)->value;

			if (v != NULL && v->kind == SNAP_INVOCATIONS)
				ret->listings++;
			else if (v != NULL && v->kind == SNAP_RESULT)
				ret->results++;
		}
	}
	cache_unlock(c);
}

size_t cache_get_endpoints(struct cache *c, struct cache_endpoint_state *ret, size_t max)
{
	size_t n = 0;

	cache_lock(c);
	for (size_t i = 0; i < c->endpoints.nbuckets && n < max; i++) {
		for (struct entry *e = c->endpoints.buckets[i]; e != NULL && n < max; e = e->next) {
			const struct endpoint *ep = (const struct endpoint *)e;

			snprintf(ret[n].name, sizeof(ret[n].name), "%.*s", (int)e->keylen, e->key);
			ret[n].open = breaker_is_open(&ep->breaker);
			ret[n].period_ms = ep->breaker.period_ms;
			n++;
		}
	}
	cache_unlock(c);
	return n;
}

static bool is_degraded(const struct cache *c)
{
	return now_ms(c) < atomic_load(&((struct cache *)c)->degraded_until);
}

unsigned cache_listing_ttl(const struct cache *c)
{
	if (is_degraded(c) && c->cache_ttl_s > CACHE_STALE_KERNEL_TTL_S)
		return CACHE_STALE_KERNEL_TTL_S;
	return c->cache_ttl_s;
}

unsigned cache_instance_ttl(const struct cache *c)
{
	if (is_degraded(c) && c->instance_ttl_s > CACHE_STALE_KERNEL_TTL_S)
		return CACHE_STALE_KERNEL_TTL_S;
	return c->instance_ttl_s;
}

int cache_new(struct fetcher *fetcher, const struct cache_config *cfg, struct cache **ret_cache)
{
	pthread_condattr_t attr;
	struct cache *c;

	if (fetcher == NULL || cfg == NULL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fetcher = fetcher;
	c->bg = cfg->bg;
	c->max_bytes = cfg->max_bytes ? cfg->max_bytes : CACHE_DEFAULT_MAX_BYTES;
	for (size_t i = 0; i < LRU_CLASSES; i++)
		lru_init(&c->lru[i]);
	c->cache_ttl_s = cfg->cache_ttl_s;
	c->instance_ttl_s = cfg->instance_ttl_s;
	c->clock = cfg->clock ? cfg->clock : monotonic_ms;
	c->clock_arg = cfg->clock_arg;
	c->stale_wait_ms = cfg->stale_wait_ms ? cfg->stale_wait_ms : CACHE_STALE_WAIT_MS;
	atomic_init(&c->degraded_until, 0);
	if (table_init(&c->slots) < 0 || table_init(&c->logged) < 0 || table_init(&c->endpoints) < 0) {
		free(c->slots.buckets);
		free(c->logged.buckets);
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	/* Waits with a deadline (stale-while-revalidate) run on the monotonic
	 * clock: a wall clock step must not stretch them. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	*ret_cache = c;
	return 0;
}

/* Frees every entry of @t and its buckets. */
static void table_free(struct table *t, void (*free_entry)(struct entry *e))
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct entry *e = t->buckets[i];

		while (e != NULL) {
			struct entry *next = e->next;

			free(e->key);
			free_entry(e);
			e = next;
		}
	}
	free(t->buckets);
}

static void slot_free(struct entry *e)
{
	snap_unref(((struct slot *)e)->value);
	free(e);
}

static void entry_free(struct entry *e)
{
	free(e);
}

void cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	/* Refreshes still running hold slots: let them finish (the API's
	 * cancel, on shutdown, makes that quick). */
	cache_lock(c);
	while (c->refreshing > 0)
		pthread_cond_wait(&c->cond, &c->lock);
	cache_unlock(c);
	table_free(&c->slots, slot_free);
	table_free(&c->logged, entry_free);
	table_free(&c->endpoints, entry_free);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}
