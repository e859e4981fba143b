/* SPDX-License-Identifier: MIT */
/*
 * fetcher_store: the fetcher (fetcher.h) that puts the local store (store.h)
 * between the cache and the API fetcher.
 *
 *   - Listings are asked of the API as before; the store merges into each
 *     answer (queueing what it lacks, adding what the API no longer returns:
 *     the union view) before the cache sees it.
 *   - A stored result is answered from disk without asking the API; one the
 *     store lacks is fetched and queued for writing.
 *   - Without an inner fetcher (-o offline) everything comes from the store.
 *   - When the API does not answer (-EIO) for a key it has not answered in
 *     this mount, the store's copy is served instead (an unreachable API at
 *     start-up still shows the archive); a key the API did answer gets the
 *     -EIO, so the cache keeps serving its last good, fuller, snapshot. A
 *     circuit breaker per endpoint (breaker.h; each region's, and
 *     ListRegions', as the cache has them) then keeps calls away from that
 *     endpoint but for one probe a period: the fetcher keeps asking.
 *
 * Ownership: borrows @store and @inner (NULL: offline), which must outlive
 * it. Thread-safety: as fetcher.h.
 */
#ifndef SWASFS_FETCHER_STORE_H
#define SWASFS_FETCHER_STORE_H

#include "fetcher.h"

struct store;

/* Returns 0, -EINVAL (no @store) or -ENOMEM; caller frees with fetcher_free(). */
int fetcher_store_new(struct store *store, struct fetcher *inner, struct fetcher **ret);

/* Tells the fetcher the API did not answer (start-up's check): calls for
 * ListRegions and for the @regions (borrowed) go to the store at once, and
 * each endpoint is probed by one call a period. */
void fetcher_store_api_down(struct fetcher *f, const struct swas_region_list *regions);

#endif
