// SPDX-License-Identifier: MIT
/*
 * fs: the FUSE low-level operations, each one call into the tree (tree.h)
 * and one reply. What the kernel is told, and for how long, is the tree's
 * business; here are only the FUSE types, the capabilities asked for at init
 * (contrib/docs/design.md §2-§4), and the undoing of lookup counts whose reply
 * never reached the kernel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs.h"
#include "log.h"
#include "tree.h"

struct fs {
	struct tree *tree; /* borrowed */
	struct bg *bg;	   /* borrowed: started at init, stopped at destroy */
	bool no_open;	   /* the kernel accepted ENOSYS for open */
	bool no_opendir;   /* ... and for opendir */
	struct fuse_session *se;
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e = { 0 };
	struct tree_entry te;
	int r = tree_lookup(fs->tree, parent, name, &te);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = te.ino;
	e.attr = te.attr;
	e.attr_timeout = te.ttl;
	e.entry_timeout = te.ttl;
	/* The kernel holds a lookup only if it got the reply. */
	if (fuse_reply_entry(req, &e) != 0 && te.ino != 0)
		tree_forget(fs->tree, te.ino, 1);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	tree_forget(fs_of(req)->tree, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		tree_forget(fs->tree, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double ttl;
	int r = tree_getattr(fs_of(req)->tree, ino, &st, &ttl);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, ttl);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target = NULL;
	int r = tree_readlink(fs_of(req)->tree, ino, &target);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

/* The mount is read-only; the kernel refuses most writes itself (-o ro),
 * this covers the rest. */
static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* ENOSYS once, and the kernel never sends OPEN (or RELEASE) again and
	 * keeps each file's pages; without that capability, keep them anyway:
	 * the tree tells the kernel when a file's bytes change. */
	if (fs_of(req)->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_data d;
	int r = tree_read(fs->tree, ino, size, off, &d);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, d.bytes, d.len);
	tree_data_done(fs->tree, &d);
}

/*
 * Without opendir the kernel keeps every directory's entries until the
 * directory's mtime changes, and a walk saves two requests per directory. A
 * kernel without FUSE_CAP_NO_OPENDIR_SUPPORT gets a plain open, without
 * cache_readdir: it then asks readdir every time, each call answered from the
 * current snapshot. No handle, so no RELEASEDIR to handle.
 */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fs_of(req)->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

/* One readdir reply being filled. */
struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	bool plus;
	uint64_t *counted; /* entries whose lookup count the tree raised */
	size_t ncounted, maxcounted;
};

static int dirbuf_fill(void *arg, const char *name, mode_t mode, uint64_t ino_hint,
		       const struct tree_entry *te, off_t next)
{
	struct dirbuf *b = arg;
	struct fuse_entry_param e = { 0 };
	size_t need;

	e.attr.st_mode = mode;
	e.attr.st_ino = ino_hint;
	if (te != NULL) {
		e.ino = te->ino;
		e.attr = te->attr;
		e.attr_timeout = te->ttl;
		e.entry_timeout = te->ttl;
	}
	if (b->plus) {
		need = fuse_add_direntry_plus(b->req, b->buf + b->used, b->size - b->used, name, &e, next);
		if (need > b->size - b->used || (te != NULL && b->ncounted == b->maxcounted))
			return 1;
		if (te != NULL)
			b->counted[b->ncounted++] = te->ino;
	} else {
		need = fuse_add_direntry(b->req, b->buf + b->used, b->size - b->used, name, &e.attr, next);
		if (need > b->size - b->used)
			return 1;
	}
	b->used += need;
	return 0;
}

static void reply_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs *fs = fs_of(req);
	struct dirbuf b = { .req = req, .size = size, .plus = plus };
	int r;

	b.buf = malloc(size ? size : 1);
	if (plus) {
		/* At most one counted entry per smallest record that fits. */
		b.maxcounted = size / fuse_add_direntry_plus(req, NULL, 0, "", NULL, 0) + 1;
		b.counted = malloc(b.maxcounted * sizeof(*b.counted));
	}
	if (b.buf == NULL || (plus && b.counted == NULL)) {
		fuse_reply_err(req, ENOMEM);
		goto out_free;
	}
	r = tree_readdir(fs->tree, ino, off, plus, dirbuf_fill, &b);
	if (r < 0) {
		fuse_reply_err(req, -r);
		goto out_free;
	}
	/* The kernel holds the lookups only if it got the reply. */
	if (fuse_reply_buf(req, b.buf, b.used) != 0) {
		for (size_t i = 0; i < b.ncounted; i++)
			tree_forget(fs->tree, b.counted[i], 1);
	}
out_free:
	free(b.counted);
	free(b.buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	reply_readdir(req, ino, size, off, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	reply_readdir(req, ino, size, off, true);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { 0 };

	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = CACHE_NAME_MAX;
	sv.f_flag = ST_RDONLY | ST_NOATIME;
	fuse_reply_statfs(req, &sv);
}

/* user.swasfs.origin (tree.h); size 0 asks how long the value is. */
static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *value = NULL;
	size_t len = 0;
	int r = tree_getxattr(fs_of(req)->tree, ino, name, &value, &len);

	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
	free(value);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char buf[64];
	size_t len = 0;
	int r = tree_listxattr(fs_of(req)->tree, ino, buf, size < sizeof(buf) ? size : sizeof(buf), &len);

	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

/* The tree's way of telling the kernel; runs on the notifier's thread only. */
static int send_inval_inode(void *arg, uint64_t ino)
{
	return fuse_lowlevel_notify_inval_inode(arg, (fuse_ino_t)ino, 0, 0);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;
	struct tree_kernel k = { .inval_inode = send_inval_inode, .arg = fs->se };
	int r;

	/* readdirplus always: attributes come with the listing, and the
	 * kernel's adaptive mode would fall back to a LOOKUP per entry. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		fs->no_open = true;
	}
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = true;
	}
	/* A running invocation's output grows: drop its pages when the size
	 * or mtime the kernel sees changes. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* Directory mtimes carry a digest in their nanoseconds (tree.c). */
	conn->time_gran = 1;
	k.caches_dirs = fs->no_opendir;
	if (fs->se == NULL)
		k.inval_inode = NULL;
	tree_set_kernel(fs->tree, &k);
	/* Every background thread starts now, after fuse_daemonize's fork. */
	r = bg_start(fs->bg);
	if (r < 0)
		log_warn("no background threads (%s): stale listings are refreshed in the foreground and "
			 "changed files may be served from the kernel's cache until their size or mtime "
			 "change",
			 strerror(-r));
}

/* At unmount, before the session goes: nothing is sent after this. */
static void fs_destroy(void *userdata)
{
	struct fs *fs = userdata;

	bg_stop(fs->bg);
}

static const struct fuse_lowlevel_ops ops = {
	.init = fs_init,
	.destroy = fs_destroy,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.open = fs_open,
	.read = fs_read,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.statfs = fs_statfs,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
};

const struct fuse_lowlevel_ops *fs_operations(void)
{
	return &ops;
}

int fs_new(struct tree *tree, struct bg *bg, struct fs **ret_fs)
{
	struct fs *fs = calloc(1, sizeof(*fs));

	if (fs == NULL)
		return -ENOMEM;
	fs->tree = tree;
	fs->bg = bg;
	*ret_fs = fs;
	return 0;
}

void fs_set_session(struct fs *fs, struct fuse_session *se)
{
	fs->se = se;
}

void fs_free(struct fs *fs)
{
	free(fs);
}
