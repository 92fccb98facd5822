/* SPDX-License-Identifier: MIT */
/* Helpers shared by lifecycle.c (create, start, run) and lifecycle-ctl.c (state, kill, delete, list, ps):
 * opening the state with the messages a user needs, and waiting on an init through its pidfd. */
#pragma once

#include <sys/types.h>

#include "runtime/rterr.h"
#include "runtime/state.h"

#define ERROR_FIFO "error.fifo"
/* How long an operation waits for another one on the same container. A create holds the lock while its
 * hooks run; one that was killed leaves it held by its orphaned init, which only delete --force breaks. */
#define LOCK_TIMEOUT_MS 10000

/* rts_root_open() with an error naming the directory. */
int lc_open_root(const char *root, struct rt_err *err);
/* Open and lock ROOT/ID (op: LOCK_EX, LOCK_SH or 0), -ENOENT/-EBUSY/... with err filled. */
int lc_open_container(int rootfd, const char *id, int op, int timeout_ms, struct rt_err *err);
/* rts_load() with an error a user understands. */
int lc_load(int dirfd, const char *id, struct rts *s, struct rt_err *err);
/* A pidfd for s->pid that is surely our init (start time checked after the pidfd pins the pid). */
int lc_pidfd_of(const struct rts *s);
/* Wait until the process behind pidfd has exited (zombie counts), up to timeout_ms. */
int lc_wait_exit(int pidfd, int timeout_ms);
