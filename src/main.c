// SPDX-License-Identifier: MIT
/*
 * main: command line, start-up checks, and the FUSE session's life.
 *
 * Start-up follows README.md: find credentials, call ListRegions once with
 * a throw-away client (so a bad key or endpoint exits 1 before mounting), then
 * mount, daemonise unless -f, and only then build the real client: no thread
 * and no connection may exist across fuse_daemonize()'s fork.
 *
 * Invoked as a mount helper (mount -t fuse.swasfs, mount.fuse3, fstab), it
 * takes `swasfs [SOURCE] MOUNTPOINT -o ...`: SOURCE names the credentials
 * profile, and the options that belong to mount(8) or systemd are dropped
 * (helper_proc). As a systemd service it tells the manager when the mount
 * answers (READY=1) and when it stops (STOPPING=1), and SIGHUP marks the cache
 * stale instead of ending the daemon (service.h).
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
#include "readahead.h"
#include "sdnotify.h"
#include "service.h"
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
/* SOURCE values that mean "no profile: the default chain". */
static const char *const default_sources[] = { "default", "swas" };
/* max_cache: below 64 KiB a walk would drop what it has just read; above
 * 1 TiB the number is a typo. */
#define MIN_MAX_CACHE ((unsigned long long)64u << 10)
#define MAX_MAX_CACHE ((unsigned long long)1u << 40)
/* glibc arenas: see main(). */
#define MALLOC_ARENAS 2

struct options {
	char *source;	  /* SOURCE: the first of two arguments */
	char *mountpoint; /* the last argument */
	unsigned nargs;	  /* arguments that are not options */
	char *log_file;
	char *regions;
	char *endpoint;
	char *home_region;
	char *profile;
	char *cafile;
	char *max_cache;
	char *sts_endpoint;
	char *metadata_endpoint;
	unsigned cache_ttl;
	unsigned instance_ttl;
	unsigned jobs;
	unsigned timeout;
	unsigned retry_budget;
	int verbose;
	int no_results;
	int readahead; /* -1: jobs */
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
					       OPT("sts_endpoint=%s", sts_endpoint),
					       OPT("metadata_endpoint=%s", metadata_endpoint),
					       OPT("cache_ttl=%u", cache_ttl),
					       OPT("instance_ttl=%u", instance_ttl),
					       OPT("max_cache=%s", max_cache),
					       OPT("jobs=%u", jobs),
					       OPT("readahead=%d", readahead),
					       OPT("timeout=%u", timeout),
					       OPT("retry_budget=%u", retry_budget),
					       OPT("verbose", verbose),
					       OPT("no_results", no_results),
					       OPT("dumpable", dumpable),
					       OPT("log=%s", log_file),
					       OPT("store=%s", store),
					       OPT("offline", offline),
					       OPT("store_days=%u", store_days),
					       FUSE_OPT_END };

/*
 * Options of mount(8), fstab and systemd that reach us through mount.fuse3 or
 * a direct call: not ours and not the kernel's, so dropped. mount.fuse3 drops
 * _netdev, nofail, auto, noauto, user, nouser and users itself but passes the
 * others; a mount.fuse.swasfs helper or a unit calling us directly passes
 * them all. rw and ro: the mount is read-only whatever is asked (main adds
 * -o ro last). dev, suid, exec and their no forms go on to libfuse, which
 * knows them (main adds nosuid,nodev last).
 */
static const char *const mount_only_opts[] = { "_netdev",  "nofail", "auto",  "noauto", "user",
					       "nouser",   "users",  "owner", "group",	"nogroup",
					       "defaults", "rw",     "ro" };
/* ... and any option starting with one of these (x-systemd.automount,
 * x-systemd.requires=..., x-gvfs-show, comment=...). */
static const char *const mount_only_prefixes[] = { "x-", "comment=" };

static bool is_mount_only_opt(const char *arg)
{
	for (size_t i = 0; i < sizeof(mount_only_opts) / sizeof(mount_only_opts[0]); i++)
		if (strcmp(arg, mount_only_opts[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(mount_only_prefixes) / sizeof(mount_only_prefixes[0]); i++)
		if (strncmp(arg, mount_only_prefixes[i], strlen(mount_only_prefixes[i])) == 0)
			return true;
	return false;
}

/* Arguments at most: SOURCE and MOUNTPOINT. */
#define MAX_ARGS 2u

/*
 * fuse_opt_parse's callback for what swasfs_opts does not match: mount-only
 * options are dropped; the arguments that are not options are taken out
 * (SOURCE and MOUNTPOINT, the mount point put back by main for
 * fuse_parse_cmdline); everything else is FUSE's.
 */
static int helper_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;
	char *copy;

	(void)outargs;
	if (key == FUSE_OPT_KEY_OPT)
		return is_mount_only_opt(arg) ? 0 : 1;
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (++o->nargs > MAX_ARGS) {
		fprintf(stderr, "swasfs: too many arguments: %s (usage: swasfs [SOURCE] MOUNTPOINT)\n", arg);
		return -1;
	}
	copy = strdup(arg);
	if (copy == NULL)
		return -1;
	free(o->source);
	o->source = o->mountpoint;
	o->mountpoint = copy;
	return 0;
}

static bool is_default_source(const char *source)
{
	for (size_t i = 0; i < sizeof(default_sources) / sizeof(default_sources[0]); i++)
		if (strcmp(source, default_sources[i]) == 0)
			return true;
	return false;
}

/* SOURCE names the profile unless it is a default_sources word; with -o
 * profile= too, both must name the same one. Prints why and returns -EINVAL
 * on a conflict. */
static int profile_from_source(struct options *o)
{
	if (o->source == NULL || is_default_source(o->source))
		return 0;
	if (o->profile != NULL) {
		if (strcmp(o->profile, o->source) == 0)
			return 0;
		fprintf(stderr,
			"swasfs: SOURCE names the profile %s but -o profile= names %s: give one of them\n",
			o->source, o->profile);
		return -EINVAL;
	}
	o->profile = strdup(o->source);
	return o->profile != NULL ? 0 : -ENOMEM;
}

static void print_usage(const char *prog)
{
	printf("usage: %s [options] [SOURCE] MOUNTPOINT\n"
	       "       %s --help | --version\n\n"
	       "Mounts Alibaba Cloud Simple Application Server command history:\n"
	       "  MOUNTPOINT/<region>/<instance>/<InvokeStatus>/<invoke-id>/\n"
	       "      command parameters.json metadata.json output result.json\n\n"
	       "SOURCE, if given, is the credentials profile, as -o profile= (default or swas:\n"
	       "the default chain); so mount -t fuse.swasfs PROFILE MOUNTPOINT and fstab work.\n"
	       "mount(8), fstab and systemd options (_netdev, nofail, noauto, user, defaults,\n"
	       "comment=, x-*, rw) are ignored; the mount is always read-only.\n\n"
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
	       "    -o sts_endpoint=URL     STS endpoint for every role-based source (default:\n"
	       "                            the official rule, https://sts.aliyuncs.com or\n"
	       "                            https://sts[-vpc].$ALIBABA_CLOUD_STS_REGION.aliyuncs.com)\n"
	       "    -o metadata_endpoint=URL  ECS metadata service for the instance RAM role\n"
	       "                            (default %s)\n"
	       "    -o jobs=N               API requests in flight at once (default %d)\n"
	       "    -o timeout=SECONDS      limit for one API request (default %d)\n"
	       "    -o retry_budget=SECONDS time for all retries of one call (default %d)\n"
	       "    -o readahead=N          results and listings fetched ahead of a walk, at most N at\n"
	       "                            once (default: jobs; 0 turns it off)\n"
	       "    -o no_results           leave output and result.json out of the tree\n"
	       "    -o verbose              log one line per API call\n"
	       "    -o log=FILE             append log lines to FILE (timestamped; reopened on\n"
	       "                            SIGHUP) instead of stderr (-f) or syslog\n"
	       "    -o dumpable             let the daemon dump core and be traced by its user\n"
	       "                            (for debugging: core dumps then hold the secret)\n"
	       "    -o store=DIR            keep what the mount sees in DIR (0700), so history\n"
	       "                            outlives the API's two weeks; stored results are\n"
	       "                            served from disk (default: off)\n"
	       "    -o offline              with store=: mount the store alone, no credentials,\n"
	       "                            no network\n"
	       "    -o store_days=N         with store=: prune invocations created more than N\n"
	       "                            days ago (N >= 14; default: keep everything)\n\n"
	       "Credentials, the official default chain, first found wins: ALIBABA_CLOUD_ACCESS_KEY_ID\n"
	       "and ALIBABA_CLOUD_ACCESS_KEY_SECRET (+ ALIBABA_CLOUD_SECURITY_TOKEN); OIDC\n"
	       "(ALIBABA_CLOUD_ROLE_ARN, _OIDC_PROVIDER_ARN, _OIDC_TOKEN_FILE); the aliyun CLI's\n"
	       "~/.aliyun/config.json; the ini file $ALIBABA_CLOUD_CREDENTIALS_FILE or\n"
	       "~/.alibabacloud/credentials; the ECS instance RAM role; ALIBABA_CLOUD_CREDENTIALS_URI.\n"
	       "Temporary credentials are renewed before they expire. Secrets are never accepted\n"
	       "on the command line.\n\n"
	       "Signals: SIGTERM and SIGINT unmount and exit 0; SIGHUP marks every cached\n"
	       "listing stale (the next access asks the API) and reopens the log file.\n"
	       "With $NOTIFY_SOCKET (systemd Type=notify, with -f) READY=1 is sent once the\n"
	       "mount answers, STOPPING=1 on the way out.\n\n"
	       "FUSE options:\n",
	       prog, prog, DEFAULT_ENDPOINT, DEFAULT_HOME_REGION, DEFAULT_CACHE_TTL, DEFAULT_INSTANCE_TTL,
	       CRED_METADATA_ENDPOINT, DEFAULT_JOBS, DEFAULT_TIMEOUT, DEFAULT_RETRY_BUDGET);
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
	if (o->readahead < -1 || o->readahead > (int)MAX_JOBS) {
		fprintf(stderr, "swasfs: readahead must be between 0 and %u\n", MAX_JOBS);
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
	if ((o->sts_endpoint != NULL && strstr(o->sts_endpoint, "://") == NULL) ||
	    (o->metadata_endpoint != NULL && strstr(o->metadata_endpoint, "://") == NULL)) {
		fprintf(stderr, "swasfs: sts_endpoint and metadata_endpoint must be URLs such as "
				"http://127.0.0.1:8080\n");
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

/* Resolves the credentials chain (the only time the environment and the
 * files are searched), then wipes the secret's environment variables. Prints
 * why not. *ret: caller frees with cred_provider_free(). */
static int load_credentials(const struct options *o, struct metrics *metrics, struct cred_provider **ret)
{
	struct cred_options copt = {
		.metrics = metrics,
		.profile = o->profile,
		.sts_endpoint = o->sts_endpoint,
		.metadata_endpoint = o->metadata_endpoint,
		.cafile = o->cafile,
		.timeout_s = o->timeout,
	};
	struct cred_diag diag = { 0 };
	struct cred_provider *p = NULL;
	struct cred *cred;
	int r;

	r = cred_provider_new(&copt, &p, &diag);
	/* Whatever the outcome: the chain copied what it took. */
	cred_scrub_environ();
	if (r < 0) {
		log_error("%s", diag.message[0] ? diag.message : "no usable credentials");
		return r;
	}
	if (diag.warning[0])
		log_warn("%s", diag.warning);
	if (cred_provider_get(p, &cred) == 0) {
		log_debug("credentials from %s, kept in %s", diag.source,
			  cred_is_secure(cred) ? "the secure heap" : "the ordinary heap");
		cred_free(cred);
	}
	*ret = p;
	return 0;
}

static int make_readahead(const struct options *o, struct cache *cache, struct bg *bg,
			  struct metrics *metrics, struct readahead **ret)
{
	struct readahead_config cfg = {
		.window = o->readahead < 0 ? o->jobs : (unsigned)o->readahead,
		.cache = cache,
		.bg = bg,
		.metrics = metrics,
		.verbose = o->verbose,
	};

	return readahead_new(&cfg, ret);
}

/* Builds a client signing with @creds (borrowed). */
static int make_api(const struct options *o, struct cred_provider *creds, struct metrics *metrics,
		    struct api **ret_api)
{
	struct api_config cfg;
	int r;

	api_config_of(o, &cfg);
	cfg.credentials = creds;
	cfg.metrics = metrics;
	r = api_new(&cfg, NULL, ret_api);
	if (r < 0)
		log_error("cannot create the API client: %s", strerror(-r));
	return r;
}

/* @tmpl with every "{region}" replaced by @region, into @buf (cut to fit):
 * the URL a request for @region goes to, for messages. */
static const char *endpoint_url(const char *tmpl, const char *region, char *buf, size_t size)
{
	const char *p = tmpl, *hit;
	size_t used = 0;
	int n;

	buf[0] = '\0';
	while ((hit = strstr(p, "{region}")) != NULL) {
		n = snprintf(buf + used, size - used, "%.*s%s", (int)(hit - p), p, region);
		if (n < 0 || (size_t)n >= size - used)
			return buf;
		used += (size_t)n;
		p = hit + strlen("{region}");
	}
	snprintf(buf + used, size - used, "%s", p);
	return buf;
}

/* The start-up check: one ListRegions with a client of its own. On success
 * *ret_list has the answer. */
static int check_api(const struct options *o, struct cred_provider *creds, struct metrics *metrics,
		     struct swas_region_list *ret_list)
{
	struct api_error err = { 0 };
	char url[PATH_MAX];
	struct api *api;
	int r;

	r = make_api(o, creds, metrics, &api);
	if (r < 0)
		return r;
	r = api_list_regions(api, ret_list, &err);
	if (r < 0) {
		if (err.code[0])
			log_error("ListRegions in %s was refused: %s: %s (RequestId %s, HTTP %d)",
				  o->home_region, err.code, err.message,
				  err.request_id[0] ? err.request_id : "-", err.http_status);
		else
			log_error("cannot reach the SWAS API for %s at %s: %s", o->home_region,
				  endpoint_url(o->endpoint, o->home_region, url, sizeof(url)),
				  err.message[0] ? err.message : strerror(-r));
	}
	api_free(api);
	return r;
}

static bool is_known_region(const struct swas_region_list *list, const char *id)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->items[i].region_id, id) == 0)
			return true;
	return false;
}

/* Every -o regions entry must be one ListRegions named: a typo would show an
 * empty directory whose every listing fails. Prints the known ones and
 * returns -EINVAL otherwise. */
static int check_regions(const char *const *ids, size_t n, const struct swas_region_list *list)
{
	char known[4096];
	size_t used = 0;
	int r = 0, k;

	for (size_t i = 0; i < n; i++) {
		if (is_known_region(list, ids[i]))
			continue;
		if (r == 0) {
			known[0] = '\0';
			for (size_t j = 0; j < list->count && used < sizeof(known); j++) {
				k = snprintf(known + used, sizeof(known) - used, "%s%s", j ? ", " : "",
					     list->items[j].region_id);
				if (k < 0)
					break;
				used += (size_t)k;
			}
		}
		log_error("regions=: ListRegions does not know %s; the regions it knows: %s", ids[i],
			  list->count ? known : "(none)");
		r = -EINVAL;
	}
	return r;
}

/* Puts the region list into the cache: -o regions (each checked against
 * ListRegions' answer), else ListRegions' answer. */
/* @checked: @list is ListRegions' answer, which -o regions must agree with
 * (not so offline, or with the API down: then it is the store's). */
static int seed_regions(struct cache *cache, const struct options *o, const struct swas_region_list *list,
			bool checked)
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
		if (r == 0 && checked)
			r = check_regions(ids, n, list);
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
static int startup_regions(const struct options *o, struct cred_provider *creds, struct metrics *metrics,
			   struct store *store, struct fetcher *fetcher, struct swas_region_list *ret,
			   bool *ret_from_api)
{
	int r = 0;

	bool down;

	if (!o->offline)
		r = check_api(o, creds, metrics, ret);
	down = r == -EIO && store != NULL;
	if (r < 0 && !down)
		return r;
	*ret_from_api = r == 0 && !o->offline;
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
		 "%lu group commits, %lu bad records dropped, %lu pruned, %lu instance logs read, %lu "
		 "archived "
		 "records read back, index %zu bytes",
		 st.written, st.queued, st.dropped, st.failed, st.commits, st.bad, st.pruned, st.loaded,
		 st.read, st.index_bytes);
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

/* What the signal handlers touch, set before they are installed. */
static struct fuse_session *volatile signal_session;
static struct fetcher *volatile signal_fetcher;
static struct service *volatile signal_service;

/*
 * SIGTERM, SIGINT. libfuse's own handler only ends the loop, and the
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

static const int exit_signals[] = { SIGTERM, SIGINT };

/* SIGHUP (systemd's ExecReload, logrotate's postrotate): the service thread
 * reloads; service_reload_from_signal is one write(2) to a non-blocking pipe. */
static void on_reload_signal(int sig)
{
	(void)sig;
	service_reload_from_signal(signal_service);
}

/* Installs on_exit_signal for exit_signals, on_reload_signal for SIGHUP, and
 * ignores SIGPIPE (a reader gone is not our death), as
 * fuse_set_signal_handlers does. */
static int signals_install(struct fuse_session *se, struct fetcher *fetcher, struct service *service)
{
	struct sigaction sa = { 0 };

	signal_session = se;
	signal_fetcher = fetcher;
	signal_service = service;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the loop's wait must return EINTR to see the exit flag. */
	sa.sa_handler = on_exit_signal;
	for (size_t i = 0; i < sizeof(exit_signals) / sizeof(exit_signals[0]); i++)
		if (sigaction(exit_signals[i], &sa, NULL) != 0)
			return -errno;
	sa.sa_handler = on_reload_signal;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGHUP, &sa, NULL) != 0)
		return -errno;
	sa.sa_flags = 0;
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
	/* A late logrotate must not kill the daemon while it cleans up. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	signal_session = NULL;
	signal_fetcher = NULL;
	signal_service = NULL;
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

/*
 * The service's on_reload hook: after the cache was marked stale, every
 * directory the kernel holds has its attributes and cached entries dropped
 * (the tree's notifier sends them from its own thread), so the next access
 * reaches the tree and the cache, which then asks the API.
 */
static void invalidate_kernel_dirs(void *arg)
{
	tree_invalidate_dirs(arg);
}

/* Log lines once the mount is up: -o log's file, else stderr in the
 * foreground, else syslog. */
static unsigned running_sinks(const struct options *o, bool foreground)
{
	if (o->log_file != NULL)
		return LOG_SINK_FILE;
	return foreground ? LOG_SINK_STDERR : LOG_SINK_SYSLOG;
}

/* Everything the daemon runs, built in the order below and freed in reverse
 * (daemon_free). One per process; main owns it. */
struct daemon {
	struct options o;
	struct fuse_args args;
	struct fuse_cmdline_opts opts;
	enum log_level level;
	struct sdnotify *notify;
	struct metrics metrics;
	struct stats_source stats;
	size_t max_bytes;
	struct bg *bg;
	struct store *store;
	struct cred_provider *creds;
	struct api *api;
	struct fetcher *api_fetcher; /* NULL offline */
	struct fetcher *fetcher;     /* what the cache asks: the store's, else api_fetcher */
	struct cache *cache;
	struct readahead *readahead;
	struct tree *tree;
	struct fs *fs;
	struct fuse_session *se;
	struct swas_region_list regions;
	struct service *service;
	bool signals; /* our handlers are installed */
	bool mounted; /* fuse_session_mount succeeded */
	bool curl;    /* curl_global_init ran */
};

/*
 * The command line, the environment's defaults and the log's sinks. Returns
 * 0 to go on; 1 when there is nothing more to do (--help, --version) and
 * -EINVAL when the command line is wrong (said on stderr).
 */
static int parse_command_line(struct daemon *d, const char *prog)
{
	struct options *o = &d->o;
	unsigned start_sinks = LOG_SINK_STDERR;
	const char *env;
	int r;

	if (fuse_opt_parse(&d->args, o, swasfs_opts, helper_proc) != 0)
		return -EINVAL;
	/* fuse_parse_cmdline takes one argument, the mount point. */
	if (o->mountpoint != NULL && fuse_opt_add_arg(&d->args, o->mountpoint) != 0)
		return -ENOMEM;
	if (fuse_parse_cmdline(&d->args, &d->opts) != 0)
		return -EINVAL;
	if (d->opts.show_help) {
		print_usage(prog);
		return 1;
	}
	if (d->opts.show_version) {
		printf("swasfs %s\n", SWASFS_VERSION);
		printf("libfuse %s, %s\n", fuse_pkgversion(), curl_version());
		return 1;
	}
	if (d->opts.mountpoint == NULL) {
		fprintf(stderr, "swasfs: no mountpoint given (see %s --help)\n", prog);
		return -EINVAL;
	}
	if (o->endpoint == NULL && (o->endpoint = strdup(DEFAULT_ENDPOINT)) == NULL)
		return -ENOMEM;
	env = getenv("ALIBABA_CLOUD_REGION_ID");
	if (o->home_region == NULL &&
	    (o->home_region = strdup(env && *env ? env : DEFAULT_HOME_REGION)) == NULL)
		return -ENOMEM;
	if (check_options(o) < 0 || profile_from_source(o) < 0)
		return -EINVAL;
	d->level = o->verbose || d->opts.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
	if (o->log_file != NULL) {
		r = log_open_file(o->log_file);
		if (r < 0) {
			fprintf(stderr, "swasfs: log=%s: %s\n", o->log_file, strerror(-r));
			return -EINVAL;
		}
		/* Start-up problems also reach whoever started us. */
		start_sinks |= LOG_SINK_FILE;
	}
	log_set_sinks(start_sinks, d->level);
	return 0;
}

/* What must hold before any secret is read or any thread exists. */
static void prepare_process(const struct options *o)
{
	int r;

	if (o->dumpable) {
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
}

/*
 * The layers, bottom up: bg, store, credentials and API client (none
 * offline), fetchers, cache, readahead, tree, FUSE adapter. Nothing here
 * opens a connection or starts a thread (bg starts its threads in FUSE's
 * init): safe before the fork. Prints why it fails.
 */
static int build_layers(struct daemon *d)
{
	const struct options *o = &d->o;
	struct tree_config tcfg = {
		.uid = getuid(),
		.gid = getgid(),
		.mount_time = time(NULL),
		.results = !o->no_results,
		.version = SWASFS_VERSION,
		.render_stats = stats_render,
		.stats_arg = &d->stats,
	};
	struct cache_config ccfg = { .cache_ttl_s = o->cache_ttl, .instance_ttl_s = o->instance_ttl };
	struct bg_config bcfg = { .job_threads = o->jobs };

	if (max_cache_of(o, &d->max_bytes) < 0 || bg_new(&bcfg, &d->bg) < 0)
		return -EINVAL;
	ccfg.max_bytes = d->max_bytes;
	ccfg.bg = d->bg;
	/* The store first: a second mount on it is refused before anything else. */
	if (open_store(o, &d->store) < 0)
		return -EINVAL;
	/* Offline: no credentials and no API client at all. */
	if (!o->offline &&
	    (load_credentials(o, &d->metrics, &d->creds) < 0 ||
	     make_api(o, d->creds, &d->metrics, &d->api) < 0 || fetcher_api_new(d->api, &d->api_fetcher) < 0))
		return -EINVAL;
	d->fetcher = d->api_fetcher;
	if (d->store != NULL && (fetcher_store_new(d->store, d->api_fetcher, &d->fetcher) < 0 ||
				 store_start(d->store, d->bg) < 0))
		return -EINVAL;
	if (cache_new(d->fetcher, &ccfg, &d->cache) < 0 ||
	    make_readahead(o, d->cache, d->bg, &d->metrics, &d->readahead) < 0)
		return -ENOMEM;
	tcfg.readahead = d->readahead;
	if (tree_new(&tcfg, d->cache, d->bg, &d->tree) < 0 || fs_new(d->tree, d->bg, &d->fs) < 0)
		return -ENOMEM;
	d->stats.readahead = d->readahead;
	d->stats.store = d->store;
	d->stats.cache = d->cache;
	d->stats.tree = d->tree;
	return 0;
}

/* The FUSE session (its options parsed: a typo fails here, before any API
 * call), the start-up region list, and the service thread (not started). */
static int prepare_session(struct daemon *d)
{
	struct service_config scfg = {
		.mountpoint = d->opts.mountpoint,
		.notify = d->notify,
		.on_reload = invalidate_kernel_dirs,
	};
	bool regions_from_api = false;
	int r;

	d->se = fuse_session_new(&d->args, fs_operations(), sizeof(struct fuse_lowlevel_ops), d->fs);
	if (d->se == NULL)
		return -EINVAL;
	fs_set_session(d->fs, d->se);
	r = startup_regions(&d->o, d->creds, &d->metrics, d->store, d->fetcher, &d->regions,
			    &regions_from_api);
	if (r < 0 || (r = seed_regions(d->cache, &d->o, &d->regions, regions_from_api)) < 0)
		return r;
	scfg.cache = d->cache;
	scfg.on_reload_arg = d->tree;
	r = service_new(&scfg, &d->service);
	if (r < 0) {
		log_error("cannot set up the reload pipe: %s", strerror(-r));
		return r;
	}
	r = service_register(d->service, d->bg);
	if (r < 0)
		return r;
	r = signals_install(d->se, d->fetcher, d->service);
	d->signals = r == 0;
	return r;
}

/* After the fork: the log's running sinks, the credentials' memory lock
 * (the fork dropped it; credentials renewed later lock their own pages), and
 * renewal registered (a bg service, started with the others in FUSE's
 * init). */
static int after_fork(struct daemon *d)
{
	struct cred *cred;
	int r;

	log_set_sinks(running_sinks(&d->o, d->opts.foreground), d->level);
	if (!d->opts.foreground && d->creds != NULL && cred_provider_get(d->creds, &cred) == 0) {
		r = cred_lock_pages(cred);
		if (r < 0)
			log_debug("cannot lock the credentials in memory: %s", strerror(-r));
		cred_free(cred);
	}
	if (d->creds != NULL && cred_provider_start(d->creds, d->bg) < 0) {
		log_error("cannot start the credentials renewal");
		return -EAGAIN;
	}
	return 0;
}

/* Mounts, daemonises and serves until unmounted or signalled. Returns the
 * exit status. */
static int serve(struct daemon *d)
{
	int ret, r;

	if (fuse_session_mount(d->se, d->opts.mountpoint) != 0)
		return 1;
	d->mounted = true;
	if (fuse_daemonize(d->opts.foreground) != 0 || after_fork(d) < 0)
		return 1;
	/* FUSE's init starts bg (fs.c), the service thread with it: that
	 * thread checks that the mount answers, then says READY=1. */
	ret = run_session(d->se, &d->opts);
	r = sdnotify_send(d->notify, "STOPPING=1");
	if (r < 0)
		log_debug("cannot send STOPPING=1: %s", strerror(-r));
	/* No reader is left: refreshes still running in the background stop
	 * now instead of spending their retry budget (cache_free waits for
	 * them). */
	fetcher_cancel(d->fetcher);
	log_cache_stats(d->cache, d->max_bytes);
	/* The store's writer (a bg service, started with the others in FUSE's
	 * init) stores what is queued and commits before it returns. */
	bg_stop(d->bg);
	log_store_stats(d->store);
	/* An exit signal ends the loop with 0 (libfuse's own handler would have
	 * reported the signal number); either is a clean exit. */
	return ret == 0 || ret == SIGINT || ret == SIGTERM || ret == SIGHUP ? 0 : 1;
}

static void free_options(struct options *o)
{
	free(o->regions);
	free(o->endpoint);
	free(o->home_region);
	free(o->profile);
	free(o->cafile);
	free(o->max_cache);
	free(o->log_file);
	free(o->store);
	free(o->source);
	free(o->mountpoint);
	free(o->sts_endpoint);
	free(o->metadata_endpoint);
}

/* Undoes whatever of the above was done, in reverse. */
static void daemon_free(struct daemon *d)
{
	if (d->mounted)
		fuse_session_unmount(d->se);
	if (d->signals)
		signals_remove();
	/* fuse_session_unmount closed the FUSE device, which fails any request
	 * still waiting on it (the service thread's readiness check), so
	 * fs_destroy's bg_stop in here can join that thread. */
	if (d->se != NULL)
		fuse_session_destroy(d->se);
	/* Every background thread ends before what it uses goes (fs_destroy
	 * stopped them already if the session started). */
	if (d->bg != NULL)
		bg_stop(d->bg);
	service_free(d->service);
	fs_free(d->fs);
	tree_free(d->tree);
	readahead_free(d->readahead);
	cache_free(d->cache);
	bg_free(d->bg);
	if (d->fetcher != d->api_fetcher)
		fetcher_free(d->fetcher);
	fetcher_free(d->api_fetcher);
	store_free(d->store);
	api_free(d->api);
	cred_provider_free(d->creds);
	swas_region_list_done(&d->regions);
	if (d->curl)
		curl_global_cleanup();
	free(d->opts.mountpoint);
	free_options(&d->o);
	sdnotify_free(d->notify);
	fuse_opt_free_args(&d->args);
}

int main(int argc, char *argv[])
{
	struct daemon d = {
		.args = FUSE_ARGS_INIT(argc, argv),
		.o = {
			.cache_ttl = DEFAULT_CACHE_TTL,
			.instance_ttl = DEFAULT_INSTANCE_TTL,
			.jobs = DEFAULT_JOBS,
			.timeout = DEFAULT_TIMEOUT,
			.retry_budget = DEFAULT_RETRY_BUDGET,
			.readahead = -1,
		},
	};
	int ret = 1, r;

	d.stats = (struct stats_source){ .version = SWASFS_VERSION,
					 .metrics = &d.metrics,
					 .start_ms = stats_now_ms() };
	/* First, before any secret is read: no core dump, and other processes of
	 * the same user can neither ptrace us nor read /proc/PID/mem (our
	 * /proc/PID files become root's). fuse_daemonize's fork keeps this;
	 * -o dumpable undoes it. */
	r = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno;
	log_init(false, LOG_LEVEL_INFO);
	if (r < 0)
		log_warn("cannot make the process non-dumpable: %s", strerror(-r));
	fuse_set_log_func(fuse_log_to_ours);
	/* Read and removed from the environment first, whatever comes next. */
	if (sdnotify_new(&d.notify) < 0)
		log_warn("NOTIFY_SOCKET is neither an absolute path nor an @name: not notifying");
	r = parse_command_line(&d, argv[0]);
	if (r != 0) {
		ret = r > 0 ? 0 : 1;
		goto out;
	}
	prepare_process(&d.o);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	d.curl = true;
	/* Read-only, no atime updates (they would cost a GETATTR per read), and
	 * the kernel checks the 0555/0444 modes; no set-user-ID programs or
	 * device nodes, whatever a mount helper passed (dev, suid: these come
	 * last, so they win). */
	if (fuse_opt_add_arg(&d.args,
			     "-oro,nosuid,nodev,noatime,default_permissions,fsname=swasfs,subtype=swasfs") !=
		    0 ||
	    build_layers(&d) < 0 || prepare_session(&d) < 0)
		goto out;
	ret = serve(&d);
out:
	daemon_free(&d);
	return ret;
}
