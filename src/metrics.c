// SPDX-License-Identifier: MIT
/* metrics: counters of HTTP requests by action and outcome (see metrics.h). */
#include <string.h>

#include "metrics.h"

const char *const metrics_action_names[METRICS_ACTIONS] = {
	"ListRegions",
	"ListInstances",
	"DescribeInvocations",
	"DescribeInvocationResult",
	"AssumeRole",
	"AssumeRoleWithOIDC",
	"MetadataToken",
	"MetadataRole",
	"MetadataCredentials",
	"CredentialsURI",
	"Other",
};

const char *const metrics_outcome_names[METRICS_OUTCOMES] = { "ok", "retried", "throttled", "failed" };

static size_t action_index(const char *action)
{
	for (size_t i = 0; i + 1 < METRICS_ACTIONS; i++) {
		if (action != NULL && strcmp(action, metrics_action_names[i]) == 0)
			return i;
	}
	return METRICS_ACTIONS - 1;
}

void metrics_count(struct metrics *m, const char *action, enum metrics_outcome outcome, size_t body_bytes)
{
	if (m == NULL || outcome >= METRICS_OUTCOMES)
		return;
	atomic_fetch_add_explicit(&m->requests[action_index(action)][outcome], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->bytes_received, body_bytes, memory_order_relaxed);
}

bool metrics_is_throttling(long status, const char *code)
{
	return status == 429 || (code != NULL && strncmp(code, "Throttling", strlen("Throttling")) == 0);
}

unsigned long metrics_get(const struct metrics *m, size_t action, enum metrics_outcome outcome)
{
	if (action >= METRICS_ACTIONS || outcome >= METRICS_OUTCOMES)
		return 0;
	return atomic_load_explicit(&((struct metrics *)m)->requests[action][outcome], memory_order_relaxed);
}
