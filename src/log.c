// SPDX-License-Identifier: MIT
/*
 * log: formats each message into one stack buffer and hands it to each sink
 * in a single write(2) or syslog(3) call, so concurrent lines never
 * interleave. The sinks and level are set by main before threads start and
 * only read afterwards; the log file's descriptor keeps its number for the
 * life of the process (log_reopen() puts the new file under it with dup2,
 * which is atomic), so a writer never sees it closed. errno is preserved so
 * callers may log between a failing call and their use of errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* One line, prefix included; longer messages are cut and marked. */
#define LOG_LINE_MAX 4096
/* "2026-01-31T23:59:59.123Z swasfs[4194304]: " */
#define LOG_STAMP_MAX 64

/* Written by log_init()/log_set_sinks() before any thread starts, read-only afterwards. */
static atomic_uint log_sinks = LOG_SINK_STDERR;
static enum log_level log_max_level = LOG_LEVEL_WARNING;
static bool log_syslog_open;

/* The -o log file: its path, and the descriptor every line is written to.
 * log_file_lock serialises reopens (writers never take it). */
static pthread_mutex_t log_file_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_file_path[PATH_MAX];
static int log_file_fd = -1;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int syslog_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void log_set_sinks(unsigned sinks, enum log_level max_level)
{
	if (log_file_fd < 0)
		sinks &= ~(unsigned)LOG_SINK_FILE;
	if ((sinks & LOG_SINK_SYSLOG) && !log_syslog_open) {
		openlog("swasfs", LOG_PID, LOG_DAEMON);
		log_syslog_open = true;
	}
	log_max_level = max_level;
	atomic_store(&log_sinks, sinks);
}

void log_init(bool use_syslog, enum log_level max_level)
{
	log_set_sinks(use_syslog ? LOG_SINK_SYSLOG : LOG_SINK_STDERR, max_level);
}

static int open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	return fd < 0 ? -errno : fd;
}

int log_open_file(const char *path)
{
	char cwd[PATH_MAX];
	int fd, n;

	/* Absolute: fuse_daemonize changes to / before any reopen. */
	if (path[0] == '/')
		n = snprintf(log_file_path, sizeof(log_file_path), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		n = snprintf(log_file_path, sizeof(log_file_path), "%s/%s", cwd, path);
	else
		return -errno;
	if (n <= 0 || (size_t)n >= sizeof(log_file_path))
		return -ENAMETOOLONG;
	fd = open_append(log_file_path);
	if (fd < 0)
		return fd;
	log_file_fd = fd;
	return 0;
}

int log_reopen(void)
{
	int fd, r = 0;

	pthread_mutex_lock(&log_file_lock);
	if (log_file_fd < 0)
		goto out_unlock;
	fd = open_append(log_file_path);
	if (fd < 0) {
		/* Keep writing to the old file: better than losing lines. */
		r = fd;
		goto out_unlock;
	}
	if (dup2(fd, log_file_fd) < 0)
		r = -errno;
	close(fd);
out_unlock:
	pthread_mutex_unlock(&log_file_lock);
	return r;
}

bool log_enabled(enum log_level level)
{
	return level <= log_max_level;
}

/* Writes all of @len bytes, retrying short writes and EINTR. */
static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

/* "2026-01-31T23:59:59.123Z swasfs[PID]: ": when and who, for the log file. */
static size_t format_stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL)
		return 0;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	m = snprintf(buf + n, size - n, ".%03ldZ swasfs[%ld]: ", ts.tv_nsec / 1000000L, (long)getpid());
	if (m < 0 || (size_t)m >= size - n)
		return 0;
	return n + (size_t)m;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char cut_mark[] = "...\n";
	char stamp[LOG_STAMP_MAX + 16];
	char line[LOG_LINE_MAX];
	unsigned sinks = atomic_load(&log_sinks);
	int saved_errno = errno;
	size_t len, body, stamp_len;
	int n;

	if (level > LOG_LEVEL_DEBUG || !log_enabled(level))
		return;

	/* "swasfs: level: message\n"; syslog gets the message alone. */
	n = snprintf(line, sizeof(line), "swasfs: %s: ", level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		goto out;
	body = (size_t)n;
	n = vsnprintf(line + body, sizeof(line) - body, fmt, ap);
	if (n < 0)
		goto out;
	if ((size_t)n >= sizeof(line) - body - 1) {
		/* Cut: keep room for the mark and its newline. */
		len = sizeof(line) - sizeof(cut_mark);
		memcpy(line + len, cut_mark, sizeof(cut_mark) - 1);
		len += sizeof(cut_mark) - 1;
	} else {
		len = body + (size_t)n;
		line[len++] = '\n';
	}

	if (sinks & LOG_SINK_SYSLOG) {
		line[len - 1] = '\0';
		syslog(syslog_priorities[level], "%s", line + body);
		line[len - 1] = '\n';
	}
	if (sinks & LOG_SINK_STDERR)
		write_all(STDERR_FILENO, line, len);
	if (sinks & LOG_SINK_FILE) {
		/* The stamp replaces "swasfs: ", in one write. */
		char out[sizeof(stamp) + LOG_LINE_MAX];
		const char *rest = line + strlen("swasfs: ");
		size_t rest_len = len - strlen("swasfs: ");

		stamp_len = format_stamp(stamp, sizeof(stamp));
		memcpy(out, stamp, stamp_len);
		memcpy(out + stamp_len, rest, rest_len);
		write_all(log_file_fd, out, stamp_len + rest_len);
	}
out:
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
