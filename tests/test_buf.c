// SPDX-License-Identifier: MIT
/*
 * test_buf: growth, NUL termination, printf, the cap and the sticky failure
 * flag, and buf_steal's ownership transfer.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "test.h"

static void test_append_and_terminate(void)
{
	struct buf b = BUF_INIT;
	size_t len = 0;
	char *s;
	int i;

	buf_puts(&b, "abc");
	buf_putc(&b, 'd');
	buf_append(&b, "e\0f", 3);
	ASSERT_EQ_INT(b.len, 7);
	ASSERT_EQ_MEM(b.data, 8, "abcde\0f\0", 8);
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	ASSERT_TRUE(!buf_failed(&b));
	ASSERT_EQ_INT(b.data[b.len], '\0');
	ASSERT_TRUE(strstr(b.data + 7, "998,999,") != NULL);
	s = buf_steal(&b, &len);
	ASSERT_TRUE(s != NULL);
	ASSERT_EQ_INT(len, 7 + strlen(s + 7));
	ASSERT_TRUE(b.data == NULL && b.len == 0);
	free(s);
	buf_done(&b);
}

static void test_empty_steal_gives_empty_string(void)
{
	struct buf b = BUF_INIT;
	size_t len = 99;
	char *s = buf_steal(&b, &len);

	ASSERT_EQ_STR(s, "");
	ASSERT_EQ_INT(len, 0);
	free(s);
}

static void test_cap_fails_sticky(void)
{
	struct buf b;

	buf_init(&b, 8);
	buf_puts(&b, "12345678");
	ASSERT_TRUE(!buf_failed(&b));
	buf_putc(&b, '9');
	ASSERT_TRUE(buf_failed(&b));
	buf_puts(&b, "");
	ASSERT_TRUE(buf_failed(&b));
	ASSERT_TRUE(buf_steal(&b, NULL) == NULL);
	ASSERT_TRUE(!buf_failed(&b));

	buf_init(&b, 8);
	buf_printf(&b, "%s", "123456789");
	ASSERT_TRUE(buf_failed(&b));
	buf_reset(&b);
	ASSERT_TRUE(!buf_failed(&b));
	buf_printf(&b, "%d", 42);
	ASSERT_EQ_STR(b.data, "42");
	buf_done(&b);
}

static void test_printf_large(void)
{
	struct buf b = BUF_INIT;
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_puts(&b, "<");
	buf_printf(&b, "%s>", big);
	ASSERT_EQ_INT(b.len, sizeof(big) + 1);
	ASSERT_EQ_INT(b.data[b.len - 1], '>');
	buf_done(&b);
}

int main(void)
{
	RUN(test_append_and_terminate);
	RUN(test_empty_steal_gives_empty_string);
	RUN(test_cap_fails_sticky);
	RUN(test_printf_large);
	return 0;
}
