// SPDX-License-Identifier: MIT
/*
 * node: inode numbers and the kernel's lookup counts (see node.h).
 *
 * The table is a hash of inode number to node, chained, protected by one
 * mutex held only for memory work. Directory numbers hash the parent's number
 * and the name, file numbers the file's identity (node.h); a collision
 * (another identity already has the number) takes the next free number of
 * the same range, which is as stable as the order of lookups.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lockrule.h"
#include "node.h"

#define NODE_ROOT_INO	 1 /* FUSE_ROOT_ID */
#define NODE_MIN_BUCKETS 4096u

const char *const node_file_names[NODE_FILE_COUNT] = {
	"command", "parameters.json", "metadata.json", "output", "result.json",
};

struct node_table {
	node_hash_fn hash;
	pthread_mutex_t lock;
	struct node **buckets;	  /* protected by lock */
	size_t nbuckets;	  /* protected by lock */
	unsigned long count;	  /* protected by lock */
	unsigned long collisions; /* protected by lock */
	struct node *root;
};

uint64_t node_fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void table_lock(struct node_table *t)
{
	pthread_mutex_lock(&t->lock);
	lockrule_acquired(LOCK_NODES);
}

static void table_unlock(struct node_table *t)
{
	lockrule_released(LOCK_NODES);
	pthread_mutex_unlock(&t->lock);
}

/* A directory's number: its parent's and its name, top bit clear; 0 is
 * invalid and 1 the root. */
static uint64_t dir_ino(const struct node_table *t, uint64_t parent, const char *name)
{
	uint64_t h = t->hash(NODE_HASH_INIT, &parent, sizeof(parent));

	h = t->hash(h, name, strlen(name)) & ~NODE_FILE_INO_BIT;
	return h > NODE_ROOT_INO ? h : h + 2;
}

/* A file's number: its identity, each string with its NUL so none runs into
 * the next; top bit set. */
static uint64_t file_ino(const struct node_table *t, const char *region, const char *instance,
			 const char *invoke_id, enum node_file file)
{
	unsigned char f = (unsigned char)file;
	uint64_t h = NODE_HASH_INIT;

	h = t->hash(h, region, strlen(region) + 1);
	h = t->hash(h, instance, strlen(instance) + 1);
	h = t->hash(h, invoke_id, strlen(invoke_id) + 1);
	return t->hash(h, &f, 1) | NODE_FILE_INO_BIT;
}

/* The next number of the same range, for a collision. */
static uint64_t next_ino(uint64_t ino)
{
	if (ino & NODE_FILE_INO_BIT)
		return (ino + 1) | NODE_FILE_INO_BIT;
	ino = (ino + 1) & ~NODE_FILE_INO_BIT;
	return ino > NODE_ROOT_INO ? ino : NODE_ROOT_INO + 1;
}

uint64_t node_child_ino(struct node_table *t, const struct node *parent, const char *name,
			enum node_kind kind, enum node_file file)
{
	if (kind == NODE_FILE)
		return file_ino(t, parent->region, parent->instance, parent->invoke_id, file);
	return dir_ino(t, parent->ino, name);
}

/* Is @n the child @name of @parent (directories), or the same file? */
static bool is_same(const struct node *n, const struct node *parent, const char *name, enum node_kind kind,
		    enum node_file file)
{
	if (n->kind != kind)
		return false;
	if (kind != NODE_FILE)
		return n->parent == parent && strcmp(n->name, name) == 0;
	return n->file == file && strcmp(n->invoke_id, parent->invoke_id) == 0 &&
	       strcmp(n->instance, parent->instance) == 0 && strcmp(n->region, parent->region) == 0;
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

int node_table_new(node_hash_fn hash, struct node_table **ret_table)
{
	struct node_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -ENOMEM;
	t->hash = hash != NULL ? hash : node_fnv1a;
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

	table_lock(t);
	n = table_find(t, ino);
	if (n != NULL)
		n->refs++;
	table_unlock(t);
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
	table_lock(t);
	dead = unref_locked(t, n, NULL);
	table_unlock(t);
	free_chain(dead);
}

void node_forget(struct node_table *t, uint64_t ino, uint64_t nlookup)
{
	struct node *n, *dead = NULL;

	table_lock(t);
	n = table_find(t, ino);
	if (n != NULL && n != t->root) {
		n->nlookup = nlookup < n->nlookup ? n->nlookup - nlookup : 0;
		if (n->nlookup == 0) {
			n->refs++; /* so unref_locked sees the last reference go */
			dead = unref_locked(t, n, NULL);
		}
	}
	table_unlock(t);
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
	case NODE_BYID_LINK:
		n->invoke_id = n->name;
		break;
	default:
		break;
	}
}

int node_child(struct node_table *t, struct node *parent, const char *name, enum node_kind kind,
	       enum node_file file, time_t instance_ctime, bool count_lookup, struct node **ret_node)
{
	uint64_t ino = node_child_ino(t, parent, name, kind, file);
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

	table_lock(t);
	for (;;) {
		n = table_find(t, ino);
		if (n == NULL || is_same(n, parent, name, kind, file))
			break;
		/* Another identity has the number: never serve its data. */
		t->collisions++;
		ino = next_ino(ino);
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
	table_unlock(t);

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

	table_lock(t);
	fp = n->served;
	table_unlock(t);
	return fp;
}

bool node_serve(struct node_table *t, struct node *n, const struct node_fingerprint *fp)
{
	struct node_fingerprint old;

	table_lock(t);
	old = n->served;
	n->served = *fp;
	n->served.set = true;
	table_unlock(t);
	return old.set && (old.size != fp->size || old.hash != fp->hash);
}

void node_dir_filled(struct node_table *t, struct node *n)
{
	table_lock(t);
	n->dir_cached = true;
	table_unlock(t);
}

bool node_dir_is_cached(struct node_table *t, struct node *n)
{
	bool cached;

	table_lock(t);
	cached = n->dir_cached;
	table_unlock(t);
	return cached;
}

unsigned long node_count(struct node_table *t)
{
	unsigned long c;

	table_lock(t);
	c = t->count;
	table_unlock(t);
	return c;
}

unsigned long node_collisions(struct node_table *t)
{
	unsigned long c;

	table_lock(t);
	c = t->collisions;
	table_unlock(t);
	return c;
}

size_t node_dir_inos(struct node_table *t, uint64_t *inos, size_t max)
{
	size_t n = 0;

	table_lock(t);
	for (size_t i = 0; i < t->nbuckets && n < max; i++) {
		for (struct node *x = t->buckets[i]; x != NULL && n < max; x = x->hnext) {
			if (x->kind != NODE_FILE && (x->nlookup > 0 || x == t->root))
				inos[n++] = x->ino;
		}
	}
	table_unlock(t);
	return n;
}
