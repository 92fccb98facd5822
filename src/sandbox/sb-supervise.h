/* SPDX-License-Identifier: MIT */
/* The fork of the confined server from its supervisor, which stays outside (and, in namespace mode, the new
 * pid namespace). */
#pragma once

#include <stdbool.h>

/*
 * Fork, the child into a new pid namespace if new_pidns (it is pid 1 there). In the child (dying with its parent
 * through PR_SET_PDEATHSIG) returns 0. The parent becomes the supervisor and never returns: it forwards SIGINT,
 * SIGTERM and SIGHUP, waits for the child, runs cleanup(data) (if not NULL) and exits with the child's status
 * (exit code, or the same signal re-raised). -errno, in the one process, if the fork could not be made.
 * Call it single-threaded: only the calling thread lives on in the child.
 *
 * new_pidns: *ret_status_fd gets, in the child, the write end of a pipe to the supervisor: a wait status written
 * there (sizeof(int)) is taken as the server's instead of the child's own (see sb-init.h). Else it is untouched.
 */
int sb_fork_supervised(bool new_pidns, void (*cleanup)(void *data), void *data, int *ret_status_fd);
