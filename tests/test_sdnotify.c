// SPDX-License-Identifier: MIT
/*
 * test_sdnotify: the readiness datagrams reach a socket bound where
 * $NOTIFY_SOCKET says (a path, or an abstract @name), the variable is gone
 * from the environment afterwards, and a bad value notifies nothing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "test.h"

/* A datagram socket bound to @name ("/path" or "@abstract"). */
static int bind_dgram(const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ASSERT_TRUE(fd >= 0);
	memcpy(addr.sun_path, name, strlen(name));
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	else
		len++;
	ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&addr, len), 0);
	ASSERT_EQ_INT(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void expect(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);

	ASSERT_TRUE(n >= 0);
	ASSERT_EQ_MEM(buf, (size_t)n, want, strlen(want));
}

static void send_two_to(const char *name)
{
	struct sdnotify *n = NULL;
	int fd = bind_dgram(name);

	ASSERT_EQ_INT(setenv("NOTIFY_SOCKET", name, 1), 0);
	ASSERT_EQ_INT(sdnotify_new(&n), 0);
	ASSERT_TRUE(getenv("NOTIFY_SOCKET") == NULL);
	ASSERT_TRUE(sdnotify_is_enabled(n));
	ASSERT_EQ_INT(sdnotify_send(n, "READY=1"), 0);
	ASSERT_EQ_INT(sdnotify_send(n, "STOPPING=1"), 0);
	expect(fd, "READY=1");
	expect(fd, "STOPPING=1");
	sdnotify_free(n);
	close(fd);
}

static void test_a_path_socket_gets_each_message_as_one_datagram(void)
{
	char dir[] = "/tmp/test_sdnotify.XXXXXX", path[64];

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/notify", dir);
	send_two_to(path);
	unlink(path);
	rmdir(dir);
}

static void test_an_abstract_name_gets_them_too(void)
{
	char name[64];

	snprintf(name, sizeof(name), "@swasfs-test-sdnotify-%ld", (long)getpid());
	send_two_to(name);
}

static void test_without_the_variable_sends_are_no_ops(void)
{
	struct sdnotify *n = NULL;

	unsetenv("NOTIFY_SOCKET");
	ASSERT_EQ_INT(sdnotify_new(&n), 0);
	ASSERT_TRUE(!sdnotify_is_enabled(n));
	ASSERT_EQ_INT(sdnotify_send(n, "READY=1"), 0);
	ASSERT_EQ_INT(sdnotify_send(NULL, "READY=1"), 0);
	sdnotify_free(n);
}

static void test_a_relative_name_is_refused_and_removed(void)
{
	struct sdnotify *n = NULL;

	ASSERT_EQ_INT(setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
	ASSERT_EQ_INT(sdnotify_new(&n), -EINVAL);
	ASSERT_TRUE(n == NULL);
	ASSERT_TRUE(getenv("NOTIFY_SOCKET") == NULL);
}

static void test_a_socket_nobody_listens_on_is_an_error(void)
{
	struct sdnotify *n = NULL;

	ASSERT_EQ_INT(setenv("NOTIFY_SOCKET", "/nonexistent/swasfs-notify", 1), 0);
	ASSERT_EQ_INT(sdnotify_new(&n), 0);
	ASSERT_TRUE(sdnotify_send(n, "READY=1") < 0);
	sdnotify_free(n);
}

int main(void)
{
	RUN(test_a_path_socket_gets_each_message_as_one_datagram);
	RUN(test_an_abstract_name_gets_them_too);
	RUN(test_without_the_variable_sends_are_no_ops);
	RUN(test_a_relative_name_is_refused_and_removed);
	RUN(test_a_socket_nobody_listens_on_is_an_error);
	return 0;
}
