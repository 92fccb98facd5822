/* SPDX-License-Identifier: MIT */
/*
 * `boxshare serve`: parse the flags (boxshare's own and virtiofsd's spellings), build the fs to export, mount
 * it over /dev/fuse or listen for a vhost-user front end, confine ourselves, serve, and unmount on the way out.
 *
 * Start-up order (each step needs the host view the next one gives up):
 *   parse -> open /proc -> serve_build_fs() -> mount /dev/fuse | vu_listen() -> sandbox_enter()
 *   -> serve_control_start() -> serve until done -> unmount -> exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "proto/proto.h"
#include "transport/devfuse.h"
#include "transport/devfuse-uring.h"
#include "util/log.h"
#include "util/macros.h"
#include "virtio/vu-serve.h"

#define SERVE_MAX_THREADS 256
/* /dev/fuse readers by default. The client wakes the reader that has waited longest, so each extra idle
 * reader makes a synchronous caller's next request land on a thread that must be woken and is cache-cold
 * (one reader is fastest for one synchronous caller); but with one reader a slow request (an fsync of much
 * data) stalls every other process of the sandbox (stress-ng's mix ran 4x longer). Two keep one slow request
 * from stalling the rest at a small cost in latency. Lock waits get threads of their own either way. */
#define SERVE_DEFAULT_THREADS 2
/* vhost-user workers per request queue by default. One thread per queue serves the guest's requests in flight
 * one after another; with two, a 1 MiB READ's copy overlaps the next request's syscalls (the vu-driver bench,
 * 8 requests in flight on one queue: read-1m and write-1m went from 0.93-0.95 of virtiofsd's 64-thread pool to
 * 1.01-1.59; LOOKUP/GETATTR did not lose). Idle pool threads sleep in poll(): a queue the guest never uses
 * costs nothing but their stacks. */
#define SERVE_DEFAULT_VU_POOL 2

static const char usage_text[] =
	"usage: boxshare serve (--source DIR | --share ... | --config FILE) (--mount MNT | --socket-path PATH | --fd N)\n"
	"                      [OPTIONS]\n"
	"\n"
	"Serve host files to a sandbox: over /dev/fuse at a mount point (containers), or as a vhost-user virtio-fs\n"
	"device (microVMs). The server exports only what it was given, confines itself, and exits on SIGINT,\n"
	"SIGTERM or when the mount is unmounted, leaving nothing mounted.\n"
	"\n"
	"What to export:\n"
	"  --source DIR, --shared-dir DIR, -o source=DIR\n"
	"                          export DIR (or one regular file) at the root\n"
	"  --share HOST_DIR:PATH[:ro]   put HOST_DIR at PATH of the share tree (repeatable)\n"
	"  --file HOST_FILE:PATH[:ro]   put one host file at PATH of the share tree (repeatable)\n"
	"  --virtual PATH=...      a virtual entry of the share tree (repeatable; see boxshare-serve(1))\n"
	"  --config FILE           the share tree as a JSON file\n"
	"  --control PATH          a control socket for `boxshare ctl` (add/remove entries at run time)\n"
	"  --readonly              the whole export is read-only\n"
	"\n"
	"Transport (exactly one):\n"
	"  --mount MNT             mount over /dev/fuse at MNT (an existing directory, or file for a file export)\n"
	"  --socket-path PATH      listen for a vhost-user front end (QEMU, cloud-hypervisor) at PATH\n"
	"  --fd N                  serve the vhost-user front end already connected on inherited fd N\n"
	"  --tag TAG               virtio-fs tag reported to the front end (vhost-user only; <= 36 bytes)\n"
	"  --wait-reconnect        vhost-user: after the front end disconnects, wait for the next one\n"
	"  --announce-submounts    vhost-user: let the guest give host submounts their own st_dev\n"
	"  --threads N, --thread-pool-size N\n"
	"                          request threads (/dev/fuse: readers, default 2; vhost-user: workers per\n"
	"                          request queue, default 2; 0 = one thread per queue)\n"
	"\n"
	"Behaviour:\n"
	"  --cache never|auto|always, -o cache=...\n"
	"                          how long the client may cache names, attributes and data (default auto)\n"
	"  --writeback             let the client use its writeback cache (-o writeback)\n"
	"  --passthrough           /dev/fuse: the kernel reads and writes regular files itself (FUSE passthrough,\n"
	"                          Linux 6.9+; -o passthrough). Keeps CAP_SYS_ADMIN in the server's sandbox (the\n"
	"                          kernel demands it; seccomp still refuses mount, unshare...). Not with\n"
	"                          --writeback; ignored for vhost-user (virtio-fs has no backing files)\n"
	"  --io-uring              /dev/fuse: take requests through io_uring, one queue per CPU served by threads\n"
	"                          pinned to it (FUSE over io_uring, Linux 6.14+; -o io_uring). Turns on the fuse\n"
	"                          module's enable_uring parameter if it is off; --threads are divided among the\n"
	"                          CPUs it may run on (at least one each). Without kernel support: a warning,\n"
	"                          and /dev/fuse alone. Ignored for vhost-user\n"
	"  --inode-file-handles never|prefer|mandatory\n"
	"                          keep file handles so idle inodes need no open fd (default never)\n"
	"  --max-fds N             ceiling on inode fds held at once (default: from RLIMIT_NOFILE)\n"
	"  --locks server|client   who holds POSIX (fcntl) and flock locks taken through the share. server (the\n"
	"                          default): the server takes them on the host files, so host processes and\n"
	"                          other mounts see them. client: the client kernel keeps them among its own\n"
	"                          processes, unseen on the host (virtiofsd's default), and most close(2)s then\n"
	"                          cost no FLUSH round trip. -o posix_lock|no_posix_lock|flock|no_flock choose\n"
	"                          for one kind\n"
	"\n"
	"Confinement:\n"
	"  --sandbox namespace|chroot|none   (default namespace)\n"
	"  --seccomp kill|log|none           (default kill)\n"
	"\n"
	"  -o KEY[=VALUE],...      virtiofsd's option list: source=DIR, cache=never|auto|always, writeback,\n"
	"                          no_writeback, xattr, no_xattr (xattrs are served by default),\n"
	"                          announce_submounts, passthrough, no_passthrough, io_uring, no_io_uring,\n"
	"                          posix_lock, no_posix_lock, flock, no_flock\n"
	"\n"
	"Other:\n"
	"  --log-level error|warn|info|debug (default warn)\n"
	"  --syslog                log to syslog instead of stderr\n"
	"  -f, --foreground        accepted for virtiofsd compatibility: the server never daemonizes\n"
	"  --print-capabilities    print the vhost-user backend capabilities as JSON and exit\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 after a clean stop, 1 if serving failed, 2 for bad flags or a missing file or directory.\n";

enum {
	OPT_SOURCE = 256,
	OPT_MOUNT,
	OPT_SOCKET,
	OPT_FD,
	OPT_TAG,
	OPT_CACHE,
	OPT_WRITEBACK,
	OPT_PASSTHROUGH,
	OPT_IO_URING,
	OPT_READONLY,
	OPT_THREADS,
	OPT_HANDLES,
	OPT_MAX_FDS,
	OPT_SUBMOUNTS,
	OPT_SANDBOX,
	OPT_SECCOMP,
	OPT_LOG_LEVEL, OPT_SYSLOG, OPT_FOREGROUND,
	OPT_PRINT_CAPS,
	OPT_WAIT_RECONNECT,
	OPT_SHARE,
	OPT_FILE,
	OPT_VIRTUAL,
	OPT_CONFIG,
	OPT_CONTROL,
	OPT_LOCKS,
};

struct serve_cli {
	struct serve_opts o;
	bool threads_set;
	bool print_caps;
	size_t cap_tree_args;
};

static int parse_uint(const char *flag, const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+') {
		cli_error("%s: '%s' is not a number", flag, s ? s : "");
		return -EINVAL;
	}
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end) {
		cli_error("%s: '%s' is not a number", flag, s);
		return -EINVAL;
	}
	if (v < min || v > max) {
		cli_error("%s: %lu is out of range (%lu..%lu)", flag, v, min, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int add_tree_arg(struct serve_cli *c, const char *flag, const char *value)
{
	if (c->o.n_tree_args == c->cap_tree_args) {
		size_t n = c->cap_tree_args ? c->cap_tree_args * 2 : 8;
		struct serve_tree_arg *a = realloc(c->o.tree_args, n * sizeof(*a));
		if (!a) {
			cli_error("--%s: out of memory", flag);
			return -ENOMEM;
		}
		c->o.tree_args = a;
		c->cap_tree_args = n;
	}
	c->o.tree_args[c->o.n_tree_args++] = (struct serve_tree_arg){ .flag = flag, .value = value };
	return 0;
}

static int set_cache(struct serve_cli *c, const char *flag, const char *v)
{
	if (pt_cache_parse(v, &c->o.pt.cache) < 0) {
		cli_error("%s: '%s' is not one of never, auto, always", flag, v);
		return -EINVAL;
	}
	return 0;
}

/* virtiofsd's legacy -o list. Only keys we honour; anything else is an error, not a silent no-op. */
static int parse_o(struct serve_cli *c, char *list)
{
	/* the switches: KEY sets the flag to on, no_KEY to !on (for the lock keys "on" means server-held) */
	const struct {
		const char *key;
		bool *flag;
		bool on;
	} sw[] = {
		{ "writeback", &c->o.pt.writeback, true },
		{ "xattr", &c->o.pt.xattr, true },
		{ "passthrough", &c->o.passthrough, true },
		{ "io_uring", &c->o.io_uring, true },
		{ "posix_lock", &c->o.local_posix_locks, false },
		{ "flock", &c->o.local_flock, false },
	};
	char *save = NULL;
	for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(k, '=');
		const char *v = eq ? eq + 1 : NULL;
		if (eq)
			*eq = 0;
		bool done = false;
		if (strcmp(k, "source") == 0 && v && *v) {
			c->o.source = v;
			done = true;
		} else if (strcmp(k, "cache") == 0 && v) {
			if (set_cache(c, "-o cache", v) < 0)
				return -EINVAL;
			done = true;
		} else if (strcmp(k, "announce_submounts") == 0 && !v) {
			c->o.pt.announce_submounts = true;
			done = true;
		}
		for (size_t i = 0; i < ARRAY_SIZE(sw) && !done && !v; i++) {
			bool neg = strncmp(k, "no_", 3) == 0;
			if (strcmp(neg ? k + 3 : k, sw[i].key) == 0) {
				*sw[i].flag = neg ? !sw[i].on : sw[i].on;
				done = true;
			}
		}
		if (!done) {
			cli_error("-o: unknown or malformed option '%s%s%s'", k, v ? "=" : "", v ? v : "");
			return -EINVAL;
		}
	}
	return 0;
}

static int parse(struct serve_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "shared-dir", required_argument, NULL, OPT_SOURCE },
		{ "mount", required_argument, NULL, OPT_MOUNT },
		{ "socket-path", required_argument, NULL, OPT_SOCKET },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "cache", required_argument, NULL, OPT_CACHE },
		{ "writeback", no_argument, NULL, OPT_WRITEBACK },
		{ "passthrough", no_argument, NULL, OPT_PASSTHROUGH },
		{ "io-uring", no_argument, NULL, OPT_IO_URING },
		{ "readonly", no_argument, NULL, OPT_READONLY },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "thread-pool-size", required_argument, NULL, OPT_THREADS },
		{ "inode-file-handles", required_argument, NULL, OPT_HANDLES },
		{ "max-fds", required_argument, NULL, OPT_MAX_FDS },
		{ "announce-submounts", no_argument, NULL, OPT_SUBMOUNTS },
		{ "sandbox", required_argument, NULL, OPT_SANDBOX },
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
		{ "wait-reconnect", no_argument, NULL, OPT_WAIT_RECONNECT },
		{ "share", required_argument, NULL, OPT_SHARE },
		{ "file", required_argument, NULL, OPT_FILE },
		{ "virtual", required_argument, NULL, OPT_VIRTUAL },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "locks", required_argument, NULL, OPT_LOCKS },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned long v;
	int ch;
	opterr = 0; /* we word the errors ourselves */
	while ((ch = getopt_long(argc, argv, ":hfo:", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SOURCE:
			c->o.source = optarg;
			break;
		case OPT_MOUNT:
			c->o.mountpoint = optarg;
			break;
		case OPT_SOCKET:
			c->o.socket_path = optarg;
			break;
		case OPT_FD:
			if (parse_uint("--fd", optarg, 0, INT_MAX, &v) < 0)
				return -EINVAL;
			c->o.vu_fd = (int)v;
			break;
		case OPT_TAG:
			if (!*optarg || strlen(optarg) > 36) {
				cli_error("--tag: '%s' must be 1 to 36 bytes", optarg);
				return -EINVAL;
			}
			c->o.tag = optarg;
			break;
		case OPT_CACHE:
			if (set_cache(c, "--cache", optarg) < 0)
				return -EINVAL;
			break;
		case OPT_WRITEBACK:
			c->o.pt.writeback = true;
			break;
		case OPT_PASSTHROUGH:
			c->o.passthrough = true;
			break;
		case OPT_IO_URING:
			c->o.io_uring = true;
			break;
		case OPT_READONLY:
			c->o.readonly = true;
			break;
		case OPT_THREADS:
			if (parse_uint("--threads", optarg, 0, SERVE_MAX_THREADS, &v) < 0)
				return -EINVAL;
			c->o.threads = (unsigned)v;
			c->threads_set = true;
			break;
		case OPT_HANDLES:
			if (pt_handles_parse(optarg, &c->o.pt.handles) < 0) {
				cli_error("--inode-file-handles: '%s' is not one of never, prefer, mandatory", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MAX_FDS:
			if (parse_uint("--max-fds", optarg, 16, 1u << 30, &v) < 0)
				return -EINVAL;
			c->o.pt.max_fds = (unsigned)v;
			break;
		case OPT_SUBMOUNTS:
			c->o.pt.announce_submounts = true;
			break;
		case OPT_LOCKS:
			if (strcmp(optarg, "server") == 0) {
				c->o.local_posix_locks = c->o.local_flock = false;
			} else if (strcmp(optarg, "client") == 0) {
				c->o.local_posix_locks = c->o.local_flock = true;
			} else {
				cli_error("--locks: '%s' is not one of server, client", optarg);
				return -EINVAL;
			}
			break;
		case OPT_SANDBOX:
			if (sandbox_mode_parse(optarg, &c->o.sandbox.mode) < 0) {
				cli_error("--sandbox: '%s' is not one of namespace, chroot, none", optarg);
				return -EINVAL;
			}
			break;
		case OPT_SECCOMP:
			if (sandbox_seccomp_parse(optarg, &c->o.sandbox.seccomp) < 0) {
				cli_error("--seccomp: '%s' is not one of kill, log, none", optarg);
				return -EINVAL;
			}
			break;
		case OPT_LOG_LEVEL: {
			enum log_level l;
			if (log_level_parse(optarg, &l) < 0) {
				cli_error("--log-level: '%s' is not one of error, warn, info, debug", optarg);
				return -EINVAL;
			}
			log_set_level(l);
			break;
		}
		case OPT_SYSLOG: /* virtiofsd's: what kata passes */
			log_use_syslog("boxshare");
			break;
		case 'f': /* virtiofsd's -f: we always run in the foreground */
		case OPT_FOREGROUND:
			break;
		case OPT_PRINT_CAPS:
			c->print_caps = true;
			break;
		case OPT_WAIT_RECONNECT:
			c->o.wait_reconnect = true;
			break;
		case OPT_SHARE:
			if (add_tree_arg(c, "share", optarg) < 0)
				return -ENOMEM;
			break;
		case OPT_FILE:
			if (add_tree_arg(c, "file", optarg) < 0)
				return -ENOMEM;
			break;
		case OPT_VIRTUAL:
			if (add_tree_arg(c, "virtual", optarg) < 0)
				return -ENOMEM;
			break;
		case OPT_CONFIG:
			c->o.config_path = optarg;
			break;
		case OPT_CONTROL:
			c->o.control_path = optarg;
			break;
		case 'o':
			if (parse_o(c, optarg) < 0)
				return -EINVAL;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case ':':
			cli_error("serve: %s needs a value (see 'boxshare serve --help')", argv[optind - 1]);
			return -EINVAL;
		default:
			cli_error("serve: unknown flag '%s' (see 'boxshare serve --help')", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		cli_error("serve: unexpected argument '%s' (see 'boxshare serve --help')", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Flag combinations and paths; the messages name the flag. */
static int check(struct serve_cli *c)
{
	struct serve_opts *o = &c->o;
	int transports = !!o->mountpoint + !!o->socket_path + (o->vu_fd >= 0);
	if (transports != 1) {
		cli_error("serve: give exactly one of --mount, --socket-path, --fd");
		return -EINVAL;
	}
	if (o->passthrough && o->pt.writeback) {
		cli_error("serve: --passthrough and --writeback exclude each other: with the writeback cache the "
			  "kernel turns passthrough off (drop one of them)");
		return -EINVAL;
	}
	if (o->passthrough && !o->mountpoint) {
		/* the vhost-user front end is a VMM: there is no host kernel FUSE connection to give files to */
		fprintf(stderr, "boxshare: serve: note: --passthrough is ignored for vhost-user (virtio-fs has no "
				"backing files)\n");
		o->passthrough = false;
	}
	if (o->io_uring && !o->mountpoint) {
		fprintf(stderr, "boxshare: serve: note: --io-uring is ignored for vhost-user (it is a /dev/fuse "
				"channel)\n");
		o->io_uring = false;
	}
	if (!o->source && o->n_tree_args == 0 && !o->config_path) {
		cli_error("serve: nothing to export: give --source DIR, --share/--file/--virtual or --config FILE");
		return -EINVAL;
	}
	if (o->mountpoint) {
		/* what /dev/fuse cannot do, refused rather than ignored */
		if (o->tag) {
			cli_error("serve: --tag is for vhost-user (--socket-path/--fd), not --mount");
			return -EINVAL;
		}
		if (o->wait_reconnect) {
			cli_error("serve: --wait-reconnect is for vhost-user (--socket-path/--fd), not --mount");
			return -EINVAL;
		}
		if (o->pt.announce_submounts) {
			cli_error("serve: --announce-submounts needs virtio-fs (--socket-path/--fd): the /dev/fuse "
				  "client does not support submounts");
			return -EINVAL;
		}
		if (c->threads_set && o->threads == 0) {
			cli_error("--threads: /dev/fuse needs at least 1 reader thread");
			return -EINVAL;
		}
		struct stat st;
		if (stat(o->mountpoint, &st) < 0) {
			cli_error("--mount %s: %s", o->mountpoint, strerror(errno));
			return -ENOENT;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			cli_error("--mount %s: not a directory or regular file", o->mountpoint);
			return -EINVAL;
		}
	}
	if (o->source) {
		struct stat st;
		if (stat(o->source, &st) < 0) {
			cli_error("--source %s: %s", o->source, strerror(errno));
			return -ENOENT;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			cli_error("--source %s: not a directory or regular file", o->source);
			return -EINVAL;
		}
	}
	return 0;
}

static void print_capabilities(void)
{
	/* the vhost-user backend program conventions (qemu docs/interop/vhost-user.rst, "Backend program
	 * conventions"): virtiofsd's flag spellings are accepted as separate options; no migration yet */
	printf("{\n  \"type\": \"fs\",\n  \"features\": [\n    \"separate-options\"\n  ]\n}\n");
}

/* ---- serving ---- */

struct unmount_ctx {
	const char *mountpoint;
	bool done;
};

static void unmount_cb(void *data)
{
	struct unmount_ctx *u = data;
	if (u->done)
		return;
	int r = devfuse_unmount(u->mountpoint);
	if (r < 0)
		log_warn("unmount %s: %s", u->mountpoint, strerror(-r));
	else
		u->done = true;
}

/* What the confined server cannot do for itself once it exits: run by the supervisor sandbox_enter() leaves
 * outside (see sandbox.h). */
static void supervisor_cleanup(void *data)
{
	struct unmount_ctx *u = data;
	if (u->mountpoint)
		unmount_cb(u);
	serve_control_cleanup();
}

/* Between the mount and devfuse_run(), a stop signal is remembered instead of killing us with the mount in
 * place; devfuse_run() takes over with a signalfd. */
static volatile sig_atomic_t early_signal;

static void remember_signal(int sig)
{
	early_signal = sig;
}

static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = remember_signal, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void block_stop_signals(void)
{
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGINT);
	sigaddset(&m, SIGTERM);
	sigaddset(&m, SIGHUP);
	sigprocmask(SIG_BLOCK, &m, NULL);
}

struct vu_ctx {
	struct fs *fs;
	struct proto_opts popts;
};

/* vhost-user: a stop signal ends serving as a front-end hang-up would (exit 0). The signals are blocked in
 * every thread and taken here, so no request thread is interrupted by them. */
static void *vu_signal_thread(void *data)
{
	const sigset_t *set = data;
	int sig;
	while (sigwait(set, &sig) != 0)
		;
	log_info("serve: %s: stopping", strsignal(sig));
	vu_serve_stop();
	return NULL;
}

static int make_vu_session(void *data, struct proto_session **ret)
{
	struct vu_ctx *v = data;
	return proto_session_new(v->fs, &v->popts, NULL, ret);
}

static int exit_for(int r)
{
	return (r == -EINVAL || r == -ENOENT || r == -ENOTDIR) ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

static int serve(struct serve_cli *c)
{
	struct serve_opts *o = &c->o;
	int r;
	/* From the start a stop signal is remembered, not fatal (sockets and mounts appear below, and whoever
	 * watches them may signal us at once); the sandbox's supervisor forwards only the signals we catch. */
	catch_stop_signals();
	_cleanup_close_ int proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0) {
		cli_error("open /proc: %s (the server reopens files through it)", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	/* size the fd ceiling from the limit we will really have */
	uint64_t soft = 0;
	(void)sandbox_nofile_raise(UINT64_MAX, &soft);
	o->sandbox.nofile = soft;

	struct fs_inomap *map = fs_inomap_new();
	if (!map) {
		cli_error("serve: out of memory");
		return CLI_EXIT_FAIL;
	}
	struct fs *fs = NULL;
	char *err = NULL;
	r = serve_build_fs(o, proc_fd, map, &fs, &err);
	if (r < 0) {
		cli_error("%s", err ? err : strerror(-r));
		free(err);
		fs_inomap_unref(map);
		return exit_for(r);
	}

	struct proto_opts popts = {
		.max_write = PROTO_DEFAULT_MAX_WRITE,
		.writeback = o->pt.writeback,
		.announce_submounts = o->pt.announce_submounts,
		.passthrough = o->passthrough,
		.io_uring = o->io_uring,
		.local_posix_locks = o->local_posix_locks,
		.local_flock = o->local_flock,
		.virtio = !o->mountpoint,
	};
	struct devfuse *d = NULL;
	int vu_fd = -1;
	struct unmount_ctx um = { .mountpoint = o->mountpoint };
	int status = CLI_EXIT_FAIL;

	if (o->mountpoint) {
		struct stat st = { .st_mode = S_IFDIR | 0755 };
		if (o->source)
			(void)stat(o->source, &st);
		struct devfuse_mount_opts mo = {
			.mountpoint = o->mountpoint,
			.source = "boxshare",
			.subtype = "boxshare",
			.rootmode = st.st_mode & (S_IFMT | 07777),
			.user_id = getuid(),
			.group_id = getgid(),
			.allow_other = true,
			.default_permissions = true,
			.readonly = o->readonly,
			.nosuid_nodev = true,
		};
		if (popts.io_uring && (r = devfuse_uring_enable()) < 0) {
			/* the kernel offers io_uring at INIT only with the parameter on: before the mount */
			log_warn("serve: --io-uring: cannot turn on the fuse module's enable_uring (%s); serving "
				 "over /dev/fuse alone",
				 r == -ENOENT ? "this kernel has no FUSE over io_uring" : strerror(-r));
			popts.io_uring = false;
		}
		int fd;
		const char *step = NULL;
		r = devfuse_mount(&mo, &fd, &step);
		if (r < 0) {
			cli_error("mount boxshare on %s: %s: %s", o->mountpoint, step ? step : "mount", strerror(-r));
			goto out;
		}
		unsigned threads = o->threads ? o->threads : SERVE_DEFAULT_THREADS;
		r = devfuse_new(fd, threads, &d);
		if (r < 0) {
			cli_error("serve %s: preparing the readers: %s", o->mountpoint, strerror(-r));
			unmount_cb(&um);
			goto out;
		}
		/* the rings before the sandbox: its seccomp filter has no io_uring_setup */
		if (popts.io_uring && (r = devfuse_uring_prepare(d, threads)) < 0) {
			log_warn("serve: --io-uring: cannot set up io_uring (%s); serving over /dev/fuse alone",
				 strerror(-r));
			popts.io_uring = false;
		}
	} else if (o->socket_path) {
		r = vu_listen(o->socket_path, &vu_fd);
		if (r < 0) {
			cli_error("--socket-path %s: listen: %s", o->socket_path, strerror(-r));
			goto out;
		}
	} else {
		vu_fd = o->vu_fd;
		if (fcntl(vu_fd, F_SETFD, FD_CLOEXEC) < 0) {
			cli_error("--fd %d: %s", vu_fd, strerror(errno));
			vu_fd = -1;
			status = CLI_EXIT_USAGE;
			goto out;
		}
	}

	if (o->mountpoint || o->control_path) {
		o->sandbox.supervisor_cleanup = supervisor_cleanup;
		o->sandbox.data = &um;
	}
	o->sandbox.keep_chown = !o->readonly;
	/* Without file handles the server needs no CAP_DAC_READ_SEARCH, which would let a hijacked server forge a
	 * handle for any inode of the share's file system (see sandbox.h). */
	o->sandbox.no_file_handles = o->pt.handles == PT_HANDLES_NEVER;
	o->sandbox.keep_sys_admin = o->passthrough;
	/* the fds we may hold: the inode fd ceiling and some open files, or the whole limit (sandbox.h) */
	uint64_t fds = o->pt.max_fds ? (uint64_t)o->pt.max_fds + 1024 : o->sandbox.nofile;
	o->sandbox.fdtable = (unsigned)MIN(fds, (uint64_t)SANDBOX_FDTABLE_PRESIZE_MAX);
	r = sandbox_enter(&o->sandbox);
	if (r < 0) {
		cli_error("serve: entering the sandbox: %s (try --sandbox chroot or none where namespaces are not "
			  "allowed)",
			  strerror(-r));
		if (d)
			unmount_cb(&um);
		goto out;
	}
	/* From here on we run confined, without the privilege to unmount: the supervisor sandbox_enter() left
	 * outside does it (supervisor_cleanup) once we exit, and closing /dev/fuse on exit aborts the
	 * connection first, so even a busy mount point is released. */
	um.done = true;
	/* Block the stop signals before any thread starts (the control thread, the readers, the queue threads):
	 * each mode then takes them in one place (devfuse's signalfd, the vhost-user signal thread), and no
	 * other thread's handler swallows them. */
	block_stop_signals();
	r = serve_control_start(&err);
	if (r < 0) {
		cli_error("--control %s: %s", o->control_path ? o->control_path : "", err ? err : strerror(-r));
		free(err);
		if (d)
			unmount_cb(&um);
		goto out;
	}

	if (d) {
		if (early_signal) {
			log_info("serve: %s before serving began: unmounting", strsignal(early_signal));
			unmount_cb(&um);
			status = 0;
			goto out;
		}
		struct proto_transport t;
		struct proto_session *s;
		devfuse_transport(d, &t);
		r = proto_session_new(fs, &popts, &t, &s);
		if (r < 0) {
			cli_error("serve: %s", strerror(-r));
			unmount_cb(&um);
			goto out;
		}
		fs = NULL; /* the session owns it */
		int sig = 0;
		r = devfuse_run(d, s, NULL, NULL, &sig);
		if (devfuse_stuck(d)) {
			/* a request thread still uses the session: leave everything to the process exit */
			log_warn("serve: %s: a request did not stop; exiting with it", o->mountpoint);
			fflush(NULL);
			_exit(r < 0 ? CLI_EXIT_FAIL : 0);
		}
		/* after the client is gone: release what it held, then the mount point */
		proto_session_free(s);
		unmount_cb(&um);
		if (r < 0) {
			cli_error("serve %s: /dev/fuse: %s", o->mountpoint, strerror(-r));
			goto out;
		}
		log_info("serve: %s stopped%s%s", o->mountpoint, sig ? " on " : "", sig ? strsignal(sig) : "");
		status = 0;
	} else {
		struct vu_ctx v = { .fs = fs, .popts = popts };
		v.popts.borrow_fs = true;
		struct vu_serve_opts vo = {
			/* Offer up to 16 request queues: a queue costs a thread only once the front end enables
			 * it, and QEMU refuses a num-request-queues above what we offer. */
			.nqueues = 16,
			.thread_pool = c->threads_set ? o->threads : SERVE_DEFAULT_VU_POOL,
			.wait_reconnect = o->wait_reconnect,
			.tag = o->tag,
		};
		if (early_signal) {
			status = 0;
			goto out;
		}
		static sigset_t stop_set;
		sigemptyset(&stop_set);
		sigaddset(&stop_set, SIGINT);
		sigaddset(&stop_set, SIGTERM);
		sigaddset(&stop_set, SIGHUP);
		pthread_t sig_thread;
		r = -pthread_create(&sig_thread, NULL, vu_signal_thread, &stop_set);
		if (r < 0) {
			cli_error("serve: starting the signal thread: %s", strerror(-r));
			goto out;
		}
		pthread_detach(sig_thread);
		r = vu_serve(vu_fd, &vo, make_vu_session, &v);
		if (r < 0) {
			cli_error("serve: vhost-user: %s", strerror(-r));
			goto out;
		}
		status = 0;
	}
out:
	serve_control_cleanup();
	devfuse_free(d);
	safe_close(vu_fd);
	fs_free(fs);
	fs_inomap_unref(map);
	return status;
}

int cmd_serve(const struct cli_global *g, int argc, char **argv)
{
	struct serve_cli c = { 0 };
	c.o.vu_fd = -1;
	c.o.threads = 0;
	pt_opts_default(&c.o.pt);
	c.o.sandbox.mode = SANDBOX_NAMESPACE;
	c.o.sandbox.seccomp = SANDBOX_SECCOMP_KILL;
	if (g && g->debug)
		log_set_level(LOG_LVL_DEBUG);

	int r = parse(&c, argc, argv);
	if (r == 1) { /* --help */
		free(c.o.tree_args);
		return 0;
	}
	if (r < 0) {
		free(c.o.tree_args);
		return CLI_EXIT_USAGE;
	}
	if (c.print_caps) {
		print_capabilities();
		free(c.o.tree_args);
		return 0;
	}
	r = check(&c);
	if (r < 0) {
		free(c.o.tree_args);
		return CLI_EXIT_USAGE;
	}
	int status = serve(&c);
	free(c.o.tree_args);
	return status;
}
