/* SPDX-License-Identifier: MIT */
/*
 * node: the inode table the kernel sees.
 *
 * Every path the kernel has been told about (lookup, readdirplus) is a node
 * with a stable inode number, the same in every mount:
 *   - a directory's is a hash of its parent's number and its name, with the
 *     top bit clear;
 *   - a file's is computed from what it shows, (region, instance, InvokeId,
 *     file), with the top bit set (NODE_FILE_INO_BIT): its status is not part
 *     of it, so `output` keeps its number when its invocation moves from
 *     Running/ to Finished/, and the kernel sees one file under both names,
 *     as with a hard link. The two ranges never meet.
 * A collision (the number belongs to a node of another identity) is
 * detected by comparing identities and resolved by taking the next free
 * number of the same range, so one inode never serves another's data; such a
 * number is as stable as the order of lookups, and collisions are counted.
 * A node carries the identity of what it shows (region, instance, status,
 * invocation, file) as borrowed pointers into its ancestors' names; the
 * parent reference chain keeps those alive. A file node shared by two
 * invocation directories keeps the first as its parent; its identity does
 * not include the status, so that is all it needs.
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
 * flags, is held for memory work only and is innermost: no function here
 * calls out while holding it (lockrule.h's LOCK_NODES). Immutable fields
 * (marked below) may be read without it.
 */
#ifndef SWASFS_NODE_H
#define SWASFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct node_table;

enum node_kind {
	NODE_ROOT,
	NODE_REGION,
	NODE_INSTANCE,
	NODE_STATUS,
	NODE_INVOCATION,
	NODE_FILE, /* an invocation's file */
	/* The names swasfs adds (README "Finding things"). */
	NODE_BYNAME_DIR,    /* <region>/.by-name */
	NODE_BYNAME_LINK,   /* <region>/.by-name/<name> -> ../<InstanceId> */
	NODE_INSTANCE_JSON, /* <region>/<instance>/.instance.json */
	NODE_BYID_DIR,	    /* <region>/<instance>/.by-id (looked up, never listed) */
	NODE_BYID_LINK,	    /* .by-id/<InvokeId> -> ../<InvokeStatus>/<InvokeId> */
	NODE_CTL_DIR,	    /* <mnt>/.swasfs (looked up, never listed) */
	NODE_CTL_STATS,	    /* .swasfs/stats.json */
	NODE_CTL_VERSION,   /* .swasfs/version */
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

#define NODE_NAME_BYNAME	".by-name"
#define NODE_NAME_INSTANCE_JSON ".instance.json"
#define NODE_NAME_BYID		".by-id"
#define NODE_NAME_CTL		".swasfs"
#define NODE_NAME_STATS		"stats.json"
#define NODE_NAME_VERSION	"version"

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

/* Files' inode numbers have this bit set; directories' never do. */
#define NODE_FILE_INO_BIT (UINT64_C(1) << 63)

/* A 64-bit hash continued over @len bytes of @p from @h (FNV-1a by default;
 * tests pass a weak one to force collisions). */
typedef uint64_t (*node_hash_fn)(uint64_t h, const void *p, size_t len);
#define NODE_HASH_INIT UINT64_C(0xcbf29ce484222325)

/* FNV-1a, the default node_hash_fn (also for fingerprints of what a file
 * served: a change it misses costs a stale page, nothing worse). */
uint64_t node_fnv1a(uint64_t h, const void *p, size_t len);

/* Creates the table with its root (FUSE_ROOT_ID). @hash may be NULL (FNV-1a).
 * Returns 0 or -ENOMEM; the caller owns *ret_table and frees it with
 * node_table_free(). */
int node_table_new(node_hash_fn hash, struct node_table **ret_table);
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

/* The inode number child @name of @parent would have if it had no
 * collision (for entries listed without a node). */
uint64_t node_child_ino(struct node_table *t, const struct node *parent, const char *name,
			enum node_kind kind, enum node_file file);

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
/* Collisions resolved so far. */
unsigned long node_collisions(struct node_table *t);

/* Copies up to @max numbers of directory nodes the kernel holds (nlookup >
 * 0, the root included) into @inos; returns how many. */
size_t node_dir_inos(struct node_table *t, uint64_t *inos, size_t max);

#endif
