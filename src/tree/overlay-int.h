/* SPDX-License-Identifier: MIT */
/* The overlay's internals, shared by overlay.c (nodes, paths, routing) and overlay-ops.c (the fs ops). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "tree/overlay.h"

/* Bytes of a virtual file, shared by the node and every open of it. */
struct ovl_blob {
	atomic_uint refs;
	size_t len;
	char data[];
};

enum vkind {
	VK_DIR,   /* virtual directory; merged with (ufs, uino) when that is set */
	VK_FILE,  /* virtual file: blob or fn */
	VK_PROXY, /* a graft whose root is not a directory: every op goes to (ufs, uino) */
};

struct vnode {
	uint64_t id;    /* what the client sees: FS_ROOT_ID for the root, else (space, local) */
	uint64_t local; /* index in ovl->nodes */
	struct vnode *parent;
	char *name;
	enum vkind kind;
	struct stat attr; /* virtual dirs and files */
	/* the real node under this one (merged dir, graft root): its fs and id there */
	struct fs *ufs;
	uint64_t uino;
	struct ovl_entry *ue; /* the entry ufs belongs to (a reference), NULL for the base fs */
	bool uheld;  /* we hold one lookup of uino (released when the node is freed) */
	bool graft;  /* the root of a graft: a submount for the client */
	/* files */
	struct ovl_blob *blob;
	ovl_produce_fn fn;
	void *fn_data;
	bool oneshot;
	bool explicit_; /* added by path (listed by ovl_list), not created on the way */
	bool linked;    /* reachable by name from its parent */
	struct vnode **kids;
	size_t nkids, kcap;
	uint64_t nlookup; /* the client's lookups */
	size_t nrefs;     /* nodes whose parent pointer is this node */
};

/*
 * A graft's fs and its lifetime (overlay-entry.c). The entry lives while anything can still reach it:
 *   refs = 1 while attached (until ovl_remove) + 1 per vnode over it (ue) + 1 per merged-directory handle over
 *          it + 1 per request in flight + 1 while the client holds anything of it (nlookup + nopen > 0).
 * The client's counts are kept apart and clamped at zero: a client that forgets or releases more than it
 * was given can only make its own ids stale early (ESTALE), never free an fs a request is still using.
 * When refs reaches 0 the entry leaves the route table, its fs is destroyed and freed (held fd closed, node-id
 * space released) and its st_ino tag becomes free for a later entry.
 */
struct ovl_entry {
	struct ovl *o;
	struct fs *fs;
	uint32_t space; /* of fs->root: every id fs hands out */
	uint16_t tag;   /* st_ino renumbering (0: none) */
	bool is_dir;
	atomic_uint refs;
	pthread_mutex_t mu; /* nlookup, nopen */
	uint64_t nlookup;   /* lookups the client holds on nodes of fs */
	uint64_t nopen;     /* file and directory handles of fs the client holds */
};
enum ovl_count { OVL_LOOKUP, OVL_OPEN };

struct ovl {
	struct fs base;
	struct fs *lower; /* the base fs: every id of a space without a route */
	struct fs_inomap *map;
	uint32_t space;
	pthread_mutex_t lock; /* nodes, kids, handles */
	struct vnode **nodes;
	size_t nnodes, ncap;
	struct vnode *root;
	struct ovl_handle **handles;
	size_t nhandles, hcap;
	uint32_t hgen;
	pthread_rwlock_t rlock; /* the route table and tags */
	struct ovl_entry **rtab; /* open addressing by space, linear probing; NULL: free slot */
	size_t rcap, rcount;
	uint64_t tags[(0xffffu + 1) / 64]; /* st_ino tags in use (bit 0: never handed out) */
	/* connection state, set at init */
	const struct fs_notifier *notifier;
	bool inited;
	bool submounts;
	struct fs_conn conn;
	time_t started;
	atomic_uint_fast64_t n_requests, n_opens;
	size_t n_vnodes, n_grafts;
};

static inline struct ovl *ovl_of(struct fs *fs)
{
	return (struct ovl *)fs;
}

/* A request target: a virtual node (locked access through ovl->lock), or (fs, ino) in another fs. */
struct ovl_target {
	struct vnode *n; /* valid only while ovl->lock is held; NULL when the id is not the overlay's */
	struct fs *fs;   /* where the op goes when it is not answered virtually (NULL: purely virtual) */
	uint64_t ino;
	struct ovl_entry *e; /* fs's entry, a reference (ovl_target_put), NULL for the base fs */
	uint16_t tag;    /* st_ino renumbering for attrs coming back from fs */
	bool vdir;       /* n is a virtual directory (its fhs are ours): usable after the lock is dropped */
};

struct snap_ent {
	char *name;
	uint64_t id; /* 0 for "." and ".." */
	unsigned type;
	uint64_t st_ino;
};

struct ovl_handle {
	atomic_uint refs;
	uint32_t gen;
	bool dir;
	struct ovl_blob *blob; /* file */
	pthread_mutex_t mu;    /* dir: serializes readdir on one handle */
	struct fs *ufs;
	struct ovl_entry *ue; /* a reference while has_u, NULL for the base fs */
	uint64_t uino, ufh;
	bool has_u;
	struct snap_ent *snap;
	size_t nsnap;
	uint64_t *cookies;
	size_t ncookies, ccap;
};

/* overlay.c */
uint64_t ovl_ino_map(uint64_t ino, uint32_t tag);
struct vnode *ovl_node(struct ovl *o, uint64_t id); /* lock held; NULL if unknown or freed */
/* Resolve id (lock held): a vnode (ret->n), and/or where to forward (ret->fs, ret->ino) with a reference on its
 * entry in ret->e; release with ovl_target_put() (after the lock is dropped or not: it never locks ->lock).
 * An id outside the overlay's space that is not FS_ROOT_ID never touches the nodes: no lock needed for it. */
int ovl_resolve_locked(struct ovl *o, uint64_t id, struct ovl_target *ret);
void ovl_target_put(struct ovl_target *t);
/* Is id one of the overlay's own nodes (its space, or FS_ROOT_ID)? Only those need ->lock to resolve. */
static inline bool ovl_is_own_id(const struct ovl *o, uint64_t id)
{
	return id == FS_ROOT_ID || fs_ino_space(id) == o->space;
}
/* An entry came back from t's fs: renumber its st_ino and count its lookup on t's entry. */
void ovl_target_entry(struct ovl_target *t, struct fs_entry *e);

/* Count a request served by the overlay (the status file reports it). */
#define COUNT(o) atomic_fetch_add(&(o)->n_requests, 1)

/* overlay-ops.c */
/* Resolve id for an op that virtual nodes answer themselves: 1 with ->lock held when id is a virtual node
 * without a real one under it (t->n), 0 (unlocked) with t filled to forward (ovl_target_put after), or -errno. */
int ovl_target_get(struct ovl *o, uint64_t id, struct ovl_target *t);
/* As ovl_target_get() for an op that only forwards: a virtual node gives 1 with the lock already released, so
 * the caller just answers for it. */
static inline int ovl_target_fwd(struct ovl *o, uint64_t id, struct ovl_target *t)
{
	int r = ovl_target_get(o, id, t);
	if (r == 1)
		pthread_mutex_unlock(&o->lock);
	return r;
}
/* An op on an open file or directory, on its way to the fs that owns it. */
struct ovl_fwd {
	struct ovl_target t;   /* where it goes: FS_CALL(f.t.fs, op, ctx, f.t.ino, f.fh, ...) */
	uint64_t fh;           /* the fh that goes with it: the real fs's own */
	struct ovl_handle *dh; /* a merged directory's handle (its fh is ours and holds the real one), or NULL */
};
/* Resolve id and fh for an op that goes with an fh: 0 with f filled (end it with ovl_fwd_end), 1 when id is a
 * virtual node (the lock released: the caller answers for it), or -errno (nothing to end; -EBADF for a
 * directory fh we did not give out). */
int ovl_fwd_begin(struct ovl *o, uint64_t id, uint64_t fh, struct ovl_fwd *f);
/* Put what ovl_fwd_begin() took; returns r, the op's result, so a forward ends in one return. */
int ovl_fwd_end(struct ovl_fwd *f, int r);

/* overlay-attr.c: xattrs, access, locks, space ops */
int ovl_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
		 size_t size, int xattr_flags, uint32_t setxattr_flags);
int ovl_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf, size_t size,
		 size_t *ret_size);
int ovl_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size, size_t *ret_size);
int ovl_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name);
int ovl_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask);
int ovl_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner, struct flock *lk);
int ovl_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
	      const struct flock *lk, bool sleep, bool is_flock);
int ovl_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off, off_t len);
int ovl_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
	      off_t *ret_off);
int ovl_copy_file_range(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino_in, uint64_t fh_in, off_t off_in,
			uint64_t ino_out, uint64_t fh_out, off_t off_out, size_t len, unsigned flags, size_t *ret_len);
int ovl_syncfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino);

/* overlay-entry.c */
/* Attach g (not taken) as an entry; renumber: give it a st_ino tag. -EEXIST if its space is routed already. */
int ovl_entry_attach(struct ovl *o, struct fs *g, bool renumber, bool is_dir, struct ovl_entry **ret);
/* The entry whose space holds ino, with a reference taken, or NULL. */
struct ovl_entry *ovl_entry_get(struct ovl *o, uint64_t ino);
struct ovl_entry *ovl_entry_ref(struct ovl_entry *e);
void ovl_entry_put(struct ovl_entry *e); /* NULL is fine; the last put frees the entry and its fs */
/* The client gained (count) or gave back (uncount, clamped) n lookups or handles of e's fs. */
void ovl_entry_count(struct ovl_entry *e, enum ovl_count what, uint64_t n);
void ovl_entry_uncount(struct ovl_entry *e, enum ovl_count what, uint64_t n);
/* The st_ino tag to apply to attrs coming from e's fs (0: none). */
uint16_t ovl_entry_tag(const struct ovl_entry *e);
/* Call fn on every routed entry (rlock held: fn must not put entries or take ->rlock). */
void ovl_entries_foreach(struct ovl *o, void (*fn)(struct ovl_entry *e, void *data), void *data);
/* The client went away: it holds nothing any more (entries only it kept alive are freed). */
void ovl_entries_client_gone(struct ovl *o);
/* At ovl_free: free every entry left, whatever its count. */
void ovl_entries_free(struct ovl *o);
/* For tests: entries alive (attached or still held). */
size_t ovl_entries_alive(struct ovl *o);
struct vnode *ovl_kid(struct vnode *dir, const char *name);
void ovl_node_maybe_free(struct ovl *o, struct vnode *n);
int ovl_node_entry(struct ovl *o, const struct fs_ctx *ctx, struct vnode *n, struct fs_entry *ret);
void ovl_blob_unref(struct ovl_blob *b);
struct ovl_blob *ovl_blob_ref(struct ovl_blob *b);
extern const struct fs_ops ovl_ops;
/* overlay-dir.c: handles (a reference is taken by get; remove also takes the handle out of the table) */
int ovl_handle_add(struct ovl *o, struct ovl_handle *h, uint64_t *ret_fh);
struct ovl_handle *ovl_handle_get(struct ovl *o, uint64_t fh, bool dir, bool remove);
void ovl_handle_put(struct ovl_handle *h);
int ovl_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret);
int ovl_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
	      struct fs_dirbuf *buf);
void ovl_releasedir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh);
int ovl_fsyncdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync);
void ovl_handles_free(struct ovl *o);
/* After the fs below were destroyed (the client went away): look the real directories under merged virtual
 * directories up again, since the lookups we held went with the client's. Lock held. */
void ovl_reresolve_locked(struct ovl *o);
