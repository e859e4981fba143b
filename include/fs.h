/* SPDX-License-Identifier: MIT */
/*
 * fs: the FUSE low-level operations: turn kernel requests into node and cache
 * look-ups, and replies. Nothing here talks to the API directly.
 *
 * Why the low-level API: readdirplus answers carry the attributes the listing
 * already holds (no LOOKUP per entry), and open can answer ENOSYS so the
 * kernel stops sending OPEN at all (FUSE_CAP_NO_OPEN_SUPPORT); together they
 * make a warm `grep -r` cost no request per file (contrib/docs/design.md §2).
 *
 * Records and results are asked of the cache on every request, never kept in
 * the inode table (node.h), so -o max_cache bounds what the daemon holds.
 *
 * Ownership: struct fs borrows the cache; main() creates and frees both.
 * Thread-safety: the operations run on libfuse's worker threads concurrently;
 * fs keeps no mutable state of its own outside the node table and the cache.
 */
#ifndef SWASFS_FS_H
#define SWASFS_FS_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <fuse_lowlevel.h>

#include "cache.h"

/* Kernel cache lifetime of anything that can never change. */
#define FS_IMMUTABLE_TTL_S 86400

struct fs;

struct fs_config {
	uid_t uid; /* owner of every file */
	gid_t gid;
	time_t mount_time; /* mtime of the root and region directories */
	bool results;	   /* show output and result.json */
};

/* Returns 0, -ENOMEM. Borrows @cache. */
int fs_new(const struct fs_config *cfg, struct cache *cache, struct fs **ret_fs);
void fs_free(struct fs *fs);

/* The session to send cache invalidations to; set once, before the loop. */
void fs_set_session(struct fs *fs, struct fuse_session *se);

/* The operations table; fuse_session_new gets the struct fs as userdata. */
const struct fuse_lowlevel_ops *fs_operations(void);

#endif
