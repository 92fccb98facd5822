/* SPDX-License-Identifier: MIT */
/*
 * exec: a new process in a running container. It joins every namespace of the container's init (one
 * setns() on a pidfd), its cgroup, and gets the process settings of --process FILE (what conmon and
 * containerd's shim pass) or of the container's config.json with the command line's overrides (runc's
 * exec flags). Capabilities, rlimits, no_new_privs and the container's seccomp profile apply as at create.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "runtime/rterr.h"

struct lc_exec_opts {
	const char *root;
	const char *id;
	const char *process_file; /* a JSON "process" object; NULL = config.json's process + the fields below */
	char **args;              /* with no process file: the command (NULL-terminated), required */
	const char *cwd;          /* NULL = the container's */
	char **env;               /* NAME=VALUE to add or replace (NULL-terminated), may be NULL */
	const char *user;         /* "UID[:GID]", NULL = the container's */
	bool tty;                 /* process.terminal with no process file */
	bool detach;              /* return once the process runs, instead of waiting for it */
	const char *pid_file;
	const char *console_socket;
	int preserve_fds;
};

/* Start the process; unless detached, wait for it and give its exit code (128+N when killed by signal N). */
int lc_exec(const struct lc_exec_opts *o, int *ret_exit_code, struct rt_err *err);
