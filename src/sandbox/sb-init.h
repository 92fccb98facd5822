/* SPDX-License-Identifier: MIT */
/* The init of the sandbox's pid namespace, so that the server itself is not pid 1. */
#pragma once

/*
 * Called in pid 1 of the new pid namespace, once the root is built. Forks the server: returns 0 in it (pid 2).
 * This process stays as the namespace's init and never returns: it closes every fd but status_fd, drops every
 * capability, loads its own tiny seccomp filter, forwards SIGINT/SIGTERM/SIGHUP to the server, reaps, and when
 * the server is gone writes its wait status to status_fd (for the supervisor) and exits.
 *
 * Why: the kernel drops any signal a pid 1 has no handler for, even its own: abort() in a pid 1 cannot die of
 * SIGABRT (glibc falls back to a crash instruction; under a sanitizer's SIGSEGV handler it may spin), and a
 * SIGTERM without a handler would be ignored. As pid 2 the server dies of its signals as any process does.
 * -errno if the fork fails.
 */
int sb_init_fork(int status_fd);
