/* SPDX-License-Identifier: MIT */
/*
 * store: the local store behind the mount (-o store=DIR), where what the
 * mount has seen outlives the API's two-week retention.
 *
 * What it keeps: every invocation seen in a terminal state (Finished,
 * Failed, Stopped), written once, with its compact record (swas.h), and
 * once fetched its result; and each instance's record. Layout (DIR 0700,
 * files 0600, format in storefmt.h and contrib/docs/store.md):
 *
 *   DIR/FORMAT                          "swasfs-store 1": the format version
 *   DIR/lock                            flock'ed by the daemon that uses DIR
 *   DIR/regions/<region>/instances      the region's instance records
 *   DIR/regions/<region>/inv/<instance> the instance's invocations and results
 *
 * Reading is lazy: opening reads FORMAT and lists DIR/regions; a region's
 * files are listed and its instance records read when the region is first
 * merged; an instance's log is read (and its index of InvokeId -> frame
 * built) when that instance is first merged or asked for a result. The
 * index keeps ids and offsets only; records and results are read back from
 * disk, and checked, each time they are served.
 *
 * Merging is how the fetcher above uses the store (fetcher_store.c): given
 * the API's answer (or none, offline or when the API is down), a merge
 * queues for writing what the store lacks and adds to the answer what
 * the store has that the API no longer returns (instances appended;
 * invocations as the listing's archive, swas.h, marked SWAS_ORIGIN_STORE
 * when loaded). Nothing is removed from the store because the API
 * stopped returning it; only store_days' pruning removes.
 *
 * Writes go through a bounded queue to one writer (a bg service), which
 * appends frames and makes them durable in group commits, at most
 * STORE_COMMIT_MS after the first write of a batch; a full queue drops the
 * write (counted; the next listing queues it again). A write that fails (a
 * full disk) is undone, logged once, and tried again when the data comes
 * by again.
 *
 * Ownership: lists passed to the merges stay the caller's, grown in place;
 * results returned are the caller's (swas_result_done). Thread-safety:
 * every function but store_open/store_free may be called from any thread
 * at once; store_free must not race with anything (after bg_stop).
 */
#ifndef SWASFS_STORE_H
#define SWASFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "swas.h"

struct store;
struct bg;

/* Group commit period: writes are durable at most this long after they are
 * made (fsync batching). */
#define STORE_COMMIT_MS 2000u
/* Writes waiting at most, and their bytes: past either a write is dropped
 * and counted (it is queued again when its data is next listed). One
 * instance's first listing may queue all of its records at once, so the
 * count is the API's retention (API_MAX_INVOCATIONS) and the bytes are what
 * bounds the memory. */
#define STORE_MAX_QUEUED       ((size_t)API_MAX_INVOCATIONS)
#define STORE_MAX_QUEUED_BYTES ((size_t)64u << 20)
/* store_days below the API's own retention would prune what the API still
 * returns. */
#define STORE_MIN_DAYS 14u
/* Pruning runs at start-up and then this often. */
#define STORE_PRUNE_PERIOD_S 86400u

struct store_config {
	const char *dir;
	bool read_only;	    /* -o offline: nothing is created or written */
	unsigned keep_days; /* -o store_days; 0 keeps everything */
};

/* Opens (creating it unless read_only) the store at cfg->dir and takes its
 * lock. Returns 0, -EBUSY (another daemon holds the lock), -EPROTONOSUPPORT
 * (written by a newer swasfs), -ENOENT (read_only and no store there),
 * -ENOTDIR, -ENOMEM or another -errno; @why (may be NULL) gets a sentence
 * for the user. Starts no thread. */
int store_open(const struct store_config *cfg, struct store **ret, char *why, size_t why_size);
/* Registers the writer (and pruner) with @bg (bg.h); a read-only store
 * registers nothing. Without it, writes wait for store_flush(). */
int store_start(struct store *s, struct bg *bg);
/* Writes what is queued, commits, and frees. Call after bg_stop. Accepts NULL. */
void store_free(struct store *s);

/* Appends the stored regions the list lacks. @from_api: @list is the API's
 * answer (noted for store_api_listed). 0 or -ENOMEM. */
int store_merge_regions(struct store *s, struct swas_region_list *list, bool from_api);
/* Queues the API's instances the store lacks (or has with another
 * CreationTime); appends the stored instances the list lacks that have
 * stored history. 0 or -ENOMEM. */
int store_merge_instances(struct store *s, const char *region, struct swas_instance_list *list,
			  bool from_api);
/* Queues the terminal invocations of @list the store lacks, and gives
 * @list the stored ones it lacks as its archive (swas.h: listed from the
 * index, each record read back and checked when it is loaded; a record that
 * fails its check is dropped from the index, logged and not served). 0,
 * -ENOMEM or -EIO (the instance's log cannot be read). */
int store_merge_invocations(struct store *s, const char *region, const char *instance,
			    struct swas_invocation_list *list, bool from_api);
/* True if a merge with the API's answer for this key was made since open. */
bool store_api_listed(struct store *s, const char *region, const char *instance);
/* True if the store has anything for @region (@instance NULL) or @instance. */
bool store_has(struct store *s, const char *region, const char *instance);

/* The stored result of @invoke_id: 0 and *ret (caller frees), -ENOENT if
 * none is stored (or the stored one failed its check: dropped and logged),
 * -ENOMEM. */
int store_get_result(struct store *s, const char *region, const char *instance, const char *invoke_id,
		     struct swas_result *ret);
/* Queues @res (borrowed) if @invoke_id is a stored terminal invocation
 * whose result the store lacks and @res is final. */
void store_put_result(struct store *s, const char *region, const char *instance, const char *invoke_id,
		      const struct swas_result *res);

/* Writes everything queued and commits now, on the caller's thread (for
 * tests and for exit). 0 or the first write error. */
int store_flush(struct store *s);
/* Prunes invocations created before @now - keep_days days that the API did
 * not return in this mount's last listing. For tests; the writer runs it. */
int store_prune(struct store *s, time_t now);

struct store_stats {
	unsigned long queued;  /* writes accepted */
	unsigned long written; /* frames written */
	unsigned long dropped; /* writes refused: queue full */
	unsigned long failed;  /* writes that failed (full disk, I/O error) */
	unsigned long bad;     /* stored records found bad and dropped */
	unsigned long commits; /* group commits */
	unsigned long pruned;  /* invocations pruned */
	unsigned long loaded;  /* instance logs read */
	unsigned long read;    /* archived records read back (looked at) */
	size_t index_bytes;    /* memory the indexes hold */
};
void store_get_stats(struct store *s, struct store_stats *ret);

#endif
