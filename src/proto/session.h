/* SPDX-License-Identifier: MIT */
/*
 * Internal to the protocol layer: the session, one request being handled, and the helpers every op handler
 * shares (argument pulling, name validation, reply building). Not included outside src/proto.
 */
#pragma once

#include <boxshare/fs.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "proto/proto.h"

/* Session states; transitions are atomic so INIT, DESTROY and ordinary requests can race safely. */
enum {
	PS_NEW,          /* waiting for INIT */
	PS_INITIALIZING, /* one thread is handling INIT */
	PS_READY,        /* serving */
	PS_DESTROYING,   /* DESTROY is waiting for in-flight requests to drain */
	PS_DONE,         /* DESTROY handled, or INIT failed fatally */
};

/* A request that may sleep for long (SETLKW) registers here so INTERRUPT can wake its thread. */
#define PROTO_BLOCK_SLOTS 64
struct proto_block_slot {
	pthread_mutex_t lock;
	uint64_t unique; /* 0: free (under lock) */
	pthread_t thread;
	bool interrupted;
};
/* Interrupts that arrived for a unique nobody had registered yet (the request may still be on its way to a
 * worker thread): a small ring checked by SETLKW right after it registers. */
#define PROTO_EARLY_INTR 32

struct proto_session {
	struct fs *fs;
	struct proto_opts opts;
	struct proto_transport t;
	struct fs_notifier notifier;

	atomic_int state;
	atomic_long inflight; /* requests past the state check (DESTROY waits for them) */

	/* negotiated at INIT, read-only once state is PS_READY */
	uint32_t minor;
	uint64_t caps;       /* FS_CAP_* granted */
	uint32_t max_write;
	uint32_t max_pages;
	uint32_t max_readahead;
	bool setxattr_ext;
	bool submounts;
	bool dont_mask;
	bool killpriv_v2;
	bool uring; /* FUSE_OVER_IO_URING granted */

	struct proto_backing *backing; /* passthrough backing ids per node (backing.h); NULL unless asked for */

	struct proto_block_slot block[PROTO_BLOCK_SLOTS];
	pthread_mutex_t early_lock;
	uint64_t early_intr[PROTO_EARLY_INTR];
	unsigned early_next;
};

/* Everything a handler needs about one request. Arguments were copied out of the client's memory. */
struct proto_req {
	struct proto_session *s;
	struct fuse_in_header h;
	struct fs_ctx ctx;
	const uint8_t *arg; /* copied arguments (for WRITE: only the fuse_write_in part) */
	size_t arg_len;
	size_t arg_pos;     /* pull cursor */
	/* the request as given: WRITE reads its payload from here, at payload_off */
	const struct iovec *in;
	int in_cnt;
	size_t payload_off;
	size_t payload_len;
	/* the reply room */
	const struct iovec *out;
	int out_cnt;
	size_t out_room; /* total bytes of out */
};

/* What a handler returns: a positive reply length (header included), 0 for no reply, or -errno for an error
 * reply. Handlers write their payload with reply_*(); the dispatcher writes the header. */
typedef ssize_t (*proto_op_fn)(struct proto_req *r);

/* Limits of what a client may send. */
#define PROTO_NAME_MAX 255            /* NAME_MAX: what every Linux filesystem accepts */
#define PROTO_SYMLINK_MAX 4095        /* PATH_MAX - 1 */
#define PROTO_XATTR_NAME_MAX 255      /* XATTR_NAME_MAX */
#define PROTO_XATTR_SIZE_MAX 65536    /* XATTR_SIZE_MAX and XATTR_LIST_MAX */
/* Largest argument block we copy (SETXATTR: its in-struct, a name and a value), plus extension room. */
#define PROTO_ARG_COPY_MAX (sizeof(struct fuse_setxattr_in) + PROTO_XATTR_NAME_MAX + 1 + PROTO_XATTR_SIZE_MAX + 4096)
/* Replies that must be contiguous (directory buffers, xattr values, link targets) and do not land in one
 * out iovec are built in a per-thread scratch area of this size, then scattered. */
#define PROTO_SCRATCH 65536

/* Argument pulling, at the cursor. req_get copies a fixed struct (-EINVAL if the block is too short);
 * req_get_compat accepts an older, shorter struct of at least min bytes and zero-fills the rest. */
int req_get(struct proto_req *r, void *dst, size_t size);
int req_get_compat(struct proto_req *r, void *dst, size_t size, size_t min);
/* The bytes left after the cursor. */
static inline size_t req_left(const struct proto_req *r)
{
	return r->arg_len - r->arg_pos;
}
/* A NUL-terminated string at the cursor; *ret_len excludes the NUL. NULL if no NUL before the end. */
const char *req_pull_str(struct proto_req *r, size_t *ret_len);
/* Names: one component. 0 or -errno (EINVAL: missing NUL, empty, '/'; ENAMETOOLONG). new_entry also refuses
 * "." and ".." (a name that is to be created, removed or renamed). */
int req_pull_name(struct proto_req *r, bool new_entry, const char **ret);

/* Reply building: bytes after the out header. */
size_t reply_payload_room(const struct proto_req *r);
/* Copy len bytes to payload offset off; the caller checked the room. */
void reply_put(struct proto_req *r, size_t off, const void *data, size_t len);
/* A contiguous payload region [off, off+len) if one out iovec holds it, else NULL. */
void *reply_region(struct proto_req *r, size_t off, size_t len);
/* Payload [off, off+len) as iovecs for the fs to read into; returns the count or -EINVAL (too many). */
int reply_iov(struct proto_req *r, size_t off, size_t len, struct iovec *iov, int max);
/* The per-thread scratch buffer (PROTO_SCRATCH bytes). */
void *proto_scratch(void);
/* Reply length for a payload of n bytes. */
static inline ssize_t reply_len(size_t n)
{
	return (ssize_t)(sizeof(struct fuse_out_header) + n);
}
/* Put a fixed struct as the whole payload; -EINVAL if the client left no room for it. */
ssize_t reply_struct(struct proto_req *r, const void *data, size_t len);
/* Room check before calling the fs (so no lookup is taken for a reply that cannot be sent). */
static inline bool reply_fits(const struct proto_req *r, size_t n)
{
	return reply_payload_room(r) >= n;
}

/* Sizes that depend on the negotiated minor. */
size_t proto_entry_out_size(const struct proto_session *s);
size_t proto_attr_out_size(const struct proto_session *s);
/* Encode an fs_entry into the reply at payload offset off. */
void reply_entry(struct proto_req *r, size_t off, const struct fs_entry *e);
/* -EIO if the fs returned an entry without a node (a backend bug the client must not see as success). */
int check_entry(struct proto_req *r, const struct fs_entry *e);

/* Offsets and sizes from the client: > INT64_MAX is not a file position. */
static inline bool off_ok(uint64_t v)
{
	return v <= (uint64_t)INT64_MAX;
}

/* INIT (init.c) */
ssize_t proto_do_init(struct proto_req *r);
/* The FS_OPEN_* -> FOPEN_* mapping shared by open, create and opendir */
uint32_t proto_fopen_flags(uint32_t fs_flags);

/* Blocking-request registry (interrupt.c) */
struct proto_block_slot *proto_block_enter(struct proto_session *s, uint64_t unique);
void proto_block_leave(struct proto_session *s, struct proto_block_slot *slot);
bool proto_block_interrupted(struct proto_block_slot *slot);
ssize_t proto_do_interrupt(struct proto_req *r);
/* Wake every blocked request (DESTROY, session end). */
void proto_block_wake_all(struct proto_session *s);
void proto_block_init(struct proto_session *s);
void proto_block_fini(struct proto_session *s);

/* Notifications (notify.c) */
void proto_notifier_init(struct proto_session *s);

/* Op handlers, by file. */
ssize_t op_lookup(struct proto_req *r);
ssize_t op_forget(struct proto_req *r);
ssize_t op_batch_forget(struct proto_req *r);
ssize_t op_getattr(struct proto_req *r);
ssize_t op_setattr(struct proto_req *r);
ssize_t op_readlink(struct proto_req *r);
ssize_t op_symlink(struct proto_req *r);
ssize_t op_mknod(struct proto_req *r);
ssize_t op_mkdir(struct proto_req *r);
ssize_t op_unlink(struct proto_req *r);
ssize_t op_rmdir(struct proto_req *r);
ssize_t op_rename(struct proto_req *r);
ssize_t op_rename2(struct proto_req *r);
ssize_t op_link(struct proto_req *r);
ssize_t op_statfs(struct proto_req *r);
ssize_t op_access(struct proto_req *r);
ssize_t op_syncfs(struct proto_req *r);

ssize_t op_open(struct proto_req *r);
ssize_t op_create(struct proto_req *r);
ssize_t op_tmpfile(struct proto_req *r);
ssize_t op_read(struct proto_req *r);
ssize_t op_write(struct proto_req *r);
ssize_t op_flush(struct proto_req *r);
ssize_t op_release(struct proto_req *r);
ssize_t op_fsync(struct proto_req *r);
ssize_t op_fallocate(struct proto_req *r);
ssize_t op_lseek(struct proto_req *r);
ssize_t op_copy_file_range(struct proto_req *r);

ssize_t op_opendir(struct proto_req *r);
ssize_t op_readdir(struct proto_req *r);
ssize_t op_readdirplus(struct proto_req *r);
ssize_t op_releasedir(struct proto_req *r);
ssize_t op_fsyncdir(struct proto_req *r);

ssize_t op_setxattr(struct proto_req *r);
ssize_t op_getxattr(struct proto_req *r);
ssize_t op_listxattr(struct proto_req *r);
ssize_t op_removexattr(struct proto_req *r);
ssize_t op_getlk(struct proto_req *r);
ssize_t op_setlk(struct proto_req *r);
ssize_t op_setlkw(struct proto_req *r);
