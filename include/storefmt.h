/* SPDX-License-Identifier: MIT */
/*
 * storefmt: the on-disk format of the local store (-o store=DIR), as pure
 * functions over byte buffers: encoding the three kinds of record the store
 * keeps (an instance, a terminal invocation, its result) into checksummed
 * frames, and scanning a log of frames back. No I/O here; store.c does the
 * files. contrib/docs/store.md describes the format and why.
 *
 * A log file is a 16-byte file header (magic "SWASFSL\0", u32 format
 * version, u32 kind) followed by frames:
 *
 *   u32 magic "SWF1" | u32 type | u32 payload length | u32 payload CRC-32C
 *   | u32 0 | u32 CRC-32C of the 20 bytes before | payload
 *
 * all little-endian. A frame is good only when both CRCs match and its
 * payload decodes; the scanner skips a frame whose header is good but whose
 * payload is not (its length can be trusted), and otherwise searches forward
 * byte by byte for the next good header, so one flipped byte costs one
 * record, never the rest of the log.
 *
 * The bytes scanned come from disk and are untrusted (a torn write, a bad
 * sector, a hand edit): every length is checked against what remains and
 * against STOREFMT_MAX_PAYLOAD, and decoders write their output only on
 * success (tests/fuzz/fuzz_store.c holds them to it).
 *
 * Ownership: encoders return a malloc'ed frame the caller frees; decoders
 * fill swas.h structs the caller frees with the matching *_done().
 * Thread-safety: no state; everything may run on any thread at once.
 */
#ifndef SWASFS_STOREFMT_H
#define SWASFS_STOREFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swas.h"

/* The format this swasfs writes and the newest it reads. */
#define STOREFMT_VERSION 1u

#define STOREFMT_FILE_HEADER_LEN  16u
#define STOREFMT_FRAME_HEADER_LEN 24u
/* A result's Output is capped by its response body (API_BODY_CAP(1), 128
 * KiB before decoding); 16 MiB leaves room and keeps a corrupt length from
 * making a reader allocate gigabytes. */
#define STOREFMT_MAX_PAYLOAD ((uint32_t)16u << 20)

enum storefmt_kind {
	STOREFMT_KIND_INSTANCES = 1,   /* a region's instance records */
	STOREFMT_KIND_INVOCATIONS = 2, /* one instance's invocations and results */
};

enum storefmt_type {
	STOREFMT_INSTANCE = 1,
	STOREFMT_INVOCATION = 2,
	STOREFMT_RESULT = 3,
};

/* CRC-32C (Castagnoli) of @len bytes, continuing from @crc (0 to start). */
uint32_t storefmt_crc32c(uint32_t crc, const void *buf, size_t len);

/* Writes the file header of a log of @kind into @out. */
void storefmt_file_header(enum storefmt_kind kind, unsigned char out[STOREFMT_FILE_HEADER_LEN]);
/* Checks a file header: 0, -EBADMSG (not a store log, or not of @kind), or
 * -EPROTONOSUPPORT (written by a newer swasfs; *ret_version says which). */
int storefmt_check_file_header(const unsigned char *buf, size_t len, enum storefmt_kind kind,
			       uint32_t *ret_version);

/* Encoders: a whole frame (header and payload) in *ret, *ret_len bytes;
 * caller frees. -EOVERFLOW if the payload would pass STOREFMT_MAX_PAYLOAD,
 * -ENOMEM. */
int storefmt_encode_instance(const struct swas_instance *in, unsigned char **ret, size_t *ret_len);
int storefmt_encode_invocation(const struct swas_invocation *inv, unsigned char **ret, size_t *ret_len);
int storefmt_encode_result(const char *invoke_id, const struct swas_result *res, unsigned char **ret,
			   size_t *ret_len);

/* One good frame found by storefmt_scan. @payload points into the scanned
 * buffer. */
struct storefmt_frame {
	enum storefmt_type type;
	const unsigned char *payload;
	uint32_t payload_len;
	uint64_t offset; /* of the frame header, from the start of the buffer */
	uint32_t frame_len;
};

struct storefmt_scan_result {
	uint64_t good_end;  /* end of the last good frame (or of the file header) */
	unsigned long good; /* frames passed to the callback */
	unsigned long bad;  /* frames or stretches of bytes skipped */
	bool torn_tail;	    /* the log ends in bytes that are no frame (a write cut short) */
};

/* Calls @fn for each good frame of @buf (a log's bytes after its file
 * header, @base the offset they start at), in order; @fn returns 0 to go
 * on or a negative errno to stop the scan with it. Returns 0 or @fn's code. */
typedef int (*storefmt_frame_fn)(const struct storefmt_frame *fr, void *arg);
int storefmt_scan(const unsigned char *buf, size_t len, uint64_t base, storefmt_frame_fn fn, void *arg,
		  struct storefmt_scan_result *ret);

/* Checks one frame read back from @buf (header and payload, @len bytes, as
 * storefmt_scan found it): 0 and *ret filled, or -EBADMSG. For reads that
 * come after the scan: the bytes may have changed since. */
int storefmt_check_frame(const unsigned char *buf, size_t len, struct storefmt_frame *ret);

/* Decoders of a good frame's payload; -EBADMSG if it does not decode. An
 * invocation's metadata.json and parameters.json sizes are computed again
 * (render_sizes, with @region_id and @instance_id), never taken from disk. */
int storefmt_decode_instance(const unsigned char *p, size_t len, struct swas_instance *ret);
int storefmt_decode_invocation(const unsigned char *p, size_t len, const char *region_id,
			       const char *instance_id, struct swas_invocation *ret);
int storefmt_decode_result(const unsigned char *p, size_t len, char **ret_invoke_id, struct swas_result *ret);
/* Only the InvokeId and CreationTime of an invocation or result frame
 * (ctime is 0 for a result) and, if @status is not NULL, an invocation's
 * InvokeStatus ("" for a result): what the index needs, without decoding. */
int storefmt_peek_id(enum storefmt_type type, const unsigned char *p, size_t len, char *id, size_t id_size,
		     int64_t *ret_ctime, char *status, size_t status_size);

#endif
