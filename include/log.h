/* SPDX-License-Identifier: MIT */
/*
 * log: the one sink for every message swasfs prints.
 *
 * Messages go to stderr while the daemon runs in the foreground and to syslog
 * once it has daemonised, or with -o log=FILE to that file (appended, one
 * line per message with a UTC timestamp and the pid; reopened on SIGHUP so
 * logrotate can move it away). Nothing here can print a credential: the secret and
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

/* Where lines go: any combination. */
enum log_sink {
	LOG_SINK_STDERR = 1u << 0,
	LOG_SINK_SYSLOG = 1u << 1,
	LOG_SINK_FILE = 1u << 2, /* only once log_open_file() succeeded */
};

/* Chooses the sinks (enum log_sink bits) and the most verbose level printed.
 * Call from main() before any thread starts; the default is stderr at
 * LOG_LEVEL_WARNING. */
void log_set_sinks(unsigned sinks, enum log_level max_level);
/* log_set_sinks(LOG_SINK_SYSLOG or LOG_SINK_STDERR, @max_level). */
void log_init(bool use_syslog, enum log_level max_level);

/* Opens @path for appending (created 0640 if missing) as the LOG_SINK_FILE
 * sink; call once, from main before any thread starts. Returns 0 or -errno. */
int log_open_file(const char *path);
/* Opens the log file's path again and writes there from now on (after
 * logrotate renamed it); the old file is closed. Returns 0 (also without a log
 * file) or -errno, in which case lines keep going to the old file. Any thread;
 * not async-signal-safe. */
int log_reopen(void);

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
