// SPDX-License-Identifier: MIT
/*
 * test_tree: the tree (the superblock) against the real cache and a fake
 * fetcher, without a kernel. Lookup counts are exact (every lookup and every
 * readdirplus entry with attributes is one count; an entry the reply had no
 * room for is not; forgetting them all leaves the root alone); a file keeps
 * its inode number when its invocation moves from Running to Finished, and
 * file numbers never meet directory numbers; a hash collision gives two
 * inodes, each serving its own bytes; readdirplus, lookup and getattr give
 * the same attributes, and every size is what a read returns; output and
 * result.json are listed without attributes and cost no result call until
 * looked up; negative entries live as long as the listing that proves them;
 * a file whose bytes change is queued for the notifier and sent on its
 * thread, never the caller's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "api.h"
#include "b64.h"
#include "json.h"
#include "tree.h"
#include "test.h"

#define REGION	 "cn-hangzhou"
#define INSTANCE "i-1"

/* ---- the fake API: one region, one instance, a few invocations ---- */

struct fake_inv {
	const char *id;
	const char *status;
	const char *command;
	const char *output;
};

struct fake {
	struct fetcher f;
	pthread_mutex_t lock;
	struct fake_inv invs[4];
	size_t ninvs;
	atomic_uint listings, results;
};

/* @s in base64 into @out (of @size bytes). */
static void base64(const char *s, char *out, size_t size)
{
	char *enc = NULL;
	size_t len = 0;

	ASSERT_EQ_INT(b64_encode(s, strlen(s), &enc, &len), 0);
	ASSERT_TRUE(len < size);
	memcpy(out, enc, len + 1);
	free(enc);
}

static int fake_list_regions(struct fetcher *f, struct swas_region_list *ret, struct api_error *err)
{
	static const char body[] = "{\"Regions\":[{\"RegionId\":\"" REGION "\"}]}";

	return json_parse_regions(body, sizeof(body) - 1, ret, NULL) == 0 ? 0 : -EIO;
}

static int fake_list_instances(struct fetcher *f, const char *region, struct swas_instance_list *ret,
			       struct api_error *err)
{
	static const char body[] = "{\"TotalCount\":1,\"Instances\":[{\"InstanceId\":\"" INSTANCE
				   "\",\"CreationTime\":\"2026-11-01T00:00:00Z\"}]}";
	struct swas_instance_list l = { 0 };

	if (json_parse_instances(body, sizeof(body) - 1, 100, &l, NULL) != 0)
		return -EIO;
	*ret = l;
	return 0;
}

static int fake_list_invocations(struct fetcher *f, const char *region, const char *instance,
				 struct swas_invocation_list *ret, struct api_error *err)
{
	struct fake *k = (struct fake *)f;
	char body[8192], cmd[256];
	size_t used;
	int r;

	atomic_fetch_add(&k->listings, 1);
	pthread_mutex_lock(&k->lock);
	used = (size_t)snprintf(body, sizeof(body), "{\"TotalCount\":%zu,\"Invocations\":[", k->ninvs);
	for (size_t i = 0; i < k->ninvs; i++) {
		const struct fake_inv *x = &k->invs[i];

		base64(x->command, cmd, sizeof(cmd));
		used += (size_t)snprintf(
			body + used, sizeof(body) - used,
			"%s{\"InvokeId\":\"%s\",\"InvokeStatus\":\"%s\",\"CommandContent\":\"%s\","
			"\"CreationTime\":\"2026-11-0%zuT00:00:00Z\",\"Parameters\":{\"n\":%zu}}",
			i ? "," : "", x->id, x->status, cmd, i + 1, i);
	}
	pthread_mutex_unlock(&k->lock);
	snprintf(body + used, sizeof(body) - used, "]}");
	r = json_parse_invocations(body, strlen(body), API_INVOCATIONS_PAGE_SIZE, ret, NULL);
	return r == 0 ? 0 : -EIO;
}

static int fake_get_result(struct fetcher *f, const char *region, const char *instance, const char *invoke_id,
			   struct swas_result *ret, struct api_error *err)
{
	struct fake *k = (struct fake *)f;
	char body[4096], out[1024];
	const char *status = NULL, *output = "";

	atomic_fetch_add(&k->results, 1);
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->ninvs; i++) {
		if (strcmp(k->invs[i].id, invoke_id) == 0) {
			status = k->invs[i].status;
			output = k->invs[i].output;
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (status == NULL)
		return -ENOENT;
	base64(output, out, sizeof(out));
	snprintf(body, sizeof(body),
		 "{\"InvocationResult\":{\"InvokeId\":\"%s\",\"InvocationStatus\":\"%s\",\"Output\":\"%s\","
		 "\"ExitCode\":0,\"StartTime\":\"2026-11-01T00:00:01Z\"%s}}",
		 invoke_id, status, out,
		 strcmp(status, "Running") == 0 ? "" : ",\"FinishedTime\":\"2026-11-01T00:00:02Z\"");
	return json_parse_result(body, strlen(body), ret, NULL) == 0 ? 0 : -EIO;
}

static void fake_cancel(struct fetcher *f)
{
}

static const struct fetcher_ops fake_ops = {
	.list_regions = fake_list_regions,
	.list_instances = fake_list_instances,
	.list_invocations = fake_list_invocations,
	.get_result = fake_get_result,
	.cancel = fake_cancel,
};

static void fake_set_status(struct fake *k, const char *id, const char *status, const char *output)
{
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->ninvs; i++) {
		if (strcmp(k->invs[i].id, id) == 0) {
			k->invs[i].status = status;
			k->invs[i].output = output;
		}
	}
	pthread_mutex_unlock(&k->lock);
}

/* ---- a kernel that records what the notifier sends ---- */

struct kernel {
	pthread_mutex_t lock;
	uint64_t sent[64];
	size_t nsent;
	pthread_t test_thread;
	bool sent_on_test_thread;
};

static int kernel_inval(void *arg, uint64_t ino)
{
	struct kernel *k = arg;

	pthread_mutex_lock(&k->lock);
	if (pthread_equal(pthread_self(), k->test_thread))
		k->sent_on_test_thread = true;
	if (k->nsent < sizeof(k->sent) / sizeof(k->sent[0]))
		k->sent[k->nsent++] = ino;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static bool kernel_was_sent(struct kernel *k, uint64_t ino)
{
	bool found = false;

	for (int tries = 0; tries < 2000 && !found; tries++) {
		pthread_mutex_lock(&k->lock);
		for (size_t i = 0; i < k->nsent; i++)
			found = found || k->sent[i] == ino;
		pthread_mutex_unlock(&k->lock);
		if (!found)
			usleep(1000);
	}
	return found;
}

/* ---- the fixture: fake API, cache, bg, tree ---- */

static _Atomic uint64_t now_ms = 1000000;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&now_ms);
}

struct fixture {
	struct fake api;
	struct kernel kernel;
	struct bg *bg;
	struct cache *cache;
	struct tree *tree;
};

static void setup_with_hash(struct fixture *x, node_hash_fn hash)
{
	struct cache_config ccfg = { .cache_ttl_s = 60, .instance_ttl_s = 600, .clock = fake_clock };
	struct tree_config tcfg = {
		.uid = 1, .gid = 2, .mount_time = 1700000000, .results = true, .hash = hash
	};
	struct tree_kernel tk = { .inval_inode = kernel_inval, .arg = &x->kernel, .caches_dirs = true };

	memset(x, 0, sizeof(*x));
	x->api.f.ops = &fake_ops;
	pthread_mutex_init(&x->api.lock, NULL);
	x->api.invs[0] = (struct fake_inv){ "t-1", "Running", "echo one", "one\n" };
	x->api.invs[1] = (struct fake_inv){ "t-2", "Finished", "echo two", "two\n" };
	x->api.invs[2] = (struct fake_inv){ "t-3", "Finished", "echo three", "three\n" };
	x->api.ninvs = 3;
	pthread_mutex_init(&x->kernel.lock, NULL);
	x->kernel.test_thread = pthread_self();
	ASSERT_EQ_INT(bg_new(NULL, &x->bg), 0);
	ccfg.bg = x->bg;
	ASSERT_EQ_INT(cache_new(&x->api.f, &ccfg, &x->cache), 0);
	ASSERT_EQ_INT(tree_new(&tcfg, x->cache, x->bg, &x->tree), 0);
	tree_set_kernel(x->tree, &tk);
	ASSERT_EQ_INT(bg_start(x->bg), 0);
}

static void setup(struct fixture *x)
{
	setup_with_hash(x, NULL);
}

static void teardown(struct fixture *x)
{
	bg_stop(x->bg);
	tree_free(x->tree);
	cache_free(x->cache);
	bg_free(x->bg);
}

static unsigned long inodes(struct fixture *x)
{
	struct tree_stats st;

	tree_get_stats(x->tree, &st);
	return st.inodes;
}

/* Looks @path up from the root, one component at a time, as the kernel
 * does; returns the last inode (0 if absent) and appends every inode found
 * to @seen (for forgetting). */
static uint64_t walk(struct fixture *x, const char *path, uint64_t *seen, size_t *nseen)
{
	char buf[512], *save = NULL;
	uint64_t ino = 1;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *c = strtok_r(buf, "/", &save); c != NULL; c = strtok_r(NULL, "/", &save)) {
		struct tree_entry e;

		ASSERT_EQ_INT(tree_lookup(x->tree, ino, c, &e), 0);
		if (e.ino == 0)
			return 0;
		if (seen != NULL)
			seen[(*nseen)++] = e.ino;
		ino = e.ino;
	}
	return ino;
}

static void forget_all(struct fixture *x, const uint64_t *seen, size_t n)
{
	for (size_t i = n; i-- > 0;)
		tree_forget(x->tree, seen[i], 1);
}

/* A readdir collector: names, entries, and room for @room entries. */
struct listing {
	char names[16][64];
	struct tree_entry e[16];
	bool with[16];
	size_t n, room;
};

static int collect(void *arg, const char *name, mode_t mode, uint64_t hint, const struct tree_entry *e,
		   off_t next)
{
	struct listing *l = arg;

	if (l->n == l->room)
		return 1;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->with[l->n] = e != NULL;
	if (e != NULL)
		l->e[l->n] = *e;
	l->n++;
	return 0;
}

#define RUNNING_DIR REGION "/" INSTANCE "/Running/t-1"
#define FINISHED_T2 REGION "/" INSTANCE "/Finished/t-2"

static void test_lookup_counts_are_exact_and_forgetting_them_frees_everything(void)
{
	struct fixture x;
	uint64_t seen[32];
	size_t n = 0;

	setup(&x);
	ASSERT_EQ_INT(inodes(&x), 1);
	ASSERT_TRUE(walk(&x, FINISHED_T2 "/command", seen, &n) != 0);
	ASSERT_EQ_INT(n, 5);
	ASSERT_EQ_INT(inodes(&x), 6);
	/* The same path again: the same inodes, counted twice. */
	ASSERT_TRUE(walk(&x, FINISHED_T2 "/command", seen, &n) != 0);
	ASSERT_EQ_INT(inodes(&x), 6);
	for (size_t i = 0; i < 5; i++)
		ASSERT_TRUE(seen[i] == seen[5 + i]);
	/* One forget each is not enough... */
	forget_all(&x, seen, 5);
	ASSERT_EQ_INT(inodes(&x), 6);
	/* ...the second frees them all, children before parents. */
	forget_all(&x, seen + 5, 5);
	ASSERT_EQ_INT(inodes(&x), 1);
	teardown(&x);
}

static void test_readdirplus_counts_what_it_lists_and_nothing_it_had_no_room_for(void)
{
	struct fixture x;
	struct listing l = { .room = 4 };
	uint64_t seen[32], dir;
	size_t n = 0;

	setup(&x);
	dir = walk(&x, FINISHED_T2, seen, &n);
	ASSERT_EQ_INT(inodes(&x), 5);
	/* Room for ".", "..", "command" and "parameters.json": two counted. */
	ASSERT_EQ_INT(tree_readdir(x.tree, dir, 0, true, collect, &l), 0);
	ASSERT_EQ_INT(l.n, 4);
	ASSERT_EQ_STR(l.names[2], "command");
	ASSERT_TRUE(l.with[2] && l.with[3]);
	ASSERT_EQ_INT(inodes(&x), 7);
	/* The rest, from offset 4: metadata.json with attributes; output and
	 * result.json without (their size needs a result: no call made). */
	memset(&l, 0, sizeof(l));
	l.room = 16;
	ASSERT_EQ_INT(tree_readdir(x.tree, dir, 4, true, collect, &l), 0);
	ASSERT_EQ_INT(l.n, 3);
	ASSERT_EQ_STR(l.names[0], "metadata.json");
	ASSERT_TRUE(l.with[0] && !l.with[1] && !l.with[2]);
	ASSERT_EQ_INT(atomic_load(&x.api.results), 0);
	ASSERT_EQ_INT(inodes(&x), 8);
	/* The three counted entries, forgotten once each, go. */
	for (int f = NODE_FILE_COMMAND; f <= NODE_FILE_METADATA; f++) {
		struct tree_entry e;

		ASSERT_EQ_INT(tree_lookup(x.tree, dir, node_file_names[f], &e), 0);
		tree_forget(x.tree, e.ino, 2);
	}
	ASSERT_EQ_INT(inodes(&x), 5);
	forget_all(&x, seen, n);
	ASSERT_EQ_INT(inodes(&x), 1);
	teardown(&x);
}

static void test_a_file_keeps_its_inode_when_its_invocation_finishes(void)
{
	struct fixture x;
	struct stat st;
	double ttl;
	uint64_t seen[32], running_out, finished_out, running_dir, finished_dir;
	size_t n = 0;

	setup(&x);
	running_out = walk(&x, RUNNING_DIR "/output", seen, &n);
	running_dir = seen[n - 2];
	ASSERT_TRUE(running_out & NODE_FILE_INO_BIT);
	ASSERT_TRUE(!(running_dir & NODE_FILE_INO_BIT));
	ASSERT_EQ_INT(tree_getattr(x.tree, running_out, &st, &ttl), 0);
	ASSERT_EQ_INT(st.st_size, 4);
	ASSERT_TRUE(ttl == 60); /* running: cache_ttl */

	fake_set_status(&x.api, "t-1", "Finished", "one, done\n");
	atomic_fetch_add(&now_ms, 61 * 1000);
	finished_out = walk(&x, REGION "/" INSTANCE "/Finished/t-1/output", seen, &n);
	finished_dir = seen[n - 2];
	/* Another directory, the same file. */
	ASSERT_TRUE(finished_dir != running_dir);
	ASSERT_TRUE(finished_out == running_out);
	ASSERT_EQ_INT(tree_getattr(x.tree, finished_out, &st, &ttl), 0);
	ASSERT_EQ_INT(st.st_size, 10);
	ASSERT_TRUE(ttl == TREE_IMMUTABLE_TTL_S);
	/* The old name is gone. */
	ASSERT_EQ_INT(walk(&x, RUNNING_DIR, seen, &n), 0);
	/* Its bytes changed: the kernel is told, from the notifier's thread. */
	ASSERT_TRUE(kernel_was_sent(&x.kernel, finished_out));
	ASSERT_TRUE(!x.kernel.sent_on_test_thread);
	forget_all(&x, seen, n);
	ASSERT_EQ_INT(inodes(&x), 1);
	teardown(&x);
}

/* Every number collides. */
static uint64_t worst_hash(uint64_t h, const void *p, size_t len)
{
	(void)h;
	(void)p;
	(void)len;
	return 42;
}

static void test_colliding_inodes_each_serve_their_own_bytes(void)
{
	struct fixture x;
	struct tree_data d;
	uint64_t seen[32], a, b;
	size_t n = 0;
	struct tree_stats st;

	setup_with_hash(&x, worst_hash);
	a = walk(&x, FINISHED_T2 "/command", seen, &n);
	b = walk(&x, REGION "/" INSTANCE "/Finished/t-3/command", seen, &n);
	ASSERT_TRUE(a != b);
	tree_get_stats(x.tree, &st);
	ASSERT_TRUE(st.collisions > 0);
	ASSERT_EQ_INT(tree_read(x.tree, a, 4096, 0, &d), 0);
	ASSERT_EQ_MEM(d.bytes, d.len, "echo two", 8);
	tree_data_done(x.tree, &d);
	ASSERT_EQ_INT(tree_read(x.tree, b, 4096, 0, &d), 0);
	ASSERT_EQ_MEM(d.bytes, d.len, "echo three", 10);
	tree_data_done(x.tree, &d);
	forget_all(&x, seen, n);
	ASSERT_EQ_INT(inodes(&x), 1);
	teardown(&x);
}

static void test_listing_lookup_and_getattr_agree_and_sizes_are_what_reads_return(void)
{
	struct fixture x;
	struct listing l = { .room = 16 };
	uint64_t seen[32], dir;
	size_t n = 0;

	setup(&x);
	dir = walk(&x, FINISHED_T2, seen, &n);
	ASSERT_EQ_INT(tree_readdir(x.tree, dir, 0, true, collect, &l), 0);
	ASSERT_EQ_INT(l.n, 7);
	for (size_t i = 2; i < l.n; i++) {
		struct tree_entry e;
		struct tree_data d;
		struct stat st;
		double ttl;

		ASSERT_EQ_INT(tree_lookup(x.tree, dir, l.names[i], &e), 0);
		ASSERT_EQ_INT(tree_getattr(x.tree, e.ino, &st, &ttl), 0);
		ASSERT_TRUE(memcmp(&st, &e.attr, sizeof(st)) == 0);
		ASSERT_TRUE(ttl == e.ttl && ttl == TREE_IMMUTABLE_TTL_S);
		if (l.with[i]) {
			ASSERT_TRUE(l.e[i].ino == e.ino);
			ASSERT_TRUE(memcmp(&l.e[i].attr, &e.attr, sizeof(st)) == 0);
		}
		ASSERT_EQ_INT(tree_read(x.tree, e.ino, 1 << 20, 0, &d), 0);
		ASSERT_EQ_INT(d.len, st.st_size);
		tree_data_done(x.tree, &d);
		/* Past the end: nothing. */
		ASSERT_EQ_INT(tree_read(x.tree, e.ino, 10, st.st_size, &d), 0);
		ASSERT_EQ_INT(d.len, 0);
		tree_data_done(x.tree, &d);
		tree_forget(x.tree, e.ino, l.with[i] ? 2 : 1);
	}
	/* Two result calls: output and result.json share one. */
	ASSERT_EQ_INT(atomic_load(&x.api.results), 1);
	forget_all(&x, seen, n);
	ASSERT_EQ_INT(inodes(&x), 1);
	teardown(&x);
}

static void test_negative_entries_and_errors(void)
{
	struct fixture x;
	struct tree_entry e;
	struct tree_data d;
	uint64_t seen[32], dir, file;
	size_t n = 0;

	setup(&x);
	dir = walk(&x, FINISHED_T2, seen, &n);
	ASSERT_EQ_INT(tree_lookup(x.tree, 1, "no-such-region", &e), 0);
	ASSERT_TRUE(e.ino == 0 && e.ttl == 600);
	ASSERT_EQ_INT(tree_lookup(x.tree, seen[2], "t-404", &e), 0); /* in Finished/ */
	ASSERT_TRUE(e.ino == 0 && e.ttl == 60);
	ASSERT_EQ_INT(tree_lookup(x.tree, dir, "nope", &e), 0);
	ASSERT_TRUE(e.ino == 0 && e.ttl == TREE_IMMUTABLE_TTL_S);
	ASSERT_EQ_INT(inodes(&x), 5);
	file = walk(&x, FINISHED_T2 "/command", seen, &n);
	ASSERT_EQ_INT(tree_lookup(x.tree, file, "x", &e), -ENOTDIR);
	ASSERT_EQ_INT(tree_read(x.tree, dir, 10, 0, &d), -EISDIR);
	ASSERT_EQ_INT(tree_getattr(x.tree, 0x1234, &(struct stat){ 0 }, &(double){ 0 }), -ESTALE);
	ASSERT_EQ_INT(tree_readdir(x.tree, file, 0, false, collect, &(struct listing){ .room = 1 }),
		      -ENOTDIR);
	forget_all(&x, seen, n);
	ASSERT_EQ_INT(inodes(&x), 1);
	teardown(&x);
}

static void test_a_reload_queues_every_directory_the_kernel_holds(void)
{
	struct fixture x;
	uint64_t seen[32];
	size_t n = 0;

	setup(&x);
	walk(&x, FINISHED_T2 "/command", seen, &n);
	tree_invalidate_dirs(x.tree);
	for (size_t i = 0; i < 4; i++)
		ASSERT_TRUE(kernel_was_sent(&x.kernel, seen[i]));
	ASSERT_TRUE(kernel_was_sent(&x.kernel, 1));
	forget_all(&x, seen, n);
	teardown(&x);
}

int main(void)
{
	RUN(test_lookup_counts_are_exact_and_forgetting_them_frees_everything);
	RUN(test_readdirplus_counts_what_it_lists_and_nothing_it_had_no_room_for);
	RUN(test_a_file_keeps_its_inode_when_its_invocation_finishes);
	RUN(test_colliding_inodes_each_serve_their_own_bytes);
	RUN(test_listing_lookup_and_getattr_agree_and_sizes_are_what_reads_return);
	RUN(test_negative_entries_and_errors);
	RUN(test_a_reload_queues_every_directory_the_kernel_holds);
	return 0;
}
