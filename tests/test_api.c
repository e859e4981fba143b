// SPDX-License-Identifier: MIT
/*
 * test_api: the parts of api.c a hostile server would push on, without a
 * server: the pager (a short or empty page ends paging whatever TotalCount
 * says; TotalCount only widens it, within the page, record and byte caps; a
 * cap reached is reported as truncation), the InvokeId deduplication (first
 * wins, page order kept, any ids), and the body caps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "src/api_i.h"
#include "test.h"

/* Runs a pager to the end one page at a time; @page_count(n) says how many
 * records page n has and @total what TotalCount every page reports. Returns
 * how many pages were fetched. */
static unsigned run_pager(struct api_pager *p, size_t (*page_count)(unsigned n), long long total,
			  size_t bytes_per_page)
{
	unsigned n, fetched = 0;

	while ((n = api_pager_next(p)) != 0) {
		fetched++;
		ASSERT_EQ_INT(n, fetched);
		api_pager_done(p, n, page_count(n), total, bytes_per_page);
	}
	return fetched;
}

static size_t always_full(unsigned n)
{
	return API_INVOCATIONS_PAGE_SIZE;
}

static size_t three_pages_of_data(unsigned n)
{
	return n < 3 ? API_INVOCATIONS_PAGE_SIZE : n == 3 ? 20 : 0;
}

static size_t full_then_empty(unsigned n)
{
	return n <= 2 ? API_INVOCATIONS_PAGE_SIZE : 0;
}

static void init_invocations(struct api_pager *p)
{
	api_pager_init(p, API_INVOCATIONS_PAGE_SIZE, API_MAX_INVOCATION_PAGES, API_MAX_INVOCATIONS,
		       API_MAX_PASS_BYTES);
}

static void test_short_page_ends_paging_whatever_total_count_says(void)
{
	struct api_pager p;

	init_invocations(&p);
	ASSERT_EQ_INT(run_pager(&p, three_pages_of_data, 1LL << 62, 0), 3);
	ASSERT_TRUE(!api_pager_truncated(&p));
	/* Pages past the data come back empty: the first empty one ends it. */
	init_invocations(&p);
	ASSERT_EQ_INT(run_pager(&p, full_then_empty, 1000000000, 0), 3);
	ASSERT_TRUE(!api_pager_truncated(&p));
}

static void test_total_count_bounds_but_never_extends_past_caps(void)
{
	struct api_pager p;

	/* Exactly two full pages announced: no third request. */
	init_invocations(&p);
	ASSERT_EQ_INT(run_pager(&p, always_full, 100, 0), 2);
	ASSERT_TRUE(!api_pager_truncated(&p));
	/* Endless full pages of fresh records: the page cap ends it. */
	init_invocations(&p);
	ASSERT_EQ_INT(run_pager(&p, always_full, 1LL << 62, 0), API_MAX_INVOCATION_PAGES);
	ASSERT_TRUE(api_pager_truncated(&p));
	ASSERT_EQ_INT(p.records, API_MAX_INVOCATIONS);
	/* Without a TotalCount, one more page after each full one. */
	init_invocations(&p);
	ASSERT_EQ_INT(run_pager(&p, three_pages_of_data, -1, 0), 3);
	init_invocations(&p);
	ASSERT_EQ_INT(run_pager(&p, always_full, -1, 0), API_MAX_INVOCATION_PAGES);
	ASSERT_TRUE(api_pager_truncated(&p));
}

static void test_byte_and_record_caps(void)
{
	struct api_pager p;

	api_pager_init(&p, API_INVOCATIONS_PAGE_SIZE, API_MAX_INVOCATION_PAGES, API_MAX_INVOCATIONS, 1000);
	ASSERT_EQ_INT(run_pager(&p, always_full, 1LL << 62, 600), 2);
	ASSERT_TRUE(api_pager_truncated(&p));
	api_pager_init(&p, API_INVOCATIONS_PAGE_SIZE, API_MAX_INVOCATION_PAGES, 120, SIZE_MAX);
	ASSERT_EQ_INT(run_pager(&p, always_full, 1LL << 62, 0), 3);
	ASSERT_TRUE(api_pager_truncated(&p));
}

static size_t full_instances(unsigned n)
{
	return API_INSTANCES_PAGE_SIZE;
}

static void test_instances_stop_at_five_pages(void)
{
	struct api_pager p;

	api_pager_init(&p, API_INSTANCES_PAGE_SIZE, API_MAX_INSTANCE_PAGES, API_MAX_INSTANCES, SIZE_MAX);
	ASSERT_EQ_INT(run_pager(&p, full_instances, 1LL << 62, 0), 5);
	ASSERT_TRUE(api_pager_truncated(&p));
}

/* What parallel workers see: 8 pages handed out at once after page 1. */
static void test_parallel_window_and_growing_total(void)
{
	struct api_pager p;
	unsigned n, i;

	init_invocations(&p);
	ASSERT_EQ_INT(api_pager_next(&p), 1);
	ASSERT_EQ_INT(api_pager_next(&p), 0); /* nothing but page 1 before its answer */
	api_pager_done(&p, 1, 50, 1LL << 62, 0);
	for (i = 2; i <= 9; i++)
		ASSERT_EQ_INT(api_pager_next(&p), i);
	/* Page 2 is empty: pages in flight finish, no new ones start. */
	api_pager_done(&p, 2, 0, 1LL << 62, 0);
	ASSERT_EQ_INT(api_pager_more(&p), 0);
	ASSERT_EQ_INT(api_pager_next(&p), 0);
	for (n = 3; n <= 9; n++)
		api_pager_done(&p, n, 0, 1LL << 62, 0);
	ASSERT_TRUE(!api_pager_truncated(&p));

	/* TotalCount grows mid-pass (a new invocation): one more page. */
	init_invocations(&p);
	ASSERT_EQ_INT(api_pager_next(&p), 1);
	api_pager_done(&p, 1, 50, 100, 0);
	ASSERT_EQ_INT(api_pager_next(&p), 2);
	ASSERT_EQ_INT(api_pager_next(&p), 0);
	ASSERT_TRUE(api_pager_more(&p) == 0);
	api_pager_done(&p, 2, 50, 101, 0);
	ASSERT_TRUE(api_pager_more(&p));
	ASSERT_EQ_INT(api_pager_next(&p), 3); /* more() handed nothing out */
	api_pager_done(&p, 3, 1, 101, 0);
	ASSERT_EQ_INT(api_pager_next(&p), 0);
	ASSERT_TRUE(!api_pager_truncated(&p));
}

static void test_dedup_keeps_first_in_order(void)
{
	const char *ids[] = { "b", "a", "b", "c", "a", "a", "d" };
	const bool want[] = { true, true, false, true, false, false, true };
	bool keep[7];
	size_t i;

	ASSERT_EQ_INT(api_dedup_first(ids, 7, keep), 0);
	for (i = 0; i < 7; i++)
		ASSERT_EQ_INT(keep[i], want[i]);
	ASSERT_EQ_INT(api_dedup_first(ids, 0, keep), 0);
}

/* 100,000 copies of one id and 100,000 distinct ids sharing a long prefix:
 * a sort handles both in O(n log n); a hash table keyed by a fixed function
 * would not survive ids chosen to collide. */
static void test_dedup_many(void)
{
	size_t n = API_MAX_INVOCATIONS, i, kept = 0;
	const char **ids = calloc(n, sizeof(*ids));
	char *names = malloc(n * 48);
	bool *keep = calloc(n, sizeof(*keep));

	ASSERT_TRUE(ids && names && keep);
	for (i = 0; i < n; i++)
		ids[i] = "t-same";
	ASSERT_EQ_INT(api_dedup_first(ids, n, keep), 0);
	for (i = 0; i < n; i++)
		kept += keep[i];
	ASSERT_EQ_INT(kept, 1);
	ASSERT_TRUE(keep[0]);
	for (i = 0; i < n; i++) {
		/* Every other id repeats the one before it. */
		snprintf(names + i * 48, 48, "t-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%09zu", i / 2);
		ids[i] = names + i * 48;
	}
	ASSERT_EQ_INT(api_dedup_first(ids, n, keep), 0);
	for (i = 0, kept = 0; i < n; i++) {
		ASSERT_EQ_INT(keep[i], i % 2 == 0);
		kept += keep[i];
	}
	ASSERT_EQ_INT(kept, n / 2);
	free(keep);
	free(names);
	free(ids);
}

static void test_body_caps(void)
{
	/* A full DescribeInvocations page: 64 KiB a record plus 64 KiB, "a few MiB". */
	ASSERT_EQ_INT(API_BODY_CAP(API_INVOCATIONS_PAGE_SIZE), 51 * 65536);
	ASSERT_TRUE(API_BODY_CAP(API_INVOCATIONS_PAGE_SIZE) < 4u << 20);
	/* The pool-wide ceiling is the largest per-call cap. */
	ASSERT_EQ_INT(API_MAX_BODY_BYTES, API_BODY_CAP(API_INSTANCES_PAGE_SIZE));
	ASSERT_TRUE(API_MAX_BODY_BYTES < 8u << 20);
	/* The caps multiply out to the documented per-pass bounds. */
	ASSERT_EQ_INT(API_MAX_INVOCATION_PAGES, 2000);
	ASSERT_EQ_INT(API_MAX_INSTANCE_PAGES * API_INSTANCES_PAGE_SIZE, API_MAX_INSTANCES);
}

int main(void)
{
	RUN(test_short_page_ends_paging_whatever_total_count_says);
	RUN(test_total_count_bounds_but_never_extends_past_caps);
	RUN(test_byte_and_record_caps);
	RUN(test_instances_stop_at_five_pages);
	RUN(test_parallel_window_and_growing_total);
	RUN(test_dedup_keeps_first_in_order);
	RUN(test_dedup_many);
	RUN(test_body_caps);
	return 0;
}
