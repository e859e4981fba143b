// SPDX-License-Identifier: MIT
/*
 * breaker: closed -> open (2 s) -> one probe -> closed, or open twice as long
 * (see breaker.h).
 */
#include "breaker.h"

enum breaker_verdict breaker_check(struct breaker *b, uint64_t now_ms)
{
	if (!breaker_is_open(b))
		return BREAKER_PASS;
	if (b->probing || now_ms < b->open_until)
		return BREAKER_BLOCK;
	b->probing = true;
	return BREAKER_PROBE;
}

bool breaker_report(struct breaker *b, uint64_t now_ms, bool transport_failure, bool was_probe)
{
	bool was_open = breaker_is_open(b);

	if (was_probe)
		b->probing = false;
	if (!transport_failure) {
		b->period_ms = 0;
		b->probing = false;
		return was_open;
	}
	if (!was_open) {
		b->period_ms = BREAKER_FIRST_MS;
	} else if (was_probe) {
		/* Only a failed probe lengthens the period: failures of calls
		 * that were already in flight when it opened say nothing new. */
		b->period_ms = b->period_ms >= BREAKER_MAX_MS / 2 ? BREAKER_MAX_MS : b->period_ms * 2;
	} else {
		return false;
	}
	b->open_until = now_ms + b->period_ms;
	return !was_open;
}
