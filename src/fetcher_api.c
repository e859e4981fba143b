// SPDX-License-Identifier: MIT
/*
 * fetcher_api: the fetcher (fetcher.h) that forwards every request to the
 * SWAS API client. It adds nothing: retries, limits and caps are api.c's.
 */
#include <errno.h>
#include <stdlib.h>

#include "api.h"
#include "fetcher.h"

struct api_fetcher {
	struct fetcher f; /* first: the ops get a struct fetcher * */
	struct api *api;  /* borrowed */
};

static struct api *api_of(struct fetcher *f)
{
	return ((struct api_fetcher *)f)->api;
}

static int af_list_regions(struct fetcher *f, struct swas_region_list *ret, struct api_error *err)
{
	return api_list_regions(api_of(f), ret, err);
}

static int af_list_instances(struct fetcher *f, const char *region, struct swas_instance_list *ret,
			     struct api_error *err)
{
	return api_list_instances(api_of(f), region, ret, err);
}

static int af_list_invocations(struct fetcher *f, const char *region, const char *instance,
			       struct swas_invocation_list *ret, struct api_error *err)
{
	return api_list_invocations(api_of(f), region, instance, ret, err);
}

static int af_get_result(struct fetcher *f, const char *region, const char *instance, const char *invoke_id,
			 struct swas_result *ret, struct api_error *err)
{
	return api_get_result(api_of(f), region, instance, invoke_id, ret, err);
}

/* api_cancel is an atomic exchange and a write(2): async-signal-safe. */
static void af_cancel(struct fetcher *f)
{
	api_cancel(api_of(f));
}

static void af_free(struct fetcher *f)
{
	free(f);
}

static const struct fetcher_ops api_fetcher_ops = {
	.list_regions = af_list_regions,
	.list_instances = af_list_instances,
	.list_invocations = af_list_invocations,
	.get_result = af_get_result,
	.cancel = af_cancel,
	.free = af_free,
};

int fetcher_api_new(struct api *api, struct fetcher **ret)
{
	struct api_fetcher *af;

	if (api == NULL)
		return -EINVAL;
	af = calloc(1, sizeof(*af));
	if (af == NULL)
		return -ENOMEM;
	af->f.ops = &api_fetcher_ops;
	af->api = api;
	*ret = &af->f;
	return 0;
}
