/* SPDX-License-Identifier: MIT */
/*
 * readahead: fetching ahead of a walk, as the kernel reads pages ahead.
 *
 * Tools that stat or read output/result.json across many invocations (ls -l,
 * ls -lR, du, rsync -a, grep -r, find -size) ask for one result at a time;
 * each costs a DescribeInvocationResult round trip. Status directories list
 * their invocations in name order (cache.h), and every such tool visits them
 * in that order (ls and rsync sort by name, find and grep follow readdir), so
 * a walk is a run of increasing positions in one status directory:
 *
 *   - results: once two siblings' results are asked for within
 *     READAHEAD_IDLE_MS of each other, in increasing order, the results of
 *     the next siblings are fetched in the background, the window doubling
 *     from 2 to -o readahead (default: jobs) while the walk goes on. A walk
 *     ends when no access advanced it for READAHEAD_IDLE_MS, when it jumps
 *     back, or under max_cache pressure (held bytes past three quarters of the
 *     bound); what was fetched ahead and never visited is counted wasted (at
 *     most one window). A lone `cat` of one output therefore costs exactly one
 *     call, and listing without -l costs none.
 *   - listings: once a walker has listed two instances of a region in order
 *     (readdir of their directories or status directories), the listings of
 *     the instances that follow are fetched in the background, within the
 *     same window, through the cache's singleflight. `ls` of a region or of
 *     one instance never triggers it.
 *
 * Prefetches run as jobs of the daemon's struct bg, each with a ticket that
 * marks its API requests background (reqclass.h; a listing pass hands it to
 * its page workers): prefetches never hold more than jobs - 1 of the jobs
 * request slots, so a reader's own request never waits behind them, and
 * a reader served by readahead leaves them all jobs - 1. A prefetch that a
 * reader comes to wait for (it asks for what the prefetch is fetching: the
 * cache's singleflight) is promoted: its requests, those in flight
 * included, count as foreground from then on, and a background one may
 * start in the slot it gave back. Nothing is fetched ahead while
 * the endpoint's circuit breaker is open. Throttling shrinks the window in
 * the manner of TCP congestion control: every prefetch that met a throttling
 * answer halves a shared congestion window, every clean one widens it by one,
 * up to -o readahead; the verbose log shows each change.
 *
 * Ownership: readahead_new() returns a struct readahead freed with
 * readahead_free() after bg_stop() (jobs hold references to it). It borrows
 * the cache, the bg and the metrics. Thread-safety: every function may be
 * called from any thread; one mutex guards the walk table, held for memory
 * work only.
 */
#ifndef SWASFS_READAHEAD_H
#define SWASFS_READAHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bg.h"
#include "cache.h"
#include "metrics.h"

/* A walk that did not advance for this long has ended. */
#define READAHEAD_IDLE_MS 3000u
/* Walks followed at once (status directories, and regions for listings);
 * past it the least recently advanced is forgotten. */
#define READAHEAD_MAX_WALKS 32

struct readahead;

struct readahead_config {
	unsigned window;	 /* the largest window; 0 turns readahead off */
	struct cache *cache;	 /* borrowed */
	struct bg *bg;		 /* borrowed: runs the prefetches */
	struct metrics *metrics; /* borrowed, may be NULL: throttling is read from it */
	bool verbose;		 /* log window changes */
};

/* Returns 0, -EINVAL or -ENOMEM. */
int readahead_new(const struct readahead_config *cfg, struct readahead **ret);
/* After bg_stop(). Accepts NULL. */
void readahead_free(struct readahead *ra);

/* A reader asked for the result of record @index of status @status of
 * instance @instance's listing @listing (borrowed for the call). */
void readahead_note_result(struct readahead *ra, const char *region, const struct cache_instance *instance,
			   const struct cache_invocations *listing, const struct cache_status *status,
			   size_t index);

/* A reader listed the directory (or a status directory) of instance @index
 * of region @region's list @instances (borrowed for the call). */
void readahead_note_listing(struct readahead *ra, const char *region, const struct cache_instances *instances,
			    size_t index);

struct readahead_stats {
	unsigned long results_fetched;	/* results fetched ahead */
	unsigned long results_hit;	/* ... and then asked for by a reader */
	unsigned long results_wasted;	/* ... and never asked for before their walk ended */
	unsigned long listings_fetched; /* listings fetched ahead */
	unsigned long promoted;		/* prefetches a reader came to wait for (then foreground) */
	unsigned window;		/* the congestion window now */
};
void readahead_get_stats(struct readahead *ra, struct readahead_stats *ret);

#endif
