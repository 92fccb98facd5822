/* SPDX-License-Identifier: MIT */
/*
 * boxshare run [--bundle DIR] [--legacy-mount] ID: create and start a container from an OCI bundle in the
 * foreground, forward signals to it, and exit with its status (128+signal when it was killed).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boxshare/mount.h"
#include "cli/cli.h"
#include "oci/spec.h"
#include "runtime/container.h"
#include "util/log.h"
#include "util/macros.h"

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: boxshare run [--bundle DIR] [--legacy-mount] ID\n"
		"\n"
		"Create and start the container ID from the OCI bundle in DIR (its config.json and root), in the\n"
		"foreground: signals sent to boxshare are forwarded to the container's process, and boxshare exits\n"
		"with that process's status (128+N when it was killed by signal N). The container's mounts live in\n"
		"its own mount namespace and vanish with it.\n"
		"\n"
		"Options:\n"
		"  -b, --bundle DIR     the bundle directory (default: the current directory)\n"
		"      --legacy-mount   set up mounts with mount(2) instead of the new mount API (fsopen,\n"
		"                       open_tree, move_mount, mount_setattr); also BOXSHARE_LEGACY_MOUNT=1\n"
		"  -h, --help           this text\n"
		"\n"
		"Exit status: the container's, or 1 when it could not be set up, 2 for bad usage or a bad config.json.\n");
}

/* Container ids as runc accepts them: they end up in paths and messages. */
static bool id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.") == n;
}

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };

static int wait_forwarding(struct container *c, int sfd, int *ret_status)
{
	struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = container_pidfd(c), .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				kill(container_pid(c), (int)si.ssi_signo);
		}
		if (p[1].revents & (POLLIN | POLLHUP))
			return container_wait(c, ret_status);
	}
}

int cmd_run(const struct cli_global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "legacy-mount", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *bundle = ".";
	const char *env = getenv("BOXSHARE_LEGACY_MOUNT");
	bool legacy = env && *env && strcmp(env, "0") != 0;
	int c;
	while ((c = getopt_long(argc, argv, "+b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bundle = optarg;
			break;
		case 'L':
			legacy = true;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_error("run: %s (see 'boxshare run --help')",
			  optind >= argc ? "missing the container ID" : "too many arguments");
		return CLI_EXIT_USAGE;
	}
	const char *id = argv[optind];
	if (!id_valid(id)) {
		cli_error("run: container ID '%.64s' is not valid: use 1-1024 of [A-Za-z0-9_+-.]", id);
		return CLI_EXIT_USAGE;
	}

	_cleanup_close_ int bfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		cli_error("run %s: open bundle %s: %s", id, bundle, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	struct oci_spec *spec = NULL;
	char err[512];
	int r = oci_spec_load(bfd, &spec, err, sizeof(err));
	if (r < 0) {
		cli_error("run %s: bundle %s: %s", id, bundle, err[0] ? err : strerror(-r));
		return r == -ENOMEM || r == -EIO ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
	}

	if (spec->process.terminal)
		cli_error("run %s: warning: process.terminal is set, but run allocates no pty: the container uses "
			  "boxshare's own stdin, stdout and stderr", id);

	/* Forwarded signals are taken through a signalfd from now on; the container's init unblocks them. */
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		cli_error("run %s: signalfd: %s", id, strerror(errno));
		oci_spec_free(spec);
		return CLI_EXIT_FAIL;
	}

	struct container_opts copts = {
		.bundle_fd = bfd, .mount_flags = legacy ? BXM_LEGACY : 0, .exec_fifo_fd = -1,
	};
	struct container_error ce;
	struct container *ct = NULL;
	char msg[1024];
	int status = 0, code;
	r = container_create(spec, &copts, &ct, &ce);
	if (r < 0) {
		cli_error("run %s: %s", id, container_error_format(&ce, msg, sizeof(msg)));
		code = strcmp(ce.stage, "config") == 0 ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
		goto out;
	}
	r = container_start(ct, &ce);
	if (r < 0) {
		cli_error("run %s: %s", id, container_error_format(&ce, msg, sizeof(msg)));
		container_wait(ct, &status);
		code = CLI_EXIT_FAIL;
		goto out;
	}
	r = wait_forwarding(ct, sfd, &status);
	if (r < 0) {
		cli_error("run %s: waiting for the container: %s", id, strerror(-r));
		code = CLI_EXIT_FAIL;
		goto out;
	}
	code = container_exit_code(status);
	log_debug("run %s: exited with %d", id, code);
out:
	container_free(ct);
	oci_spec_free(spec);
	sigprocmask(SIG_SETMASK, &old, NULL);
	(void)g;
	return code;
}
