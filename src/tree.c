// SPDX-License-Identifier: MIT
/*
 * tree: every inode, what it shows, and the answer to each kernel request
 * (see tree.h).
 *
 * Each request reads the same way: find the node, take a view of it (the
 * cache snapshots it shows: a listing, a record, a result), answer from the
 * view, let the view go. A child listed by readdirplus or found by lookup is
 * viewed through its parent's view (view_child), so a lookup asks the cache
 * once, and readdirplus, lookup and getattr agree because all three end in
 * attr_of, the one function that turns a view into attributes and a kernel
 * cache lifetime.
 *
 * The kernel keeps what it is told for as long as our cache would: a terminal
 * invocation and its files for a day (they never change), listings for
 * cache_ttl, regions and instances for instance_ttl (kernel_ttl). Directories
 * are never opened (NO_OPENDIR): each readdir lists the current snapshot and
 * the kernel keeps what it got until the directory's mtime changes
 * (fill_dir's nanoseconds).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lockrule.h"
#include "log.h"
#include "notify.h"
#include "render.h"
#include "tree.h"

struct tree {
	struct tree_config cfg;
	struct cache *cache; /* borrowed */
	struct node_table *nodes;
	struct notify *notify;	   /* its thread belongs to the bg */
	struct tree_kernel kernel; /* set before bg_start, then read only */

	/* .swasfs/stats.json as last rendered (by a getattr or lookup, which
	 * give its size): reads serve these bytes. */
	pthread_mutex_t stats_lock;
	char *stats;		    /* protected by stats_lock */
	size_t stats_len;	    /* protected by stats_lock */
	struct timespec stats_time; /* protected by stats_lock */
};

/*
 * What one node shows now. Every snapshot is a reference of the view's own
 * (view_done drops them) except @status, which lies inside @listing. A
 * directory view holds what its entries come from; a file view the record,
 * and for output and result.json the result.
 */
struct view {
	const struct cache_regions *regions;	 /* the root */
	const struct cache_instances *instances; /* a region; NULL if never fetched */
	const struct cache_invocations *listing; /* an instance (NULL if never fetched) or a status */
	const struct cache_status *status;
	const struct cache_record *rec; /* an invocation, a file */
	const struct cache_result *res; /* output, result.json */
	/* An invocation or its .by-id link seen for its attributes only: its
	 * entry in @listing (held), @rec NULL. An archived record is read from
	 * the store only when something needs it (a file, a listing). */
	struct cache_entry entry;
	/* The synthetic names: borrowed from @instances, or the tree's own. */
	const struct cache_instance *inst; /* .instance.json, a .by-name link */
	size_t size;			   /* stats.json as rendered, version */
	struct timespec time;		   /* stats.json: when rendered */
};

static void view_done(struct tree *t, struct view *v)
{
	/* @inst lies in @instances. */
	lockrule_assert_free(LOCK_NODES);
	cache_regions_unref(t->cache, v->regions);
	cache_instances_unref(t->cache, v->instances);
	cache_invocations_unref(t->cache, v->listing);
	cache_record_unref(t->cache, v->rec);
	cache_result_unref(t->cache, v->res);
	memset(v, 0, sizeof(*v));
}

/* Errors the kernel may see: the cache's own, else EIO. */
static int kernel_errno(int r)
{
	if (r >= 0)
		return r;
	switch (r) {
	case -ENOENT:
	case -EACCES:
	case -ENOMEM:
	case -ENOTDIR:
	case -EISDIR:
	case -ENAMETOOLONG:
	case -ESTALE:
	case -ENODATA:
	case -ERANGE:
		return r;
	default:
		return -EIO;
	}
}

static bool is_result_file(enum node_file f)
{
	return f == NODE_FILE_OUTPUT || f == NODE_FILE_RESULT;
}

/* ---- attributes: the one place they are decided ---- */

/* How long the kernel may keep what it is told of a node of @kind whose
 * data is final (can never change) or not. */
static double kernel_ttl(const struct tree *t, enum node_kind kind, bool final)
{
	switch (kind) {
	case NODE_ROOT:
	case NODE_REGION:
	case NODE_BYNAME_DIR:
	case NODE_BYNAME_LINK:
	case NODE_INSTANCE_JSON:
		/* They follow the instance list. */
		return cache_instance_ttl(t->cache);
	case NODE_CTL_DIR:
	case NODE_CTL_VERSION:
		return TREE_IMMUTABLE_TTL_S;
	case NODE_CTL_STATS:
		return 0; /* rendered at each stat, so its size is exact */
	default:
		return final ? TREE_IMMUTABLE_TTL_S : cache_listing_ttl(t->cache);
	}
}

/* What every node's attributes share: its number, type and mode, links,
 * owner, and one time for all three (whole seconds). */
static void fill_common(const struct tree *t, struct stat *st, uint64_t ino, mode_t mode, nlink_t nlink,
			time_t time)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = nlink;
	st->st_uid = t->cfg.uid;
	st->st_gid = t->cfg.gid;
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = time;
}

/* @ns: the digest of the directory's entries (cache.h), so the kernel drops
 * its cached entries when they change. */
static void fill_dir(const struct tree *t, struct stat *st, uint64_t ino, time_t time, long ns, nlink_t nlink)
{
	fill_common(t, st, ino, S_IFDIR | 0555, nlink, time);
	st->st_atim.tv_nsec = st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = ns;
}

static void fill_link(const struct tree *t, struct stat *st, uint64_t ino, time_t time, size_t target_len)
{
	fill_common(t, st, ino, S_IFLNK | 0777, 1, time);
	st->st_size = (off_t)target_len;
}

static void fill_file(const struct tree *t, struct stat *st, uint64_t ino, time_t time, size_t size)
{
	fill_common(t, st, ino, S_IFREG | 0444, 1, time);
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

/* The size of one of the three files of the listing record (a view of a
 * JSON file has sized it: view_sizes). */
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

/* A view of a JSON file of @n sizes both, the first time (render.h):
 * a listing renders nothing, a stat renders once. */
static int view_sizes(const struct node *n, const struct view *v)
{
	size_t metadata_len, parameters_len;

	if (n->file != NODE_FILE_PARAMETERS && n->file != NODE_FILE_METADATA)
		return 0;
	return render_sizes_of(&v->rec->inv, n->region, n->instance, &metadata_len, &parameters_len);
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

/* .by-id's mtime nanoseconds: a digest of every status directory's (each a
 * digest of its entries), so they change when any invocation comes, goes
 * or moves. */
static long byid_ns(const struct cache_invocations *l)
{
	uint64_t h = NODE_HASH_INIT;

	for (size_t i = 0; i < l->nstatuses; i++) {
		h ^= (uint64_t)l->statuses[i].mtime_ns;
		h *= 0x100000001b3ull;
	}
	return (long)(h % 1000000000u);
}

/* What an invocation's attributes and its link need, from a view with its
 * record or from one with its entry only. */
static struct cache_entry invocation_of(const struct view *v)
{
	if (v->rec == NULL)
		return v->entry;
	return (struct cache_entry){ .invoke_id = v->rec->inv.invoke_id,
				     .invoke_status = v->rec->inv.invoke_status,
				     .ctime = v->rec->inv.ctime,
				     .rec = v->rec };
}

/* Archived ones are terminal, so final. */
static bool is_final_entry(const struct cache_entry *e)
{
	return e->rec == NULL || e->rec->is_final;
}

/* "../<InvokeStatus>/<InvokeId>" */
static size_t byid_target_len(const char *invoke_status, const char *invoke_id)
{
	return strlen("../") + strlen(invoke_status) + 1 + strlen(invoke_id);
}

/*
 * The attributes of node @n as view @v shows it, and how long the kernel may
 * keep them: the only function that decides either (getattr, lookup and
 * readdirplus all come here). Never fetches.
 */
static void attr_of(const struct tree *t, const struct node *n, const struct view *v, struct stat *st,
		    double *ret_ttl)
{
	struct cache_entry inv;
	size_t size;

	switch (n->kind) {
	case NODE_ROOT:
		fill_dir(t, st, n->ino, t->cfg.mount_time, v->regions->entries_ns, 2 + v->regions->count);
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_REGION:
		/* nlink 1: "not counted" (counting would need the list). */
		fill_dir(t, st, n->ino, t->cfg.mount_time, v->instances ? v->instances->entries_ns : 0, 1);
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_INSTANCE:
		fill_dir(t, st, n->ino, n->instance_ctime, v->listing ? v->listing->entries_ns : 0, 1);
		/* Its entries follow the listing, so does the kernel's copy. */
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_STATUS:
		fill_dir(t, st, n->ino, v->status->mtime, v->status->mtime_ns,
			 2 + cache_status_size(v->status));
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_INVOCATION:
		inv = invocation_of(v);
		fill_dir(t, st, n->ino, inv.ctime, 0, 2);
		*ret_ttl = kernel_ttl(t, n->kind, is_final_entry(&inv));
		return;
	case NODE_BYNAME_DIR:
		fill_dir(t, st, n->ino, t->cfg.mount_time, v->instances ? v->instances->by_name_ns : 0, 2);
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_BYNAME_LINK:
		fill_link(t, st, n->ino, v->inst->ctime, strlen("../") + strlen(v->inst->id));
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_INSTANCE_JSON:
		fill_file(t, st, n->ino, v->inst->seen, v->inst->record_len);
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_BYID_DIR:
		fill_dir(t, st, n->ino, n->instance_ctime, v->listing ? byid_ns(v->listing) : 0, 2);
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_BYID_LINK:
		inv = invocation_of(v);
		fill_link(t, st, n->ino, inv.ctime, byid_target_len(inv.invoke_status, inv.invoke_id));
		*ret_ttl = kernel_ttl(t, n->kind, is_final_entry(&inv));
		return;
	case NODE_CTL_DIR:
		fill_dir(t, st, n->ino, t->cfg.mount_time, 0, 2);
		*ret_ttl = kernel_ttl(t, n->kind, true);
		return;
	case NODE_CTL_VERSION:
		fill_file(t, st, n->ino, t->cfg.mount_time, v->size);
		*ret_ttl = kernel_ttl(t, n->kind, true);
		return;
	case NODE_CTL_STATS:
		fill_file(t, st, n->ino, v->time.tv_sec, v->size);
		st->st_atim.tv_nsec = st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = v->time.tv_nsec;
		*ret_ttl = kernel_ttl(t, n->kind, false);
		return;
	case NODE_FILE:
		break;
	}
	if (is_result_file(n->file)) {
		result_file(v->res, n->file, &size);
		fill_file(t, st, n->ino, v->res->mtime, size);
		*ret_ttl = kernel_ttl(t, n->kind, v->res->is_final);
	} else {
		fill_file(t, st, n->ino, v->rec->inv.ctime, record_file_size(v->rec, n->file));
		*ret_ttl = kernel_ttl(t, n->kind, v->rec->is_final);
	}
}

/* ---- fingerprints: telling the kernel that a file changed ---- */

/* Fingerprints hash with node.h's FNV-1a: not a defence against anyone; a
 * change it misses costs a stale page, as a change of neither size nor mtime
 * always did. Hashes @len, then the bytes: two fields never run into each
 * other. */
static uint64_t fnv_field(uint64_t h, const void *p, size_t len)
{
	uint64_t n = len;

	return node_fnv1a(node_fnv1a(h, &n, sizeof(n)), p, len);
}

/* The fingerprint of file @f of @rec, from what the file is made of (the
 * command; the record and the fields put back into it) without rendering:
 * the record is printed canonically, so equal sources are equal files. The
 * region and instance metadata.json also shows are the node's own. */
static struct node_fingerprint record_fingerprint(const struct cache_record *rec, enum node_file f)
{
	const struct swas_invocation *x = &rec->inv;
	uint64_t h = NODE_HASH_INIT;

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

static struct node_fingerprint result_fingerprint(const struct cache_result *res, enum node_file f)
{
	size_t len;
	const void *data = result_file(res, f, &len);

	return (struct node_fingerprint){ .size = len,
					  .hash = node_fnv1a(NODE_HASH_INIT, data, len),
					  .final = res->is_final,
					  .set = true };
}

/*
 * The kernel keeps file pages across opens (no OPEN is ever sent), and drops
 * them by itself only when size or mtime change. A running invocation's file
 * can change with neither (InvocationStatus "Pending" -> "Running" in
 * metadata.json), so when a file node starts showing different bytes (its
 * fingerprint changes), its inode is queued for the notifier's thread: never
 * sent from here (notify.h). Bytes that were final and are final again are
 * the same (final records and results never change): not even hashed.
 */
static void note_served(struct tree *t, struct node *n, const struct view *v)
{
	struct node_fingerprint old, fp;
	bool final;

	if (n->kind == NODE_INSTANCE_JSON) {
		fp = (struct node_fingerprint){ .size = v->inst->record_len,
						.hash = node_fnv1a(NODE_HASH_INIT, v->inst->record,
								   v->inst->record_len),
						.set = true };
	} else if (n->kind == NODE_FILE) {
		final = is_result_file(n->file) ? v->res->is_final : v->rec->is_final;
		old = node_served(t->nodes, n);
		if (final && old.set && old.final)
			return;
		fp = is_result_file(n->file) ? result_fingerprint(v->res, n->file)
					     : record_fingerprint(v->rec, n->file);
	} else {
		return;
	}
	if (node_serve(t->nodes, n, &fp))
		notify_inode(t->notify, n->ino);
}

/* ---- views: what a node shows, from the cache ---- */

static struct cache_instance instance_of(const struct node *n)
{
	return (struct cache_instance){ .id = (char *)n->instance, .ctime = n->instance_ctime };
}

static int get_listing(struct tree *t, const struct node *n, const struct cache_invocations **ret)
{
	struct cache_instance inst = instance_of(n);

	lockrule_assert_free(LOCK_NODES);
	return cache_get_invocations(t->cache, n->region, &inst, ret);
}

/* True if the kernel keeps @n's entries (no OPENDIR: it lists once, then
 * serves its copy until the directory's mtime changes). */
static bool is_cached_dir(struct tree *t, struct node *n)
{
	return t->kernel.caches_dirs && node_dir_is_cached(t->nodes, n);
}

/* The record of invocation @invoke_id in status @st of listing @l (NULL:
 * any status), with a reference: the API's, or an archived one read from
 * the store. */
static int record_in(struct tree *t, const struct cache_invocations *l, const struct cache_status *st,
		     const char *invoke_id, const struct cache_record **ret)
{
	struct cache_entry e;

	if (!cache_find_entry(l, st, invoke_id, &e))
		return -ENOENT;
	return cache_entry_record(t->cache, l, &e, ret);
}

/* The view of invocation @invoke_id (or of its .by-id link) for its
 * attributes: its entry in listing @l, which the view holds, and no record
 * (`ls -l` of years of archive reads none of it). */
static int entry_view(struct tree *t, const struct cache_invocations *l, const struct cache_status *st,
		      const char *invoke_id, struct view *v)
{
	if (!cache_find_entry(l, st, invoke_id, &v->entry))
		return -ENOENT;
	cache_invocations_ref(t->cache, l);
	v->listing = l;
	return 0;
}

/* What to fetch for a view besides what its parent's view gives. */
enum view_need {
	VIEW_FOR_ATTR,	 /* getattr: a region or instance refreshes its list only if the kernel caches it */
	VIEW_FOR_LIST,	 /* readdir: the fresh list */
	VIEW_NO_FETCH,	 /* readdirplus: only what is cached; no result */
	VIEW_FOR_LOOKUP, /* lookup: as getattr, results included */
	VIEW_FOR_READ,	 /* read: as getattr, readahead not told (each chunk of a read comes here; the
			    lookup or getattr before it told readahead already) */
};

/*
 * The region's instance list, for its mtime digest. If the kernel caches the
 * directory's entries, a getattr is the only chance to notice a change
 * (readdir does not reach us), so a stale list is refreshed; otherwise the
 * cached one is taken: `ls -l /mnt` must not spend ListInstances calls (10 a
 * minute). NULL if there is none.
 */
static const struct cache_instances *region_instances(struct tree *t, struct node *n, bool refresh)
{
	const struct cache_instances *l = NULL;

	lockrule_assert_free(LOCK_NODES);
	if (refresh && cache_get_instances(t->cache, n->region, &l) == 0)
		return l;
	return cache_peek_instances(t->cache, n->region, &l) == 0 ? l : NULL;
}

/* The same for an instance directory and its listing. */
static const struct cache_invocations *instance_listing(struct tree *t, struct node *n, bool refresh)
{
	const struct cache_invocations *l = NULL;

	if (refresh && get_listing(t, n, &l) == 0)
		return l;
	return cache_peek_invocations(t->cache, n->region, n->instance, &l) == 0 ? l : NULL;
}

static bool wants_refresh(struct tree *t, struct node *n, enum view_need need)
{
	return need == VIEW_FOR_LIST || (need != VIEW_NO_FETCH && is_cached_dir(t, n));
}

/* Tells readahead that a reader asks for the result of @rec: where it sits
 * in its status directory, in the listing the readers see now. */
static void note_result_walk(struct tree *t, const struct node *n, const struct cache_record *rec)
{
	const struct cache_invocations *l = NULL;
	const struct cache_status *st;
	struct cache_instance inst = instance_of(n);
	long i;

	if (t->cfg.readahead == NULL || cache_peek_invocations(t->cache, n->region, n->instance, &l) < 0)
		return;
	st = cache_find_status(l, rec->inv.invoke_status);
	i = st != NULL ? cache_status_index(st, rec->inv.invoke_id) : -1;
	if (i >= 0)
		readahead_note_result(t->cfg.readahead, n->region, &inst, l, st, (size_t)i);
	cache_invocations_unref(t->cache, l);
}

/* The result file @n shows, for a view that has its record; readahead hears
 * of it first (but for reads), so what follows is under way while this one is
 * fetched. */
static int view_result(struct tree *t, struct node *n, enum view_need need, struct view *v)
{
	lockrule_assert_free(LOCK_NODES);
	if (need != VIEW_FOR_READ)
		note_result_walk(t, n, v->rec);
	return cache_get_result(t->cache, n->region, n->instance, v->rec, &v->res);
}

/* Tells readahead that a reader lists instance @n (its directory or a status
 * directory of it): where it sits in its region's instance list. */
static void note_listing_walk(struct tree *t, const struct node *n)
{
	const struct cache_instances *l = NULL;
	const struct cache_instance *in;

	if (t->cfg.readahead == NULL || cache_peek_instances(t->cache, n->region, &l) < 0)
		return;
	in = cache_find_instance(l, n->instance);
	if (in != NULL)
		readahead_note_listing(t->cfg.readahead, n->region, l, (size_t)(in - l->items));
	cache_instances_unref(t->cache, l);
}

static const char version_prefix[] = "swasfs ";

/* .swasfs/stats.json, rendered now and kept for the reads that follow. */
static int render_stats(struct tree *t, struct view *v)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (t->cfg.render_stats != NULL) {
		r = t->cfg.render_stats(t->cfg.stats_arg, &text, &len);
		if (r < 0)
			return r;
	} else if ((text = strdup("{}\n")) == NULL) {
		return -ENOMEM;
	} else {
		len = 3;
	}
	pthread_mutex_lock(&t->stats_lock);
	free(t->stats);
	t->stats = text;
	t->stats_len = len;
	clock_gettime(CLOCK_REALTIME, &t->stats_time);
	v->size = len;
	v->time = t->stats_time;
	pthread_mutex_unlock(&t->stats_lock);
	return 0;
}

/* The instance list of @n's region and @n's instance in it: peeked at if
 * cached (it was when the parent was listed), else fetched. */
static int view_instance(struct tree *t, struct node *n, struct view *v)
{
	lockrule_assert_free(LOCK_NODES);
	if (cache_peek_instances(t->cache, n->region, &v->instances) < 0) {
		int r = cache_get_instances(t->cache, n->region, &v->instances);

		if (r < 0)
			return r;
	}
	v->inst = cache_find_instance(v->instances, n->instance);
	return v->inst != NULL ? 0 : -ENOENT;
}

/* The view of @n, asking the cache for everything. */
static int view_of(struct tree *t, struct node *n, enum view_need need, struct view *v)
{
	const struct cache_link *link;
	int r = 0;

	memset(v, 0, sizeof(*v));
	switch (n->kind) {
	case NODE_ROOT:
		lockrule_assert_free(LOCK_NODES);
		r = cache_get_regions(t->cache, &v->regions);
		break;
	case NODE_REGION:
	case NODE_BYNAME_DIR:
		if (need == VIEW_FOR_LIST) {
			lockrule_assert_free(LOCK_NODES);
			r = cache_get_instances(t->cache, n->region, &v->instances);
			break;
		}
		v->instances = region_instances(t, n, wants_refresh(t, n, need));
		break;
	case NODE_BYNAME_LINK:
		v->instances = region_instances(t, n, true);
		link = v->instances != NULL ? cache_find_link(v->instances, n->name) : NULL;
		if (link == NULL)
			r = -ENOENT;
		else
			v->inst = &v->instances->items[link->instance];
		break;
	case NODE_INSTANCE_JSON:
		r = view_instance(t, n, v);
		break;
	case NODE_INSTANCE:
	case NODE_BYID_DIR:
		if (need == VIEW_FOR_LIST) {
			r = get_listing(t, n, &v->listing);
			break;
		}
		v->listing = instance_listing(t, n, wants_refresh(t, n, need));
		break;
	case NODE_STATUS:
		r = get_listing(t, n, &v->listing);
		if (r == 0 && (v->status = cache_find_status(v->listing, n->status)) == NULL)
			r = -ENOENT;
		break;
	case NODE_INVOCATION:
	case NODE_FILE:
	case NODE_BYID_LINK:
		r = get_listing(t, n, &v->listing);
		/* Attributes (getattr, readlink) want the entry only. */
		if (r == 0 && n->kind != NODE_FILE && need == VIEW_FOR_ATTR) {
			r = cache_find_entry(v->listing, NULL, n->invoke_id, &v->entry) ? 0 : -ENOENT;
			break;
		}
		if (r == 0)
			r = record_in(t, v->listing, NULL, n->invoke_id, &v->rec);
		/* The record is all it needs of the listing. */
		cache_invocations_unref(t->cache, v->listing);
		v->listing = NULL;
		if (r == 0 && n->kind == NODE_FILE && is_result_file(n->file) && need != VIEW_NO_FETCH)
			r = view_result(t, n, need, v);
		else if (r == 0 && n->kind == NODE_FILE)
			r = view_sizes(n, v);
		break;
	case NODE_CTL_DIR:
		break;
	case NODE_CTL_VERSION:
		v->size = strlen(version_prefix) + strlen(t->cfg.version ? t->cfg.version : "") + 1;
		break;
	case NODE_CTL_STATS:
		r = render_stats(t, v);
		break;
	}
	if (r < 0)
		view_done(t, v);
	return r;
}

/*
 * The view of @child through its parent's view @pv: what the parent lists
 * says what the child shows, so nothing is fetched twice; a region's and an
 * instance's own lists are peeked at (or refreshed, per @need), and a result
 * is fetched unless @need is VIEW_NO_FETCH (then -EAGAIN: listed without
 * attributes).
 */
static int view_child(struct tree *t, const struct view *pv, struct node *child, enum view_need need,
		      struct view *v)
{
	const struct cache_link *link;
	int r = 0;

	memset(v, 0, sizeof(*v));
	switch (child->kind) {
	case NODE_ROOT:
		return -EINVAL;
	case NODE_STATUS:
		v->status = cache_find_status(pv->listing, child->status);
		if (v->status == NULL)
			return -ENOENT;
		/* @status lies in the listing: hold it too. */
		cache_invocations_ref(t->cache, pv->listing);
		v->listing = pv->listing;
		return 0;
	case NODE_INVOCATION:
	case NODE_BYID_LINK:
		/* Through a status directory, in it; through .by-id, anywhere.
		 * A lookup or readdirplus wants attributes only. */
		return entry_view(t, pv->listing, pv->status, child->invoke_id, v);
	case NODE_BYNAME_LINK:
		link = cache_find_link(pv->instances, child->name);
		if (link == NULL)
			return -ENOENT;
		cache_instances_ref(t->cache, pv->instances);
		v->instances = pv->instances;
		v->inst = &v->instances->items[link->instance];
		return 0;
	case NODE_FILE:
		break;
	default:
		/* Directories with lists of their own, and files that are not
		 * in their parent's view. */
		return view_of(t, child, need, v);
	}
	cache_record_ref(t->cache, pv->rec);
	v->rec = pv->rec;
	if (is_result_file(child->file))
		r = need == VIEW_NO_FETCH ? -EAGAIN : view_result(t, child, need, v);
	else
		r = view_sizes(child, v);
	if (r < 0)
		view_done(t, v);
	return r;
}

/* ---- lookup ---- */

/* Does the directory @parent (seen through @pv) have @name? Says what the
 * child would be. Names the API gives never begin with '.' (cache.h), so the
 * synthetic ones cannot be shadowed. */
static bool has_child(const struct tree *t, const struct node *parent, const struct view *pv,
		      const char *name, enum node_kind *kind, enum node_file *file, time_t *ctime)
{
	const struct cache_instance *inst;
	struct cache_entry entry;

	*ctime = parent->instance_ctime;
	switch (parent->kind) {
	case NODE_ROOT:
		*kind = NODE_REGION;
		if (strcmp(name, NODE_NAME_CTL) == 0) {
			*kind = NODE_CTL_DIR;
			return true;
		}
		for (size_t i = 0; i < pv->regions->count; i++) {
			if (strcmp(pv->regions->ids[i], name) == 0)
				return true;
		}
		return false;
	case NODE_REGION:
		if (strcmp(name, NODE_NAME_BYNAME) == 0) {
			*kind = NODE_BYNAME_DIR;
			return true;
		}
		*kind = NODE_INSTANCE;
		inst = cache_find_instance(pv->instances, name);
		if (inst != NULL)
			*ctime = inst->ctime;
		return inst != NULL;
	case NODE_BYNAME_DIR:
		*kind = NODE_BYNAME_LINK;
		return cache_find_link(pv->instances, name) != NULL;
	case NODE_INSTANCE:
		if (strcmp(name, NODE_NAME_INSTANCE_JSON) == 0 || strcmp(name, NODE_NAME_BYID) == 0) {
			*kind = strcmp(name, NODE_NAME_BYID) == 0 ? NODE_BYID_DIR : NODE_INSTANCE_JSON;
			return true;
		}
		*kind = NODE_STATUS;
		return cache_find_status(pv->listing, name) != NULL;
	case NODE_BYID_DIR:
		*kind = NODE_BYID_LINK;
		return cache_find_entry(pv->listing, NULL, name, &entry);
	case NODE_STATUS:
		*kind = NODE_INVOCATION;
		return cache_find_entry(pv->listing, pv->status, name, &entry);
	case NODE_INVOCATION:
		*kind = NODE_FILE;
		for (int f = 0; f < NODE_FILE_COUNT; f++) {
			if (strcmp(node_file_names[f], name) == 0 &&
			    (t->cfg.results || !is_result_file((enum node_file)f))) {
				*file = (enum node_file)f;
				return true;
			}
		}
		return false;
	case NODE_CTL_DIR:
		*kind = strcmp(name, NODE_NAME_STATS) == 0 ? NODE_CTL_STATS : NODE_CTL_VERSION;
		return strcmp(name, NODE_NAME_STATS) == 0 || strcmp(name, NODE_NAME_VERSION) == 0;
	default:
		return false;
	}
}

/* How long the kernel may remember that a child of @parent is absent: as
 * long as the list that proves it. */
static double negative_ttl(const struct tree *t, const struct node *parent)
{
	switch (parent->kind) {
	case NODE_INVOCATION:
	case NODE_CTL_DIR:
		return TREE_IMMUTABLE_TTL_S; /* the file names never change */
	case NODE_BYID_DIR:
		return kernel_ttl(t, NODE_INSTANCE, false);
	default:
		return kernel_ttl(t, parent->kind, false);
	}
}

static bool is_dir(enum node_kind kind)
{
	switch (kind) {
	case NODE_FILE:
	case NODE_BYNAME_LINK:
	case NODE_INSTANCE_JSON:
	case NODE_BYID_LINK:
	case NODE_CTL_STATS:
	case NODE_CTL_VERSION:
		return false;
	default:
		return true;
	}
}

static mode_t type_of(enum node_kind kind)
{
	if (kind == NODE_BYNAME_LINK || kind == NODE_BYID_LINK)
		return S_IFLNK;
	return is_dir(kind) ? S_IFDIR : S_IFREG;
}

/* The parent's view for a lookup: its fresh list (a region's and an
 * instance's included: the name may be new). */
static int parent_view(struct tree *t, struct node *parent, struct view *pv)
{
	if (!is_dir(parent->kind))
		return -ENOTDIR;
	switch (parent->kind) {
	case NODE_INVOCATION:
		return view_of(t, parent, VIEW_NO_FETCH, pv);
	case NODE_CTL_DIR:
		memset(pv, 0, sizeof(*pv));
		return 0;
	default:
		return view_of(t, parent, VIEW_FOR_LIST, pv);
	}
}

int tree_lookup(struct tree *t, uint64_t parent_ino, const char *name, struct tree_entry *ret)
{
	struct node *parent, *child = NULL;
	struct view pv, v;
	enum node_kind kind = NODE_FILE;
	enum node_file file = NODE_FILE_COMMAND;
	time_t ctime = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	parent = node_get(t->nodes, parent_ino);
	if (parent == NULL)
		return -ESTALE;
	r = parent_view(t, parent, &pv);
	if (r < 0)
		goto out_parent;
	if (!has_child(t, parent, &pv, name, &kind, &file, &ctime)) {
		/* A negative entry. */
		ret->ttl = negative_ttl(t, parent);
		goto out_pv;
	}
	r = node_child(t->nodes, parent, name, kind, file, ctime, true, &child);
	if (r < 0)
		goto out_pv;
	r = view_child(t, &pv, child, VIEW_FOR_LOOKUP, &v);
	if (r < 0) {
		node_forget(t->nodes, child->ino, 1);
		goto out_child;
	}
	note_served(t, child, &v);
	attr_of(t, child, &v, &ret->attr, &ret->ttl);
	ret->ino = child->ino;
	view_done(t, &v);
out_child:
	node_put(t->nodes, child);
out_pv:
	view_done(t, &pv);
out_parent:
	node_put(t->nodes, parent);
	return kernel_errno(r);
}

void tree_forget(struct tree *t, uint64_t ino, uint64_t nlookup)
{
	node_forget(t->nodes, ino, nlookup);
}

int tree_getattr(struct tree *t, uint64_t ino, struct stat *ret_st, double *ret_ttl)
{
	struct node *n = node_get(t->nodes, ino);
	struct view v;
	int r;

	if (n == NULL)
		return -ESTALE;
	r = view_of(t, n, VIEW_FOR_ATTR, &v);
	if (r < 0)
		goto out_node;
	note_served(t, n, &v);
	attr_of(t, n, &v, ret_st, ret_ttl);
	view_done(t, &v);
out_node:
	node_put(t->nodes, n);
	return kernel_errno(r);
}

/* ---- read ---- */

/* The bytes an invocation file @n shows through @v: the command and results
 * are the cache's own; the JSON files are rendered now into d->rendered. */
static int invocation_bytes(const struct node *n, const struct view *v, struct tree_data *d)
{
	int r = 0;

	switch (n->file) {
	case NODE_FILE_COMMAND:
		d->bytes = (const char *)v->rec->inv.command;
		d->len = v->rec->inv.command_len;
		return 0;
	case NODE_FILE_PARAMETERS:
		r = render_parameters(&v->rec->inv, &d->rendered, &d->len);
		break;
	case NODE_FILE_METADATA:
		r = render_metadata(&v->rec->inv, n->region, n->instance, &d->rendered, &d->len);
		break;
	case NODE_FILE_OUTPUT:
	case NODE_FILE_RESULT:
		d->bytes = result_file(v->res, n->file, &d->len);
		return 0;
	case NODE_FILE_COUNT:
		return -EINVAL;
	}
	d->bytes = d->rendered;
	return r;
}

/* stats.json as the last getattr or lookup rendered it (so the bytes match
 * the size it gave), or rendered now if none did. */
static int stats_bytes(struct tree *t, struct tree_data *d)
{
	struct view v = { 0 };
	int r = 0;

	pthread_mutex_lock(&t->stats_lock);
	if (t->stats == NULL) {
		pthread_mutex_unlock(&t->stats_lock);
		r = render_stats(t, &v);
		if (r < 0)
			return r;
		pthread_mutex_lock(&t->stats_lock);
	}
	d->rendered = malloc(t->stats_len + 1);
	if (d->rendered != NULL) {
		memcpy(d->rendered, t->stats, t->stats_len + 1);
		d->len = t->stats_len;
	}
	pthread_mutex_unlock(&t->stats_lock);
	d->bytes = d->rendered;
	return d->rendered != NULL ? 0 : -ENOMEM;
}

/* The bytes file @n shows; @v's references move into @d where the bytes
 * lie in them. */
static int file_bytes(struct tree *t, const struct node *n, struct view *v, struct tree_data *d)
{
	int r;

	switch (n->kind) {
	case NODE_FILE:
		r = invocation_bytes(n, v, d);
		/* The view's references keep the bytes: hand them over. */
		d->rec = v->rec;
		d->res = v->res;
		v->rec = NULL;
		v->res = NULL;
		return r;
	case NODE_INSTANCE_JSON:
		d->bytes = v->inst->record != NULL ? v->inst->record : "";
		d->len = v->inst->record_len;
		d->instances = v->instances;
		v->instances = NULL;
		return 0;
	case NODE_CTL_VERSION:
		d->rendered = malloc(v->size + 1);
		if (d->rendered == NULL)
			return -ENOMEM;
		snprintf(d->rendered, v->size + 1, "%s%s\n", version_prefix,
			 t->cfg.version ? t->cfg.version : "");
		d->bytes = d->rendered;
		d->len = v->size;
		return 0;
	case NODE_CTL_STATS:
		return stats_bytes(t, d);
	default:
		return is_dir(n->kind) ? -EISDIR : -EINVAL;
	}
}

int tree_read(struct tree *t, uint64_t ino, size_t size, off_t off, struct tree_data *ret)
{
	struct node *n = node_get(t->nodes, ino);
	struct view v = { 0 };
	int r;

	memset(ret, 0, sizeof(*ret));
	if (n == NULL)
		return -ESTALE;
	if (type_of(n->kind) != S_IFREG) {
		r = is_dir(n->kind) ? -EISDIR : -EINVAL;
		goto out_node;
	}
	/* stats.json is read as last rendered, not rendered again. */
	if (n->kind != NODE_CTL_STATS) {
		r = view_of(t, n, VIEW_FOR_READ, &v);
		if (r < 0)
			goto out_node;
		note_served(t, n, &v);
	}
	r = file_bytes(t, n, &v, ret);
	view_done(t, &v);
	if (r < 0) {
		tree_data_done(t, ret);
		goto out_node;
	}
	if (off < 0 || (uint64_t)off >= ret->len) {
		ret->len = 0;
	} else {
		ret->bytes += off;
		ret->len -= (size_t)off;
		if (ret->len > size)
			ret->len = size;
	}
out_node:
	node_put(t->nodes, n);
	return kernel_errno(r);
}

/* True if @n shows an invocation (its directory or one of its files). */
static bool has_origin(const struct node *n)
{
	return n->kind == NODE_INVOCATION || n->kind == NODE_FILE;
}

int tree_getxattr(struct tree *t, uint64_t ino, const char *name, char **ret, size_t *ret_len)
{
	struct node *n = node_get(t->nodes, ino);
	const char *value;
	struct view v;
	int r = -ENODATA;

	if (n == NULL)
		return -ESTALE;
	/* Other names (ls asks for security.selinux, ACLs) cost no lookup. */
	if (!has_origin(n) || strcmp(name, TREE_XATTR_ORIGIN) != 0)
		goto out_node;
	r = view_of(t, n, VIEW_NO_FETCH, &v);
	if (r < 0)
		goto out_node;
	value = v.rec->inv.origin == SWAS_ORIGIN_STORE ? "store" : "api";
	view_done(t, &v);
	*ret = strdup(value);
	if (*ret == NULL)
		r = -ENOMEM;
	else
		*ret_len = strlen(value);
out_node:
	node_put(t->nodes, n);
	return kernel_errno(r);
}

int tree_listxattr(struct tree *t, uint64_t ino, char *buf, size_t size, size_t *ret_len)
{
	struct node *n = node_get(t->nodes, ino);
	int r = 0;

	if (n == NULL)
		return -ESTALE;
	*ret_len = has_origin(n) ? sizeof(TREE_XATTR_ORIGIN) : 0;
	if (size > 0 && size < *ret_len)
		r = -ERANGE;
	else if (size > 0 && *ret_len > 0)
		memcpy(buf, TREE_XATTR_ORIGIN, sizeof(TREE_XATTR_ORIGIN));
	node_put(t->nodes, n);
	return r;
}

int tree_readlink(struct tree *t, uint64_t ino, char **ret)
{
	struct node *n = node_get(t->nodes, ino);
	struct view v;
	struct cache_entry inv = { 0 };
	char *target;
	size_t len;
	int r;

	if (n == NULL)
		return -ESTALE;
	if (type_of(n->kind) != S_IFLNK) {
		r = -EINVAL;
		goto out_node;
	}
	r = view_of(t, n, VIEW_FOR_ATTR, &v);
	if (r < 0)
		goto out_node;
	inv = invocation_of(&v);
	len = n->kind == NODE_BYNAME_LINK ? strlen("../") + strlen(v.inst->id)
					  : byid_target_len(inv.invoke_status, inv.invoke_id);
	target = malloc(len + 1);
	if (target == NULL) {
		r = -ENOMEM;
	} else {
		if (n->kind == NODE_BYNAME_LINK)
			snprintf(target, len + 1, "../%s", v.inst->id);
		else
			snprintf(target, len + 1, "../%s/%s", inv.invoke_status, inv.invoke_id);
		*ret = target;
	}
	view_done(t, &v);
out_node:
	node_put(t->nodes, n);
	return kernel_errno(r);
}

void tree_data_done(struct tree *t, struct tree_data *d)
{
	free(d->rendered);
	cache_record_unref(t->cache, d->rec);
	cache_result_unref(t->cache, d->res);
	cache_instances_unref(t->cache, d->instances);
	memset(d, 0, sizeof(*d));
}

/* ---- readdir ---- */

/* Entries of directory @n as @v shows it, besides "." and "..". The
 * synthetic names come first: a region lists .by-name, an instance
 * .instance.json (.by-id and .swasfs are answered on lookup only, so walks
 * and backups never see them). */
static size_t entry_count(const struct tree *t, const struct node *n, const struct view *v)
{
	switch (n->kind) {
	case NODE_ROOT:
		return v->regions->count;
	case NODE_REGION:
		return 1 + v->instances->count;
	case NODE_BYNAME_DIR:
		return v->instances->nby_name;
	case NODE_INSTANCE:
		return 1 + v->listing->nstatuses;
	case NODE_BYID_DIR:
		return cache_invocations_size(v->listing);
	case NODE_STATUS:
		return cache_status_size(v->status);
	case NODE_INVOCATION:
		return t->cfg.results ? NODE_FILE_COUNT : NODE_FILE_OUTPUT;
	case NODE_CTL_DIR:
		return 2;
	default:
		return 0;
	}
}

/* Entry @i of directory @n as @v shows it. */
struct dir_entry {
	const char *name;
	enum node_kind kind;
	enum node_file file;
	time_t ctime; /* instance entries */
};

/* The InvokeId of entry @i of listing @l, every status together (.by-id). */
static const char *invocation_at(const struct cache_invocations *l, size_t i)
{
	struct cache_entry e = { 0 };

	for (size_t s = 0; s < l->nstatuses; i -= cache_status_size(&l->statuses[s++])) {
		if (i < cache_status_size(&l->statuses[s])) {
			cache_status_entry(&l->statuses[s], i, &e);
			break;
		}
	}
	return e.invoke_id;
}

static void entry_at(const struct node *n, const struct view *v, size_t i, struct dir_entry *e)
{
	memset(e, 0, sizeof(*e));
	switch (n->kind) {
	case NODE_ROOT:
		e->name = v->regions->ids[i];
		e->kind = NODE_REGION;
		break;
	case NODE_REGION:
		if (i == 0) {
			e->name = NODE_NAME_BYNAME;
			e->kind = NODE_BYNAME_DIR;
			break;
		}
		e->name = v->instances->items[i - 1].id;
		e->ctime = v->instances->items[i - 1].ctime;
		e->kind = NODE_INSTANCE;
		break;
	case NODE_BYNAME_DIR:
		e->name = v->instances->by_name[i].name;
		e->kind = NODE_BYNAME_LINK;
		break;
	case NODE_INSTANCE:
		if (i == 0) {
			e->name = NODE_NAME_INSTANCE_JSON;
			e->kind = NODE_INSTANCE_JSON;
			break;
		}
		e->name = v->listing->statuses[i - 1].name;
		e->kind = NODE_STATUS;
		break;
	case NODE_BYID_DIR:
		e->name = invocation_at(v->listing, i);
		e->kind = NODE_BYID_LINK;
		break;
	case NODE_STATUS: {
		struct cache_entry ce;

		cache_status_entry(v->status, i, &ce);
		e->name = ce.invoke_id;
		e->kind = NODE_INVOCATION;
		break;
	}
	case NODE_INVOCATION:
		e->name = node_file_names[i];
		e->kind = NODE_FILE;
		e->file = (enum node_file)i;
		break;
	case NODE_CTL_DIR:
		e->name = i == 0 ? NODE_NAME_STATS : NODE_NAME_VERSION;
		e->kind = i == 0 ? NODE_CTL_STATS : NODE_CTL_VERSION;
		break;
	default:
		break;
	}
}

/*
 * The attributes of entry @de of @dir for readdirplus, from @dv alone (never a
 * fetch), with the kernel's lookup count of its node raised; -EAGAIN if they
 * would need one (output and result.json: `find` and `ls` must not cost a
 * DescribeInvocationResult call), so the entry goes without.
 */
static int entry_attr(struct tree *t, struct node *dir, const struct view *dv, const struct dir_entry *de,
		      struct tree_entry *e)
{
	struct node *child;
	struct view v;
	int r;

	if (de->kind == NODE_FILE && is_result_file(de->file))
		return -EAGAIN;
	r = node_child(t->nodes, dir, de->name, de->kind, de->file, de->ctime, true, &child);
	if (r < 0)
		return r;
	r = view_child(t, dv, child, VIEW_NO_FETCH, &v);
	if (r == 0) {
		attr_of(t, child, &v, &e->attr, &e->ttl);
		e->ino = child->ino;
		view_done(t, &v);
	} else {
		node_forget(t->nodes, child->ino, 1);
	}
	node_put(t->nodes, child);
	return r;
}

int tree_readdir(struct tree *t, uint64_t ino, off_t off, bool plus, tree_fill_fn fill, void *arg)
{
	struct node *n = node_get(t->nodes, ino);
	bool listed = false;
	size_t count;
	struct view v = { 0 };
	int r;

	if (n == NULL)
		return -ESTALE;
	if (!is_dir(n->kind)) {
		r = -ENOTDIR;
		goto out_node;
	}
	/* List the current snapshot; without opendir the kernel caches what
	 * it gets until the directory's mtime changes. */
	/* Readahead hears first, so the next listings are under way while
	 * this one is fetched. */
	if (n->kind == NODE_INSTANCE || n->kind == NODE_STATUS)
		note_listing_walk(t, n);
	r = n->kind == NODE_CTL_DIR ? 0 : view_of(t, n, VIEW_FOR_LIST, &v);
	if (r < 0)
		goto out_node;
	if (t->kernel.caches_dirs)
		node_dir_filled(t->nodes, n);
	count = entry_count(t, n, &v);
	for (off_t i = off < 0 ? 0 : off; i < (off_t)count + 2; i++) {
		struct tree_entry e = { 0 };
		struct dir_entry de;
		const char *name;
		mode_t mode = S_IFDIR;
		uint64_t hint;
		bool with_attrs = false;

		if (i < 2) {
			name = i == 0 ? "." : "..";
			hint = i == 0 || n->parent == NULL ? n->ino : n->parent->ino;
		} else {
			entry_at(n, &v, (size_t)i - 2, &de);
			name = de.name;
			mode = type_of(de.kind);
			hint = node_child_ino(t->nodes, n, name, de.kind, de.file);
			if (plus) {
				r = entry_attr(t, n, &v, &de, &e);
				if (r < 0 && r != -EAGAIN)
					break;
				with_attrs = r == 0;
				r = 0;
			}
		}
		if (fill(arg, name, mode, hint, with_attrs ? &e : NULL, i + 1) != 0) {
			/* No room: the kernel never saw this entry. */
			if (with_attrs)
				node_forget(t->nodes, e.ino, 1);
			break;
		}
		listed = true;
	}
	view_done(t, &v);
	/* Nothing listed because of an error must not look like the end; once
	 * something was, an error only ends this batch. */
	if (listed)
		r = 0;
out_node:
	node_put(t->nodes, n);
	return kernel_errno(r);
}

/* ---- the notifier, the reload, the tree's life ---- */

/* The notifier's way of telling the kernel; on its thread only. */
static int tree_send(void *arg, uint64_t ino)
{
	struct tree *t = arg;

	/* Never from a request handler (tree.h): handlers only queue. */
	assert(notify_is_own_thread(t->notify));
	lockrule_assert_none();
	return t->kernel.inval_inode != NULL ? t->kernel.inval_inode(t->kernel.arg, ino) : 0;
}

void tree_invalidate_dirs(struct tree *t)
{
	uint64_t *inos = malloc(NOTIFY_MAX_PENDING * sizeof(*inos));
	size_t n;

	if (inos == NULL)
		return;
	n = node_dir_inos(t->nodes, inos, NOTIFY_MAX_PENDING);
	for (size_t i = 0; i < n; i++)
		notify_inode(t->notify, inos[i]);
	free(inos);
}

void tree_set_kernel(struct tree *t, const struct tree_kernel *k)
{
	t->kernel = *k;
}

int tree_new(const struct tree_config *cfg, struct cache *cache, struct bg *bg, struct tree **ret)
{
	struct tree *t;
	int r;

	if (cfg == NULL || cache == NULL || bg == NULL)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->cfg = *cfg;
	t->cache = cache;
	pthread_mutex_init(&t->stats_lock, NULL);
	r = node_table_new(cfg->hash, &t->nodes);
	if (r < 0)
		goto out_free;
	r = notify_new(bg, tree_send, t, &t->notify);
	if (r < 0)
		goto out_nodes;
	*ret = t;
	return 0;

out_nodes:
	node_table_free(t->nodes);
out_free:
	pthread_mutex_destroy(&t->stats_lock);
	free(t);
	return r;
}

void tree_free(struct tree *t)
{
	if (t == NULL)
		return;
	notify_free(t->notify);
	node_table_free(t->nodes);
	free(t->stats);
	pthread_mutex_destroy(&t->stats_lock);
	free(t);
}

void tree_get_stats(struct tree *t, struct tree_stats *ret)
{
	ret->inodes = node_count(t->nodes);
	ret->collisions = node_collisions(t->nodes);
	notify_get_stats(t->notify, &ret->notify);
}
