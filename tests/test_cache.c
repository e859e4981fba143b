// SPDX-License-Identifier: MIT
/*
 * test_cache: the cache against a fake fetcher and a clock the test moves.
 *
 * Between the unit tests of the pure modules and the mount suite: every
 * promise of cache.h that depends on timing or on what the fetcher answers,
 * pinned without a network or a mount. The fake fetcher answers from a
 * script (a return code per kind, a version that changes the data), counts
 * its calls, and can hold calls in flight on a condition variable; the clock
 * moves only when a test says so, so TTL edges are exact. Real time is used
 * only where the cache waits on the real clock (stale_wait_ms), with bounds
 * wide enough for a loaded machine.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "breaker.h"
#include "cache.h"
#include "credentials.h"
#include "fetcher.h"
#include "render.h"
#include "reqclass.h"
#include "test.h"

enum fake_kind {
	FK_REGIONS,
	FK_INSTANCES,
	FK_INVOCATIONS,
	FK_RESULT,
	FK_KINDS,
};

/* The fake listing: FAKE_INVOCATIONS records t-0000.., even ones Finished,
 * odd ones Running. */
#define FAKE_INVOCATIONS 4

struct fake {
	struct fetcher f; /* first */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int rc[FK_KINDS];	    /* the next answer of each kind; protected by lock */
	bool hold[FK_KINDS];	    /* calls of this kind wait at the gate; protected by lock */
	unsigned held;		    /* calls waiting at the gate now; protected by lock */
	unsigned calls[FK_KINDS];   /* calls begun; protected by lock */
	unsigned answers[FK_KINDS]; /* calls returned; protected by lock */
	unsigned version;	    /* goes into the data, so a refetch can be told apart */
	size_t output_len;	    /* bytes of each result's output */
	bool cancelled;
};

static struct fake *fake_of(struct fetcher *f)
{
	return (struct fake *)f;
}

/* Counts the call and waits at the gate if told to; returns the scripted
 * code (-ECANCELED once cancelled) and the version to answer with. */
static int fake_enter(struct fake *k, enum fake_kind kind, unsigned *ret_version)
{
	int r;

	pthread_mutex_lock(&k->lock);
	k->calls[kind]++;
	k->held++;
	pthread_cond_broadcast(&k->cond);
	while (k->hold[kind] && !k->cancelled)
		pthread_cond_wait(&k->cond, &k->lock);
	k->held--;
	r = k->cancelled ? -ECANCELED : k->rc[kind];
	*ret_version = k->version;
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int fake_leave(struct fake *k, enum fake_kind kind, int r, struct api_error *err)
{
	pthread_mutex_lock(&k->lock);
	k->answers[kind]++;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	if (r < 0 && err != NULL)
		snprintf(err->message, sizeof(err->message), "fake failure %d", r);
	return r;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	ASSERT_TRUE(d != NULL);
	return d;
}

static int fake_list_regions(struct fetcher *f, struct swas_region_list *ret, struct api_error *err)
{
	struct fake *k = fake_of(f);
	unsigned v;
	int r = fake_enter(k, FK_REGIONS, &v);

	if (r == 0) {
		ret->items = calloc(2, sizeof(*ret->items));
		ASSERT_TRUE(ret->items != NULL);
		ret->items[0].region_id = xstrdup("r1");
		ret->items[1].region_id = xstrdup("r2");
		ret->count = 2;
	}
	return fake_leave(k, FK_REGIONS, r, err);
}

static int fake_list_instances(struct fetcher *f, const char *region, struct swas_instance_list *ret,
			       struct api_error *err)
{
	struct fake *k = fake_of(f);
	char id[64];
	unsigned v;
	int r = fake_enter(k, FK_INSTANCES, &v);

	if (r == 0) {
		ret->items = calloc(2, sizeof(*ret->items));
		ASSERT_TRUE(ret->items != NULL);
		ret->items[0].instance_id = xstrdup("i-fixed");
		snprintf(id, sizeof(id), "i-%s-v%u", region, v);
		ret->items[1].instance_id = xstrdup(id);
		ret->count = 2;
	}
	return fake_leave(k, FK_INSTANCES, r, err);
}

static void fake_invocation(struct swas_invocation *inv, unsigned i, unsigned v)
{
	static const char record[] = "{\"fake\":true}";
	char id[32], command[128];
	size_t mlen, plen;

	snprintf(id, sizeof(id), "t-%04u", i);
	snprintf(command, sizeof(command), "echo %u version %u\n", i, v);
	ASSERT_EQ_INT(swas_invocation_build(inv, id, i % 2 ? "Running" : "Finished", 1795651200 + i,
					    (const unsigned char *)command, strlen(command), record,
					    sizeof(record) - 1, NULL),
		      0);
	ASSERT_EQ_INT(render_sizes_of(inv, "r", "i", &mlen, &plen), 0);
}

static int fake_list_invocations(struct fetcher *f, const char *region, const char *instance,
				 struct swas_invocation_list *ret, struct api_error *err)
{
	struct fake *k = fake_of(f);
	unsigned v;
	int r = fake_enter(k, FK_INVOCATIONS, &v);

	(void)region;
	(void)instance;
	if (r == 0) {
		ret->items = calloc(FAKE_INVOCATIONS, sizeof(*ret->items));
		ASSERT_TRUE(ret->items != NULL);
		for (unsigned i = 0; i < FAKE_INVOCATIONS; i++)
			fake_invocation(&ret->items[i], i, v);
		ret->count = FAKE_INVOCATIONS;
	}
	return fake_leave(k, FK_INVOCATIONS, r, err);
}

/* The output the fake serves for @invoke_id: output_len bytes derived from
 * the id (not the version: a final result never changes). */
static void fake_output(const char *invoke_id, unsigned char *buf, size_t len)
{
	size_t n = strlen(invoke_id);

	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(invoke_id[i % n] + i % 7);
}

static int fake_get_result(struct fetcher *f, const char *region, const char *instance, const char *invoke_id,
			   struct swas_result *ret, struct api_error *err)
{
	struct fake *k = fake_of(f);
	unsigned v;
	int r = fake_enter(k, FK_RESULT, &v);

	(void)region;
	(void)instance;
	if (r == 0) {
		ret->output = malloc(k->output_len + 1);
		ASSERT_TRUE(ret->output != NULL);
		fake_output(invoke_id, ret->output, k->output_len);
		ret->output[k->output_len] = '\0';
		ret->output_len = k->output_len;
		ret->result_json = xstrdup("{\"ExitCode\":0}\n");
		ret->result_json_len = strlen(ret->result_json);
		ret->invoke_record_status = xstrdup("Finished");
		ret->finished = 1795651300;
	}
	return fake_leave(k, FK_RESULT, r, err);
}

static void fake_cancel(struct fetcher *f)
{
	struct fake *k = fake_of(f);

	pthread_mutex_lock(&k->lock);
	k->cancelled = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static const struct fetcher_ops fake_ops = {
	.list_regions = fake_list_regions,
	.list_instances = fake_list_instances,
	.list_invocations = fake_list_invocations,
	.get_result = fake_get_result,
	.cancel = fake_cancel,
	.free = NULL, /* on the test's stack */
};

static void fake_init(struct fake *k)
{
	memset(k, 0, sizeof(*k));
	k->f.ops = &fake_ops;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	k->version = 1;
	k->output_len = 100;
}

static void fake_done(struct fake *k)
{
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
}

static void fake_set(struct fake *k, enum fake_kind kind, int rc)
{
	pthread_mutex_lock(&k->lock);
	k->rc[kind] = rc;
	pthread_mutex_unlock(&k->lock);
}

static void fake_hold(struct fake *k, enum fake_kind kind, bool hold)
{
	pthread_mutex_lock(&k->lock);
	k->hold[kind] = hold;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static void fake_bump(struct fake *k)
{
	pthread_mutex_lock(&k->lock);
	k->version++;
	pthread_mutex_unlock(&k->lock);
}

static unsigned fake_calls(struct fake *k, enum fake_kind kind)
{
	unsigned n;

	pthread_mutex_lock(&k->lock);
	n = k->calls[kind];
	pthread_mutex_unlock(&k->lock);
	return n;
}

/* Real time a test waits for another thread at most: generous, because a
 * loaded machine may be slow; a hang still fails. */
#define WAIT_LIMIT_MS 20000u

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits until @n calls of @kind wait at the gate (held) or have returned. */
static void fake_wait_held(struct fake *k, unsigned n)
{
	uint64_t end = real_ms() + WAIT_LIMIT_MS;

	pthread_mutex_lock(&k->lock);
	while (k->held < n) {
		pthread_mutex_unlock(&k->lock);
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
}

static void fake_wait_answers(struct fake *k, enum fake_kind kind, unsigned n)
{
	uint64_t end = real_ms() + WAIT_LIMIT_MS;

	pthread_mutex_lock(&k->lock);
	while (k->answers[kind] < n) {
		pthread_mutex_unlock(&k->lock);
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
}

/* The injected clock. */
static _Atomic uint64_t fake_now = 1000000;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&fake_now);
}

static void advance(uint64_t ms)
{
	atomic_fetch_add(&fake_now, ms);
}

#define CACHE_TTL_S	5u
#define INSTANCE_TTL_S	10u
#define INSTANCE_TTL_MS ((uint64_t)INSTANCE_TTL_S * 1000u)

/* Runs the caches' background refreshes, as the daemon's does. */
static struct bg *test_bg;

static struct cache *cache_make(struct fake *k, unsigned stale_wait_ms, size_t max_bytes)
{
	struct cache_config cfg = {
		.bg = test_bg,
		.cache_ttl_s = CACHE_TTL_S,
		.instance_ttl_s = INSTANCE_TTL_S,
		.clock = fake_clock,
		.stale_wait_ms = stale_wait_ms,
		.max_bytes = max_bytes,
	};
	struct cache *c = NULL;

	ASSERT_EQ_INT(cache_new(&k->f, &cfg, &c), 0);
	return c;
}

static void stats(struct cache *c, struct cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	cache_get_stats(c, st);
}

/* True if @l lists an instance named @id. */
static bool lists(const struct cache_instances *l, const char *id)
{
	return cache_find_instance(l, id) != NULL;
}

/* ---- singleflight ---- */

#define READERS 8

struct reader {
	struct cache *c;
	const struct cache_instances *got;
	int rc;
	uint64_t ms; /* real time the get took */
	pthread_t t;
};

static void *read_instances(void *arg)
{
	struct reader *rd = arg;
	uint64_t t0 = real_ms();

	rd->rc = cache_get_instances(rd->c, "r1", &rd->got);
	rd->ms = real_ms() - t0;
	return NULL;
}

static void start_readers(struct reader *rd, size_t n, struct cache *c)
{
	for (size_t i = 0; i < n; i++) {
		rd[i].c = c;
		rd[i].got = NULL;
		ASSERT_EQ_INT(pthread_create(&rd[i].t, NULL, read_instances, &rd[i]), 0);
	}
}

static void join_readers(struct reader *rd, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pthread_join(rd[i].t, NULL);
}

/* Waits until @n gets have missed (entered the cache and found nothing fresh). */
static void wait_misses(struct cache *c, unsigned long n)
{
	uint64_t end = real_ms() + WAIT_LIMIT_MS;
	struct cache_stats st;

	for (stats(c, &st); st.misses < n; stats(c, &st)) {
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
	}
}

static void test_readers_of_a_never_fetched_key_cause_one_fetch(void)
{
	struct reader rd[READERS];
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, 50, 0);
	fake_hold(&k, FK_INSTANCES, true);
	start_readers(rd, READERS, c);
	/* Every reader is inside the cache, and one fetch is at the gate. */
	wait_misses(c, READERS);
	fake_wait_held(&k, 1);
	usleep(20000); /* a second fetch, if the cache made one, would reach the gate now */
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 1);
	fake_hold(&k, FK_INSTANCES, false);
	join_readers(rd, READERS);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 1);
	for (size_t i = 0; i < READERS; i++) {
		ASSERT_EQ_INT(rd[i].rc, 0);
		ASSERT_TRUE(rd[i].got == rd[0].got); /* one outcome, shared */
		cache_instances_unref(c, rd[i].got);
	}
	cache_free(c);
	fake_done(&k);
}

static void test_readers_of_a_stale_key_cause_one_refresh_and_get_the_old_copy(void)
{
	const struct cache_instances *old, *now;
	struct reader rd[READERS];
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, 50, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &old), 0);
	advance(INSTANCE_TTL_MS);
	fake_bump(&k);
	fake_hold(&k, FK_INSTANCES, true);
	start_readers(rd, READERS, c);
	join_readers(rd, READERS); /* they do not wait for the held refresh */
	fake_wait_held(&k, 1);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	for (size_t i = 0; i < READERS; i++) {
		ASSERT_EQ_INT(rd[i].rc, 0);
		ASSERT_TRUE(rd[i].got == old);
		cache_instances_unref(c, rd[i].got);
	}
	fake_hold(&k, FK_INSTANCES, false);
	fake_wait_answers(&k, FK_INSTANCES, 2);
	/* Published once slot_done ran: poll the cache, never ask the fake again. */
	for (uint64_t end = real_ms() + WAIT_LIMIT_MS;;) {
		ASSERT_EQ_INT(cache_peek_instances(c, "r1", &now), 0);
		if (now != old)
			break;
		cache_instances_unref(c, now);
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
	}
	ASSERT_TRUE(lists(now, "i-r1-v2") && !lists(old, "i-r1-v2"));
	cache_instances_unref(c, now);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &now), 0);
	ASSERT_TRUE(lists(now, "i-r1-v2"));
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	cache_instances_unref(c, now);
	cache_instances_unref(c, old);
	cache_free(c);
	fake_done(&k);
}

/* ---- stale-while-revalidate ---- */

#define STALE_WAIT_MS 300u

static void test_a_stale_reader_waits_stale_wait_ms_once_then_gets_the_new_copy(void)
{
	const struct cache_instances *old, *now;
	struct reader rd[2];
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, STALE_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &old), 0);
	advance(INSTANCE_TTL_MS);
	fake_bump(&k);
	fake_hold(&k, FK_INSTANCES, true);
	start_readers(&rd[0], 1, c);
	join_readers(&rd[0], 1);
	ASSERT_EQ_INT(rd[0].rc, 0);
	ASSERT_TRUE(rd[0].got == old);
	/* The deadline is on the real monotonic clock: not shorter than asked;
	 * much longer would be a reader waiting for the refresh itself. */
	ASSERT_TRUE(rd[0].ms >= STALE_WAIT_MS - 1);
	ASSERT_TRUE(rd[0].ms < WAIT_LIMIT_MS / 2);
	/* The refresh is still held: the next reader does not wait again. */
	start_readers(&rd[1], 1, c);
	join_readers(&rd[1], 1);
	ASSERT_EQ_INT(rd[1].rc, 0);
	ASSERT_TRUE(rd[1].got == old);
	ASSERT_TRUE(rd[1].ms < STALE_WAIT_MS - 1);
	fake_wait_held(&k, 1);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	fake_hold(&k, FK_INSTANCES, false);
	fake_wait_answers(&k, FK_INSTANCES, 2);
	for (uint64_t end = real_ms() + WAIT_LIMIT_MS;;) {
		ASSERT_EQ_INT(cache_get_instances(c, "r1", &now), 0);
		if (now != old)
			break;
		cache_instances_unref(c, now);
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
	}
	ASSERT_TRUE(lists(now, "i-r1-v2"));
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	cache_instances_unref(c, now);
	for (size_t i = 0; i < 2; i++)
		cache_instances_unref(c, rd[i].got);
	cache_instances_unref(c, old);
	cache_free(c);
	fake_done(&k);
}

/* ---- TTLs, refusals, NotFound ---- */

/* A stale wait long enough for the fake's instant answers: the get then
 * returns the refresh's outcome. */
#define LONG_WAIT_MS 10000u

static void test_fresh_until_one_ms_before_the_ttl_stale_at_the_ttl(void)
{
	const struct cache_instances *l;
	struct cache_stats st;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, LONG_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	cache_instances_unref(c, l);
	advance(INSTANCE_TTL_MS - 1);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	cache_instances_unref(c, l);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 1);
	stats(c, &st);
	ASSERT_EQ_INT(st.hits, 1);
	ASSERT_EQ_INT(st.misses, 1);
	advance(1);
	fake_bump(&k);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	ASSERT_TRUE(lists(l, "i-r1-v2"));
	cache_instances_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

static void test_not_found_drops_the_value(void)
{
	const struct cache_instances *old, *l = NULL;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, LONG_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &old), 0);
	advance(INSTANCE_TTL_MS);
	fake_set(&k, FK_INSTANCES, -ENOENT);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), -ENOENT);
	ASSERT_EQ_INT(cache_peek_instances(c, "r1", &l), -ENOENT);
	/* What a holder has stays valid. */
	ASSERT_TRUE(lists(old, "i-fixed"));
	cache_instances_unref(c, old);
	/* Asked again, it is fetched again: nothing was stored for it. */
	fake_set(&k, FK_INSTANCES, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 3);
	cache_instances_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

static void test_a_refusal_keeps_the_last_good_copy_for_another_ttl(void)
{
	const struct cache_instances *old, *l;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, LONG_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &old), 0);
	advance(INSTANCE_TTL_MS);
	fake_set(&k, FK_INSTANCES, -EACCES);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_TRUE(l == old);
	cache_instances_unref(c, l);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	advance(INSTANCE_TTL_MS - 1);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_TRUE(l == old);
	cache_instances_unref(c, l);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	advance(1);
	fake_set(&k, FK_INSTANCES, 0);
	fake_bump(&k);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 3);
	ASSERT_TRUE(lists(l, "i-r1-v2"));
	cache_instances_unref(c, l);
	cache_instances_unref(c, old);
	cache_free(c);
	fake_done(&k);
}

/* ---- the breaker ---- */

static const struct cache_instance inst1 = { .id = (char *)"i-fixed", .ctime = 1795000000 };

/* An instance of r1 whose listing is never fetched before the breaker opens. */
static const struct cache_instance inst_other = { .id = (char *)"i-other", .ctime = 1795000000 };

static void test_breaker_serves_cached_fails_uncached_and_probes_once_a_period(void)
{
	const struct cache_instances *old, *l;
	const struct cache_invocations *inv;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, 200, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &old), 0);
	advance(INSTANCE_TTL_MS);
	/* A fetch of r1's endpoint fails with -EIO (on the caller's thread:
	 * never fetched), which opens r1's breaker. */
	fake_set(&k, FK_INVOCATIONS, -EIO);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &inv), -EIO);
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 1);
	/* Open: cached data is served though stale, data never fetched fails at
	 * once, and neither asks the fetcher. */
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_TRUE(l == old);
	cache_instances_unref(c, l);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst_other, &inv), -EIO);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &inv), -EIO);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 1);
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 1);
	/* Another endpoint is not affected. */
	ASSERT_EQ_INT(cache_get_instances(c, "r2", &l), 0);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	cache_instances_unref(c, l);
	/* Still open one ms before the period ends. */
	advance(BREAKER_FIRST_MS - 1);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst_other, &inv), -EIO);
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 1);

	/* Period over: one probe, held at the gate; the reader gets the stale
	 * copy after stale_wait_ms, and another caller of the endpoint is still
	 * refused without a call. */
	advance(1);
	fake_set(&k, FK_INVOCATIONS, 0);
	fake_bump(&k);
	fake_hold(&k, FK_INSTANCES, true);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_TRUE(l == old);
	cache_instances_unref(c, l);
	fake_wait_held(&k, 1);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 3);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst_other, &inv), -EIO);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	cache_instances_unref(c, l);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 3);
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 1);
	fake_hold(&k, FK_INSTANCES, false);
	fake_wait_answers(&k, FK_INSTANCES, 3);
	/* The probe succeeded: closed once its outcome is published, then the
	 * endpoint is asked again. */
	for (uint64_t end = real_ms() + WAIT_LIMIT_MS;;) {
		int r = cache_get_invocations(c, "r1", &inst_other, &inv);

		if (r == 0) {
			cache_invocations_unref(c, inv);
			break;
		}
		ASSERT_EQ_INT(r, -EIO);
		ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 1);
		ASSERT_TRUE(real_ms() < end);
		usleep(1000);
	}
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 2);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_TRUE(lists(l, "i-r1-v2"));
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 3);
	cache_instances_unref(c, l);
	cache_instances_unref(c, old);
	cache_free(c);
	fake_done(&k);
}

/* ---- records ---- */

static void test_a_final_record_is_the_same_object_across_refreshes(void)
{
	const struct cache_invocations *a, *b;
	const struct cache_record *fin_a, *fin_b, *run_a, *run_b;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, LONG_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &a), 0);
	advance(CACHE_TTL_S * 1000u);
	fake_bump(&k);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &b), 0);
	ASSERT_TRUE(a != b);
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 2);
	fin_a = cache_find_invocation(a, "t-0000");
	fin_b = cache_find_invocation(b, "t-0000");
	run_a = cache_find_invocation(a, "t-0001");
	run_b = cache_find_invocation(b, "t-0001");
	ASSERT_TRUE(fin_a != NULL && run_a != NULL && fin_b != NULL && run_b != NULL);
	ASSERT_TRUE(fin_a->is_final && !run_a->is_final);
	ASSERT_TRUE(fin_a == fin_b); /* final: reused, its bytes those first served */
	ASSERT_EQ_STR((const char *)fin_b->inv.command, "echo 0 version 1\n");
	ASSERT_TRUE(run_a != run_b); /* running: rebuilt from the new answer */
	ASSERT_EQ_STR((const char *)run_b->inv.command, "echo 1 version 2\n");
	/* A record reference outlives both listings. */
	cache_record_ref(c, fin_a);
	cache_invocations_unref(c, a);
	cache_invocations_unref(c, b);
	ASSERT_EQ_STR(fin_a->inv.invoke_id, "t-0000");
	cache_record_unref(c, fin_a);
	cache_free(c);
	fake_done(&k);
}

/* ---- SIGHUP ---- */

static void test_mark_stale_refreshes_all_but_pinned_regions_and_final_results(void)
{
	const char *const pinned[] = { "r1" };
	const struct cache_invocations *l, *l2;
	const struct cache_instances *in, *in2;
	const struct cache_regions *rg;
	const struct cache_result *fin, *again;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, LONG_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_set_regions(c, pinned, 1, true), 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &in), 0);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	ASSERT_EQ_INT(cache_get_result(c, "r1", inst1.id, cache_find_invocation(l, "t-0000"), &fin), 0);
	/* The fake's results all say Finished. */
	ASSERT_TRUE(fin->is_final);

	/* The instance list and the listing; not the pinned regions nor the
	 * final result. Twice is once. */
	ASSERT_EQ_INT(cache_mark_stale(c), 2);
	ASSERT_EQ_INT(cache_mark_stale(c), 0);
	fake_bump(&k);
	/* Nothing was dropped: peeks still see the old copies. */
	ASSERT_EQ_INT(cache_peek_instances(c, "r1", &in2), 0);
	ASSERT_TRUE(in2 == in);
	cache_instances_unref(c, in2);

	/* The clock has not moved, yet every marked key is fetched again. */
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &in2), 0);
	ASSERT_TRUE(lists(in2, "i-r1-v2"));
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l2), 0);
	ASSERT_TRUE(l2 != l);
	ASSERT_EQ_INT(cache_get_result(c, "r1", inst1.id, cache_find_invocation(l, "t-0000"), &again), 0);
	ASSERT_TRUE(again == fin);
	cache_result_unref(c, again);
	ASSERT_EQ_INT(cache_get_regions(c, &rg), 0);
	cache_regions_unref(c, rg);
	ASSERT_EQ_INT(fake_calls(&k, FK_REGIONS), 0);
	ASSERT_EQ_INT(fake_calls(&k, FK_INSTANCES), 2);
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 2);
	ASSERT_EQ_INT(fake_calls(&k, FK_RESULT), 1);

	/* A region list from ListRegions (not pinned) is marked too. */
	ASSERT_EQ_INT(cache_set_regions(c, pinned, 1, false), 0);
	ASSERT_EQ_INT(cache_mark_stale(c), 3);
	ASSERT_EQ_INT(cache_get_regions(c, &rg), 0);
	cache_regions_unref(c, rg);
	ASSERT_EQ_INT(fake_calls(&k, FK_REGIONS), 1);

	cache_result_unref(c, fin);
	cache_invocations_unref(c, l);
	cache_invocations_unref(c, l2);
	cache_instances_unref(c, in);
	cache_instances_unref(c, in2);
	cache_free(c);
	fake_done(&k);
}

/* ---- memory bound ---- */

/* A record of the fake listing, from a listing the caller holds. */
static const struct cache_record *rec_of(const struct cache_invocations *l, unsigned i)
{
	char id[16];

	snprintf(id, sizeof(id), "t-%04u", i);
	return cache_find_invocation(l, id);
}

/* Gets result @i and checks its bytes; returns the number of result calls
 * this cost (0: served from the cache). */
static unsigned get_result_checked(struct cache *c, struct fake *k, const struct cache_invocations *l,
				   unsigned i)
{
	const struct cache_record *rec = rec_of(l, i);
	const struct cache_result *res;
	unsigned before = fake_calls(k, FK_RESULT);
	unsigned char want[16384];

	ASSERT_TRUE(rec != NULL && k->output_len <= sizeof(want));
	ASSERT_EQ_INT(cache_get_result(c, "r1", "i-fixed", rec, &res), 0);
	fake_output(rec->inv.invoke_id, want, k->output_len);
	ASSERT_EQ_MEM(res->res.output, res->res.output_len, want, k->output_len);
	cache_result_unref(c, res);
	return fake_calls(k, FK_RESULT) - before;
}

#define OUTPUT_BYTES 8192u

/* The bytes one result adds to the cache's count, and those of the cache
 * holding the region list, the listing and nothing else. */
static void measure(size_t *ret_base, size_t *ret_result)
{
	const struct cache_invocations *l;
	struct cache_stats st;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	k.output_len = OUTPUT_BYTES;
	c = cache_make(&k, LONG_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	stats(c, &st);
	*ret_base = st.bytes;
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 0), 1);
	stats(c, &st);
	/* At least what the output alone takes: the count is real memory. */
	ASSERT_TRUE(st.bytes - *ret_base >= OUTPUT_BYTES);
	*ret_result = st.bytes - *ret_base;
	cache_invocations_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

static void test_past_max_bytes_the_least_recently_used_result_goes_first(void)
{
	const struct cache_invocations *l, *p;
	size_t base, per;
	struct cache_stats st;
	struct fake k;
	struct cache *c;

	measure(&base, &per);
	fake_init(&k);
	k.output_len = OUTPUT_BYTES;
	/* Room for the listing and three results and a half. */
	c = cache_make(&k, LONG_WAIT_MS, base + 3 * per + per / 2);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 0), 1); /* A */
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 1), 1); /* B */
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 2), 1); /* C */
	stats(c, &st);
	ASSERT_EQ_INT(st.evictions, 0);
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 0), 0); /* A used: B is now the oldest */
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 3), 1); /* D: one must go */
	stats(c, &st);
	ASSERT_EQ_INT(st.evictions, 1);
	ASSERT_TRUE(st.bytes <= base + 3 * per + per / 2);
	/* The listing was used before any result, yet results go first. */
	ASSERT_EQ_INT(cache_peek_invocations(c, "r1", "i-fixed", &p), 0);
	cache_invocations_unref(c, p);
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 0), 0); /* A kept */
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 3), 0); /* D kept */
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 1), 1); /* B dropped: fetched again, same bytes */
	stats(c, &st);
	ASSERT_EQ_INT(st.evictions, 2); /* C made room for B */
	ASSERT_EQ_INT(get_result_checked(c, &k, l, 2), 1);
	cache_invocations_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

static void test_listings_go_when_results_are_not_enough_and_held_copies_stay_valid(void)
{
	const struct cache_invocations *l, *p;
	const struct cache_result *res;
	struct cache_stats st;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	k.output_len = OUTPUT_BYTES;
	/* One byte: nothing idle survives an insert but the region list. */
	c = cache_make(&k, LONG_WAIT_MS, 1);
	ASSERT_EQ_INT(cache_set_regions(c, (const char *const[]){ "r1" }, 1, false), 0);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	ASSERT_EQ_INT(cache_get_result(c, "r1", "i-fixed", rec_of(l, 0), &res), 0);
	ASSERT_EQ_INT(cache_peek_invocations(c, "r1", "i-fixed", &p), -ENOENT);
	stats(c, &st);
	ASSERT_EQ_INT(st.slots, 1); /* the region list only: never dropped */
	ASSERT_EQ_INT(st.evictions, 2);
	{
		const struct cache_regions *r;

		ASSERT_EQ_INT(cache_get_regions(c, &r), 0);
		ASSERT_EQ_INT(fake_calls(&k, FK_REGIONS), 0);
		cache_regions_unref(c, r);
	}
	/* Dropped by the cache, still ours: every byte readable (ASan checks). */
	{
		unsigned char want[OUTPUT_BYTES];

		fake_output("t-0000", want, OUTPUT_BYTES);
		ASSERT_EQ_MEM(res->res.output, res->res.output_len, want, sizeof(want));
		ASSERT_EQ_STR(rec_of(l, 1)->inv.invoke_id, "t-0001");
	}
	cache_result_unref(c, res);
	/* Asked again: fetched again, never a wrong answer. */
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &p), 0);
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 2);
	ASSERT_EQ_STR((const char *)rec_of(p, 2)->inv.command, "echo 2 version 1\n");
	ASSERT_EQ_INT(get_result_checked(c, &k, p, 0), 1);
	cache_invocations_unref(c, p);
	cache_invocations_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

struct result_reader {
	struct cache *c;
	const struct cache_record *rec;
	const struct cache_result *got;
	int rc;
	pthread_t t;
};

static void *read_result(void *arg)
{
	struct result_reader *rd = arg;

	rd->rc = cache_get_result(rd->c, "r1", "i-fixed", rd->rec, &rd->got);
	return NULL;
}

static void test_a_slot_being_fetched_or_waited_in_is_never_dropped(void)
{
	const struct cache_invocations *l, *m;
	struct result_reader rd[2];
	struct cache_stats st;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	k.output_len = OUTPUT_BYTES;
	c = cache_make(&k, LONG_WAIT_MS, 1);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	fake_hold(&k, FK_RESULT, true);
	for (size_t i = 0; i < 2; i++) {
		rd[i].c = c;
		rd[i].rec = rec_of(l, 0);
		ASSERT_EQ_INT(pthread_create(&rd[i].t, NULL, read_result, &rd[i]), 0);
	}
	fake_wait_held(&k, 1);
	wait_misses(c, 3); /* the listing's, and both readers' */
	/* Inserts that evict everything idle, while the result is in flight
	 * and one reader waits for it. */
	for (unsigned i = 0; i < 3; i++) {
		ASSERT_EQ_INT(cache_get_invocations(c, "r2", &inst1, &m), 0);
		cache_invocations_unref(c, m);
	}
	ASSERT_EQ_INT(fake_calls(&k, FK_INVOCATIONS), 4); /* each insert dropped the one before */
	stats(c, &st);
	ASSERT_EQ_INT(st.slots, 1); /* the one in flight */
	fake_hold(&k, FK_RESULT, false);
	for (size_t i = 0; i < 2; i++) {
		unsigned char want[OUTPUT_BYTES];

		pthread_join(rd[i].t, NULL);
		ASSERT_EQ_INT(rd[i].rc, 0);
		fake_output("t-0000", want, OUTPUT_BYTES);
		ASSERT_EQ_MEM(rd[i].got->res.output, rd[i].got->res.output_len, want, sizeof(want));
		cache_result_unref(c, rd[i].got);
	}
	ASSERT_EQ_INT(fake_calls(&k, FK_RESULT), 1);
	cache_invocations_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

/* ---- request classes (reqclass.h) ---- */

/* A get on a thread of its own under a ticket, as a readahead job's. */
struct ticket_reader {
	struct cache *c;
	struct reqclass_ticket *ticket; /* NULL: a reader */
	const struct cache_record *rec; /* NULL: the instance list of r1 */
	const void *got;
	int rc;
	pthread_t t;
};

static void *read_with_ticket(void *arg)
{
	struct ticket_reader *rd = arg;

	reqclass_set(rd->ticket);
	if (rd->rec != NULL)
		rd->rc = cache_get_result(rd->c, "r1", "i-fixed", rd->rec,
					  (const struct cache_result **)&rd->got);
	else
		rd->rc = cache_get_instances(rd->c, "r1", (const struct cache_instances **)&rd->got);
	reqclass_set(NULL);
	return NULL;
}

static void start_ticket_reader(struct ticket_reader *rd, struct cache *c, struct reqclass_ticket *t,
				const struct cache_record *rec)
{
	*rd = (struct ticket_reader){ .c = c, .ticket = t, .rec = rec };
	ASSERT_EQ_INT(pthread_create(&rd->t, NULL, read_with_ticket, rd), 0);
}

/* A reader that comes to wait for a prefetch's fetch makes it foreground;
 * another prefetch that joins it does not. The decision is taken under
 * the cache's lock with the miss counted, so once the miss shows, it is
 * made. */
static void test_a_reader_that_joins_a_prefetch_promotes_it(void)
{
	const struct cache_invocations *l;
	struct reqclass_ticket prefetch, other;
	struct ticket_reader rd[3];
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, LONG_WAIT_MS, 0);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	reqclass_ticket_init(&prefetch);
	reqclass_ticket_init(&other);
	fake_hold(&k, FK_RESULT, true);
	start_ticket_reader(&rd[0], c, &prefetch, rec_of(l, 0));
	fake_wait_held(&k, 1);
	wait_misses(c, 2); /* the listing's, and the prefetch's */
	start_ticket_reader(&rd[1], c, &other, rec_of(l, 0));
	wait_misses(c, 3);
	ASSERT_TRUE(reqclass_is_background(&prefetch));
	start_ticket_reader(&rd[2], c, NULL, rec_of(l, 0));
	wait_misses(c, 4);
	ASSERT_TRUE(!reqclass_is_background(&prefetch));
	ASSERT_TRUE(reqclass_is_background(&other)); /* it ran nothing of its own */
	fake_hold(&k, FK_RESULT, false);
	for (size_t i = 0; i < 3; i++) {
		pthread_join(rd[i].t, NULL);
		ASSERT_EQ_INT(rd[i].rc, 0);
		ASSERT_TRUE(rd[i].got == rd[0].got);
		cache_result_unref(c, rd[i].got);
	}
	ASSERT_EQ_INT(fake_calls(&k, FK_RESULT), 1);
	cache_invocations_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

/* The slot lets go of a prefetch's ticket when its fetch ends: a reader
 * that waits for a later refresh of the same slot (a fetch without a
 * ticket) promotes nothing. */
static void test_a_finished_prefetch_is_not_promoted_later(void)
{
	const struct cache_instances *now;
	struct reqclass_ticket prefetch;
	struct ticket_reader rd[2];
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, LONG_WAIT_MS, 0);
	reqclass_ticket_init(&prefetch);
	start_ticket_reader(&rd[0], c, &prefetch, NULL);
	pthread_join(rd[0].t, NULL);
	ASSERT_EQ_INT(rd[0].rc, 0);
	advance(INSTANCE_TTL_MS);
	fake_bump(&k);
	fake_hold(&k, FK_INSTANCES, true);
	start_ticket_reader(&rd[1], c, NULL, NULL);
	fake_wait_held(&k, 1); /* the refresh, on a thread of its own */
	wait_misses(c, 2);     /* and the reader waits for it */
	ASSERT_TRUE(reqclass_is_background(&prefetch));
	fake_hold(&k, FK_INSTANCES, false);
	pthread_join(rd[1].t, NULL);
	ASSERT_EQ_INT(rd[1].rc, 0);
	now = rd[1].got;
	ASSERT_TRUE(lists(now, "i-r1-v2"));
	cache_instances_unref(c, now);
	cache_instances_unref(c, rd[0].got);
	cache_free(c);
	fake_done(&k);
}

static void test_bytes_follow_what_is_held(void)
{
	const struct cache_invocations *l;
	struct cache_stats st0, st1, st2;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	k.output_len = OUTPUT_BYTES;
	c = cache_make(&k, LONG_WAIT_MS, 0);
	stats(c, &st0);
	ASSERT_EQ_INT(st0.bytes, 0);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	stats(c, &st1);
	ASSERT_TRUE(st1.bytes > 0);
	ASSERT_EQ_INT(st1.slots, 1);
	for (unsigned i = 0; i < FAKE_INVOCATIONS; i++)
		ASSERT_EQ_INT(get_result_checked(c, &k, l, i), 1);
	stats(c, &st2);
	ASSERT_TRUE(st2.bytes >= st1.bytes + FAKE_INVOCATIONS * OUTPUT_BYTES);
	ASSERT_EQ_INT(st2.slots, 1 + FAKE_INVOCATIONS);
	ASSERT_EQ_INT(st2.evictions, 0);
	/* A refresh replaces the listing: counted once, not twice. */
	advance(CACHE_TTL_S * 1000u);
	cache_invocations_unref(c, l);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &l), 0);
	stats(c, &st1);
	ASSERT_TRUE(st1.bytes < st2.bytes + 512 && st1.bytes + 512 > st2.bytes);
	cache_invocations_unref(c, l);
	cache_free(c);
	fake_done(&k);
}

/* ---- cancel ---- */

static void test_cancel_ends_a_refresh_in_flight_and_free_returns(void)
{
	const struct cache_instances *old, *l;
	struct fake k;
	struct cache *c;

	fake_init(&k);
	c = cache_make(&k, 50, 0);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &old), 0);
	advance(INSTANCE_TTL_MS);
	fake_hold(&k, FK_INSTANCES, true);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0); /* starts the refresh, held */
	cache_instances_unref(c, l);
	fake_wait_held(&k, 1);
	fetcher_cancel(&k.f);
	cache_instances_unref(c, old);
	cache_free(c); /* waits for the refresh, which now returns -ECANCELED */
	ASSERT_EQ_INT(k.answers[FK_INSTANCES], 2);
	fake_done(&k);
}

/* The API adapter: cancel is api_cancel, and calls then return -ECANCELED
 * without a request (the endpoint is a closed port: a request would fail
 * with -EIO instead). */
static void test_the_api_fetcher_forwards_cancel(void)
{
	struct api_config cfg = {
		.endpoint = "http://127.0.0.1:9",
		.home_region = "r1",
		.jobs = 1,
		.timeout_s = 1,
		.retry_budget_ms = 1000,
	};
	struct swas_region_list list = { 0 };
	struct api_error err = { 0 };
	struct fetcher *f = NULL;
	struct cred *cred = NULL;
	struct api *api = NULL;

	ASSERT_EQ_INT(cred_new("test-id", "test-secret", NULL, &cred), 0);
	ASSERT_EQ_INT(api_new(&cfg, cred, &api), 0);
	ASSERT_EQ_INT(fetcher_api_new(NULL, &f), -EINVAL);
	ASSERT_EQ_INT(fetcher_api_new(api, &f), 0);
	ASSERT_TRUE(f->inner == NULL);
	fetcher_cancel(f);
	ASSERT_EQ_INT(fetcher_list_regions(f, &list, &err), -ECANCELED);
	fetcher_free(f);
	fetcher_free(NULL);
	fetcher_cancel(NULL);
	api_free(api);
}

/* ---- stacking ---- */

/* A wrapper as fetcher.h describes: answers nothing itself, counts, and
 * delegates every op to the fetcher it wraps. */
struct counting {
	struct fetcher f; /* first */
	unsigned calls;
	bool cancelled;
};

static int cw_list_regions(struct fetcher *f, struct swas_region_list *ret, struct api_error *err)
{
	((struct counting *)f)->calls++;
	return fetcher_list_regions(f->inner, ret, err);
}

static int cw_list_instances(struct fetcher *f, const char *region, struct swas_instance_list *ret,
			     struct api_error *err)
{
	((struct counting *)f)->calls++;
	return fetcher_list_instances(f->inner, region, ret, err);
}

static int cw_list_invocations(struct fetcher *f, const char *region, const char *instance,
			       struct swas_invocation_list *ret, struct api_error *err)
{
	((struct counting *)f)->calls++;
	return fetcher_list_invocations(f->inner, region, instance, ret, err);
}

static int cw_get_result(struct fetcher *f, const char *region, const char *instance, const char *invoke_id,
			 struct swas_result *ret, struct api_error *err)
{
	((struct counting *)f)->calls++;
	return fetcher_get_result(f->inner, region, instance, invoke_id, ret, err);
}

static void cw_cancel(struct fetcher *f)
{
	((struct counting *)f)->cancelled = true;
	fetcher_cancel(f->inner);
}

static const struct fetcher_ops counting_ops = {
	.list_regions = cw_list_regions,
	.list_instances = cw_list_instances,
	.list_invocations = cw_list_invocations,
	.get_result = cw_get_result,
	.cancel = cw_cancel,
};

static void test_a_wrapping_fetcher_delegates_every_op_and_cancel(void)
{
	struct counting w = { .f = { .ops = &counting_ops } };
	struct cache_config cfg = { .bg = test_bg,
				    .cache_ttl_s = CACHE_TTL_S,
				    .instance_ttl_s = INSTANCE_TTL_S,
				    .clock = fake_clock };
	const struct cache_regions *rg;
	const struct cache_instances *l;
	const struct cache_invocations *inv;
	const struct cache_result *res;
	struct cache *c = NULL;
	struct fake k;

	fake_init(&k);
	w.f.inner = &k.f;
	ASSERT_EQ_INT(cache_new(&w.f, &cfg, &c), 0);
	ASSERT_EQ_INT(cache_get_regions(c, &rg), 0);
	ASSERT_EQ_INT(rg->count, 2);
	ASSERT_EQ_INT(cache_get_instances(c, "r1", &l), 0);
	ASSERT_EQ_INT(cache_get_invocations(c, "r1", &inst1, &inv), 0);
	ASSERT_EQ_INT(cache_get_result(c, "r1", "i-fixed", rec_of(inv, 0), &res), 0);
	ASSERT_EQ_INT(w.calls, 4);
	for (int i = 0; i < FK_KINDS; i++)
		ASSERT_EQ_INT(fake_calls(&k, (enum fake_kind)i), 1);
	fetcher_cancel(&w.f);
	ASSERT_TRUE(w.cancelled && k.cancelled);
	cache_result_unref(c, res);
	cache_invocations_unref(c, inv);
	cache_instances_unref(c, l);
	cache_regions_unref(c, rg);
	cache_free(c);
	fetcher_free(&w.f); /* no free op: a no-op */
	fake_done(&k);
}

int main(void)
{
	ASSERT_EQ_INT(bg_new(NULL, &test_bg), 0);
	ASSERT_EQ_INT(bg_start(test_bg), 0);
	RUN(test_readers_of_a_never_fetched_key_cause_one_fetch);
	RUN(test_readers_of_a_stale_key_cause_one_refresh_and_get_the_old_copy);
	RUN(test_a_stale_reader_waits_stale_wait_ms_once_then_gets_the_new_copy);
	RUN(test_fresh_until_one_ms_before_the_ttl_stale_at_the_ttl);
	RUN(test_not_found_drops_the_value);
	RUN(test_a_refusal_keeps_the_last_good_copy_for_another_ttl);
	RUN(test_breaker_serves_cached_fails_uncached_and_probes_once_a_period);
	RUN(test_a_final_record_is_the_same_object_across_refreshes);
	RUN(test_mark_stale_refreshes_all_but_pinned_regions_and_final_results);
	RUN(test_past_max_bytes_the_least_recently_used_result_goes_first);
	RUN(test_listings_go_when_results_are_not_enough_and_held_copies_stay_valid);
	RUN(test_a_slot_being_fetched_or_waited_in_is_never_dropped);
	RUN(test_a_reader_that_joins_a_prefetch_promotes_it);
	RUN(test_a_finished_prefetch_is_not_promoted_later);
	RUN(test_bytes_follow_what_is_held);
	RUN(test_cancel_ends_a_refresh_in_flight_and_free_returns);
	RUN(test_the_api_fetcher_forwards_cancel);
	RUN(test_a_wrapping_fetcher_delegates_every_op_and_cancel);
	bg_free(test_bg);
	return 0;
}
