/* SPDX-License-Identifier: MIT */
/*
 * credentials_i.h: what credentials.c (the chain: which source, read from
 * which file) and cred_provider.c (the sources at run time: fetching,
 * renewing, re-reading) share. Not a public interface.
 *
 * A provider is built by credentials.c with cred_provider_alloc() and its
 * settings filled in, then primed (its first credentials fetched) with
 * cred_provider_prime(). Settings are written before the provider is shared
 * and never change after; what changes is under p->lock.
 */
#ifndef SWASFS_CREDENTIALS_I_H
#define SWASFS_CREDENTIALS_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "credentials.h"

struct cancel;
struct http;

enum cred_kind {
	CRED_STATIC,   /* the environment: never changes */
	CRED_FILE,     /* a key in the ini file or CLI config: read again when the file changes */
	CRED_RAM_ROLE, /* STS AssumeRole with the inner provider's credentials */
	CRED_OIDC,     /* STS AssumeRoleWithOIDC */
	CRED_ECS,      /* the ECS metadata service */
	CRED_URI,      /* a credentials URI */
};

/* The official margins (seconds before expiry when credentials are renewed):
 * providers/session.ts STALE_TIME for every STS and URI session;
 * providers/ecs_ram_role.ts PREFETCH_TIME for the metadata service. */
#define CRED_STALE_MARGIN_S 900u
#define CRED_ECS_MARGIN_S   3600u
/* STS DurationSeconds: default and minimum (providers/ram_role_arn.ts,
 * providers/oidc_role_arn.ts). */
#define CRED_DEFAULT_DURATION_S 3600u
#define CRED_MIN_DURATION_S	900u
/* Chained profiles deeper than this are a loop. */
#define CRED_MAX_CHAIN 8

/* What identifies a file's contents for the change check. */
struct cred_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct cred_provider {
	enum cred_kind kind;
	struct metrics *metrics; /* borrowed, may be NULL */
	char source[600];	 /* for logs, no secret */

	/* Settings (see the top of this file). */
	struct cred_provider *inner; /* CRED_RAM_ROLE: owned */
	char *path;		     /* CRED_FILE: the file; CRED_OIDC: the token file */
	char *section;		     /* CRED_FILE: ini section or CLI profile name */
	bool cli;		     /* CRED_FILE: the CLI config, else the ini file */
	char *role_arn;		     /* RAM_ROLE, OIDC */
	char *session_name;	     /* RAM_ROLE, OIDC */
	char *policy;		     /* RAM_ROLE, OIDC; NULL: none */
	char *oidc_provider_arn;     /* OIDC */
	char *sts_url;		     /* RAM_ROLE, OIDC: "https://sts.aliyuncs.com" or -o sts_endpoint */
	unsigned duration_s;	     /* RAM_ROLE, OIDC */
	char *role_name;	     /* ECS; NULL: ask the metadata service */
	bool imdsv1_disabled;	     /* ECS */
	char *metadata_url;	     /* ECS */
	char *uri;		     /* URI */
	bool uri_needs_success;	     /* URI: the CLI's mode checks Code == "Success" */
	unsigned margin_s;	     /* the official margin (above) */
	unsigned timeout_ms;	     /* one request */
	bool offline;
	struct http *http;     /* RAM_ROLE, OIDC, ECS, URI */
	struct cancel *cancel; /* with http: set when the renewal service stops */
	char *cafile;	       /* with http: for a new pool (cred_provider_forget_connections) */

	pthread_mutex_t lock;
	pthread_cond_t cond;		  /* CLOCK_MONOTONIC: a renewal ended, or the service is woken */
	struct cred *cur;		  /* protected by lock */
	struct cred_file_id file_id;	  /* protected by lock: CRED_FILE, what cur was read from */
	time_t expires;			  /* protected by lock: wall clock, 0 = never */
	uint64_t renew_at_ms;		  /* protected by lock: monotonic, 0 = never */
	uint64_t next_check_ms;		  /* protected by lock: CRED_FILE, next stat */
	unsigned failures_in_row;	  /* protected by lock */
	uint64_t last_refusal_ms;	  /* protected by lock: monotonic, last renewal after a refusal */
	bool renewing;			  /* protected by lock */
	bool stopping;			  /* protected by lock */
	struct cred_provider_stats stats; /* protected by lock */
};

/* A zeroed provider of @kind with its lock and http pool (for the kinds that
 * make requests) set up. Returns 0 or -ENOMEM. */
int cred_provider_alloc(enum cred_kind kind, const struct cred_options *opt, struct cred_provider **ret);

/* Fetches the first credentials. Returns 0 or, with diag->message set, the
 * error of cred_provider_new (credentials.h). */
int cred_provider_prime(struct cred_provider *p, struct cred_diag *diag);

/* Closes the connections @p (and its inner providers) keep alive, so none
 * crosses fuse_daemonize's fork. Nothing may use @p meanwhile. Returns 0 or
 * -ENOMEM. */
int cred_provider_forget_connections(struct cred_provider *p);

/* credentials.c: reads a CRED_FILE provider's file again. Returns 0 with
 * *ret and *ret_id, or -errno with @why set (no secret). */
int cred_file_read(const struct cred_provider *p, struct cred **ret, struct cred_file_id *ret_id, char *why,
		   size_t why_size);

/* Parses "yyyy-MM-ddTHH:mm:ssZ", with optional ".mmm" (providers/time.ts);
 * 0 if it is not that. */
time_t cred_parse_expiration(const char *s);

#endif
