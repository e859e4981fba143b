/* SPDX-License-Identifier: MIT */
/*
 * json_i.h: what json.c shares with render.c, the other side of the same
 * JSON files (json.c parses the API's records, render.c prints the files
 * from what json.c kept of them). Not part of the public API: only these
 * two files see cJSON.
 *
 * Thread-safety: both functions keep no state.
 */
#ifndef SWASFS_JSON_I_H
#define SWASFS_JSON_I_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Parses one complete JSON document by json.h's rules for hostile input
 * (caps, U+0000 parsed as the marker U+001F, *ret_marked then true).
 * Returns 0 and *ret (caller frees with cJSON_Delete), -EBADMSG, -EPROTO or
 * -ENOMEM. */
int json_parse_text(const char *text, size_t len, struct cJSON **ret, bool *ret_marked);

/* Turns the marker's escape (\u001f) back into \u0000 in printed JSON, in
 * place (same length). */
void json_unmark(char *s, size_t len);

/* A file's bytes: cJSON_Print's text of @item plus "\n", in our own
 * allocation (caller frees with free()); with @marked, the U+0000 marks back
 * to \u0000. Returns 0 or -ENOMEM. */
int json_print_file(const struct cJSON *item, bool marked, char **ret, size_t *ret_len);

#endif
