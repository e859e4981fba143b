// SPDX-License-Identifier: MIT
/*
 * log: formats each message into one stack buffer and hands it to the sink in
 * a single write(2) or syslog(3) call, so concurrent lines never interleave.
 * The sink and level are set once by log_init() before threads start and only
 * read afterwards; errno is preserved so callers may log between a failing
 * call and their use of errno.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

/* One line, prefix included; longer messages are cut and marked. */
#define LOG_LINE_MAX 4096

/* Written by log_init() before any thread starts, read-only afterwards. */
static bool log_use_syslog;
static enum log_level log_max_level = LOG_LEVEL_WARNING;

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

void log_init(bool use_syslog, enum log_level max_level)
{
	log_use_syslog = use_syslog;
	log_max_level = max_level;
	if (use_syslog)
		openlog("swasfs", LOG_PID, LOG_DAEMON);
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

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char cut_mark[] = "...\n";
	char line[LOG_LINE_MAX];
	int saved_errno = errno;
	size_t len;
	int n;

	if (level > LOG_LEVEL_DEBUG || !log_enabled(level))
		return;

	if (log_use_syslog) {
		n = vsnprintf(line, sizeof(line), fmt, ap);
		if (n >= 0)
			syslog(syslog_priorities[level], "%s", line);
		errno = saved_errno;
		return;
	}

	n = snprintf(line, sizeof(line), "swasfs: %s: ", level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		goto out;
	len = (size_t)n;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n < 0)
		goto out;
	if ((size_t)n >= sizeof(line) - len - 1) {
		/* Cut: keep room for the mark and its newline. */
		len = sizeof(line) - sizeof(cut_mark);
		memcpy(line + len, cut_mark, sizeof(cut_mark) - 1);
		len += sizeof(cut_mark) - 1;
	} else {
		len += (size_t)n;
		line[len++] = '\n';
	}
	write_all(STDERR_FILENO, line, len);
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
