/* SPDX-License-Identifier: MIT */
/*
 * What the OCI runtime commands share on their command lines (cmd-runtime.c, cmd-exec.c): the flags create
 * and exec both take for the process they start, and how a lifecycle error is said.
 */
#pragma once

struct rt_err;

/* getopt_long codes of the shared flags: above every short option, below a command's own long-only ones. */
enum {
	CLI_RT_OPT_PID_FILE = 0x200,
	CLI_RT_OPT_CONSOLE_SOCKET,
	CLI_RT_OPT_PRESERVE_FDS,
	CLI_RT_OPT_NEXT, /* the first code free for a command's own */
};

/* The values of the shared flags: --pid-file, --console-socket, --preserve-fds. */
struct cli_rt_proc {
	const char *pid_file;
	const char *console_socket;
	int preserve_fds;
};

/*
 * Take getopt_long's c (with its optarg) into p if it is one of the shared flags: 0 taken, -EINVAL for a bad
 * value (said, with cmd's name), -ENOENT when c is not one of them (getopt's own '?' included).
 */
int cli_rt_proc_opt(const char *cmd, int c, const char *arg, struct cli_rt_proc *p);

/* Say the runtime library's error for `op id` (or its warning: r == 1). CLI_EXIT_FAIL for r < 0, else 0. */
int cli_rt_report(const char *op, const char *id, int r, const struct rt_err *err);
