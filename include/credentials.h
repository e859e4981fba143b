/* SPDX-License-Identifier: MIT */
/*
 * credentials: finds the AccessKey pair (and STS token) swasfs signs with,
 * and keeps temporary credentials fresh.
 *
 * The chain is the official default chain's (@alicloud/credentials,
 * providers/default.ts; contrib/docs/credentials.md has every rule and the
 * source file it was read from), first found wins:
 *   1. the environment: ALIBABA_CLOUD_ACCESS_KEY_ID + _SECRET (+ _SECURITY_TOKEN);
 *   2. OIDC: ALIBABA_CLOUD_ROLE_ARN, _OIDC_PROVIDER_ARN, _OIDC_TOKEN_FILE
 *      (STS AssumeRoleWithOIDC);
 *   3. the aliyun CLI's ~/.aliyun/config.json, profile = profile, else
 *      "current"; modes AK, StsToken, RamRoleArn, ChainableRamRoleArn,
 *      EcsRamRole, OIDC, CredentialsURI (CloudSSO, OAuth, External refused);
 *   4. the ini file $ALIBABA_CLOUD_CREDENTIALS_FILE, else
 *      ~/.alibabacloud/credentials, section = profile, else "default";
 *      type = access_key | sts | ecs_ram_role | ram_role_arn;
 *   5. the ECS instance RAM role from the metadata service (IMDSv2 token);
 *   6. ALIBABA_CLOUD_CREDENTIALS_URI.
 * The profile is the caller's, else $ALIBABA_CLOUD_PROFILE; ~ is $HOME, else
 * the passwd entry of the real uid (fstab and systemd may give no HOME).
 *
 * A struct cred_provider is the source that answered, resolved once at
 * start-up and kept: renewals go through it. Temporary credentials are renewed
 * by a bg service (bg.h) before they expire, when the smaller of the official
 * margin and a third of their lifetime is left; a static key read from a file
 * is read again when the file's (inode, size, mtime) changes, looked at once a
 * second. Signers take the current credentials as a reference
 * (cred_provider_get) under a short lock and never wait for a renewal unless
 * the credentials have expired.
 *
 * Secrets are a type: struct cred is opaque, the logger never sees it, and
 * its last reference wipes it. Only sign.c reads the secret and only api.c
 * and this module read the token (to send it).
 *
 * Where the secret and the token live:
 *   - long-lived: each struct cred, in OpenSSL's secure heap once
 *     cred_secure_heap_init() has run: an mlock'ed arena marked
 *     MADV_DONTDUMP, so it is neither swapped out nor written to core dumps,
 *     and wiped on free. Without the arena (it could not be mapped, or it is
 *     full) a struct cred lives on the ordinary heap and is still wiped on
 *     free. fork() does not carry memory locks over: every struct cred made
 *     locks its own pages, and after fuse_daemonize the daemon calls
 *     cred_lock_pages() again for the one it holds.
 *   - the environment: cred_scrub_environ() zeroes the values of
 *     ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN where
 *     they lie, which for an unmodified environment is the block the kernel
 *     copied at execve and shows in /proc/PID/environ (unsetenv alone only
 *     drops the pointer). The AccessKey id and the other variables stay.
 *   - transient, on the ordinary heap: the token in curl's header list and
 *     request buffer for each request (api.c and this module wipe their own
 *     copies), OpenSSL's HMAC context while sign.c computes a signature,
 *     file and response buffers while they are parsed (wiped), the OIDC
 *     token while it is sent (wiped). A core dump or a debugger attached
 *     during a request can see these; the daemon is not dumpable unless run
 *     with -o dumpable.
 *
 * Thread-safety: cred_secure_heap_init, cred_load, cred_provider_new and
 * cred_scrub_environ touch process-wide state (call them from main before
 * threads start); a struct cred is immutable and may be read from any thread;
 * cred_ref/cred_free are atomic; every cred_provider_* function but _new and
 * _free may be called from any thread. Renewals and re-reads log what they find
 * (a failed renewal, a changed file: in the background there is no caller to
 * tell); everything else returns errors.
 */
#ifndef SWASFS_CREDENTIALS_H
#define SWASFS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

struct bg;
struct cred;
struct cred_provider;

/* The metadata service's address (providers/ecs_ram_role.ts). */
#define CRED_METADATA_ENDPOINT "http://100.100.100.200"

/* What cred_load found out, for the top layer to print. Never holds a secret. */
struct cred_diag {
	char source[512];   /* where the credentials came from, e.g. "environment" or a path */
	char warning[512];  /* non-empty: e.g. "~/.alibabacloud/credentials is readable by group or others" */
	char message[1536]; /* on failure: why, naming every place looked at or the bad file and line */
};

/* How the chain reaches the network. Every pointer is borrowed for the call. */
struct cred_options {
	const char *profile;	       /* NULL: $ALIBABA_CLOUD_PROFILE, else the file's own */
	const char *sts_endpoint;      /* URL for every STS call; NULL: the official rules */
	const char *metadata_endpoint; /* NULL: CRED_METADATA_ENDPOINT */
	const char *cafile;	       /* CA bundle for HTTPS; NULL: the system store */
	unsigned timeout_s;	       /* one STS or credentials-URI request; 0: 10 s */
	bool offline;		       /* make no request: sources that need one fail -EOPNOTSUPP
					  (unit tests, the fuzzer) */
	struct metrics *metrics;       /* counts every STS, metadata and URI request; borrowed, may be NULL */
};

/*
 * Resolves the chain and fetches the first credentials (an STS, metadata or
 * URI request when the source needs one). Returns 0 and *ret (free with
 * cred_provider_free()); -ENOENT (no source: diag->message names every place
 * looked at); -EINVAL (a source exists but is malformed, refused or
 * unsupported: diag->message says which and why); -EACCES (STS, the metadata
 * service or the URI refused: diag->message has the Code and RequestId, never
 * a secret); -EIO (unreachable); -EOPNOTSUPP (offline and a request was
 * needed); -ENOMEM.
 */
int cred_provider_new(const struct cred_options *opt, struct cred_provider **ret, struct cred_diag *diag);
/* Unregisters nothing: bg_stop must have run if cred_provider_start did.
 * Accepts NULL. */
void cred_provider_free(struct cred_provider *p);

/* The current credentials as a reference the caller drops with cred_free().
 * Waits only if they have expired (for the renewal in progress, or one it
 * makes). Returns 0, or the renewal's error when expired ones could not be
 * replaced. */
int cred_provider_get(struct cred_provider *p, struct cred **ret);

/* The API refused @refused (an invalid or expired key or token): renews (or
 * reads the file again) once, unless newer credentials than @refused are
 * already in place. Returns 0 when the current credentials are now other
 * than @refused (worth one retry), -ESTALE when nothing new came. */
int cred_provider_refused(struct cred_provider *p, const struct cred *refused);

/* Registers the renewal service with @bg (it runs from bg_start). A static
 * key from the environment needs none: returns 0 without registering.
 * Returns 0 or bg_service's error. */
int cred_provider_start(struct cred_provider *p, struct bg *bg);

/* Where the credentials come from, e.g. "environment" or "STS AssumeRole
 * (ini file ... [default])"; borrowed, valid until cred_provider_free. */
const char *cred_provider_source(const struct cred_provider *p);

struct cred_provider_stats {
	unsigned long renewals; /* temporary credentials fetched after the first */
	unsigned long rereads;	/* files read again after a change */
	unsigned long failures; /* renewals or re-reads that failed */
};
void cred_provider_get_stats(struct cred_provider *p, struct cred_provider_stats *ret);

/*
 * Loads credentials through the chain above, offline (a source that needs a
 * request fails -EOPNOTSUPP). @profile may be NULL.
 * Returns 0 and *ret_cred (caller frees with cred_free()); -ENOENT when no
 * source has credentials (diag->message names every place looked at);
 * -EINVAL when a source exists but is malformed or of an unsupported type or
 * mode (diag->message says which file and why); -EOPNOTSUPP when the source
 * found needs a request; -ENOMEM.
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

/* Takes another reference to @c; returns @c. */
struct cred *cred_ref(struct cred *c);

/* A copy of @c in memory of its own (a second client gets one, so each can
 * free its own). Returns 0 and *ret_cred (caller frees with cred_free()) or
 * -ENOMEM. */
int cred_dup(const struct cred *c, struct cred **ret_cred);

/* Drops a reference; the last one wipes and frees. Accepts NULL. */
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
