/* SPDX-License-Identifier: MIT */
/*
 * lockrule: the daemon's locking rules, checked at run time in debug builds.
 *
 * Each thread keeps a set of the module locks it holds (a thread-local bit
 * mask, set and cleared next to each lock and unlock). The rules, written in
 * the headers of the modules they concern, become assertions:
 *   - no module lock is held while a fetch runs (network I/O may take a retry
 *     budget): cache.c asserts none around every fetcher call;
 *   - the node table's lock is innermost: nothing is called with it held
 *     (tree.c asserts it is free before each cache call);
 *   - the request slots' lock (reqclass.c) is a leaf: a promotion takes it
 *     under the cache's lock, and nothing is taken under it (cache.c asserts
 *     it is free when it takes its own);
 *   - a lock is never taken twice by one thread.
 * With NDEBUG the macros compile to nothing and cost nothing.
 *
 * Thread-safety: the mask is per thread; nothing here is shared.
 */
#ifndef SWASFS_LOCKRULE_H
#define SWASFS_LOCKRULE_H

#include <assert.h>

enum lockrule_lock {
	LOCK_NODES = 1u << 0,  /* node.c: the inode table */
	LOCK_CACHE = 1u << 1,  /* cache.c: slots, LRU, breakers */
	LOCK_NOTIFY = 1u << 2, /* notify.c: the pending set */
	LOCK_SLOTS = 1u << 3,  /* reqclass.c: the API's request slots */
};

#ifndef NDEBUG
extern _Thread_local unsigned lockrule_held;
#define lockrule_acquired(l)	(assert(!(lockrule_held & (l))), lockrule_held |= (l))
#define lockrule_released(l)	(assert(lockrule_held &(l)), lockrule_held &= ~(unsigned)(l))
#define lockrule_assert_free(l) assert(!(lockrule_held & (l)))
#define lockrule_assert_none()	assert(lockrule_held == 0)
#else
#define lockrule_acquired(l)	((void)0)
#define lockrule_released(l)	((void)0)
#define lockrule_assert_free(l) ((void)0)
#define lockrule_assert_none()	((void)0)
#endif

#endif
