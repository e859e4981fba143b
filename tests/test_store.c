// SPDX-License-Identifier: MIT
/*
 * test_store: the store's format (storefmt) and files (store) in a scratch
 * directory: records come back byte for byte after a reopen, a damaged frame
 * costs that record only, a torn tail is cut before the next append, the
 * lock refuses a second opener, a newer format is refused, pruning removes
 * what is old and keeps the rest. The writer runs on the test's thread
 * (store_flush), so no timing is involved.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetcher_store.h"
#include "render.h"
#include "store.h"
#include "storefmt.h"
#include "test.h"

static char dir[256];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ASSERT_EQ_INT(system(cmd), 0);
}

static struct store *open_store(bool read_only, unsigned days)
{
	struct store_config cfg = { .dir = dir, .read_only = read_only, .keep_days = days };
	struct store *s = NULL;
	char why[256];

	ASSERT_EQ_INT(store_open(&cfg, &s, why, sizeof(why)), 0);
	return s;
}

/* An invocation as json.c builds them: compact, its two file sizes set. */
static void make_inv(struct swas_invocation *inv, const char *id, const char *status, time_t ctime,
		     const char *command)
{
	static const char record[] = "{\"CommandName\":\"n\",\"CommandType\":\"RunShellScript\","
				     "\"Parameters\":{\"a\":1},\"InvocationStatus\":\"Success\"}";
	size_t meta, params;

	ASSERT_EQ_INT(swas_invocation_build(inv, id, status, ctime, (const unsigned char *)command,
					    strlen(command), record, strlen(record), NULL),
		      0);
	ASSERT_EQ_INT(render_sizes_of(inv, "r-1", "i-1", &meta, &params), 0);
}

static void make_list(struct swas_invocation_list *l, size_t n, time_t ctime0)
{
	static const char *const statuses[] = { "Finished", "Failed", "Stopped", "Running" };

	l->items = calloc(n, sizeof(*l->items));
	ASSERT_TRUE(l->items != NULL);
	l->count = n;
	for (size_t i = 0; i < n; i++) {
		char id[32], cmd[32];

		snprintf(id, sizeof(id), "t-%04zu", i);
		snprintf(cmd, sizeof(cmd), "echo %zu\n", i);
		make_inv(&l->items[i], id, statuses[i % 4], ctime0 + (time_t)i, cmd);
	}
}

static const struct swas_invocation *find(const struct swas_invocation_list *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].invoke_id, id) == 0)
			return &l->items[i];
	return NULL;
}

/* Appends the list's archive to its items, each record read back (load),
 * as the mount shows them: the union. An entry that fails its check is
 * left out. */
static void materialize(struct swas_invocation_list *l)
{
	const struct swas_archive *a = l->archive;

	for (size_t i = 0; a != NULL && i < a->count; i++) {
		struct swas_invocation inv;
		struct swas_invocation *v;

		if (a->ops->load(a, i, &inv) != 0)
			continue;
		ASSERT_EQ_STR(inv.invoke_id, a->entries[i].invoke_id);
		ASSERT_EQ_STR(inv.invoke_status, a->entries[i].invoke_status);
		ASSERT_EQ_INT(inv.ctime, a->entries[i].ctime);
		v = realloc(l->items, (l->count + 1) * sizeof(*v));
		ASSERT_TRUE(v != NULL);
		l->items = v;
		v[l->count++] = inv;
	}
}

/* store_merge_invocations, then the union read back. */
static int merge(struct store *s, const char *region, const char *instance, struct swas_invocation_list *l,
		 bool from_api)
{
	int r = store_merge_invocations(s, region, instance, l, from_api);

	if (r == 0)
		materialize(l);
	return r;
}

static void assert_same_inv(const struct swas_invocation *a, const struct swas_invocation *b)
{
	ASSERT_EQ_STR(a->invoke_id, b->invoke_id);
	ASSERT_EQ_STR(a->invoke_status, b->invoke_status);
	ASSERT_EQ_INT(a->ctime, b->ctime);
	ASSERT_EQ_MEM(a->command, a->command_len, b->command, b->command_len);
	ASSERT_EQ_STR(swas_invocation_record(a), swas_invocation_record(b));
	ASSERT_EQ_INT(a->metadata_json_len, b->metadata_json_len);
	ASSERT_EQ_INT(a->parameters_json_len, b->parameters_json_len);
	for (size_t k = 0; k < SWAS_KEPT_COUNT; k++)
		ASSERT_EQ_INT(a->put_back[k], b->put_back[k]);
}

static void make_result(struct swas_result *r, const char *out)
{
	memset(r, 0, sizeof(*r));
	r->output = (unsigned char *)strdup(out);
	r->output_len = strlen(out);
	r->result_json = strdup("{\n\t\"ExitCode\":\t0\n}\n");
	r->result_json_len = strlen(r->result_json);
	r->invoke_record_status = strdup("Finished");
	r->finished = 1700000005;
	r->started = 1700000000;
}

static char *log_path(const char *instance)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/regions/r-1/inv/%s", dir, instance);
	return p;
}

static void flip_byte_at(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r+b");
	char buf[65536];
	size_t n;
	char *at;

	ASSERT_TRUE(f != NULL);
	n = fread(buf, 1, sizeof(buf), f);
	at = memmem(buf, n, needle, strlen(needle));
	ASSERT_TRUE(at != NULL);
	fseek(f, at - buf, SEEK_SET);
	fputc(*at ^ 0x40, f);
	fclose(f);
}

static void test_frames_round_trip(void)
{
	struct swas_invocation inv, back;
	struct swas_result res, rback;
	struct storefmt_frame fr;
	unsigned char *frame;
	char *id;
	size_t len;

	make_inv(&inv, "t-1", "Failed", 1700000000, "echo \x01\xff\n");
	ASSERT_EQ_INT(storefmt_encode_invocation(&inv, &frame, &len), 0);
	ASSERT_EQ_INT(storefmt_check_frame(frame, len, &fr), 0);
	ASSERT_EQ_INT(fr.type, STOREFMT_INVOCATION);
	ASSERT_EQ_INT(storefmt_decode_invocation(fr.payload, fr.payload_len, "r-1", "i-1", &back), 0);
	assert_same_inv(&inv, &back);
	ASSERT_EQ_INT(back.origin, SWAS_ORIGIN_STORE);
	/* Any one byte changed: the frame fails its check. */
	for (size_t i = 0; i < len; i++) {
		frame[i] ^= 0x01;
		ASSERT_TRUE(storefmt_check_frame(frame, len, &fr) < 0);
		frame[i] ^= 0x01;
	}
	free(frame);
	swas_invocation_done(&back);
	swas_invocation_done(&inv);

	make_result(&res, "hello\n");
	ASSERT_EQ_INT(storefmt_encode_result("t-1", &res, &frame, &len), 0);
	ASSERT_EQ_INT(storefmt_check_frame(frame, len, &fr), 0);
	ASSERT_EQ_INT(storefmt_decode_result(fr.payload, fr.payload_len, &id, &rback), 0);
	ASSERT_EQ_STR(id, "t-1");
	ASSERT_EQ_MEM(rback.output, rback.output_len, res.output, res.output_len);
	ASSERT_EQ_STR(rback.result_json, res.result_json);
	ASSERT_EQ_INT(rback.finished, res.finished);
	free(id);
	free(frame);
	swas_result_done(&rback);
	swas_result_done(&res);
}

struct count {
	unsigned long n;
};

static int count_frame(const struct storefmt_frame *fr, void *arg)
{
	(void)fr;
	((struct count *)arg)->n++;
	return 0;
}

static void test_scan_skips_damage_and_finds_the_rest(void)
{
	unsigned char buf[4096];
	struct storefmt_scan_result res;
	struct count c = { 0 };
	size_t len = 0, offs[5];

	for (int i = 0; i < 5; i++) {
		struct swas_invocation inv;
		unsigned char *frame;
		size_t n;
		char id[8];

		snprintf(id, sizeof(id), "t-%d", i);
		make_inv(&inv, id, "Finished", 1700000000 + i, "x");
		ASSERT_EQ_INT(storefmt_encode_invocation(&inv, &frame, &n), 0);
		offs[i] = len;
		memcpy(buf + len, frame, n);
		len += n;
		free(frame);
		swas_invocation_done(&inv);
	}
	/* A payload byte of frame 1, a header byte of frame 3, and a torn tail. */
	buf[offs[1] + STOREFMT_FRAME_HEADER_LEN + 3] ^= 0x10;
	buf[offs[3] + 9] ^= 0x10;
	memcpy(buf + len, "SWF1torn", 8);
	ASSERT_EQ_INT(storefmt_scan(buf, len + 8, 0, count_frame, &c, &res), 0);
	ASSERT_EQ_INT(c.n, 3);
	ASSERT_EQ_INT(res.good, 3);
	ASSERT_EQ_INT(res.bad, 3);
	ASSERT_EQ_INT(res.good_end, len);
	ASSERT_TRUE(res.torn_tail);
}

static void test_merge_stores_once_and_gives_back_the_union(void)
{
	struct swas_invocation_list api = { 0 }, later = { 0 }, offline = { 0 };
	struct store_stats st;
	struct store *s;

	make_dir();
	s = open_store(false, 0);
	make_list(&api, 8, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &api, true), 0);
	ASSERT_EQ_INT(api.count, 8); /* nothing stored yet to add */
	/* Listed again before the writer ran: queued once only. */
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &api, true), 0);
	ASSERT_EQ_INT(store_flush(s), 0);
	store_get_stats(s, &st);
	ASSERT_EQ_INT(st.written, 6); /* 8 less the two Running */
	store_free(s);

	/* A fresh open: the API now returns only t-0000; the stored others come back. */
	s = open_store(false, 0);
	make_list(&later, 1, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &later, true), 0);
	ASSERT_EQ_INT(later.count, 6);
	ASSERT_EQ_INT(later.items[0].origin, SWAS_ORIGIN_API);
	for (size_t i = 1; i < later.count; i++) {
		const struct swas_invocation *orig = find(&api, later.items[i].invoke_id);

		ASSERT_TRUE(orig != NULL);
		ASSERT_EQ_INT(later.items[i].origin, SWAS_ORIGIN_STORE);
		assert_same_inv(orig, &later.items[i]);
	}
	ASSERT_TRUE(find(&later, "t-0003") == NULL); /* Running: never stored */
	store_free(s);

	s = open_store(true, 0);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &offline, false), 0);
	ASSERT_EQ_INT(offline.count, 6);
	store_free(s);
	swas_invocation_list_done(&api);
	swas_invocation_list_done(&later);
	swas_invocation_list_done(&offline);
	remove_dir();
}

/* The archive is the index: listing it reads no record; each record is
 * read (and checked) when loaded, and the same archive is handed out again
 * while its entries stay the same. */
static void test_archive_lists_from_the_index_and_reads_when_loaded(void)
{
	struct swas_invocation_list api = { 0 }, one = { 0 }, two = { 0 }, moved = { 0 };
	struct swas_invocation inv;
	struct store_stats st;
	struct store *s;

	make_dir();
	s = open_store(false, 0);
	make_list(&api, 12, 1700000000); /* 9 terminal */
	ASSERT_EQ_INT(store_merge_invocations(s, "r-1", "i-1", &api, true), 0);
	ASSERT_TRUE(api.archive == NULL); /* the API lists all of them */
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);

	s = open_store(false, 0);
	make_list(&one, 1, 1700000000); /* only t-0000 is still listed */
	ASSERT_EQ_INT(store_merge_invocations(s, "r-1", "i-1", &one, true), 0);
	ASSERT_EQ_INT(one.count, 1);
	ASSERT_TRUE(one.archive != NULL);
	ASSERT_EQ_INT(one.archive->count, 8);
	store_get_stats(s, &st);
	ASSERT_EQ_INT(st.read, 0);
	for (size_t i = 1; i < one.archive->count; i++) {
		const struct swas_archive_entry *a = &one.archive->entries[i - 1],
						*b = &one.archive->entries[i];
		int c = strcmp(a->invoke_status, b->invoke_status);

		ASSERT_TRUE(c < 0 || (c == 0 && strcmp(a->invoke_id, b->invoke_id) < 0));
		ASSERT_TRUE(strcmp(b->invoke_id, "t-0000") != 0);
	}
	ASSERT_EQ_INT(one.archive->ops->load(one.archive, 3, &inv), 0);
	assert_same_inv(find(&api, inv.invoke_id), &inv);
	ASSERT_EQ_INT(inv.origin, SWAS_ORIGIN_STORE);
	swas_invocation_done(&inv);
	store_get_stats(s, &st);
	ASSERT_EQ_INT(st.read, 1);
	/* Listed again, nothing changed: the same archive. */
	make_list(&two, 1, 1700000000);
	ASSERT_EQ_INT(store_merge_invocations(s, "r-1", "i-1", &two, true), 0);
	ASSERT_TRUE(two.archive == one.archive);
	/* t-0000 ages out too: a new archive, with it. */
	ASSERT_EQ_INT(store_merge_invocations(s, "r-1", "i-1", &moved, true), 0);
	ASSERT_TRUE(moved.archive != NULL && moved.archive != one.archive);
	ASSERT_EQ_INT(moved.archive->count, 9);
	store_free(s);
	/* Dropping an archive touches nothing of the store's: the lists may go
	 * after it (loading from them may not). */
	swas_invocation_list_done(&api);
	swas_invocation_list_done(&one);
	swas_invocation_list_done(&two);
	swas_invocation_list_done(&moved);
	remove_dir();
}

static void test_results_are_served_from_disk_and_checked(void)
{
	struct swas_invocation_list api = { 0 }, again = { 0 };
	struct swas_result res, back;
	struct store *s;

	make_dir();
	s = open_store(false, 0);
	make_list(&api, 2, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &api, true), 0);
	make_result(&res, "result-of-t-0000\n");
	store_put_result(s, "r-1", "i-1", "t-0000", &res);
	store_put_result(s, "r-1", "i-1", "t-0001", &res); /* Failed: stored too */
	store_put_result(s, "r-1", "i-1", "t-nope", &res); /* not a stored invocation: ignored */
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);

	s = open_store(false, 0);
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-0000", &back), 0);
	ASSERT_EQ_MEM(back.output, back.output_len, res.output, res.output_len);
	ASSERT_EQ_STR(back.result_json, res.result_json);
	swas_result_done(&back);
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-nope", &back), -ENOENT);
	store_free(s);

	/* A flipped byte in the output: the result is dropped, the invocation kept. */
	flip_byte_at(log_path("i-1"), "result-of-t-0000");
	s = open_store(false, 0);
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-0000", &back), -ENOENT);
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-0001", &back), 0);
	swas_result_done(&back);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &again, true), 0);
	ASSERT_EQ_INT(again.count, 2);
	/* Fetched again and stored again: the later copy wins at the next open. */
	store_put_result(s, "r-1", "i-1", "t-0000", &res);
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);
	s = open_store(false, 0);
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-0000", &back), 0);
	ASSERT_EQ_MEM(back.output, back.output_len, res.output, res.output_len);
	swas_result_done(&back);
	store_free(s);
	swas_result_done(&res);
	swas_invocation_list_done(&api);
	swas_invocation_list_done(&again);
	remove_dir();
}

/* Bytes that change on disk after the log was read are caught when served. */
static void test_damage_after_the_scan_is_caught_when_served(void)
{
	struct swas_invocation_list api = { 0 }, again = { 0 };
	struct swas_result res, back;
	struct store_stats st;
	struct store *s;

	make_dir();
	s = open_store(false, 0);
	make_list(&api, 3, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &api, true), 0);
	make_result(&res, "late-damage-output\n");
	store_put_result(s, "r-1", "i-1", "t-0000", &res);
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);

	s = open_store(false, 0);
	/* The scan (at the first merge) finds everything good... */
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &again, false), 0);
	ASSERT_EQ_INT(again.count, 3);
	swas_invocation_list_done(&again);
	/* ...then the disk changes under it. */
	flip_byte_at(log_path("i-1"), "late-damage-output");
	flip_byte_at(log_path("i-1"), "echo 1\n");
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-0000", &back), -ENOENT);
	memset(&again, 0, sizeof(again));
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &again, false), 0);
	ASSERT_EQ_INT(again.count, 2); /* t-0001 left out */
	ASSERT_TRUE(find(&again, "t-0001") == NULL);
	store_get_stats(s, &st);
	ASSERT_EQ_INT(st.bad, 2);
	store_free(s);
	swas_result_done(&res);
	swas_invocation_list_done(&api);
	swas_invocation_list_done(&again);
	remove_dir();
}

static void test_torn_tail_is_cut_before_the_next_append(void)
{
	struct swas_invocation_list a = { 0 }, b = { 0 }, all = { 0 };
	struct store *s;
	int fd;

	make_dir();
	s = open_store(false, 0);
	make_list(&a, 3, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &a, true), 0);
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);
	/* The start of a big frame at the end, as a crash in the middle of a
	 * write leaves it: its header is whole and good, and its length covers
	 * whatever would be appended after it, unless the tail is cut first. */
	{
		struct swas_invocation big;
		unsigned char *frame;
		char cmd[600];
		size_t n;

		memset(cmd, 'x', sizeof(cmd) - 1);
		cmd[sizeof(cmd) - 1] = '\0';
		make_inv(&big, "t-torn", "Finished", 1700000050, cmd);
		ASSERT_EQ_INT(storefmt_encode_invocation(&big, &frame, &n), 0);
		fd = open(log_path("i-1"), O_WRONLY | O_APPEND);
		ASSERT_TRUE(fd >= 0);
		ASSERT_EQ_INT(write(fd, frame, 40), 40);
		close(fd);
		free(frame);
		swas_invocation_done(&big);
	}
	s = open_store(false, 0);
	/* Enough new frames to fill the torn frame's declared length. */
	b.count = 12;
	b.items = calloc(b.count, sizeof(*b.items));
	for (size_t i = 0; i < b.count; i++) {
		char id[32];

		snprintf(id, sizeof(id), "t-late%02zu", i);
		make_inv(&b.items[i], id, "Finished", 1700000100 + (time_t)i, "late");
	}
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &b, true), 0);
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);
	s = open_store(true, 0);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &all, false), 0);
	/* t-0000 F, t-0001 F, t-0002 S, and every late one, after the cut */
	ASSERT_EQ_INT(all.count, 3 + 12);
	for (size_t i = 0; i < 12; i++)
		ASSERT_TRUE(find(&all, b.items[i].invoke_id) != NULL);
	store_free(s);
	swas_invocation_list_done(&a);
	swas_invocation_list_done(&b);
	swas_invocation_list_done(&all);
	remove_dir();
}

static void test_lock_and_version(void)
{
	struct store_config cfg = { .dir = dir };
	struct store *s, *t = NULL;
	char why[256] = "", path[300];
	FILE *f;

	make_dir();
	s = open_store(false, 0);
	ASSERT_EQ_INT(store_open(&cfg, &t, why, sizeof(why)), -EBUSY);
	ASSERT_TRUE(strstr(why, "in use by another swasfs mount") != NULL);
	store_free(s);
	/* Released with the daemon (here: the free); then a newer format is refused. */
	s = open_store(false, 0);
	store_free(s);
	snprintf(path, sizeof(path), "%s/FORMAT", dir);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	fputs("swasfs-store 2\n", f);
	fclose(f);
	ASSERT_EQ_INT(store_open(&cfg, &t, why, sizeof(why)), -EPROTONOSUPPORT);
	ASSERT_TRUE(strstr(why, "newer swasfs") != NULL);
	remove_dir();
	/* Offline, a directory that is no store is refused. */
	make_dir();
	cfg.read_only = true;
	ASSERT_EQ_INT(store_open(&cfg, &t, why, sizeof(why)), -ENOENT);
	remove_dir();
}

/* A log written by a newer swasfs: the listing still works (the API's
 * answer as it is), nothing of the log is served, and it is never written. */
static void test_newer_log_is_left_alone(void)
{
	unsigned char hdr[STOREFMT_FILE_HEADER_LEN];
	struct swas_invocation_list a = { 0 };
	struct store *s;
	struct stat sb;
	FILE *f;

	make_dir();
	s = open_store(false, 0);
	store_free(s);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "mkdir -p '%s/regions/r-1/inv'", dir);
		ASSERT_EQ_INT(system(cmd), 0);
	}
	storefmt_file_header(STOREFMT_KIND_INVOCATIONS, hdr);
	hdr[8] = 9; /* version 9 */
	f = fopen(log_path("i-1"), "wb");
	ASSERT_TRUE(f != NULL);
	fwrite(hdr, 1, sizeof(hdr), f);
	fwrite("future bytes", 1, 12, f);
	fclose(f);
	s = open_store(false, 0);
	make_list(&a, 3, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &a, true), 0);
	ASSERT_EQ_INT(a.count, 3);
	ASSERT_EQ_INT(store_flush(s), 0);
	ASSERT_EQ_INT(stat(log_path("i-1"), &sb), 0);
	ASSERT_EQ_INT(sb.st_size, sizeof(hdr) + 12);
	store_free(s);
	swas_invocation_list_done(&a);
	remove_dir();
}

static void test_modes_are_private(void)
{
	struct swas_invocation_list a = { 0 };
	struct store *s;
	struct stat sb;

	make_dir();
	rmdir(dir);
	s = open_store(false, 0);
	make_list(&a, 1, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &a, true), 0);
	ASSERT_EQ_INT(store_flush(s), 0);
	ASSERT_EQ_INT(stat(dir, &sb), 0);
	ASSERT_EQ_INT(sb.st_mode & 0777, 0700);
	ASSERT_EQ_INT(stat(log_path("i-1"), &sb), 0);
	ASSERT_EQ_INT(sb.st_mode & 0077, 0);
	store_free(s);
	swas_invocation_list_done(&a);
	remove_dir();
}

static void test_prune_removes_old_and_keeps_the_rest(void)
{
	struct swas_invocation_list a = { 0 }, all = { 0 };
	time_t now = time(NULL);
	struct swas_result res;
	struct store_stats st;
	struct store *s;

	make_dir();
	s = open_store(false, 0);	    /* stored before store_days was set */
	make_list(&a, 8, now - 40 * 86400); /* t-0000..0007 */
	for (size_t i = 4; i < 8; i++)
		a.items[i].ctime = now - 86400; /* recent */
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &a, true), 0);
	make_result(&res, "old output\n");
	store_put_result(s, "r-1", "i-1", "t-0000", &res);
	store_put_result(s, "r-1", "i-1", "t-0004", &res);
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);

	s = open_store(false, 30);
	ASSERT_EQ_INT(store_prune(s, now), 0);
	store_get_stats(s, &st);
	ASSERT_EQ_INT(st.pruned, 3); /* t-0000, 0001, 0002 (0003 Running was never stored) */
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-0000", &res), -ENOENT);
	swas_result_done(&res);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &all, false), 0);
	ASSERT_EQ_INT(all.count, 3); /* 0004 F, 0005 F, 0006 S */
	ASSERT_EQ_INT(store_get_result(s, "r-1", "i-1", "t-0004", &res), 0);
	swas_result_done(&res);
	{
		/* Listed by the API but already past store_days: served, not stored. */
		struct swas_invocation_list old = { 0 };

		old.items = calloc(1, sizeof(*old.items));
		old.count = 1;
		make_inv(&old.items[0], "t-ancient", "Finished", now - 60 * 86400, "old");
		ASSERT_EQ_INT(merge(s, "r-1", "i-1", &old, true), 0);
		ASSERT_EQ_INT(store_flush(s), 0);
		store_get_stats(s, &st);
		ASSERT_EQ_INT(st.written, 0);
		swas_invocation_list_done(&old);
	}
	store_free(s);
	swas_invocation_list_done(&all);
	memset(&all, 0, sizeof(all));
	s = open_store(true, 0);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &all, false), 0);
	ASSERT_EQ_INT(all.count, 3);
	store_free(s);
	swas_invocation_list_done(&all);
	swas_invocation_list_done(&a);
	remove_dir();
}

static void test_instances_union(void)
{
	struct swas_instance_list api = { 0 }, later = { 0 };
	struct swas_invocation_list a = { 0 };
	struct swas_instance in = { .instance_id = "i-1",
				    .instance_name = "web",
				    .status = "Running",
				    .region_id = "r-1",
				    .creation_time = "2026-01-01T00:00:00Z",
				    .ctime = 1767225600 };
	struct store *s;

	make_dir();
	s = open_store(false, 0);
	api.items = calloc(1, sizeof(*api.items));
	api.items[0].instance_id = strdup(in.instance_id);
	api.items[0].instance_name = strdup(in.instance_name);
	api.items[0].status = strdup(in.status);
	api.items[0].region_id = strdup(in.region_id);
	api.items[0].creation_time = strdup(in.creation_time);
	api.items[0].ctime = in.ctime;
	api.count = 1;
	ASSERT_EQ_INT(store_merge_instances(s, "r-1", &api, true), 0);
	make_list(&a, 1, 1700000000);
	ASSERT_EQ_INT(merge(s, "r-1", "i-1", &a, true), 0);
	ASSERT_EQ_INT(store_flush(s), 0);
	store_free(s);
	/* The instance is gone from the API; its history keeps it listed. */
	s = open_store(false, 0);
	ASSERT_EQ_INT(store_merge_instances(s, "r-1", &later, true), 0);
	ASSERT_EQ_INT(later.count, 1);
	ASSERT_EQ_STR(later.items[0].instance_id, "i-1");
	ASSERT_EQ_STR(later.items[0].creation_time, in.creation_time);
	ASSERT_EQ_INT(later.items[0].ctime, in.ctime);
	store_free(s);
	swas_instance_list_done(&api);
	swas_instance_list_done(&later);
	swas_invocation_list_done(&a);
	remove_dir();
}

/* ---- fetcher_store over a fake inner fetcher ---- */

struct fake {
	struct fetcher f; /* first */
	int rc;		  /* what every call answers (0: the data below) */
	unsigned list_calls, result_calls;
	size_t count; /* invocations listed: t-0000.. */
};

static int fake_regions(struct fetcher *f, struct swas_region_list *ret, struct api_error *err)
{
	(void)f;
	(void)ret;
	(void)err;
	return -EIO;
}

static int fake_instances(struct fetcher *f, const char *region, struct swas_instance_list *ret,
			  struct api_error *err)
{
	(void)region;
	(void)err;
	if (((struct fake *)f)->rc < 0)
		return ((struct fake *)f)->rc;
	memset(ret, 0, sizeof(*ret));
	return 0;
}

static int fake_invocations(struct fetcher *f, const char *region, const char *instance,
			    struct swas_invocation_list *ret, struct api_error *err)
{
	struct fake *k = (struct fake *)f;

	(void)region;
	(void)instance;
	(void)err;
	k->list_calls++;
	if (k->rc < 0)
		return k->rc;
	memset(ret, 0, sizeof(*ret));
	make_list(ret, k->count, 1700000000);
	return 0;
}

static int fake_result(struct fetcher *f, const char *region, const char *instance, const char *invoke_id,
		       struct swas_result *ret, struct api_error *err)
{
	struct fake *k = (struct fake *)f;
	char out[64];

	(void)region;
	(void)instance;
	(void)err;
	k->result_calls++;
	if (k->rc < 0)
		return k->rc;
	snprintf(out, sizeof(out), "output of %s\n", invoke_id);
	make_result(ret, out);
	return 0;
}

static void fake_cancel(struct fetcher *f)
{
	(void)f;
}

static const struct fetcher_ops fake_ops = {
	.list_regions = fake_regions,
	.list_instances = fake_instances,
	.list_invocations = fake_invocations,
	.get_result = fake_result,
	.cancel = fake_cancel,
};

static void test_fetcher_serves_results_from_disk_and_falls_back(void)
{
	struct fake k = { .f = { .ops = &fake_ops }, .count = 4 };
	struct swas_invocation_list l = { 0 };
	struct api_error err;
	struct swas_result res;
	struct fetcher *f;
	struct store *s;

	make_dir();
	s = open_store(false, 0);
	ASSERT_EQ_INT(fetcher_store_new(s, &k.f, &f), 0);
	ASSERT_EQ_INT(fetcher_list_invocations(f, "r-1", "i-1", &l, &err), 0);
	ASSERT_EQ_INT(l.count, 4);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(fetcher_get_result(f, "r-1", "i-1", "t-0000", &res, &err), 0);
	swas_result_done(&res);
	ASSERT_EQ_INT(k.result_calls, 1);
	ASSERT_EQ_INT(store_flush(s), 0);
	/* Stored: answered from disk, the API not asked. */
	ASSERT_EQ_INT(fetcher_get_result(f, "r-1", "i-1", "t-0000", &res, &err), 0);
	ASSERT_EQ_MEM(res.output, res.output_len, "output of t-0000\n", 17);
	swas_result_done(&res);
	ASSERT_EQ_INT(k.result_calls, 1);
	/* A running one is always the API's. */
	ASSERT_EQ_INT(fetcher_get_result(f, "r-1", "i-1", "t-0003", &res, &err), 0);
	swas_result_done(&res);
	ASSERT_EQ_INT(k.result_calls, 2);
	/* The API fails for a key it answered in this mount: the failure goes up
	 * (the cache keeps its fuller snapshot). */
	k.rc = -EIO;
	ASSERT_EQ_INT(fetcher_list_invocations(f, "r-1", "i-1", &l, &err), -EIO);
	fetcher_free(f);
	store_free(s);

	/* A new mount with the API down: the store answers, at once after the
	 * first failure (the breaker), and the stored result too. */
	s = open_store(false, 0);
	ASSERT_EQ_INT(fetcher_store_new(s, &k.f, &f), 0);
	k.list_calls = 0;
	ASSERT_EQ_INT(fetcher_list_invocations(f, "r-1", "i-1", &l, &err), 0);
	ASSERT_EQ_INT(l.count, 0); /* the API's answer: none */
	materialize(&l);
	ASSERT_EQ_INT(l.count, 3); /* the terminal ones, from the archive */
	ASSERT_EQ_INT(l.items[0].origin, SWAS_ORIGIN_STORE);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(fetcher_list_invocations(f, "r-1", "i-1", &l, &err), 0);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(k.list_calls, 1); /* the second never reached the API */
	ASSERT_EQ_INT(fetcher_get_result(f, "r-1", "i-1", "t-0000", &res, &err), 0);
	swas_result_done(&res);
	ASSERT_EQ_INT(fetcher_get_result(f, "r-1", "i-1", "t-0001", &res, &err), -EIO);
	/* An instance the store has never seen: the API's failure. */
	ASSERT_EQ_INT(fetcher_list_invocations(f, "r-1", "i-unknown", &l, &err), -EIO);
	fetcher_free(f);
	store_free(s);

	/* Offline: no inner fetcher at all. */
	s = open_store(true, 0);
	ASSERT_EQ_INT(fetcher_store_new(s, NULL, &f), 0);
	ASSERT_EQ_INT(fetcher_list_invocations(f, "r-1", "i-1", &l, &err), 0);
	ASSERT_TRUE(l.archive != NULL);
	ASSERT_EQ_INT(l.archive->count, 3);
	swas_invocation_list_done(&l);
	ASSERT_EQ_INT(fetcher_get_result(f, "r-1", "i-1", "t-0001", &res, &err), -ENOENT);
	fetcher_free(f);
	store_free(s);
	remove_dir();
}

int main(void)
{
	RUN(test_frames_round_trip);
	RUN(test_scan_skips_damage_and_finds_the_rest);
	RUN(test_merge_stores_once_and_gives_back_the_union);
	RUN(test_archive_lists_from_the_index_and_reads_when_loaded);
	RUN(test_results_are_served_from_disk_and_checked);
	RUN(test_damage_after_the_scan_is_caught_when_served);
	RUN(test_torn_tail_is_cut_before_the_next_append);
	RUN(test_lock_and_version);
	RUN(test_newer_log_is_left_alone);
	RUN(test_modes_are_private);
	RUN(test_prune_removes_old_and_keeps_the_rest);
	RUN(test_instances_union);
	RUN(test_fetcher_serves_results_from_disk_and_falls_back);
	return 0;
}
