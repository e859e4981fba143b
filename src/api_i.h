/* SPDX-License-Identifier: MIT */
/*
 * api_i.h: the parts of api.c that do no I/O (paging decisions and
 * deduplication), declared here so tests/test_api.c can check them directly.
 * Not part of the public API.
 *
 * Thread-safety: none of its own; api.c holds its pass lock around a pager.
 */
#ifndef SWASFS_API_I_H
#define SWASFS_API_I_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Which page to fetch next in one paged listing. Page 1 comes first; the
 * largest TotalCount any page reported (or, without one, "one more after a
 * full page") says how many pages may be fetched, in any order and in
 * parallel; the first short or empty page ends the listing whatever
 * TotalCount says; the caps end it too, and then the listing is truncated.
 */
struct api_pager {
	unsigned page_size;  /* records in a full page */
	unsigned max_pages;  /* cap: pages handed out */
	size_t max_records;  /* cap: records reported by api_pager_done */
	size_t max_bytes;    /* cap: bytes reported by api_pager_done */
	unsigned next;	     /* the next page number to hand out */
	unsigned hint_pages; /* pages the largest TotalCount covers (saturated) */
	unsigned end;	     /* the lowest short or empty page seen, 0 if none */
	size_t records;
	size_t bytes;
	bool capped; /* a cap refused a page the hint asked for */
};

void api_pager_init(struct api_pager *p, unsigned page_size, unsigned max_pages, size_t max_records,
		    size_t max_bytes);
/* The next page number to fetch, or 0 if there is none now (api_pager_done
 * of a page in flight may make more available). */
unsigned api_pager_next(struct api_pager *p);
/* True if api_pager_next() would return a page now (none is handed out). */
bool api_pager_more(struct api_pager *p);
/* Page @n arrived with @count records taking @bytes, and TotalCount @total
 * (-1 when absent). */
void api_pager_done(struct api_pager *p, unsigned n, size_t count, long long total, size_t bytes);
/* True if the listing ended at a cap while the server announced more. */
bool api_pager_truncated(const struct api_pager *p);

/* Sets keep[i] for the first occurrence of each string in ids[0..n) and
 * clears it for later ones. O(n log n) whatever the strings are (a sort, no
 * hash a server could flood). Returns 0 or -ENOMEM (keep untouched). */
int api_dedup_first(const char *const *ids, size_t n, bool *keep);

#endif
