/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring for the /dev/fuse transport (Linux 6.14+, fs/fuse/dev_uring.c).
 *
 * The kernel keeps one request queue per possible CPU and puts a request on the queue of the CPU its caller
 * runs on. We serve each queue from threads pinned to that CPU, each with an io_uring of its own: a request
 * and its reply then travel between two tasks of one CPU, without the cross-CPU wake-up every /dev/fuse
 * round trip pays (on a 2-vCPU guest, half the time of a small-file open). The readers of /dev/fuse stay:
 * INIT, FORGET and INTERRUPT (and everything until every queue has registered) still come through read(2).
 *
 * The rings are made before the sandbox, restricted to the two operations we submit (URING_CMD on
 * /dev/fuse, READ of our eventfds), so the seccomp filter needs io_uring_enter only: no io_uring_setup, and
 * no ring that could open or read on the server's behalf past the filter.
 */
#pragma once

#include <stdbool.h>

struct devfuse;

/* Turn on the fuse module's enable_uring parameter if it is off (it only lets servers ask; no server
 * changes unless it asks). 0, or -errno (-ENOENT: the kernel has no FUSE over io_uring). */
int devfuse_uring_enable(void);

/*
 * Make the rings for d (before the sandbox): the kernel wants one queue per possible CPU; `threads` threads are
 * divided among the CPUs we may run on (at least one each), and serve those CPUs' queues and, spread over
 * them, the queues of the other possible CPUs.
 * With these, d's readers grant FUSE over io_uring at INIT (proto_opts.io_uring must be set too) and the
 * queue threads take over once INIT is answered. -errno if io_uring is unavailable (the caller serves over
 * /dev/fuse alone).
 */
int devfuse_uring_prepare(struct devfuse *d, unsigned threads);
