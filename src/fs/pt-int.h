/* SPDX-License-Identifier: MIT */
/*
 * The passthrough backend's private state, shared by its pt-*.c files (never included outside src/fs).
 *
 * Threading model: every op may run on any worker thread at once. The inode table is split in shards, each
 * under its own mutex, and a node id names its shard (the low PT_SHARD_BITS of its local part), so a lookup by
 * id and a lookup by (st_dev, st_ino, mount id) of the same inode meet in the same shard. An inode lives while
 * its lookup count is non-zero or an op holds a reference (refs). Inode fds are constant in handles=never mode;
 * with file handles they may be closed when idle (one fd mutex for that), and an op still uses an open one
 * without a lock.
 */
#pragma once

#include <boxshare/fs.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/passthrough.h"

#define PT_SHARD_BITS 6
#define PT_NSHARDS (1u << PT_SHARD_BITS)

/* The st_ino reported for inodes of a host submount (see pt_client_ino in pt-inode.c). */
#define PT_INO_FOREIGN (1ULL << 63)

struct pt_lockfd;

struct pt_inode {
	uint64_t id; /* node id (space and local part) */
	/* the key: one node per (device, inode, mount) */
	dev_t dev;
	ino_t ino;
	uint64_t mnt_id;
	mode_t type;     /* S_IFMT bits: never change for an inode */
	uint64_t st_ino; /* what the client sees as st_ino */
	/* under the shard mutex */
	uint64_t nlookup;
	bool keyless; /* taken out of the key chain: its host inode is gone and the number was reused */
	struct pt_inode *next_id, *next_key;
	atomic_uint refs; /* one for the table while nlookup > 0, one per op in flight */

	/*
	 * !evictable: fd is set once and never changes. Evictable (file handles): an op counts itself in users
	 * and then reads fd, lock-free; fd is changed only under pt->fd_mu, and the evictor closes it only after
	 * setting it to -1 and seeing users at 0 (pt-fdcache.c).
	 */
	_Atomic int fd;
	bool evictable;       /* set at creation: fd may be closed when idle and reopened by handle */
	atomic_uint users;    /* ops using fd now: not evictable */
	atomic_bool used;     /* the CLOCK bit: used since the hand last passed */
	bool pinned;          /* under fd_mu: evictable, but no handle could be taken: the fd stays for good */
	bool in_clock;        /* under fd_mu: on the ring of evictable nodes with an open fd */
	struct pt_inode *clock_prev, *clock_next;
	/* The host file handle: taken at creation (handles=mandatory, export support) or, lazily, when the fd is
	 * first evicted (an open fd pins its inode, so the handle names the node's own inode either way). Set
	 * once, never changed nor freed while the node lives: read it with pt_inode_handle(). */
	_Atomic(struct file_handle *) handle;
	int mount_fd; /* for open_by_handle_at (owned by the mount table); set at creation */

	/* POSIX record locks: one open file description per lock owner (pt-lock.c) */
	pthread_mutex_t lock_mu;
	struct pt_lockfd *locks;

	/* Held over a write-back WRITE's read, write and restore of the mtime (pt-file.c), and over a setattr that
	 * sets the mtime (pt-attr.c), so neither undoes the other. */
	pthread_mutex_t mtime_mu;
};

/* Ghosts (pt-inode.c): forgotten nodes the client may still name through an exported file handle. */
#define PT_GHOST_BUCKETS 256
#define PT_GHOSTS_PER_SHARD 1024
struct pt_ghost;

struct pt_shard {
	pthread_mutex_t mu;
	struct pt_inode **by_id;
	struct pt_inode **by_key;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t next; /* next local counter (shifted by PT_SHARD_BITS) */
	struct pt_ghost **ghosts; /* PT_GHOST_BUCKETS chains by id */
	struct pt_ghost *ghost_old, *ghost_new; /* oldest first, for the bound */
	size_t nghosts;
} __attribute__((aligned(64)));

struct pt_mount {
	uint64_t mnt_id;
	int fd; /* O_RDONLY fd on that mount, for open_by_handle_at */
};

struct pt_fh;
struct pt_waiter;

struct pt {
	struct fs fs;
	struct pt_opts o;
	struct fs_inomap *map;
	uint32_t space;
	int proc_fd;
	uint64_t generation;
	bool use_handles;  /* PREFER or MANDATORY, and the kernel lets us */
	bool switch_creds; /* running as root: create files as the caller */
	struct pt_inode *root;
	bool root_is_dir;

	struct pt_shard shards[PT_NSHARDS];

	/* inode fds */
	pthread_mutex_t fd_mu; /* handles mode: changes of an inode's fd, the clock ring */
	struct pt_inode *clock_hand; /* the ring of idle-able fds, in CLOCK order (NULL: empty) */
	atomic_uint nfds;
	unsigned max_fds;
	atomic_bool warned_emfile;

	/* host mounts met, for open_by_handle_at */
	pthread_mutex_t mnt_mu;
	struct pt_mount *mounts;
	size_t nmounts;

	/* foreign st_dev values, numbered for st_ino remapping */
	pthread_mutex_t dev_mu;
	dev_t *devs;
	size_t ndevs;

	/* open files and directories (pt-fh.c) */
	pthread_mutex_t fh_mu;
	_Atomic(struct pt_fh *) *fh_chunks; /* PT_FH_NCHUNKS entries */
	uint32_t fh_nslots;
	uint32_t fh_free; /* index + 1 of the first free slot, 0: none */
	atomic_uint nopen; /* open file fds (fh fds and lock fds) */
	unsigned max_open;

	/* owners blocked in SETLKW and whom they wait for (pt-lock.c: deadlock detection) */
	pthread_mutex_t wait_mu;
	struct pt_waiter *waiters;

	/* negotiated at init */
	bool export_support; /* the client may name a forgotten node again (file handles): keep ghosts */
	bool writeback;
	bool killpriv_v2;
	double entry_timeout, attr_timeout;
};

static inline struct pt *pt_of(struct fs *fs)
{
	return (struct pt *)fs; /* struct fs is the first member */
}

/* pt-inode.c: the table */
int pt_itab_init(struct pt *pt);
void pt_itab_fini(struct pt *pt);
/* The inode named by a client node id, with a reference; NULL if unknown. */
struct pt_inode *pt_inode_get(struct pt *pt, uint64_t id);
void pt_inode_put(struct pt *pt, struct pt_inode *inode);
/* Add n to the lookup count of an inode the caller holds (the root ignores it). */
void pt_inode_ref_lookup(struct pt *pt, struct pt_inode *inode);
void pt_inode_forget(struct pt *pt, uint64_t id, uint64_t n);
/* The host inode behind n is gone (its number now names another file): stop finding n by key. */
void pt_inode_unkey(struct pt *pt, struct pt_inode *n);
/* Is n's fd open now? (false: it would be reopened by handle) */
bool pt_inode_fd_open(struct pt *pt, struct pt_inode *n);
/*
 * Does node n, found by the key of a host inode, name that inode? The inode is what name names in the directory
 * pfd, or (name NULL) the one pfd itself is an O_PATH fd of. Yes while n's fd is open (it pins n's inode, so the
 * key cannot name another); a closed fd does not, the inode may have been deleted and its number reused: then
 * the file handles decide.
 */
bool pt_inode_names(struct pt *pt, struct pt_inode *n, int pfd, const char *name);
static inline struct file_handle *pt_inode_handle(const struct pt_inode *n)
{
	return atomic_load_explicit(&n->handle, memory_order_acquire);
}
/*
 * The client names a node it forgot, through a file handle it exported (LOOKUP of "." on that id): make the
 * node again, with the same id, from the host file handle kept when it was forgotten. -ESTALE if it is not
 * kept or the host inode is gone. +1 lookup and a reference; stx is a statx of it.
 */
int pt_inode_resurrect(struct pt *pt, uint64_t id, struct statx *stx, struct pt_inode **ret);
/* Drop every lookup count (destroy). */
void pt_inode_forget_all(struct pt *pt);
/* Find an inode by key and take a lookup count and a reference on it; NULL if unknown. */
struct pt_inode *pt_inode_find(struct pt *pt, dev_t dev, ino_t ino, uint64_t mnt_id);
/*
 * Make (or find) the inode for fd, an O_PATH fd that the caller reserved with pt_fd_reserve() and hands over
 * (closed on failure, or when the inode was known already). stx: a statx of fd with STATX_MNT_ID.
 * Takes a lookup count and returns a reference; *ret_new (may be NULL): a node was made.
 */
int pt_inode_add(struct pt *pt, int fd, const struct statx *stx, struct pt_inode **ret, bool *ret_new);
/* Under fd_mu, n evictable with its fd open: take its file handle before the fd is closed (once). */
int pt_inode_take_handle(struct pt *pt, struct pt_inode *n);
int pt_inode_new_root(struct pt *pt, int fd);
/* Is there a node for this key? (no count taken: a hint that may be stale at once) */
bool pt_inode_known(struct pt *pt, dev_t dev, ino_t ino, uint64_t mnt_id);
/* The st_ino the client sees for a host (dev, ino). */
uint64_t pt_client_ino(struct pt *pt, dev_t dev, uint64_t ino);

/* pt-fdcache.c. The ring of evictable inodes with an open fd, under fd_mu: */
void pt_clock_remove(struct pt *pt, struct pt_inode *n);
void pt_clock_insert(struct pt *pt, struct pt_inode *n);
/* Reserve room for one more inode fd (evicting an idle one with handles); -EMFILE at the ceiling. */
int pt_fd_reserve(struct pt *pt);
void pt_fd_unreserve(struct pt *pt);
/* The inode's fd, pinned until pt_inode_fd_put (reopened by handle if it was closed). */
int pt_inode_fd(struct pt *pt, struct pt_inode *inode, int *ret_fd);
void pt_inode_fd_put(struct pt *pt, struct pt_inode *inode);
/* An fd on the mount mnt_id that open_by_handle_at and syncfs accept (not O_PATH), or -errno. When the mount
 * is new, it is made from fd, an fd of an inode of type `type` on it (fd -1: only look it up). */
int pt_mount_fd(struct pt *pt, uint64_t mnt_id, int fd, mode_t type);

/* passthrough.c: helpers shared by the op files */
/* Fill st from stx, and the client's st_ino. */
void pt_statx_to_stat(struct pt *pt, const struct statx *stx, struct stat *st);
/* fstatat on an inode, with the client's st_ino. */
int pt_stat_fd(struct pt *pt, struct pt_inode *inode, int fd, struct stat *st);
/* "self/fd/N" into buf (for openat(pt->proc_fd, ...)); buf must hold 32 bytes. */
void pt_proc_name(char buf[static 32], int fd);
/* Open the inode held by fd (an O_PATH fd of inode) for I/O with flags. Regular files and directories only:
 * a symlink is -ELOOP, a device node, fifo or socket -EACCES; nothing else is ever opened. */
int pt_reopen(struct pt *pt, struct pt_inode *inode, int fd, int flags);

/* One component: not empty, no '/', at most NAME_MAX; new_name: also not '.' or '..'. */
int pt_check_name(const char *name, bool new_name);
void pt_fill_entry(struct pt *pt, struct pt_inode *inode, const struct statx *stx, uint32_t attr_flags,
		   struct fs_entry *e);

/* pt-entry.c */
/* Look name up in the directory inode parent whose fd pfd the caller holds: +1 lookup on success. */
int pt_lookup_at(struct pt *pt, struct pt_inode *parent, int pfd, const char *name, struct fs_entry *e);
/* The same for a name getdents64 returned with d_ino: a name whose inode is not known yet costs an O_PATH open
 * and one statx, a known one a single statx. */
int pt_lookup_hint(struct pt *pt, struct pt_inode *parent, int pfd, const char *name, uint64_t d_ino,
		   struct fs_entry *e);
/* Make (or find) the inode of fd, an O_PATH fd reserved with pt_fd_reserve() and taken, for a name in parent;
 * +1 lookup, e filled. */
int pt_entry_from_fd(struct pt *pt, struct pt_inode *parent, int fd, struct fs_entry *e);
