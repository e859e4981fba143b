/* SPDX-License-Identifier: MIT */
/*
 * cache: the TTL cache between the FUSE layer and the API.
 *
 * Four kinds of data, each fetched on first use and kept as an immutable,
 * reference-counted snapshot:
 *   - the region list                      fresh for instance_ttl;
 *   - one region's instance list           fresh for instance_ttl;
 *   - one instance's invocation listing    fresh for cache_ttl, from one paged
 *     DescribeInvocations pass, split by InvokeStatus here;
 *   - one invocation's result              fetched once if final, else fresh
 *     for cache_ttl.
 * A getter returns the snapshot if fresh; otherwise exactly one fetch runs
 * while the other callers wait for it (singleflight) and share its outcome.
 * A fetch a caller runs itself carries that thread's request class
 * (reqclass.h); a foreground caller that comes to wait for a background
 * one (a prefetch) promotes it, so a reader never waits for a request that
 * counts as a prefetch.
 * Data never fetched is fetched by the caller, who waits as long as the API's
 * retry budget allows. A stale snapshot is refreshed in the background (a job
 * of the daemon's struct bg, bg.h, the one owner of its threads):
 * readers wait for it at most CACHE_STALE_WAIT_MS, then get the last good copy
 * (stale-while-revalidate), and the kernel TTLs given out meanwhile are short.
 *
 * Each API endpoint (one per region, and ListRegions') has a circuit breaker
 * (breaker.h): once a fetch fails with -EIO (the endpoint did not answer:
 * network, timeout, 5xx, throttling, bad bodies, after the API's retries),
 * nothing more is asked of it for 2 s, doubling to 60 s, but for one probe a
 * period: stale data is served at once and data never fetched fails at once
 * with -EIO. The outage is logged when the breaker opens and when it closes,
 * not per request. A refusal (NotFound, a bad key) is an answer: it keeps the
 * last good snapshot for another TTL and is logged. Errors are never stored.
 *
 * Invocations in a terminal state (Finished, Failed, Stopped) never change:
 * a refresh reuses the record object it already had for them, so pointers to
 * it stay valid and their rendered bytes are the ones first served.
 *
 * Memory is bounded: the cache counts the bytes its snapshots own (what
 * malloc really gave them, measured once when a snapshot is built) plus its
 * slots, and past cache_config.max_bytes it drops the least recently used
 * results first, then the least recently used invocation listings; a slot
 * whose fetch is under way, or that a reader is using at that moment, is
 * skipped. The region list and the instance lists are counted but never
 * dropped: they are small, and ListRegions and ListInstances are limited to
 * 10 calls a minute.
 * Snapshots are reference-counted, so what a holder has stays valid until it
 * lets go; what was dropped is fetched again when asked for, so a bound
 * costs API calls, never a wrong answer. Every get moves its slot to the
 * front of its list.
 *
 * Names the API returns that cannot be path components (empty, ".", "..",
 * longer than 255 bytes, containing '/' or NUL) are dropped here and logged
 * once per mount.
 *
 * Ownership: every getter returns a new reference the caller drops with the
 * matching *_unref(); the snapshot is immutable and may be read without locks
 * until then. Thread-safety: all functions may be called from any thread.
 */
#ifndef SWASFS_CACHE_H
#define SWASFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "api.h"
#include "bg.h"
#include "fetcher.h"

struct cache;

/* Milliseconds on a monotonic clock. Tests pass their own. */
typedef uint64_t (*cache_clock_fn)(void *arg);

struct cache_config {
	unsigned cache_ttl_s;	 /* invocation listings, running results */
	unsigned instance_ttl_s; /* region list, instance lists */
	cache_clock_fn clock;	 /* NULL: CLOCK_MONOTONIC */
	void *clock_arg;
	unsigned stale_wait_ms; /* 0: CACHE_STALE_WAIT_MS */
	size_t max_bytes;	/* 0: CACHE_DEFAULT_MAX_BYTES */
	struct bg *bg;		/* runs background refreshes (borrowed); NULL: readers refresh themselves */
};

/* The -o max_cache default: a quarter of a small VM's memory, and room for
 * the listings of 100,000 invocations (about 1-2 KiB a record) with their
 * results' common sizes. */
#define CACHE_DEFAULT_MAX_BYTES ((size_t)256u << 20)

/* Past its TTL, a reader waits this long for the refresh, then gets the last
 * good copy while the refresh goes on; the kernel then keeps what it is told
 * for CACHE_STALE_KERNEL_TTL_S only, so it sees the refreshed copy soon. */
#define CACHE_STALE_WAIT_MS	 1000u
#define CACHE_STALE_KERNEL_TTL_S 1u

/* The four InvokeStatus directories that always exist (README.md). */
#define CACHE_FIXED_STATUSES 4
extern const char *const cache_fixed_statuses[CACHE_FIXED_STATUSES];

/* Longest path component Linux accepts (NAME_MAX). */
#define CACHE_NAME_MAX 255

/* True if @s (of @len bytes) can be shown as a directory entry: not empty,
 * no '/' or NUL, at most CACHE_NAME_MAX bytes, and not beginning with '.'
 * (".", "..", and the names swasfs itself adds, such as .by-name, which
 * always win). */
bool cache_is_valid_name(const char *s, size_t len);

/*
 * Directory mtimes that follow their entries. Without OPENDIR the kernel
 * keeps a directory's entries until the directory's mtime changes (with
 * AUTO_INVAL_DATA it compares the full mtime before serving cached entries
 * from offset 0), whichever request brought the new attributes: getattr,
 * lookup, or the parent's readdirplus. So each snapshot carries a digest of
 * the names (and statuses) it lists, in 0..999999999, which the FUSE layer
 * puts in the nanoseconds of the directory's mtime; its seconds keep their
 * meaning. Same entries, same digest: a second `rsync -a` sees no change.
 */

/* Read-only snapshots. */
struct cache_regions {
	char **ids; /* sorted */
	size_t count;
	long entries_ns;     /* digest of the ids: the root's mtime nanoseconds */
	uint64_t generation; /* differs between any two snapshots of the cache */
};

struct cache_instance {
	char *id;
	time_t ctime; /* CreationTime, 0 if unknown */
	char *name;   /* InstanceName if usable as a path component, else NULL */
	char *record; /* the ListInstances record, formatted: .instance.json; NULL if unknown */
	size_t record_len;
	time_t seen; /* wall time the record was first seen as it is now (kept across refreshes) */
};

/* A name in <region>/.by-name: the instance's name, or "<name>.<id>" when
 * several instances share it. */
struct cache_link {
	char *name;
	size_t instance; /* index into cache_instances.items */
};

struct cache_instances {
	struct cache_instance *items; /* sorted by id */
	size_t count;
	long entries_ns;	    /* digest of the ids: the region directory's mtime nanoseconds */
	uint64_t generation;	    /* differs between any two snapshots of the cache */
	struct cache_link *by_name; /* sorted by name */
	size_t nby_name;
	long by_name_ns; /* digest of the names: .by-name's mtime nanoseconds */
};

/* One invocation: the API record plus derived facts. */
struct cache_record {
	struct swas_invocation inv;
	bool is_final; /* InvokeStatus is Finished, Failed or Stopped */
};

struct cache_status {
	char *name;		       /* InvokeStatus */
	time_t mtime;		       /* newest CreationTime, else the instance's */
	long mtime_ns;		       /* digest of the entries (see CACHE_DIGEST_NS) */
	struct cache_record **records; /* the API's, sorted by InvokeId */
	size_t count;
	/* The invocations the local store keeps that the API no longer returns
	 * (swas.h's archive; none without -o store), sorted by InvokeId, none
	 * of them among @records. Listed with the records in one name order
	 * (cache_status_entry); each record is read from the store when it is
	 * looked at (cache_entry_record) and not kept, so years of history
	 * cost the cache the archive's few dozen bytes an invocation. */
	const struct swas_archive_entry *archived;
	size_t narchived;
};

struct cache_invocations {
	struct cache_status *statuses; /* the four fixed ones first, then others sorted */
	size_t nstatuses;
	long entries_ns;     /* digest of the status names: the instance directory's mtime nanoseconds */
	uint64_t generation; /* differs between any two snapshots of the cache */
};

struct cache_result {
	struct swas_result res;
	time_t mtime; /* FinishedTime, else StartTime, else the record's CreationTime */
	bool is_final;
};

/* One entry of a status directory: an API record or an archived one.
 * Borrowed from the listing it was found in. */
struct cache_entry {
	const char *invoke_id;
	const char *invoke_status;
	time_t ctime;
	const struct cache_record *rec;		   /* the API's record; NULL if archived */
	const struct swas_archive_entry *archived; /* else this */
};

/* Entries of @st, API records and archived ones together. */
static inline size_t cache_status_size(const struct cache_status *st)
{
	return st->count + st->narchived;
}
/* Entry @i (< cache_status_size) of @st, in name order (O(log n)). */
void cache_status_entry(const struct cache_status *st, size_t i, struct cache_entry *ret);
/* Finds @invoke_id in @st, or in any status of @l if @st is NULL: true and
 * *ret, else false. */
bool cache_find_entry(const struct cache_invocations *l, const struct cache_status *st, const char *invoke_id,
		      struct cache_entry *ret);
/* Every entry of every status of @l. */
size_t cache_invocations_size(const struct cache_invocations *l);
/* The record of entry @e of listing @l, a new reference: the API's record,
 * or an archived one read back from the store and checked (not kept: every
 * call reads it again, so the cache holds no archived record). 0, -ENOENT
 * (it failed its check: dropped, logged), -ENOMEM or -EIO. */
int cache_entry_record(struct cache *cache, const struct cache_invocations *l, const struct cache_entry *e,
		       const struct cache_record **ret);

/* Returns 0, -EINVAL or -ENOMEM. Borrows @fetcher, which must outlive the
 * cache; the cache calls it from reader threads and from refresh threads of
 * its own. */
int cache_new(struct fetcher *fetcher, const struct cache_config *cfg, struct cache **ret_cache);
/* Waits for the refreshes still running (cancel the fetcher first to make
 * that quick; bg_stop() of the config's bg before this joins them), then
 * frees everything. Accepts NULL. */
void cache_free(struct cache *cache);

/* Installs @ids as the region list (the -o regions option, or the ListRegions
 * answer of start-up) fetched now. With @pinned, the list is never refreshed
 * from the API. Takes nothing from the caller (copies). */
int cache_set_regions(struct cache *cache, const char *const *ids, size_t count, bool pinned);

int cache_get_regions(struct cache *cache, const struct cache_regions **ret);
void cache_regions_unref(struct cache *cache, const struct cache_regions *r);

int cache_get_instances(struct cache *cache, const char *region, const struct cache_instances **ret);
void cache_instances_unref(struct cache *cache, const struct cache_instances *l);
/* Another reference to a list one holds already. */
void cache_instances_ref(struct cache *cache, const struct cache_instances *l);
/* The instance list last fetched for @region, fresh or not, without asking
 * the API; -ENOENT if there is none. Same reference rules as the getter. */
int cache_peek_instances(struct cache *cache, const char *region, const struct cache_instances **ret);

int cache_get_invocations(struct cache *cache, const char *region, const struct cache_instance *inst,
			  const struct cache_invocations **ret);
void cache_invocations_unref(struct cache *cache, const struct cache_invocations *l);
/* Another reference to a listing one holds already. */
void cache_invocations_ref(struct cache *cache, const struct cache_invocations *l);
/* The listing last fetched, fresh or not, without asking the API; -ENOENT if
 * there is none. */
int cache_peek_invocations(struct cache *cache, const char *region, const char *instance,
			   const struct cache_invocations **ret);

/* Records are shared between listings; take your own reference to keep one
 * past the listing it came from. */
void cache_record_ref(struct cache *cache, const struct cache_record *rec);
void cache_record_unref(struct cache *cache, const struct cache_record *rec);

/* Finds an instance / status / record in a snapshot; NULL if absent. Borrowed. */
const struct cache_instance *cache_find_instance(const struct cache_instances *l, const char *id);
const struct cache_link *cache_find_link(const struct cache_instances *l, const char *name);
const struct cache_status *cache_find_status(const struct cache_invocations *l, const char *name);
const struct cache_record *cache_find_record(const struct cache_invocations *l, const struct cache_status *st,
					     const char *invoke_id);
/* The position of @invoke_id in @st's records, or -1. */
long cache_status_index(const struct cache_status *st, const char *invoke_id);
/* Finds @invoke_id under any status. */
const struct cache_record *cache_find_invocation(const struct cache_invocations *l, const char *invoke_id);

int cache_get_result(struct cache *cache, const char *region, const char *instance,
		     const struct cache_record *rec, const struct cache_result **ret);
/* Makes sure the result of @rec is held: fetches it (as cache_get_result,
 * singleflight included) unless a fresh copy is held already. *ret_fetched
 * says whether it was fetched. Returns 0 or cache_get_result's errors. For
 * readahead. */
int cache_prefetch_result(struct cache *cache, const char *region, const char *instance,
			  const struct cache_record *rec, bool *ret_fetched);
/* The same for an instance's listing. */
int cache_prefetch_invocations(struct cache *cache, const char *region, const struct cache_instance *inst,
			       bool *ret_fetched);
/* True if the circuit breaker of @endpoint (a region id) is open. */
bool cache_endpoint_is_open(struct cache *cache, const char *endpoint);
/* The bytes held and the bound, cheaply (cache_get_stats walks every slot). */
void cache_get_bytes(struct cache *cache, size_t *ret_held, size_t *ret_max);
void cache_result_ref(struct cache *cache, const struct cache_result *r);
void cache_result_unref(struct cache *cache, const struct cache_result *r);

/*
 * Marks everything that can change as past its TTL: the region list (unless
 * pinned by -o regions), every instance list, every invocation listing and
 * every running invocation's result. Nothing is dropped: the next get of each
 * refreshes it in the background and, while the API does not answer, serves
 * the old copy (stale-while-revalidate). Final results are left alone (they
 * never change). Returns how many snapshots were marked. For SIGHUP; never
 * call it from a signal handler (it takes the cache lock).
 */
size_t cache_mark_stale(struct cache *cache);

/* What the cache holds and has done, for tests and benchmarks. */
struct cache_stats {
	size_t bytes;		 /* snapshots and slots held, as counted against max_bytes */
	size_t slots;		 /* keys held (with or without data) */
	unsigned long evictions; /* slots dropped to stay within max_bytes */
	unsigned long hits;	 /* gets answered from a fresh snapshot */
	unsigned long misses;	 /* gets that found none fresh (fetched, waited, or served stale) */
	size_t max_bytes;	 /* the bound (max_cache) */
	size_t listings;	 /* invocation listings held */
	size_t results;		 /* results held */
};
void cache_get_stats(struct cache *cache, struct cache_stats *ret);

/* One API endpoint's circuit breaker, for stats.json. */
struct cache_endpoint_state {
	char name[CACHE_NAME_MAX + 1]; /* the region id; "" for ListRegions' */
	bool open;
	unsigned period_ms; /* 0 while closed */
};
/* Copies up to @max endpoints' states into @ret; returns how many. */
size_t cache_get_endpoints(struct cache *cache, struct cache_endpoint_state *ret, size_t max);

/* Seconds the kernel may cache what a snapshot of each kind says. */
unsigned cache_listing_ttl(const struct cache *cache);	/* cache_ttl */
unsigned cache_instance_ttl(const struct cache *cache); /* instance_ttl */

#endif
