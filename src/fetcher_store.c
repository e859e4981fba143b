// SPDX-License-Identifier: MIT
/*
 * fetcher_store: the store's place in the fetcher stack (fetcher_store.h).
 *
 * Locking: sf->lock protects the breaker only; it is never held across a
 * call of the inner fetcher or of the store.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "breaker.h"
#include "fetcher_store.h"
#include "log.h"
#include "store.h"

/* One API endpoint's breaker: a region's, or ListRegions' (""), as the cache
 * keeps them, so a failing region does not send the others to the store. */
struct endpoint {
	struct endpoint *next;
	struct breaker breaker;
	char name[];
};

struct store_fetcher {
	struct fetcher f; /* first */
	struct store *store;
	pthread_mutex_t lock;
	struct endpoint *endpoints; /* protected by lock */
	atomic_bool cancelled;
	atomic_bool logged_fallback;
};

static struct store_fetcher *sf_of(struct fetcher *f)
{
	return (struct store_fetcher *)f;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

enum ask {
	ASK_API,   /* call the inner fetcher */
	ASK_PROBE, /* call it as the breaker's probe */
	ASK_STORE, /* do not: the API is known not to answer, or there is none */
};

/* The breaker of @region ("" for ListRegions), made closed; NULL on
 * -ENOMEM (then the API is asked). Called with sf->lock held. */
static struct breaker *breaker_of(struct store_fetcher *sf, const char *region)
{
	struct endpoint *e;
	size_t len = strlen(region);

	for (e = sf->endpoints; e != NULL; e = e->next)
		if (strcmp(e->name, region) == 0)
			return &e->breaker;
	e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->name, region, len + 1);
	e->next = sf->endpoints;
	sf->endpoints = e;
	return &e->breaker;
}

static enum ask ask_api(struct store_fetcher *sf, const char *region, bool *ret_probe)
{
	enum breaker_verdict v = BREAKER_PASS;
	struct breaker *b;

	*ret_probe = false;
	if (sf->f.inner == NULL)
		return ASK_STORE;
	pthread_mutex_lock(&sf->lock);
	b = breaker_of(sf, region ? region : "");
	if (b != NULL)
		v = breaker_check(b, mono_ms());
	pthread_mutex_unlock(&sf->lock);
	*ret_probe = v == BREAKER_PROBE;
	return v == BREAKER_BLOCK ? ASK_STORE : v == BREAKER_PROBE ? ASK_PROBE : ASK_API;
}

/* The inner call's outcome, for the breaker. */
static void told(struct store_fetcher *sf, const char *region, int r, bool probe)
{
	struct breaker *b;

	pthread_mutex_lock(&sf->lock);
	b = breaker_of(sf, region ? region : "");
	if (b != NULL && (r == -ECANCELED || r == -ENOMEM)) {
		if (probe)
			b->probing = false; /* no verdict: let the next caller probe */
	} else if (b != NULL) {
		breaker_report(b, mono_ms(), r == -EIO, probe);
	}
	pthread_mutex_unlock(&sf->lock);
}

/* Whether to answer from the store alone after the API gave @r (or was not
 * asked): only if the API has not answered this key in this mount (else the
 * cache's last good copy is better than the store's) and the store has it. */
static bool use_store(struct store_fetcher *sf, int r, const char *region, const char *instance)
{
	if (atomic_load(&sf->cancelled))
		return false;
	if (sf->f.inner != NULL && (r != -EIO || store_api_listed(sf->store, region, instance)))
		return false;
	if (!store_has(sf->store, region, instance))
		return false;
	if (sf->f.inner != NULL && !atomic_exchange(&sf->logged_fallback, true))
		log_warn("the SWAS API does not answer; serving the local store, asking the API again in the "
			 "background");
	return true;
}

static void set_err(struct api_error *err, const char *msg)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

static int sf_list_regions(struct fetcher *f, struct swas_region_list *ret, struct api_error *err)
{
	struct store_fetcher *sf = sf_of(f);
	struct swas_region_list list = { 0 };
	bool probe;
	int r = -EIO;

	if (ask_api(sf, NULL, &probe) != ASK_STORE) {
		r = fetcher_list_regions(f->inner, &list, err);
		told(sf, NULL, r, probe);
		if (r == 0) {
			r = store_merge_regions(sf->store, &list, true);
			goto out;
		}
	}
	if (!use_store(sf, r, NULL, NULL)) {
		if (r == -EIO)
			set_err(err, "the API does not answer and the store has no regions");
		return r;
	}
	r = store_merge_regions(sf->store, &list, false);
out:
	if (r < 0) {
		swas_region_list_done(&list);
		return r;
	}
	*ret = list;
	return 0;
}

static int sf_list_instances(struct fetcher *f, const char *region, struct swas_instance_list *ret,
			     struct api_error *err)
{
	struct store_fetcher *sf = sf_of(f);
	struct swas_instance_list list = { 0 };
	bool probe;
	int r = -EIO;

	if (ask_api(sf, region, &probe) != ASK_STORE) {
		r = fetcher_list_instances(f->inner, region, &list, err);
		told(sf, region, r, probe);
		if (r == 0) {
			r = store_merge_instances(sf->store, region, &list, true);
			goto out;
		}
	}
	if (!use_store(sf, r, region, NULL)) {
		if (r == -EIO)
			set_err(err, "the API does not answer");
		return r;
	}
	r = store_merge_instances(sf->store, region, &list, false);
out:
	if (r < 0) {
		swas_instance_list_done(&list);
		return r;
	}
	*ret = list;
	return 0;
}

static int sf_list_invocations(struct fetcher *f, const char *region, const char *instance,
			       struct swas_invocation_list *ret, struct api_error *err)
{
	struct store_fetcher *sf = sf_of(f);
	struct swas_invocation_list list = { 0 };
	bool probe;
	int r = -EIO;

	if (ask_api(sf, region, &probe) != ASK_STORE) {
		r = fetcher_list_invocations(f->inner, region, instance, &list, err);
		told(sf, region, r, probe);
		if (r == 0) {
			r = store_merge_invocations(sf->store, region, instance, &list, true);
			goto out;
		}
		/* An instance the API says is gone keeps its stored history. */
		if (r == -ENOENT && store_has(sf->store, region, instance)) {
			r = store_merge_invocations(sf->store, region, instance, &list, false);
			goto out;
		}
	}
	if (!use_store(sf, r, region, instance)) {
		if (r == -EIO)
			set_err(err, "the API does not answer");
		return r;
	}
	r = store_merge_invocations(sf->store, region, instance, &list, false);
out:
	if (r < 0) {
		swas_invocation_list_done(&list);
		return r;
	}
	*ret = list;
	return 0;
}

static int sf_get_result(struct fetcher *f, const char *region, const char *instance, const char *invoke_id,
			 struct swas_result *ret, struct api_error *err)
{
	struct store_fetcher *sf = sf_of(f);
	struct swas_result res = { 0 };
	bool probe;
	int r;

	r = store_get_result(sf->store, region, instance, invoke_id, &res);
	if (r == 0 || r == -ENOMEM) {
		if (r == 0)
			*ret = res;
		return r;
	}
	if (f->inner == NULL) {
		/* Offline, a result never fetched is not in the archive. */
		set_err(err, "offline, and the store has no result for it");
		return -ENOENT;
	}
	if (ask_api(sf, region, &probe) == ASK_STORE) {
		set_err(err, "the API does not answer and the store has no result for it");
		return -EIO;
	}
	r = fetcher_get_result(f->inner, region, instance, invoke_id, &res, err);
	told(sf, region, r, probe);
	if (r < 0)
		return r;
	store_put_result(sf->store, region, instance, invoke_id, &res);
	*ret = res;
	return 0;
}

/* Async-signal-safe: an atomic store, then the inner cancel (fetcher.h). */
static void sf_cancel(struct fetcher *f)
{
	atomic_store(&sf_of(f)->cancelled, true);
	fetcher_cancel(f->inner);
}

static void sf_free(struct fetcher *f)
{
	struct store_fetcher *sf = sf_of(f);

	while (sf->endpoints != NULL) {
		struct endpoint *e = sf->endpoints;

		sf->endpoints = e->next;
		free(e);
	}
	pthread_mutex_destroy(&sf->lock);
	free(sf);
}

static const struct fetcher_ops store_fetcher_ops = {
	.list_regions = sf_list_regions,
	.list_instances = sf_list_instances,
	.list_invocations = sf_list_invocations,
	.get_result = sf_get_result,
	.cancel = sf_cancel,
	.free = sf_free,
};

int fetcher_store_new(struct store *store, struct fetcher *inner, struct fetcher **ret)
{
	struct store_fetcher *sf;

	if (store == NULL)
		return -EINVAL;
	sf = calloc(1, sizeof(*sf));
	if (sf == NULL)
		return -ENOMEM;
	sf->f.ops = &store_fetcher_ops;
	sf->f.inner = inner;
	sf->store = store;
	pthread_mutex_init(&sf->lock, NULL);
	atomic_init(&sf->cancelled, false);
	atomic_init(&sf->logged_fallback, false);
	*ret = &sf->f;
	return 0;
}

void fetcher_store_api_down(struct fetcher *f, const struct swas_region_list *regions)
{
	struct store_fetcher *sf = sf_of(f);

	/* ListRegions' endpoint and every region's known at start-up: one that
	 * did not answer says nothing of the others, but the first readers of
	 * each would otherwise wait a retry budget for what is likely the same
	 * outage (no network), so all start open and are probed. */
	pthread_mutex_lock(&sf->lock);
	for (size_t i = 0; i <= regions->count; i++) {
		struct breaker *b = breaker_of(sf, i < regions->count ? regions->items[i].region_id : "");

		if (b != NULL)
			breaker_report(b, mono_ms(), true, false);
	}
	pthread_mutex_unlock(&sf->lock);
	atomic_store(&sf->logged_fallback, true); /* main logged it */
}
