// SPDX-License-Identifier: MIT
/*
 * swas: the destructors of the data model and the API's time format. Kept
 * apart from json (which fills the structs) and api (which returns them) so
 * that both, and the cache above them, free what they hold the same way
 * without depending on each other.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swas.h"

time_t swas_parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s || !*s)
		return 0;
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end) {
		/* Tolerate minutes-only times ("2022-07-11T06:37Z"), seen in some SWAS docs. */
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%dT%H:%MZ", &tm);
	}
	if (!end || *end != '\0')
		return 0;
	return timegm(&tm);
}

void swas_region_list_done(struct swas_region_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->count; i++) {
		free(l->items[i].region_id);
		free(l->items[i].local_name);
		free(l->items[i].endpoint);
	}
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

void swas_instance_done(struct swas_instance *in)
{
	free(in->instance_id);
	free(in->instance_name);
	free(in->status);
	free(in->region_id);
	free(in->creation_time);
}

void swas_instance_list_done(struct swas_instance_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->count; i++)
		swas_instance_done(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

void swas_invocation_done(struct swas_invocation *inv)
{
	free(inv->invoke_id);
	free(inv->invoke_status);
	free(inv->invocation_status);
	free(inv->command_name);
	free(inv->command_type);
	free(inv->creation_time);
	free(inv->command);
	free(inv->parameters_json);
	free(inv->metadata_json);
}

void swas_invocation_list_done(struct swas_invocation_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->count; i++)
		swas_invocation_done(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

void swas_result_done(struct swas_result *r)
{
	if (!r)
		return;
	free(r->output);
	free(r->result_json);
	free(r->invoke_record_status);
	memset(r, 0, sizeof(*r));
}
