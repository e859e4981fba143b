// SPDX-License-Identifier: MIT
/*
 * swas: the destructors of the data model and the API's time format. Kept
 * apart from json (which fills the structs) and api (which returns them) so
 * that both, and the cache above them, free what they hold the same way
 * without depending on each other.
 */
#include <errno.h>
#include <stdint.h>
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

void swas_format_time(time_t t, char out[static 21])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
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
	free(in->record);
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
	memset(inv, 0, sizeof(*inv));
}

/* The InvokeStatus values SWAS documents: kept as static strings, so the
 * common record stores none. */
static const char *const known_statuses[] = { "Running", "Finished", "Failed", "Stopped" };

static const char *known_status(const char *s)
{
	for (size_t i = 0; i < sizeof(known_statuses) / sizeof(known_statuses[0]); i++)
		if (strcmp(s, known_statuses[i]) == 0)
			return known_statuses[i];
	return NULL;
}

int swas_invocation_build(struct swas_invocation *inv, const char *invoke_id, const char *invoke_status,
			  time_t ctime, const unsigned char *command, size_t command_len, const char *record,
			  size_t record_len, const int16_t *put_back)
{
	const char *status = known_status(invoke_status);
	size_t id_len = strlen(invoke_id), status_len = status ? 0 : strlen(invoke_status) + 1;
	size_t total;
	char *blob, *p;

	if (command_len > UINT32_MAX || record_len > UINT32_MAX || id_len > UINT32_MAX ||
	    status_len > UINT32_MAX)
		return -EOVERFLOW;
	total = id_len + 1 + command_len + 1 + record_len + 1 + status_len;
	blob = malloc(total);
	if (!blob)
		return -ENOMEM;
	p = blob;
	memcpy(p, invoke_id, id_len + 1);
	p += id_len + 1;
	inv->command = (const unsigned char *)p;
	/* swas_invocation_record() finds the record right after the command. */
	if (command_len)
		memcpy(p, command, command_len);
	p[command_len] = '\0';
	p += command_len + 1;
	if (record_len)
		memcpy(p, record, record_len);
	p[record_len] = '\0';
	p += record_len + 1;
	if (!status) {
		memcpy(p, invoke_status, status_len);
		status = p;
	}
	inv->invoke_id = blob;
	inv->invoke_status = status;
	inv->ctime = ctime;
	inv->command_len = (uint32_t)command_len;
	inv->record_len = (uint32_t)record_len;
	inv->metadata_json_len = 0;
	inv->parameters_json_len = 0;
	inv->origin = SWAS_ORIGIN_API;
	for (size_t i = 0; i < SWAS_KEPT_COUNT; i++)
		inv->put_back[i] = put_back ? put_back[i] : -1;
	return 0;
}

size_t swas_invocation_bytes(const struct swas_invocation *inv)
{
	if (!inv->invoke_id)
		return 0;
	return strlen(inv->invoke_id) + 1 + inv->command_len + 1 + inv->record_len + 1 +
	       (known_status(inv->invoke_status) == inv->invoke_status ? 0 : strlen(inv->invoke_status) + 1);
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
	if (l->archive != NULL)
		l->archive->ops->unref(l->archive);
	l->archive = NULL;
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
