/* SPDX-License-Identifier: MIT */
/*
 * log: the one sink for every message swasfs prints.
 *
 * Messages go to stderr while the daemon runs in the foreground and to syslog
 * once it has daemonised. Nothing here can print a credential: the secret and
 * the token live in struct cred, whose layout is private to credentials.c, and
 * callers only ever pass plain strings they built themselves.
 *
 * Thread-safety: every function may be called from any thread at any time;
 * each message is written with a single write(2) or syslog(3) call, so lines
 * from concurrent threads never interleave.
 */
#ifndef SWASFS_LOG_H
#define SWASFS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Chooses the sink and the most verbose level printed. Call once from main()
 * before any thread starts; the default is stderr at LOG_LEVEL_WARNING. */
void log_init(bool use_syslog, enum log_level max_level);

/* True if a message at @level would be printed (lets callers skip building it). */
bool log_enabled(enum log_level level);

/* printf-style; a trailing newline is added. Never fails. */
__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);

__attribute__((format(printf, 2, 0))) void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
