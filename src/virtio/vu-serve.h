/* SPDX-License-Identifier: MIT */
/*
 * Serving a virtio-fs device over vhost-user: the entry points `boxshare serve` calls.
 * Order at start-up: vu_listen() (needs the host's filesystem view), then the sandbox, then vu_serve().
 */
#pragma once

#include <stdbool.h>

#include "proto/proto.h"

struct vu_serve_opts {
	unsigned nqueues;         /* request queues offered to the front end (>= 1); plus the hiprio queue */
	unsigned thread_pool;     /* 0: each queue is served by its own thread; N: N workers per request queue */
	bool wait_reconnect;      /* after the front end disconnects, wait for a new one instead of returning */
	const char *tag;          /* virtio-fs tag for GET_CONFIG (<= 36 bytes); NULL: the front end sets it */
};

/* Create the listening socket (0600, stale socket file replaced). The returned fd is O_CLOEXEC. */
int vu_listen(const char *socket_path, int *ret_fd);

/* A fresh protocol session per front-end connection (a new guest driver sends INIT again). */
typedef int (*vu_session_factory)(void *data, struct proto_session **ret);

/*
 * Serve front ends on sock_fd: a listening socket (accept one connection at a time: --socket-path, and
 * virtiofsd's --fd as libvirt passes it) or an already connected one (--fd from a VMM's socketpair). Returns 0 when the front end disconnected cleanly (and wait_reconnect is off),
 * -errno on a fatal error. A guest that sends a malformed descriptor chain stops that queue with a logged
 * error; it never makes this function crash.
 */
int vu_serve(int sock_fd, const struct vu_serve_opts *o, vu_session_factory make_session, void *data);

/*
 * Ask vu_serve() to stop, from any thread (not from a signal handler): the connection and the listening socket
 * are shut down, the front end sees a hang-up, and vu_serve() returns 0 as after a clean disconnect.
 */
void vu_serve_stop(void);
