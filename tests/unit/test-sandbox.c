/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the sandbox module: the option parsers, the capability sets, the allowlist's contents, the
 * RLIMIT_NOFILE raise, and the seccomp filter itself (in a forked child, --sandbox none: no privilege needed).
 * Namespaces and chroot are tested by tests/integration/sandbox-*.sh (they need root).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/sb-caps.h"
#include "sandbox/sb-seccomp.h"
#include "util/macros.h"

static int failures;

#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                 \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

static void test_parsers(void)
{
	enum sandbox_mode m = SANDBOX_NONE;
	enum sandbox_seccomp s = SANDBOX_SECCOMP_NONE;
	CHECK(sandbox_mode_parse("namespace", &m) == 0 && m == SANDBOX_NAMESPACE);
	CHECK(sandbox_mode_parse("chroot", &m) == 0 && m == SANDBOX_CHROOT);
	CHECK(sandbox_mode_parse("none", &m) == 0 && m == SANDBOX_NONE);
	m = SANDBOX_CHROOT;
	static const char *const bad_modes[] = { "", "Namespace", "namespace ", " none", "ns", "nonex", "chroot\n" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_modes); i++)
		CHECK(sandbox_mode_parse(bad_modes[i], &m) == -EINVAL && m == SANDBOX_CHROOT);
	CHECK(sandbox_mode_parse(NULL, &m) == -EINVAL);

	CHECK(sandbox_seccomp_parse("kill", &s) == 0 && s == SANDBOX_SECCOMP_KILL);
	CHECK(sandbox_seccomp_parse("log", &s) == 0 && s == SANDBOX_SECCOMP_LOG);
	CHECK(sandbox_seccomp_parse("none", &s) == 0 && s == SANDBOX_SECCOMP_NONE);
	s = SANDBOX_SECCOMP_LOG;
	static const char *const bad_sc[] = { "", "KILL", "trap", "allow", "kill,log", "lo" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_sc); i++)
		CHECK(sandbox_seccomp_parse(bad_sc[i], &s) == -EINVAL && s == SANDBOX_SECCOMP_LOG);
	CHECK(sandbox_seccomp_parse(NULL, &s) == -EINVAL);
}

static void test_caps(void)
{
	const uint64_t ids = (1ull << CAP_SETUID) | (1ull << CAP_SETGID);
	const uint64_t owner = (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_CHOWN) | (1ull << CAP_FOWNER) |
			       (1ull << CAP_FSETID) | (1ull << CAP_MKNOD) | (1ull << CAP_SETFCAP);
	/* read-only: one way to read everything; CAP_DAC_READ_SEARCH only for open_by_handle_at */
	CHECK(sb_caps_wanted(false, true, false) == (ids | (1ull << CAP_DAC_READ_SEARCH)));
	CHECK(sb_caps_wanted(false, false, false) == (ids | (1ull << CAP_DAC_OVERRIDE)));
	CHECK(sb_caps_wanted(true, true, false) == (ids | owner | (1ull << CAP_DAC_READ_SEARCH)));
	CHECK(sb_caps_wanted(true, false, false) == (ids | owner));
	uint64_t rw = sb_caps_wanted(true, true, false);
	/* never: what would undo the sandbox */
	static const int never[] = { CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SETPCAP, CAP_SYS_MODULE,
				     CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_RESOURCE, CAP_KILL, CAP_LINUX_IMMUTABLE };
	for (size_t i = 0; i < ARRAY_SIZE(never); i++)
		CHECK(!(rw & (1ull << never[i])));
	/* --passthrough: CAP_SYS_ADMIN and nothing else on top */
	CHECK(sb_caps_wanted(true, true, true) == (rw | (1ull << CAP_SYS_ADMIN)));
	CHECK(sb_caps_wanted(false, false, true) == (ids | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_SYS_ADMIN)));
}

static bool allowed(const char *name)
{
	size_t n;
	const char *const *l = sb_seccomp_allowlist(&n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i], name))
			return true;
	return false;
}

static void test_allowlist(void)
{
	/* what the server needs once it serves */
	static const char *const need[] = { "openat", "openat2", "name_to_handle_at", "statx",
					    "getdents64", "preadv", "pwritev", "copy_file_range", "fallocate",
					    "renameat2", "fsetxattr", "lgetxattr", "fremovexattr", "setfsuid",
					    "setfsgid", "futex", "rseq", "recvmsg", "sendmsg", "accept4",
					    "epoll_pwait", "eventfd2", "mmap", "getrandom", "exit_group" };
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		CHECK(allowed(need[i]));
		if (!allowed(need[i]))
			fprintf(stderr, "  missing: %s\n", need[i]);
	}
	/* what must never be allowed unconditionally */
	static const char *const never[] = { "execve", "execveat", "mount", "umount2", "pivot_root", "chroot",
					     "ptrace", "socket", "connect", "bind", "setns", "unshare", "clone",
					     "clone3", "open_tree", "move_mount", "fsopen", "fsmount", "bpf",
					     "kexec_load", "init_module", "finit_module", "keyctl", "add_key",
					     "perf_event_open", "userfaultfd", "io_uring_setup", "process_vm_readv",
					     "process_vm_writev", "personality", "ioctl", "prctl", "kill", "reboot",
					     "open_by_handle_at" /* only with file handles */ };
	for (size_t i = 0; i < ARRAY_SIZE(never); i++) {
		CHECK(!allowed(never[i]));
		if (allowed(never[i]))
			fprintf(stderr, "  should not be allowed: %s\n", never[i]);
	}
#ifdef __x86_64__
	/* every name is a real x86_64 syscall (a misspelt name would be skipped silently at load) */
	size_t n;
	const char *const *l = sb_seccomp_allowlist(&n);
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, l[i]);
		CHECK(nr >= 0);
		if (nr < 0)
			fprintf(stderr, "  unknown syscall name: %s\n", l[i]);
	}
#endif
}

static void test_nofile(void)
{
	struct rlimit orig, rl;
	uint64_t soft = 0;
	CHECK(getrlimit(RLIMIT_NOFILE, &orig) == 0);
	if (orig.rlim_max < 64) {
		fprintf(stderr, "nofile: hard limit %llu too low to test\n", (unsigned long long)orig.rlim_max);
		return;
	}
	rl = orig;
	rl.rlim_cur = orig.rlim_max / 2;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);

	CHECK(sandbox_nofile_raise(0, &soft) == 0 && soft == orig.rlim_max / 2); /* 0: leave it */
	CHECK(sandbox_nofile_raise(10, &soft) == 0 && soft == orig.rlim_max / 2); /* never lowers */
	CHECK(sandbox_nofile_raise(orig.rlim_max / 2 + 5, &soft) == 0 && soft == orig.rlim_max / 2 + 5);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == orig.rlim_max / 2 + 5);
	/* more than the hard limit: up to the hard limit, which stays */
	CHECK(sandbox_nofile_raise((uint64_t)orig.rlim_max + 1000, &soft) == 0 && soft == orig.rlim_max);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == orig.rlim_max && rl.rlim_max == orig.rlim_max);
	CHECK(sandbox_nofile_raise(UINT64_MAX, NULL) == 0);
	CHECK(setrlimit(RLIMIT_NOFILE, &orig) == 0);
}

static void test_bad_opts(void)
{
	struct sandbox_opts o = { .mode = (enum sandbox_mode)7, .seccomp = SANDBOX_SECCOMP_NONE };
	CHECK(sandbox_enter(&o) == -EINVAL);
	o.mode = SANDBOX_NONE;
	o.seccomp = (enum sandbox_seccomp)-1;
	CHECK(sandbox_enter(&o) == -EINVAL);
	CHECK(sandbox_enter(NULL) == -EINVAL);
}

/* sleeps in nanosleep, which the filter allows (pause would not be) */
static void *idle_thread(void *arg)
{
	for (;;)
		nanosleep(&(struct timespec){ 1, 0 }, NULL);
	return NULL;
}

/* Namespace mode forks: threads other than the caller would be lost, so it refuses. */
static void test_threads_refused(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			_exit(3);
		struct sandbox_opts o = { .mode = SANDBOX_NAMESPACE, .seccomp = SANDBOX_SECCOMP_NONE };
		_exit(sandbox_enter(&o) == -EBUSY ? 0 : 1);
	}
	int st;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* In a child: enter --sandbox none with the given seccomp mode, make `socket(AF_INET)` (never allowed), then
 * a few allowed calls. Returns the wait status. */
static int seccomp_child_x(enum sandbox_seccomp mode, bool forbidden, bool x32)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct sandbox_opts o = { .mode = SANDBOX_NONE, .seccomp = mode, .keep_chown = true };
		if (sandbox_enter(&o) < 0)
			_exit(2);
#ifdef __x86_64__
		if (x32)
			_exit(syscall(0x40000000 | SYS_getpid) >= 0 ? 0 : 7);
#endif
		if (forbidden) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			_exit(s >= 0 ? 0 : 4);
		}
		/* a unix socket (syslog's reconnect) is refused, not killed */
		errno = 0;
		if (mode == SANDBOX_SECCOMP_KILL &&
		    (socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) >= 0 || errno != EACCES))
			_exit(8);
		/* allowed: files, threads, time */
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "x", 1) != 1)
			_exit(5);
		close(fd);
		pthread_t t;
		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			_exit(6);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		_exit(0);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static int seccomp_child(enum sandbox_seccomp mode, bool forbidden)
{
	return seccomp_child_x(mode, forbidden, false);
}

static void test_seccomp(void)
{
#ifdef __x86_64__
	/* an allowed syscall (getpid) through the x32 ABI: the architecture guard kills, in log mode too */
	int x = seccomp_child_x(SANDBOX_SECCOMP_LOG, false, true);
	CHECK(WIFSIGNALED(x) && WTERMSIG(x) == SIGSYS);
	x = seccomp_child_x(SANDBOX_SECCOMP_KILL, false, true);
	CHECK(WIFSIGNALED(x) && WTERMSIG(x) == SIGSYS);
#endif
	int st = seccomp_child(SANDBOX_SECCOMP_KILL, true);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = seccomp_child(SANDBOX_SECCOMP_KILL, false);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = seccomp_child(SANDBOX_SECCOMP_LOG, true); /* logged, allowed */
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = seccomp_child(SANDBOX_SECCOMP_NONE, true);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	test_parsers();
	test_caps();
	test_allowlist();
	test_nofile();
	test_bad_opts();
	test_threads_refused();
	test_seccomp();
	if (failures) {
		fprintf(stderr, "test-sandbox: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test-sandbox: all checks passed\n");
	return 0;
}
