// SPDX-License-Identifier: MIT
/*
 * main: command line, start-up checks, and the FUSE session's life.
 *
 * Start-up follows README.md: find credentials, call ListRegions once with
 * a throw-away client (so a bad key or endpoint exits 1 before mounting), then
 * mount, daemonise unless -f, and only then build the real client: no thread
 * and no connection may exist across fuse_daemonize()'s fork.
 *
 * The secret is kept out of memory images: the process is made non-dumpable
 * before anything reads it (no core dump, no same-user ptrace or
 * /proc/PID/mem), the credentials are read once into OpenSSL's secure heap and
 * copied from there for each client, and their environment variables are
 * zeroed where /proc/PID/environ shows them before the mount.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fuse_lowlevel.h>

#include "api.h"
#include "bg.h"
#include "cache.h"
#include "config.h"
#include "credentials.h"
#include "fetcher.h"
#include "fetcher_store.h"
#include "fs.h"
#include "log.h"
#include "metrics.h"
#include "stats.h"
#include "store.h"
#include "tree.h"

#define DEFAULT_ENDPOINT     "https://swas.{region}.aliyuncs.com"
#define DEFAULT_HOME_REGION  "cn-hangzhou"
#define DEFAULT_CACHE_TTL    60
#define DEFAULT_INSTANCE_TTL 600
#define DEFAULT_JOBS	     8
#define DEFAULT_TIMEOUT	     15
#define DEFAULT_RETRY_BUDGET 30
#define MAX_TTL		     31536000u /* a year: beyond it a TTL is a typo */
#define MAX_JOBS	     64u       /* the API's per-account limits make more pointless */
#define MAX_TIMEOUT	     600u
#define MAX_REGIONS_OPT	     64u
/* max_cache: below 64 KiB a walk would drop what it has just read; above
 * 1 TiB the number is a typo. */
#define MIN_MAX_CACHE ((unsigned long long)64u << 10)
#define MAX_MAX_CACHE ((unsigned long long)1u << 40)
/* glibc arenas: see main(). */
#define MALLOC_ARENAS 2

struct options {
	char *regions;
	char *endpoint;
	char *home_region;
	char *profile;
	char *cafile;
	char *max_cache;
	unsigned cache_ttl;
	unsigned instance_ttl;
	unsigned jobs;
	unsigned timeout;
	unsigned retry_budget;
	int verbose;
	int no_results;
	int dumpable;
	char *store;
	int offline;
	unsigned store_days;
};

#define OPT(t, p)                                 \
	{                                         \
		t, offsetof(struct options, p), 1 \
	}
static const struct fuse_opt swasfs_opts[] = { OPT("regions=%s", regions),
					       OPT("endpoint=%s", endpoint),
					       OPT("home_region=%s", home_region),
					       OPT("profile=%s", profile),
					       OPT("cafile=%s", cafile),
					       OPT("cache_ttl=%u", cache_ttl),
					       OPT("instance_ttl=%u", instance_ttl),
					       OPT("max_cache=%s", max_cache),
					       OPT("jobs=%u", jobs),
					       OPT("timeout=%u", timeout),
					       OPT("retry_budget=%u", retry_budget),
					       OPT("verbose", verbose),
					       OPT("no_results", no_results),
					       OPT("dumpable", dumpable),
					       OPT("store=%s", store),
					       OPT("offline", offline),
					       OPT("store_days=%u", store_days),
					       FUSE_OPT_END };

static void print_usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n"
	       "       %s --help | --version\n\n"
	       "Mounts Alibaba Cloud Simple Application Server command history:\n"
	       "  MOUNTPOINT/<region>/<instance>/<InvokeStatus>/<invoke-id>/\n"
	       "      command parameters.json metadata.json output result.json\n\n"
	       "swasfs options (-o name=value):\n"
	       "    -o regions=ID[:ID...]   regions shown at the top (default: all, from ListRegions)\n"
	       "    -o endpoint=URL         API base URL, {region} replaced (default %s)\n"
	       "    -o home_region=ID       region whose endpoint answers ListRegions\n"
	       "                            (default $ALIBABA_CLOUD_REGION_ID, else %s)\n"
	       "    -o profile=NAME         credentials profile (default $ALIBABA_CLOUD_PROFILE,\n"
	       "                            else the file's default/current)\n"
	       "    -o cache_ttl=SECONDS    invocation listings and running results are fresh\n"
	       "                            this long (default %d)\n"
	       "    -o instance_ttl=SECONDS region and instance lists are fresh this long (default %d)\n"
	       "    -o max_cache=SIZE       memory the cache may hold, K, M or G suffix; past it\n"
	       "                            least recently used data is dropped and fetched again\n"
	       "                            when needed (default 256M)\n"
	       "    -o cafile=PATH          CA bundle for HTTPS (default: the system store;\n"
	       "                            verification is never switched off)\n"
	       "    -o jobs=N               API requests in flight at once (default %d)\n"
	       "    -o timeout=SECONDS      limit for one API request (default %d)\n"
	       "    -o retry_budget=SECONDS time for all retries of one call (default %d)\n"
	       "    -o no_results           leave output and result.json out of the tree\n"
	       "    -o verbose              log one line per API call\n"
	       "    -o dumpable             let the daemon dump core and be traced by its user\n"
	       "                            (for debugging: core dumps then hold the secret)\n"
	       "    -o store=DIR            keep what the mount sees in DIR (0700), so history\n"
	       "                            outlives the API's two weeks; stored results are\n"
	       "                            served from disk (default: off)\n"
	       "    -o offline              with store=: mount the store alone, no credentials,\n"
	       "                            no network\n"
	       "    -o store_days=N         with store=: prune invocations created more than N\n"
	       "                            days ago (N >= 14; default: keep everything)\n\n"
	       "Credentials, first found wins: ALIBABA_CLOUD_ACCESS_KEY_ID and\n"
	       "ALIBABA_CLOUD_ACCESS_KEY_SECRET (+ ALIBABA_CLOUD_SECURITY_TOKEN); the ini file\n"
	       "$ALIBABA_CLOUD_CREDENTIALS_FILE or ~/.alibabacloud/credentials; the aliyun CLI's\n"
	       "~/.aliyun/config.json. Secrets are never accepted on the command line.\n\n"
	       "FUSE options:\n",
	       prog, prog, DEFAULT_ENDPOINT, DEFAULT_HOME_REGION, DEFAULT_CACHE_TTL, DEFAULT_INSTANCE_TTL,
	       DEFAULT_JOBS, DEFAULT_TIMEOUT, DEFAULT_RETRY_BUDGET);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Parses SIZE: digits with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, unsigned long long *ret)
{
	unsigned long long v, mult = 1;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1ull << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1ull << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1ull << 30;
		end++;
		break;
	default:
		break;
	}
	if (*end != '\0' || v > ULLONG_MAX / mult)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

/* The -o max_cache bytes, CACHE_DEFAULT_MAX_BYTES if not given. Prints why
 * and returns -EINVAL on a bad value. */
static int max_cache_of(const struct options *o, size_t *ret)
{
	unsigned long long v = CACHE_DEFAULT_MAX_BYTES;

	if (o->max_cache != NULL &&
	    (parse_size(o->max_cache, &v) < 0 || v < MIN_MAX_CACHE || v > MAX_MAX_CACHE)) {
		fprintf(stderr, "swasfs: max_cache must be a size between 64K and 1024G, such as 256M\n");
		return -EINVAL;
	}
	*ret = (size_t)v;
	return 0;
}

/* Checks ranges; prints why and returns -EINVAL on a bad value. */
static int check_options(const struct options *o)
{
	size_t max_cache;

	if (o->cache_ttl < 1 || o->cache_ttl > MAX_TTL || o->instance_ttl < 1 || o->instance_ttl > MAX_TTL) {
		fprintf(stderr, "swasfs: cache_ttl and instance_ttl must be between 1 and %u seconds\n",
			MAX_TTL);
		return -EINVAL;
	}
	if (o->jobs < 1 || o->jobs > MAX_JOBS) {
		fprintf(stderr, "swasfs: jobs must be between 1 and %u\n", MAX_JOBS);
		return -EINVAL;
	}
	if (o->timeout < 1 || o->timeout > MAX_TIMEOUT || o->retry_budget < 1 ||
	    o->retry_budget > MAX_TIMEOUT) {
		fprintf(stderr, "swasfs: timeout and retry_budget must be between 1 and %u seconds\n",
			MAX_TIMEOUT);
		return -EINVAL;
	}
	if (strstr(o->endpoint, "://") == NULL) {
		fprintf(stderr,
			"swasfs: endpoint must be a URL such as https://swas.{region}.aliyuncs.com\n");
		return -EINVAL;
	}
	if (o->offline && o->store == NULL) {
		fprintf(stderr, "swasfs: offline needs store=DIR: an offline mount shows the local store\n");
		return -EINVAL;
	}
	if (o->store_days != 0 && (o->store == NULL || o->store_days < STORE_MIN_DAYS)) {
		fprintf(stderr,
			"swasfs: store_days=N needs store=DIR and N >= %u (the API keeps two weeks itself)\n",
			STORE_MIN_DAYS);
		return -EINVAL;
	}
	if (o->cafile != NULL && access(o->cafile, R_OK) != 0) {
		fprintf(stderr, "swasfs: cafile %s: %s\n", o->cafile, strerror(errno));
		return -EINVAL;
	}
	return max_cache_of(o, &max_cache);
}

/* Splits "a:b:c" into the array @ids (pointers into @s, which is modified). */
static int split_regions(char *s, const char **ids, size_t max, size_t *ret_count)
{
	size_t n = 0;

	for (char *save = NULL, *tok = strtok_r(s, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		if (n == max || !cache_is_valid_name(tok, strlen(tok))) {
			fprintf(stderr, "swasfs: regions=: too many or invalid region ids\n");
			return -EINVAL;
		}
		ids[n++] = tok;
	}
	if (n == 0) {
		fprintf(stderr, "swasfs: regions=: no region id given\n");
		return -EINVAL;
	}
	*ret_count = n;
	return 0;
}

static void api_config_of(const struct options *o, struct api_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->endpoint = o->endpoint;
	cfg->home_region = o->home_region;
	cfg->cafile = o->cafile;
	cfg->jobs = o->jobs;
	cfg->timeout_s = o->timeout;
	cfg->retry_budget_ms = o->retry_budget * 1000u;
	cfg->verbose = o->verbose;
}

/* Reads the credentials, the only time they are read, then wipes the secret's
 * environment variables. Prints why not. *ret_cred: caller frees with
 * cred_free() (or hands it to api_new). */
static int load_credentials(const struct options *o, struct cred **ret_cred)
{
	struct cred_diag diag = { 0 };
	struct cred *cred = NULL;
	int r;

	r = cred_load(o->profile, &cred, &diag);
	/* Whatever the outcome: cred_load copied what it took. */
	cred_scrub_environ();
	if (r < 0) {
		log_error("%s", diag.message[0] ? diag.message : "no usable credentials");
		return r;
	}
	if (diag.warning[0])
		log_warn("%s", diag.warning);
	log_debug("credentials from %s, kept in %s", diag.source,
		  cred_is_secure(cred) ? "the secure heap" : "the ordinary heap");
	*ret_cred = cred;
	return 0;
}

/* Builds a client that owns @cred (freed by api_free, also on failure). */
static int make_api(const struct options *o, struct cred *cred, struct metrics *metrics, struct api **ret_api)
{
	struct api_config cfg;
	int r;

	api_config_of(o, &cfg);
	cfg.metrics = metrics;
	r = api_new(&cfg, cred, ret_api);
	if (r < 0)
		log_error("cannot create the API client: %s", strerror(-r));
	return r;
}

/* The start-up check: one ListRegions with a client of its own, signing with a
 * copy of @cred (borrowed). On success *ret_list has the answer. */
static int check_api(const struct options *o, const struct cred *cred, struct metrics *metrics,
		     struct swas_region_list *ret_list)
{
	struct api_error err = { 0 };
	struct cred *copy;
	struct api *api;
	int r;

	r = cred_dup(cred, &copy);
	if (r < 0) {
		log_error("cannot copy the credentials: %s", strerror(-r));
		return r;
	}
	r = make_api(o, copy, metrics, &api);
	if (r < 0)
		return r;
	r = api_list_regions(api, ret_list, &err);
	if (r < 0) {
		if (err.code[0])
			log_error("ListRegions in %s was refused: %s: %s (RequestId %s, HTTP %d)",
				  o->home_region, err.code, err.message,
				  err.request_id[0] ? err.request_id : "-", err.http_status);
		else
			log_error("cannot reach the SWAS API for %s (endpoint %s): %s", o->home_region,
				  o->endpoint, err.message[0] ? err.message : strerror(-r));
	}
	api_free(api);
	return r;
}

/* Puts the region list into the cache: -o regions, else ListRegions' answer. */
static int seed_regions(struct cache *cache, const struct options *o, const struct swas_region_list *list)
{
	const char *ids[MAX_REGIONS_OPT];
	const char **all;
	char *copy;
	size_t n;
	int r;

	if (o->regions != NULL) {
		copy = strdup(o->regions);
		if (copy == NULL)
			return -ENOMEM;
		r = split_regions(copy, ids, MAX_REGIONS_OPT, &n);
		if (r == 0)
			r = cache_set_regions(cache, ids, n, true);
		free(copy);
		return r;
	}
	all = calloc(list->count ? list->count : 1, sizeof(*all));
	if (all == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < list->count; i++)
		all[i] = list->items[i].region_id;
	r = cache_set_regions(cache, all, list->count, false);
	free(all);
	return r;
}

/* Opens -o store (NULL if not given). Prints why not. */
static int open_store(const struct options *o, struct store **ret)
{
	struct store_config cfg = { .dir = o->store, .read_only = o->offline, .keep_days = o->store_days };
	char why[512] = "";
	int r;

	*ret = NULL;
	if (o->store == NULL)
		return 0;
	r = store_open(&cfg, ret, why, sizeof(why));
	if (r < 0)
		log_error("%s", why[0] ? why : strerror(-r));
	return r;
}

/* The start-up region list: ListRegions' answer (none offline), with the
 * store's regions added. An API that does not answer with a store mounts the
 * store; anything else that fails start-up exits. */
static int startup_regions(const struct options *o, const struct cred *cred, struct metrics *metrics,
			   struct store *store, struct fetcher *fetcher, struct swas_region_list *ret)
{
	int r = 0;

	bool down;

	if (!o->offline)
		r = check_api(o, cred, metrics, ret);
	down = r == -EIO && store != NULL;
	if (r < 0 && !down)
		return r;
	if (store != NULL)
		r = store_merge_regions(store, ret, r == 0 && !o->offline);
	if (r == 0 && down) {
		log_warn("the SWAS API does not answer: mounting the store %s, asking the API again in the "
			 "background",
			 o->store);
		fetcher_store_api_down(fetcher, ret);
	}
	return r;
}

/* One line at exit on what the cache held and did, to size max_cache by
 * (and for the memory benchmark). */
static void log_cache_stats(struct cache *cache, size_t max_bytes)
{
	struct cache_stats st;

	cache_get_stats(cache, &st);
	log_info("cache at exit: %zu bytes in %zu entries (max_cache %zu), %lu dropped to stay within it, "
		 "%lu hits, %lu misses",
		 st.bytes, st.slots, max_bytes, st.evictions, st.hits, st.misses);
}

/* One line at exit on what the store did (for the report and benchmarks). */
static void log_store_stats(struct store *store)
{
	struct store_stats st;

	if (store == NULL)
		return;
	store_get_stats(store, &st);
	log_info("store at exit: %lu records written (%lu queued, %lu dropped: queue full, %lu failed), "
		 "%lu group commits, %lu bad records dropped, %lu pruned, %lu instance logs read, index %zu "
		 "bytes",
		 st.written, st.queued, st.dropped, st.failed, st.commits, st.bad, st.pruned, st.loaded,
		 st.index_bytes);
}

static int run_session(struct fuse_session *se, const struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *loop;
	int r;

	if (opts->singlethread)
		return fuse_session_loop(se);
	loop = fuse_loop_cfg_create();
	if (loop == NULL)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(loop, (unsigned)opts->clone_fd);
	fuse_loop_cfg_set_max_threads(loop, opts->max_threads);
	r = fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	return r;
}

/* What the exit-signal handler touches, set before it is installed. */
static struct fuse_session *volatile signal_session;
static struct fetcher *volatile signal_fetcher;

/*
 * SIGTERM, SIGINT, SIGHUP. libfuse's own handler only ends the loop, and the
 * loop then joins its workers, which may be waiting minutes for the API (a
 * hung server, the ListInstances limiter). So first cancel the fetcher and
 * the client under it: every request in flight, backoff and limiter wait
 * ends with ECANCELED, the readers behind them get EIO, and the workers come
 * back. Both calls are async-signal-safe: fetcher_cancel is api_cancel
 * (fetcher.h requires every fetcher's cancel to be), an atomic exchange and
 * a write(2), and fuse_session_exit sets a flag (libfuse's handler calls it
 * the same way).
 * libfuse blocks these signals in its worker threads, so the main thread,
 * waiting for the loop, is the one interrupted.
 */
static void on_exit_signal(int sig)
{
	(void)sig;
	fetcher_cancel(signal_fetcher);
	fuse_session_exit(signal_session);
}

static const int exit_signals[] = { SIGTERM, SIGINT, SIGHUP };

/* Installs on_exit_signal for exit_signals and ignores SIGPIPE (a reader
 * gone is not our death), as fuse_set_signal_handlers does. */
static int signals_install(struct fuse_session *se, struct fetcher *fetcher)
{
	struct sigaction sa = { 0 };

	signal_session = se;
	signal_fetcher = fetcher;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the loop's wait must return EINTR to see the exit flag. */
	sa.sa_handler = on_exit_signal;
	for (size_t i = 0; i < sizeof(exit_signals) / sizeof(exit_signals[0]); i++)
		if (sigaction(exit_signals[i], &sa, NULL) != 0)
			return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -errno;
	return 0;
}

static void signals_remove(void)
{
	struct sigaction sa = { 0 };

	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(exit_signals) / sizeof(exit_signals[0]); i++)
		sigaction(exit_signals[i], &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	signal_session = NULL;
	signal_fetcher = NULL;
}

/* libfuse logs some messages in pieces; ours are whole lines. */
__attribute__((format(printf, 2, 0))) static void fuse_log_to_ours(enum fuse_log_level level, const char *fmt,
								   va_list ap)
{
	static __thread char line[1024];
	static __thread size_t used;
	enum log_level l = level <= FUSE_LOG_ERR       ? LOG_LEVEL_ERROR
			   : level == FUSE_LOG_WARNING ? LOG_LEVEL_WARNING
			   : level <= FUSE_LOG_INFO    ? LOG_LEVEL_INFO
						       : LOG_LEVEL_DEBUG;
	int n;

	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	if (n < 0)
		return;
	used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;
	if (used > 0 && line[used - 1] != '\n' && used < sizeof(line) - 1)
		return;
	if (used > 0 && line[used - 1] == '\n')
		line[--used] = '\0';
	log_msg(l, "%s", line);
	used = 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options o = {
		.cache_ttl = DEFAULT_CACHE_TTL,
		.instance_ttl = DEFAULT_INSTANCE_TTL,
		.jobs = DEFAULT_JOBS,
		.timeout = DEFAULT_TIMEOUT,
		.retry_budget = DEFAULT_RETRY_BUDGET,
	};
	struct swas_region_list regions = { 0 };
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse_session *se = NULL;
	struct cache *cache = NULL;
	struct api *api = NULL;
	struct fetcher *fetcher = NULL, *api_fetcher = NULL;
	struct store *store = NULL;
	struct fs *fs = NULL;
	struct tree *tree = NULL;
	struct bg *bg = NULL;
	struct metrics metrics = { 0 };
	struct stats_source stats = { .version = SWASFS_VERSION,
				      .metrics = &metrics,
				      .start_ms = stats_now_ms() };
	size_t max_bytes = 0;
	struct cred *cred = NULL; /* after make_api: borrowed from api, valid until api_free */
	const char *env;
	int ret = 1, r;

	/* First, before any secret is read: no core dump, and other processes of
	 * the same user can neither ptrace us nor read /proc/PID/mem (our
	 * /proc/PID files become root's). fuse_daemonize's fork keeps this;
	 * -o dumpable undoes it below. */
	r = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno;
	log_init(false, LOG_LEVEL_INFO);
	if (r < 0)
		log_warn("cannot make the process non-dumpable: %s", strerror(-r));
	fuse_set_log_func(fuse_log_to_ours);
	if (fuse_opt_parse(&args, &o, swasfs_opts, NULL) != 0)
		goto out_args;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_args;
	if (opts.show_help) {
		print_usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (opts.show_version) {
		printf("swasfs %s\n", SWASFS_VERSION);
		printf("libfuse %s, %s\n", fuse_pkgversion(), curl_version());
		ret = 0;
		goto out_args;
	}
	if (opts.mountpoint == NULL) {
		fprintf(stderr, "swasfs: no mountpoint given (see %s --help)\n", argv[0]);
		goto out_args;
	}
	if (o.endpoint == NULL && (o.endpoint = strdup(DEFAULT_ENDPOINT)) == NULL)
		goto out_args;
	env = getenv("ALIBABA_CLOUD_REGION_ID");
	if (o.home_region == NULL &&
	    (o.home_region = strdup(env && *env ? env : DEFAULT_HOME_REGION)) == NULL)
		goto out_args;
	if (check_options(&o) < 0)
		goto out_args;
	log_init(false, o.verbose || opts.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (o.dumpable) {
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
			log_warn("-o dumpable: %s", strerror(errno));
		else
			log_warn("-o dumpable: core dumps and debuggers can read the AccessKey secret");
	}
	r = cred_secure_heap_init();
	if (r < 0)
		log_debug("secure heap: %s; credentials are %s", strerror(-r),
			  r == -EPERM ? "in memory that may be swapped or dumped" : "on the ordinary heap");

	/* glibc gives each thread that allocates under contention an arena of
	 * its own, up to 8 per core, and memory freed in one arena is not
	 * reused by threads allocating from another: with FUSE workers and
	 * refresh threads filling and dropping cache snapshots, the process
	 * would grow far past what the cache holds (max_cache). Two arenas keep
	 * freed memory in use; set before any thread exists. */
	if (mallopt(M_ARENA_MAX, MALLOC_ARENAS) != 1)
		log_debug("mallopt(M_ARENA_MAX) was refused; freed memory may be reused less");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* Read-only, no atime updates (they would cost a GETATTR per read), and
	 * the kernel checks the 0555/0444 modes. */
	if (fuse_opt_add_arg(&args, "-oro,noatime,default_permissions,fsname=swasfs,subtype=swasfs") != 0)
		goto out_fs;
	{
		struct tree_config tcfg = {
			.uid = getuid(),
			.gid = getgid(),
			.mount_time = time(NULL),
			.results = !o.no_results,
			.version = SWASFS_VERSION,
			.render_stats = stats_render,
			.stats_arg = &stats,
		};
		/* Nothing here opens a connection or starts a thread (bg starts
		 * its threads in FUSE's init): safe before the fork. */
		struct cache_config ccfg = { .cache_ttl_s = o.cache_ttl, .instance_ttl_s = o.instance_ttl };
		struct bg_config bcfg = { .job_threads = o.jobs };

		if (max_cache_of(&o, &max_bytes) < 0)
			goto out_fs;
		ccfg.max_bytes = max_bytes;
		if (bg_new(&bcfg, &bg) < 0)
			goto out_fs;
		ccfg.bg = bg;
		/* The store first: a second mount on it is refused before anything else. */
		if (open_store(&o, &store) < 0)
			goto out_fs;
		/* Offline: no credentials and no API client at all. */
		if (!o.offline &&
		    (load_credentials(&o, &cred) < 0 || make_api(&o, cred, &metrics, &api) < 0 ||
		     fetcher_api_new(api, &api_fetcher) < 0))
			goto out_fs;
		fetcher = api_fetcher;
		if (store != NULL &&
		    (fetcher_store_new(store, api_fetcher, &fetcher) < 0 || store_start(store, bg) < 0))
			goto out_fs;
		if (cache_new(fetcher, &ccfg, &cache) < 0 || tree_new(&tcfg, cache, bg, &tree) < 0 ||
		    fs_new(tree, bg, &fs) < 0)
			goto out_fs;
		stats.cache = cache;
		stats.tree = tree;
	}
	/* Parses the FUSE options: a typo fails here, before any API call. */
	se = fuse_session_new(&args, fs_operations(), sizeof(struct fuse_lowlevel_ops), fs);
	if (se == NULL)
		goto out_fs;
	fs_set_session(fs, se);
	if (startup_regions(&o, cred, &metrics, store, fetcher, &regions) < 0 ||
	    seed_regions(cache, &o, &regions) < 0)
		goto out_session;
	if (signals_install(se, fetcher) < 0)
		goto out_signals;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_unmount;
	if (!opts.foreground) {
		log_init(true, o.verbose || opts.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
		/* The fork dropped the secure heap's memory lock (offline: no credentials). */
		r = cred != NULL ? cred_lock_pages(cred) : 0;
		if (r < 0)
			log_debug("cannot lock the credentials in memory: %s", strerror(-r));
	}
	ret = run_session(se, &opts);
	/* An exit signal ends the loop with 0 (libfuse's own handler would have
	 * reported the signal number); either is a clean exit. */
	ret = ret == 0 || ret == SIGINT || ret == SIGTERM || ret == SIGHUP ? 0 : 1;
	/* No reader is left: refreshes still running in the background stop
	 * now instead of spending their retry budget (cache_free waits for
	 * them). */
	fetcher_cancel(fetcher);
	log_cache_stats(cache, max_bytes);
	/* The store's writer (a bg service, started with the others in FUSE's
	 * init) stores what is queued and commits before it returns. */
	bg_stop(bg);
	log_store_stats(store);

out_unmount:
	fuse_session_unmount(se);
out_signals:
	signals_remove();
out_session:
	fuse_session_destroy(se);
out_fs:
	/* Every background thread ends before what it uses goes (fs_destroy
	 * stopped them already if the session started). */
	bg_stop(bg);
	fs_free(fs);
	tree_free(tree);
	cache_free(cache);
	bg_free(bg);
	if (fetcher != api_fetcher)
		fetcher_free(fetcher);
	fetcher_free(api_fetcher);
	store_free(store);
	api_free(api);
	swas_region_list_done(&regions);
	curl_global_cleanup();
out_args:
	free(opts.mountpoint);
	free(o.regions);
	free(o.endpoint);
	free(o.home_region);
	free(o.profile);
	free(o.cafile);
	free(o.max_cache);
	free(o.store);
	fuse_opt_free_args(&args);
	return ret;
}
