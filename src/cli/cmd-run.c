/* SPDX-License-Identifier: MIT */
/*
 * boxshare run [--bundle DIR] [--legacy-mount] ID: create and start a container from an OCI bundle in the
 * foreground, forward signals to it, and exit with its status (128+signal when it was killed); with
 * process.terminal, relay the container's pty to boxshare's stdin and stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boxshare/mount.h"
#include "cli/cli.h"
#include "oci/spec.h"
#include "runtime/container.h"
#include "runtime/lifecycle.h"
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
		"its own mount namespace and vanish with it. With process.terminal, the process gets a pty of its\n"
		"own, relayed to boxshare's stdin and stdout (a terminal stdin is raw meanwhile).\n"
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

/* The container's terminal (process.terminal), relayed as crun run does in the foreground: our stdin goes to
 * the pty master, the master's output to our stdout; our terminal, if stdin is one, is raw meanwhile, so
 * ^C, ^Z and line editing are the container's; its size follows ours (SIGWINCH). */
struct relay {
	int pty;               /* the master, non-blocking; -1 once the container side is closed */
	bool in_open;          /* stdin not at EOF yet */
	char buf[4096];        /* stdin bytes the pty did not take yet */
	size_t len, off;
	bool raw;              /* our terminal was made raw: restore at the end */
	struct termios saved;
};

static void relay_winsize(const struct relay *t)
{
	struct winsize ws;
	if (t->pty >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(t->pty, TIOCSWINSZ, &ws);
}

static int relay_open(struct relay *t, int pty, const char *id)
{
	t->pty = pty;
	t->in_open = true;
	int fl = fcntl(pty, F_GETFL);
	if (fl < 0 || fcntl(pty, F_SETFL, fl | O_NONBLOCK) < 0) {
		cli_error("run %s: process.terminal: the container's pty: fcntl: %s", id, strerror(errno));
		return -errno;
	}
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		struct termios raw = t->saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
			cli_error("run %s: process.terminal: make the terminal raw: %s", id, strerror(errno));
			return -errno;
		}
		t->raw = true;
		relay_winsize(t);
	}
	return 0;
}

static void relay_close(struct relay *t)
{
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	t->raw = false;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Container output to stdout, until the pty has nothing more now. EIO: no process holds its peer. */
static void relay_out(struct relay *t)
{
	char b[8192];
	for (;;) {
		ssize_t n = read(t->pty, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && write_all(STDOUT_FILENO, b, (size_t)n) == 0)
			continue;
		if (n == 0 || (n < 0 && errno != EAGAIN))
			t->pty = -1; /* the fd itself stays with the container object */
		return;
	}
}

/* After the process exited: what it wrote may still be on its way through the pty (the line discipline
 * hands it over from a work queue), so read until the pty says no process holds it any more (EIO), or it
 * stays quiet for a moment (something outside a pid namespace may still hold it). */
static void relay_drain(struct relay *t)
{
	while (t->pty >= 0) {
		struct pollfd q = { .fd = t->pty, .events = POLLIN };
		int n = poll(&q, 1, 200);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		relay_out(t);
	}
}

/* stdin to the pty; what the pty cannot take now waits in buf (and stdin is not read meanwhile). */
static void relay_in(struct relay *t, bool readable)
{
	if (readable && t->len == 0) {
		ssize_t n = read(STDIN_FILENO, t->buf, sizeof(t->buf));
		if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
			t->in_open = false;
		if (n > 0)
			t->len = (size_t)n, t->off = 0;
	}
	while (t->len && t->pty >= 0) {
		ssize_t w = write(t->pty, t->buf + t->off, t->len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			if (errno != EAGAIN)
				t->len = 0;
			return;
		}
		t->off += (size_t)w;
		t->len -= (size_t)w;
	}
}

static int wait_forwarding(struct container *c, int sfd, struct relay *t, int *ret_status)
{
	for (;;) {
		struct pollfd p[4] = { { .fd = sfd, .events = POLLIN }, { .fd = container_pidfd(c), .events = POLLIN },
				       { .fd = -1 }, { .fd = -1 } };
		if (t && t->pty >= 0) {
			p[2] = (struct pollfd){ .fd = t->pty, .events = POLLIN | (t->len ? POLLOUT : 0) };
			if (t->in_open && !t->len)
				p[3] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		}
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				/* the pty tells the container's foreground process group itself */
				if (t && t->pty >= 0 && si.ssi_signo == SIGWINCH)
					relay_winsize(t);
				else
					kill(container_pid(c), (int)si.ssi_signo);
			}
		}
		if (p[2].revents)
			relay_out(t);
		if (t && (p[3].revents || (p[2].revents & POLLOUT)))
			relay_in(t, p[3].revents != 0);
		if (p[1].revents & (POLLIN | POLLHUP)) {
			if (t)
				relay_drain(t); /* what the process wrote before it exited */
			return container_wait(c, ret_status);
		}
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

	/* What else of config.json the runtime honours (capabilities, rlimits, seccomp...) is the lifecycle's:
	 * checked as create checks it, and armed for the init, which applies it right before exec. */
	struct lc_run_ctx *rctx = NULL;
	struct rt_err rerr = { "" };
	r = lc_run_prepare(spec, &rctx, &rerr);
	if (r < 0) {
		cli_error("run %s: bundle %s: %s", id, bundle, rerr.msg[0] ? rerr.msg : strerror(-r));
		oci_spec_free(spec);
		return r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
	}

	/* Forwarded signals are taken through a signalfd from now on; the container's init unblocks them. */
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		cli_error("run %s: signalfd: %s", id, strerror(errno));
		lc_run_free(rctx);
		oci_spec_free(spec);
		return CLI_EXIT_FAIL;
	}

	struct container_opts copts = {
		.bundle_fd = bfd, .mount_flags = legacy ? BXM_LEGACY : 0, .exec_fifo_fd = -1,
		.terminal = spec->process.terminal,
	};
	struct relay tty = { .pty = -1 };
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
	if (spec->process.terminal && relay_open(&tty, container_pty(ct), id) < 0) {
		code = CLI_EXIT_FAIL;
		kill(container_pid(ct), SIGKILL);
		container_wait(ct, &status);
		goto out;
	}
	r = container_start(ct, &ce);
	if (r < 0) {
		cli_error("run %s: %s", id, container_error_format(&ce, msg, sizeof(msg)));
		container_wait(ct, &status);
		code = CLI_EXIT_FAIL;
		goto out;
	}
	r = wait_forwarding(ct, sfd, spec->process.terminal ? &tty : NULL, &status);
	if (r < 0) {
		cli_error("run %s: waiting for the container: %s", id, strerror(-r));
		code = CLI_EXIT_FAIL;
		goto out;
	}
	code = container_exit_code(status);
	log_debug("run %s: exited with %d", id, code);
out:
	relay_close(&tty);
	container_free(ct);
	lc_run_free(rctx);
	oci_spec_free(spec);
	sigprocmask(SIG_SETMASK, &old, NULL);
	(void)g;
	return code;
}
