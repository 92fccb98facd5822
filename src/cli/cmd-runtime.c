/* SPDX-License-Identifier: MIT */
/* The OCI runtime commands of runc and crun: create, start, state, kill, delete, list, ps, features.
 * exec is in cmd-exec.c. The work is in src/runtime/lifecycle.c; this file parses flags and prints. */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/rt-args.h"
#include "runtime/lifecycle.h"
#include "runtime/spec-ext.h"
#include "util/macros.h"

/* --help or -h before any "--": print the command's usage; true when it did (the command is done). */
static bool want_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: boxshare %s %s\n", argv[0], usage);
			return true;
		}
	}
	return false;
}

static int one_id(int argc, char **argv, const char *usage, const char **ret)
{
	if (optind != argc - 1) {
		cli_error("%s: expects exactly one container id (usage: boxshare %s %s)", argv[0], argv[0], usage);
		return -1;
	}
	*ret = argv[optind];
	return 0;
}

/*
 * The flags of a command that takes at most one switch, --NAME or -N (kill --all, delete --force; none when
 * name is NULL): 0, with *ret true when it was given; -1 for anything else (getopt_long said what).
 */
static int only_switch(int argc, char **argv, const char *name, bool *ret)
{
	struct option opts[2] = { 0 };
	char shortopts[3] = "+";
	if (name) {
		opts[0] = (struct option){ name, no_argument, NULL, name[0] };
		shortopts[1] = name[0];
	}
	int c;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (!name || c != name[0])
			return -1;
		*ret = true;
	}
	return 0;
}

/* start and state: no flags, one id. 1 when --help said all there is, 0 with the id in *ret, or -1. */
static int id_only(int argc, char **argv, const char **ret)
{
	if (want_help(argc, argv, "ID"))
		return 1;
	return only_switch(argc, argv, NULL, NULL) < 0 ? -1 : one_id(argc, argv, "ID", ret);
}

int cmd_create(const struct cli_global *g, int argc, char **argv)
{
	static const char usage[] = "[--bundle DIR] [--pid-file FILE] [--console-socket PATH] [--no-pivot] "
				    "[--no-new-keyring] [--preserve-fds N] ID";
	if (want_help(argc, argv, usage))
		return 0;
	struct lc_create_opts o = { .root = g->root, .no_cgroups = g->cgroups_disabled };
	struct cli_rt_proc p = { 0 };
	enum { OPT_NO_PIVOT = CLI_RT_OPT_NEXT, OPT_NO_KEYRING };
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "pid-file", required_argument, NULL, CLI_RT_OPT_PID_FILE },
		{ "console-socket", required_argument, NULL, CLI_RT_OPT_CONSOLE_SOCKET },
		{ "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
		{ "no-new-keyring", no_argument, NULL, OPT_NO_KEYRING },
		{ "preserve-fds", required_argument, NULL, CLI_RT_OPT_PRESERVE_FDS },
		{}
	};
	int c;
	while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o.bundle = optarg;
			break;
		case OPT_NO_PIVOT:
			o.no_pivot = true;
			break;
		case OPT_NO_KEYRING:
			/* boxshare never creates a session keyring: the flag asks for what we do anyway */
			break;
		default:
			if (cli_rt_proc_opt("create", c, optarg, &p) < 0)
				return CLI_EXIT_USAGE;
		}
	}
	o.pid_file = p.pid_file;
	o.console_socket = p.console_socket;
	o.preserve_fds = p.preserve_fds;
	if (one_id(argc, argv, usage, &o.id) < 0)
		return CLI_EXIT_USAGE;
	struct rt_err err = { "" };
	return cli_rt_report("create", o.id, lc_create(&o, &err), &err);
}

int cmd_start(const struct cli_global *g, int argc, char **argv)
{
	const char *id;
	int k = id_only(argc, argv, &id);
	if (k != 0)
		return k > 0 ? 0 : CLI_EXIT_USAGE;
	struct rt_err err = { "" };
	return cli_rt_report("start", id, lc_start(g->root, id, &err), &err);
}

int cmd_state(const struct cli_global *g, int argc, char **argv)
{
	const char *id;
	int k = id_only(argc, argv, &id);
	if (k != 0)
		return k > 0 ? 0 : CLI_EXIT_USAGE;
	struct rt_err err = { "" };
	_cleanup_free_ char *json = NULL;
	int r = lc_state(g->root, id, &json, &err);
	if (r < 0)
		return cli_rt_report("state", id, r, &err);
	printf("%s\n", json);
	return 0;
}

int cmd_kill(const struct cli_global *g, int argc, char **argv)
{
	static const char usage[] = "[--all] ID [SIGNAL]";
	if (want_help(argc, argv, usage))
		return 0;
	bool all = false;
	if (only_switch(argc, argv, "all", &all) < 0)
		return CLI_EXIT_USAGE;
	if (optind >= argc || argc - optind > 2) {
		cli_error("kill: usage: boxshare kill %s", usage);
		return CLI_EXIT_USAGE;
	}
	const char *id = argv[optind];
	int sig = SIGTERM;
	if (argc - optind == 2) {
		sig = lc_signal_parse(argv[optind + 1]);
		if (sig < 0) {
			cli_error("kill %s: '%s' is not a signal name or number", id, argv[optind + 1]);
			return CLI_EXIT_USAGE;
		}
	}
	struct rt_err err = { "" };
	return cli_rt_report("kill", id, lc_kill(g->root, id, sig, all, &err), &err);
}

int cmd_delete(const struct cli_global *g, int argc, char **argv)
{
	static const char usage[] = "[--force] ID";
	if (want_help(argc, argv, usage))
		return 0;
	bool force = false;
	const char *id;
	if (only_switch(argc, argv, "force", &force) < 0 || one_id(argc, argv, usage, &id) < 0)
		return CLI_EXIT_USAGE;
	struct rt_err err = { "" };
	int r = lc_delete(g->root, id, force, &err);
	/* runc: deleting what does not exist with --force is not an error (engines retry deletes) */
	if (r == -ENOENT && force)
		return 0;
	return cli_rt_report("delete", id, r, &err);
}

static int parse_format(const char *op, const char *s, bool *json)
{
	if (strcmp(s, "json") == 0)
		*json = true;
	else if (strcmp(s, "table") == 0)
		*json = false;
	else {
		cli_error("%s: --format '%s': neither 'table' nor 'json'", op, s);
		return -1;
	}
	return 0;
}

int cmd_list(const struct cli_global *g, int argc, char **argv)
{
	static const char usage[] = "[--format table|json] [--quiet]";
	if (want_help(argc, argv, usage))
		return 0;
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
					      { "quiet", no_argument, NULL, 'q' }, {} };
	bool json = false, quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
		if (c == 'f' && parse_format("list", optarg, &json) == 0)
			continue;
		if (c == 'q') {
			quiet = true;
			continue;
		}
		return CLI_EXIT_USAGE;
	}
	if (optind != argc) {
		cli_error("list: takes no arguments (usage: boxshare list %s)", usage);
		return CLI_EXIT_USAGE;
	}
	struct lc_entry *v;
	size_t n;
	struct rt_err err = { "" };
	int r = lc_list(g->root, &v, &n, &err);
	if (r < 0) {
		cli_error("list: %s", err.msg[0] ? err.msg : strerror(-r));
		return CLI_EXIT_FAIL;
	}
	if (json) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; a && i < n; i++) {
			_cleanup_free_ char *text = rts_to_oci_json(&v[i].s, v[i].status);
			json_object *o = text ? json_tokener_parse(text) : NULL;
			if (o)
				json_object_array_add(a, o);
		}
		printf("%s\n", a ? json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
									   JSON_C_TO_STRING_NOSLASHESCAPE)
				 : "[]");
		json_object_put(a);
	} else if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i].s.id);
	} else {
		printf("%-24s %-8s %-10s %-20s %s\n", "ID", "PID", "STATUS", "CREATED", "BUNDLE");
		for (size_t i = 0; i < n; i++) {
			char ts[32] = "-";
			time_t t = (time_t)v[i].s.created;
			struct tm tm;
			if (t > 0 && gmtime_r(&t, &tm))
				strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			bool live = v[i].status == RTS_CREATED || v[i].status == RTS_RUNNING;
			printf("%-24s %-8d %-10s %-20s %s\n", v[i].s.id, live ? (int)v[i].s.pid : 0,
			       rts_status_name(v[i].status), ts, v[i].s.bundle ? v[i].s.bundle : "");
		}
	}
	lc_list_free(v, n);
	return 0;
}

static void print_proc_line(pid_t pid)
{
	char path[64], cmd[4096];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
	if (f)
		fclose(f);
	cmd[n] = 0;
	for (size_t i = 0; n && i < n - 1; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	printf("%-8d %s\n", (int)pid, n ? cmd : "?");
}

int cmd_ps(const struct cli_global *g, int argc, char **argv)
{
	static const char usage[] = "[--format table|json] ID";
	if (want_help(argc, argv, usage))
		return 0;
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' }, {} };
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1)
		if (c != 'f' || parse_format("ps", optarg, &json) < 0)
			return CLI_EXIT_USAGE;
	if (optind >= argc) {
		cli_error("ps: usage: boxshare ps %s", usage);
		return CLI_EXIT_USAGE;
	}
	const char *id = argv[optind];
	if (argc - optind > 1) {
		cli_error("ps %s: ps(1) arguments are not supported; use --format json and ps -p", id);
		return CLI_EXIT_USAGE;
	}
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	struct rt_err err = { "" };
	int r = lc_pids(g->root, id, &pids, &n, &err);
	if (r < 0)
		return cli_rt_report("ps", id, r, &err);
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf("]\n");
	} else {
		printf("%-8s %s\n", "PID", "CMD");
		for (size_t i = 0; i < n; i++)
			print_proc_line(pids[i]);
	}
	return 0;
}

int cmd_features(const struct cli_global *g, int argc, char **argv)
{
	if (want_help(argc, argv, ""))
		return 0;
	if (argc > 1) {
		cli_error("features: takes no arguments");
		return CLI_EXIT_USAGE;
	}
	json_object *doc = json_object_new_object();
	if (!doc || spec_ext_features(doc) < 0) {
		json_object_put(doc);
		cli_error("features: out of memory");
		return CLI_EXIT_FAIL;
	}
	printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return 0;
}
