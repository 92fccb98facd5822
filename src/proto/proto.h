/* SPDX-License-Identifier: MIT */
/*
 * The FUSE protocol layer: decode and validate one request, dispatch it to a struct fs, encode the reply.
 * The only module that sees the wire structs of linux/fuse.h. Transport-agnostic: /dev/fuse and virtio-fs
 * both hand it a request as readable iovecs and the room for the reply as writable iovecs.
 *
 * Thread-safe: any number of transport threads may call proto_handle() on one session at once.
 */
#pragma once

#include <boxshare/fs.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct proto_session;

struct proto_opts {
	uint32_t max_write;       /* largest WRITE payload we accept (and announce at INIT) */
	uint32_t max_pages;       /* 0: derive from max_write */
	bool writeback;           /* grant the writeback cache if the client offers it (and the fs keeps it) */
	bool posix_acl;           /* grant POSIX ACLs if offered */
	bool announce_submounts;  /* grant FUSE_SUBMOUNTS if offered (virtio-fs; /dev/fuse never offers it) */
	bool passthrough;         /* grant FUSE_PASSTHROUGH if offered, the transport has backing files and the
				   * writeback cache is not granted (the client cannot do both) */
	bool io_uring;            /* grant FUSE_OVER_IO_URING if offered (the /dev/fuse transport then serves
				   * requests from io_uring queues: proto_session_uring) */
	bool local_posix_locks;   /* leave POSIX record locks to the client kernel: FUSE_POSIX_LOCKS is not granted,
				   * and an open that needs no FLUSH gets FOPEN_NOFLUSH (ops-file.c) */
	bool local_flock;         /* leave flock(2) locks to the client kernel: FUSE_FLOCK_LOCKS is not granted */
	bool virtio;              /* the transport is virtio-fs: no notifications, INIT arrives first too */
	bool borrow_fs;           /* the session does not own fs (vhost-user: one fs, a session per connection) */
};

/* max_write when proto_opts.max_write is 0, and the most the kernel can use (256 pages of 4 KiB). */
#define PROTO_DEFAULT_MAX_WRITE (1u << 20)
#define PROTO_MAX_MAX_WRITE (1u << 20)

/* How the protocol layer reaches back into the transport (notifications, backing files). */
struct proto_transport {
	/* Send an unsolicited message (unique == 0) to the client; 0 or -errno. NULL: cannot notify. */
	int (*send_notify)(void *data, const struct iovec *iov, int cnt);
	/* Kernel FUSE passthrough (both or neither; NULL: the transport has no backing files, e.g. virtio-fs).
	 * backing_open registers host fd fd (borrowed: the kernel takes its own reference) as a backing file and
	 * returns its id (> 0) or -errno (EPERM: not allowed at all); backing_close drops an id. Thread-safe. */
	int (*backing_open)(void *data, int fd);
	int (*backing_close)(void *data, int id);
	void *data;
};

/*
 * The signal proto sends a worker thread to wake it from a lock wait when the client interrupts the request
 * (its handler is empty and installed without SA_RESTART, by proto_session_new or proto_signal_init). SIGURG:
 * ignored by default, so a stray one harms nothing. A transport may send it to its own threads to wake them
 * from a blocking read. A seccomp filter must allow tgkill and rt_sigreturn.
 */
#define PROTO_INTR_SIGNAL SIGURG
void proto_signal_init(void);

/* The session takes ownership of fs (freed by proto_session_free) unless opts->borrow_fs. A session that is
 * freed after INIT without having seen DESTROY calls fs->destroy first (the client went away). */
int proto_session_new(struct fs *fs, const struct proto_opts *opts, const struct proto_transport *t,
		      struct proto_session **ret);
void proto_session_free(struct proto_session *s);

/*
 * Handle one request.
 *   in/in_cnt:   the request as the client sent it (header and arguments). The bytes may live in memory the
 *                client can change while we run (guest RAM): proto copies header and arguments before it
 *                validates them, and reads a WRITE payload only once.
 *   out/out_cnt: where the reply goes (header first). The total room must be at least
 *                proto_reply_room(s) for a READ of max size to fit. FORGET, BATCH_FORGET and INTERRUPT take
 *                no reply and may come with no room at all (out_cnt 0).
 * Returns the reply length written into out (> 0), 0 when the request takes no reply (FORGET, BATCH_FORGET,
 * INTERRUPT, or a malformed request that the protocol says to drop), or -ENOBUFS if a request that takes a reply
 * came without room for even an error header (the transport drops it).
 */
ssize_t proto_handle(struct proto_session *s, const struct iovec *in, int in_cnt, const struct iovec *out,
		     int out_cnt);

/* The largest reply: sizeof(struct fuse_out_header) + max(max_write, max read reply, a full dir buffer). */
size_t proto_reply_room(const struct proto_session *s);
/* The largest request the transport should accept: header + arguments + max_write. */
size_t proto_request_room(const struct proto_session *s);
/* True once DESTROY was handled (the transport should stop), or INIT failed fatally. */
bool proto_session_done(const struct proto_session *s);
/* The INIT the client sent has been answered and the session serves requests. */
bool proto_session_ready(const struct proto_session *s);
/* INIT granted FUSE over io_uring (asked for in proto_opts and offered by the client). */
bool proto_session_uring(const struct proto_session *s);
