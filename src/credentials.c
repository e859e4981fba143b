// SPDX-License-Identifier: MIT
/*
 * credentials: the credentials chain of credentials.h (environment, the
 * Alibaba Cloud ini file, the aliyun CLI config), with errors that name the
 * file and line and a "no credentials" message that names every place looked
 * at. The ini dialect is npm ini 1.3.8's, which the Node credentials library
 * uses: "[section]" lines, "key = value", full-line and unquoted inline "#"/";"
 * comments, quoted values taken literally. The CLI config is JSON, so its
 * parsing lives in json.c. Every buffer that held a secret is wiped with
 * OPENSSL_cleanse before it is freed. A struct cred is one allocation, in
 * OpenSSL's secure heap when there is one, so a single wipe, a single lock and
 * a single "is it secure" check cover the secret, the token and the id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "credentials.h"
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
	const char *access_key_id;
	const char *secret;
	const char *token; /* NULL unless STS */
	char strings[];
};

static void wipe_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

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

void cred_free(struct cred *c)
{
	if (!c)
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
	char looked[1024];
	struct cred_diag *diag;
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

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static void warn_if_exposed(struct chain *ch, const char *path, const struct stat *st)
{
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		diag_printf(ch->diag->warning, sizeof(ch->diag->warning),
			    "%s is readable by group or others (mode %03o); chmod 600 it", path,
			    (unsigned)(st->st_mode & 0777));
}

/* Reads a whole small file. Returns 0, -ENOENT (absent), -EINVAL (not a
 * regular file or too big, message in diag) or -errno. *ret is wiped by the
 * caller with OPENSSL_cleanse before free. */
static int read_file(struct chain *ch, const char *path, char **ret, size_t *ret_len, struct stat *ret_st)
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
		diag_printf(ch->diag->message, sizeof(ch->diag->message), "%s: not a regular file", path);
		goto out_close;
	}
	if ((unsigned long long)st.st_size > CRED_MAX_FILE_BYTES) {
		diag_printf(ch->diag->message, sizeof(ch->diag->message), "%s: larger than %u bytes", path,
			    CRED_MAX_FILE_BYTES);
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

/* The keys of the wanted section; pointers into the file buffer. */
struct ini_section {
	bool found;
	const char *type;
	const char *access_key_id;
	const char *access_key_secret;
	const char *security_token;
	unsigned type_line;
};

/* Parses @data (NUL-terminated, modified in place) and picks @want's keys.
 * Returns 0 or -EINVAL with diag->message "path:line: why". */
static int ini_parse(struct chain *ch, const char *path, char *data, const char *want,
		     struct ini_section *ret)
{
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
					ch->diag->message, sizeof(ch->diag->message),
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
			diag_printf(ch->diag->message, sizeof(ch->diag->message),
				    "%s:%u: expected \"key = value\", a [section] or a comment", path,
				    lineno);
			return -EINVAL;
		}
		*eq = '\0';
		key = trim(s);
		if (*key == '\0') {
			diag_printf(ch->diag->message, sizeof(ch->diag->message),
				    "%s:%u: empty key before '='", path, lineno);
			return -EINVAL;
		}
		if (!in_want)
			continue;
		if (strcmp(key, "type") == 0) {
			ret->type = ini_value(eq + 1);
			ret->type_line = lineno;
		} else if (strcmp(key, "access_key_id") == 0) {
			ret->access_key_id = ini_value(eq + 1);
		} else if (strcmp(key, "access_key_secret") == 0) {
			ret->access_key_secret = ini_value(eq + 1);
		} else if (strcmp(key, "security_token") == 0) {
			ret->security_token = ini_value(eq + 1);
		}
	}
	return 0;
}

/* Checks a field is present; -EINVAL naming it otherwise. */
static int require(struct chain *ch, const char *where, const char *what, const char *field,
		   const char *value)
{
	if (value && *value)
		return 0;
	diag_printf(ch->diag->message, sizeof(ch->diag->message), "%s: %s lacks %s", where, what, field);
	return -EINVAL;
}

/* Checks one found key pair (and the token when @token_field is set) and
 * builds the credentials; diag->message says what is wrong. */
static int build_cred(struct chain *ch, const char *where, const char *what, const char *id,
		      const char *secret, const char *token_field, const char *token, struct cred **ret_cred)
{
	int r;

	r = require(ch, where, what, "access_key_id", id);
	if (r == 0)
		r = require(ch, where, what, "access_key_secret", secret);
	if (r == 0 && token_field != NULL)
		r = require(ch, where, what, token_field, token);
	if (r < 0)
		return r;
	r = cred_new(id, secret, token_field != NULL ? token : NULL, ret_cred);
	if (r == -EINVAL)
		diag_printf(ch->diag->message, sizeof(ch->diag->message), "%s: %s: a value is too long",
			    where, what);
	return r;
}

/* Reads one credentials file of the chain: -ENOENT (noted, go on) if it does
 * not exist, -EINVAL (diag->message says why) if it cannot be read. */
static int read_source(struct chain *ch, const char *path, char **ret, size_t *ret_len, struct stat *ret_st)
{
	int r = read_file(ch, path, ret, ret_len, ret_st);

	if (r == -ENOENT) {
		chain_looked(ch, "%s (no such file)", path);
		return -ENOENT;
	}
	if (r < 0) {
		if (!ch->diag->message[0])
			diag_printf(ch->diag->message, sizeof(ch->diag->message), "%s: %s", path,
				    strerror(-r));
		return r == -ENOMEM ? r : -EINVAL;
	}
	return 0;
}

/* Source 2: the ini file. Returns 0 (found), -ENOENT (go on) or another error. */
static int try_ini(struct chain *ch, struct cred **ret_cred)
{
	const char *env_path = env_nonempty("ALIBABA_CLOUD_CREDENTIALS_FILE"), *home = env_nonempty("HOME");
	const char *section = ch->profile ? ch->profile : CRED_DEFAULT_SECTION;
	char path[1024], what[300], *data = NULL;
	struct ini_section sec;
	struct stat st;
	size_t len = 0;
	int r, n;

	if (env_path) {
		n = snprintf(path, sizeof(path), "%s", env_path);
	} else if (home) {
		n = snprintf(path, sizeof(path), "%s/.alibabacloud/credentials", home);
	} else {
		chain_looked(ch, "~/.alibabacloud/credentials (HOME is not set)");
		return -ENOENT;
	}
	if (n < 0 || (size_t)n >= sizeof(path)) {
		chain_looked(ch, "the credentials file (path too long)");
		return -ENOENT;
	}

	r = read_source(ch, path, &data, &len, &st);
	if (r < 0)
		return r;

	r = ini_parse(ch, path, data, section, &sec);
	if (r < 0)
		goto out_wipe;
	if (!sec.found) {
		chain_looked(ch, "%s (no section [%s])", path, section);
		r = -ENOENT;
		goto out_wipe;
	}
	snprintf(what, sizeof(what), "section [%s]", section);
	r = require(ch, path, what, "type", sec.type);
	if (r < 0)
		goto out_wipe;
	if (strcmp(sec.type, "access_key") != 0 && strcmp(sec.type, "sts") != 0) {
		diag_printf(ch->diag->message, sizeof(ch->diag->message),
			    "%s:%u: [%s] type = %s is not supported (use access_key or sts)", path,
			    sec.type_line, section, sec.type);
		r = -EINVAL;
		goto out_wipe;
	}
	r = build_cred(ch, path, what, sec.access_key_id, sec.access_key_secret,
		       strcmp(sec.type, "sts") == 0 ? "security_token" : NULL, sec.security_token, ret_cred);
	if (r < 0)
		goto out_wipe;
	diag_printf(ch->diag->source, sizeof(ch->diag->source), "%s [%s]", path, section);
	warn_if_exposed(ch, path, &st);
out_wipe:
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

static void cli_profile_wipe(struct json_cli_profile *p)
{
	free(p->name);
	free(p->mode);
	wipe_free(p->access_key_id);
	wipe_free(p->access_key_secret);
	wipe_free(p->sts_token);
	memset(p, 0, sizeof(*p));
}

/* Source 3: the aliyun CLI config. Returns 0 (found), -ENOENT (go on) or another error. */
static int try_cli(struct chain *ch, struct cred **ret_cred)
{
	const char *home = env_nonempty("HOME"), *disabled = getenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED");
	struct json_cli_profile p = { 0 };
	char path[1024], name[256] = "", what[300], *data = NULL;
	struct stat st;
	size_t len = 0;
	int r, n;

	if (disabled && strcmp(disabled, "true") == 0) {
		chain_looked(ch, "~/.aliyun/config.json (ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true)");
		return -ENOENT;
	}
	if (!home) {
		chain_looked(ch, "~/.aliyun/config.json (HOME is not set)");
		return -ENOENT;
	}
	n = snprintf(path, sizeof(path), "%s/.aliyun/config.json", home);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		chain_looked(ch, "~/.aliyun/config.json (path too long)");
		return -ENOENT;
	}
	r = read_source(ch, path, &data, &len, &st);
	if (r < 0)
		return r;

	r = json_parse_cli_profile(data, len, ch->profile, &p, name, sizeof(name));
	if (r == -ENOENT) {
		chain_looked(ch, "%s (no profile \"%s\")", path, name);
		goto out_wipe;
	}
	if (r == -EBADMSG || r == -EPROTO) {
		diag_printf(ch->diag->message, sizeof(ch->diag->message), "%s: %s", path,
			    r == -EBADMSG ? "not valid JSON"
					  : "not an aliyun CLI config (no \"profiles\" array)");
		r = -EINVAL;
		goto out_wipe;
	}
	if (r < 0)
		goto out_wipe;

	snprintf(what, sizeof(what), "profile \"%s\"", p.name);
	if (strcmp(p.mode, "AK") != 0 && strcmp(p.mode, "StsToken") != 0) {
		diag_printf(ch->diag->message, sizeof(ch->diag->message),
			    "%s: %s: mode %s is not supported (use AK or StsToken)", path, what,
			    p.mode[0] ? p.mode : "(none)");
		r = -EINVAL;
		goto out_free_profile;
	}
	r = build_cred(ch, path, what, p.access_key_id, p.access_key_secret,
		       strcmp(p.mode, "StsToken") == 0 ? "sts_token" : NULL, p.sts_token, ret_cred);
	if (r < 0)
		goto out_free_profile;
	diag_printf(ch->diag->source, sizeof(ch->diag->source), "%s profile \"%s\"", path, p.name);
	warn_if_exposed(ch, path, &st);
out_free_profile:
	cli_profile_wipe(&p);
out_wipe:
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}

/* Source 1: the environment. */
static int try_env(struct chain *ch, struct cred **ret_cred)
{
	const char *id = env_nonempty("ALIBABA_CLOUD_ACCESS_KEY_ID");
	const char *secret = env_nonempty("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
	const char *token = env_nonempty("ALIBABA_CLOUD_SECURITY_TOKEN");
	int r;

	if (!id || !secret) {
		chain_looked(
			ch,
			"environment (ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET %s)",
			!id && !secret ? "are not set" : "are not both set");
		return -ENOENT;
	}
	r = cred_new(id, secret, token, ret_cred);
	if (r == -EINVAL)
		diag_printf(ch->diag->message, sizeof(ch->diag->message),
			    "environment: ALIBABA_CLOUD_* credentials are too long");
	if (r < 0)
		return r;
	diag_printf(ch->diag->source, sizeof(ch->diag->source), "environment");
	return 0;
}

int cred_load(const char *profile, struct cred **ret_cred, struct cred_diag *diag)
{
	static int (*const sources[])(struct chain *, struct cred **) = { try_env, try_ini, try_cli };
	struct chain ch = { .diag = diag };
	size_t i;
	int r = -ENOENT;

	memset(diag, 0, sizeof(*diag));
	ch.profile = profile && *profile ? profile : env_nonempty("ALIBABA_CLOUD_PROFILE");
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		r = sources[i](&ch, ret_cred);
		if (r != -ENOENT)
			return r;
	}
	diag_printf(diag->message, sizeof(diag->message), "no credentials found; looked at: %s", ch.looked);
	return -ENOENT;
}
