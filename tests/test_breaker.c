// SPDX-License-Identifier: MIT
/*
 * test_breaker: on a clock the test moves, a failure opens the breaker for
 * 2 s, one probe a period is let through, failed probes double the period up
 * to 60 s, any answer closes it, and only the changes between closed and
 * open are reported (one log line per outage).
 */
#include <stdint.h>

#include "breaker.h"
#include "test.h"

static void test_closed_breaker_passes_everything(void)
{
	struct breaker b = { 0 };

	for (int i = 0; i < 5; i++)
		ASSERT_EQ_INT(breaker_check(&b, 1000u * (unsigned)i), BREAKER_PASS);
	/* A success on a closed breaker changes nothing worth a log line. */
	ASSERT_TRUE(!breaker_report(&b, 0, false, false));
	ASSERT_TRUE(!breaker_is_open(&b));
}

static void test_failure_opens_for_two_seconds_then_one_probe(void)
{
	struct breaker b = { 0 };

	ASSERT_TRUE(breaker_report(&b, 10000, true, false)); /* closed -> open: log it */
	ASSERT_TRUE(breaker_is_open(&b));
	ASSERT_EQ_INT(breaker_check(&b, 10000), BREAKER_BLOCK);
	ASSERT_EQ_INT(breaker_check(&b, 11999), BREAKER_BLOCK);
	ASSERT_EQ_INT(breaker_check(&b, 12000), BREAKER_PROBE);
	/* One probe a period: the others stay blocked while it is out. */
	ASSERT_EQ_INT(breaker_check(&b, 12000), BREAKER_BLOCK);
	ASSERT_EQ_INT(breaker_check(&b, 50000), BREAKER_BLOCK);
}

static void test_failed_probes_double_the_period_up_to_a_minute(void)
{
	struct breaker b = { 0 };
	uint64_t now = 0;
	uint32_t expect = BREAKER_FIRST_MS;

	ASSERT_TRUE(breaker_report(&b, now, true, false));
	for (int i = 0; i < 10; i++) {
		now += expect;
		ASSERT_EQ_INT(breaker_check(&b, now - 1), BREAKER_BLOCK);
		ASSERT_EQ_INT(breaker_check(&b, now), BREAKER_PROBE);
		/* Still open: nothing to log. */
		ASSERT_TRUE(!breaker_report(&b, now, true, true));
		expect = expect * 2 > BREAKER_MAX_MS ? BREAKER_MAX_MS : expect * 2;
		ASSERT_EQ_INT(b.period_ms, expect);
	}
	ASSERT_EQ_INT(b.period_ms, 60000);
}

static void test_late_failures_of_calls_already_in_flight_do_not_extend(void)
{
	struct breaker b = { 0 };

	ASSERT_TRUE(breaker_report(&b, 0, true, false));
	/* Calls sent before it opened fail later: not a probe, no new period. */
	ASSERT_TRUE(!breaker_report(&b, 1500, true, false));
	ASSERT_EQ_INT(b.period_ms, BREAKER_FIRST_MS);
	ASSERT_EQ_INT(breaker_check(&b, 2000), BREAKER_PROBE);
}

static void test_any_answer_closes_it(void)
{
	struct breaker b = { 0 };

	ASSERT_TRUE(breaker_report(&b, 0, true, false));
	ASSERT_EQ_INT(breaker_check(&b, 2000), BREAKER_PROBE);
	/* The probe got an answer (success, or a refusal such as NotFound). */
	ASSERT_TRUE(breaker_report(&b, 2100, false, true)); /* open -> closed: log it */
	ASSERT_TRUE(!breaker_is_open(&b));
	ASSERT_EQ_INT(breaker_check(&b, 2100), BREAKER_PASS);
	/* The next outage starts again at 2 s. */
	ASSERT_TRUE(breaker_report(&b, 5000, true, false));
	ASSERT_EQ_INT(b.period_ms, BREAKER_FIRST_MS);
	ASSERT_EQ_INT(breaker_check(&b, 6999), BREAKER_BLOCK);
}

int main(void)
{
	RUN(test_closed_breaker_passes_everything);
	RUN(test_failure_opens_for_two_seconds_then_one_probe);
	RUN(test_failed_probes_double_the_period_up_to_a_minute);
	RUN(test_late_failures_of_calls_already_in_flight_do_not_extend);
	RUN(test_any_answer_closes_it);
	return 0;
}
