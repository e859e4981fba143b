// SPDX-License-Identifier: MIT
/*
 * storefmt: frames of the local store's logs (storefmt.h). A payload is a
 * fixed sequence of fields, each string or byte run as u32 length + bytes,
 * each time as a signed 64-bit integer, little-endian throughout:
 *
 *   instance:   InstanceId, InstanceName, Status, RegionId, CreationTime, ctime,
 *               the ListInstances record (.instance.json)
 *   invocation: InvokeId, ctime, InvokeStatus, command, record, put_back[4] (i16)
 *   result:     InvokeId, output, result.json, InvokeRecordStatus, finished, started
 *
 * The InvokeId comes first so the index can be built without decoding.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "storefmt.h"

#define FILE_MAGIC  "SWASFSL"	/* 8 bytes with its NUL */
#define FRAME_MAGIC 0x31465753u /* "SWF1" little-endian */

/* ---- CRC-32C, reflected polynomial 0x82F63B78, one table ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t storefmt_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

/* ---- little-endian helpers ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void storefmt_file_header(enum storefmt_kind kind, unsigned char out[STOREFMT_FILE_HEADER_LEN])
{
	memcpy(out, FILE_MAGIC, 8);
	put_u32(out + 8, STOREFMT_VERSION);
	put_u32(out + 12, (uint32_t)kind);
}

int storefmt_check_file_header(const unsigned char *buf, size_t len, enum storefmt_kind kind,
			       uint32_t *ret_version)
{
	uint32_t v;

	if (len < STOREFMT_FILE_HEADER_LEN || memcmp(buf, FILE_MAGIC, 8) != 0)
		return -EBADMSG;
	v = get_u32(buf + 8);
	if (ret_version != NULL)
		*ret_version = v;
	if (v > STOREFMT_VERSION)
		return -EPROTONOSUPPORT;
	if (v == 0 || get_u32(buf + 12) != (uint32_t)kind)
		return -EBADMSG;
	return 0;
}

/* ---- a payload being built ---- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if (n > STOREFMT_MAX_PAYLOAD || w->len + n > STOREFMT_FRAME_HEADER_LEN + STOREFMT_MAX_PAYLOAD) {
		w->err = -EOVERFLOW;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		unsigned char *np;

		while (cap < w->len + n)
			cap *= 2;
		np = realloc(w->p, cap);
		if (np == NULL) {
			w->err = -ENOMEM;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void w_u32(struct wbuf *w, uint32_t v)
{
	unsigned char b[4];

	put_u32(b, v);
	w_bytes(w, b, 4);
}

static void w_i64(struct wbuf *w, int64_t v)
{
	uint64_t u = (uint64_t)v;

	w_u32(w, (uint32_t)u);
	w_u32(w, (uint32_t)(u >> 32));
}

static void w_run(struct wbuf *w, const void *src, size_t n)
{
	if (n > STOREFMT_MAX_PAYLOAD) {
		w->err = w->err ? w->err : -EOVERFLOW;
		return;
	}
	w_u32(w, (uint32_t)n);
	w_bytes(w, src, n);
}

static void w_str(struct wbuf *w, const char *s)
{
	s = s ? s : "";
	w_run(w, s, strlen(s));
}

static void w_begin(struct wbuf *w)
{
	unsigned char zero[STOREFMT_FRAME_HEADER_LEN] = { 0 };

	memset(w, 0, sizeof(*w));
	w_bytes(w, zero, sizeof(zero));
}

/* Fills the frame header in and hands the frame over. */
static int w_finish(struct wbuf *w, enum storefmt_type type, unsigned char **ret, size_t *ret_len)
{
	size_t plen;

	if (w->err) {
		free(w->p);
		return w->err;
	}
	plen = w->len - STOREFMT_FRAME_HEADER_LEN;
	put_u32(w->p, FRAME_MAGIC);
	put_u32(w->p + 4, (uint32_t)type);
	put_u32(w->p + 8, (uint32_t)plen);
	put_u32(w->p + 12, storefmt_crc32c(0, w->p + STOREFMT_FRAME_HEADER_LEN, plen));
	put_u32(w->p + 16, 0);
	put_u32(w->p + 20, storefmt_crc32c(0, w->p, 20));
	*ret = w->p;
	*ret_len = w->len;
	return 0;
}

int storefmt_encode_instance(const struct swas_instance *in, unsigned char **ret, size_t *ret_len)
{
	struct wbuf w;

	w_begin(&w);
	w_str(&w, in->instance_id);
	w_str(&w, in->instance_name);
	w_str(&w, in->status);
	w_str(&w, in->region_id);
	w_str(&w, in->creation_time);
	w_i64(&w, (int64_t)in->ctime);
	w_run(&w, in->record, in->record ? in->record_len : 0);
	return w_finish(&w, STOREFMT_INSTANCE, ret, ret_len);
}

int storefmt_encode_invocation(const struct swas_invocation *inv, unsigned char **ret, size_t *ret_len)
{
	struct wbuf w;

	w_begin(&w);
	w_str(&w, inv->invoke_id);
	w_i64(&w, (int64_t)inv->ctime);
	w_str(&w, inv->invoke_status);
	w_run(&w, inv->command, inv->command_len);
	w_run(&w, swas_invocation_record(inv), inv->record_len);
	for (size_t k = 0; k < SWAS_KEPT_COUNT; k++)
		w_u32(&w, (uint32_t)(int32_t)inv->put_back[k]);
	return w_finish(&w, STOREFMT_INVOCATION, ret, ret_len);
}

int storefmt_encode_result(const char *invoke_id, const struct swas_result *res, unsigned char **ret,
			   size_t *ret_len)
{
	struct wbuf w;

	w_begin(&w);
	w_str(&w, invoke_id);
	w_run(&w, res->output, res->output_len);
	w_run(&w, res->result_json, res->result_json_len);
	w_str(&w, res->invoke_record_status);
	w_i64(&w, (int64_t)res->finished);
	w_i64(&w, (int64_t)res->started);
	return w_finish(&w, STOREFMT_RESULT, ret, ret_len);
}

/* ---- scanning ---- */

/* A frame header at @p (@avail bytes from it) that checks out: its type and
 * payload length, or false. */
static bool header_ok(const unsigned char *p, size_t avail, uint32_t *ret_type, uint32_t *ret_plen)
{
	uint32_t type, plen;

	if (avail < STOREFMT_FRAME_HEADER_LEN || get_u32(p) != FRAME_MAGIC)
		return false;
	if (get_u32(p + 20) != storefmt_crc32c(0, p, 20) || get_u32(p + 16) != 0)
		return false;
	type = get_u32(p + 4);
	plen = get_u32(p + 8);
	if (type < STOREFMT_INSTANCE || type > STOREFMT_RESULT || plen > STOREFMT_MAX_PAYLOAD)
		return false;
	*ret_type = type;
	*ret_plen = plen;
	return true;
}

int storefmt_check_frame(const unsigned char *buf, size_t len, struct storefmt_frame *ret)
{
	uint32_t type, plen;

	if (!header_ok(buf, len, &type, &plen) || len != STOREFMT_FRAME_HEADER_LEN + (size_t)plen ||
	    get_u32(buf + 12) != storefmt_crc32c(0, buf + STOREFMT_FRAME_HEADER_LEN, plen))
		return -EBADMSG;
	ret->type = (enum storefmt_type)type;
	ret->payload = buf + STOREFMT_FRAME_HEADER_LEN;
	ret->payload_len = plen;
	ret->offset = 0;
	ret->frame_len = (uint32_t)len;
	return 0;
}

int storefmt_scan(const unsigned char *buf, size_t len, uint64_t base, storefmt_frame_fn fn, void *arg,
		  struct storefmt_scan_result *ret)
{
	struct storefmt_scan_result res = { .good_end = base };
	bool in_bad = false;
	size_t pos = 0;
	int r = 0;

	while (pos < len) {
		uint32_t type, plen;
		size_t avail = len - pos;

		if (header_ok(buf + pos, avail, &type, &plen) &&
		    (size_t)plen <= avail - STOREFMT_FRAME_HEADER_LEN) {
			const unsigned char *payload = buf + pos + STOREFMT_FRAME_HEADER_LEN;
			size_t flen = STOREFMT_FRAME_HEADER_LEN + (size_t)plen;

			in_bad = false;
			if (get_u32(buf + pos + 12) != storefmt_crc32c(0, payload, plen)) {
				/* The header vouches for the length: skip just this frame. */
				res.bad++;
				pos += flen;
				continue;
			}
			struct storefmt_frame fr = {
				.type = (enum storefmt_type)type,
				.payload = payload,
				.payload_len = plen,
				.offset = base + pos,
				.frame_len = (uint32_t)flen,
			};
			res.good++;
			pos += flen;
			res.good_end = base + pos;
			r = fn(&fr, arg);
			if (r < 0)
				break;
			continue;
		}
		/* Not a frame here: look for the next one, a byte further. */
		if (!in_bad)
			res.bad++;
		in_bad = true;
		pos++;
	}
	/* Torn: the log ends in bytes that are no frame at all (a write cut short). */
	res.torn_tail = in_bad && res.good_end < base + len;
	if (ret != NULL)
		*ret = res;
	return r;
}

/* ---- decoding ---- */

struct rbuf {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
};

static uint32_t r_u32(struct rbuf *r)
{
	uint32_t v;

	if (r->bad || r->len - r->pos < 4) {
		r->bad = true;
		return 0;
	}
	v = get_u32(r->p + r->pos);
	r->pos += 4;
	return v;
}

static int64_t r_i64(struct rbuf *r)
{
	uint64_t lo = r_u32(r), hi = r_u32(r);

	return (int64_t)(lo | hi << 32);
}

/* A run of bytes, borrowed from the buffer. */
static const unsigned char *r_run(struct rbuf *r, size_t *ret_len)
{
	uint32_t n = r_u32(r);
	const unsigned char *s;

	if (r->bad || r->len - r->pos < n) {
		r->bad = true;
		*ret_len = 0;
		return NULL;
	}
	s = r->p + r->pos;
	r->pos += n;
	*ret_len = n;
	return s;
}

/* A string without NUL, copied (NUL-terminated) into a new allocation. */
static char *r_str(struct rbuf *r)
{
	size_t n;
	const unsigned char *s = r_run(r, &n);
	char *out;

	if (s == NULL || memchr(s, '\0', n) != NULL) {
		r->bad = true;
		return NULL;
	}
	out = malloc(n + 1);
	if (out == NULL) {
		r->bad = true;
		return NULL;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/* A time_t that the platform holds and gmtime can print. */
static bool time_ok(int64_t t)
{
	return t >= 0 && t <= (int64_t)253402300799; /* 9999-12-31T23:59:59Z */
}

int storefmt_decode_instance(const unsigned char *p, size_t len, struct swas_instance *ret)
{
	struct rbuf r = { .p = p, .len = len };
	struct swas_instance in = { 0 };
	const unsigned char *record;
	size_t record_len;
	int64_t ctime;

	in.instance_id = r_str(&r);
	in.instance_name = r_str(&r);
	in.status = r_str(&r);
	in.region_id = r_str(&r);
	in.creation_time = r_str(&r);
	ctime = r_i64(&r);
	record = r_run(&r, &record_len);
	if (r.bad || r.pos != len || !time_ok(ctime) || in.instance_id[0] == '\0' ||
	    memchr(record, '\0', record_len) != NULL)
		goto out_bad;
	in.ctime = (time_t)ctime;
	if (record_len > 0) {
		in.record = malloc(record_len + 1);
		if (in.record == NULL)
			goto out_bad;
		memcpy(in.record, record, record_len);
		in.record[record_len] = '\0';
		in.record_len = record_len;
	}
	*ret = in;
	return 0;

out_bad:
	swas_instance_done(&in);
	return -EBADMSG;
}

int storefmt_decode_invocation(const unsigned char *p, size_t len, const char *region_id,
			       const char *instance_id, struct swas_invocation *ret)
{
	struct rbuf r = { .p = p, .len = len };
	struct swas_invocation inv = { 0 };
	const unsigned char *command, *record;
	size_t command_len, record_len, meta_len, params_len;
	int16_t put_back[SWAS_KEPT_COUNT];
	char *id = NULL, *status = NULL;
	int64_t ctime;
	int rc = -EBADMSG;

	id = r_str(&r);
	ctime = r_i64(&r);
	status = r_str(&r);
	command = r_run(&r, &command_len);
	record = r_run(&r, &record_len);
	for (size_t k = 0; k < SWAS_KEPT_COUNT; k++) {
		int32_t v = (int32_t)r_u32(&r);

		if (v < -1 || v > INT16_MAX)
			r.bad = true;
		put_back[k] = (int16_t)v;
	}
	if (r.bad || r.pos != len || !time_ok(ctime) || id[0] == '\0' || status[0] == '\0' ||
	    memchr(record, '\0', record_len) != NULL)
		goto out_free;
	rc = swas_invocation_build(&inv, id, status, (time_t)ctime, command, command_len,
				   (const char *)record, record_len, put_back);
	if (rc < 0)
		goto out_free;
	/* Sizes from the record itself: a stored size could disagree with the
	 * bytes read, and stat must match read. */
	rc = render_sizes_of(&inv, region_id, instance_id, &meta_len, &params_len);
	if (rc < 0) {
		swas_invocation_done(&inv);
		rc = rc == -ENOMEM ? rc : -EBADMSG;
		goto out_free;
	}
	inv.origin = SWAS_ORIGIN_STORE;
	*ret = inv;
out_free:
	free(id);
	free(status);
	return rc;
}

int storefmt_decode_result(const unsigned char *p, size_t len, char **ret_invoke_id, struct swas_result *ret)
{
	struct rbuf r = { .p = p, .len = len };
	struct swas_result res = { 0 };
	const unsigned char *output, *json;
	size_t output_len, json_len;
	int64_t finished, started;
	char *id;

	id = r_str(&r);
	output = r_run(&r, &output_len);
	json = r_run(&r, &json_len);
	res.invoke_record_status = r_str(&r);
	finished = r_i64(&r);
	started = r_i64(&r);
	if (r.bad || r.pos != len || !time_ok(finished) || !time_ok(started) || id[0] == '\0' ||
	    memchr(json, '\0', json_len) != NULL)
		goto out_bad;
	res.output = malloc(output_len + 1);
	res.result_json = malloc(json_len + 1);
	if (res.output == NULL || res.result_json == NULL)
		goto out_bad;
	if (output_len)
		memcpy(res.output, output, output_len);
	res.output[output_len] = '\0';
	res.output_len = output_len;
	if (json_len)
		memcpy(res.result_json, json, json_len);
	res.result_json[json_len] = '\0';
	res.result_json_len = json_len;
	res.finished = (time_t)finished;
	res.started = (time_t)started;
	*ret_invoke_id = id;
	*ret = res;
	return 0;

out_bad:
	free(id);
	swas_result_done(&res);
	return -EBADMSG;
}

int storefmt_peek_id(enum storefmt_type type, const unsigned char *p, size_t len, char *id, size_t id_size,
		     int64_t *ret_ctime, char *status, size_t status_size)
{
	struct rbuf r = { .p = p, .len = len };
	const unsigned char *s, *st = NULL;
	size_t n, stn = 0;
	int64_t ctime = 0;

	s = r_run(&r, &n);
	if (type == STOREFMT_INVOCATION) {
		ctime = r_i64(&r);
		if (status != NULL)
			st = r_run(&r, &stn);
	}
	if (r.bad || n == 0 || n >= id_size || memchr(s, '\0', n) != NULL)
		return -EBADMSG;
	if (status != NULL) {
		if (stn >= status_size || (stn > 0 && memchr(st, '\0', stn) != NULL))
			return -EBADMSG;
		if (stn > 0)
			memcpy(status, st, stn);
		status[stn] = '\0';
	}
	memcpy(id, s, n);
	id[n] = '\0';
	*ret_ctime = ctime;
	return 0;
}
