/* SPDX-License-Identifier: MIT */
/*
 * sdnotify: the service manager's readiness protocol (sd_notify(3)), without
 * libsystemd.
 *
 * systemd (Type=notify) starts the daemon with $NOTIFY_SOCKET naming an
 * AF_UNIX datagram socket: a path, or an abstract name written with a leading
 * '@'. Each notification is one datagram of newline-separated VAR=VALUE
 * assignments; swasfs sends "READY=1" once its mount answers and
 * "STOPPING=1" on the way out.
 *
 * sdnotify_new() reads $NOTIFY_SOCKET and removes it from the environment,
 * so nothing the daemon runs later inherits it. Without it every send is a
 * no-op that returns 0.
 *
 * Ownership: sdnotify_new() returns an object freed with sdnotify_free().
 * Thread-safety: sdnotify_send() may be called from any thread (each send
 * opens, sends on and closes a socket of its own); sdnotify_new() touches the
 * environment, so call it from main before any thread starts.
 */
#ifndef SWASFS_SDNOTIFY_H
#define SWASFS_SDNOTIFY_H

#include <stdbool.h>

struct sdnotify;

/* Returns 0, -ENOMEM, or -EINVAL if $NOTIFY_SOCKET is set but is neither an
 * absolute path nor an '@' name, or too long for sockaddr_un (the variable
 * is removed all the same, and nothing is returned). */
int sdnotify_new(struct sdnotify **ret);
/* Accepts NULL. */
void sdnotify_free(struct sdnotify *n);

/* True if $NOTIFY_SOCKET was set (and usable). */
bool sdnotify_is_enabled(const struct sdnotify *n);

/* Sends @state ("READY=1", "STOPPING=1", ...) as one datagram. Returns 0 (or
 * 0 at once if not enabled, or @n is NULL) or -errno. */
int sdnotify_send(const struct sdnotify *n, const char *state);

#endif
