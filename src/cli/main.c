/* SPDX-License-Identifier: MIT */
/* boxshare's entry point: global flags, then dispatch to the subcommand. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/log-file.h"
#include "config.h"
#include "util/log.h"
#include "util/macros.h"

static const struct {
	const char *name;
	int (*fn)(const struct cli_global *g, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "serve", cmd_serve, "serve a share tree over /dev/fuse or vhost-user (virtio-fs)" },
	{ "ctl", cmd_ctl, "add or remove entries of a running server's share tree" },
	{ "run", cmd_run, "create and start a container from an OCI bundle, in the foreground" },
	{ "create", cmd_create, "create a container (OCI runtime lifecycle)" },
	{ "start", cmd_start, "start a created container" },
	{ "state", cmd_state, "print a container's state as JSON" },
	{ "kill", cmd_kill, "send a signal to a container's process" },
	{ "delete", cmd_delete, "delete a container" },
	{ "list", cmd_list, "list containers" },
	{ "exec", cmd_exec, "run a process in a running container" },
	{ "ps", cmd_ps, "list a container's processes" },
	{ "features", cmd_features, "print the runtime's features as JSON" },
};

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("boxshare: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: boxshare [GLOBAL OPTIONS] COMMAND [ARGS...]\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nGlobal options (those of runc and crun):\n"
		   "  --root DIR            state directory (default /run/boxshare)\n"
		   "  --log FILE            write runtime logs to FILE\n"
		   "  --log-format FMT      text or json\n"
		   "  --debug               log debug messages\n"
		   "  --systemd-cgroup      accepted for compatibility; cgroup paths are used as given\n"
		   "  --version             print the version and the OCI spec version\n"
		   "  --help                this text\n\n"
		   "'boxshare COMMAND --help' documents each command.\n");
}

int main(int argc, char **argv)
{
	struct cli_global g = { .root = "/run/boxshare" };
	enum { OPT_ROOT = 256, OPT_LOG, OPT_LOG_FORMAT, OPT_DEBUG, OPT_SYSTEMD_CGROUP, OPT_VERSION, OPT_HELP,
	       OPT_CGROUP_MANAGER };
	static const struct option opts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "cgroup-manager", required_argument, NULL, OPT_CGROUP_MANAGER }, /* crun's; podman passes it */
		{}
	};
	int c;
	/* '+': stop at the first non-option, which is the subcommand */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			g.root = optarg;
			break;
		case OPT_LOG:
			g.log_file = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") == 0)
				g.log_json = true;
			else if (strcmp(optarg, "text") != 0) {
				cli_error("--log-format: '%s' is neither 'text' nor 'json'", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_DEBUG:
			g.debug = true;
			log_set_level(LOG_LVL_DEBUG);
			break;
		case OPT_SYSTEMD_CGROUP:
			g.systemd_cgroup = true;
			break;
		case OPT_CGROUP_MANAGER:
			if (strcmp(optarg, "disabled") == 0)
				g.cgroups_disabled = true;
			else if (strcmp(optarg, "systemd") == 0)
				g.systemd_cgroup = true;
			else if (strcmp(optarg, "cgroupfs") != 0) {
				cli_error("--cgroup-manager: '%s' is not cgroupfs, systemd or disabled", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_VERSION:
			printf("boxshare version %s\nspec: %s\n", BOXSHARE_VERSION, OCI_SPEC_VERSION);
			return 0;
		case OPT_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli_log_open(&g) < 0) {
		cli_error("--log %s: cannot open it: %m", g.log_file);
		return CLI_EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(name, commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* full getopt reset for the subcommand */
			return commands[i].fn(&g, sub_argc, sub_argv);
		}
	}
	cli_error("unknown command '%s' (see 'boxshare --help')", name);
	return CLI_EXIT_USAGE;
}
