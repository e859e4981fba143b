/* SPDX-License-Identifier: MIT */
/*
 * swas: the data model, at the bottom of the client layer. What the SWAS API
 * says about regions, instances, invocations and their results, as plain C
 * structs with their destructors; the API's timestamps parsed; and the
 * limits every layer above sizes its work by (the API's page sizes and
 * retention, and our caps on records, pages, passes and bodies), each with
 * its source. json fills these structs, api returns them, cache keeps them;
 * this header includes nothing of ours, so none of them depends on another
 * for the types alone.
 *
 * Ownership: every pointer in these structs is malloc'ed and owned by the
 * struct, and its *_done() frees them. Callers fill a struct only on
 * success, so an all-zero struct is always safe to pass to its *_done().
 *
 * Thread-safety: the functions here keep no state; a struct may be read by
 * any number of threads at once, and written or freed by one.
 */
#ifndef SWASFS_SWAS_H
#define SWASFS_SWAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The API's own limits and ours, with their sources. They keep their API_
 * names (they bound what the API sends) but live here, so that json, which
 * sizes its parsers by them, need not include api.h. */
#define API_INSTANCES_PAGE_SIZE	  100	 /* ListInstances: PageSize max 100 */
#define API_INVOCATIONS_PAGE_SIZE 50	 /* DescribeInvocations: PageSize max 50 */
#define API_MAX_INVOCATIONS	  100000 /* DescribeInvocations retention: "Up to 100,000 entries" */
/* One pass: the pages API_MAX_INVOCATIONS fill at 50 a page. */
#define API_MAX_INVOCATION_PAGES (API_MAX_INVOCATIONS / API_INVOCATIONS_PAGE_SIZE)
/* One pass's records in memory (commands, compact records), counted as pages
 * arrive: typical records take well under 1 KiB, so 100,000 of them fit; a server
 * sending 64 KiB records cannot make one pass hold gigabytes. */
#define API_MAX_PASS_BYTES ((size_t)256u << 20)
/* ListInstances: 500 instances a region, far beyond a SWAS account's quota
 * of servers; a server that keeps paging past it is not telling the truth. */
#define API_MAX_INSTANCE_PAGES 5u
#define API_MAX_INSTANCES      (API_MAX_INSTANCE_PAGES * API_INSTANCES_PAGE_SIZE)
/* ListRegions: far more regions than Alibaba Cloud has; the bound is for a
 * server that keeps inventing them. */
#define API_MAX_REGIONS 256
/* Response bodies, capped while they arrive: a record's CommandContent is at
 * most 16 KiB of base64 (SWAS's command size limit), and Parameters, names
 * and JSON escaping (\uXXXX is 6 bytes a character) can add as much again
 * twice over, so 64 KiB a record; the fixed part holds the envelope and
 * whitespace. A 50-record page may thus be 3.2 MiB, a ListInstances page
 * 6.3 MiB. */
#define API_BODY_RECORD_BYTES ((size_t)64u << 10)
#define API_BODY_FIXED_BYTES  ((size_t)64u << 10)
#define API_BODY_CAP(records) (API_BODY_FIXED_BYTES + (size_t)(records)*API_BODY_RECORD_BYTES)
/* The largest body any call may have (a full ListInstances page). */
#define API_MAX_BODY_BYTES API_BODY_CAP(API_INSTANCES_PAGE_SIZE)

struct swas_region {
	char *region_id;
	char *local_name;
	char *endpoint; /* RegionEndpoint; may be "" */
};

struct swas_region_list {
	struct swas_region *items;
	size_t count;
};

struct swas_instance {
	char *instance_id;
	char *instance_name;
	char *status;
	char *region_id;
	char *creation_time; /* verbatim from the API */
	time_t ctime;	     /* creation_time parsed, 0 if absent or unparsable */
	char *record;	     /* the whole ListInstances record, formatted, "\n"-terminated: .instance.json */
	size_t record_len;
};

struct swas_instance_list {
	struct swas_instance *items;
	size_t count;
	bool truncated; /* paging stopped at API_MAX_INSTANCE_PAGES though the server had more */
};

/*
 * One invocation of a listing, compact: everything it keeps lives in ONE
 * allocation, which invoke_id points at and swas_invocation_done() frees:
 *
 *   InvokeId NUL, the decoded command NUL, the API record NUL, and, only
 *   when InvokeStatus is not one of the four known ones, InvokeStatus NUL.
 *
 * The API record is the DescribeInvocations record as the API sent it,
 * printed unformatted (U+0000 as the escape \u0000), less the members this
 * struct already holds in a form that gives them back byte for byte: the
 * first InvokeId, InvokeStatus and CreationTime when they are strings equal
 * to invoke_id, invoke_status and ctime printed the API's way, and the first
 * CommandContent when it is the canonical base64 of the command (not other
 * spellings: padding, whitespace). render.c puts each back at the index it
 * had (put_back); every other member stays in the record verbatim.
 * metadata.json and parameters.json are rendered from it when read
 * (render.h); their sizes are rendered the first time something asks for
 * them (render_sizes_of) and remembered here, so that stat is exact and a
 * listing page is parsed without rendering a file of it. Nothing else is
 * kept.
 *
 * Immutable once built but for those two sizes, which any thread may fill
 * (atomics: each fills in the same numbers): the cache shares it between
 * threads and listings.
 */
enum swas_kept {
	SWAS_KEPT_INVOKE_ID,
	SWAS_KEPT_INVOKE_STATUS,
	SWAS_KEPT_CREATION_TIME,
	SWAS_KEPT_COMMAND_CONTENT,
	SWAS_KEPT_COUNT,
};

/* Where a listing's invocation came from: the API's answer, or the local
 * store (-o store=) for one the API no longer returns. The FUSE layer may
 * show it (user.swasfs.origin); it changes no byte of the files. */
enum swas_origin {
	SWAS_ORIGIN_API = 0,
	SWAS_ORIGIN_STORE = 1,
};

struct swas_invocation {
	char *invoke_id;	      /* starts the allocation; owned */
	const char *invoke_status;    /* a static string for Running, Finished, Failed and Stopped,
					 else in the allocation */
	const unsigned char *command; /* CommandContent, base64-decoded; in the allocation,
					 NUL-terminated for convenience */
	time_t ctime;		      /* CreationTime parsed, 0 if absent or unparsable */
	uint32_t command_len;
	uint32_t record_len;		      /* the API record, after the command (swas_invocation_record) */
	_Atomic uint32_t metadata_json_len;   /* the size of the rendered "metadata.json",
						 0 until render_sizes_of() renders it */
	_Atomic uint32_t parameters_json_len; /* the same for "parameters.json" */
	int16_t put_back[SWAS_KEPT_COUNT];    /* the member index each kept field had in the API
					      record, -1 if it stayed in the record */
	uint8_t origin;			      /* enum swas_origin; SWAS_ORIGIN_API unless the store set it */
};

/* The API record, unformatted JSON, NUL-terminated; borrowed from @inv. */
static inline const char *swas_invocation_record(const struct swas_invocation *inv)
{
	return (const char *)inv->command + inv->command_len + 1;
}

/*
 * The archived part of a listing: the invocations the local store keeps
 * (store.h) that the API's answer lacks: aged out of its retention, or all
 * of them when the API is not asked (-o offline, or down). They are listed
 * from the store's index, which holds their ids, statuses and
 * CreationTimes only; a record is read back from disk, and checked, when it
 * is looked at (load). So a listing with years of history costs a few dozen
 * bytes an archived invocation, not its record.
 *
 * Made by whoever answers the listing (the store's fetcher), immutable once
 * made, reference-counted; every op may be called from any thread.
 */
struct swas_archive_entry {
	const char *invoke_id;	   /* valid while the archive is */
	const char *invoke_status; /* a static string: Finished, Failed or Stopped */
	time_t ctime;		   /* CreationTime */
};

struct swas_archive;

struct swas_archive_ops {
	/* Reads entry @i's record into *ret (the caller frees it with
	 * swas_invocation_done(); origin SWAS_ORIGIN_STORE): 0, -ENOENT (it
	 * failed its check, and was dropped and logged), -ENOMEM or -EIO. */
	int (*load)(const struct swas_archive *a, size_t i, struct swas_invocation *ret);
	void (*ref)(const struct swas_archive *a);
	void (*unref)(const struct swas_archive *a);
};

struct swas_archive {
	const struct swas_archive_ops *ops;
	const struct swas_archive_entry *entries; /* sorted by invoke_status, then invoke_id */
	size_t count;
	size_t bytes; /* the memory it holds (for max_cache) */
};

struct swas_invocation_list {
	struct swas_invocation *items; /* deduplicated by invoke_id, in the API's order */
	size_t count;
	bool truncated; /* the pass stopped at a cap (pages, records or bytes) though the
			   server had more: items holds what arrived */
	/* Invocations kept elsewhere that items lacks (none of their ids is in
	 * items); a reference of the list's, or NULL. */
	const struct swas_archive *archive;
};

struct swas_result {
	unsigned char *output; /* Output, base64-decoded; NUL-terminated for convenience */
	size_t output_len;
	char *result_json; /* the "result.json" file: every InvocationResult field but Output,
	                            ExitCode a number, + "\n" */
	size_t result_json_len;
	char *invoke_record_status; /* InvokeRecordStatus, "" if absent */
	time_t finished;	    /* FinishedTime parsed, 0 if absent */
	time_t started;		    /* StartTime parsed, 0 if absent */
};

/* Each frees the list's items and their fields (and drops an invocation
 * list's archive) and leaves an empty list (items NULL, count 0); accepts
 * NULL. */
void swas_region_list_done(struct swas_region_list *l);
void swas_instance_list_done(struct swas_instance_list *l);
void swas_invocation_list_done(struct swas_invocation_list *l);
/* Frees one instance's fields (not the struct itself, which may sit in a list). */
void swas_instance_done(struct swas_instance *in);
/* Frees one invocation's allocation (not the struct itself) and zeroes the struct. */
void swas_invocation_done(struct swas_invocation *inv);
/*
 * Builds @inv's one allocation from copies of @invoke_id, @invoke_status,
 * the @command_len bytes of @command and the @record_len bytes of @record
 * (which must not hold NUL); sets the pointers, ctime, lengths and put_back
 * (@put_back NULL: all -1), and leaves the two file sizes 0 (unknown, until
 * render_sizes_of() renders them). -EOVERFLOW if a length does not fit a
 * uint32_t, -ENOMEM; @inv is written only on success. Takes nothing from
 * the caller.
 */
int swas_invocation_build(struct swas_invocation *inv, const char *invoke_id, const char *invoke_status,
			  time_t ctime, const unsigned char *command, size_t command_len, const char *record,
			  size_t record_len, const int16_t *put_back);
/* @t as the API prints times, "yyyy-MM-ddTHH:mm:ssZ" (UTC), into @out. */
void swas_format_time(time_t t, char out[static 21]);
/* Bytes @inv holds beyond its struct (its one allocation, as requested). */
size_t swas_invocation_bytes(const struct swas_invocation *inv);
/* Frees the result's fields and zeroes it; accepts NULL. */
void swas_result_done(struct swas_result *r);

/* Parses the API's "yyyy-MM-ddTHH:mm:ssZ" (UTC), or the minutes-only
 * "yyyy-MM-ddTHH:mmZ" some SWAS docs show; returns 0 if @s is NULL, empty or
 * anything else. */
time_t swas_parse_time(const char *s);

#endif
