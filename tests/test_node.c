// SPDX-License-Identifier: MIT
/*
 * test_node: inode numbers are stable per path and distinct between paths;
 * the kernel's lookup counts keep nodes alive exactly as long as they should
 * (no leak after forget, parents outlive children); a file node remembers a
 * fingerprint of what it served and says when it changes; names the API
 * returns that cannot be path components are recognised.
 */
#include <string.h>

#include "cache.h"
#include "node.h"
#include "test.h"

static void test_inode_numbers_are_stable_and_distinct(void)
{
	struct node_table *t;
	struct node *root, *a, *b, *a2;

	ASSERT_EQ_INT(node_table_new(NULL, &t), 0);
	root = node_get(t, 1);
	ASSERT_TRUE(root != NULL);
	ASSERT_EQ_INT(node_child(t, root, "cn-hangzhou", NODE_REGION, 0, 0, true, &a), 0);
	ASSERT_EQ_INT(node_child(t, root, "cn-shanghai", NODE_REGION, 0, 0, true, &b), 0);
	ASSERT_TRUE(a->ino != b->ino);
	ASSERT_TRUE(a->ino > 1 && b->ino > 1);
	ASSERT_TRUE(a->ino == node_child_ino(t, root, "cn-hangzhou", NODE_REGION, 0));
	ASSERT_EQ_STR(a->region, "cn-hangzhou");
	/* Same path, same node. */
	ASSERT_EQ_INT(node_child(t, root, "cn-hangzhou", NODE_REGION, 0, 0, true, &a2), 0);
	ASSERT_TRUE(a2 == a);
	node_put(t, a2);
	node_put(t, a);
	node_put(t, b);
	node_put(t, root);
	node_table_free(t);

	/* Another table (another mount): the same numbers. */
	ASSERT_EQ_INT(node_table_new(NULL, &t), 0);
	root = node_get(t, 1);
	ASSERT_EQ_INT(node_child(t, root, "cn-hangzhou", NODE_REGION, 0, 0, false, &a2), 0);
	ASSERT_TRUE(a2->ino == node_child_ino(t, root, "cn-hangzhou", NODE_REGION, 0));
	node_put(t, a2);
	node_put(t, root);
	node_table_free(t);
}

static void test_identity_is_inherited_down_the_tree(void)
{
	struct node_table *t;
	struct node *root, *r, *i, *s, *v, *f;

	ASSERT_EQ_INT(node_table_new(NULL, &t), 0);
	root = node_get(t, 1);
	ASSERT_EQ_INT(node_child(t, root, "cn-hangzhou", NODE_REGION, 0, 0, true, &r), 0);
	ASSERT_EQ_INT(node_child(t, r, "i-1", NODE_INSTANCE, 0, 1700000000, true, &i), 0);
	ASSERT_EQ_INT(node_child(t, i, "Finished", NODE_STATUS, 0, 0, true, &s), 0);
	ASSERT_EQ_INT(node_child(t, s, "t-1", NODE_INVOCATION, 0, 0, true, &v), 0);
	ASSERT_EQ_INT(node_child(t, v, "command", NODE_FILE, NODE_FILE_COMMAND, 0, true, &f), 0);
	ASSERT_EQ_STR(f->region, "cn-hangzhou");
	ASSERT_EQ_STR(f->instance, "i-1");
	ASSERT_EQ_STR(f->status, "Finished");
	ASSERT_EQ_STR(f->invoke_id, "t-1");
	ASSERT_EQ_INT(f->instance_ctime, 1700000000);
	ASSERT_EQ_INT(f->file, NODE_FILE_COMMAND);
	/* The same name under another parent is another inode. */
	ASSERT_TRUE(node_child_ino(t, s, "t-1", NODE_INVOCATION, 0) !=
		    node_child_ino(t, i, "t-1", NODE_INVOCATION, 0));
	node_put(t, f);
	node_put(t, v);
	node_put(t, s);
	node_put(t, i);
	node_put(t, r);
	node_put(t, root);
	node_table_free(t);
}

static void test_forget_frees_nodes_and_then_their_parents(void)
{
	struct node_table *t;
	struct node *root, *r, *i;
	uint64_t rino, iino;

	ASSERT_EQ_INT(node_table_new(NULL, &t), 0);
	ASSERT_EQ_INT(node_count(t), 1);
	root = node_get(t, 1);
	ASSERT_EQ_INT(node_child(t, root, "r", NODE_REGION, 0, 0, true, &r), 0);
	ASSERT_EQ_INT(node_child(t, r, "i", NODE_INSTANCE, 0, 0, true, &i), 0);
	ASSERT_EQ_INT(node_child(t, r, "i", NODE_INSTANCE, 0, 0, true, &(struct node *){ NULL }), 0);
	node_put(t, i); /* the second reference of node_child */
	rino = r->ino;
	iino = i->ino;
	node_put(t, i);
	node_put(t, r);
	ASSERT_EQ_INT(node_count(t), 3);
	/* The kernel forgets the region first: its child keeps it. */
	node_forget(t, rino, 1);
	ASSERT_EQ_INT(node_count(t), 3);
	r = node_get(t, rino);
	ASSERT_TRUE(r != NULL);
	node_put(t, r);
	/* Two lookups of the instance: one forget is not enough. */
	node_forget(t, iino, 1);
	ASSERT_EQ_INT(node_count(t), 3);
	node_forget(t, iino, 1);
	ASSERT_EQ_INT(node_count(t), 1);
	ASSERT_TRUE(node_get(t, iino) == NULL);
	ASSERT_TRUE(node_get(t, rino) == NULL);
	/* Unknown numbers and the root are ignored. */
	node_forget(t, 12345, 1);
	node_forget(t, 1, 100);
	ASSERT_EQ_INT(node_count(t), 1);
	node_put(t, root);
	node_table_free(t);
}

static void test_an_operation_in_flight_keeps_a_forgotten_node(void)
{
	struct node_table *t;
	struct node *root, *r, *held;

	ASSERT_EQ_INT(node_table_new(NULL, &t), 0);
	root = node_get(t, 1);
	ASSERT_EQ_INT(node_child(t, root, "r", NODE_REGION, 0, 0, true, &r), 0);
	node_put(t, r);
	held = node_get(t, r->ino);
	node_forget(t, held->ino, 1);
	ASSERT_EQ_INT(node_count(t), 2);
	ASSERT_EQ_STR(held->name, "r");
	node_put(t, held);
	ASSERT_EQ_INT(node_count(t), 1);
	node_put(t, root);
	node_table_free(t);
}

/* region r / instance i / @status / @id, each looked up once; returns the
 * invocation node with a reference. */
static struct node *invocation_path(struct node_table *t, struct node *root, const char *status,
				    const char *id)
{
	struct node *r, *i, *s, *v;

	ASSERT_EQ_INT(node_child(t, root, "r", NODE_REGION, 0, 0, true, &r), 0);
	ASSERT_EQ_INT(node_child(t, r, "i", NODE_INSTANCE, 0, 0, true, &i), 0);
	ASSERT_EQ_INT(node_child(t, i, status, NODE_STATUS, 0, 0, true, &s), 0);
	ASSERT_EQ_INT(node_child(t, s, id, NODE_INVOCATION, 0, 0, true, &v), 0);
	node_put(t, s);
	node_put(t, i);
	node_put(t, r);
	return v;
}

/* Drops @v's reference and the kernel's single lookup of it and of each of
 * its ancestors. */
static void path_forget(struct node_table *t, struct node *v)
{
	uint64_t inos[4];
	size_t n = 0;

	for (struct node *x = v; x != NULL && x->parent != NULL; x = x->parent)
		inos[n++] = x->ino;
	node_put(t, v);
	for (size_t k = 0; k < n; k++)
		node_forget(t, inos[k], k < 2 ? 1 : 2); /* region, instance: maybe looked up twice */
}

static void test_a_file_keeps_its_number_across_status_directories(void)
{
	struct node_table *t;
	struct node *root, *running, *finished, *f1, *f2, *c;

	ASSERT_EQ_INT(node_table_new(NULL, &t), 0);
	root = node_get(t, 1);
	running = invocation_path(t, root, "Running", "t-1");
	finished = invocation_path(t, root, "Finished", "t-1");
	ASSERT_TRUE(running->ino != finished->ino);
	ASSERT_TRUE(!(running->ino & NODE_FILE_INO_BIT) && !(finished->ino & NODE_FILE_INO_BIT));
	ASSERT_EQ_INT(node_child(t, running, "output", NODE_FILE, NODE_FILE_OUTPUT, 0, true, &f1), 0);
	ASSERT_EQ_INT(node_child(t, finished, "output", NODE_FILE, NODE_FILE_OUTPUT, 0, true, &f2), 0);
	/* One inode under both names, in the files' range, computed. */
	ASSERT_TRUE(f1 == f2);
	ASSERT_TRUE(f1->ino & NODE_FILE_INO_BIT);
	ASSERT_TRUE(f1->ino == node_child_ino(t, finished, "output", NODE_FILE, NODE_FILE_OUTPUT));
	ASSERT_EQ_INT(f1->nlookup, 2);
	/* Another file of the same invocation is another inode. */
	ASSERT_EQ_INT(node_child(t, finished, "command", NODE_FILE, NODE_FILE_COMMAND, 0, true, &c), 0);
	ASSERT_TRUE(c != f1 && (c->ino & NODE_FILE_INO_BIT));
	node_put(t, c);
	node_forget(t, c->ino, 1);
	node_put(t, f1);
	node_put(t, f2);
	node_forget(t, f1->ino, 2);
	path_forget(t, running);
	/* The second path's region and instance are the same nodes: once each more. */
	path_forget(t, finished);
	ASSERT_EQ_INT(node_count(t), 1);
	node_put(t, root);
	node_table_free(t);
}

/* A hash that makes every number collide. */
static uint64_t worst_hash(uint64_t h, const void *p, size_t len)
{
	(void)h;
	(void)p;
	(void)len;
	return 7;
}

static void test_a_collision_is_detected_and_never_serves_another_inode(void)
{
	struct node_table *t;
	struct node *root, *a, *b, *a2, *v, *fa, *fb;

	ASSERT_EQ_INT(node_table_new(worst_hash, &t), 0);
	root = node_get(t, 1);
	ASSERT_EQ_INT(node_child(t, root, "cn-hangzhou", NODE_REGION, 0, 0, true, &a), 0);
	ASSERT_EQ_INT(node_child(t, root, "cn-shanghai", NODE_REGION, 0, 0, true, &b), 0);
	ASSERT_TRUE(a != b && a->ino != b->ino);
	ASSERT_EQ_STR(a->name, "cn-hangzhou");
	ASSERT_EQ_STR(b->name, "cn-shanghai");
	ASSERT_EQ_INT(node_collisions(t), 1);
	/* Looked up again, each name finds its own node past the collision. */
	ASSERT_EQ_INT(node_child(t, root, "cn-shanghai", NODE_REGION, 0, 0, true, &a2), 0);
	ASSERT_TRUE(a2 == b);
	node_put(t, a2);
	/* Files collide among themselves, never with directories. */
	v = invocation_path(t, root, "Finished", "t-1");
	ASSERT_EQ_INT(node_child(t, v, "output", NODE_FILE, NODE_FILE_OUTPUT, 0, true, &fa), 0);
	ASSERT_EQ_INT(node_child(t, v, "command", NODE_FILE, NODE_FILE_COMMAND, 0, true, &fb), 0);
	ASSERT_TRUE(fa != fb && fa->ino != fb->ino);
	ASSERT_TRUE((fa->ino & NODE_FILE_INO_BIT) && (fb->ino & NODE_FILE_INO_BIT));
	ASSERT_EQ_INT(fa->file, NODE_FILE_OUTPUT);
	ASSERT_EQ_INT(fb->file, NODE_FILE_COMMAND);
	node_put(t, fa);
	node_put(t, fb);
	node_put(t, a);
	node_put(t, b);
	node_put(t, v);
	node_put(t, root);
	node_table_free(t);
}

static void test_a_file_node_says_when_its_bytes_change(void)
{
	struct node_table *t;
	struct node *root, *v, *f;
	struct node_fingerprint a = { .size = 5, .hash = 42 }, b = a, c = a, got;

	b.hash = 43;
	c.size = 6;
	ASSERT_EQ_INT(node_table_new(NULL, &t), 0);
	root = node_get(t, 1);
	v = invocation_path(t, root, "Running", "t-1");
	ASSERT_EQ_INT(node_child(t, v, "output", NODE_FILE, NODE_FILE_OUTPUT, 0, true, &f), 0);
	ASSERT_TRUE(!node_served(t, f).set);
	/* The first bytes served replace nothing the kernel has. */
	ASSERT_TRUE(!node_serve(t, f, &a));
	got = node_served(t, f);
	ASSERT_TRUE(got.set && got.size == 5 && got.hash == 42 && !got.final);
	ASSERT_TRUE(!node_serve(t, f, &a));
	ASSERT_TRUE(node_serve(t, f, &b)); /* same size, other bytes */
	ASSERT_TRUE(node_serve(t, f, &c)); /* other size */
	ASSERT_TRUE(!node_serve(t, f, &c));
	/* Becoming final with the same bytes is no change, but is kept. */
	c.final = true;
	ASSERT_TRUE(!node_serve(t, f, &c));
	ASSERT_TRUE(node_served(t, f).final);
	/* A node holds identity and this, nothing the cache owns. */
	node_put(t, f);
	node_forget(t, f->ino, 1);
	path_forget(t, v);
	ASSERT_EQ_INT(node_count(t), 1);
	node_put(t, root);
	node_table_free(t);
}

static void test_unusable_names(void)
{
	char big[300];

	ASSERT_TRUE(cache_is_valid_name("t-hz02p9545t6", 13));
	ASSERT_TRUE(cache_is_valid_name("a.b...", 6));
	/* A leading dot: the synthetic names (.by-name, .instance.json) win. */
	ASSERT_TRUE(!cache_is_valid_name("...", 3));
	ASSERT_TRUE(!cache_is_valid_name(".by-name", 8));
	ASSERT_TRUE(!cache_is_valid_name("", 0));
	ASSERT_TRUE(!cache_is_valid_name(".", 1));
	ASSERT_TRUE(!cache_is_valid_name("..", 2));
	ASSERT_TRUE(!cache_is_valid_name("a/b", 3));
	ASSERT_TRUE(!cache_is_valid_name("a\0b", 3));
	memset(big, 'x', sizeof(big));
	ASSERT_TRUE(cache_is_valid_name(big, 255));
	ASSERT_TRUE(!cache_is_valid_name(big, 256));
}

int main(void)
{
	RUN(test_a_file_keeps_its_number_across_status_directories);
	RUN(test_a_collision_is_detected_and_never_serves_another_inode);
	RUN(test_inode_numbers_are_stable_and_distinct);
	RUN(test_identity_is_inherited_down_the_tree);
	RUN(test_forget_frees_nodes_and_then_their_parents);
	RUN(test_an_operation_in_flight_keeps_a_forgotten_node);
	RUN(test_a_file_node_says_when_its_bytes_change);
	RUN(test_unusable_names);
	return 0;
}
