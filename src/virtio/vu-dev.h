/* SPDX-License-Identifier: MIT */
/*
 * The state of one vhost-user device (one front-end connection): negotiated features, guest memory, the
 * virtqueues and the threads that serve them, and the request backend. vu-msg.c changes it from the front
 * end's messages; vu-queue.c runs the queues; vu-conn.c moves the messages over the socket.
 *
 * Threads: messages are handled by one thread (the connection's); each running queue has its own threads.
 * dev->mem is swapped under mem_lock; a queue thread picks up a new table when mem_gen changes. Everything in
 * struct vu_queue that its threads touch is under queue->lock, or is only changed while they are stopped.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "virtio/vq.h"
#include "virtio/vu-mem.h"
#include "virtio/vu-proto.h"

/* What serves the requests: the FUSE protocol layer in production, a mock in tests. */
struct vu_backend {
	/* A fresh session: at the first request of a connection, and again after a session is done. */
	int (*session_new)(void *data, void **ret);
	void (*session_free)(void *data, void *session);
	/* proto_handle()'s contract: reply length, 0 for no reply, -errno for a transport bug. */
	ssize_t (*handle)(void *session, const struct iovec *in, int in_cnt, const struct iovec *out, int out_cnt);
	/* The session has seen DESTROY: the next request gets a new one. */
	bool (*session_done)(void *session);
	/* Optional: this request starts the client over on a live session (a guest that rebooted without
	 * unmounting sends INIT again): it must go to a fresh session instead. */
	bool (*session_restarts)(void *session, const struct iovec *in, int in_cnt);
	/* Optional: this request may wait for ever (a lock wait, SETLKW) until another request of the client
	 * ends the wait: it gets a thread of its own so that the queue keeps moving. */
	bool (*may_block)(const struct iovec *in, int in_cnt);
	/* Sent to such a thread to end its wait (EINTR) when the queue stops or the session is replaced. */
	int wake_signal;
	void *data;
};

/* The features we offer: virtio (+ vhost-user's PROTOCOL_FEATURES bit) and protocol features. */
#define VU_FEATURES                                                                                              \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |                                  \
	 (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
#define VU_PROTOCOL_FEATURES                                                                                     \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |                        \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIG) | (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                 \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS))

#define VU_MAX_QUEUES 64 /* request queues + hiprio */
#define VU_BLOCKERS 64   /* requests that may wait for ever, in threads of their own, per queue */

struct vu_blocker;

struct vu_dev;

struct vu_queue {
	struct vu_dev *dev;
	unsigned index;
	pthread_mutex_t lock; /* vq pop/push/notify, call_fd, mem, broken */
	struct vq vq;
	int kick_fd, call_fd, err_fd;
	bool addr_set;  /* SET_VRING_ADDR seen */
	bool enabled;   /* SET_VRING_ENABLE 1 (or PROTOCOL_FEATURES not negotiated) */
	bool broken;    /* the guest broke the ring: we stopped serving it until it is set up again */
	bool running;   /* threads are running */
	struct vu_mem *mem; /* the table the ring pointers were translated with */
	uint64_t mem_gen;
	int stop_fd;    /* eventfd: readable when the threads must stop */
	int work_fd;    /* semaphore eventfd: wakes one more pool thread when a popper saw more work */
	atomic_uint idle; /* pool threads asleep in poll (only they need work_fd) */
	pthread_cond_t blockers_done;             /* signalled (under lock) when a blocker finishes */
	unsigned nblockers;                       /* under lock */
	struct vu_blocker *blockers[VU_BLOCKERS]; /* under lock: the running ones */
	unsigned nthreads;
	pthread_t threads[];
};

struct vu_dev {
	const struct vu_backend *be;
	unsigned nvqs;        /* hiprio + request queues */
	unsigned thread_pool; /* threads per request queue (0 = 1) */
	bool manual;          /* no threads: the caller (the fuzzer) runs vu_queue_process() itself */
	struct virtio_fs_config config;

	uint64_t features;          /* acked by SET_FEATURES */
	uint64_t protocol_features; /* acked by SET_PROTOCOL_FEATURES */
	bool owner;

	pthread_mutex_t mem_lock;
	struct vu_mem *mem;
	atomic_uint_fast64_t mem_gen;

	pthread_rwlock_t session_lock; /* read: handling a request; write: replacing the session */
	void *session;
	uint64_t session_gen; /* bumped for every new session (starts at 1: 0 means "none") */

	struct vu_queue *q[VU_MAX_QUEUES];
};

struct vu_dev_opts {
	unsigned nqueues;     /* request queues, >= 1 */
	unsigned thread_pool; /* threads per request queue; 0 = 1 */
	const char *tag;      /* virtio-fs tag for the config space (may be NULL: the front end sets it) */
	bool manual;
};

int vu_dev_new(const struct vu_dev_opts *o, const struct vu_backend *be, struct vu_dev **ret);
/* Stops every queue (joins its threads), frees the session, unmaps memory. */
void vu_dev_free(struct vu_dev *d);

/*
 * Handle one message. fds (nfds of them) are always consumed: taken or closed. Returns 1 with *reply filled
 * when the request has a reply of its own, 0 when it has none (the caller then sends a REPLY_ACK if asked for
 * one), -errno when the request was refused (nothing changed).
 */
int vu_dev_handle_msg(struct vu_dev *d, const struct vhost_user_msg *m, int *fds, unsigned nfds,
		      struct vhost_user_msg *reply);

/* Queue runtime (vu-queue.c). */
int vu_queue_start(struct vu_queue *q);
void vu_queue_stop(struct vu_queue *q);
/* Serve every chain available now; -errno if the guest broke the ring (the queue is then stopped). */
int vu_queue_process(struct vu_queue *q, struct vq_elem *e);
/* Wake every blocked request of q (they fail with EINTR) and wait until none is left. */
void vu_queue_drain_blockers(struct vu_queue *q);
/* Start or stop q as its state says (kick fd, addresses, enable, broken). */
int vu_queue_update(struct vu_queue *q);
