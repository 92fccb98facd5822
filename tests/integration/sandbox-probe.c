/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for `boxshare serve` in the sandbox tests: it holds what the server holds (a share directory fd,
 * a /proc fd), calls sandbox_enter() and then reports, action by action, what it can and cannot do from inside.
 *
 *   sandbox-probe [--sandbox M] [--seccomp S] [--ro] [--no-handles] [--nofile N] [--marker PATH]
 *                 [--handle-term] --share DIR ACTION...
 *   sandbox-probe mount-in PID PATH      (the test's helper: mount a tmpfs at PATH in PID's mount namespace)
 *   sandbox-probe sanitizer              (prints 1 in a sanitizer build)
 *
 * Actions (each prints one line "ACTION: result" on stdout):
 *   root             the names in "/"
 *   host PATH        open a host path
 *   dotdot           can ".." from the share fd reach the host's files?
 *   read NAME        read a file through the share fd
 *   create NAME      create a file through the share fd
 *   handle           name_to_handle_at + open_by_handle_at of the share's root
 *   fsroot-handle    open_by_handle_at of a forged handle of an ext4 file system's root (inode 2,
 *                    generation 0), the "shocker" escape from a bind mount
 *   reopen NAME      reopen it through the held /proc fd as "self/fd/N"
 *   caps             Cap*, NoNewPrivs and Seccomp of self/status
 *   ns               our pid, and our pid/net/mnt/ipc/cgroup namespaces
 *   proc             the pid directories and other entries of the held /proc
 *   procpid PID      is PID visible in the held /proc?
 *   nofile           the RLIMIT_NOFILE limits
 *   wait NAME SECS   wait until NAME exists in the share
 *   ready            a line the test waits for
 *   pause            sleep until a signal
 *   forbid SYSCALL   call mount|socket|execve|ptrace|unshare|io_uring_setup
 *   leak             malloc and forget 4242 bytes (to see by hand that LeakSanitizer works inside)
 *   exit N           exit with status N
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/sb-seccomp.h"
#include "util/macros.h"

static int share_fd = -1, proc_fd = -1;

static void out(const char *fmt, ...) _printf_(1, 2);
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void on_term(int sig)
{
	_exit(42);
}

static void write_marker(void *data)
{
	const char *path = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, "cleanup\n", 8);
		close(fd);
	}
}

static void act_root(void)
{
	_cleanup_closedir_ DIR *d = opendir("/");
	if (!d) {
		out("root: error %s", strerror(errno));
		return;
	}
	char names[1024] = "";
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			strncat(names, " ", sizeof(names) - strlen(names) - 1);
			strncat(names, de->d_name, sizeof(names) - strlen(names) - 1);
		}
	out("root:%s", names[0] ? names : " (empty)");
}

static void act_host(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	out("host %s: %s", path, fd >= 0 ? "opened" : strerror(errno));
	safe_close(fd);
}

/* Can ".." from the share fd reach the host's /etc/passwd (at any depth the share may have)? */
static void act_dotdot(void)
{
	char path[64] = "";
	for (int depth = 1; depth <= 12; depth++) {
		strcat(path, "../");
		char p[80];
		snprintf(p, sizeof(p), "%setc/passwd", path);
		int fd = openat(share_fd, p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			out("dotdot: escapes (%s)", p);
			return;
		}
	}
	out("dotdot: contained");
}

static void read_fd(const char *what, int fd)
{
	char buf[256];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		out("%s: error %s", what, strerror(errno));
		return;
	}
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = 0;
	out("%s: %s", what, buf);
}

static void act_read(const char *name)
{
	_cleanup_close_ int fd = openat(share_fd, name, O_RDONLY | O_CLOEXEC);
	char what[300];
	snprintf(what, sizeof(what), "read %s", name);
	read_fd(what, fd);
}

static void act_create(const char *name)
{
	_cleanup_close_ int fd = openat(share_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	out("create %s: %s", name, fd >= 0 ? "ok" : strerror(errno));
}

static void act_handle(void)
{
	union {
		struct file_handle h;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} u = { .h.handle_bytes = MAX_HANDLE_SZ };
	int mnt;
	if (name_to_handle_at(share_fd, "", &u.h, &mnt, AT_EMPTY_PATH) < 0) {
		out("handle: name_to_handle_at: %s", strerror(errno));
		return;
	}
	/* the mount fd may not be an O_PATH one */
	_cleanup_close_ int mfd = openat(share_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = open_by_handle_at(mfd, &u.h, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out("handle: %s", fd >= 0 ? "opened" : strerror(errno));
}

static void act_fsroot_handle(void)
{
	union {
		struct file_handle h;
		char buf[sizeof(struct file_handle) + 8];
	} u = { .h.handle_bytes = 8, .h.handle_type = 1 /* FILEID_INO32_GEN */ };
	const uint32_t ino_gen[2] = { 2, 0 };
	memcpy(u.h.f_handle, ino_gen, sizeof(ino_gen));
	_cleanup_close_ int mfd = openat(share_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = open_by_handle_at(mfd, &u.h, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out("fsroot-handle: %s", fd >= 0 ? "OPENED" : "refused");
}

static void act_reopen(const char *name)
{
	char what[300], path[64];
	snprintf(what, sizeof(what), "reopen %s", name);
	_cleanup_close_ int p = openat(share_fd, name, O_PATH | O_CLOEXEC);
	if (p < 0) {
		out("%s: error %s", what, strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "self/fd/%d", p);
	_cleanup_close_ int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	read_fd(what, fd);
}

static void act_caps(void)
{
	_cleanup_close_ int fd = openat(proc_fd, "self/status", O_RDONLY | O_CLOEXEC);
	_cleanup_fclose_ FILE *f = fd >= 0 ? fdopen(TAKE_FD(fd), "r") : NULL;
	char line[256];
	if (!f) {
		out("caps: error %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Seccomp:", 8)) {
			char *tab = strchr(line, '\t');
			line[strcspn(line, "\n")] = 0;
			if (tab)
				*tab = ' ';
			out("caps %s", line);
		}
}

static void act_ns(void)
{
	static const char *const kinds[] = { "pid", "net", "mnt", "ipc", "cgroup" };
	out("ns pid: %d", (int)getpid());
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		char path[32], link[64];
		snprintf(path, sizeof(path), "self/ns/%s", kinds[i]);
		ssize_t n = readlinkat(proc_fd, path, link, sizeof(link) - 1);
		link[n < 0 ? 0 : n] = 0;
		out("ns %s: %s", kinds[i], n < 0 ? strerror(errno) : link);
	}
}

static void act_proc(void)
{
	_cleanup_close_ int fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(TAKE_FD(fd)) : NULL;
	int pids = 0, other = 0;
	struct dirent *de;
	if (!d) {
		out("proc: error %s", strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			pids++;
		else if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "self") &&
			 strcmp(de->d_name, "thread-self"))
			other++;
	}
	out("proc: %d pids, %d other", pids, other);
}

static void act_wait(const char *name, int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		struct stat st;
		if (fstatat(share_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			out("wait %s: seen", name);
			return;
		}
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	out("wait %s: timeout", name);
}

static void act_forbid(const char *what)
{
	long r = -1;
	if (!strcmp(what, "mount"))
		r = mount("none", "/", "tmpfs", 0, NULL);
	else if (!strcmp(what, "socket"))
		r = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	else if (!strcmp(what, "execve")) {
		char *argv[] = { "/bin/true", NULL };
		r = execve("/bin/true", argv, (char *[]){ NULL });
	} else if (!strcmp(what, "ptrace"))
		r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	else if (!strcmp(what, "unshare"))
		r = unshare(CLONE_NEWNS);
	else if (!strcmp(what, "io_uring_setup")) {
		/* a new ring's operations would bypass the filter: the server's rings are made before it */
		uint8_t params[120] = { 0 }; /* struct io_uring_params */
		r = syscall(SYS_io_uring_setup, 4, params);
	} else {
		out("forbid %s: unknown", what);
		return;
	}
	out("forbid %s: returned %ld (%s)", what, r, r < 0 ? strerror(errno) : "ok");
}

/* The test's helper: in PID's mount namespace (root = its namespace root), mount a tmpfs at PATH and leave a
 * file "inside" in it. Run from the host. */
static int mount_in(const char *pid, const char *path)
{
	char ns[64];
	snprintf(ns, sizeof(ns), "/proc/%s/ns/mnt", pid);
	_cleanup_close_ int fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNS) < 0) {
		fprintf(stderr, "mount-in: %s: %s\n", ns, strerror(errno));
		return 1;
	}
	if (mount("bxsbx-inside", path, "tmpfs", 0, "size=16k") < 0) {
		fprintf(stderr, "mount-in: mount tmpfs on %s: %s\n", path, strerror(errno));
		return 1;
	}
	char file[4096];
	snprintf(file, sizeof(file), "%s/inside", path);
	int f = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0) {
		fprintf(stderr, "mount-in: create %s: %s\n", file, strerror(errno));
		return 1;
	}
	close(f);
	/* _exit: this namespace has no /proc for a sanitizer's leak check to read */
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "sanitizer")) {
		printf("%d\n", sb_seccomp_sanitizer_build());
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "mount-in"))
		return mount_in(argv[2], argv[3]);

	struct sandbox_opts o = { .mode = SANDBOX_NAMESPACE, .seccomp = SANDBOX_SECCOMP_KILL, .keep_chown = true };
	const char *share = NULL;
	enum { O_SANDBOX = 256, O_SECCOMP, O_RO, O_NO_HANDLES, O_NOFILE, O_MARKER, O_HANDLE_TERM, O_SHARE };
	static const struct option opts[] = {
		{ "sandbox", required_argument, NULL, O_SANDBOX }, { "seccomp", required_argument, NULL, O_SECCOMP },
		{ "ro", no_argument, NULL, O_RO },                 { "nofile", required_argument, NULL, O_NOFILE },
		{ "marker", required_argument, NULL, O_MARKER },   { "handle-term", no_argument, NULL, O_HANDLE_TERM },
		{ "share", required_argument, NULL, O_SHARE },     { "no-handles", no_argument, NULL, O_NO_HANDLES },
		{}
	};
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case O_SANDBOX:
			if (sandbox_mode_parse(optarg, &o.mode) < 0)
				return fprintf(stderr, "probe: bad --sandbox %s\n", optarg), 2;
			break;
		case O_SECCOMP:
			if (sandbox_seccomp_parse(optarg, &o.seccomp) < 0)
				return fprintf(stderr, "probe: bad --seccomp %s\n", optarg), 2;
			break;
		case O_RO:
			o.keep_chown = false;
			break;
		case O_NO_HANDLES:
			o.no_file_handles = true;
			break;
		case O_NOFILE:
			o.nofile = strtoull(optarg, NULL, 10);
			break;
		case O_MARKER:
			o.supervisor_cleanup = write_marker;
			o.data = optarg;
			break;
		case O_HANDLE_TERM:
			signal(SIGTERM, on_term);
			break;
		case O_SHARE:
			share = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!share)
		return fprintf(stderr, "probe: --share DIR is required\n"), 2;

	/* what the server holds before confinement */
	share_fd = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (share_fd < 0 || proc_fd < 0)
		return fprintf(stderr, "probe: open %s or /proc: %s\n", share, strerror(errno)), 1;

	int r = sandbox_enter(&o);
	if (r < 0) {
		fprintf(stderr, "probe: sandbox_enter: %s\n", strerror(-r));
		return 1;
	}
	out("sharefd: %d", share_fd);

	for (int i = optind; i < argc; i++) {
		const char *a = argv[i];
		const char *arg = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(a, "root"))
			act_root();
		else if (!strcmp(a, "host"))
			act_host(arg), i++;
		else if (!strcmp(a, "dotdot"))
			act_dotdot();
		else if (!strcmp(a, "read"))
			act_read(arg), i++;
		else if (!strcmp(a, "create"))
			act_create(arg), i++;
		else if (!strcmp(a, "handle"))
			act_handle();
		else if (!strcmp(a, "fsroot-handle"))
			act_fsroot_handle();
		else if (!strcmp(a, "reopen"))
			act_reopen(arg), i++;
		else if (!strcmp(a, "caps"))
			act_caps();
		else if (!strcmp(a, "ns"))
			act_ns();
		else if (!strcmp(a, "proc"))
			act_proc();
		else if (!strcmp(a, "procpid")) {
			char path[64];
			snprintf(path, sizeof(path), "%s/status", arg);
			int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
			out("procpid %s: %s", arg, fd >= 0 ? "visible" : strerror(errno));
			safe_close(fd);
			i++;
		}
		else if (!strcmp(a, "nofile")) {
			struct rlimit rl;
			getrlimit(RLIMIT_NOFILE, &rl);
			out("nofile: %llu %llu", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
		} else if (!strcmp(a, "wait") && i + 2 < argc) {
			act_wait(arg, atoi(argv[i + 2]));
			i += 2;
		} else if (!strcmp(a, "ready"))
			out("ready");
		else if (!strcmp(a, "pause"))
			for (;;)
				nanosleep(&(struct timespec){ 1, 0 }, NULL);
		else if (!strcmp(a, "forbid"))
			act_forbid(arg), i++;
		else if (!strcmp(a, "leak")) {
			/* for checking by hand that LeakSanitizer still works inside the sandbox */
			void *volatile p = malloc(4242);
			out("leak: %s", p ? "made" : "no memory");
			p = NULL;
		} else if (!strcmp(a, "exit"))
			exit(atoi(arg));
		else {
			out("unknown action %s", a);
			return 2;
		}
	}
	return 0;
}
