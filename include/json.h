/* SPDX-License-Identifier: MIT */
/*
 * json: the only module that touches cJSON. It turns API response bodies
 * (ListRegions, ListInstances, DescribeInvocations, DescribeInvocationResult
 * and error bodies) and the aliyun CLI config into plain structs
 * and renders the JSON files users read (metadata.json, parameters.json,
 * result.json). No cJSON tree outlives a call.
 *
 * Robustness rules, for bodies from a server we do not control:
 *   - a body that is not complete JSON (truncated, garbage), or that nests
 *     deeper than 64 levels or holds more than 262,144 values, gives
 *     -EBADMSG; the bounds are checked by one flat scan before cJSON (whose
 *     own limit is 1000 levels, handled recursively) sees the text;
 *   - a body that is JSON but not the expected shape (not an object, the list
 *     is neither an array nor {"Invocation":[...]}, more items than the
 *     caller's max_items, i.e. the PageSize asked for) gives -EPROTO; items of
 *     a list that are not objects are skipped (but count against max_items);
 *   - a string containing U+0000 (the JSON escape \u0000) cannot be held in
 *     our NUL-terminated fields, and cutting it there could turn a hostile
 *     name into a different, valid-looking one. So, per field: in the plain
 *     string fields of the structs each U+0000 is reported as '/', which no
 *     valid name contains, so the filesystem skips (and logs) that entry; in
 *     the rendered files (metadata.json, parameters.json, result.json) it
 *     stays "\u0000", verbatim; in decoded bytes with a length (command,
 *     output) it is a NUL byte. (Internally U+0000 is parsed as U+001F, so a
 *     body holding both U+0000 and U+001F is rejected whole with -EPROTO.)
 *   - fields of the wrong type are coerced, never trusted: a number or bool
 *     where a string is expected becomes its text, objects, arrays and null
 *     become ""; a numeric string where a number is expected is converted;
 *     numbers are clamped to their field's range. Names are reported
 *     verbatim otherwise (the filesystem filters unsafe ones).
 *
 * Ownership: every struct filled here is owned by the caller and released with
 * the matching swas_*_done() from swas.h; a struct json_cli_profile's fields
 * are freed by the caller (credentials.c wipes its secrets first). Results are
 * written only on success. Thread-safety: every function may run on any
 * thread at once (cJSON_GetErrorPtr, the one global, is never used).
 */
#ifndef SWASFS_JSON_H
#define SWASFS_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "swas.h"

/* Envelope fields every successful response carries. */
struct json_meta {
	char request_id[128];
	long long page_number; /* 0 when absent */
	long long page_size;   /* 0 when absent */
	long long total_count; /* -1 when absent */
};

/*
 * The fields of an API error body. json has its own struct rather than
 * filling api.h's struct api_error so that json depends on the data model
 * only, never on the client that calls it (api.c copies these into its
 * api_error, next to the HTTP status and transport errors that are its own
 * business); the sizes are api_error's, so the copy never truncates.
 */
struct json_error {
	char code[128];	      /* Code */
	char message[512];    /* Message */
	char request_id[128]; /* RequestId */
};

/* Reads an error body ({"Code"|"code", "Message"|"message", "RequestId"|"requestId"})
 * into @err's code, message and request_id. Returns 0 if the body is a JSON
 * object with a non-empty Code, else -EBADMSG (and @err keeps whatever
 * RequestId/Message it could find). */
int json_parse_error(const char *body, size_t len, struct json_error *err);

/* Reads only the RequestId of any JSON object body into @out ("" if none). */
void json_peek_request_id(const char *body, size_t len, char *out, size_t out_size);

/* ListRegions. */
int json_parse_regions(const char *body, size_t len, struct swas_region_list *ret, struct json_meta *meta);

/* One ListInstances page of at most @max_items items; appends to @list (which
 * must be valid, possibly empty; left as it was on failure). */
int json_parse_instances(const char *body, size_t len, size_t max_items, struct swas_instance_list *list,
			 struct json_meta *meta);

/* One DescribeInvocations page of at most @max_items records; fills *ret with
 * them (plain "Invocations" array or the wrapped {"Invocation":[...]} form),
 * each compact (swas.h); its metadata.json and parameters.json are sized
 * when first asked for (render_sizes_of), not here. */
int json_parse_invocations(const char *body, size_t len, size_t max_items, struct swas_invocation_list *ret,
			   struct json_meta *meta);

/* DescribeInvocationResult. */
int json_parse_result(const char *body, size_t len, struct swas_result *ret, struct json_meta *meta);

/* One profile of the aliyun CLI's config.json ({"current":..., "profiles":[...]}).
 * Every field is a malloc'ed string, "" when absent; numbers and booleans
 * come as their text ("3600", "true"). The fields are those the official
 * Node credentials library reads (providers/cli_profile.ts) plus the CLI's
 * credentials_uri. */
struct json_cli_profile {
	char *name;
	char *mode; /* "AK", "StsToken", "RamRoleArn", ... */
	char *access_key_id;
	char *access_key_secret; /* secret: wipe before free (credentials.c does) */
	char *sts_token;	 /* secret */
	char *ram_role_arn;
	char *ram_session_name;
	char *expired_seconds;
	char *duration_seconds;
	char *sts_region;
	char *sts_endpoint;
	char *enable_vpc;
	char *source_profile;
	char *ram_role_name;
	char *oidc_provider_arn;
	char *oidc_token_file;
	char *credentials_uri;
};

/* Finds profile @profile (NULL: the file's "current", else "default").
 * Returns 0 and *ret (strings malloc'ed, "" when absent; the caller frees
 * them with json_cli_profile_done, which wipes the secrets), -ENOENT with the
 * wanted name in @ret_name when no such profile exists, -EBADMSG when the file
 * is not JSON, -EPROTO when it is not shaped like a CLI config, or -ENOMEM.
 * String values of the parsed tree are wiped before it is freed. */
int json_parse_cli_profile(const char *body, size_t len, const char *profile, struct json_cli_profile *ret,
			   char *ret_name, size_t name_size);
/* Wipes the secrets, frees every field and zeroes @p; accepts a zeroed one. */
void json_cli_profile_done(struct json_cli_profile *p);

/* Temporary credentials as STS (AssumeRole, AssumeRoleWithOIDC: under
 * "Credentials"), the ECS metadata service and a credentials URI (at the top,
 * with "Code") answer them. Strings malloc'ed; freed (secrets wiped) by
 * json_temp_cred_done. */
struct json_temp_cred {
	char *access_key_id;
	char *access_key_secret; /* secret */
	char *security_token;	 /* secret */
	char *expiration;	 /* "yyyy-MM-ddTHH:mm:ssZ" or "" */
	char *code;		 /* "Code", "" when absent (metadata and URI: "Success") */
};

/* Reads @body's credentials from the object @wrapper ("Credentials") or, when
 * @wrapper is NULL, from the top level. Returns 0 (every string set, possibly
 * ""), -EBADMSG (not JSON), -EPROTO (not an object, or the wrapper missing) or
 * -ENOMEM. The parsed tree's strings are wiped before it is freed. */
int json_parse_temp_cred(const char *body, size_t len, const char *wrapper, struct json_temp_cred *ret);
void json_temp_cred_done(struct json_temp_cred *c);

#endif
