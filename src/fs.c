// SPDX-License-Identifier: MIT
/*
 * fs: FUSE low-level operations over the node table and the cache.
 *
 * Each operation reads like a sentence: find the node, get the fresh data it
 * shows from the cache, reply. The kernel's caches are told to keep what we
 * say for as long as our cache would: a terminal invocation and its files for
 * a day (they never change), listings for cache_ttl, regions and instances
 * for instance_ttl. Nodes hold identity only (node.h): every operation asks
 * the cache for the listing or result it shows, so the cache's max_cache
 * bounds what is kept. Directories are never opened (NO_OPENDIR): each
 * readdir lists the current snapshot and the kernel keeps what it got until
 * the directory's mtime changes (fill_dir).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "fs.h"
#include "render.h"
#include "log.h"
#include "node.h"
#include "notify.h"

struct fs {
	struct cache *cache; /* borrowed */
	struct node_table *nodes;
	struct fs_config cfg;
	bool no_open;		 /* the kernel accepted ENOSYS for open */
	bool no_opendir;	 /* ... and for opendir */
	struct fuse_session *se; /* for cache invalidation notices */
	struct notify *notify;	 /* sends them; from init to destroy */
};

/* A directory being listed: the snapshot one readdir call answers from. */
struct dirh {
	struct node *node; /* referenced */
	const struct cache_regions *regions;
	const struct cache_instances *instances;
	const struct cache_invocations *listing;
	const struct cache_status *status; /* borrowed from listing */
	const struct cache_record *rec;	   /* referenced */
	size_t count;			   /* entries besides "." and ".." */
};

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Errors the kernel may see: the cache's own, else EIO. */
static int to_errno(int r)
{
	switch (r) {
	case -ENOENT:
	case -EACCES:
	case -ENOMEM:
	case -ENOTDIR:
	case -EISDIR:
	case -ENAMETOOLONG:
	case -ESTALE:
		return -r;
	default:
		return EIO;
	}
}

/* ---- attributes ---- */

/* @ns: the digest of the directory's entries (cache.h), so the kernel drops
 * its cached entries when they change. */
static void fill_dir(const struct fs *fs, struct stat *st, uint64_t ino, time_t t, long ns, nlink_t nlink)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = nlink;
	st->st_uid = fs->cfg.uid;
	st->st_gid = fs->cfg.gid;
	st->st_size = 0;
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = t;
	st->st_atim.tv_nsec = st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = ns;
}

static void fill_file(const struct fs *fs, struct stat *st, uint64_t ino, time_t t, size_t size)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->cfg.uid;
	st->st_gid = fs->cfg.gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = t;
}

/* The size of one of the three files of the listing record (the JSON files
 * were sized once, when the record was parsed). */
static size_t record_file_size(const struct cache_record *rec, enum node_file f)
{
	switch (f) {
	case NODE_FILE_COMMAND:
		return rec->inv.command_len;
	case NODE_FILE_PARAMETERS:
		return rec->inv.parameters_json_len;
	case NODE_FILE_METADATA:
		return rec->inv.metadata_json_len;
	default:
		return 0;
	}
}

/* The bytes of one of the three files of the listing record, for a read of
 * @n: the command is the record's own; the JSON files are rendered now into
 * *ret_buf, which the caller frees (NULL for the command). */
static int record_file(const struct node *n, const struct cache_record *rec, const char **ret,
		       size_t *ret_len, char **ret_buf)
{
	char *buf = NULL;
	size_t len = 0;
	int r = 0;

	switch (n->file) {
	case NODE_FILE_COMMAND:
		*ret = (const char *)rec->inv.command;
		*ret_len = rec->inv.command_len;
		*ret_buf = NULL;
		return 0;
	case NODE_FILE_PARAMETERS:
		r = render_parameters(&rec->inv, &buf, &len);
		break;
	case NODE_FILE_METADATA:
		r = render_metadata(&rec->inv, n->region, n->instance, &buf, &len);
		break;
	default:
		break;
	}
	if (r < 0)
		return r;
	*ret = buf;
	*ret_len = len;
	*ret_buf = buf;
	return 0;
}

/* FNV-1a, 64 bits: a fingerprint of what a file served (node.h), not a
 * defence against anyone; a change it misses costs a stale page, as a
 * change of neither size nor mtime always did. */
#define FS_FNV_INIT 0xcbf29ce484222325ull

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Hashes @len, then the bytes: two fields never run into each other. */
static uint64_t fnv_field(uint64_t h, const void *p, size_t len)
{
	uint64_t n = len;

	return fnv(fnv(h, &n, sizeof(n)), p, len);
}

/* The fingerprint of file @f of @rec, from what the file is made of (the
 * command; the record and the fields put back into it) without rendering:
 * the record is printed canonically, so equal sources are equal files. The
 * region and instance metadata.json also shows are the node's own. */
static struct node_fingerprint record_fingerprint(const struct cache_record *rec, enum node_file f)
{
	const struct swas_invocation *x = &rec->inv;
	uint64_t h = FS_FNV_INIT;

	if (f == NODE_FILE_COMMAND || f == NODE_FILE_METADATA)
		h = fnv_field(h, x->command, x->command_len);
	if (f == NODE_FILE_PARAMETERS || f == NODE_FILE_METADATA)
		h = fnv_field(h, swas_invocation_record(x), x->record_len);
	if (f == NODE_FILE_METADATA) {
		int64_t ctime = x->ctime;

		h = fnv_field(h, &ctime, sizeof(ctime));
		h = fnv_field(h, x->put_back, sizeof(x->put_back));
		h = fnv_field(h, x->invoke_id, strlen(x->invoke_id));
		h = fnv_field(h, x->invoke_status, strlen(x->invoke_status));
	}
	return (struct node_fingerprint){
		.size = record_file_size(rec, f), .hash = h, .final = rec->is_final, .set = true
	};
}

static const void *result_file(const struct cache_result *res, enum node_file f, size_t *ret_len)
{
	if (f == NODE_FILE_OUTPUT) {
		*ret_len = res->res.output_len;
		return res->res.output;
	}
	*ret_len = res->res.result_json_len;
	return res->res.result_json;
}

static bool is_result_file(enum node_file f)
{
	return f == NODE_FILE_OUTPUT || f == NODE_FILE_RESULT;
}

/*
 * The kernel keeps file pages across opens (no OPEN is ever sent), and drops
 * them by itself only when size or mtime change. A running invocation's file
 * can change with neither (InvocationStatus "Pending" -> "Running" in
 * metadata.json), so when a file node starts showing different bytes (its
 * fingerprint changes), tell the kernel, through the notifier thread: never
 * from here (notify.h).
 */
static void inval_if_changed(struct fs *fs, struct node *n, const struct node_fingerprint *fp)
{
	if (node_serve(fs->nodes, n, fp))
		notify_inode(fs->notify, n->ino);
}

/* True if @n served final bytes and is about to serve final ones again:
 * they are the same (final records and results never change), so skip
 * hashing them. */
static bool still_final(struct fs *fs, struct node *n, bool now_final)
{
	struct node_fingerprint old = node_served(fs->nodes, n);

	return now_final && old.set && old.final;
}

/* ---- fresh data for a node ---- */

static struct cache_instance instance_of(const struct node *n)
{
	return (struct cache_instance){ .id = (char *)n->instance, .ctime = n->instance_ctime };
}

static int get_listing(struct fs *fs, const struct node *n, const struct cache_invocations **ret)
{
	struct cache_instance inst = instance_of(n);

	return cache_get_invocations(fs->cache, n->region, &inst, ret);
}

/*
 * The record an invocation node (or a file in it) shows, with a reference:
 * the one in the current listing (fresh, or refreshed per cache_ttl; stale
 * while the API does not answer). An invocation no longer listed is ENOENT.
 * A running invocation's record follows the listing, so its files change
 * when the listing does; a final record's bytes never change.
 */
static int invocation_record(struct fs *fs, struct node *inv, const struct cache_record **ret)
{
	const struct cache_invocations *l;
	const struct cache_record *rec;
	int r;

	r = get_listing(fs, inv, &l);
	if (r < 0)
		return r;
	rec = cache_find_invocation(l, inv->invoke_id);
	if (rec != NULL)
		cache_record_ref(fs->cache, rec);
	cache_invocations_unref(fs->cache, l);
	if (rec == NULL)
		return -ENOENT;
	*ret = rec;
	return 0;
}

/* The result an output or result.json node shows, with a reference (the
 * cache fetches it on first use, and again once dropped); see
 * inval_if_changed. */
static int invocation_result(struct fs *fs, struct node *file, const struct cache_record *rec,
			     const struct cache_result **ret)
{
	const struct cache_result *res;
	struct node_fingerprint fp;
	const void *data;
	size_t len;
	int r;

	r = cache_get_result(fs->cache, file->region, file->instance, rec, &res);
	if (r < 0)
		return r;
	if (!still_final(fs, file, res->is_final)) {
		data = result_file(res, file->file, &len);
		fp = (struct node_fingerprint){
			.size = len, .hash = fnv(FS_FNV_INIT, data, len), .final = res->is_final, .set = true
		};
		inval_if_changed(fs, file, &fp);
	}
	*ret = res;
	return 0;
}

/* Notes the record a file node now shows; see inval_if_changed. */
static void note_file_record(struct fs *fs, struct node *n, const struct cache_record *rec)
{
	struct node_fingerprint fp;

	if (still_final(fs, n, rec->is_final))
		return;
	fp = record_fingerprint(rec, n->file);
	inval_if_changed(fs, n, &fp);
}

/* True if the kernel keeps @n's entries (no OPENDIR: it lists once, then
 * serves its copy until the directory's mtime changes). */
static bool is_cached_dir(struct fs *fs, struct node *n)
{
	return fs->no_opendir && node_dir_is_cached(fs->nodes, n);
}

/*
 * The instance list of a region directory, for its mtime digest. If the
 * kernel caches the directory's entries, this getattr is the only chance to
 * notice a change (readdir does not reach us), so refresh a stale list;
 * otherwise take what is cached: `ls -l /mnt` must not spend ListInstances
 * calls (10 a minute). NULL if there is none.
 */
static const struct cache_instances *region_instances(struct fs *fs, struct node *n, bool refresh)
{
	const struct cache_instances *l = NULL;

	if (refresh && cache_get_instances(fs->cache, n->region, &l) == 0)
		return l;
	return cache_peek_instances(fs->cache, n->region, &l) == 0 ? l : NULL;
}

/* The same for an instance directory and its listing. */
static const struct cache_invocations *instance_listing(struct fs *fs, struct node *n, bool refresh)
{
	const struct cache_invocations *l = NULL;

	if (refresh && get_listing(fs, n, &l) == 0)
		return l;
	return cache_peek_invocations(fs->cache, n->region, n->instance, &l) == 0 ? l : NULL;
}

/* Attributes and kernel cache time of a node; fetches what it must. */
static int node_attr(struct fs *fs, struct node *n, struct stat *st, double *ret_ttl)
{
	const struct cache_invocations *l = NULL;
	const struct cache_regions *regions;
	const struct cache_status *status;
	const struct cache_record *rec = NULL;
	const struct cache_result *res;
	size_t size;
	int r = 0;

	switch (n->kind) {
	case NODE_ROOT:
		r = cache_get_regions(fs->cache, &regions);
		if (r < 0)
			return r;
		fill_dir(fs, st, n->ino, fs->cfg.mount_time, regions->entries_ns, 2 + regions->count);
		cache_regions_unref(fs->cache, regions);
		*ret_ttl = cache_instance_ttl(fs->cache);
		return 0;
	case NODE_REGION: {
		const struct cache_instances *instances = region_instances(fs, n, is_cached_dir(fs, n));

		/* nlink 1: "not counted" (counting would need the list). */
		fill_dir(fs, st, n->ino, fs->cfg.mount_time, instances ? instances->entries_ns : 0, 1);
		cache_instances_unref(fs->cache, instances);
		*ret_ttl = cache_instance_ttl(fs->cache);
		return 0;
	}
	case NODE_INSTANCE:
		l = instance_listing(fs, n, is_cached_dir(fs, n));
		fill_dir(fs, st, n->ino, n->instance_ctime, l ? l->entries_ns : 0, 1);
		cache_invocations_unref(fs->cache, l);
		/* Its entries follow the listing, so does the kernel's copy. */
		*ret_ttl = cache_listing_ttl(fs->cache);
		return 0;
	case NODE_STATUS:
		r = get_listing(fs, n, &l);
		if (r < 0)
			return r;
		status = cache_find_status(l, n->status);
		if (status == NULL)
			r = -ENOENT;
		else
			fill_dir(fs, st, n->ino, status->mtime, status->mtime_ns, 2 + status->count);
		cache_invocations_unref(fs->cache, l);
		*ret_ttl = cache_listing_ttl(fs->cache);
		return r;
	case NODE_INVOCATION:
		r = invocation_record(fs, n, &rec);
		if (r < 0)
			return r;
		fill_dir(fs, st, n->ino, rec->inv.ctime, 0, 2);
		*ret_ttl = rec->is_final ? FS_IMMUTABLE_TTL_S : cache_listing_ttl(fs->cache);
		cache_record_unref(fs->cache, rec);
		return 0;
	case NODE_FILE:
		break;
	}
	r = invocation_record(fs, n->parent, &rec);
	if (r < 0)
		return r;
	if (!is_result_file(n->file)) {
		note_file_record(fs, n, rec);
		size = record_file_size(rec, n->file);
		fill_file(fs, st, n->ino, rec->inv.ctime, size);
		*ret_ttl = rec->is_final ? FS_IMMUTABLE_TTL_S : cache_listing_ttl(fs->cache);
		goto out_rec;
	}
	r = invocation_result(fs, n, rec, &res);
	if (r < 0)
		goto out_rec;
	result_file(res, n->file, &size);
	fill_file(fs, st, n->ino, res->mtime, size);
	*ret_ttl = res->is_final ? FS_IMMUTABLE_TTL_S : cache_listing_ttl(fs->cache);
	cache_result_unref(fs->cache, res);
out_rec:
	cache_record_unref(fs->cache, rec);
	return r;
}

/* ---- lookup ---- */

/* Is @name an entry of directory @parent? Sets the child's kind, file,
 * instance time and the kernel's negative-entry time on the way. */
static int child_exists(struct fs *fs, struct node *parent, const char *name, enum node_kind *kind,
			enum node_file *file, time_t *ctime, double *neg_ttl)
{
	const struct cache_regions *regions;
	const struct cache_instances *instances;
	const struct cache_invocations *l;
	const struct cache_instance *inst;
	const struct cache_status *st;
	bool found = false;
	int r;

	*ctime = parent->instance_ctime;
	switch (parent->kind) {
	case NODE_ROOT:
		*kind = NODE_REGION;
		*neg_ttl = cache_instance_ttl(fs->cache);
		r = cache_get_regions(fs->cache, &regions);
		if (r < 0)
			return r;
		for (size_t i = 0; i < regions->count && !found; i++)
			found = strcmp(regions->ids[i], name) == 0;
		cache_regions_unref(fs->cache, regions);
		break;
	case NODE_REGION:
		*kind = NODE_INSTANCE;
		*neg_ttl = cache_instance_ttl(fs->cache);
		r = cache_get_instances(fs->cache, parent->region, &instances);
		if (r < 0)
			return r;
		inst = cache_find_instance(instances, name);
		if (inst != NULL) {
			found = true;
			*ctime = inst->ctime;
		}
		cache_instances_unref(fs->cache, instances);
		break;
	case NODE_INSTANCE:
	case NODE_STATUS:
		*kind = parent->kind == NODE_INSTANCE ? NODE_STATUS : NODE_INVOCATION;
		*neg_ttl = cache_listing_ttl(fs->cache);
		r = get_listing(fs, parent, &l);
		if (r < 0)
			return r;
		if (parent->kind == NODE_INSTANCE) {
			found = cache_find_status(l, name) != NULL;
		} else {
			st = cache_find_status(l, parent->status);
			found = st != NULL && cache_find_record(l, st, name) != NULL;
		}
		cache_invocations_unref(fs->cache, l);
		break;
	case NODE_INVOCATION:
		*kind = NODE_FILE;
		*neg_ttl = FS_IMMUTABLE_TTL_S;
		for (int f = 0; f < NODE_FILE_COUNT && !found; f++) {
			if (strcmp(node_file_names[f], name) == 0 &&
			    (fs->cfg.results || !is_result_file((enum node_file)f))) {
				*file = (enum node_file)f;
				found = true;
			}
		}
		break;
	case NODE_FILE:
		return -ENOTDIR;
	}
	return found ? 0 : -ENOENT;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e = { 0 };
	struct node *parent, *child = NULL;
	enum node_kind kind = NODE_FILE;
	enum node_file file = NODE_FILE_COMMAND;
	double ttl = 1.0;
	time_t ctime = 0;
	int r;

	parent = node_get(fs->nodes, parent_ino);
	if (parent == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	r = child_exists(fs, parent, name, &kind, &file, &ctime, &ttl);
	if (r == -ENOENT) {
		/* A negative entry, cached as long as the listing that proves it. */
		e.entry_timeout = ttl;
		fuse_reply_entry(req, &e);
		goto out_parent;
	}
	if (r < 0)
		goto out_err;
	r = node_child(fs->nodes, parent, name, kind, file, ctime, true, &child);
	if (r < 0)
		goto out_err;
	r = node_attr(fs, child, &e.attr, &ttl);
	if (r < 0) {
		node_forget(fs->nodes, child->ino, 1);
		goto out_err;
	}
	e.ino = child->ino;
	e.attr_timeout = ttl;
	e.entry_timeout = ttl;
	/* The kernel holds a lookup only if it got the reply. */
	if (fuse_reply_entry(req, &e) != 0)
		node_forget(fs->nodes, child->ino, 1);
	goto out_child;

out_err:
	fuse_reply_err(req, to_errno(r));
out_child:
	node_put(fs->nodes, child);
out_parent:
	node_put(fs->nodes, parent);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fs_of(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		node_forget(fs->nodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct node *n = node_get(fs->nodes, ino);
	struct stat st;
	double ttl;
	int r;

	(void)fi;
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	r = node_attr(fs, n, &st, &ttl);
	if (r < 0)
		fuse_reply_err(req, to_errno(r));
	else
		fuse_reply_attr(req, &st, ttl);
	node_put(fs->nodes, n);
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
	struct fs *fs = fs_of(req);

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* ENOSYS once, and the kernel never sends OPEN (or RELEASE) again and
	 * keeps each file's pages; without that capability, keep them anyway:
	 * file contents change only together with their size (see fs_init). */
	if (fs->no_open) {
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
	struct node *n = node_get(fs->nodes, ino);
	const struct cache_record *rec = NULL;
	const struct cache_result *res = NULL;
	char *rendered = NULL; /* metadata.json or parameters.json, rendered for this read */
	const char *data;
	size_t len;
	int r;

	(void)fi;
	if (n == NULL) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (n->kind != NODE_FILE) {
		r = -EISDIR;
		goto out_err;
	}
	r = invocation_record(fs, n->parent, &rec);
	if (r < 0)
		goto out_err;
	if (is_result_file(n->file)) {
		r = invocation_result(fs, n, rec, &res);
		if (r < 0)
			goto out_err;
		data = result_file(res, n->file, &len);
	} else {
		r = record_file(n, rec, &data, &len, &rendered);
		if (r < 0)
			goto out_err;
	}
	if (off < 0 || (uint64_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off, len - (size_t)off < size ? len - (size_t)off : size);
	goto out;

out_err:
	fuse_reply_err(req, to_errno(r));
out:
	free(rendered);
	cache_result_unref(fs->cache, res);
	cache_record_unref(fs->cache, rec);
	node_put(fs->nodes, n);
}

/* ---- directories ---- */

static void dirh_free(struct fs *fs, struct dirh *d)
{
	cache_regions_unref(fs->cache, d->regions);
	cache_instances_unref(fs->cache, d->instances);
	cache_invocations_unref(fs->cache, d->listing);
	cache_record_unref(fs->cache, d->rec);
	node_put(fs->nodes, d->node);
	free(d);
}

/* Takes the snapshot an open directory lists, refreshing it if stale. */
static int dirh_fill(struct fs *fs, struct dirh *d)
{
	struct node *n = d->node;
	int r;

	switch (n->kind) {
	case NODE_ROOT:
		r = cache_get_regions(fs->cache, &d->regions);
		if (r == 0)
			d->count = d->regions->count;
		return r;
	case NODE_REGION:
		r = cache_get_instances(fs->cache, n->region, &d->instances);
		if (r == 0)
			d->count = d->instances->count;
		return r;
	case NODE_INSTANCE:
		r = get_listing(fs, n, &d->listing);
		if (r == 0)
			d->count = d->listing->nstatuses;
		return r;
	case NODE_STATUS:
		r = get_listing(fs, n, &d->listing);
		if (r < 0)
			return r;
		d->status = cache_find_status(d->listing, n->status);
		if (d->status == NULL)
			return -ENOENT;
		d->count = d->status->count;
		return 0;
	case NODE_INVOCATION:
		r = invocation_record(fs, n, &d->rec);
		if (r == 0)
			d->count = fs->cfg.results ? NODE_FILE_COUNT : NODE_FILE_OUTPUT;
		return r;
	case NODE_FILE:
		break;
	}
	return -ENOTDIR;
}

/* The snapshot one readdir call lists. */
static int dirh_new(struct fs *fs, fuse_ino_t ino, struct dirh **ret)
{
	struct dirh *d = calloc(1, sizeof(*d));
	int r;

	if (d == NULL)
		return -ENOMEM;
	d->node = node_get(fs->nodes, ino);
	if (d->node == NULL) {
		free(d);
		return -ESTALE;
	}
	r = dirh_fill(fs, d);
	if (r < 0) {
		dirh_free(fs, d);
		return r;
	}
	*ret = d;
	return 0;
}

/*
 * Without opendir the kernel keeps every directory's entries (FOPEN_CACHE_DIR
 * | FOPEN_KEEP_CACHE) until the directory's mtime changes (see fill_dir), and
 * saves two requests per directory in a walk. A kernel without
 * FUSE_CAP_NO_OPENDIR_SUPPORT gets a plain open, without cache_readdir: it
 * then asks readdir every time, each call answered from the current snapshot
 * (so a listing that changes between two calls of one walk may skip or
 * repeat an entry). No handle, so no RELEASEDIR to handle.
 */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);

	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

/* Entry @i of a directory being listed: its name, kind and, if @st, attributes. */
struct dir_entry {
	const char *name;
	enum node_kind kind;
	enum node_file file;
	time_t ctime;			/* instance entries */
	const struct cache_record *rec; /* invocation entries, borrowed */
	bool attrs;			/* false: listed without attributes (node id 0) */
};

static void dir_entry(const struct fs *fs, const struct dirh *d, size_t i, struct dir_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->attrs = true;
	switch (d->node->kind) {
	case NODE_ROOT:
		e->name = d->regions->ids[i];
		e->kind = NODE_REGION;
		break;
	case NODE_REGION:
		e->name = d->instances->items[i].id;
		e->ctime = d->instances->items[i].ctime;
		e->kind = NODE_INSTANCE;
		break;
	case NODE_INSTANCE:
		e->name = d->listing->statuses[i].name;
		e->kind = NODE_STATUS;
		break;
	case NODE_STATUS:
		e->rec = d->status->records[i];
		e->name = e->rec->inv.invoke_id;
		e->kind = NODE_INVOCATION;
		break;
	case NODE_INVOCATION:
		e->name = node_file_names[i];
		e->kind = NODE_FILE;
		e->file = (enum node_file)i;
		/* Their size needs DescribeInvocationResult: `find` and `ls`
		 * must not cost that call, so no attributes here. */
		e->attrs = !is_result_file(e->file);
		break;
	case NODE_FILE:
		break;
	}
}

/* Attributes of entry @e of @d, from the snapshot alone (never a fetch). */
static void dir_entry_attr(struct fs *fs, const struct dirh *d, const struct dir_entry *e, struct node *child,
			   struct stat *st, double *ttl)
{
	size_t size;

	switch (e->kind) {
	case NODE_REGION: {
		const struct cache_instances *l = region_instances(fs, child, false);

		fill_dir(fs, st, child->ino, fs->cfg.mount_time, l ? l->entries_ns : 0, 1);
		cache_instances_unref(fs->cache, l);
		*ttl = cache_instance_ttl(fs->cache);
		return;
	}
	case NODE_INSTANCE: {
		const struct cache_invocations *l = instance_listing(fs, child, false);

		fill_dir(fs, st, child->ino, e->ctime, l ? l->entries_ns : 0, 1);
		cache_invocations_unref(fs->cache, l);
		*ttl = cache_listing_ttl(fs->cache);
		return;
	}
	case NODE_STATUS: {
		const struct cache_status *s = cache_find_status(d->listing, e->name);

		fill_dir(fs, st, child->ino, s->mtime, s->mtime_ns, 2 + s->count);
		*ttl = cache_listing_ttl(fs->cache);
		return;
	}
	case NODE_INVOCATION:
		fill_dir(fs, st, child->ino, e->rec->inv.ctime, 0, 2);
		*ttl = e->rec->is_final ? FS_IMMUTABLE_TTL_S : cache_listing_ttl(fs->cache);
		return;
	case NODE_FILE:
		size = record_file_size(d->rec, e->file);
		fill_file(fs, st, child->ino, d->rec->inv.ctime, size);
		*ttl = d->rec->is_final ? FS_IMMUTABLE_TTL_S : cache_listing_ttl(fs->cache);
		return;
	case NODE_ROOT:
		break;
	}
}

static void reply_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi,
			  bool plus)
{
	struct fs *fs = fs_of(req);
	struct dirh *d;
	size_t used = 0;
	char *buf;
	off_t i;
	int r = 0;

	(void)fi;
	/* List the current snapshot; without opendir the kernel caches what
	 * we send until the directory's mtime changes. */
	r = dirh_new(fs, ino, &d);
	if (r < 0) {
		fuse_reply_err(req, to_errno(r));
		return;
	}
	if (fs->no_opendir)
		node_dir_filled(fs->nodes, d->node);
	buf = malloc(size ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	/* Offsets: 1 after ".", 2 after "..", 3 + i after entry i. */
	for (i = off; i < (off_t)d->count + 2; i++) {
		struct fuse_entry_param e = { 0 };
		struct dir_entry de = { 0 };
		struct node *child = NULL;
		const char *name;
		size_t need;

		if (i < 2) {
			name = i == 0 ? "." : "..";
			e.attr.st_mode = S_IFDIR;
			e.attr.st_ino =
				i == 0 || d->node->parent == NULL ? d->node->ino : d->node->parent->ino;
		} else {
			dir_entry(fs, d, (size_t)i - 2, &de);
			name = de.name;
			e.attr.st_mode = de.kind == NODE_FILE ? S_IFREG : S_IFDIR;
			e.attr.st_ino = node_child_ino(d->node, name);
		}
		need = plus ? fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0)
			    : fuse_add_direntry(req, NULL, 0, name, NULL, 0);
		if (used + need > size)
			break;
		if (plus && i >= 2 && de.attrs) {
			/* The kernel takes a lookup reference on each such entry. */
			r = node_child(fs->nodes, d->node, name, de.kind, de.file, de.ctime, true, &child);
			if (r < 0)
				break;
			dir_entry_attr(fs, d, &de, child, &e.attr, &e.attr_timeout);
			e.entry_timeout = e.attr_timeout;
			e.ino = child->ino;
			node_put(fs->nodes, child);
		}
		if (plus)
			fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
		else
			fuse_add_direntry(req, buf + used, size - used, name, &e.attr, i + 1);
		used += need;
	}
	/* Nothing listed because of an error must not look like the end. */
	if (used == 0 && r < 0)
		fuse_reply_err(req, to_errno(r));
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
out:
	dirh_free(fs, d);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	reply_readdir(req, ino, size, off, fi, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	reply_readdir(req, ino, size, off, fi, true);
}

/* ---- the rest ---- */

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = { 0 };

	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = CACHE_NAME_MAX;
	sv.f_flag = ST_RDONLY | ST_NOATIME;
	fuse_reply_statfs(req, &sv);
}

/* No extended attributes: ENOSYS makes the kernel stop asking. */
static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fuse_reply_err(req, ENOSYS);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	fuse_reply_err(req, ENOSYS);
}

/* The notifier's way of telling the kernel; runs on its thread only. */
static int send_inval_inode(void *arg, uint64_t ino)
{
	return fuse_lowlevel_notify_inval_inode(arg, (fuse_ino_t)ino, 0, 0);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

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
	/* Directory mtimes carry a digest in their nanoseconds (fill_dir). */
	conn->time_gran = 1;
	/* Notifications go out from a thread of our own, after the fork. */
	if (fs->se != NULL && notify_new(send_inval_inode, fs->se, &fs->notify) < 0)
		log_warn(
			"no notifier thread: changed files may be served from the kernel's cache until their "
			"size or mtime change");
}

/* At unmount, before the session goes: nothing is sent after this. */
static void fs_destroy(void *userdata)
{
	struct fs *fs = userdata;

	notify_free(fs->notify);
	fs->notify = NULL;
}

static const struct fuse_lowlevel_ops ops = {
	.init = fs_init,
	.destroy = fs_destroy,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
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

int fs_new(const struct fs_config *cfg, struct cache *cache, struct fs **ret_fs)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	int r;

	if (fs == NULL)
		return -ENOMEM;
	r = node_table_new(&fs->nodes);
	if (r < 0) {
		free(fs);
		return r;
	}
	fs->cache = cache;
	fs->cfg = *cfg;
	*ret_fs = fs;
	return 0;
}

void fs_set_session(struct fs *fs, struct fuse_session *se)
{
	fs->se = se;
}

void fs_free(struct fs *fs)
{
	if (fs == NULL)
		return;
	notify_free(fs->notify);
	node_table_free(fs->nodes);
	free(fs);
}
