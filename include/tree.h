/* SPDX-License-Identifier: MIT */
/*
 * tree: the superblock. It owns every inode the kernel knows of (node.h's
 * table), decides what each one shows, and answers each request of the
 * kernel in one call: lookup, getattr, read, readdir(plus), forget. The FUSE
 * layer (fs.c) is a thin adapter: one call here, one reply there. No FUSE type
 * appears in this header, so the tree is unit-tested in C against the cache
 * and a fake fetcher (tests/test_tree.c).
 *
 * What it owns and what it borrows:
 *   - inodes hold identity only (region, instance, status, InvokeId, file);
 *     the records and results they show belong to the cache (cache.h), which
 *     keeps them within -o max_cache and fetches them again when dropped, so
 *     every call asks the cache for the current snapshot;
 *   - attributes and kernel cache lifetimes are decided in one function
 *     (attr_of in tree.c) from that snapshot, whichever request asks:
 *     getattr, lookup and readdirplus give the same answer;
 *   - file inode numbers are computed from (region, instance, InvokeId,
 *     file), in a range directory numbers never use (node.h), so a file keeps
 *     its number when its invocation moves from Running/ to Finished/;
 *   - the kernel notifier (notify.h) is the tree's: when a file starts
 *     showing different bytes its inode is queued, and the notifier's thread,
 *     a service of the daemon's struct bg (bg.h), tells the kernel after the
 *     reply.
 *
 * Locking rules (debug builds assert them, include/lockrule.h):
 *   - the node table's lock is held for memory work only; no cache call, no
 *     fetch and no notification is made under it;
 *   - no lock of the tree's, the node table's or the cache's is held while the
 *     cache fetches (cache.c asserts none is held around each fetcher call);
 *   - nothing is ever sent to the kernel from a request handler: handlers only
 *     queue inode numbers, and the send function runs on the notifier's own
 *     thread (asserted in tree_send).
 *
 * Return values: 0 or a negative errno the kernel may see (-ENOENT, -EACCES,
 * -EIO, -ENOMEM, -ENOTDIR, -EISDIR, -ESTALE: an inode the tree does not
 * have); other failures of lower layers come back as -EIO.
 * Ownership: tree_new() returns a tree freed with tree_free(), after
 * bg_stop() of its bg. It borrows the cache and the bg, which must outlive it.
 * Thread-safety: every request function may run on any number of threads at
 * once.
 */
#ifndef SWASFS_TREE_H
#define SWASFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "bg.h"
#include "cache.h"
#include "node.h"
#include "notify.h"
#include "readahead.h"

/* Kernel cache lifetime of anything that can never change. */
#define TREE_IMMUTABLE_TTL_S 86400

struct tree;

struct tree_config {
	uid_t uid; /* owner of every file */
	gid_t gid;
	time_t mount_time;   /* mtime of the root and region directories */
	bool results;	     /* show output and result.json */
	node_hash_fn hash;   /* inode numbers; NULL: FNV-1a (tests force collisions) */
	const char *version; /* .swasfs/version shows "swasfs <version>\n" (borrowed) */
	/* .swasfs/stats.json: renders it into *ret (caller frees) and *ret_len;
	 * 0 or -errno. NULL: the file is empty "{}\n". */
	int (*render_stats)(void *arg, char **ret, size_t *ret_len);
	void *stats_arg;
	struct readahead *readahead; /* told of walks (readahead.h); borrowed, may be NULL */
};

/* How the tree tells the kernel to drop an inode's cached pages and
 * attributes; called on the notifier's thread only. Its return is ignored
 * (an inode the kernel forgot answers -ENOENT). */
struct tree_kernel {
	int (*inval_inode)(void *arg, uint64_t ino);
	void *arg;
	/* The kernel accepted NO_OPENDIR: it keeps each directory's entries
	 * until the directory's mtime changes. */
	bool caches_dirs;
};

/* Returns 0, -EINVAL, -ENOMEM. Registers the notifier with @bg. */
int tree_new(const struct tree_config *cfg, struct cache *cache, struct bg *bg, struct tree **ret);
/* Frees every inode; call after bg_stop(). Accepts NULL. */
void tree_free(struct tree *t);

/* Set once, before bg_start() (from FUSE's init, before any request). */
void tree_set_kernel(struct tree *t, const struct tree_kernel *k);

/* An inode as the kernel is told of it: number, attributes, and how long it
 * may keep both (entry and attribute timeouts are the same). ino 0 is a
 * negative entry: the name does not exist, for @ttl seconds. */
struct tree_entry {
	uint64_t ino;
	struct stat attr;
	double ttl;
};

/* @name in directory @parent. On success with ret->ino != 0 the kernel's
 * lookup count of ret->ino was raised by one: if the reply does not reach
 * the kernel, undo it with tree_forget(ret->ino, 1). */
int tree_lookup(struct tree *t, uint64_t parent, const char *name, struct tree_entry *ret);
int tree_getattr(struct tree *t, uint64_t ino, struct stat *ret_st, double *ret_ttl);
/* Lowers the kernel's lookup count of @ino by @nlookup. */
void tree_forget(struct tree *t, uint64_t ino, uint64_t nlookup);

/* Bytes of a read, valid until tree_data_done(). */
struct tree_data {
	const char *bytes;
	size_t len;
	/* what keeps them alive; tree-private */
	char *rendered;
	const struct cache_record *rec;
	const struct cache_result *res;
	const struct cache_instances *instances;
};
/* Up to @size bytes of file @ino from @off (fewer at the end, none past it).
 * -EISDIR for a directory. */
int tree_read(struct tree *t, uint64_t ino, size_t size, off_t off, struct tree_data *ret);
void tree_data_done(struct tree *t, struct tree_data *d);

/*
 * Lists directory @ino from offset @off (0: from the start; offsets are 1
 * after ".", 2 after "..", 3 + i after entry i), calling @fill for each entry
 * until it returns non-zero (no room). With @plus, entries whose attributes
 * are known without a fetch come with them (@e non-NULL, the kernel's lookup
 * count of e->ino raised: an entry @fill could not take is undone here); the
 * others (output and result.json, whose size needs a result) with @e NULL.
 * @ino_hint and @mode are what a plain readdir shows. Returns 0, or an error
 * if nothing could be listed.
 */
typedef int (*tree_fill_fn)(void *arg, const char *name, mode_t mode, uint64_t ino_hint,
			    const struct tree_entry *e, off_t next);
int tree_readdir(struct tree *t, uint64_t ino, off_t off, bool plus, tree_fill_fn fill, void *arg);

/* The one extended attribute: on an invocation's directory and files,
 * "api" or "store", where the invocation shown comes from (with -o store). */
#define TREE_XATTR_ORIGIN "user.swasfs.origin"

/* The value of extended attribute @name of @ino into *ret (caller frees) and
 * *ret_len; -ENODATA if @ino has no such attribute (every other name, and
 * every other node). */
int tree_getxattr(struct tree *t, uint64_t ino, const char *name, char **ret, size_t *ret_len);
/* The names of @ino's extended attributes, each NUL-terminated, into @buf
 * (of @size bytes); the bytes they need in *ret_len. Fetches nothing.
 * Returns 0, or -ERANGE if they do not fit (@size 0 only asks the size). */
int tree_listxattr(struct tree *t, uint64_t ino, char *buf, size_t size, size_t *ret_len);

/* The target of symlink @ino into *ret (caller frees). -EINVAL if @ino is
 * not a symlink. */
int tree_readlink(struct tree *t, uint64_t ino, char **ret);

/* Queues every directory the kernel holds for invalidation (its attributes
 * and cached entries), so the next access asks again: for a reload. */
void tree_invalidate_dirs(struct tree *t);

/* For tests and the log. */
struct tree_stats {
	unsigned long inodes; /* nodes alive, the root included */
	unsigned long collisions;
	struct notify_stats notify;
};
void tree_get_stats(struct tree *t, struct tree_stats *ret);

#endif
