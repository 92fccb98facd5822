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

/* Where ids of a space are served: a graft's fs (kept after removal so open files keep working). */
struct ovl_route {
	struct fs *fs;
	uint16_t tag;
	bool is_dir;
};


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
	pthread_rwlock_t rlock; /* routes */
	struct ovl_route *routes;
	size_t nroutes;
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
/* Route a non-overlay id (or an underlying id) to its fs and effective tag; NULL fs if none. */
struct fs *ovl_route(struct ovl *o, uint64_t ino, uint16_t *ret_tag);
/* Resolve id: lock is taken and left held when ret->n != NULL is returned... see overlay.c */
int ovl_resolve_locked(struct ovl *o, uint64_t id, struct ovl_target *ret);
struct vnode *ovl_kid(struct vnode *dir, const char *name);
void ovl_node_maybe_free(struct ovl *o, struct vnode *n);
int ovl_node_entry(struct ovl *o, const struct fs_ctx *ctx, struct vnode *n, struct fs_entry *ret);
void ovl_blob_unref(struct ovl_blob *b);
struct ovl_blob *ovl_blob_ref(struct ovl_blob *b);
void ovl_remap_entry(struct fs_entry *e, uint16_t tag);
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
