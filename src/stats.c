// SPDX-License-Identifier: MIT
/*
 * stats: stats.json from the counters of metrics, cache and tree (see
 * stats.h). Printed with buf, not cJSON: every value is a number or a
 * name the code knows, but for endpoint names (region ids), which are
 * escaped.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "stats.h"

/* Breakers listed at most: one per region (SWAS has a few dozen) and
 * ListRegions'. */
#define STATS_MAX_ENDPOINTS 256
/* stats.json is a few KiB; more means a bug. */
#define STATS_MAX_BYTES (1u << 20)

uint64_t stats_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* @s as a JSON string. */
static void put_string(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			buf_printf(b, "\\u%04x", *p);
		else
			buf_putc(b, (char)*p);
	}
	buf_putc(b, '"');
}

static void put_requests(struct buf *b, const struct metrics *m)
{
	buf_puts(b, "\t\t\"requests\": {\n");
	for (size_t a = 0; a < METRICS_ACTIONS; a++) {
		buf_printf(b, "\t\t\t\"%s\": {", metrics_action_names[a]);
		for (int o = 0; o < METRICS_OUTCOMES; o++)
			buf_printf(b, "%s\"%s\": %lu", o ? ", " : "", metrics_outcome_names[o],
				   metrics_get(m, a, (enum metrics_outcome)o));
		buf_printf(b, "}%s\n", a + 1 < METRICS_ACTIONS ? "," : "");
	}
	buf_puts(b, "\t\t},\n");
}

static void put_breakers(struct buf *b, struct cache *c)
{
	struct cache_endpoint_state *ep = calloc(STATS_MAX_ENDPOINTS, sizeof(*ep));
	size_t n = ep != NULL ? cache_get_endpoints(c, ep, STATS_MAX_ENDPOINTS) : 0;

	buf_puts(b, "\t\"breakers\": [");
	for (size_t i = 0; i < n; i++) {
		buf_printf(b, "%s\n\t\t{\"endpoint\": ", i ? "," : "");
		put_string(b, ep[i].name[0] ? ep[i].name : "ListRegions");
		buf_printf(b, ", \"state\": \"%s\", \"period_ms\": %u}", ep[i].open ? "open" : "closed",
			   ep[i].period_ms);
	}
	buf_puts(b, n ? "\n\t],\n" : "],\n");
	free(ep);
}

int stats_render(void *arg, char **ret, size_t *ret_len)
{
	const struct stats_source *src = arg;
	struct cache_stats cs;
	struct buf b;
	char *text;

	buf_init(&b, STATS_MAX_BYTES);
	cache_get_stats(src->cache, &cs);
	buf_puts(&b, "{\n\t\"version\": ");
	put_string(&b, src->version ? src->version : "");
	buf_printf(&b, ",\n\t\"uptime_s\": %llu,\n",
		   (unsigned long long)((stats_now_ms() - src->start_ms) / 1000u));
	buf_puts(&b, "\t\"api\": {\n");
	put_requests(&b, src->metrics);
	buf_printf(&b, "\t\t\"bytes_received\": %llu\n\t},\n",
		   (unsigned long long)atomic_load(&src->metrics->bytes_received));
	buf_printf(&b,
		   "\t\"cache\": {\n\t\t\"hits\": %lu,\n\t\t\"misses\": %lu,\n\t\t\"listings_held\": %zu,\n"
		   "\t\t\"results_held\": %zu,\n\t\t\"bytes_held\": %zu,\n\t\t\"max_bytes\": %zu,\n"
		   "\t\t\"evictions\": %lu\n\t},\n",
		   cs.hits, cs.misses, cs.listings, cs.results, cs.bytes, cs.max_bytes, cs.evictions);
	put_breakers(&b, src->cache);
	{
		struct readahead_stats rs;

		readahead_get_stats(src->readahead, &rs);
		buf_printf(&b,
			   "\t\"readahead\": {\n\t\t\"window\": %u,\n\t\t\"results_fetched\": %lu,\n"
			   "\t\t\"results_hit\": %lu,\n\t\t\"results_wasted\": %lu,\n"
			   "\t\t\"listings_fetched\": %lu,\n\t\t\"promoted\": %lu\n\t},\n",
			   rs.window, rs.results_fetched, rs.results_hit, rs.results_wasted,
			   rs.listings_fetched, rs.promoted);
	}
	if (src->store != NULL) {
		struct store_stats ss;

		store_get_stats(src->store, &ss);
		buf_printf(
			&b,
			"\t\"store\": {\n\t\t\"written\": %lu,\n\t\t\"queued\": %lu,\n\t\t\"dropped\": %lu,\n"
			"\t\t\"failed\": %lu,\n\t\t\"bad\": %lu,\n\t\t\"commits\": %lu,\n\t\t\"pruned\": "
			"%lu,\n"
			"\t\t\"logs_read\": %lu,\n\t\t\"archived_read\": %lu,\n\t\t\"index_bytes\": "
			"%zu\n\t},\n",
			ss.written, ss.queued, ss.dropped, ss.failed, ss.bad, ss.commits, ss.pruned,
			ss.loaded, ss.read, ss.index_bytes);
	}
	if (src->tree != NULL) {
		struct tree_stats ts;

		tree_get_stats(src->tree, &ts);
		buf_printf(&b,
			   "\t\"inodes\": %lu,\n\t\"inode_collisions\": %lu,\n"
			   "\t\"notifications\": {\"queued\": %lu, \"sent\": %lu, \"dropped\": %lu}\n",
			   ts.inodes, ts.collisions, ts.notify.queued, ts.notify.sent, ts.notify.dropped);
	} else {
		buf_puts(&b, "\t\"inodes\": 0\n");
	}
	buf_puts(&b, "}\n");
	text = buf_steal(&b, ret_len);
	if (text == NULL)
		return -ENOMEM;
	*ret = text;
	return 0;
}
