// SPDX-License-Identifier: MIT
/*
 * credentials: struct cred (the secret's one home) and the credentials chain
 * of credentials.h: which source answers, read from which file, with errors
 * that name the file and line and a "no credentials" message that names every
 * place looked at. What a source does at run time (STS, the metadata
 * service, renewals, re-reading a changed file) is cred_provider.c's. The ini dialect is npm ini 1.3.8's, which the Node credentials library
 * uses: "[section]" lines, "key = value", full-line and unquoted inline "#"/";"
 * comments, quoted values taken literally. The CLI config is JSON, so its
 * parsing lives in json.c. Every buffer that held a secret is wiped with
 * OPENSSL_cleanse before it is freed. A struct cred is one allocation, in
 * OpenSSL's secure heap when there is one, so a single wipe, a single lock and
 * a single "is it secure" check cover the secret, the token and the id.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "credentials.h"
#include "credentials_i.h"
#include "json.h"

/* A credentials file is a few hundred bytes; anything huge is not one. */
#define CRED_MAX_FILE_BYTES (1u << 20)
/* AccessKey ids are ~24 chars, secrets ~30, STS tokens ~1-2 KiB. */
#define CRED_MAX_FIELD_BYTES 8192
#define CRED_DEFAULT_SECTION "default"
/* The secure heap's arena. OpenSSL wants a power of two. A struct cred is
 * ~100 bytes plus the token (STS tokens are 1-2 KiB), and the daemon holds at
 * most two at once (the start-up check's and the client's); the rest is for
 * OpenSSL's own secure allocations (HMAC keys, TLS key shares). 64 KiB is also
 * the kernel's default RLIMIT_MEMLOCK before Linux 5.16 (8 MiB since), so
 * mlock succeeds even under the old default. */
#define CRED_SECURE_HEAP_BYTES (64u * 1024)
/* The arena's smallest block: OpenSSL's buddy allocator needs a power of two. */
#define CRED_SECURE_HEAP_MIN_BLOCK 16u

/* The variables of the chain whose values are secrets. The AccessKey id, the
 * profile, the file path and ALIBABA_CLOUD_CLI_PROFILE_DISABLED are not. */
static const char *const secret_env_vars[] = {
	"ALIBABA_CLOUD_ACCESS_KEY_SECRET",
	"ALIBABA_CLOUD_SECURITY_TOKEN",
};

/* One allocation: this header, then the id, the secret and the token, each
 * NUL-terminated, so one wipe covers them all. */
struct cred {
	size_t size; /* of the whole allocation */
	atomic_uint refs;
	const char *access_key_id;
	const char *secret;
	const char *token; /* NULL unless STS */
	char strings[];
};

/* Zeroed memory in the secure heap, else the ordinary one. When the arena is
 * full OpenSSL returns NULL and queues an error; the credentials then go to
 * the ordinary heap (still wiped on free) rather than fail the mount, and the
 * error is dropped so no later ERR_get_error() caller sees it. */
static void *secure_zalloc(size_t size)
{
	void *p;

	ERR_set_mark();
	p = OPENSSL_secure_zalloc(size);
	ERR_pop_to_mark();
	if (!p && CRYPTO_secure_malloc_initialized())
		p = OPENSSL_zalloc(size);
	return p;
}

struct cred *cred_ref(struct cred *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void cred_free(struct cred *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	/* Wipes first; for memory outside the arena it wipes and calls OPENSSL_free. */
	OPENSSL_secure_clear_free(c, c->size);
}

int cred_new(const char *access_key_id, const char *secret, const char *token, struct cred **ret_cred)
{
	size_t id_len, secret_len, token_len, size;
	struct cred *c;
	char *p;

	if (!access_key_id || !*access_key_id || !secret || !*secret)
		return -EINVAL;
	id_len = strnlen(access_key_id, CRED_MAX_FIELD_BYTES + 1);
	secret_len = strnlen(secret, CRED_MAX_FIELD_BYTES + 1);
	token_len = token ? strnlen(token, CRED_MAX_FIELD_BYTES + 1) : 0;
	if (id_len > CRED_MAX_FIELD_BYTES || secret_len > CRED_MAX_FIELD_BYTES ||
	    token_len > CRED_MAX_FIELD_BYTES)
		return -EINVAL;
	size = sizeof(*c) + id_len + 1 + secret_len + 1 + (token_len ? token_len + 1 : 0);
	c = secure_zalloc(size);
	if (!c)
		return -ENOMEM;
	c->size = size;
	p = c->strings;
	c->access_key_id = memcpy(p, access_key_id, id_len + 1);
	p += id_len + 1;
	c->secret = memcpy(p, secret, secret_len + 1);
	p += secret_len + 1;
	if (token_len)
		c->token = memcpy(p, token, token_len + 1);
	atomic_init(&c->refs, 1);
	/* Renewals make new ones after fuse_daemonize's fork, which dropped
	 * the arena's lock: each locks its own pages (best effort). */
	if (cred_is_secure(c))
		(void)cred_lock_pages(c);
	*ret_cred = c;
	return 0;
}

int cred_dup(const struct cred *c, struct cred **ret_cred)
{
	return cred_new(c->access_key_id, c->secret, c->token, ret_cred) == 0 ? 0 : -ENOMEM;
}

int cred_secure_heap_init(void)
{
	static int result = 1; /* 1: not tried yet */

	if (result != 1)
		return result;
	ERR_set_mark();
	switch (CRYPTO_secure_malloc_init(CRED_SECURE_HEAP_BYTES, CRED_SECURE_HEAP_MIN_BLOCK)) {
	case 1:
		result = 0;
		break;
	case 2: /* OpenSSL: the arena works but mlock or madvise failed */
		result = -EPERM;
		break;
	default: /* could not map it, or OpenSSL was built without secure memory */
		result = -ENOMEM;
		break;
	}
	ERR_pop_to_mark();
	return result;
}

bool cred_is_secure(const struct cred *c)
{
	return CRYPTO_secure_allocated(c) != 0;
}

int cred_lock_pages(const struct cred *c)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)c & ~(page - 1), end = (uintptr_t)c + c->size;

	if (mlock((const void *)start, end - start) < 0)
		return -errno;
	return 0;
}

size_t cred_scrub_environ(void)
{
	size_t wiped = 0, i;
	char **e;

	for (i = 0; i < sizeof(secret_env_vars) / sizeof(secret_env_vars[0]); i++) {
		size_t len = strlen(secret_env_vars[i]);

		/* Every entry of that name (an environment may repeat one), in
		 * place: the pointers still lead into the execve block. */
		for (e = environ; e && *e; e++) {
			if (strncmp(*e, secret_env_vars[i], len) == 0 && (*e)[len] == '=') {
				OPENSSL_cleanse(*e + len + 1, strlen(*e + len + 1));
				wiped++;
			}
		}
		unsetenv(secret_env_vars[i]);
	}
	return wiped;
}

const char *cred_access_key_id(const struct cred *c)
{
	return c->access_key_id;
}

const char *cred_secret(const struct cred *c)
{
	return c->secret;
}

const char *cred_token(const struct cred *c)
{
	return c->token;
}

/* Appends to a fixed diag field, silently cut at its size. */
__attribute__((format(printf, 3, 4))) static void field_append(char *field, size_t size, const char *fmt, ...)
{
	size_t used = strnlen(field, size);
	va_list ap;

	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(field + used, size - used, fmt, ap);
	va_end(ap);
}

/* Writes a diag field; long paths are cut at the field's size on purpose. */
__attribute__((format(printf, 3, 4))) static void diag_printf(char *field, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(field, size, fmt, ap);
	va_end(ap);
}

/* Where the chain looked and what it found, for the "no credentials" message. */
struct chain {
	const char *profile; /* explicit or $ALIBABA_CLOUD_PROFILE, else NULL */
	const struct cred_options *opt;
	char looked[1024];
	struct cred_diag *diag;
	unsigned depth; /* ChainableRamRoleArn profiles followed */
};

static void chain_looked(struct chain *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void chain_looked(struct chain *ch, const char *fmt, ...)
{
	char item[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	field_append(ch->looked, sizeof(ch->looked), "%s%s", ch->looked[0] ? "; " : "", item);
}

static void chain_fail(struct chain *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void chain_fail(struct chain *ch, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ch->diag->message, sizeof(ch->diag->message), fmt, ap);
	va_end(ap);
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* The official libraries compare these switches with "true", case ignored. */
static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && strcasecmp(v, "true") == 0;
}

/* The home directory: $HOME, else the real uid's passwd entry (os.homedir()
 * does the same; fstab mounts and systemd units may run without HOME).
 * Returns 0 or -ENOENT. */
static int home_dir(char *out, size_t size)
{
	const char *home = env_nonempty("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n;

	if (!home && getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir &&
	    res->pw_dir[0])
		home = res->pw_dir;
	if (!home)
		return -ENOENT;
	n = snprintf(out, size, "%s", home);
	return n > 0 && (size_t)n < size ? 0 : -ENOENT;
}

static void warn_if_exposed(struct chain *ch, const char *path, const struct stat *st)
{
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		diag_printf(ch->diag->warning, sizeof(ch->diag->warning),
			    "%s is readable by group or others (mode %03o); chmod 600 it", path,
			    (unsigned)(st->st_mode & 0777));
}

/* Reads a whole small file. Returns 0, -ENOENT (absent), -EINVAL (not a
 * regular file or too big, message in @why) or -errno. *ret is wiped by the
 * caller with OPENSSL_cleanse before free. */
static int read_file(const char *path, char **ret, size_t *ret_len, struct stat *ret_st, char *why,
		     size_t why_size)
{
	struct stat st;
	size_t len = 0;
	char *data;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	r = -EINVAL;
	if (!S_ISREG(st.st_mode)) {
		diag_printf(why, why_size, "%s: not a regular file", path);
		goto out_close;
	}
	if ((unsigned long long)st.st_size > CRED_MAX_FILE_BYTES) {
		diag_printf(why, why_size, "%s: larger than %u bytes", path, CRED_MAX_FILE_BYTES);
		goto out_close;
	}
	r = -ENOMEM;
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		goto out_close;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			OPENSSL_cleanse(data, len);
			free(data);
			goto out_close;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	*ret = data;
	*ret_len = len;
	*ret_st = st;
	r = 0;
out_close:
	close(fd);
	return r;
}

static void file_id_of(const struct stat *st, struct cred_file_id *ret)
{
	ret->dev = st->st_dev;
	ret->ino = st->st_ino;
	ret->size = st->st_size;
	ret->mtime = st->st_mtim;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

/* npm ini's unsafe(): a value quoted with ' or " is taken between the quotes;
 * otherwise an unescaped '#' or ';' starts a comment and "\;" "\#" "\\" are
 * escapes. Rewrites @v in place and returns it trimmed. */
static char *ini_value(char *v)
{
	size_t len;
	char *o, *p;
	bool esc = false;

	v = trim(v);
	len = strlen(v);
	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
		v[len - 1] = '\0';
		return v + 1;
	}
	for (o = p = v; *p; p++) {
		if (esc) {
			if (*p != '\\' && *p != ';' && *p != '#')
				*o++ = '\\';
			*o++ = *p;
			esc = false;
		} else if (*p == ';' || *p == '#') {
			break;
		} else if (*p == '\\') {
			esc = true;
		} else {
			*o++ = *p;
		}
	}
	if (esc)
		*o++ = '\\';
	*o = '\0';
	return trim(v);
}

/* The keys of the wanted section; pointers into the file buffer. The names
 * are those providers/profile.ts reads (and security_token for type sts). */
struct ini_section {
	bool found;
	const char *type;
	const char *access_key_id;
	const char *access_key_secret;
	const char *security_token;
	const char *role_name;
	const char *role_arn;
	const char *role_session_name;
	const char *policy;
	unsigned type_line;
};

/* Parses @data (NUL-terminated, modified in place) and picks @want's keys.
 * Returns 0 or -EINVAL with @why "path:line: why". */
static int ini_parse(const char *path, char *data, const char *want, struct ini_section *ret, char *why,
		     size_t why_size)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "type", offsetof(struct ini_section, type) },
		{ "access_key_id", offsetof(struct ini_section, access_key_id) },
		{ "access_key_secret", offsetof(struct ini_section, access_key_secret) },
		{ "security_token", offsetof(struct ini_section, security_token) },
		{ "role_name", offsetof(struct ini_section, role_name) },
		{ "role_arn", offsetof(struct ini_section, role_arn) },
		{ "role_session_name", offsetof(struct ini_section, role_session_name) },
		{ "policy", offsetof(struct ini_section, policy) },
	};
	char *line = data, *next;
	bool in_want = false;
	unsigned lineno = 0;

	memset(ret, 0, sizeof(*ret));
	for (; line; line = next) {
		char *eq, *s, *key;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close || close[1] != '\0') {
				diag_printf(
					why, why_size,
					"%s:%u: malformed section line (a section line must be just [name], "
					"with no comment after it)",
					path, lineno);
				return -EINVAL;
			}
			*close = '\0';
			in_want = strcmp(trim(s + 1), want) == 0;
			if (in_want)
				ret->found = true;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			diag_printf(why, why_size,
				    "%s:%u: expected \"key = value\", a [section] or a comment", path,
				    lineno);
			return -EINVAL;
		}
		*eq = '\0';
		key = trim(s);
		if (*key == '\0') {
			diag_printf(why, why_size, "%s:%u: empty key before '='", path, lineno);
			return -EINVAL;
		}
		if (!in_want)
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(key, keys[i].key) == 0) {
				*(const char **)((char *)ret + keys[i].off) = ini_value(eq + 1);
				if (i == 0)
					ret->type_line = lineno;
			}
		}
	}
	return 0;
}

/* Checks a field is present; -EINVAL naming it otherwise. */
static int require(char *why, size_t why_size, const char *where, const char *what, const char *field,
		   const char *value)
{
	if (value && *value)
		return 0;
	diag_printf(why, why_size, "%s: %s lacks %s", where, what, field);
	return -EINVAL;
}

/* Checks one found key pair (and the token when @token_field is set) and
 * builds the credentials; @why says what is wrong. */
static int build_cred(char *why, size_t why_size, const char *where, const char *what, const char *id,
		      const char *secret, const char *token_field, const char *token, struct cred **ret_cred)
{
	int r;

	r = require(why, why_size, where, what, "access_key_id", id);
	if (r == 0)
		r = require(why, why_size, where, what, "access_key_secret", secret);
	if (r == 0 && token_field != NULL)
		r = require(why, why_size, where, what, token_field, token);
	if (r < 0)
		return r;
	r = cred_new(id, secret, token_field != NULL ? token : NULL, ret_cred);
	if (r == -EINVAL)
		diag_printf(why, why_size, "%s: %s: a value is too long", where, what);
	return r;
}

/* Reads one credentials file of the chain: -ENOENT (noted, go on) if it does
 * not exist, -EINVAL (diag->message says why) if it cannot be read. */
static int read_source(struct chain *ch, const char *path, char **ret, size_t *ret_len, struct stat *ret_st)
{
	int r = read_file(path, ret, ret_len, ret_st, ch->diag->message, sizeof(ch->diag->message));

	if (r == -ENOENT) {
		chain_looked(ch, "%s (no such file)", path);
		return -ENOENT;
	}
	if (r < 0) {
		if (!ch->diag->message[0])
			chain_fail(ch, "%s: %s", path, strerror(-r));
		return r == -ENOMEM ? r : -EINVAL;
	}
	return 0;
}

/* ---- building providers ---- */

static int dup_setting(char **dst, const char *v)
{
	if (!v || !*v)
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

/* STS's URL: -o sts_endpoint, else the official rule of
 * providers/ram_role_arn.ts and oidc_role_arn.ts: sts-vpc.<region> when the
 * VPC endpoint is enabled, else sts.<region>, else sts.aliyuncs.com. */
static int sts_url_of(struct chain *ch, const char *region, bool vpc, const char *profile_endpoint,
		      char **ret)
{
	char url[512];
	int n;

	if (ch->opt->sts_endpoint && *ch->opt->sts_endpoint)
		n = snprintf(url, sizeof(url), "%s", ch->opt->sts_endpoint);
	else if (profile_endpoint && *profile_endpoint)
		n = snprintf(url, sizeof(url), "%s%s", strstr(profile_endpoint, "://") ? "" : "https://",
			     profile_endpoint);
	else if (region && *region)
		n = snprintf(url, sizeof(url), "https://sts%s.%s.aliyuncs.com", vpc ? "-vpc" : "", region);
	else
		n = snprintf(url, sizeof(url), "https://sts.aliyuncs.com");
	if (n < 0 || (size_t)n >= sizeof(url)) {
		chain_fail(ch, "the STS endpoint is too long");
		return -EINVAL;
	}
	*ret = strdup(url);
	return *ret ? 0 : -ENOMEM;
}

/* DurationSeconds: absent or 0 is 3600, below 900 refused (the official
 * builders' rule). */
static int duration_of(struct chain *ch, const char *where, const char *v, unsigned *ret)
{
	unsigned long d = 0;
	char *end = NULL;

	if (v && *v && strcmp(v, "false") != 0) {
		errno = 0;
		d = strtoul(v, &end, 10);
		if (errno || *end != '\0' || d > 43200u) {
			chain_fail(ch, "%s: session duration \"%s\" is not a number of seconds up to 43200",
				   where, v);
			return -EINVAL;
		}
	}
	if (d == 0)
		d = CRED_DEFAULT_DURATION_S;
	if (d < CRED_MIN_DURATION_S) {
		chain_fail(ch, "%s: session duration should be in the range of 900s - max session duration",
			   where);
		return -EINVAL;
	}
	*ret = (unsigned)d;
	return 0;
}

/* RoleSessionName: given, else $ALIBABA_CLOUD_ROLE_SESSION_NAME, else
 * "swasfs-<ms since the epoch>" (the Node library's is
 * "credentials-nodejs-<ms>": the same shape, our own name). */
static int session_name_of(const char *given, char **ret)
{
	const char *env = env_nonempty("ALIBABA_CLOUD_ROLE_SESSION_NAME");
	struct timespec ts;
	char name[64];

	if (given && *given)
		return dup_setting(ret, given);
	if (env)
		return dup_setting(ret, env);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, sizeof(name), "swasfs-%lld%03ld", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	return dup_setting(ret, name);
}

static int new_provider(struct chain *ch, enum cred_kind kind, struct cred_provider **ret)
{
	int r = cred_provider_alloc(kind, ch->opt, ret);

	if (r < 0)
		chain_fail(ch, "out of memory");
	return r;
}

/* A static key from a file, read again when the file changes. Takes @cred. */
static int file_provider(struct chain *ch, const char *path, const char *section, bool cli, struct cred *cred,
			 const struct stat *st, struct cred_provider **ret)
{
	struct cred_provider *p;
	int r;

	r = new_provider(ch, CRED_FILE, &p);
	if (r < 0)
		goto out_free_cred;
	p->cli = cli;
	r = dup_setting(&p->path, path);
	if (r == 0)
		r = dup_setting(&p->section, section);
	if (r < 0) {
		cred_provider_free(p);
		goto out_free_cred;
	}
	p->cur = cred;
	file_id_of(st, &p->file_id);
	snprintf(p->source, sizeof(p->source), "%s %s \"%s\"", path, cli ? "profile" : "section", section);
	*ret = p;
	return 0;
out_free_cred:
	cred_free(cred);
	return r;
}

/* STS AssumeRole with @inner's credentials (taken). */
struct role_settings {
	const char *role_arn;
	const char *session_name;
	const char *policy;
	const char *duration;
	const char *sts_region;
	const char *sts_endpoint; /* the CLI profile's own, else NULL */
	bool vpc;
};

static int role_provider(struct chain *ch, const char *where, struct cred_provider *inner,
			 const struct role_settings *rs, struct cred_provider **ret)
{
	const char *region =
		rs->sts_region && *rs->sts_region ? rs->sts_region : env_nonempty("ALIBABA_CLOUD_STS_REGION");
	const char *arn =
		rs->role_arn && *rs->role_arn ? rs->role_arn : env_nonempty("ALIBABA_CLOUD_ROLE_ARN");
	bool vpc = rs->vpc || env_true("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED");
	struct cred_provider *p = NULL;
	int r;

	if (!arn) {
		chain_fail(ch,
			   "%s: the RoleArn is empty (ram_role_arn / role_arn, or ALIBABA_CLOUD_ROLE_ARN)",
			   where);
		r = -EINVAL;
		goto out_free_inner;
	}
	r = new_provider(ch, CRED_RAM_ROLE, &p);
	if (r < 0)
		goto out_free_inner;
	p->inner = inner;
	inner = NULL;
	p->margin_s = CRED_STALE_MARGIN_S;
	r = duration_of(ch, where, rs->duration, &p->duration_s);
	if (r == 0)
		r = dup_setting(&p->role_arn, arn);
	if (r == 0)
		r = session_name_of(rs->session_name, &p->session_name);
	if (r == 0)
		r = dup_setting(&p->policy, rs->policy);
	if (r == 0)
		r = sts_url_of(ch, region, vpc, rs->sts_endpoint, &p->sts_url);
	if (r < 0) {
		if (r == -ENOMEM)
			chain_fail(ch, "out of memory");
		goto out_free_p;
	}
	snprintf(p->source, sizeof(p->source), "STS AssumeRole %.128s at %.128s with %.300s", p->role_arn,
		 p->sts_url, p->inner->source);
	*ret = p;
	return 0;
out_free_p:
	cred_provider_free(p);
out_free_inner:
	cred_provider_free(inner);
	return r;
}

struct oidc_settings {
	const char *role_arn;
	const char *provider_arn;
	const char *token_file;
	const char *session_name;
	const char *duration;
	const char *sts_region;
	bool vpc;
};

/* STS AssumeRoleWithOIDC (providers/oidc_role_arn.ts): the settings given,
 * each else its environment variable. */
static int oidc_provider(struct chain *ch, const char *where, const struct oidc_settings *os,
			 struct cred_provider **ret)
{
	const char *arn =
		os->role_arn && *os->role_arn ? os->role_arn : env_nonempty("ALIBABA_CLOUD_ROLE_ARN");
	const char *parn = os->provider_arn && *os->provider_arn
				   ? os->provider_arn
				   : env_nonempty("ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
	const char *file = os->token_file && *os->token_file ? os->token_file
							     : env_nonempty("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
	const char *region =
		os->sts_region && *os->sts_region ? os->sts_region : env_nonempty("ALIBABA_CLOUD_STS_REGION");
	bool vpc = os->vpc || env_true("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED");
	struct cred_provider *p;
	int r;

	if (!arn || !parn || !file) {
		chain_fail(ch, "%s: OIDC needs a role ARN, an OIDC provider ARN and an OIDC token file",
			   where);
		return -EINVAL;
	}
	r = new_provider(ch, CRED_OIDC, &p);
	if (r < 0)
		return r;
	p->margin_s = CRED_STALE_MARGIN_S;
	r = duration_of(ch, where, os->duration, &p->duration_s);
	if (r == 0)
		r = dup_setting(&p->role_arn, arn);
	if (r == 0)
		r = dup_setting(&p->oidc_provider_arn, parn);
	if (r == 0)
		r = dup_setting(&p->path, file);
	if (r == 0)
		r = session_name_of(os->session_name, &p->session_name);
	if (r == 0)
		r = sts_url_of(ch, region, vpc, NULL, &p->sts_url);
	if (r < 0) {
		if (r == -ENOMEM)
			chain_fail(ch, "out of memory");
		cred_provider_free(p);
		return r;
	}
	snprintf(p->source, sizeof(p->source), "STS AssumeRoleWithOIDC %s at %s (token file %s)", p->role_arn,
		 p->sts_url, p->path);
	*ret = p;
	return 0;
}

/* The metadata service (providers/ecs_ram_role.ts): the role given, else
 * $ALIBABA_CLOUD_ECS_METADATA, else the one the service names. Refused when
 * ALIBABA_CLOUD_ECS_METADATA_DISABLED=true, as the official builder is. */
static int ecs_provider(struct chain *ch, const char *where, const char *role, struct cred_provider **ret)
{
	const char *url = ch->opt->metadata_endpoint && *ch->opt->metadata_endpoint
				  ? ch->opt->metadata_endpoint
				  : CRED_METADATA_ENDPOINT;
	struct cred_provider *p;
	int r;

	if (env_true("ALIBABA_CLOUD_ECS_METADATA_DISABLED")) {
		chain_fail(ch, "%s: the ECS RAM role is disabled (ALIBABA_CLOUD_ECS_METADATA_DISABLED=true)",
			   where);
		return -EINVAL;
	}
	if (!role || !*role)
		role = env_nonempty("ALIBABA_CLOUD_ECS_METADATA");
	r = new_provider(ch, CRED_ECS, &p);
	if (r < 0)
		return r;
	p->margin_s = CRED_ECS_MARGIN_S;
	p->imdsv1_disabled = env_true("ALIBABA_CLOUD_IMDSV1_DISABLED");
	r = dup_setting(&p->role_name, role);
	if (r == 0)
		r = dup_setting(&p->metadata_url, url);
	if (r < 0) {
		chain_fail(ch, "out of memory");
		cred_provider_free(p);
		return r;
	}
	snprintf(p->source, sizeof(p->source), "the ECS RAM role %s from %s", role ? role : "(as named)",
		 url);
	*ret = p;
	return 0;
}

static int uri_provider(struct chain *ch, const char *uri, bool needs_success, struct cred_provider **ret)
{
	struct cred_provider *p;
	int r;

	if (!strstr(uri, "://")) {
		chain_fail(ch, "credentials URI %s is not a URL", uri);
		return -EINVAL;
	}
	r = new_provider(ch, CRED_URI, &p);
	if (r < 0)
		return r;
	p->margin_s = CRED_STALE_MARGIN_S;
	p->uri_needs_success = needs_success;
	r = dup_setting(&p->uri, uri);
	if (r < 0) {
		chain_fail(ch, "out of memory");
		cred_provider_free(p);
		return r;
	}
	/* A URI may carry a query with a secret in it: show its start only. */
	snprintf(p->source, sizeof(p->source), "the credentials URI %.*s", (int)strcspn(uri, "?#"), uri);
	*ret = p;
	return 0;
}

/* ---- source 1: the environment ---- */

static int try_env(struct chain *ch, struct cred_provider **ret)
{
	const char *id = env_nonempty("ALIBABA_CLOUD_ACCESS_KEY_ID");
	const char *secret = env_nonempty("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
	const char *token = env_nonempty("ALIBABA_CLOUD_SECURITY_TOKEN");
	struct cred_provider *p;
	struct cred *c;
	int r;

	if (!id || !secret) {
		chain_looked(
			ch,
			"environment (ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET %s)",
			!id && !secret ? "are not set" : "are not both set");
		return -ENOENT;
	}
	r = cred_new(id, secret, token, &c);
	if (r == -EINVAL)
		chain_fail(ch, "environment: ALIBABA_CLOUD_* credentials are too long");
	if (r < 0)
		return r;
	r = new_provider(ch, CRED_STATIC, &p);
	if (r < 0) {
		cred_free(c);
		return r;
	}
	p->cur = c;
	snprintf(p->source, sizeof(p->source), "environment");
	*ret = p;
	return 0;
}

/* ---- source 2: OIDC from the environment ---- */

static int try_oidc_env(struct chain *ch, struct cred_provider **ret)
{
	struct oidc_settings os = { 0 };

	/* The official builder throws (skipping the source) unless all three are set. */
	if (!env_nonempty("ALIBABA_CLOUD_ROLE_ARN") || !env_nonempty("ALIBABA_CLOUD_OIDC_PROVIDER_ARN") ||
	    !env_nonempty("ALIBABA_CLOUD_OIDC_TOKEN_FILE")) {
		chain_looked(ch, "OIDC (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and "
				 "ALIBABA_CLOUD_OIDC_TOKEN_FILE are not all set)");
		return -ENOENT;
	}
	return oidc_provider(ch, "OIDC (environment)", &os, ret);
}

/* ---- source 3: the aliyun CLI config ---- */

static int cli_path(char *out, size_t size)
{
	char home[PATH_MAX];
	int n;

	if (home_dir(home, sizeof(home)) < 0)
		return -ENOENT;
	n = snprintf(out, size, "%s/.aliyun/config.json", home);
	return n > 0 && (size_t)n < size ? 0 : -ENOENT;
}

static int cli_profile_provider(struct chain *ch, const char *path, const char *data, size_t len,
				const char *name, const struct stat *st, struct cred_provider **ret);

/* Builds the provider of one parsed profile @p of the file at @path. */
static int cli_mode_provider(struct chain *ch, const char *path, const char *data, size_t len,
			     struct json_cli_profile *p, const struct stat *st, struct cred_provider **ret)
{
	char where[PATH_MAX + 300];
	struct cred_provider *inner = NULL;
	struct cred *c = NULL;
	int r;

	snprintf(where, sizeof(where), "%s: profile \"%s\"", path, p->name);
	if (strcmp(p->mode, "AK") == 0 || strcmp(p->mode, "StsToken") == 0) {
		r = build_cred(ch->diag->message, sizeof(ch->diag->message), path, where + strlen(path) + 2,
			       p->access_key_id, p->access_key_secret,
			       strcmp(p->mode, "StsToken") == 0 ? "sts_token" : NULL, p->sts_token, &c);
		if (r < 0)
			return r;
		return file_provider(ch, path, p->name, true, c, st, ret);
	}
	if (strcmp(p->mode, "RamRoleArn") == 0) {
		struct role_settings rs = {
			.role_arn = p->ram_role_arn,
			.session_name = p->ram_session_name,
			.duration = p->expired_seconds,
			.sts_region = p->sts_region,
			.sts_endpoint = p->sts_endpoint,
			.vpc = strcmp(p->enable_vpc, "true") == 0,
		};

		r = build_cred(ch->diag->message, sizeof(ch->diag->message), path, where + strlen(path) + 2,
			       p->access_key_id, p->access_key_secret, NULL, NULL, &c);
		if (r < 0)
			return r;
		r = file_provider(ch, path, p->name, true, c, st, &inner);
		if (r < 0)
			return r;
		return role_provider(ch, where, inner, &rs, ret);
	}
	if (strcmp(p->mode, "ChainableRamRoleArn") == 0) {
		/* providers/cli_profile.ts: the source profile's provider, then
		 * AssumeRole with the role, session name, expired_seconds and
		 * sts_region (no sts_endpoint, no enable_vpc). */
		struct role_settings rs = {
			.role_arn = p->ram_role_arn,
			.session_name = p->ram_session_name,
			.duration = p->expired_seconds,
			.sts_region = p->sts_region,
		};

		if (!p->source_profile[0]) {
			chain_fail(ch, "%s: mode ChainableRamRoleArn lacks source_profile", where);
			return -EINVAL;
		}
		if (++ch->depth > CRED_MAX_CHAIN) {
			chain_fail(ch, "%s: source_profile chain longer than %d (a loop?)", where,
				   CRED_MAX_CHAIN);
			return -EINVAL;
		}
		r = cli_profile_provider(ch, path, data, len, p->source_profile, st, &inner);
		if (r == -ENOENT) {
			chain_fail(ch, "%s: source_profile \"%s\" does not exist", where, p->source_profile);
			return -EINVAL;
		}
		if (r < 0)
			return r;
		return role_provider(ch, where, inner, &rs, ret);
	}
	if (strcmp(p->mode, "EcsRamRole") == 0)
		return ecs_provider(ch, where, p->ram_role_name, ret);
	if (strcmp(p->mode, "OIDC") == 0) {
		/* providers/cli_profile.ts sets the duration from expired_seconds,
		 * then again from duration_seconds: the second wins. */
		struct oidc_settings os = {
			.role_arn = p->ram_role_arn,
			.provider_arn = p->oidc_provider_arn,
			.token_file = p->oidc_token_file,
			.session_name = p->ram_session_name,
			.duration = p->duration_seconds,
			.sts_region = p->sts_region,
			.vpc = strcmp(p->enable_vpc, "true") == 0,
		};

		return oidc_provider(ch, where, &os, ret);
	}
	if (strcmp(p->mode, "CredentialsURI") == 0) {
		if (!p->credentials_uri[0]) {
			chain_fail(ch, "%s: mode CredentialsURI lacks credentials_uri", where);
			return -EINVAL;
		}
		return uri_provider(ch, p->credentials_uri, true, ret);
	}
	if (strcmp(p->mode, "CloudSSO") == 0 || strcmp(p->mode, "OAuth") == 0) {
		chain_fail(ch,
			   "%s: mode %s is not supported: it needs an interactive sign-in; "
			   "use a RamRoleArn, AK or StsToken profile",
			   where, p->mode);
		return -EINVAL;
	}
	if (strcmp(p->mode, "External") == 0) {
		chain_fail(ch,
			   "%s: mode External is refused: it would run the command the file names "
			   "(process_command); use a RamRoleArn, AK or StsToken profile",
			   where);
		return -EINVAL;
	}
	chain_fail(ch,
		   "%s: mode %s is not supported (use AK, StsToken, RamRoleArn, ChainableRamRoleArn, "
		   "EcsRamRole, OIDC or CredentialsURI)",
		   where, p->mode[0] ? p->mode : "(none)");
	return -EINVAL;
}

/* The provider of profile @name (NULL: the file's current) of a CLI config
 * already read. -ENOENT: no such profile (ch->looked says so). */
static int cli_profile_provider(struct chain *ch, const char *path, const char *data, size_t len,
				const char *name, const struct stat *st, struct cred_provider **ret)
{
	struct json_cli_profile p = { 0 };
	char want[256] = "";
	int r;

	r = json_parse_cli_profile(data, len, name, &p, want, sizeof(want));
	if (r == -ENOENT) {
		chain_looked(ch, "%s (no profile \"%s\")", path, want);
		return r;
	}
	if (r == -EBADMSG || r == -EPROTO) {
		chain_fail(ch, "%s: %s", path,
			   r == -EBADMSG ? "not valid JSON"
					 : "not an aliyun CLI config (no \"profiles\" array)");
		return -EINVAL;
	}
	if (r < 0)
		return r;
	r = cli_mode_provider(ch, path, data, len, &p, st, ret);
	json_cli_profile_done(&p);
	return r;
}

static int try_cli(struct chain *ch, struct cred_provider **ret)
{
	char path[PATH_MAX], *data = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	if (env_true("ALIBABA_CLOUD_CLI_PROFILE_DISABLED")) {
		chain_looked(ch, "~/.aliyun/config.json (ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true)");
		return -ENOENT;
	}
	if (cli_path(path, sizeof(path)) < 0) {
		chain_looked(ch, "~/.aliyun/config.json (no home directory)");
		return -ENOENT;
	}
	r = read_source(ch, path, &data, &len, &st);
	if (r < 0)
		return r;
	r = cli_profile_provider(ch, path, data, len, ch->profile, &st, ret);
	if (r == 0)
		warn_if_exposed(ch, path, &st);
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

/* ---- source 4: the ini file ---- */

static int ini_path(char *out, size_t size)
{
	const char *env_path = env_nonempty("ALIBABA_CLOUD_CREDENTIALS_FILE");
	char home[PATH_MAX];
	int n;

	if (env_path) {
		n = snprintf(out, size, "%s", env_path);
	} else {
		if (home_dir(home, sizeof(home)) < 0)
			return -ENOENT;
		n = snprintf(out, size, "%s/.alibabacloud/credentials", home);
	}
	return n > 0 && (size_t)n < size ? 0 : -ENOENT;
}

static int try_ini(struct chain *ch, struct cred_provider **ret)
{
	const char *section = ch->profile ? ch->profile : CRED_DEFAULT_SECTION;
	char path[PATH_MAX], what[300], where[PATH_MAX + 300], *data = NULL;
	char *msg = ch->diag->message;
	size_t msize = sizeof(ch->diag->message), len = 0;
	struct cred_provider *inner = NULL;
	struct ini_section sec;
	struct cred *c = NULL;
	struct stat st;
	int r;

	if (ini_path(path, sizeof(path)) < 0) {
		chain_looked(ch, "~/.alibabacloud/credentials (no home directory, or the path is too long)");
		return -ENOENT;
	}
	r = read_source(ch, path, &data, &len, &st);
	if (r < 0)
		return r;

	r = ini_parse(path, data, section, &sec, msg, msize);
	if (r < 0)
		goto out_wipe;
	if (!sec.found) {
		chain_looked(ch, "%s (no section [%s])", path, section);
		r = -ENOENT;
		goto out_wipe;
	}
	snprintf(what, sizeof(what), "section [%s]", section);
	snprintf(where, sizeof(where), "%s: %.200s", path, what);
	r = require(msg, msize, path, what, "type", sec.type);
	if (r < 0)
		goto out_wipe;
	if (strcmp(sec.type, "access_key") == 0 || strcmp(sec.type, "sts") == 0) {
		r = build_cred(msg, msize, path, what, sec.access_key_id, sec.access_key_secret,
			       strcmp(sec.type, "sts") == 0 ? "security_token" : NULL, sec.security_token,
			       &c);
		if (r == 0)
			r = file_provider(ch, path, section, false, c, &st, ret);
	} else if (strcmp(sec.type, "ram_role_arn") == 0) {
		/* providers/profile.ts: role_arn, role_session_name and policy;
		 * no duration, region or endpoint from the file. */
		struct role_settings rs = {
			.role_arn = sec.role_arn,
			.session_name = sec.role_session_name,
			.policy = sec.policy,
		};

		r = build_cred(msg, msize, path, what, sec.access_key_id, sec.access_key_secret, NULL, NULL,
			       &c);
		if (r == 0)
			r = file_provider(ch, path, section, false, c, &st, &inner);
		if (r == 0)
			r = role_provider(ch, where, inner, &rs, ret);
	} else if (strcmp(sec.type, "ecs_ram_role") == 0) {
		r = ecs_provider(ch, where, sec.role_name, ret);
	} else {
		chain_fail(ch,
			   "%s:%u: [%s] type = %s is not supported (use access_key, sts, ecs_ram_role or "
			   "ram_role_arn)",
			   path, sec.type_line, section, sec.type);
		r = -EINVAL;
	}
	if (r == 0)
		warn_if_exposed(ch, path, &st);
out_wipe:
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

/* ---- source 5: the ECS metadata service ---- */

static int try_ecs(struct chain *ch, struct cred_provider **ret)
{
	struct cred_diag d = { 0 };
	struct cred_provider *p;
	int r;

	if (env_true("ALIBABA_CLOUD_ECS_METADATA_DISABLED")) {
		chain_looked(ch, "the ECS metadata service (ALIBABA_CLOUD_ECS_METADATA_DISABLED=true)");
		return -ENOENT;
	}
	if (ch->opt->offline) {
		chain_looked(ch, "the ECS metadata service (not asked: offline)");
		return -ENOENT;
	}
	r = ecs_provider(ch, "the ECS metadata service", NULL, &p);
	if (r < 0)
		return r;
	/* Asked now: off ECS it is unreachable, and the chain goes on. */
	r = cred_provider_prime(p, &d);
	if (r == -EIO) {
		chain_looked(ch, "%s (%s)", p->source, d.message);
		cred_provider_free(p);
		return -ENOENT;
	}
	if (r < 0) {
		snprintf(ch->diag->message, sizeof(ch->diag->message), "%s", d.message);
		cred_provider_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

/* ---- source 6: a credentials URI ---- */

static int try_uri(struct chain *ch, struct cred_provider **ret)
{
	const char *uri = env_nonempty("ALIBABA_CLOUD_CREDENTIALS_URI");

	if (!uri) {
		chain_looked(ch, "ALIBABA_CLOUD_CREDENTIALS_URI (not set)");
		return -ENOENT;
	}
	return uri_provider(ch, uri, false, ret);
}

int cred_provider_new(const struct cred_options *opt, struct cred_provider **ret, struct cred_diag *diag)
{
	static int (*const sources[])(struct chain *, struct cred_provider **) = {
		try_env, try_oidc_env, try_cli, try_ini, try_ecs, try_uri,
	};
	struct cred_options none = { 0 };
	struct chain ch = { .diag = diag, .opt = opt ? opt : &none };
	struct cred_provider *p = NULL;
	size_t i;
	int r = -ENOENT;

	memset(diag, 0, sizeof(*diag));
	ch.profile =
		ch.opt->profile && *ch.opt->profile ? ch.opt->profile : env_nonempty("ALIBABA_CLOUD_PROFILE");
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]) && r == -ENOENT; i++)
		r = sources[i](&ch, &p);
	if (r == -ENOENT) {
		diag_printf(diag->message, sizeof(diag->message), "no credentials found; looked at: %s",
			    ch.looked);
		return r;
	}
	if (r < 0)
		return r;
	r = cred_provider_prime(p, diag);
	/* No connection may outlive start-up into fuse_daemonize's fork. */
	if (r == 0 && (r = cred_provider_forget_connections(p)) < 0)
		chain_fail(&ch, "out of memory");
	if (r < 0) {
		cred_provider_free(p);
		return r;
	}
	diag_printf(diag->source, sizeof(diag->source), "%s", p->source);
	*ret = p;
	return 0;
}

int cred_load(const char *profile, struct cred **ret_cred, struct cred_diag *diag)
{
	struct cred_options opt = { .profile = profile, .offline = true };
	struct cred_provider *p;
	int r;

	r = cred_provider_new(&opt, &p, diag);
	if (r < 0)
		return r;
	r = cred_provider_get(p, ret_cred);
	cred_provider_free(p);
	return r;
}

/* ---- reading a file source again ---- */

static int reread_ini(const struct cred_provider *p, char *data, struct cred **ret, char *why,
		      size_t why_size)
{
	char what[300];
	struct ini_section sec;
	int r;

	r = ini_parse(p->path, data, p->section, &sec, why, why_size);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "section [%s]", p->section);
	if (!sec.found) {
		diag_printf(why, why_size, "%s: no section [%s] any more", p->path, p->section);
		return -EINVAL;
	}
	if (!sec.type || (strcmp(sec.type, "access_key") != 0 && strcmp(sec.type, "sts") != 0 &&
			  strcmp(sec.type, "ram_role_arn") != 0)) {
		diag_printf(why, why_size, "%s: %s changed its type; remount to use it", p->path, what);
		return -EINVAL;
	}
	return build_cred(why, why_size, p->path, what, sec.access_key_id, sec.access_key_secret,
			  strcmp(sec.type, "sts") == 0 ? "security_token" : NULL, sec.security_token, ret);
}

static int reread_cli(const struct cred_provider *p, const char *data, size_t len, struct cred **ret,
		      char *why, size_t why_size)
{
	struct json_cli_profile cp = { 0 };
	char want[256], what[300];
	int r;

	r = json_parse_cli_profile(data, len, p->section, &cp, want, sizeof(want));
	if (r < 0) {
		diag_printf(why, why_size, "%s: %s", p->path,
			    r == -ENOENT ? "the profile is gone" : "not a valid aliyun CLI config");
		return r == -ENOMEM ? r : -EINVAL;
	}
	snprintf(what, sizeof(what), "profile \"%s\"", p->section);
	if (strcmp(cp.mode, "AK") != 0 && strcmp(cp.mode, "StsToken") != 0 &&
	    strcmp(cp.mode, "RamRoleArn") != 0) {
		diag_printf(why, why_size, "%s: %s changed its mode; remount to use it", p->path, what);
		r = -EINVAL;
	} else {
		r = build_cred(why, why_size, p->path, what, cp.access_key_id, cp.access_key_secret,
			       strcmp(cp.mode, "StsToken") == 0 ? "sts_token" : NULL, cp.sts_token, ret);
	}
	json_cli_profile_done(&cp);
	return r;
}

int cred_file_read(const struct cred_provider *p, struct cred **ret, struct cred_file_id *ret_id, char *why,
		   size_t why_size)
{
	char *data = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	why[0] = '\0';
	r = read_file(p->path, &data, &len, &st, why, why_size);
	if (r < 0) {
		if (!why[0])
			diag_printf(why, why_size, "%s: %s", p->path, strerror(-r));
		return r;
	}
	r = p->cli ? reread_cli(p, data, len, ret, why, why_size) : reread_ini(p, data, ret, why, why_size);
	if (r == 0)
		file_id_of(&st, ret_id);
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

time_t cred_parse_expiration(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s || (strlen(s) != 20 && strlen(s) != 24))
		return 0;
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return 0;
	if (*end == '.') {
		if (end[1] < '0' || end[1] > '9' || end[2] < '0' || end[2] > '9' || end[3] < '0' ||
		    end[3] > '9')
			return 0;
		end += 4;
	}
	if (strcmp(end, "Z") != 0)
		return 0;
	return timegm(&tm);
}
