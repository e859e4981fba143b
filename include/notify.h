/* SPDX-License-Identifier: MIT */
/*
 * notify: a thread of its own that tells the kernel to drop cached data.
 *
 * The kernel must never be notified from inside a request handler: an
 * inode invalidation waits for the page locks of that inode, and the kernel
 * holds one for as long as the read being served is unanswered, so a handler
 * that notifies can wait for itself forever (libfuse doc/README.notifications;
 * a reader in D state and an unmount that hangs). Handlers therefore only
 * queue inode numbers here; this module's thread sends them, after the
 * handler has replied, through a function the FUSE layer gives it, so no FUSE
 * type appears here and the queue can be tested alone.
 *
 * The queue is a set (an inode queued twice is sent once) with a cap; past
 * the cap new numbers are dropped and counted, which costs only freshness:
 * the kernel still drops a file's pages itself when its size or mtime change.
 *
 * The thread is a service of the daemon's struct bg (bg.h): it starts with
 * bg_start (after fuse_daemonize's fork) and is joined by bg_stop, which must
 * come before notify_free.
 *
 * Ownership: notify_new() returns a notifier freed with notify_free() once
 * its bg is stopped. Thread-safety: notify_inode() may be called from any
 * thread, any number at once, with no lock of the caller's held that the
 * send function could need; it never blocks on the kernel.
 */
#ifndef SWASFS_NOTIFY_H
#define SWASFS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bg.h"

struct notify;

/* Inodes waiting at once: far more than the files a mount changes between
 * two runs of the thread; bounded so a storm cannot grow memory. */
#define NOTIFY_MAX_PENDING 4096

/* Sends one invalidation; runs on the notifier's thread only. Its return is
 * ignored (an inode the kernel forgot answers -ENOENT, which is fine). */
typedef int (*notify_send_fn)(void *arg, uint64_t ino);

/* Registers the thread with @bg (borrowed; it runs from bg_start). Returns 0,
 * -EINVAL, -ENOMEM, or bg_service's errors. */
int notify_new(struct bg *bg, notify_send_fn send, void *arg, struct notify **ret);
/* Frees; what is still queued is dropped. Call after bg_stop() of the bg
 * given to notify_new (debug builds assert it). Accepts NULL. */
void notify_free(struct notify *n);

/* True when called on the notifier's own thread: the send function asserts
 * it, so nothing is ever sent to the kernel from a request handler. */
bool notify_is_own_thread(struct notify *n);

/* Queues an invalidation of @ino's cached data and attributes. */
void notify_inode(struct notify *n, uint64_t ino);

/* Counters, for tests and the log. */
struct notify_stats {
	unsigned long queued;  /* accepted by notify_inode (duplicates included) */
	unsigned long sent;    /* handed to the send function */
	unsigned long dropped; /* refused because NOTIFY_MAX_PENDING were waiting */
};
void notify_get_stats(struct notify *n, struct notify_stats *ret);

#endif
