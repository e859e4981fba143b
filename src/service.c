// SPDX-License-Identifier: MIT
/*
 * service: readiness and reload on one bg service thread (see service.h).
 *
 * The thread first waits for the mount to answer, then sleeps in poll(2) on
 * the read end of a pipe: each byte is a request, 'r' a reload and 'q' the
 * stop. Both ends are non-blocking, so a signal handler writing to a full
 * pipe returns at once (a reload is then already pending, which suffices).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "service.h"

/* Between two readiness checks that did not reach FUSE yet. */
#define READY_POLL_MS 50

#define REQ_RELOAD 'r'
#define REQ_STOP   'q'

struct service {
	struct service_config cfg;
	int pipe_rd, pipe_wr;
	atomic_bool stopping;
	atomic_ulong reloads;
	bool reload_pending; /* a SIGHUP came before READY=1; service thread only */
};

int service_new(const struct service_config *cfg, struct service **ret)
{
	struct service *s = calloc(1, sizeof(*s));
	int fds[2];

	if (s == NULL)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		int r = -errno;

		free(s);
		return r;
	}
	s->cfg = *cfg;
	s->pipe_rd = fds[0];
	s->pipe_wr = fds[1];
	*ret = s;
	return 0;
}

void service_free(struct service *s)
{
	if (s == NULL)
		return;
	close(s->pipe_rd);
	close(s->pipe_wr);
	free(s);
}

static void request(struct service *s, char what)
{
	int saved_errno = errno;
	ssize_t n;

	do
		n = write(s->pipe_wr, &what, 1);
	while (n < 0 && errno == EINTR);
	errno = saved_errno;
}

void service_reload_from_signal(struct service *s)
{
	if (s != NULL)
		request(s, REQ_RELOAD);
}

unsigned long service_reloads(const struct service *s)
{
	return atomic_load(&((struct service *)s)->reloads);
}

/* Waits for a request at most @timeout_ms (-1: forever); drains the pipe.
 * Returns the strongest request seen (stop over reload), or 0 for none. */
static char wait_request(struct service *s, int timeout_ms)
{
	struct pollfd pfd = { .fd = s->pipe_rd, .events = POLLIN };
	char buf[64], got = 0;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	while ((n = read(s->pipe_rd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == REQ_STOP || got == 0)
				got = buf[i];
	}
	return atomic_load(&s->stopping) ? REQ_STOP : got;
}

static bool is_path_mountpoint(const char *mnt)
{
	return mnt != NULL && strncmp(mnt, "/dev/fd/", strlen("/dev/fd/")) != 0;
}

/*
 * True once the mount answers. The service starts in FUSE's init, after the
 * mount, so the mount point is already the FUSE mount; opening it needs the
 * kernel to check permissions on the root, whose attributes are not known
 * yet: a GETATTR, which the kernel queues until the daemon has answered
 * INIT. So open() returns only once the session loop runs and init is done,
 * and the daemon answers requests. (Not statfs: valgrind does not let other
 * threads run while one is in statfs, and the daemon would wait for itself.)
 * An error is retried until the stop.
 */
static bool wait_until_mounted(struct service *s)
{
	bool logged = false;
	int fd;

	if (!is_path_mountpoint(s->cfg.mountpoint))
		return true;
	while (!atomic_load(&s->stopping)) {
		fd = open(s->cfg.mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return true;
		}
		if (!logged) {
			log_debug("service: %s does not answer yet: %s", s->cfg.mountpoint, strerror(errno));
			logged = true;
		}
		switch (wait_request(s, READY_POLL_MS)) {
		case REQ_STOP:
			return false;
		case REQ_RELOAD:
			s->reload_pending = true; /* done once ready */
			break;
		default:
			break;
		}
	}
	return false;
}

/* sd_notify(3)'s reload protocol: RELOADING=1 with the monotonic time it
 * began, then READY=1 once done (what Type=notify-reload waits for; plain
 * Type=notify takes it as information). */
static void notify_reloading(struct service *s)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
	sdnotify_send(s->cfg.notify, msg);
}

static void reload(struct service *s)
{
	size_t marked;
	int r;

	notify_reloading(s);
	r = log_reopen();
	if (r < 0)
		log_warn("SIGHUP: cannot reopen the log file: %s; still writing to the old one",
			 strerror(-r));
	marked = s->cfg.cache != NULL ? cache_mark_stale(s->cfg.cache) : 0;
	if (s->cfg.on_reload != NULL)
		s->cfg.on_reload(s->cfg.on_reload_arg);
	atomic_fetch_add(&s->reloads, 1);
	log_info("SIGHUP: %zu cached listings marked stale; the next access asks the API", marked);
	sdnotify_send(s->cfg.notify, "READY=1");
}

static void service_run(void *arg)
{
	struct service *s = arg;
	int r;

	/* Nobody to tell: leave the mount alone (an open of it would make an
	 * unmount that comes at that moment fail with EBUSY). */
	if (sdnotify_is_enabled(s->cfg.notify) && !wait_until_mounted(s))
		return;
	r = sdnotify_send(s->cfg.notify, "READY=1");
	if (r < 0)
		log_warn("cannot tell the service manager we are ready: %s", strerror(-r));
	else if (sdnotify_is_enabled(s->cfg.notify))
		log_debug("service: READY=1 sent");
	if (s->reload_pending)
		reload(s);
	for (;;) {
		char req = wait_request(s, -1);

		if (req == REQ_STOP)
			return;
		if (req == REQ_RELOAD)
			reload(s);
	}
}

static void service_stop(void *arg)
{
	struct service *s = arg;

	atomic_store(&s->stopping, true);
	request(s, REQ_STOP);
}

int service_register(struct service *s, struct bg *bg)
{
	return bg_service(bg, "service", service_run, service_stop, s);
}
