/* SPDX-License-Identifier: MIT */
/*
 * metrics: what the daemon's HTTP requests did, counted as they happen, for
 * <mnt>/.swasfs/stats.json.
 *
 * Every HTTP request the daemon sends counts once, under its action and one
 * outcome: ok (an answer that was used), retried (a failure that was tried
 * again), throttled (a throttling answer, retried or not) or failed (the
 * last attempt of a call that gave up). Bytes received are the response
 * bodies' bytes. Actions are the API's names (ListRegions, ...), the STS and
 * metadata calls of the credential providers, and "Other" for anything else.
 *
 * Ownership: the owner embeds or allocates a struct metrics, zeroed, and
 * passes it to the modules that count. Thread-safety: every function may be
 * called from any thread at once (relaxed atomics: the numbers are
 * statistics, not synchronisation).
 */
#ifndef SWASFS_METRICS_H
#define SWASFS_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum metrics_outcome {
	METRICS_OK,
	METRICS_RETRIED,
	METRICS_THROTTLED,
	METRICS_FAILED,
	METRICS_OUTCOMES,
};

/* The actions counted, in stats.json's order; the last is "Other". */
#define METRICS_ACTIONS 11
extern const char *const metrics_action_names[METRICS_ACTIONS];
extern const char *const metrics_outcome_names[METRICS_OUTCOMES];

struct metrics {
	atomic_ulong requests[METRICS_ACTIONS][METRICS_OUTCOMES];
	atomic_ullong bytes_received;
};

/* Counts one request of @action (a name of metrics_action_names; others
 * count as "Other") with @outcome and @body_bytes received. Accepts a NULL
 * @m (nothing counted). */
void metrics_count(struct metrics *m, const char *action, enum metrics_outcome outcome, size_t body_bytes);

/* True if an answer with HTTP @status and API error @code (may be "") is a
 * throttling answer: 429, or a Code beginning with "Throttling". */
bool metrics_is_throttling(long status, const char *code);

/* Reads a count. */
unsigned long metrics_get(const struct metrics *m, size_t action, enum metrics_outcome outcome);

#endif
