/* SPDX-License-Identifier: MIT */
/*
 * breaker: a circuit breaker for one API endpoint.
 *
 * When an endpoint fails the way a dead or overloaded service fails (5xx,
 * throttling that outlasted its retries, timeouts, refused connections,
 * broken bodies), every further request to it would pay a whole retry budget
 * for the same answer. The breaker remembers the failure: it opens for 2 s,
 * and while it is open callers are told to skip the API (serve what they
 * have, or fail at once). When the period ends, one caller is let through as
 * a probe; if the probe fails the period doubles, up to 60 s; any answer from
 * the endpoint (success, or a refusal such as NotFound or a bad credential)
 * closes it.
 *
 * Pure logic on a caller-supplied clock (milliseconds, monotonic), so tests
 * can move time. Ownership: a struct breaker is a plain value, zero-initialised
 * = closed. Thread-safety: none; the caller serialises calls (the cache holds
 * its lock).
 */
#ifndef SWASFS_BREAKER_H
#define SWASFS_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#define BREAKER_FIRST_MS 2000u	/* first open period */
#define BREAKER_MAX_MS	 60000u /* the period doubles up to this */

struct breaker {
	uint64_t open_until; /* ms; meaningful while open */
	uint32_t period_ms;  /* 0 while closed */
	bool probing;	     /* a probe is out; others stay blocked */
};

enum breaker_verdict {
	BREAKER_PASS,  /* closed: call the API */
	BREAKER_PROBE, /* open, period over: this caller probes; report its outcome */
	BREAKER_BLOCK, /* open: do not call the API */
};

/* What to do now. A PROBE verdict is given to one caller per period. */
enum breaker_verdict breaker_check(struct breaker *b, uint64_t now_ms);

/* The outcome of a call let through. @transport_failure: the endpoint did not
 * answer usefully (see above). @was_probe: the call had the PROBE verdict.
 * Returns true if this outcome changed the breaker between closed and open
 * (for a log line per outage, not per request). */
bool breaker_report(struct breaker *b, uint64_t now_ms, bool transport_failure, bool was_probe);

static inline bool breaker_is_open(const struct breaker *b)
{
	return b->period_ms != 0;
}

#endif
