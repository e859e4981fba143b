/* SPDX-License-Identifier: MIT */
/*
 * fetcher: where the cache gets its data from.
 *
 * The cache (cache.h) asks a struct fetcher, not the API client, for the four
 * kinds of data it keeps. Today one fetcher exists, fetcher_api_new()'s thin
 * adapter over struct api; the interface exists so that others can sit
 * between the cache and the API without the cache knowing: a local store
 * that answers from disk what it has and asks the fetcher it wraps for the
 * rest, a recorder, or the scripted fake of the unit tests.
 *
 * Why it is shaped so:
 *   - The ops return the typed structs api.h returns (swas_*_list,
 *     swas_result, api_error) with api.h's error codes, so the API adapter is
 *     a forward of each call and the cache's handling of -EIO (the breaker),
 *     -ENOENT (gone) and refusals stays what it is.
 *   - Calls are synchronous. The cache already provides the asynchrony it
 *     wants (a refresh on a thread of its own, singleflight, waiting at most
 *     stale_wait_ms), and a synchronous op is what a wrapper can delegate
 *     in one line: call the inner fetcher's op, look at the answer, return.
 *     A call's request class (reqclass.h: a prefetch's ticket, or none for
 *     a reader) is the calling thread's, so it reaches the API with no
 *     argument; a fetcher that asks on other threads hands them the
 *     caller's reqclass_current(), as a listing pass does its page workers.
 *   - Stackable: a wrapper embeds struct fetcher first, points @inner at the
 *     fetcher it wraps, and calls fetcher_*(self->inner, ...) for whatever it
 *     does not answer itself. Every op has the same arguments at every level,
 *     so nothing is lost on the way down.
 *   - cancel is the one op that is not a request: it makes every call in
 *     flight, and every later one, return -ECANCELED (for the daemon's exit,
 *     so refresh threads finish instead of spending a retry budget). A
 *     wrapper cancels its own work and then its inner fetcher. It must be
 *     async-signal-safe: the exit-signal handler calls it.
 *   - free is an op so the owner of a stack frees it from the top; a wrapper
 *     frees only what it owns (it does not own @inner unless it says so).
 *
 * Return values of the four requests: 0 or api.h's negative errno codes
 * (-EACCES, -ENOENT, -EINVAL, -EIO, -ECANCELED, -ENOMEM); on failure *err
 * says why, as api.h describes. Ownership: results are written only on
 * success and owned by the caller, who frees them with the swas_*_done()
 * functions of api.h. Strings passed in are borrowed for the call.
 *
 * Thread-safety: the four requests may be called from any number of threads
 * at once; cancel from any thread or a signal handler; free must not race
 * with anything.
 */
#ifndef SWASFS_FETCHER_H
#define SWASFS_FETCHER_H

#include "api.h"

struct fetcher;

struct fetcher_ops {
	int (*list_regions)(struct fetcher *f, struct swas_region_list *ret, struct api_error *err);
	int (*list_instances)(struct fetcher *f, const char *region, struct swas_instance_list *ret,
			      struct api_error *err);
	int (*list_invocations)(struct fetcher *f, const char *region, const char *instance,
				struct swas_invocation_list *ret, struct api_error *err);
	int (*get_result)(struct fetcher *f, const char *region, const char *instance, const char *invoke_id,
			  struct swas_result *ret, struct api_error *err);
	void (*cancel)(struct fetcher *f);
	void (*free)(struct fetcher *f); /* NULL: nothing to free */
};

/* Embedded first in each implementation's own struct. */
struct fetcher {
	const struct fetcher_ops *ops;
	struct fetcher *inner; /* the fetcher this one wraps; NULL for the last of a stack */
};

static inline int fetcher_list_regions(struct fetcher *f, struct swas_region_list *ret, struct api_error *err)
{
	return f->ops->list_regions(f, ret, err);
}

static inline int fetcher_list_instances(struct fetcher *f, const char *region,
					 struct swas_instance_list *ret, struct api_error *err)
{
	return f->ops->list_instances(f, region, ret, err);
}

static inline int fetcher_list_invocations(struct fetcher *f, const char *region, const char *instance,
					   struct swas_invocation_list *ret, struct api_error *err)
{
	return f->ops->list_invocations(f, region, instance, ret, err);
}

static inline int fetcher_get_result(struct fetcher *f, const char *region, const char *instance,
				     const char *invoke_id, struct swas_result *ret, struct api_error *err)
{
	return f->ops->get_result(f, region, instance, invoke_id, ret, err);
}

/* Async-signal-safe; accepts NULL. */
static inline void fetcher_cancel(struct fetcher *f)
{
	if (f != NULL)
		f->ops->cancel(f);
}

/* Accepts NULL. */
static inline void fetcher_free(struct fetcher *f)
{
	if (f != NULL && f->ops->free != NULL)
		f->ops->free(f);
}

/* The fetcher that asks the SWAS API through @api (borrowed: it must outlive
 * the fetcher). cancel is api_cancel(). Returns 0, -EINVAL (no @api) or
 * -ENOMEM; the caller frees *ret with fetcher_free(). */
int fetcher_api_new(struct api *api, struct fetcher **ret);

#endif
