/* SPDX-License-Identifier: MIT */
/*
 * service: the daemon's life as a system service, on one background thread
 * (a bg service named "service"):
 *   - readiness: once the mount answers (a statfs of the mount point, which
 *     the kernel holds until FUSE's init has been answered, comes back from
 *     a FUSE file system), "READY=1" goes to the service manager (sdnotify.h);
 *   - reload: SIGHUP reopens the -o log file (logrotate), marks every cached
 *     listing stale (cache_mark_stale: kept as the fallback while the API is
 *     asked again), then calls the on_reload hook, which asks the kernel to
 *     drop its cached directory entries so the next access reaches the cache;
 *     the service manager hears RELOADING=1 before and READY=1 after.
 *
 * The signal handler only calls service_reload_from_signal(), which writes
 * one byte to a non-blocking pipe (async-signal-safe); the thread does the
 * work. Reloads that arrive while one runs are merged into the next.
 *
 * Ownership: service_new() returns an object freed with service_free(),
 * after the bg it was registered with has been stopped. The config's
 * pointers are borrowed and must outlive that. Thread-safety:
 * service_reload_from_signal() may be called from a signal handler or any
 * thread; the rest from main only.
 */
#ifndef SWASFS_SERVICE_H
#define SWASFS_SERVICE_H

#include "bg.h"
#include "cache.h"
#include "sdnotify.h"

struct service;

struct service_config {
	/* Checked until it answers from FUSE, then READY=1. NULL, or a
	 * /dev/fd/N mount point (mount.fuse3's drop_privileges: no path to
	 * check), sends READY=1 as soon as the thread starts. */
	const char *mountpoint;
	struct sdnotify *notify; /* NULL: no readiness messages */
	struct cache *cache;	 /* marked stale on each reload */
	/* After cache_mark_stale, on the service thread (never in a request
	 * handler, so it may send kernel notifications). NULL: none. */
	void (*on_reload)(void *arg);
	void *on_reload_arg;
};

/* Returns 0, -ENOMEM or -errno (no pipe). Starts nothing. */
int service_new(const struct service_config *cfg, struct service **ret);
/* Registers the thread with @bg (it runs from bg_start until bg_stop).
 * Returns what bg_service() returns. */
int service_register(struct service *s, struct bg *bg);
/* Async-signal-safe: asks the thread for a reload. */
void service_reload_from_signal(struct service *s);
/* Reloads handled so far, for the log and tests. */
unsigned long service_reloads(const struct service *s);
/* Accepts NULL. The bg must have been stopped first. */
void service_free(struct service *s);

#endif
