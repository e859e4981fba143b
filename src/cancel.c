// SPDX-License-Identifier: MIT
/*
 * cancel: an atomic flag and an eventfd (see cancel.h). The eventfd is never
 * read, so once written it stays readable and every poll() on it returns at
 * once, for any number of sleepers, now or later.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"

struct cancel {
	atomic_bool set;
	int fd; /* eventfd, readable once set */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cancel_new(struct cancel **ret)
{
	struct cancel *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->fd < 0) {
		r = -errno;
		free(c);
		return r;
	}
	atomic_init(&c->set, false);
	*ret = c;
	return 0;
}

void cancel_free(struct cancel *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

void cancel_set(struct cancel *c)
{
	uint64_t one = 1;
	int saved = errno; /* a signal handler must leave errno as it found it */

	if (c && !atomic_exchange(&c->set, true)) {
		/* Cannot fail for a valid eventfd whose counter is 0 or 1. */
		if (write(c->fd, &one, sizeof(one)) < 0) {
			/* Sleepers still see the flag at their next wake-up. */
		}
	}
	errno = saved;
}

bool cancel_is_set(const struct cancel *c)
{
	return c && atomic_load(&c->set);
}

int cancel_sleep_ms(struct cancel *c, uint64_t ms)
{
	uint64_t until = mono_ms() + ms, now;

	if (!c) {
		struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		return 0;
	}
	while (!cancel_is_set(c) && (now = mono_ms()) < until) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		uint64_t left = until - now;

		/* Returns early on EINTR or when the eventfd turns readable. */
		(void)poll(&pfd, 1, left > 60000u ? 60000 : (int)left);
	}
	return cancel_is_set(c) ? -ECANCELED : 0;
}
