// SPDX-License-Identifier: MIT
/*
 * store: the files, the in-memory index and the writer of the local store
 * (store.h; the frame format is storefmt's, the reasons contrib/docs/store.md).
 *
 * Locking: s->lock protects the region and instance structs, their indexes
 * and the queue; it is held for memory work only. Reading a log (loading an
 * index) happens unlocked, with the struct's `loading` flag set and others
 * waiting on s->cond; reading a frame back takes its fd and offset under the
 * lock and preads unlocked. Only the writer (one thread at a time: the
 * service, or store_flush's caller when there is none) writes to files, so
 * an fd is never closed while a reader may use it: a log rewritten by the
 * pruner keeps its old fd open, retired, until store_free.
 *
 * Logging: the store is the owner of its writer thread, so it logs what
 * nobody above it sees (a bad record dropped, a full disk once per episode).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bg.h"
#include "log.h"
#include "store.h"
#include "storefmt.h"

#define FORMAT_FILE   "FORMAT"
#define FORMAT_PREFIX "swasfs-store "
#define NAME_MAX_LEN  255
/* One log read whole when it is loaded; a log holds one instance's history,
 * which the API caps at 100,000 records (about 100 MiB at typical sizes):
 * past 1 GiB it is not ours to read into memory. */
#define MAX_LOG_BYTES ((size_t)1u << 30)

/* One invocation of an instance's index. */
struct ient {
	char *id;
	const char *status; /* a static terminal status once its INVOCATION frame is known; else NULL */
	int64_t ctime;
	uint64_t inv_off, res_off; /* where its frames are; valid when *_len != 0 */
	uint32_t inv_len, res_len;
	uint64_t api_gen; /* the log's api_gen when the API last listed it */
	bool inv_queued, res_queued;
};

/* One appendable log file (an instance's invocations, a region's instances). */
struct logfile {
	char *path;
	int fd;	       /* -1 until opened; owned */
	uint64_t end;  /* where the next frame goes (end of the last good one) */
	uint64_t size; /* the file's size as last known (> end: a torn tail to cut) */
	bool exists;   /* the file is there */
	bool dirty;    /* written since the last commit */
	bool new_file; /* created since the last commit: its directory needs an fsync */
	bool loaded;   /* read and indexed */
	bool loading;  /* being read by some thread (others wait on s->cond) */
	bool broken;   /* unreadable (a bad file header, a newer format): never served nor written */
};

struct archive;

struct ilog {
	struct ilog *next;
	char *id;
	struct logfile lf;
	struct ient **tab; /* open addressing by id; cap a power of two */
	size_t cap, count, with_inv;
	uint64_t api_gen; /* listings merged from the API; 0: none in this mount */
	/* The archive last handed out (a reference), and what it holds, to
	 * hand it out again while that does not change. */
	struct archive *archive;
	uint64_t archive_fp;
};

struct sinst {
	struct swas_instance in;
	bool on_disk, queued;
};

struct region {
	struct region *next;
	char *id;
	char *dir; /* DIR/regions/<id> */
	struct logfile lf;
	struct sinst *insts;
	size_t ninsts, cap;
	struct ilog *logs;
	bool api_listed;
};

struct witem {
	struct witem *next;
	struct logfile *lf;
	struct ient *ent;   /* NULL for an instance record */
	struct region *reg; /* for an instance record */
	struct ilog *log;   /* for an invocation or result */
	size_t inst_index;
	bool is_result;
	unsigned char *frame;
	size_t len;
};

struct store {
	char *dir;
	char *regions_dir;
	bool read_only;
	unsigned keep_days;
	int lock_fd;
	struct bg *bg;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct region *regions;	      /* protected by lock */
	bool regions_api_listed;      /* protected by lock */
	struct witem *qhead, **qtail; /* protected by lock */
	size_t qcount, qbytes;	      /* protected by lock */
	bool stopping;		      /* protected by lock */
	bool disk_full;		      /* a failed write was logged; protected by lock */
	int *retired;		      /* fds of logs rewritten by the pruner; protected by lock */
	size_t nretired;
	struct store_stats st;	    /* protected by lock */
	pthread_mutex_t write_lock; /* one writer at a time: service or store_flush */
};

/* The static string of a terminal status (swas_invocation's own), or NULL. */
static const char *terminal_status(const char *status)
{
	static const char *const terminal[] = { "Finished", "Failed", "Stopped" };

	for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		if (strcmp(status, terminal[i]) == 0)
			return terminal[i];
	return NULL;
}

static bool is_terminal(const char *status)
{
	return terminal_status(status) != NULL;
}

/* A name we may use as a path component of our own layout, and that the
 * mount shows (cache_is_valid_name: none begins with '.'), so that what the
 * store hands back as an archive needs no second check. */
static bool is_safe_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= NAME_MAX_LEN && strchr(s, '/') == NULL && s[0] != '.';
}

static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* ---- the index of one instance ---- */

static struct ient *index_find(const struct ilog *l, const char *id)
{
	if (l->cap == 0)
		return NULL;
	for (size_t i = hash_str(id) & (l->cap - 1);; i = (i + 1) & (l->cap - 1)) {
		if (l->tab[i] == NULL)
			return NULL;
		if (strcmp(l->tab[i]->id, id) == 0)
			return l->tab[i];
	}
}

static int index_grow(struct ilog *l)
{
	size_t cap = l->cap ? l->cap * 2 : 64;
	struct ient **tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < l->cap; i++) {
		struct ient *e = l->tab[i];
		size_t j;

		if (e == NULL)
			continue;
		for (j = hash_str(e->id) & (cap - 1); tab[j] != NULL; j = (j + 1) & (cap - 1))
			;
		tab[j] = e;
	}
	free(l->tab);
	l->tab = tab;
	l->cap = cap;
	return 0;
}

/* The entry of @id, added if absent; NULL on -ENOMEM. */
static struct ient *index_add(struct ilog *l, const char *id, int64_t ctime)
{
	struct ient *e = index_find(l, id);
	size_t j;

	if (e != NULL)
		return e;
	if ((l->count + 1) * 2 > l->cap && index_grow(l) < 0)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->id = strdup(id)) == NULL) {
		free(e);
		return NULL;
	}
	e->ctime = ctime;
	for (j = hash_str(id) & (l->cap - 1); l->tab[j] != NULL; j = (j + 1) & (l->cap - 1))
		;
	l->tab[j] = e;
	l->count++;
	return e;
}

static void index_free(struct ilog *l)
{
	for (size_t i = 0; i < l->cap; i++) {
		if (l->tab[i] != NULL) {
			free(l->tab[i]->id);
			free(l->tab[i]);
		}
	}
	free(l->tab);
	l->tab = NULL;
	l->cap = l->count = l->with_inv = 0;
}

/* ---- reading a log whole ---- */

/* Reads the file at @lf->path into *ret (caller frees); *ret_len 0 and
 * -ENOENT if it does not exist. Checks the file header. */
static int read_log(const char *path, enum storefmt_kind kind, unsigned char **ret, size_t *ret_len)
{
	unsigned char *buf = NULL;
	struct stat sb;
	size_t got = 0;
	uint32_t version;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) != 0) {
		r = -errno;
		goto out_close;
	}
	r = -EFBIG;
	if ((uint64_t)sb.st_size > MAX_LOG_BYTES)
		goto out_close;
	r = -ENOMEM;
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL)
		goto out_close;
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got == 0) {
		/* Created but its header never written (a crash right then): empty. */
		*ret = buf;
		*ret_len = 0;
		r = 0;
		goto out_close;
	}
	r = storefmt_check_file_header(buf, got, kind, &version);
	if (r == -EPROTONOSUPPORT)
		log_error("store: %s was written by a newer swasfs (format %u; this one reads up to %u): not "
			  "served",
			  path, version, STOREFMT_VERSION);
	else if (r < 0)
		log_error("store: %s is not a swasfs store log: not served", path);
	if (r < 0)
		goto out_free;
	*ret = buf;
	*ret_len = got;
	goto out_close;

out_free:
	free(buf);
out_close:
	close(fd);
	return r;
}

struct load_ctx {
	struct ilog *l;
	int err;
};

static int index_frame(const struct storefmt_frame *fr, void *arg)
{
	struct load_ctx *c = arg;
	char id[NAME_MAX_LEN + 1], status[NAME_MAX_LEN + 1];
	struct ient *e;
	int64_t ctime;

	if (fr->type == STOREFMT_INSTANCE)
		return 0;
	if (storefmt_peek_id(fr->type, fr->payload, fr->payload_len, id, sizeof(id), &ctime, status,
			     sizeof(status)) < 0 ||
	    !is_safe_name(id))
		return 0; /* checksummed but not ours to read (or to show): left out */
	e = index_add(c->l, id, fr->type == STOREFMT_INVOCATION ? ctime : 0);
	if (e == NULL)
		return -ENOMEM;
	/* A later copy of a frame (written again after a bad one) wins. */
	if (fr->type == STOREFMT_INVOCATION) {
		if (e->inv_len == 0)
			c->l->with_inv++;
		e->ctime = ctime;
		e->status = terminal_status(status);
		e->inv_off = fr->offset;
		e->inv_len = fr->frame_len;
	} else {
		e->res_off = fr->offset;
		e->res_len = fr->frame_len;
	}
	return 0;
}

/* Opens @lf's file for reading and (unless read-only) appending. */
static int logfile_open(const struct store *s, struct logfile *lf)
{
	int fd = open(lf->path, (s->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	lf->fd = fd;
	return 0;
}

/* Waits until nobody is loading @lf, then claims it (true) if it is not
 * loaded yet. Called and returns with s->lock held. */
static bool claim_load(struct store *s, struct logfile *lf)
{
	while (lf->loading)
		pthread_cond_wait(&s->cond, &s->lock);
	if (lf->loaded)
		return false;
	lf->loading = true;
	return true;
}

static void release_load(struct store *s, struct logfile *lf, bool loaded)
{
	lf->loading = false;
	lf->loaded = loaded;
	pthread_cond_broadcast(&s->cond);
}

/* Reads @l's log and builds its index, once. Called with s->lock held. */
static int ilog_load(struct store *s, struct ilog *l)
{
	struct storefmt_scan_result res = { 0 };
	struct ilog tmp = { 0 };
	struct load_ctx c = { .l = &tmp };
	unsigned char *buf = NULL;
	size_t len = 0;
	int r;

	if (!claim_load(s, &l->lf))
		return 0;
	pthread_mutex_unlock(&s->lock);
	r = read_log(l->lf.path, STOREFMT_KIND_INVOCATIONS, &buf, &len);
	if (r == -ENOENT) {
		r = 0;
		len = 0;
	}
	if (r == 0 && len > STOREFMT_FILE_HEADER_LEN)
		r = storefmt_scan(buf + STOREFMT_FILE_HEADER_LEN, len - STOREFMT_FILE_HEADER_LEN,
				  STOREFMT_FILE_HEADER_LEN, index_frame, &c, &res);
	else
		res.good_end = len ? STOREFMT_FILE_HEADER_LEN : 0;
	if (r == 0 && len > 0 && l->lf.fd < 0)
		r = logfile_open(s, &l->lf);
	free(buf);
	/* A torn tail is what a crash during a write leaves: cut at the next
	 * append, not worth a warning. Damage before it is. */
	if (r == 0 && res.bad > (res.torn_tail ? 1u : 0u))
		log_warn("store: %s: %lu damaged stretch(es) skipped (records in them are fetched again if "
			 "the "
			 "API still has them)",
			 l->lf.path, res.bad);
	if (r < 0 && r != -ENOMEM)
		log_error("store: cannot read %s: %s", l->lf.path, strerror(-r));
	pthread_mutex_lock(&s->lock);
	if (r == -ENOMEM) {
		index_free(&tmp);
		release_load(s, &l->lf, false);
		return r;
	}
	if (r < 0) {
		/* Logged above, once: left alone (not overwritten), the API serves. */
		index_free(&tmp);
		l->lf.broken = true;
		l->lf.exists = false;
		release_load(s, &l->lf, true);
		return 0;
	}
	l->tab = tmp.tab;
	l->cap = tmp.cap;
	l->count = tmp.count;
	l->with_inv = tmp.with_inv;
	l->lf.exists = len > 0;
	l->lf.size = len;
	l->lf.end = res.good_end;
	s->st.bad += res.bad;
	s->st.loaded++;
	release_load(s, &l->lf, true);
	return 0;
}

/* ---- regions and instances ---- */

static struct region *region_find(struct store *s, const char *id)
{
	for (struct region *g = s->regions; g != NULL; g = g->next)
		if (strcmp(g->id, id) == 0)
			return g;
	return NULL;
}

/* The region struct of @id, added (nothing read) if absent. Under s->lock. */
static struct region *region_get(struct store *s, const char *id)
{
	struct region *g = region_find(s, id);

	if (g != NULL)
		return g;
	if (!is_safe_name(id))
		return NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->id = strdup(id);
	g->dir = path_join(s->regions_dir, id);
	g->lf.path = g->dir ? path_join(g->dir, "instances") : NULL;
	g->lf.fd = -1;
	if (g->id == NULL || g->lf.path == NULL) {
		free(g->id);
		free(g->dir);
		free(g->lf.path);
		free(g);
		return NULL;
	}
	g->next = s->regions;
	s->regions = g;
	return g;
}

static struct ilog *ilog_find(struct region *g, const char *id)
{
	for (struct ilog *l = g->logs; l != NULL; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static struct ilog *ilog_get(struct region *g, const char *id)
{
	struct ilog *l = ilog_find(g, id);
	char *inv_dir;

	if (l != NULL)
		return l;
	if (!is_safe_name(id))
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	inv_dir = path_join(g->dir, "inv");
	l->id = strdup(id);
	l->lf.path = inv_dir ? path_join(inv_dir, id) : NULL;
	l->lf.fd = -1;
	free(inv_dir);
	if (l->id == NULL || l->lf.path == NULL) {
		free(l->id);
		free(l->lf.path);
		free(l);
		return NULL;
	}
	l->next = g->logs;
	g->logs = l;
	return l;
}

static int sinst_add(struct region *g, const struct swas_instance *in, bool on_disk, size_t *ret_index)
{
	struct sinst *e;

	for (size_t i = 0; i < g->ninsts; i++) {
		if (strcmp(g->insts[i].in.instance_id, in->instance_id) == 0) {
			swas_instance_done(&g->insts[i].in);
			memset(&g->insts[i].in, 0, sizeof(g->insts[i].in));
			e = &g->insts[i];
			goto fill;
		}
	}
	if (g->ninsts == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct sinst *v = realloc(g->insts, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		g->insts = v;
		g->cap = cap;
	}
	e = &g->insts[g->ninsts++];
	memset(e, 0, sizeof(*e));
fill:
	e->in.instance_id = strdup(in->instance_id);
	e->in.instance_name = strdup(in->instance_name ? in->instance_name : "");
	e->in.status = strdup(in->status ? in->status : "");
	e->in.region_id = strdup(in->region_id ? in->region_id : "");
	e->in.creation_time = strdup(in->creation_time ? in->creation_time : "");
	e->in.ctime = in->ctime;
	if (in->record != NULL) {
		e->in.record = malloc(in->record_len + 1);
		if (e->in.record != NULL) {
			memcpy(e->in.record, in->record, in->record_len);
			e->in.record[in->record_len] = '\0';
			e->in.record_len = in->record_len;
		}
	}
	e->on_disk = on_disk;
	e->queued = false;
	if (!e->in.instance_id || !e->in.instance_name || !e->in.status || !e->in.region_id ||
	    !e->in.creation_time || (in->record != NULL && e->in.record == NULL)) {
		swas_instance_done(&e->in);
		g->ninsts--;
		if (e != &g->insts[g->ninsts])
			*e = g->insts[g->ninsts];
		return -ENOMEM;
	}
	*ret_index = (size_t)(e - g->insts);
	return 0;
}

static int instance_frame(const struct storefmt_frame *fr, void *arg)
{
	struct region *g = arg;
	struct swas_instance in;
	size_t idx;
	int r;

	if (fr->type != STOREFMT_INSTANCE)
		return 0;
	if (storefmt_decode_instance(fr->payload, fr->payload_len, &in) < 0)
		return 0;
	r = sinst_add(g, &in, true, &idx);
	swas_instance_done(&in);
	return r;
}

/* Lists the region's instance logs and reads its instance records, once.
 * Called with s->lock held. */
struct dir_entry {
	char *name;
	bool history;
};

/* The instance logs in @dir (names and whether they hold any frame), read
 * without the store's lock. *ret is the caller's (free each name). */
static int list_inv_dir(const char *dir, struct dir_entry **ret, size_t *ret_count)
{
	struct dir_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat sb;
	DIR *d;

	*ret = NULL;
	*ret_count = 0;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		if (!is_safe_name(de->d_name) || strchr(de->d_name, '~') != NULL)
			continue; /* ".", "..", and the pruner's temporary files */
		if (n == cap) {
			struct dir_entry *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		v[n].name = strdup(de->d_name);
		if (v[n].name == NULL)
			break;
		/* A log holding no frame (all pruned) is no history. */
		v[n].history = fstatat(dirfd(d), de->d_name, &sb, 0) == 0 &&
			       (uint64_t)sb.st_size > STOREFMT_FILE_HEADER_LEN;
		n++;
	}
	closedir(d);
	*ret = v;
	*ret_count = n;
	return 0;
}

/* Lists the region's instance logs and reads its instance records, once.
 * Called with s->lock held; the reading is done without it. */
static int region_load(struct store *s, struct region *g)
{
	struct storefmt_scan_result res = { 0 };
	struct dir_entry *logs = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, nlogs = 0;
	bool history = false;
	char *inv_dir;
	int r;

	if (!claim_load(s, &g->lf))
		return 0;
	pthread_mutex_unlock(&s->lock);
	r = read_log(g->lf.path, STOREFMT_KIND_INSTANCES, &buf, &len);
	if (r == -ENOENT) {
		r = 0;
		len = 0;
	}
	inv_dir = path_join(g->dir, "inv");
	if (inv_dir != NULL)
		list_inv_dir(inv_dir, &logs, &nlogs); /* none listed: none served */
	free(inv_dir);
	pthread_mutex_lock(&s->lock);
	if (r < 0 && r != -ENOMEM) {
		/* Logged by read_log: its instances are not served, nor written; the
		 * instance logs still are. */
		g->lf.broken = true;
		r = 0;
		len = 0;
	}
	/* instance_frame changes g->insts: under the lock. */
	if (r == 0 && len > STOREFMT_FILE_HEADER_LEN)
		r = storefmt_scan(buf + STOREFMT_FILE_HEADER_LEN, len - STOREFMT_FILE_HEADER_LEN,
				  STOREFMT_FILE_HEADER_LEN, instance_frame, g, &res);
	else
		res.good_end = len ? STOREFMT_FILE_HEADER_LEN : 0;
	free(buf);
	if (r == 0 && len > 0 && g->lf.fd < 0)
		r = logfile_open(s, &g->lf);
	for (size_t i = 0; i < nlogs; i++) {
		struct ilog *l = r == 0 ? ilog_get(g, logs[i].name) : NULL;

		if (l != NULL)
			l->lf.exists = logs[i].history;
		history = history || logs[i].history;
		free(logs[i].name);
	}
	free(logs);
	if (r < 0) {
		release_load(s, &g->lf, false);
		return r;
	}
	/* The region counts as stored while its directory holds anything. */
	g->lf.exists = len > 0 || history;
	g->lf.size = len;
	g->lf.end = res.good_end;
	s->st.bad += res.bad;
	release_load(s, &g->lf, true);
	return 0;
}

/* True if @l holds, or may hold, stored invocations. */
static bool ilog_has_history(const struct ilog *l)
{
	if (l->lf.loaded)
		return l->with_inv > 0;
	return l->lf.exists;
}

/* ---- the queue ---- */

/* Queues @frame (taken) for @lf; false (and the frame freed) if full. */
static bool enqueue(struct store *s, struct witem *w)
{
	if (w->lf->broken) {
		free(w->frame);
		free(w);
		return false;
	}
	if (s->read_only || s->stopping || s->qcount >= STORE_MAX_QUEUED ||
	    s->qbytes + w->len > STORE_MAX_QUEUED_BYTES) {
		if (!s->read_only)
			s->st.dropped++;
		free(w->frame);
		free(w);
		return false;
	}
	w->next = NULL;
	*s->qtail = w;
	s->qtail = &w->next;
	s->qcount++;
	s->qbytes += w->len;
	s->st.queued++;
	pthread_cond_broadcast(&s->cond);
	return true;
}

static struct witem *witem_new(struct logfile *lf, unsigned char *frame, size_t len)
{
	struct witem *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		free(frame);
		return NULL;
	}
	w->lf = lf;
	w->frame = frame;
	w->len = len;
	return w;
}

/* ---- merges ---- */

int store_merge_regions(struct store *s, struct swas_region_list *list, bool from_api)
{
	size_t extra = 0, n;
	struct swas_region *v;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (from_api)
		s->regions_api_listed = true;
	for (struct region *g = s->regions; g != NULL; g = g->next)
		extra++;
	v = realloc(list->items, (list->count + extra + 1) * sizeof(*v));
	if (v == NULL) {
		r = -ENOMEM;
		goto out_unlock;
	}
	list->items = v;
	n = list->count;
	for (struct region *g = s->regions; g != NULL; g = g->next) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(list->items[i].region_id, g->id) == 0;
		if (found || !g->lf.exists)
			continue;
		v[list->count].region_id = strdup(g->id);
		v[list->count].local_name = strdup(g->id);
		v[list->count].endpoint = strdup("");
		if (!v[list->count].region_id || !v[list->count].local_name || !v[list->count].endpoint) {
			free(v[list->count].region_id);
			free(v[list->count].local_name);
			free(v[list->count].endpoint);
			r = -ENOMEM;
			goto out_unlock;
		}
		list->count++;
	}
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return r;
}

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The ListInstances record (.instance.json) unchanged: status or address
 * changes are rare, and the stored copy is what a deleted instance shows. */
static bool same_record(const struct swas_instance *a, const struct swas_instance *b)
{
	size_t la = a->record ? a->record_len : 0, lb = b->record ? b->record_len : 0;

	return la == lb && (la == 0 || memcmp(a->record, b->record, la) == 0);
}

int store_merge_instances(struct store *s, const char *region, struct swas_instance_list *list, bool from_api)
{
	struct region *g;
	size_t n = list->count;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	g = region_get(s, region);
	if (g == NULL)
		goto out_unlock; /* not a name we store */
	r = region_load(s, g);
	if (r < 0)
		goto out_unlock;
	if (from_api)
		g->api_listed = true;
	for (size_t i = 0; i < n && !s->read_only; i++) {
		const struct swas_instance *in = &list->items[i];
		struct sinst *e = NULL;
		unsigned char *frame;
		struct witem *w;
		size_t len, idx;

		if (!is_safe_name(in->instance_id))
			continue;
		for (size_t j = 0; j < g->ninsts && e == NULL; j++)
			if (strcmp(g->insts[j].in.instance_id, in->instance_id) == 0)
				e = &g->insts[j];
		if (e != NULL &&
		    (e->queued || (e->on_disk && same_str(e->in.creation_time, in->creation_time) &&
				   same_record(&e->in, in))))
			continue;
		if (sinst_add(g, in, false, &idx) < 0 || storefmt_encode_instance(in, &frame, &len) < 0)
			continue;
		w = witem_new(&g->lf, frame, len);
		if (w == NULL)
			continue;
		w->reg = g;
		w->inst_index = idx;
		g->insts[idx].queued = enqueue(s, w);
	}
	for (struct ilog *l = g->logs; l != NULL; l = l->next) {
		struct swas_instance *v, *in;
		bool found = false;

		if (!ilog_has_history(l))
			continue;
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(list->items[i].instance_id, l->id) == 0;
		if (found)
			continue;
		v = realloc(list->items, (list->count + 1) * sizeof(*v));
		if (v == NULL) {
			r = -ENOMEM;
			goto out_unlock;
		}
		list->items = v;
		in = &v[list->count];
		memset(in, 0, sizeof(*in));
		for (size_t j = 0; j < g->ninsts; j++) {
			if (strcmp(g->insts[j].in.instance_id, l->id) == 0) {
				in->instance_name = strdup(g->insts[j].in.instance_name);
				in->status = strdup(g->insts[j].in.status);
				in->creation_time = strdup(g->insts[j].in.creation_time);
				in->ctime = g->insts[j].in.ctime;
				if (g->insts[j].in.record != NULL) {
					in->record = strdup(g->insts[j].in.record);
					in->record_len = in->record ? g->insts[j].in.record_len : 0;
				}
				break;
			}
		}
		in->instance_id = strdup(l->id);
		in->region_id = strdup(region);
		if (in->instance_name == NULL)
			in->instance_name = strdup("");
		if (in->status == NULL)
			in->status = strdup("");
		if (in->creation_time == NULL)
			in->creation_time = strdup("");
		if (!in->instance_id || !in->region_id || !in->instance_name || !in->status ||
		    !in->creation_time) {
			swas_instance_done(in);
			r = -ENOMEM;
			goto out_unlock;
		}
		list->count++;
	}
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* A stored frame to read back, taken under the lock. */
struct want {
	int fd;
	uint64_t off;
	uint32_t len;
	struct ient *ent;
};

/* Reads and checks the frame @w, of @type; 0 with *ret_buf (caller frees)
 * and *ret_fr, -ENOMEM, or -EBADMSG (short, damaged or another type). */
static int read_frame(const struct want *w, enum storefmt_type type, unsigned char **ret_buf,
		      struct storefmt_frame *ret_fr)
{
	unsigned char *buf = malloc(w->len ? w->len : 1);
	size_t got = 0;

	if (buf == NULL)
		return -ENOMEM;
	while (got < w->len) {
		ssize_t n = pread(w->fd, buf + got, w->len - got, (off_t)(w->off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != w->len || storefmt_check_frame(buf, w->len, ret_fr) < 0 || ret_fr->type != type) {
		free(buf);
		return -EBADMSG;
	}
	*ret_buf = buf;
	return 0;
}

/* Forgets a frame that failed its check (if the index still points at it). */
static void drop_bad(struct store *s, struct ilog *l, const struct want *w, bool result, const char *why)
{
	pthread_mutex_lock(&s->lock);
	if (result && w->ent->res_off == w->off && w->ent->res_len == w->len) {
		w->ent->res_len = 0;
		s->st.bad++;
	} else if (!result && w->ent->inv_off == w->off && w->ent->inv_len == w->len) {
		w->ent->inv_len = 0;
		l->with_inv--;
		s->st.bad++;
	}
	pthread_mutex_unlock(&s->lock);
	log_warn("store: %s: the stored %s of %s at offset %llu %s: not served, fetched again if the API "
		 "has it",
		 l->lf.path, result ? "result" : "invocation", w->ent->id, (unsigned long long)w->off, why);
}

/* The instance log of @region/@instance, loaded; NULL if we store no such
 * names. Called with s->lock held. */
static struct ilog *ilog_loaded(struct store *s, const char *region, const char *instance, int *ret_r)
{
	struct region *g = region_get(s, region);
	struct ilog *l;

	*ret_r = 0;
	if (g == NULL)
		return NULL;
	*ret_r = region_load(s, g);
	if (*ret_r < 0)
		return NULL;
	l = ilog_get(g, instance);
	if (l == NULL)
		return NULL;
	*ret_r = ilog_load(s, l);
	return *ret_r < 0 ? NULL : l;
}

/* ---- archives: the stored invocations a listing lacks ---- */

/* What swas_archive's ops need besides the entries: where to read them. */
struct archive {
	struct swas_archive pub; /* first */
	atomic_uint refs;
	struct store *s;
	struct ilog *l;	    /* stable: ilogs live as long as the store */
	const char *region; /* the region's id: as stable */
	struct swas_archive_entry *entries;
};

static struct archive *archive_of(const struct swas_archive *a)
{
	return (struct archive *)a;
}

static void archive_ref(const struct swas_archive *pub)
{
	atomic_fetch_add(&archive_of(pub)->refs, 1);
}

static void archive_unref(const struct swas_archive *pub)
{
	struct archive *a = archive_of(pub);

	if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	free(a->entries);
	free(a);
}

/* Reads entry @i's INVOCATION frame back, checks it and decodes it. */
static int archive_load(const struct swas_archive *pub, size_t i, struct swas_invocation *ret)
{
	struct archive *a = archive_of(pub);
	const char *id = a->entries[i].invoke_id;
	struct storefmt_frame fr;
	struct want w = { 0 };
	unsigned char *buf;
	struct ient *e;
	int r;

	pthread_mutex_lock(&a->s->lock);
	e = index_find(a->l, id);
	if (e != NULL && e->inv_len != 0)
		w = (struct want){ .fd = a->l->lf.fd, .off = e->inv_off, .len = e->inv_len, .ent = e };
	a->s->st.read++;
	pthread_mutex_unlock(&a->s->lock);
	if (w.len == 0)
		return -ENOENT; /* dropped (bad) or pruned since the listing */
	r = read_frame(&w, STOREFMT_INVOCATION, &buf, &fr);
	if (r == -ENOMEM)
		return r;
	if (r == 0) {
		r = storefmt_decode_invocation(fr.payload, fr.payload_len, a->region, a->l->id, ret);
		free(buf);
		if (r == 0 && strcmp(ret->invoke_id, id) != 0) {
			swas_invocation_done(ret);
			r = -EBADMSG;
		}
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		drop_bad(a->s, a->l, &w, false, "fails its checksum");
		return -ENOENT;
	}
	return 0;
}

static const struct swas_archive_ops archive_ops = {
	.load = archive_load,
	.ref = archive_ref,
	.unref = archive_unref,
};

static int cmp_archive_entry(const void *x, const void *y)
{
	const struct swas_archive_entry *a = x, *b = y;
	int c = strcmp(a->invoke_status, b->invoke_status);

	return c != 0 ? c : strcmp(a->invoke_id, b->invoke_id);
}

/* Whether stored entry @e belongs in the archive of a listing: its record
 * is on disk and the API's answer (when there is one) lacks it. */
static bool is_archived(const struct ilog *l, const struct ient *e, bool from_api)
{
	return e != NULL && e->inv_len != 0 && e->status != NULL && !(from_api && e->api_gen == l->api_gen);
}

/* A mix of an entry's address, summed over a set: equal sums, same set
 * (with a 64-bit mix, a different set that sums alike is not a worry). */
static uint64_t mix_ptr(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/*
 * The archive of @l for a listing (@from_api: the API's answer was just
 * merged): a new reference in *ret, NULL if it would be empty. The last one
 * is handed out again while its set of entries is the same (the common case
 * of a refresh every cache_ttl), so only a change costs a sort. Memory work
 * only: called with s->lock held.
 */
static int archive_get(struct store *s, struct region *g, struct ilog *l, bool from_api,
		       const struct swas_archive **ret)
{
	struct archive *a;
	uint64_t fp = 0;
	size_t n = 0;

	*ret = NULL;
	for (size_t i = 0; i < l->cap; i++) {
		if (is_archived(l, l->tab[i], from_api)) {
			fp += mix_ptr(l->tab[i]);
			n++;
		}
	}
	if (n == 0)
		return 0;
	fp ^= n;
	if (l->archive != NULL && l->archive_fp == fp && l->archive->pub.count == n) {
		archive_ref(&l->archive->pub);
		*ret = &l->archive->pub;
		return 0;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->entries = malloc(n * sizeof(*a->entries))) == NULL) {
		free(a);
		return -ENOMEM;
	}
	for (size_t i = 0, k = 0; i < l->cap && k < n; i++) {
		const struct ient *e = l->tab[i];

		if (is_archived(l, e, from_api))
			a->entries[k++] = (struct swas_archive_entry){ .invoke_id = e->id,
								       .invoke_status = e->status,
								       .ctime = (time_t)e->ctime };
	}
	qsort(a->entries, n, sizeof(*a->entries), cmp_archive_entry);
	a->pub.ops = &archive_ops;
	a->pub.entries = a->entries;
	a->pub.count = n;
	a->pub.bytes = sizeof(*a) + n * sizeof(*a->entries);
	atomic_init(&a->refs, 2); /* the caller's and l->archive */
	a->s = s;
	a->l = l;
	a->region = g->id;
	if (l->archive != NULL)
		archive_unref(&l->archive->pub);
	l->archive = a;
	l->archive_fp = fp;
	*ret = &a->pub;
	return 0;
}

int store_merge_invocations(struct store *s, const char *region, const char *instance,
			    struct swas_invocation_list *list, bool from_api)
{
	int64_t cutoff;
	struct ilog *l;
	int r;

	pthread_mutex_lock(&s->lock);
	l = ilog_loaded(s, region, instance, &r);
	if (l == NULL)
		goto out_unlock;
	if (from_api)
		l->api_gen++;
	/* With store_days, what is already past it is not stored (the pruner
	 * would only take it out again): the API serves it while it has it. */
	cutoff = s->keep_days ? (int64_t)time(NULL) - (int64_t)s->keep_days * 86400 : INT64_MIN;
	for (size_t i = 0; i < list->count; i++) {
		const struct swas_invocation *inv = &list->items[i];
		const char *status = terminal_status(inv->invoke_status);
		unsigned char *frame;
		struct ient *e;
		struct witem *w;
		size_t len;

		if (status == NULL || !is_safe_name(inv->invoke_id))
			continue;
		e = index_add(l, inv->invoke_id, (int64_t)inv->ctime);
		if (e == NULL) {
			r = -ENOMEM;
			goto out_unlock;
		}
		if (from_api)
			e->api_gen = l->api_gen;
		if (e->status == NULL)
			e->status = status;
		if (e->inv_len != 0 || e->inv_queued || s->read_only || (int64_t)inv->ctime < cutoff)
			continue;
		if (storefmt_encode_invocation(inv, &frame, &len) < 0)
			continue;
		w = witem_new(&l->lf, frame, len);
		if (w == NULL)
			continue;
		w->ent = e;
		w->log = l;
		e->ctime = (int64_t)inv->ctime;
		e->inv_queued = enqueue(s, w);
	}
	/* An id of the list is never in its archive: one the API listed is
	 * marked listed above; offline, the list is empty. */
	if (list->archive == NULL)
		r = archive_get(s, region_find(s, region), l, from_api, &list->archive);
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return r;
}

bool store_api_listed(struct store *s, const char *region, const char *instance)
{
	struct region *g;
	bool listed = false;

	pthread_mutex_lock(&s->lock);
	if (region == NULL) {
		listed = s->regions_api_listed;
	} else if ((g = region_find(s, region)) != NULL) {
		struct ilog *l = instance ? ilog_find(g, instance) : NULL;

		listed = instance ? l != NULL && l->api_gen != 0 : g->api_listed;
	}
	pthread_mutex_unlock(&s->lock);
	return listed;
}

bool store_has(struct store *s, const char *region, const char *instance)
{
	struct region *g;
	bool has = false;

	pthread_mutex_lock(&s->lock);
	if (region == NULL) {
		for (g = s->regions; g != NULL && !has; g = g->next)
			has = g->lf.exists;
	} else if ((g = region_find(s, region)) != NULL) {
		if (instance == NULL) {
			has = g->lf.exists;
		} else {
			struct ilog *l = ilog_find(g, instance);

			has = l != NULL && ilog_has_history(l);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!has && region != NULL && is_safe_name(region) && (instance == NULL || is_safe_name(instance))) {
		/* Not loaded yet: a region directory or an instance log on disk counts. */
		char path[PATH_MAX];
		struct stat sb;
		int n = instance ? snprintf(path, sizeof(path), "%s/%s/inv/%s", s->regions_dir, region,
					    instance)
				 : snprintf(path, sizeof(path), "%s/%s", s->regions_dir, region);

		has = n > 0 && (size_t)n < sizeof(path) && stat(path, &sb) == 0;
	}
	return has;
}

/* ---- results ---- */

int store_get_result(struct store *s, const char *region, const char *instance, const char *invoke_id,
		     struct swas_result *ret)
{
	struct storefmt_frame fr;
	struct swas_result res;
	struct want w = { 0 };
	unsigned char *buf;
	struct ient *e;
	struct ilog *l;
	char *id = NULL;
	int r;

	pthread_mutex_lock(&s->lock);
	l = ilog_loaded(s, region, instance, &r);
	e = l ? index_find(l, invoke_id) : NULL;
	if (e != NULL && e->res_len != 0)
		w = (struct want){ .fd = l->lf.fd, .off = e->res_off, .len = e->res_len, .ent = e };
	pthread_mutex_unlock(&s->lock);
	if (r < 0 && r == -ENOMEM)
		return r;
	if (w.len == 0)
		return -ENOENT;
	r = read_frame(&w, STOREFMT_RESULT, &buf, &fr);
	if (r == -ENOMEM)
		return r;
	if (r == 0) {
		r = storefmt_decode_result(fr.payload, fr.payload_len, &id, &res);
		free(buf);
		if (r == 0 && strcmp(id, invoke_id) != 0) {
			swas_result_done(&res);
			r = -EBADMSG;
		}
		free(id);
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		drop_bad(s, l, &w, true, "fails its checksum");
		return -ENOENT;
	}
	*ret = res;
	return 0;
}

void store_put_result(struct store *s, const char *region, const char *instance, const char *invoke_id,
		      const struct swas_result *res)
{
	const char *irs = res->invoke_record_status;
	unsigned char *frame;
	struct witem *w;
	struct ient *e;
	struct ilog *l;
	size_t len;
	int r;

	if (s->read_only || (irs != NULL && irs[0] != '\0' && !is_terminal(irs)))
		return;
	pthread_mutex_lock(&s->lock);
	l = ilog_loaded(s, region, instance, &r);
	e = l ? index_find(l, invoke_id) : NULL;
	if (e == NULL || (e->inv_len == 0 && !e->inv_queued) || e->res_len != 0 || e->res_queued)
		goto out_unlock;
	if (storefmt_encode_result(invoke_id, res, &frame, &len) < 0)
		goto out_unlock;
	w = witem_new(&l->lf, frame, len);
	if (w == NULL)
		goto out_unlock;
	w->ent = e;
	w->log = l;
	w->is_result = true;
	e->res_queued = enqueue(s, w);
out_unlock:
	pthread_mutex_unlock(&s->lock);
}

/* ---- the writer ---- */

static int mkdir_p(const char *path)
{
	char *p = strdup(path);
	int r = 0;

	if (p == NULL)
		return -ENOMEM;
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			r = -errno;
		*q = '/';
		if (r < 0)
			break;
	}
	if (r == 0 && mkdir(p, 0700) != 0 && errno != EEXIST)
		r = -errno;
	free(p);
	return r;
}

static int fsync_dir_of(const char *path)
{
	char *d = strdup(path), *slash;
	int fd, r = 0;

	if (d == NULL)
		return -ENOMEM;
	slash = strrchr(d, '/');
	if (slash != NULL)
		*slash = '\0';
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(d);
	return r;
}

static int write_all(int fd, const unsigned char *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Makes @lf ready for an append (created with its header if new, a torn
 * tail cut). Writer only; reads lf's fields the writer alone changes. */
static int prepare_append(struct store *s, struct logfile *lf, enum storefmt_kind kind)
{
	unsigned char hdr[STOREFMT_FILE_HEADER_LEN];
	int r;

	if (lf->fd < 0) {
		char *dir = strdup(lf->path), *slash;
		int fd;

		if (dir == NULL)
			return -ENOMEM;
		slash = strrchr(dir, '/');
		*slash = '\0';
		r = mkdir_p(dir);
		free(dir);
		if (r < 0)
			return r;
		fd = open(lf->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		pthread_mutex_lock(&s->lock);
		lf->fd = fd;
		pthread_mutex_unlock(&s->lock);
		lf->new_file = true;
	}
	if (lf->end == 0) {
		storefmt_file_header(kind, hdr);
		r = write_all(lf->fd, hdr, sizeof(hdr), 0);
		if (r < 0)
			return r;
		lf->end = sizeof(hdr);
		if (lf->size < lf->end)
			lf->size = lf->end;
	}
	if (lf->size > lf->end) {
		/* A torn tail, or a write undone: frames go right after the last good one. */
		if (ftruncate(lf->fd, (off_t)lf->end) != 0)
			return -errno;
		lf->size = lf->end;
	}
	return 0;
}

static void note_write_failure(struct store *s, const struct logfile *lf, int r)
{
	bool first;

	pthread_mutex_lock(&s->lock);
	first = !s->disk_full;
	s->disk_full = true;
	s->st.failed++;
	pthread_mutex_unlock(&s->lock);
	if (first)
		log_error("store: cannot write %s: %s; serving goes on, storing again when there is room",
			  lf->path, strerror(-r));
}

static void write_one(struct store *s, struct witem *w)
{
	struct logfile *lf = w->lf;
	bool recovered = false;
	uint64_t at;
	int r;

	r = prepare_append(s, lf, w->reg ? STOREFMT_KIND_INSTANCES : STOREFMT_KIND_INVOCATIONS);
	at = lf->end;
	if (r == 0)
		r = write_all(lf->fd, w->frame, w->len, at);
	if (r < 0 && lf->fd >= 0 && lf->end > 0 && ftruncate(lf->fd, (off_t)lf->end) == 0)
		lf->size = lf->end; /* undo a partial write */
	else if (r < 0)
		lf->size = lf->end + w->len; /* unknown: cut it before the next append */
	pthread_mutex_lock(&s->lock);
	if (r == 0) {
		lf->end = at + w->len;
		lf->size = lf->end;
		lf->exists = true;
		lf->dirty = true;
		s->st.written++;
		recovered = s->disk_full;
		s->disk_full = false;
	}
	if (w->reg != NULL) {
		struct sinst *e = &w->reg->insts[w->inst_index];

		e->queued = false;
		e->on_disk = r == 0;
	} else if (w->is_result) {
		w->ent->res_queued = false;
		if (r == 0) {
			w->ent->res_off = at;
			w->ent->res_len = (uint32_t)w->len;
		}
	} else {
		w->ent->inv_queued = false;
		if (r == 0) {
			if (w->ent->inv_len == 0)
				w->log->with_inv++;
			w->ent->inv_off = at;
			w->ent->inv_len = (uint32_t)w->len;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		note_write_failure(s, lf, r);
	else if (recovered)
		log_info("store: writing again");
}

/* fdatasync every log written since the last commit (and the directories
 * of new files): the group commit. Writer only (dirty and new_file are its
 * own); the region and log lists only grow, under the lock. */
static int sync_one(struct logfile *lf, const char *parent_of_dir)
{
	int r = 0;

	if (lf->dirty && lf->fd >= 0 && fdatasync(lf->fd) != 0)
		r = -errno;
	if (lf->new_file) {
		if (fsync_dir_of(lf->path) < 0 && r == 0)
			r = -EIO;
		/* inv/ is new with its first log: its parent too. */
		if (parent_of_dir != NULL && fsync_dir_of(parent_of_dir) < 0 && r == 0)
			r = -EIO;
	}
	lf->dirty = lf->new_file = false;
	return r;
}

static int commit(struct store *s)
{
	struct region *regions;
	int first_err = 0, r;

	pthread_mutex_lock(&s->lock);
	regions = s->regions;
	pthread_mutex_unlock(&s->lock);
	for (struct region *g = regions; g != NULL; g = g->next) {
		struct ilog *logs;

		r = sync_one(&g->lf, g->dir);
		if (r < 0 && first_err == 0)
			first_err = r;
		pthread_mutex_lock(&s->lock);
		logs = g->logs;
		pthread_mutex_unlock(&s->lock);
		for (struct ilog *l = logs; l != NULL; l = l->next) {
			r = sync_one(&l->lf, g->lf.path);
			if (r < 0 && first_err == 0)
				first_err = r;
		}
	}
	pthread_mutex_lock(&s->lock);
	s->st.commits++;
	pthread_mutex_unlock(&s->lock);
	return first_err;
}

/* Takes the whole queue. Under s->lock. */
static struct witem *take_queue(struct store *s)
{
	struct witem *q = s->qhead;

	s->qhead = NULL;
	s->qtail = &s->qhead;
	s->qcount = 0;
	s->qbytes = 0;
	return q;
}

static void write_batch(struct store *s, struct witem *q)
{
	while (q != NULL) {
		struct witem *next = q->next;

		write_one(s, q);
		free(q->frame);
		free(q);
		q = next;
	}
}

int store_flush(struct store *s)
{
	struct witem *q;
	unsigned long failed;

	pthread_mutex_lock(&s->write_lock);
	pthread_mutex_lock(&s->lock);
	q = take_queue(s);
	failed = s->st.failed;
	pthread_mutex_unlock(&s->lock);
	write_batch(s, q);
	commit(s);
	pthread_mutex_unlock(&s->write_lock);
	pthread_mutex_lock(&s->lock);
	failed = s->st.failed - failed;
	pthread_mutex_unlock(&s->lock);
	return failed ? -EIO : 0;
}

/* ---- pruning ---- */

struct prune_ctx {
	int64_t cutoff;
	struct ilog *loaded; /* the in-memory index, if any (its api_gen says what the API returned) */
	uint64_t api_gen;
	char **gone; /* ids pruned */
	size_t ngone, capgone;
	unsigned char *out; /* the frames kept */
	size_t outlen;
	int err;
};

static bool is_gone(const struct prune_ctx *c, const char *id)
{
	for (size_t i = 0; i < c->ngone; i++)
		if (strcmp(c->gone[i], id) == 0)
			return true;
	return false;
}

static int prune_pick(const struct storefmt_frame *fr, void *arg)
{
	struct prune_ctx *c = arg;
	char id[NAME_MAX_LEN + 1];
	int64_t ctime;

	if (storefmt_peek_id(fr->type, fr->payload, fr->payload_len, id, sizeof(id), &ctime, NULL, 0) < 0)
		return 0;
	if (fr->type == STOREFMT_INVOCATION && ctime != 0 && ctime < c->cutoff) {
		const struct ient *e = c->loaded ? index_find(c->loaded, id) : NULL;

		if (e == NULL || c->api_gen == 0 || e->api_gen != c->api_gen) {
			if (c->ngone == c->capgone) {
				size_t cap = c->capgone ? c->capgone * 2 : 64;
				char **v = realloc(c->gone, cap * sizeof(*v));

				if (v == NULL)
					return -ENOMEM;
				c->gone = v;
				c->capgone = cap;
			}
			if ((c->gone[c->ngone] = strdup(id)) == NULL)
				return -ENOMEM;
			c->ngone++;
		}
	}
	return 0;
}

static int prune_keep(const struct storefmt_frame *fr, void *arg)
{
	struct prune_ctx *c = arg;
	char id[NAME_MAX_LEN + 1];
	int64_t ctime;

	if (storefmt_peek_id(fr->type, fr->payload, fr->payload_len, id, sizeof(id), &ctime, NULL, 0) < 0 ||
	    is_gone(c, id))
		return 0;
	memcpy(c->out + c->outlen, fr->payload - STOREFMT_FRAME_HEADER_LEN, fr->frame_len);
	c->outlen += fr->frame_len;
	return 0;
}

struct reindex_ctx {
	struct ilog *l;
};

/* Points the index at the rewritten file's offsets. */
static int reindex_frame(const struct storefmt_frame *fr, void *arg)
{
	struct reindex_ctx *c = arg;
	char id[NAME_MAX_LEN + 1];
	struct ient *e;
	int64_t ctime;

	if (storefmt_peek_id(fr->type, fr->payload, fr->payload_len, id, sizeof(id), &ctime, NULL, 0) < 0)
		return 0;
	e = index_find(c->l, id);
	if (e == NULL)
		return 0;
	if (fr->type == STOREFMT_INVOCATION) {
		e->inv_off = fr->offset;
	} else if (fr->type == STOREFMT_RESULT) {
		e->res_off = fr->offset;
	}
	return 0;
}

/* Rewrites one instance log without its pruned invocations. Writer only. */
static int prune_log(struct store *s, struct ilog *l, int64_t cutoff)
{
	struct prune_ctx c = { .cutoff = cutoff };
	unsigned char *buf = NULL;
	size_t len = 0;
	char *tmp = NULL;
	int fd = -1, r;

	r = read_log(l->lf.path, STOREFMT_KIND_INVOCATIONS, &buf, &len);
	if (r < 0 || len <= STOREFMT_FILE_HEADER_LEN)
		goto out;
	pthread_mutex_lock(&s->lock);
	c.loaded = l->lf.loaded ? l : NULL;
	c.api_gen = l->api_gen;
	r = storefmt_scan(buf + STOREFMT_FILE_HEADER_LEN, len - STOREFMT_FILE_HEADER_LEN,
			  STOREFMT_FILE_HEADER_LEN, prune_pick, &c, NULL);
	pthread_mutex_unlock(&s->lock);
	if (r < 0 || c.ngone == 0)
		goto out;
	r = -ENOMEM;
	c.out = malloc(len);
	tmp = malloc(strlen(l->lf.path) + 2);
	if (c.out == NULL || tmp == NULL)
		goto out;
	snprintf(tmp, strlen(l->lf.path) + 2, "%s~", l->lf.path);
	memcpy(c.out, buf, STOREFMT_FILE_HEADER_LEN);
	c.outlen = STOREFMT_FILE_HEADER_LEN;
	storefmt_scan(buf + STOREFMT_FILE_HEADER_LEN, len - STOREFMT_FILE_HEADER_LEN,
		      STOREFMT_FILE_HEADER_LEN, prune_keep, &c, NULL);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, c.out, c.outlen, 0);
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (r == 0 && rename(tmp, l->lf.path) != 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		goto out;
	}
	fsync_dir_of(l->lf.path);
	pthread_mutex_lock(&s->lock);
	if (l->lf.loaded) {
		struct reindex_ctx rc = { .l = l };

		for (size_t i = 0; i < c.ngone; i++) {
			struct ient *e = index_find(l, c.gone[i]);

			if (e != NULL && e->inv_len != 0)
				l->with_inv--;
			if (e != NULL)
				e->inv_len = e->res_len = 0;
		}
		storefmt_scan(c.out + STOREFMT_FILE_HEADER_LEN, c.outlen - STOREFMT_FILE_HEADER_LEN,
			      STOREFMT_FILE_HEADER_LEN, reindex_frame, &rc, NULL);
	}
	if (l->lf.fd >= 0) {
		int *v = realloc(s->retired, (s->nretired + 1) * sizeof(*v));

		if (v != NULL) {
			s->retired = v;
			s->retired[s->nretired++] = l->lf.fd;
		} else {
			close(l->lf.fd); /* readers' preads then fail their check: refetched */
		}
	}
	l->lf.fd = fd;
	fd = -1;
	l->lf.end = l->lf.size = c.outlen;
	s->st.pruned += c.ngone;
	pthread_mutex_unlock(&s->lock);
	log_info("store: pruned %zu invocation(s) older than %u days from %s", c.ngone, s->keep_days,
		 l->lf.path);
out:
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < c.ngone; i++)
		free(c.gone[i]);
	free(c.gone);
	free(c.out);
	free(tmp);
	free(buf);
	return r;
}

int store_prune(struct store *s, time_t now)
{
	int64_t cutoff = (int64_t)now - (int64_t)s->keep_days * 86400;
	DIR *d;
	struct dirent *de;
	int first_err = 0;

	if (s->keep_days == 0 || s->read_only)
		return 0;
	pthread_mutex_lock(&s->write_lock);
	d = opendir(s->regions_dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct region *g;

		if (!is_safe_name(de->d_name) || de->d_name[0] == '.')
			continue;
		pthread_mutex_lock(&s->lock);
		g = region_get(s, de->d_name);
		if (g != NULL && region_load(s, g) < 0)
			g = NULL;
		if (g != NULL)
			g->lf.exists = true;
		pthread_mutex_unlock(&s->lock);
		if (g == NULL)
			continue;
		for (struct ilog *l = g->logs; l != NULL; l = l->next) {
			int r;

			if (!l->lf.exists)
				continue;
			r = prune_log(s, l, cutoff);
			if (r < 0 && first_err == 0)
				first_err = r;
		}
	}
	if (d != NULL)
		closedir(d);
	pthread_mutex_unlock(&s->write_lock);
	return first_err;
}

/* The daemon's pid in the lock file, for the refusal's message; written
 * again by the writer, which runs after fuse_daemonize's fork. */
static void note_pid(struct store *s)
{
	char pid[32];
	int len;

	if (s->read_only || s->lock_fd < 0)
		return;
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(s->lock_fd, 0) == 0 && pwrite(s->lock_fd, pid, (size_t)len, 0) != len)
		log_debug("store: cannot note the pid in the lock file");
}

/* ---- the writer service ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void writer_run(void *arg)
{
	struct store *s = arg;
	uint64_t commit_at = 0, prune_at = 0;
	bool dirty = false;

	note_pid(s);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct witem *q;
		uint64_t now = mono_ms();

		if (s->keep_days != 0 && now >= prune_at && !s->stopping) {
			pthread_mutex_unlock(&s->lock);
			store_prune(s, time(NULL));
			pthread_mutex_lock(&s->lock);
			prune_at = now + (uint64_t)STORE_PRUNE_PERIOD_S * 1000u;
		}
		q = take_queue(s);
		if (q != NULL) {
			pthread_mutex_unlock(&s->lock);
			pthread_mutex_lock(&s->write_lock);
			write_batch(s, q);
			pthread_mutex_unlock(&s->write_lock);
			pthread_mutex_lock(&s->lock);
			if (!dirty)
				commit_at = mono_ms() + STORE_COMMIT_MS;
			dirty = true;
			continue;
		}
		if (dirty && (s->stopping || mono_ms() >= commit_at)) {
			pthread_mutex_unlock(&s->lock);
			pthread_mutex_lock(&s->write_lock);
			commit(s);
			pthread_mutex_unlock(&s->write_lock);
			pthread_mutex_lock(&s->lock);
			dirty = false;
			continue;
		}
		if (s->stopping)
			break;
		{
			uint64_t wake = dirty ? commit_at : mono_ms() + 1000u;
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			now = mono_ms();
			if (wake > now) {
				uint64_t ns = (uint64_t)ts.tv_nsec + (wake - now) * 1000000u;

				ts.tv_sec += (time_t)(ns / 1000000000u);
				ts.tv_nsec = (long)(ns % 1000000000u);
				pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static void writer_stop(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int store_start(struct store *s, struct bg *bg)
{
	if (s->read_only)
		return 0;
	return bg_service(bg, "store-writer", writer_run, writer_stop, s);
}

/* ---- open and free ---- */

static int set_why(char *why, size_t size, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int set_why(char *why, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && size > 0) {
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Reads DIR/FORMAT (writing it for a new store) and checks the version. */
static int check_format(struct store *s, char *why, size_t why_size)
{
	char *path = path_join(s->dir, FORMAT_FILE), buf[64];
	unsigned long v;
	char *end;
	ssize_t n;
	int fd, r = 0;

	if (path == NULL)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !s->read_only) {
		char *tmp = path_join(s->dir, FORMAT_FILE "~");

		snprintf(buf, sizeof(buf), FORMAT_PREFIX "%u\n", STOREFMT_VERSION);
		fd = tmp ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
		if (fd < 0 || write_all(fd, (const unsigned char *)buf, strlen(buf), 0) < 0 ||
		    fsync(fd) != 0 || rename(tmp, path) != 0 || fsync_dir_of(path) < 0)
			r = set_why(why, why_size, -EIO, "store %s: cannot write %s: %s", s->dir, FORMAT_FILE,
				    strerror(errno));
		if (fd >= 0)
			close(fd);
		free(tmp);
		free(path);
		return r;
	}
	if (fd < 0) {
		r = set_why(why, why_size, errno == ENOENT ? -ENOENT : -errno,
			    "store %s is not a swasfs store (no %s): %s", s->dir, FORMAT_FILE,
			    strerror(errno));
		free(path);
		return r;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	free(path);
	buf[n > 0 ? n : 0] = '\0';
	if (strncmp(buf, FORMAT_PREFIX, strlen(FORMAT_PREFIX)) != 0)
		return set_why(why, why_size, -EBADMSG, "store %s: %s is not a swasfs store format file",
			       s->dir, FORMAT_FILE);
	errno = 0;
	v = strtoul(buf + strlen(FORMAT_PREFIX), &end, 10);
	if (errno != 0 || end == buf + strlen(FORMAT_PREFIX) || (*end != '\n' && *end != '\0') || v == 0)
		return set_why(why, why_size, -EBADMSG, "store %s: %s is not a swasfs store format file",
			       s->dir, FORMAT_FILE);
	if (v > STOREFMT_VERSION)
		return set_why(why, why_size, -EPROTONOSUPPORT,
			       "store %s was written by a newer swasfs (format %lu; this one reads up to %u)",
			       s->dir, v, STOREFMT_VERSION);
	return 0;
}

static int take_lock(struct store *s, char *why, size_t why_size)
{
	char *path = path_join(s->dir, "lock"), pid[32];
	int fd;

	if (path == NULL)
		return -ENOMEM;
	fd = open(path, (s->read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0600);
	if (fd < 0 && s->read_only)
		fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* a store never written to */
	free(path);
	if (fd < 0)
		return set_why(why, why_size, -errno, "store %s: cannot open its lock: %s", s->dir,
			       strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		close(fd);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			return set_why(
				why, why_size, -EBUSY,
				"store %s is in use by another swasfs mount (pid %s); one daemon per store",
				s->dir, pid[0] ? pid : "unknown");
		return set_why(why, why_size, -e, "store %s: cannot lock it: %s", s->dir, strerror(e));
	}
	s->lock_fd = fd;
	note_pid(s);
	return 0;
}

static void list_regions_dir(struct store *s)
{
	DIR *d = opendir(s->regions_dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct region *g;

		if (de->d_name[0] == '.' || !is_safe_name(de->d_name))
			continue;
		g = region_get(s, de->d_name);
		if (g != NULL)
			g->lf.exists = true; /* a region directory: something was stored */
	}
	closedir(d);
}

int store_open(const struct store_config *cfg, struct store **ret, char *why, size_t why_size)
{
	struct store *s;
	struct stat sb;
	int r = -ENOMEM;

	if (cfg == NULL || cfg->dir == NULL || cfg->dir[0] == '\0')
		return set_why(why, why_size, -EINVAL, "store=: no directory given");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->lock_fd = -1;
	s->read_only = cfg->read_only;
	s->keep_days = cfg->keep_days;
	s->qtail = &s->qhead;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->write_lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (!s->read_only && mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) {
		r = set_why(why, why_size, -errno, "store %s: cannot create it: %s", cfg->dir,
			    strerror(errno));
		goto out_free;
	}
	/* Absolute: fuse_daemonize changes the working directory to /. */
	s->dir = realpath(cfg->dir, NULL);
	if (s->dir == NULL) {
		r = set_why(why, why_size, errno == ENOMEM ? -ENOMEM : -errno, "store %s: %s", cfg->dir,
			    strerror(errno));
		if (r == -ENOENT && s->read_only)
			set_why(why, why_size, r, "store %s is not a swasfs store (no such directory)",
				cfg->dir);
		goto out_free;
	}
	s->regions_dir = path_join(s->dir, "regions");
	if (s->regions_dir == NULL)
		goto out_free;
	if (stat(s->dir, &sb) != 0) {
		r = set_why(why, why_size, -errno, "store %s: %s", s->dir, strerror(errno));
		goto out_free;
	}
	if (!S_ISDIR(sb.st_mode)) {
		r = set_why(why, why_size, -ENOTDIR, "store %s is not a directory", s->dir);
		goto out_free;
	}
	r = take_lock(s, why, why_size);
	if (r < 0)
		goto out_free;
	r = check_format(s, why, why_size);
	if (r < 0)
		goto out_free;
	if (!s->read_only && mkdir(s->regions_dir, 0700) != 0 && errno != EEXIST) {
		r = set_why(why, why_size, -errno, "store %s: cannot create regions/: %s", s->dir,
			    strerror(errno));
		goto out_free;
	}
	list_regions_dir(s);
	*ret = s;
	return 0;

out_free:
	store_free(s);
	return r;
}

static void logfile_done(struct logfile *lf)
{
	if (lf->fd >= 0)
		close(lf->fd);
	free(lf->path);
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	if (!s->read_only && s->lock_fd >= 0)
		store_flush(s);
	while (s->regions != NULL) {
		struct region *g = s->regions;

		s->regions = g->next;
		while (g->logs != NULL) {
			struct ilog *l = g->logs;

			g->logs = l->next;
			if (l->archive != NULL)
				archive_unref(&l->archive->pub);
			index_free(l);
			logfile_done(&l->lf);
			free(l->id);
			free(l);
		}
		for (size_t i = 0; i < g->ninsts; i++)
			swas_instance_done(&g->insts[i].in);
		free(g->insts);
		logfile_done(&g->lf);
		free(g->id);
		free(g->dir);
		free(g);
	}
	for (size_t i = 0; i < s->nretired; i++)
		close(s->retired[i]);
	free(s->retired);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->write_lock);
	pthread_cond_destroy(&s->cond);
	free(s->dir);
	free(s->regions_dir);
	free(s);
}

void store_get_stats(struct store *s, struct store_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->st;
	ret->index_bytes = 0;
	for (struct region *g = s->regions; g != NULL; g = g->next)
		for (struct ilog *l = g->logs; l != NULL; l = l->next)
			ret->index_bytes += l->cap * sizeof(*l->tab) + l->count * (sizeof(struct ient) + 24);
	pthread_mutex_unlock(&s->lock);
}
