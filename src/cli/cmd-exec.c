/* SPDX-License-Identifier: MIT */
/* boxshare exec: runc's flags (the ones conmon and containerd's shim use, and the common interactive ones). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/rt-args.h"
#include "runtime/exec.h"
#include "util/macros.h"

static const char usage[] =
	"[--process FILE] [--detach] [--pid-file FILE] [--console-socket PATH] [--tty] [--cwd DIR]\n"
	"       [--env NAME=VALUE]... [--user UID[:GID]] [--preserve-fds N] ID [-- COMMAND [ARG...]]";

int cmd_exec(const struct cli_global *g, int argc, char **argv)
{
	struct lc_exec_opts o = { .root = g->root };
	struct cli_rt_proc p = { 0 };
	enum { OPT_CWD = CLI_RT_OPT_NEXT, OPT_HELP };
	static const struct option opts[] = {
		{ "process", required_argument, NULL, 'p' },
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, CLI_RT_OPT_PID_FILE },
		{ "console-socket", required_argument, NULL, CLI_RT_OPT_CONSOLE_SOCKET },
		{ "tty", no_argument, NULL, 't' },
		{ "cwd", required_argument, NULL, OPT_CWD },
		{ "env", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "preserve-fds", required_argument, NULL, CLI_RT_OPT_PRESERVE_FDS },
		{ "help", no_argument, NULL, OPT_HELP },
		{}
	};
	_cleanup_free_ char **env = calloc((size_t)argc + 1, sizeof(char *));
	size_t n_env = 0;
	if (!env) {
		cli_error("exec: out of memory");
		return CLI_EXIT_FAIL;
	}
	int c;
	/* '+': stop at the id, so the command's own flags are left alone */
	while ((c = getopt_long(argc, argv, "+p:dte:u:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.process_file = optarg;
			break;
		case 'd':
			o.detach = true;
			break;
		case 't':
			o.tty = true;
			break;
		case OPT_CWD:
			o.cwd = optarg;
			break;
		case 'e':
			env[n_env++] = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case OPT_HELP:
			printf("usage: boxshare exec %s\n", usage);
			return 0;
		default:
			if (cli_rt_proc_opt("exec", c, optarg, &p) < 0)
				return CLI_EXIT_USAGE;
		}
	}
	o.pid_file = p.pid_file;
	o.console_socket = p.console_socket;
	o.preserve_fds = p.preserve_fds;
	if (optind >= argc) {
		cli_error("exec: no container id (usage: boxshare exec %s)", usage);
		return CLI_EXIT_USAGE;
	}
	o.id = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (o.process_file && optind < argc) {
		cli_error("exec %s: give either --process FILE or a command, not both", o.id);
		return CLI_EXIT_USAGE;
	}
	if (!o.process_file && (o.cwd || o.user || n_env || o.tty) && optind >= argc) {
		cli_error("exec %s: no command given", o.id);
		return CLI_EXIT_USAGE;
	}
	if (o.process_file && (o.cwd || o.user || n_env || o.tty)) {
		cli_error("exec %s: --cwd, --env, --user and --tty apply to a command, not to --process", o.id);
		return CLI_EXIT_USAGE;
	}
	o.args = optind < argc ? argv + optind : NULL;
	o.env = n_env ? env : NULL;
	struct rt_err err = { "" };
	int code = 0;
	int r = lc_exec(&o, &code, &err);
	return r < 0 ? cli_rt_report("exec", o.id, r, &err) : code;
}
