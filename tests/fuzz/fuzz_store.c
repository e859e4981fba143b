// SPDX-License-Identifier: MIT
/*
 * fuzz_store: the local store's reader (storefmt.h), which parses bytes from
 * disk that a crash, a bad sector or a hand edit may have mangled. Each input
 * is used three ways:
 *   - as a log (after its file header): storefmt_scan reports good frames in
 *     order, inside the buffer, never overlapping, and good_end at the end of
 *     the last one; every good frame is decoded by its type;
 *   - as the payload of each frame type, wrapped in a frame with the right
 *     checksums, so the decoders see every input (random bytes alone almost
 *     never pass a CRC);
 *   - decoded records must re-encode to a frame that decodes to the same
 *     fields, and an invocation's metadata.json and parameters.json must
 *     render to exactly the sizes the decoder gave them (stat matches read).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "render.h"
#include "storefmt.h"

static void check_invocation(const unsigned char *p, size_t n)
{
	struct swas_invocation inv, again;
	struct storefmt_frame fr;
	unsigned char *frame;
	char *meta, *params;
	size_t len, meta_len, params_len;
	int r;

	r = storefmt_decode_invocation(p, n, "r", "i", &inv);
	FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r < 0)
		return;
	FUZZ_CHECK(inv.origin == SWAS_ORIGIN_STORE);
	FUZZ_CHECK(render_metadata(&inv, "r", "i", &meta, &meta_len) == 0);
	FUZZ_CHECK(meta_len == inv.metadata_json_len);
	FUZZ_CHECK(render_parameters(&inv, &params, &params_len) == 0);
	FUZZ_CHECK(params_len == inv.parameters_json_len);
	free(meta);
	free(params);
	FUZZ_CHECK(storefmt_encode_invocation(&inv, &frame, &len) == 0);
	FUZZ_CHECK(storefmt_check_frame(frame, len, &fr) == 0);
	FUZZ_CHECK(storefmt_decode_invocation(fr.payload, fr.payload_len, "r", "i", &again) == 0);
	FUZZ_CHECK(strcmp(inv.invoke_id, again.invoke_id) == 0);
	FUZZ_CHECK(strcmp(inv.invoke_status, again.invoke_status) == 0);
	FUZZ_CHECK(inv.ctime == again.ctime && inv.command_len == again.command_len);
	FUZZ_CHECK(memcmp(inv.command, again.command, inv.command_len) == 0);
	FUZZ_CHECK(strcmp(swas_invocation_record(&inv), swas_invocation_record(&again)) == 0);
	FUZZ_CHECK(memcmp(inv.put_back, again.put_back, sizeof(inv.put_back)) == 0);
	swas_invocation_done(&again);
	swas_invocation_done(&inv);
	free(frame);
}

static void check_result(const unsigned char *p, size_t n)
{
	struct swas_result res, again;
	struct storefmt_frame fr;
	unsigned char *frame;
	char *id, *id2;
	size_t len;
	int r;

	r = storefmt_decode_result(p, n, &id, &res);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	if (r < 0)
		return;
	FUZZ_CHECK(res.output[res.output_len] == '\0' && res.result_json[res.result_json_len] == '\0');
	FUZZ_CHECK(storefmt_encode_result(id, &res, &frame, &len) == 0);
	FUZZ_CHECK(storefmt_check_frame(frame, len, &fr) == 0);
	FUZZ_CHECK(storefmt_decode_result(fr.payload, fr.payload_len, &id2, &again) == 0);
	FUZZ_CHECK(strcmp(id, id2) == 0);
	FUZZ_CHECK(res.output_len == again.output_len &&
		   memcmp(res.output, again.output, res.output_len) == 0);
	FUZZ_CHECK(strcmp(res.result_json, again.result_json) == 0);
	FUZZ_CHECK(res.finished == again.finished && res.started == again.started);
	free(id);
	free(id2);
	free(frame);
	swas_result_done(&res);
	swas_result_done(&again);
}

static void check_instance(const unsigned char *p, size_t n)
{
	struct swas_instance in, again;
	struct storefmt_frame fr;
	unsigned char *frame;
	size_t len;
	int r;

	r = storefmt_decode_instance(p, n, &in);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	if (r < 0)
		return;
	FUZZ_CHECK(storefmt_encode_instance(&in, &frame, &len) == 0);
	FUZZ_CHECK(storefmt_check_frame(frame, len, &fr) == 0);
	FUZZ_CHECK(storefmt_decode_instance(fr.payload, fr.payload_len, &again) == 0);
	FUZZ_CHECK(strcmp(in.instance_id, again.instance_id) == 0 && in.ctime == again.ctime);
	FUZZ_CHECK(strcmp(in.creation_time, again.creation_time) == 0);
	FUZZ_CHECK(in.record_len == again.record_len &&
		   (in.record_len == 0 || memcmp(in.record, again.record, in.record_len) == 0));
	swas_instance_done(&in);
	swas_instance_done(&again);
	free(frame);
}

static void check_payload(enum storefmt_type type, const unsigned char *p, size_t n)
{
	char id[256], status[64];
	int64_t ctime;

	(void)storefmt_peek_id(type, p, n, id, sizeof(id), &ctime, NULL, 0);
	(void)storefmt_peek_id(type, p, n, id, sizeof(id), &ctime, status, sizeof(status));
	if (type == STOREFMT_INVOCATION)
		check_invocation(p, n);
	else if (type == STOREFMT_RESULT)
		check_result(p, n);
	else
		check_instance(p, n);
}

struct scan_state {
	uint64_t base, len, last_end;
};

static int on_frame(const struct storefmt_frame *fr, void *arg)
{
	struct scan_state *st = arg;

	FUZZ_CHECK(fr->offset >= st->last_end);
	FUZZ_CHECK(fr->offset + fr->frame_len <= st->base + st->len);
	FUZZ_CHECK(fr->frame_len == STOREFMT_FRAME_HEADER_LEN + fr->payload_len);
	st->last_end = fr->offset + fr->frame_len;
	check_payload(fr->type, fr->payload, fr->payload_len);
	return 0;
}

/* @p wrapped in a frame of @type with good checksums, as the writer would. */
static void check_wrapped(enum storefmt_type type, const unsigned char *p, size_t n)
{
	unsigned char *buf = malloc(STOREFMT_FRAME_HEADER_LEN + n + 1);
	struct storefmt_scan_result res;
	struct scan_state st = { .base = 0, .len = STOREFMT_FRAME_HEADER_LEN + n };
	uint32_t h[6];

	FUZZ_CHECK(buf != NULL);
	h[0] = 0x31465753u;
	h[1] = (uint32_t)type;
	h[2] = (uint32_t)n;
	h[3] = storefmt_crc32c(0, p, n);
	h[4] = 0;
	for (int i = 0; i < 5; i++) {
		buf[i * 4] = (unsigned char)h[i];
		buf[i * 4 + 1] = (unsigned char)(h[i] >> 8);
		buf[i * 4 + 2] = (unsigned char)(h[i] >> 16);
		buf[i * 4 + 3] = (unsigned char)(h[i] >> 24);
	}
	h[5] = storefmt_crc32c(0, buf, 20);
	for (int k = 0; k < 4; k++)
		buf[20 + k] = (unsigned char)(h[5] >> (8 * k));
	if (n)
		memcpy(buf + STOREFMT_FRAME_HEADER_LEN, p, n);
	if (n <= STOREFMT_MAX_PAYLOAD) {
		FUZZ_CHECK(storefmt_scan(buf, STOREFMT_FRAME_HEADER_LEN + n, 0, on_frame, &st, &res) == 0);
		FUZZ_CHECK(res.good == 1 && res.good_end == STOREFMT_FRAME_HEADER_LEN + n && !res.torn_tail);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct storefmt_scan_result res;
	struct scan_state st = { .base = STOREFMT_FILE_HEADER_LEN, .len = size };
	uint32_t version;

	(void)storefmt_check_file_header(data, size, STOREFMT_KIND_INVOCATIONS, &version);
	FUZZ_CHECK(storefmt_scan(data, size, STOREFMT_FILE_HEADER_LEN, on_frame, &st, &res) == 0);
	FUZZ_CHECK(res.good_end == (res.good ? st.last_end : STOREFMT_FILE_HEADER_LEN));
	FUZZ_CHECK(res.good_end <= STOREFMT_FILE_HEADER_LEN + size);
	check_wrapped(STOREFMT_INVOCATION, data, size);
	check_wrapped(STOREFMT_RESULT, data, size);
	check_wrapped(STOREFMT_INSTANCE, data, size);
	return 0;
}
