/* SPDX-License-Identifier: MIT */
/* The command line: one function per subcommand, each in its own cmd-*.c. Only cli/ prints for the user. */
#pragma once

#include <stdbool.h>

/* Options that come before the subcommand (runc's global flags), shared by every subcommand. */
struct cli_global {
	const char *root;       /* --root: state directory of the OCI runtime commands */
	const char *log_file;   /* --log */
	bool log_json;          /* --log-format json */
	bool debug;             /* --debug */
	bool systemd_cgroup;    /* --systemd-cgroup */
	bool cgroups_disabled;  /* --cgroup-manager disabled (crun's flag, which podman passes) */
};

/* Exit statuses: 0 ok, 1 the operation failed, 2 bad usage (flags, arguments, configuration). */
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* argv[0] is the subcommand's name; getopt state is reset before the call. */
int cmd_serve(const struct cli_global *g, int argc, char **argv);
int cmd_ctl(const struct cli_global *g, int argc, char **argv);
int cmd_run(const struct cli_global *g, int argc, char **argv);
int cmd_create(const struct cli_global *g, int argc, char **argv);
int cmd_start(const struct cli_global *g, int argc, char **argv);
int cmd_state(const struct cli_global *g, int argc, char **argv);
int cmd_kill(const struct cli_global *g, int argc, char **argv);
int cmd_delete(const struct cli_global *g, int argc, char **argv);
int cmd_list(const struct cli_global *g, int argc, char **argv);
int cmd_exec(const struct cli_global *g, int argc, char **argv);
int cmd_ps(const struct cli_global *g, int argc, char **argv);
int cmd_features(const struct cli_global *g, int argc, char **argv);

/* Print "boxshare: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
