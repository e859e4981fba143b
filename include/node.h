/* SPDX-License-Identifier: MIT */
/*
 * node: the inode table the kernel sees.
 *
 * Every path the kernel has been told about (lookup, readdirplus) is a node
 * with a stable inode number: a hash of its parent's number and its name, so
 * the same path gets the same number in every mount. A node carries the
 * identity of what it shows (region, instance, status, invocation, file) as
 * borrowed pointers into its ancestors' names; the parent reference chain
 * keeps those alive.
 *
 * Two counts decide a node's life: nlookup (the kernel's references, raised by
 * each successful lookup or readdirplus entry and lowered by forget) and refs
 * (ours: children and operations in flight). A node is freed when both are 0;
 * the root never is.
 *
 * A node holds identity only: no record or result of the cache. Those belong
 * to the cache, which keeps them within -o max_cache and fetches them again
 * when dropped; a node the kernel keeps for days must not pin them past that
 * bound. What a file node remembers of its bytes is a fixed-size fingerprint,
 * so the FUSE layer can tell when a file starts showing different bytes.
 *
 * Thread-safety: every function may be called from any thread; the table
 * lock protects the counts, the hash chains, fingerprints and directory
 * flags. Immutable fields (marked below) may be read without it.
 */
#ifndef SWASFS_NODE_H
#define SWASFS_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct node_table;

enum node_kind {
	NODE_ROOT,
	NODE_REGION,
	NODE_INSTANCE,
	NODE_STATUS,
	NODE_INVOCATION,
	NODE_FILE,
};

/* The files of an invocation directory, in listing order. */
enum node_file {
	NODE_FILE_COMMAND,
	NODE_FILE_PARAMETERS,
	NODE_FILE_METADATA,
	NODE_FILE_OUTPUT,
	NODE_FILE_RESULT,
	NODE_FILE_COUNT,
};

extern const char *const node_file_names[NODE_FILE_COUNT];

/* What a file node last served, without the bytes: their size and a 64-bit
 * hash of them or of what they are built from (the FUSE layer chooses, per
 * file). @final: they came from a final record or result, so they can never
 * change again. */
struct node_fingerprint {
	uint64_t size;
	uint64_t hash;
	bool final;
	bool set; /* false: nothing served yet */
};

struct node {
	/* Immutable after creation. */
	uint64_t ino;
	enum node_kind kind;
	enum node_file file; /* NODE_FILE only */
	struct node *parent; /* holds a reference; NULL for the root */
	char *name;
	const char *region; /* borrowed from the ancestor of that kind, or NULL */
	const char *instance;
	const char *status;
	const char *invoke_id;
	time_t instance_ctime; /* instance and below: the instance's CreationTime */

	/* Protected by the table lock. */
	uint64_t nlookup;
	unsigned refs;
	bool dir_cached; /* directories: the kernel keeps a copy of the entries (fills refs' padding) */
	struct node_fingerprint served; /* file nodes: the bytes last served */
	struct node *hnext;
};

/* Creates the table with its root (FUSE_ROOT_ID). Returns 0 or -ENOMEM; the
 * caller owns *ret_table and frees it with node_table_free(). */
int node_table_new(struct node_table **ret_table);
/* Frees every node whatever its counts (unmount). Accepts NULL. */
void node_table_free(struct node_table *t);

/* The node for @ino with a reference the caller drops with node_put(), or
 * NULL if the kernel named an inode we do not have. */
struct node *node_get(struct node_table *t, uint64_t ino);
void node_put(struct node_table *t, struct node *n);

/* Finds or creates the child @name of @parent, of the given kind (and @file
 * for NODE_FILE); @instance_ctime is used for a new instance node. Returns 0
 * with *ret_node referenced (node_put() it) and, if @count_lookup, the kernel's
 * lookup count raised; or -ENOMEM. */
int node_child(struct node_table *t, struct node *parent, const char *name, enum node_kind kind,
	       enum node_file file, time_t instance_ctime, bool count_lookup, struct node **ret_node);

/* The inode number @name would have under @parent (for entries listed
 * without a node). */
uint64_t node_child_ino(const struct node *parent, const char *name);

/* Lowers the kernel's count by @nlookup; frees the node when unused. */
void node_forget(struct node_table *t, uint64_t ino, uint64_t nlookup);

/* The fingerprint file node @n last served (copied out; .set false if none). */
struct node_fingerprint node_served(struct node_table *t, struct node *n);
/* Records that @n now serves bytes with fingerprint @fp (copied). Returns
 * true if it had served others before (a fingerprint was set and differs in
 * size or hash): the kernel's copy of the old bytes must go. */
bool node_serve(struct node_table *t, struct node *n, const struct node_fingerprint *fp);

/* Without opendir: records that the kernel now caches the entries of
 * directory @n (it keeps them until the directory's mtime changes). */
void node_dir_filled(struct node_table *t, struct node *n);
/* True if the kernel caches entries of @n at all. */
bool node_dir_is_cached(struct node_table *t, struct node *n);

/* Nodes alive, for tests and leak checks. */
unsigned long node_count(struct node_table *t);

#endif
