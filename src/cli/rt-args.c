/* SPDX-License-Identifier: MIT */
/* The OCI runtime commands' shared flags and error report: see rt-args.h. */
#include "cli/rt-args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/rterr.h"

int cli_rt_proc_opt(const char *cmd, int c, const char *arg, struct cli_rt_proc *p)
{
	switch (c) {
	case CLI_RT_OPT_PID_FILE:
		p->pid_file = arg;
		return 0;
	case CLI_RT_OPT_CONSOLE_SOCKET:
		p->console_socket = arg;
		return 0;
	case CLI_RT_OPT_PRESERVE_FDS: {
		/* the container's process gets fds 3 .. 3+N-1 (LISTEN_FDS): a count, never a flag's typo */
		char *end;
		long n = strtol(arg, &end, 10);
		if (*end || n < 0 || n > 1024) {
			cli_error("%s: --preserve-fds '%s': not a count in [0, 1024]", cmd, arg);
			return -EINVAL;
		}
		p->preserve_fds = (int)n;
		return 0;
	}
	}
	return -ENOENT;
}

int cli_rt_report(const char *op, const char *id, int r, const struct rt_err *err)
{
	if (r == 1) {
		cli_error("warning: %s %s: %s", op, id, err->msg);
		return 0;
	}
	if (r >= 0)
		return 0;
	if (err->msg[0])
		cli_error("%s %s: %s", op, id, err->msg);
	else
		cli_error("%s %s: %s", op, id, strerror(-r));
	return CLI_EXIT_FAIL;
}
