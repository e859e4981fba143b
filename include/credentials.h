/* SPDX-License-Identifier: MIT */
/*
 * credentials: finds the AccessKey pair (and STS token) swasfs signs with.
 *
 * The chain, first found wins (README.md "Credentials"):
 *   1. ALIBABA_CLOUD_ACCESS_KEY_ID + ALIBABA_CLOUD_ACCESS_KEY_SECRET
 *      (+ ALIBABA_CLOUD_SECURITY_TOKEN), both non-empty;
 *   2. the ini file $ALIBABA_CLOUD_CREDENTIALS_FILE, else ~/.alibabacloud/credentials,
 *      section = profile, else "default"; type = access_key | sts;
 *   3. the aliyun CLI's ~/.aliyun/config.json, profile = profile, else "current";
 *      modes AK and StsToken.
 * The profile is the caller's, else $ALIBABA_CLOUD_PROFILE.
 *
 * Secrets are a type: struct cred is opaque, the logger never sees it, and
 * cred_free() wipes it. Only sign.c reads the secret and only api.c reads the
 * token (to put it in a signed header).
 *
 * Where the secret and the token live:
 *   - long-lived: one struct cred per API client, in OpenSSL's secure heap once
 *     cred_secure_heap_init() has run: an mlock'ed arena marked
 *     MADV_DONTDUMP, so it is neither swapped out nor written to core dumps,
 *     and wiped on free. Without the arena (it could not be mapped, or it is
 *     full) a struct cred lives on the ordinary heap and is still wiped on
 *     free. fork() does not carry memory locks over: after fuse_daemonize the
 *     daemon calls cred_lock_pages() again.
 *   - the environment: cred_scrub_environ() zeroes the values of
 *     ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN where
 *     they lie, which for an unmodified environment is the block the kernel
 *     copied at execve and shows in /proc/PID/environ (unsetenv alone only
 *     drops the pointer). The AccessKey id and the other variables stay.
 *   - transient, on the ordinary heap and not wiped by this module: the token
 *     in curl's header list and request buffer for each request (api.c wipes
 *     its own header lines), OpenSSL's HMAC context while sign.c computes a
 *     signature (its copy of the key is OpenSSL's business; the V1 key sign.c
 *     builds is wiped), and file buffers while cred_load parses them (wiped).
 *     A core dump or a debugger attached during a request can see these;
 *     the daemon is not dumpable unless run with -o dumpable.
 *
 * Thread-safety: cred_secure_heap_init, cred_load and cred_scrub_environ touch
 * process-wide state (call them from main before threads start); a loaded
 * struct cred is immutable and may be read from any thread.
 */
#ifndef SWASFS_CREDENTIALS_H
#define SWASFS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

struct cred;

/* What cred_load found out, for the top layer to print. Never holds a secret. */
struct cred_diag {
	char source[512];   /* where the credentials came from, e.g. "environment" or a path */
	char warning[512];  /* non-empty: e.g. "~/.alibabacloud/credentials is readable by group or others" */
	char message[1536]; /* on failure: why, naming every place looked at or the bad file and line */
};

/*
 * Loads credentials through the chain above. @profile may be NULL.
 * Returns 0 and *ret_cred (caller frees with cred_free()); -ENOENT when no
 * source has credentials (diag->message names every place looked at);
 * -EINVAL when a source exists but is malformed or of an unsupported type or
 * mode (diag->message says which file and why); -ENOMEM.
 */
int cred_load(const char *profile, struct cred **ret_cred, struct cred_diag *diag);

/* Builds credentials from explicit values (tests, tools). Copies the strings;
 * @token may be NULL. Returns 0 or -EINVAL (empty id/secret) or -ENOMEM. */
int cred_new(const char *access_key_id, const char *secret, const char *token, struct cred **ret_cred);

/* Borrowed, valid until cred_free(). */
const char *cred_access_key_id(const struct cred *c);
/* For sign.c only: the AccessKey secret. Borrowed, valid until cred_free(). */
const char *cred_secret(const struct cred *c);
/* The STS token or NULL. Borrowed, valid until cred_free(). */
const char *cred_token(const struct cred *c);

/* A copy of @c in memory of its own (a second client gets one, so each can
 * free its own). Returns 0 and *ret_cred (caller frees with cred_free()) or
 * -ENOMEM. */
int cred_dup(const struct cred *c, struct cred **ret_cred);

/* Wipes and frees; accepts NULL. */
void cred_free(struct cred *c);

/*
 * Sets up OpenSSL's secure heap (a 64 KiB arena) for every struct
 * cred made afterwards (and for OpenSSL's own secret keys). Call once, from
 * main, before the first cred_load. Returns 0 (the arena is locked and kept
 * out of core dumps); -EPERM (the arena is in use but mlock or madvise
 * failed, e.g. RLIMIT_MEMLOCK is below the arena's size: wiped on free, but
 * may be swapped or dumped); -ENOMEM (no arena: struct creds go to the
 * ordinary heap, wiped on free). A second call returns the first's result.
 */
int cred_secure_heap_init(void);

/* True if @c lies in the secure heap. */
bool cred_is_secure(const struct cred *c);

/* Locks the pages holding @c in memory (mlock). Needed again in a forked
 * child, which inherits no memory locks. Returns 0 or -errno of mlock. */
int cred_lock_pages(const struct cred *c);

/* Zeroes, in place, the values of every environment variable that carries a
 * secret (ALIBABA_CLOUD_ACCESS_KEY_SECRET, ALIBABA_CLOUD_SECURITY_TOKEN), then
 * removes them from the environment. Call after cred_load, which copies what
 * it found. Returns how many values were wiped. */
size_t cred_scrub_environ(void);

#endif
