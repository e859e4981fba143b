/* SPDX-License-Identifier: MIT */
/*
 * credentials: finds the AccessKey pair (and STS token) swasfs signs with.
 *
 * The chain, first found wins (INTERFACE.md "Credentials"):
 *   1. ALIBABA_CLOUD_ACCESS_KEY_ID + ALIBABA_CLOUD_ACCESS_KEY_SECRET
 *      (+ ALIBABA_CLOUD_SECURITY_TOKEN), both non-empty;
 *   2. the ini file $ALIBABA_CLOUD_CREDENTIALS_FILE, else ~/.alibabacloud/credentials,
 *      section = profile, else "default"; type = access_key | sts;
 *   3. the aliyun CLI's ~/.aliyun/config.json, profile = profile, else "current";
 *      modes AK and StsToken.
 * The profile is the caller's, else $ALIBABA_CLOUD_PROFILE.
 *
 * Secrets are a type: struct cred is opaque, the logger never sees it, and
 * cred_free() wipes it with OPENSSL_cleanse. Only sign.c reads the secret and
 * only http-level code reads the token (to put it in a signed header).
 *
 * Thread-safety: cred_load is not reentrant-safe w.r.t. the environment (call it
 * from main before threads start); a loaded struct cred is immutable and may be
 * read from any thread.
 */
#ifndef SWASFS_CREDENTIALS_H
#define SWASFS_CREDENTIALS_H

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

/* Wipes and frees; accepts NULL. */
void cred_free(struct cred *c);

#endif
