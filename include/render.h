/* SPDX-License-Identifier: MIT */
/*
 * render: the two JSON files of an invocation, printed when read from the
 * compact record a listing keeps (swas.h): metadata.json (the API record,
 * CommandContent back in its place, InstanceId and RegionId added unless
 * the API sent them, formatted, "\n") and parameters.json (Parameters as an
 * object, a string holding an object unwrapped, {} when absent, null or "",
 * formatted, "\n"). Rendering is a function of the record alone, so the
 * sizes render_sizes_of() remembers in it are those of every read: stat and
 * read agree.
 *
 * Ownership: every buffer returned is malloc'ed and the caller frees it.
 * Thread-safety: no state but the sizes render_sizes_of() remembers in the
 * record (atomics); any number of threads may render the same record at
 * once.
 */
#ifndef SWASFS_RENDER_H
#define SWASFS_RENDER_H

#include <stddef.h>

#include "swas.h"

/* metadata.json of @inv, listed under @region_id / @instance_id (borrowed).
 * Returns 0 with *ret (NUL-terminated, caller frees) and *ret_len, -EBADMSG
 * if @inv's record is not a JSON object, or -ENOMEM. */
int render_metadata(const struct swas_invocation *inv, const char *region_id, const char *instance_id,
		    char **ret, size_t *ret_len);

/* parameters.json of @inv; as render_metadata(). */
int render_parameters(const struct swas_invocation *inv, char **ret, size_t *ret_len);

/* The sizes both files render to, from one parse of the record. Returns 0,
 * -EBADMSG or -ENOMEM; writes nothing on failure. */
int render_sizes(const struct swas_invocation *inv, const char *region_id, const char *instance_id,
		 size_t *ret_metadata_len, size_t *ret_parameters_len);

/* render_sizes(), rendered the first time and then remembered in @inv's
 * metadata_json_len and parameters_json_len (swas.h): stat of a JSON file
 * renders it once, and a listing page renders nothing. @inv must be one
 * whose object is writable (the cache's and the store's are; a const
 * pointer to it is fine). Threads that race here render the same bytes and
 * store the same sizes. Returns 0, -EBADMSG, -EOVERFLOW (a file of 4 GiB or
 * more) or -ENOMEM. */
int render_sizes_of(const struct swas_invocation *inv, const char *region_id, const char *instance_id,
		    size_t *ret_metadata_len, size_t *ret_parameters_len);

#endif
