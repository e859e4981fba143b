/* SPDX-License-Identifier: MIT */
/*
 * fs: the FUSE low-level operations. Each is one call into the tree
 * (tree.h), which owns the inodes and decides every answer, and one reply.
 *
 * Why the low-level API: readdirplus answers carry the attributes the listing
 * already holds (no LOOKUP per entry), and open can answer ENOSYS so the
 * kernel stops sending OPEN at all (FUSE_CAP_NO_OPEN_SUPPORT); together they
 * make a warm `grep -r` cost no request per file (contrib/docs/design.md §2).
 *
 * FUSE's init starts the daemon's background threads (bg_start: after
 * fuse_daemonize's fork) and destroy stops them (bg_stop), so no notification
 * reaches the kernel after the session is gone.
 *
 * Ownership: struct fs borrows the tree and the bg; main() creates and frees
 * all three. Thread-safety: the operations run on libfuse's worker threads
 * concurrently; fs keeps no mutable state but the capabilities set at init.
 */
#ifndef SWASFS_FS_H
#define SWASFS_FS_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <fuse_lowlevel.h>

#include "bg.h"
#include "tree.h"

struct fs;

/* Returns 0 or -ENOMEM. Borrows @tree and @bg. */
int fs_new(struct tree *tree, struct bg *bg, struct fs **ret_fs);
void fs_free(struct fs *fs);

/* The session to send cache invalidations to; set once, before the loop. */
void fs_set_session(struct fs *fs, struct fuse_session *se);

/* The operations table; fuse_session_new gets the struct fs as userdata. */
const struct fuse_lowlevel_ops *fs_operations(void);

#endif
