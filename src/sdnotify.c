// SPDX-License-Identifier: MIT
/*
 * sdnotify: one AF_UNIX datagram per notification, to the address
 * $NOTIFY_SOCKET named at start (see sdnotify.h). The address is resolved
 * once; a socket is opened per send, as sd_notify(3) itself does, so no
 * descriptor is held across fuse_daemonize()'s fork or shared by threads.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

struct sdnotify {
	bool enabled;
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/* Fills @n's address from @name: "/path" or "@abstract". */
static int address_of(struct sdnotify *n, const char *name)
{
	size_t len = strlen(name);

	if (len < 2 || (name[0] != '/' && name[0] != '@') || len >= sizeof(n->addr.sun_path))
		return -EINVAL;
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, name, len);
	if (name[0] == '@') {
		/* Abstract: a leading NUL, and the length says where the name ends. */
		n->addr.sun_path[0] = '\0';
		n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	n->enabled = true;
	return 0;
}

int sdnotify_new(struct sdnotify **ret)
{
	struct sdnotify *n = calloc(1, sizeof(*n));
	const char *env;
	int r = 0;

	if (n == NULL)
		return -ENOMEM;
	env = getenv("NOTIFY_SOCKET");
	if (env != NULL && *env != '\0')
		r = address_of(n, env);
	/* Whatever it said: the processes we start must not notify for us. */
	unsetenv("NOTIFY_SOCKET");
	if (r < 0) {
		free(n);
		return r;
	}
	*ret = n;
	return 0;
}

void sdnotify_free(struct sdnotify *n)
{
	free(n);
}

bool sdnotify_is_enabled(const struct sdnotify *n)
{
	return n != NULL && n->enabled;
}

int sdnotify_send(const struct sdnotify *n, const char *state)
{
	ssize_t sent;
	int fd, r = 0;

	if (!sdnotify_is_enabled(n))
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do
		sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
			      n->addr_len);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		r = -errno;
	else if ((size_t)sent != strlen(state))
		r = -EMSGSIZE;
	close(fd);
	return r;
}
