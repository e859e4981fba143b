/* SPDX-License-Identifier: MIT */
/*
 * stats: <mnt>/.swasfs/stats.json, the mount's own numbers: HTTP requests by
 * action and outcome (metrics.h), bytes received, cache hits and misses,
 * listings and results held, bytes held against max_cache, every endpoint's
 * circuit breaker, inodes and kernel notifications, uptime. README.md
 * ("Finding things") documents each field.
 *
 * Ownership: struct stats_source is the caller's; every pointer in it is
 * borrowed and must outlive the mount. Thread-safety: stats_render may run on
 * any number of threads at once; it reads counters the modules keep
 * thread-safe.
 */
#ifndef SWASFS_STATS_H
#define SWASFS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "metrics.h"
#include "readahead.h"
#include "store.h"
#include "tree.h"

struct stats_source {
	const char *version;
	struct metrics *metrics;
	struct cache *cache;
	struct tree *tree;	     /* set once the tree exists; NULL: no tree fields */
	struct readahead *readahead; /* may be NULL (off) */
	struct store *store;	     /* may be NULL (no -o store) */
	uint64_t start_ms;	     /* CLOCK_MONOTONIC at start-up */
};

/* A struct tree_config.render_stats: @arg is a struct stats_source. Renders
 * formatted JSON ending in "\n" into *ret (caller frees). Returns 0 or
 * -ENOMEM. */
int stats_render(void *arg, char **ret, size_t *ret_len);

/* CLOCK_MONOTONIC in milliseconds, for start_ms. */
uint64_t stats_now_ms(void);

#endif
