/* SPDX-License-Identifier: MIT */
/*
 * The filesystem interface: one slot per FUSE operation.
 *
 * This header is the contract between the protocol layer (src/proto, the only code that sees wire structs)
 * and everything that serves files: backends (passthrough, nullroot) and layers (ro, overlay, tree).
 *
 * Rules that every implementation follows:
 *  - every op returns 0 or -errno and writes results through trailing ret_* pointers;
 *  - a NULL slot is answered -ENOSYS by fs_call(): an op nobody implemented is refused, never forwarded;
 *  - a layer embeds struct fs first, keeps an `inner` pointer and reaches itself with container_of();
 *  - node ids ("ino" below, FUSE's nodeid) are unique across one whole tree: every fs of a tree draws them
 *    from one struct fs_inomap (see below), so a layer can route a node id to the fs that owns it;
 *  - FS_ROOT_ID (1) always names the root of the fs it is passed to (the protocol layer never rewrites it);
 *    the root also has an id of the fs's own space, fs->root, which is what a layer above hands out for it
 *    (the tree layer's entry roots). forget of either is ignored: a root is never freed.
 *
 * Lookup counts follow the FUSE protocol exactly: every successful lookup, mknod, mkdir, symlink, link,
 * create, tmpfile, and every entry returned by readdirplus (with a non-zero ino) adds one to the node's lookup
 * count; forget(ino, n) takes n away; a node whose count reaches zero may be freed. The root is never freed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <fcntl.h>

#define FS_ROOT_ID 1ULL

/* The caller of a request, as the client reports it. */
struct fs_ctx {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	mode_t umask; /* valid when the client negotiated DONT_MASK semantics; else 0 */
};

/* Attribute flags of an entry (FUSE_ATTR_* mapped by proto). */
#define FS_ATTR_SUBMOUNT (1u << 0) /* the node is the root of a submount: the client gives it its own st_dev */

/* What lookup-like ops return. The node's lookup count was raised by one. */
struct fs_entry {
	uint64_t ino;        /* node id; 0 means a negative entry (only lookup may return it, with ret 0) */
	uint64_t generation; /* (ino, generation) is unique over the life of the server */
	struct stat attr;    /* attr.st_ino is what the client sees as the inode number */
	uint32_t attr_flags; /* FS_ATTR_* */
	double entry_timeout; /* seconds the client may cache the name -> node binding */
	double attr_timeout;  /* seconds the client may cache attr */
};

/* What open, opendir and create return. */
#define FS_OPEN_DIRECT_IO (1u << 0)   /* bypass the client's page cache */
#define FS_OPEN_KEEP_CACHE (1u << 1)  /* keep the client's page cache from an earlier open */
#define FS_OPEN_NONSEEKABLE (1u << 2) /* the file has no positions (a stream) */
#define FS_OPEN_CACHE_DIR (1u << 3)   /* the client may cache this directory's listing */
#define FS_OPEN_NOFLUSH (1u << 4)     /* no FLUSH on close */
#define FS_OPEN_PARALLEL_DIRECT_WRITES (1u << 5)
struct fs_open {
	uint64_t fh;       /* opaque to everyone but the fs that returned it */
	uint32_t flags;    /* FS_OPEN_* */
	int backing_fd;    /* -1, or a host fd the transport may register for kernel FUSE passthrough */
};

/* setattr: which fields of the attr argument to apply */
#define FS_SET_MODE (1u << 0)
#define FS_SET_UID (1u << 1)
#define FS_SET_GID (1u << 2)
#define FS_SET_SIZE (1u << 3)
#define FS_SET_ATIME (1u << 4)
#define FS_SET_MTIME (1u << 5)
#define FS_SET_ATIME_NOW (1u << 6)
#define FS_SET_MTIME_NOW (1u << 7)
#define FS_SET_CTIME (1u << 8)
#define FS_SET_KILL_SUIDGID (1u << 9) /* clear suid, and sgid if group-exec, as a write by ctx would */
#define FS_SET_FH (1u << 10)          /* the fh argument is valid (ftruncate, futimens...) */
#define FS_SET_LOCKOWNER (1u << 11)

/* Connection capabilities, negotiated at INIT. proto maps these to and from FUSE_* flags. */
#define FS_CAP_ASYNC_READ (1ull << 0)
#define FS_CAP_POSIX_LOCKS (1ull << 1)
#define FS_CAP_ATOMIC_O_TRUNC (1ull << 2)
#define FS_CAP_EXPORT_SUPPORT (1ull << 3)
#define FS_CAP_BIG_WRITES (1ull << 4)
#define FS_CAP_DONT_MASK (1ull << 5)
#define FS_CAP_FLOCK_LOCKS (1ull << 6)
#define FS_CAP_READDIRPLUS (1ull << 7)
#define FS_CAP_READDIRPLUS_AUTO (1ull << 8)
#define FS_CAP_ASYNC_DIO (1ull << 9)
#define FS_CAP_WRITEBACK_CACHE (1ull << 10)
#define FS_CAP_PARALLEL_DIROPS (1ull << 11)
#define FS_CAP_HANDLE_KILLPRIV_V2 (1ull << 12)
#define FS_CAP_POSIX_ACL (1ull << 13)
#define FS_CAP_CACHE_SYMLINKS (1ull << 14)
#define FS_CAP_SETXATTR_EXT (1ull << 15)
#define FS_CAP_SUBMOUNTS (1ull << 16)
#define FS_CAP_PASSTHROUGH (1ull << 17)

struct fs_notifier;

struct fs_conn {
	uint64_t capable;    /* what the client offers (in) */
	uint64_t want;       /* what the fs asks for (in: proto's defaults; out: the fs's choice, a subset of capable) */
	uint32_t max_write;  /* in/out: the fs may lower it */
	uint32_t max_readahead;
	/* Set by proto before init: how the fs can tell the client to drop cached names/attrs (may be NULL,
	 * e.g. virtio-fs has no notification queue). Layers keep the pointer and pass it down. */
	const struct fs_notifier *notifier;
};

struct fs_notifier {
	/* Drop the client's cached (parent, name) binding; 0 or -errno (-ENOSYS if the transport cannot). */
	int (*inval_entry)(const struct fs_notifier *n, uint64_t parent, const char *name, size_t namelen);
	/* Drop the client's cached attrs and pages of ino (off/len as FUSE_NOTIFY_INVAL_INODE). */
	int (*inval_inode)(const struct fs_notifier *n, uint64_t ino, int64_t off, int64_t len);
	void *data;
};

/*
 * A directory listing buffer, filled by readdir. The fs adds entries in order; each carries the offset of the
 * *next* entry (what a later readdir call passes back as `off` to continue after it). fs_dirbuf_add*() return
 * 0, or -ENOSPC when the entry does not fit (then it was not added: for readdirplus the fs must undo the lookup
 * it took for that entry). Offsets are the fs's own cookies: they must stay valid across calls while entries
 * come and go.
 *
 * Two kinds: proto's buffer encodes FUSE dirents straight into the reply (proto/wire.c sets it up); a layer
 * that needs to see or change what its inner fs lists (merge, renumber st_ino, hide names) passes the inner a
 * *filter* buffer made with fs_dirbuf_init_filter(): every entry the inner adds goes to the filter's callbacks,
 * which may forward it, changed or not, to another buffer, or keep it. No code outside proto decodes dirents.
 */
struct fs_dirbuf;
struct fs_dirbuf_filter {
	/* Would an entry of namelen fit? (A filter that forwards answers for the buffer it forwards to.) */
	bool (*fits)(void *data, size_t namelen);
	/* One entry. plus_e is NULL when no lookup was taken (a plain entry, or a name-only entry of a plus
	 * listing); otherwise it is the entry with its lookup taken (plus_e->ino != 0). Return 0, or -ENOSPC if it was not taken (the inner then
	 * undoes its lookup and stops); a filter that drops an entry returns 0 and undoes the lookup itself. */
	int (*add)(void *data, const char *name, size_t namelen, uint64_t st_ino, unsigned type,
		   const struct fs_entry *plus_e, uint64_t next_off);
	void *data;
};
struct fs_dirbuf {
	/* encoding kind (proto): FUSE dirents in mem[0..size) */
	char *mem;
	size_t size;
	size_t len;
	bool plus;      /* readdirplus: entries carry attrs and a lookup */
	bool submounts; /* FUSE_ATTR_SUBMOUNT may be set (negotiated) */
	/* filter kind (a layer): when set, every add goes here and mem is unused */
	const struct fs_dirbuf_filter *filter;
};
/* A filter buffer; plus says whether the inner should produce readdirplus entries. */
static inline void fs_dirbuf_init_filter(struct fs_dirbuf *b, bool plus, const struct fs_dirbuf_filter *f)
{
	*b = (struct fs_dirbuf){ .plus = plus, .filter = f };
}
bool fs_dirbuf_is_plus(const struct fs_dirbuf *b);
/* Would an entry with this name fit? Check this before taking a lookup for readdirplus. */
bool fs_dirbuf_fits(const struct fs_dirbuf *b, size_t namelen);
/* Plain readdir: ino is the st_ino the client sees, type is DT_* */
int fs_dirbuf_add(struct fs_dirbuf *b, const char *name, size_t namelen, uint64_t st_ino, unsigned type,
		  uint64_t next_off);
/* readdirplus: e->ino == 0 means "name only, no lookup taken" (the client then looks it up itself) */
int fs_dirbuf_add_plus(struct fs_dirbuf *b, const char *name, size_t namelen, const struct fs_entry *e,
		       uint64_t next_off);

struct fs;

struct fs_ops {
	/* Connection set-up: adjust conn->want (a layer calls its inner first and then restricts). */
	int (*init)(struct fs *fs, struct fs_conn *conn);
	/* The client is going away: release everything the client held (opens and lookups). */
	void (*destroy)(struct fs *fs);

	/* Find name in parent. +1 lookup on success. -ENOENT, or ret->ino == 0 for a cacheable negative entry.
	 * name is one component: never empty, never containing '/', may be "." or ".." only for lookup. */
	int (*lookup)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		      struct fs_entry *ret);
	/* Take nlookup from ino's lookup count. Never fails; unknown ino is ignored. */
	void (*forget)(struct fs *fs, uint64_t ino, uint64_t nlookup);
	/* fh is valid when has_fh. */
	int (*getattr)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
		       struct stat *ret_attr, double *ret_timeout);
	/* Apply the fields of attr named by to_set (FS_SET_*); return the new attrs. */
	int (*setattr)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *attr,
		       uint32_t to_set, uint64_t fh, struct stat *ret_attr, double *ret_timeout);
	/* Write the target (no NUL) into buf; -ENAMETOOLONG if it does not fit in size. */
	int (*readlink)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
			size_t *ret_len);

	/* Entry-creating ops: +1 lookup on the new node. name is a valid new name (not ".", "..", no '/'). */
	int (*mknod)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		     dev_t rdev, struct fs_entry *ret);
	int (*mkdir)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		     struct fs_entry *ret);
	int (*symlink)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		       const char *target, struct fs_entry *ret);
	int (*link)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t newparent, const char *newname,
		    struct fs_entry *ret);
	int (*unlink)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name);
	int (*rmdir)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name);
	/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT (0 for plain RENAME). */
	int (*rename)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		      uint64_t newparent, const char *newname, unsigned flags);

	/* flags: the open(2) flags the client asked for (O_CREAT/O_EXCL/O_NOCTTY already removed by the client). */
	int (*open)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret);
	int (*create)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		      int flags, struct fs_entry *ret_entry, struct fs_open *ret_open);
	/* O_TMPFILE in parent: an unnamed file, +1 lookup. */
	int (*tmpfile)(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, mode_t mode, int flags,
		       struct fs_entry *ret_entry, struct fs_open *ret_open);
	/* Read up to size bytes at off into dst; *ret_len < size only at end of file. */
	int (*read)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		    const struct iovec *dst, int dst_cnt, size_t *ret_len);
	/* Write the bytes of src (size in all) at off. write_flags: FS_WRITE_*. With FS_WRITE_CACHE the file's
	 * mtime stays what it was (the client owns it under the writeback cache and sets it with setattr). */
	int (*write)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		     const struct iovec *src, int src_cnt, uint32_t write_flags, size_t *ret_len);
	int (*flush)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t lock_owner);
	/* Never fails as far as the client is concerned; the fh is gone afterwards. flock_release: drop the
	 * flock(2) lock held through this open. */
	void (*release)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int flags,
			uint64_t lock_owner, bool flock_release);
	int (*fsync)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync);

	int (*opendir)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret);
	/* Fill buf starting after cookie off (0: from the start). Stop when fs_dirbuf_add* says -ENOSPC. */
	int (*readdir)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
		       struct fs_dirbuf *buf);
	void (*releasedir)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh);
	int (*fsyncdir)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync);

	int (*statfs)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *ret);

	/* xattr_flags: XATTR_CREATE/XATTR_REPLACE; setxattr_flags: FS_SETXATTR_ACL_KILL_SGID. */
	int (*setxattr)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
			size_t size, int xattr_flags, uint32_t setxattr_flags);
	/* size 0: *ret_size is the size needed. Otherwise -ERANGE if it does not fit. */
	int (*getxattr)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf,
			size_t size, size_t *ret_size);
	int (*listxattr)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
			 size_t *ret_size);
	int (*removexattr)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name);
	/* mask: R_OK|W_OK|X_OK or F_OK, checked for ctx. */
	int (*access)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask);

	/* POSIX record locks (fcntl); owner identifies the lock owner. getlk writes the conflicting lock (or
	 * l_type F_UNLCK) back into lk. For setlk, is_flock says the lock comes from flock(2) (whole file). */
	int (*getlk)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		     struct flock *lk);
	int (*setlk)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		     const struct flock *lk, bool sleep, bool is_flock);

	int (*fallocate)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off,
			 off_t len);
	/* whence: SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE */
	int (*lseek)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
		     off_t *ret_off);
	int (*copy_file_range)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino_in, uint64_t fh_in,
			       off_t off_in, uint64_t ino_out, uint64_t fh_out, off_t off_out, size_t len,
			       unsigned flags, size_t *ret_len);
	int (*syncfs)(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino);
};

#define FS_WRITE_CACHE (1u << 0)       /* a write-back of cached pages, not a direct write by ctx */
#define FS_WRITE_KILL_SUIDGID (1u << 1) /* clear suid/sgid as a write by an unprivileged ctx would */
#define FS_SETXATTR_ACL_KILL_SGID (1u << 0)

struct fs {
	const struct fs_ops *ops;
	const char *kind; /* "passthrough", "ro", "overlay", "tree", "nullroot": for logs */
	uint64_t root;    /* the root's id in this fs's own space (FS_ROOT_ID for an fs with no space) */
	/* Free this fs (and, for a layer, its inner fs). Called once, after destroy. */
	void (*free)(struct fs *fs);
};

/* Number of op slots: lets tests walk the table as an array of pointers. */
#define FS_OPS_NSLOTS (sizeof(struct fs_ops) / sizeof(void (*)(void)))

/*
 * The node-id map shared by all fs of one tree. A node id is (space << FS_INO_SPACE_SHIFT) | local: each fs
 * instance takes a space (fs_inomap_space_new) and numbers its own nodes inside it, so ids never collide and a
 * layer routes an id to its owner with fs_inomap_owner(). Space 0 is reserved: its only id is FS_ROOT_ID.
 */
#define FS_INO_SPACE_SHIFT 40
#define FS_INO_LOCAL_MAX ((1ULL << FS_INO_SPACE_SHIFT) - 1)
#define FS_INO_SPACE_MAX ((1u << (64 - FS_INO_SPACE_SHIFT)) - 1)
struct fs_inomap;
struct fs_inomap *fs_inomap_new(void);
struct fs_inomap *fs_inomap_ref(struct fs_inomap *m);
void fs_inomap_unref(struct fs_inomap *m);
/* Register owner; returns its space id (> 0) or -ENOSPC. */
int fs_inomap_space_new(struct fs_inomap *m, struct fs *owner, uint32_t *ret_space);
void fs_inomap_space_free(struct fs_inomap *m, uint32_t space);
/* The fs whose space holds ino, or NULL (FS_ROOT_ID and unknown spaces give NULL). Lock-free read. */
struct fs *fs_inomap_owner(struct fs_inomap *m, uint64_t ino);
static inline uint64_t fs_ino_make(uint32_t space, uint64_t local)
{
	return ((uint64_t)space << FS_INO_SPACE_SHIFT) | local;
}
static inline uint32_t fs_ino_space(uint64_t ino)
{
	return (uint32_t)(ino >> FS_INO_SPACE_SHIFT);
}
static inline uint64_t fs_ino_local(uint64_t ino)
{
	return ino & FS_INO_LOCAL_MAX;
}

/* Call an op; a NULL slot is -ENOSYS. Layers use these to reach their inner fs, proto to reach the top. */
#include <errno.h>
#define FS_CALL(f, op, ...) ((f)->ops->op ? (f)->ops->op((f), ##__VA_ARGS__) : -ENOSYS)
#define FS_CALL_VOID(f, op, ...)                                                                                 \
	do {                                                                                                     \
		if ((f)->ops->op)                                                                                \
			(f)->ops->op((f), ##__VA_ARGS__);                                                        \
	} while (0)
static inline void fs_free(struct fs *f)
{
	if (f && f->free)
		f->free(f);
}
