// SPDX-License-Identifier: MIT
/*
 * test_notify: invalidations are sent on the notifier's own thread, never on
 * the caller's; queueing never waits for a send that is stuck in the kernel
 * (the deadlock this module exists to prevent); an inode queued twice while
 * waiting is sent once; past the cap, numbers are dropped and counted; free
 * joins the thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "test.h"

/* A fake kernel: records what it is sent; can be made to block, as
 * fuse_lowlevel_notify_inval_inode does on a locked page. */
struct fake_kernel {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool blocked;
	bool in_send; /* a send is waiting on the gate */
	pthread_t caller;
	bool sent_on_caller; /* or on any thread but the notifier's */
	struct notify *n;
	uint64_t sent[8192];
	size_t nsent;
};

static int fake_send(void *arg, uint64_t ino)
{
	struct fake_kernel *k = arg;

	pthread_mutex_lock(&k->lock);
	if (pthread_equal(pthread_self(), k->caller) || !notify_is_own_thread(k->n))
		k->sent_on_caller = true;
	k->in_send = true;
	pthread_cond_broadcast(&k->cond);
	while (k->blocked)
		pthread_cond_wait(&k->cond, &k->lock);
	k->in_send = false;
	if (k->nsent < sizeof(k->sent) / sizeof(k->sent[0]))
		k->sent[k->nsent++] = ino;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static void kernel_init(struct fake_kernel *k)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	k->caller = pthread_self();
}

/* Waits until @n inodes were sent; false after 10 s. */
static bool wait_sent(struct fake_kernel *k, size_t n)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&k->lock);
	while (k->nsent < n) {
		if (pthread_cond_timedwait(&k->cond, &k->lock, &deadline) != 0)
			break;
	}
	ok = k->nsent >= n;
	pthread_mutex_unlock(&k->lock);
	return ok;
}

static void set_blocked(struct fake_kernel *k, bool blocked)
{
	pthread_mutex_lock(&k->lock);
	k->blocked = blocked;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static void wait_in_send(struct fake_kernel *k)
{
	pthread_mutex_lock(&k->lock);
	while (!k->in_send)
		pthread_cond_wait(&k->cond, &k->lock);
	pthread_mutex_unlock(&k->lock);
}

/* A notifier on a started bg, as the daemon's runs. */
static struct notify *notify_start(struct fake_kernel *k, struct bg **ret_bg)
{
	struct notify *n = NULL;

	ASSERT_EQ_INT(bg_new(NULL, ret_bg), 0);
	ASSERT_EQ_INT(notify_new(*ret_bg, fake_send, k, &n), 0);
	ASSERT_TRUE(!notify_is_own_thread(n));
	k->n = n;
	ASSERT_EQ_INT(bg_start(*ret_bg), 0);
	return n;
}

static void test_sent_on_its_own_thread(void)
{
	struct fake_kernel k;
	struct notify *n = NULL;
	struct bg *bg;

	kernel_init(&k);
	n = notify_start(&k, &bg);
	notify_inode(n, 42);
	ASSERT_TRUE(wait_sent(&k, 1));
	ASSERT_EQ_INT(k.sent[0], 42);
	ASSERT_TRUE(!k.sent_on_caller);
	bg_stop(bg);
	notify_free(n);
	bg_free(bg);
}

static void test_queueing_never_waits_for_a_stuck_send(void)
{
	struct fake_kernel k;
	struct notify *n = NULL;
	struct bg *bg;
	struct notify_stats st;

	kernel_init(&k);
	k.blocked = true;
	n = notify_start(&k, &bg);
	notify_inode(n, 1);
	wait_in_send(&k);
	/* The kernel holds the first send; handlers go on queueing. */
	for (uint64_t i = 2; i <= 100; i++)
		notify_inode(n, i);
	notify_inode(n, 50); /* already waiting: sent once */
	notify_get_stats(n, &st);
	ASSERT_EQ_INT(st.queued, 101);
	ASSERT_EQ_INT(st.dropped, 0);
	set_blocked(&k, false);
	ASSERT_TRUE(wait_sent(&k, 100));
	for (size_t i = 0; i < 100; i++)
		ASSERT_EQ_INT(k.sent[i], i + 1);
	usleep(50000);
	ASSERT_EQ_INT(k.nsent, 100);
	bg_stop(bg);
	notify_free(n);
	bg_free(bg);
}

static void test_over_the_cap_is_dropped_and_counted(void)
{
	struct fake_kernel k;
	struct notify *n = NULL;
	struct bg *bg;
	struct notify_stats st;

	kernel_init(&k);
	k.blocked = true;
	n = notify_start(&k, &bg);
	notify_inode(n, 0);
	wait_in_send(&k);
	for (uint64_t i = 1; i <= NOTIFY_MAX_PENDING + 10; i++)
		notify_inode(n, i);
	notify_get_stats(n, &st);
	ASSERT_EQ_INT(st.dropped, 10);
	set_blocked(&k, false);
	ASSERT_TRUE(wait_sent(&k, NOTIFY_MAX_PENDING + 1));
	bg_stop(bg);
	notify_free(n);
	bg_free(bg);
	ASSERT_EQ_INT(k.nsent, NOTIFY_MAX_PENDING + 1);
}

static void test_free_with_nothing_queued_joins(void)
{
	struct fake_kernel k;
	struct notify *n = NULL;
	struct bg *bg;

	kernel_init(&k);
	n = notify_start(&k, &bg);
	bg_stop(bg);
	notify_free(n);
	bg_free(bg);
	notify_free(NULL);
	notify_inode(NULL, 1); /* before init, after destroy: a no-op */
	ASSERT_EQ_INT(k.nsent, 0);
}

int main(void)
{
	RUN(test_sent_on_its_own_thread);
	RUN(test_queueing_never_waits_for_a_stuck_send);
	RUN(test_over_the_cap_is_dropped_and_counted);
	RUN(test_free_with_nothing_queued_joins);
	return 0;
}
