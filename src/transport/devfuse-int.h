/* SPDX-License-Identifier: MIT */
/*
 * The /dev/fuse transport's insides, shared by its files: devfuse.c (mounting, the reader pool, lock jobs,
 * release-before-lock ordering, shutdown) and devfuse-uring.c (the io_uring queues). Not for other modules.
 */
#pragma once

#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/proto.h"

struct devfuse_uring;
struct devfuse_uring_ent;

struct devfuse_reader {
	struct devfuse *d;
	int fd;
	pthread_t thread;
	bool started;
	atomic_bool exited;
	/* release-before-lock ordering (see devfuse_lock_barrier): in_read is set while the reader is inside
	 * read() of /dev/fuse (or about to enter it); gen counts the reads that returned, bumped after a RELEASE
	 * read was announced in rel_pending */
	atomic_bool in_read;
	atomic_ulong gen;
	pthread_t self; /* set by the reader itself before its first in_read: what the barrier pokes */
};

/* RELEASE/RELEASEDIR requests read but not yet handled, counted per stripe of node ids. */
#define DEVFUSE_REL_STRIPES 256

/*
 * A SETLKW may wait for ever, and the unlock that ends the wait arrives as another request: served inline,
 * enough of them would hold every reader and nothing could unlock. Each one gets a thread of its own
 * (rare: a malloc and a thread per lock wait are fine), up to DEVFUSE_LOCK_THREADS at once; beyond that
 * they are served inline.
 */
#define DEVFUSE_LOCK_THREADS 64
struct devfuse_lock_job {
	struct devfuse *d;
	int fd;                       /* the reply goes to this /dev/fuse fd... */
	struct devfuse_uring_ent *ent; /* ...or, when set, back into this io_uring entry */
	size_t len;
	pthread_t thread;
	atomic_bool busy; /* slot taken (set by the reader, cleared by the job when it is done) */
	uint8_t *req;
};

struct devfuse {
	int fd; /* the session fd: notifications go here */
	unsigned n;
	struct devfuse_reader *readers;
	struct devfuse_lock_job locks[DEVFUSE_LOCK_THREADS];
	bool stuck; /* a lock thread would not stop: the session is still in use */
	struct proto_session *s;
	atomic_bool stop;
	atomic_int err; /* first fatal transport error, -errno */
	int evfd;       /* a reader that stops for good tells the main thread here */
	atomic_uint rel_pending[DEVFUSE_REL_STRIPES];
	struct devfuse_uring *uring; /* NULL unless devfuse_uring_prepare() made the rings */
};

static inline unsigned devfuse_rel_stripe(uint64_t nodeid)
{
	return (unsigned)((nodeid * 0x9e3779b97f4a7c15ull) >> 56) % DEVFUSE_REL_STRIPES;
}

static inline bool devfuse_is_release(uint32_t op)
{
	return op == FUSE_RELEASE || op == FUSE_RELEASEDIR;
}

static inline bool devfuse_is_lock(uint32_t op)
{
	return op == FUSE_GETLK || op == FUSE_SETLK || op == FUSE_SETLKW;
}

/* A wait for another thread's short step: yield first, then sleep 50 us at a time. */
static inline void devfuse_short_wait(unsigned round)
{
	if (round < 16) {
		sched_yield();
	} else {
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
}

/* Wait until every RELEASE of nodeid the kernel handed out before the lock request at hand was handled.
 * self: the calling reader or io_uring thread (skipped), opaque. */
void devfuse_lock_barrier(struct devfuse *d, const void *self, uint64_t nodeid);
/* Hand a SETLKW (len bytes at req, copied) to a thread of its own; its reply goes to fd, or into ent when ent
 * is not NULL (devfuse_uring_lock_done). False if it must be served inline. */
bool devfuse_offload_lock(struct devfuse *d, int fd, struct devfuse_uring_ent *ent, const void *req, size_t len);

/* devfuse-uring.c, for devfuse.c */
/* After INIT was answered with FUSE_OVER_IO_URING: allocate the entries and start the queue threads (once). */
void devfuse_uring_start(struct devfuse *d);
/* d->stop is set: wake the queue threads and join them. */
void devfuse_uring_stop(struct devfuse *d);
void devfuse_uring_free(struct devfuse_uring *u);
/* Poke every queue thread waiting for completions but self, and wait until each has announced what it got. */
void devfuse_uring_barrier(struct devfuse *d, const void *self);
/* Lock job side: the io_uring request at ent has the proto_handle() result len in ent's buffers. */
void devfuse_uring_lock_done(struct devfuse_uring_ent *ent, ssize_t len);
/* Lock job side: where proto_handle() writes the reply of the request parked in ent. */
void devfuse_uring_reply_room(struct devfuse_uring_ent *ent, struct iovec out[2]);
