// SPDX-License-Identifier: MIT
/*
 * node: inode numbers and the kernel's lookup counts (see node.h).
 *
 * The table is a hash of inode number to node, chained, protected by one
 * mutex held only for memory work. Inode numbers are FNV-1a over the parent's
 * number and the name; a collision (another path already has the number)
 * takes the next free number, which is as stable as the order of lookups.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

#define NODE_ROOT_INO	 1 /* FUSE_ROOT_ID */
#define NODE_MIN_BUCKETS 4096u

const char *const node_file_names[NODE_FILE_COUNT] = {
	"command", "parameters.json", "metadata.json", "output", "result.json",
};

struct node_table {
	pthread_mutex_t lock;
	struct node **buckets; /* protected by lock */
	size_t nbuckets;       /* protected by lock */
	unsigned long count;   /* protected by lock */
	struct node *root;
};

uint64_t node_child_ino(const struct node *parent, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < 8; i++) {
		h ^= (parent->ino >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	/* 0 is invalid and 1 is the root. */
	return h > NODE_ROOT_INO ? h : h + 2;
}

static struct node *table_find(const struct node_table *t, uint64_t ino)
{
	for (struct node *n = t->buckets[ino % t->nbuckets]; n != NULL; n = n->hnext) {
		if (n->ino == ino)
			return n;
	}
	return NULL;
}

static void table_grow(struct node_table *t)
{
	size_t nb = t->nbuckets * 2;
	struct node **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return; /* chains get longer; nothing breaks */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct node *n = t->buckets[i];

		while (n != NULL) {
			struct node *next = n->hnext;

			n->hnext = b[n->ino % nb];
			b[n->ino % nb] = n;
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

static void table_insert(struct node_table *t, struct node *n)
{
	if (t->count >= t->nbuckets * 2)
		table_grow(t);
	n->hnext = t->buckets[n->ino % t->nbuckets];
	t->buckets[n->ino % t->nbuckets] = n;
	t->count++;
}

static void table_remove(struct node_table *t, struct node *n)
{
	struct node **pp = &t->buckets[n->ino % t->nbuckets];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	t->count--;
}

static void node_free(struct node *n)
{
	free(n->name);
	free(n);
}

int node_table_new(struct node_table **ret_table)
{
	struct node_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->buckets = calloc(NODE_MIN_BUCKETS, sizeof(*t->buckets));
	t->root = calloc(1, sizeof(*t->root));
	if (t->buckets == NULL || t->root == NULL)
		goto out_nomem;
	t->root->name = strdup("");
	if (t->root->name == NULL)
		goto out_nomem;
	t->nbuckets = NODE_MIN_BUCKETS;
	t->root->ino = NODE_ROOT_INO;
	t->root->kind = NODE_ROOT;
	t->root->refs = 1; /* the table's: the root never goes away */
	pthread_mutex_init(&t->lock, NULL);
	table_insert(t, t->root);
	*ret_table = t;
	return 0;

out_nomem:
	if (t->root != NULL)
		free(t->root->name);
	free(t->root);
	free(t->buckets);
	free(t);
	return -ENOMEM;
}

void node_table_free(struct node_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct node *n = t->buckets[i];

		while (n != NULL) {
			struct node *next = n->hnext;

			node_free(n);
			n = next;
		}
	}
	pthread_mutex_destroy(&t->lock);
	free(t->buckets);
	free(t);
}

struct node *node_get(struct node_table *t, uint64_t ino)
{
	struct node *n;

	pthread_mutex_lock(&t->lock);
	n = table_find(t, ino);
	if (n != NULL)
		n->refs++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* Drops one reference with the lock held; returns the chain of nodes that
 * died (linked through hnext), to be freed after unlocking. */
static struct node *unref_locked(struct node_table *t, struct node *n, struct node *dead)
{
	while (n != NULL) {
		struct node *parent = n->parent;

		if (--n->refs > 0 || n->nlookup > 0)
			break;
		table_remove(t, n);
		n->hnext = dead;
		dead = n;
		n = parent; /* the dead child held a reference on its parent */
	}
	return dead;
}

static void free_chain(struct node *dead)
{
	while (dead != NULL) {
		struct node *next = dead->hnext;

		node_free(dead);
		dead = next;
	}
}

void node_put(struct node_table *t, struct node *n)
{
	struct node *dead;

	if (n == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	dead = unref_locked(t, n, NULL);
	pthread_mutex_unlock(&t->lock);
	free_chain(dead);
}

void node_forget(struct node_table *t, uint64_t ino, uint64_t nlookup)
{
	struct node *n, *dead = NULL;

	pthread_mutex_lock(&t->lock);
	n = table_find(t, ino);
	if (n != NULL && n != t->root) {
		n->nlookup = nlookup < n->nlookup ? n->nlookup - nlookup : 0;
		if (n->nlookup == 0) {
			n->refs++; /* so unref_locked sees the last reference go */
			dead = unref_locked(t, n, NULL);
		}
	}
	pthread_mutex_unlock(&t->lock);
	free_chain(dead);
}

static void inherit_identity(struct node *n, const struct node *parent)
{
	n->region = parent->region;
	n->instance = parent->instance;
	n->status = parent->status;
	n->invoke_id = parent->invoke_id;
	n->instance_ctime = parent->instance_ctime;
	switch (n->kind) {
	case NODE_REGION:
		n->region = n->name;
		break;
	case NODE_INSTANCE:
		n->instance = n->name;
		break;
	case NODE_STATUS:
		n->status = n->name;
		break;
	case NODE_INVOCATION:
		n->invoke_id = n->name;
		break;
	case NODE_ROOT:
	case NODE_FILE:
		break;
	}
}

int node_child(struct node_table *t, struct node *parent, const char *name, enum node_kind kind,
	       enum node_file file, time_t instance_ctime, bool count_lookup, struct node **ret_node)
{
	uint64_t ino = node_child_ino(parent, name);
	struct node *n, *fresh;

	/* Allocate outside the lock; most lookups find the node and free this. */
	fresh = calloc(1, sizeof(*fresh));
	if (fresh == NULL)
		return -ENOMEM;
	fresh->name = strdup(name);
	if (fresh->name == NULL) {
		free(fresh);
		return -ENOMEM;
	}

	pthread_mutex_lock(&t->lock);
	for (;;) {
		n = table_find(t, ino);
		if (n == NULL || (n->parent == parent && strcmp(n->name, name) == 0))
			break;
		ino = ino + 1 > NODE_ROOT_INO ? ino + 1 : NODE_ROOT_INO + 1;
	}
	if (n == NULL) {
		n = fresh;
		fresh = NULL;
		n->ino = ino;
		n->kind = kind;
		n->file = file;
		n->parent = parent;
		parent->refs++;
		inherit_identity(n, parent);
		if (kind == NODE_INSTANCE)
			n->instance_ctime = instance_ctime;
		table_insert(t, n);
	}
	n->refs++;
	if (count_lookup)
		n->nlookup++;
	pthread_mutex_unlock(&t->lock);

	if (fresh != NULL) {
		free(fresh->name);
		free(fresh);
	}
	*ret_node = n;
	return 0;
}

struct node_fingerprint node_served(struct node_table *t, struct node *n)
{
	struct node_fingerprint fp;

	pthread_mutex_lock(&t->lock);
	fp = n->served;
	pthread_mutex_unlock(&t->lock);
	return fp;
}

bool node_serve(struct node_table *t, struct node *n, const struct node_fingerprint *fp)
{
	struct node_fingerprint old;

	pthread_mutex_lock(&t->lock);
	old = n->served;
	n->served = *fp;
	n->served.set = true;
	pthread_mutex_unlock(&t->lock);
	return old.set && (old.size != fp->size || old.hash != fp->hash);
}

void node_dir_filled(struct node_table *t, struct node *n)
{
	pthread_mutex_lock(&t->lock);
	n->dir_cached = true;
	pthread_mutex_unlock(&t->lock);
}

bool node_dir_is_cached(struct node_table *t, struct node *n)
{
	bool cached;

	pthread_mutex_lock(&t->lock);
	cached = n->dir_cached;
	pthread_mutex_unlock(&t->lock);
	return cached;
}

unsigned long node_count(struct node_table *t)
{
	unsigned long c;

	pthread_mutex_lock(&t->lock);
	c = t->count;
	pthread_mutex_unlock(&t->lock);
	return c;
}
