/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filter: an allowlist of what the server really calls once it serves (passthrough I/O, threads,
 * both transports, per-request credential switches), everything else killed (or logged). Built at run time
 * with libseccomp rather than hand-written BPF: it resolves syscall names per architecture, emits the
 * architecture check (a syscall made through another ABI -- i386 int 0x80, x32 -- takes the bad-arch action)
 * and compares 64-bit arguments correctly, all of which hand-written BPF gets wrong easily.
 */
#include "sb-seccomp.h"

#include <errno.h>
#include <linux/fuse.h>
#include <linux/fs.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "proto/fuse-compat.h"
#include "util/log.h"
#include "util/macros.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SB_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SB_SANITIZER 1
#endif
#endif
#ifndef SB_SANITIZER
#define SB_SANITIZER 0
#endif

/* Syscalls allowed whatever their arguments. Names the running architecture lacks are skipped. */
static const char *const allow[] = {
	/* opening and resolving, relative to held fds */
	"openat", "openat2", "open", "name_to_handle_at", "close", "close_range", "dup",
	"dup2", "dup3", "fcntl", "flock",
	/* attributes and directories */
	"newfstatat", "fstat", "stat", "lstat", "statx", "statfs", "fstatfs", "getdents64", "readlinkat",
	"faccessat", "faccessat2", "access", "fchdir", "umask",
	/* data */
	"read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2",
	"lseek", "copy_file_range", "fallocate", "ftruncate", "fsync", "fdatasync", "syncfs", "fadvise64",
	/* changing the tree and its metadata */
	"mkdirat", "mknodat", "symlinkat", "linkat", "unlinkat", "renameat", "renameat2", "fchmod", "fchmodat",
	"fchown", "fchownat", "utimensat",
	"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr", "llistxattr",
	"flistxattr", "removexattr", "lremovexattr", "fremovexattr",
	/* per-request credentials (setfsuid style, per thread) and their checks */
	"setfsuid", "setfsgid", "setresuid", "setresgid", "setgroups", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "capget", "capset",
	/* memory and threads */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "futex_waitv", "set_robust_list",
	"get_robust_list", "rseq", "set_tid_address", "sched_yield", "sched_getaffinity", "sched_setaffinity",
	"membarrier",
	"gettid", "getpid", "exit", "exit_group", "restart_syscall",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
	/* transports: /dev/fuse reads and writes; the vhost-user socket, its eventfds and guest memory */
	"recvmsg", "sendmsg", "recvfrom", "sendto", "accept4", "accept", "shutdown", "poll", "ppoll",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2", "pipe2",
	"signalfd4", "signalfd",
	/* FUSE over io_uring: the rings exist before the filter, restricted to URING_CMD and READ (no
	 * io_uring_setup here: a new ring could open or read past this filter) */
	"io_uring_enter",
	/* time and randomness */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getrandom",
};

/* Syscalls newer than libseccomp 2.5.4's tables (Debian 12): by their (unified) number. */
static const struct {
	const char *name;
	int nr;
} allow_nr[] = {
	{ "fchmodat2", 452 },
	{ "setxattrat", 463 },
	{ "getxattrat", 464 },
	{ "listxattrat", 465 },
	{ "removexattrat", 466 },
};

/* FUSE passthrough's ioctls (kernel 6.9 uapi; Debian 12's headers predate it): proto/fuse-compat.h */

/* ioctl requests the server makes: FUSE passthrough backing files, /dev/fuse clone for worker threads, inode
 * flags (chattr through FUSE_IOCTL) and isatty() from stdio. */
static const unsigned long allow_ioctl[] = {
	FUSE_DEV_IOC_CLONE, FUSE_DEV_IOC_BACKING_OPEN, FUSE_DEV_IOC_BACKING_CLOSE,
	FS_IOC_GETFLAGS,   FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR, TCGETS, FIONREAD,
};

/* Sanitizer runtimes (the test suite runs under ASan+UBSan with leak detection): LeakSanitizer stops the
 * world with a ptrace-ing helper made by clone() without CLONE_THREAD, and reads /proc/self/task. */
static const char *const allow_sanitizer[] = {
	"ptrace", "wait4", "waitid", "prctl", "clone", "getppid", "readlink", "getrlimit", "prlimit64", "getdents",
	"sched_getparam", "sched_getscheduler", "pipe", "mincore", "uname", "kill", "tgkill", "tkill",
};

const char *const *sb_seccomp_allowlist(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(allow);
	return allow;
}

bool sb_seccomp_sanitizer_build(void)
{
	return SB_SANITIZER;
}

static void ctx_releasep(scmp_filter_ctx *c)
{
	if (*c)
		seccomp_release(*c);
}

/* libseccomp returns -errno; a name unknown to this architecture is not an error. */
static int allow_name(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0;
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	if (r < 0)
		log_debug("sandbox: seccomp: allowing %s: %d", name, r);
	return r;
}

static int add_rules(scmp_filter_ctx ctx, bool file_handles)
{
	int r;
	if (file_handles && (r = allow_name(ctx, "open_by_handle_at")) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(allow); i++)
		if ((r = allow_name(ctx, allow[i])) < 0)
			return r;
	for (size_t i = 0; i < ARRAY_SIZE(allow_nr); i++) {
		int nr = seccomp_syscall_resolve_name(allow_nr[i].name);
		if (nr == __NR_SCMP_ERROR)
			nr = allow_nr[i].nr;
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			return r;
	}

	/* ioctl: the request is an unsigned int in the kernel; compare the low 32 bits only, so that a
	 * sign-extended request from a caller passing an int matches too. */
	for (size_t i = 0; i < ARRAY_SIZE(allow_ioctl); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allow_ioctl[i]))) < 0)
			return r;

	/* Threads only: a clone without CLONE_THREAD would be a new process. clone3 passes its flags in memory
	 * that a filter cannot read: refuse it with ENOSYS, and glibc falls back to clone. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD))) < 0)
		return r;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		return r;

	/* vhost-user asks its socket whether it listens (SO_ACCEPTCONN) */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 1,
				  SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET))) < 0)
		return r;

	/* glibc's syslog() reconnects to /dev/log by itself (after a syslog daemon restart, or at the first
	 * message without LOG_NDELAY): let that fail quietly rather than kill the server. Any other socket kills. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1,
				  SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) < 0)
		return r;

	/* The kernel would refuse an unmount anyway (CAP_SYS_ADMIN is gone); an error rather than a kill lets a
	 * server that tries to unmount its own mount point at shutdown finish cleanly (the supervisor does it). */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(umount2), 0)) < 0)
		return r;

	/* A worker thread may unshare its fs_struct (CLONE_FS) to fchdir on its own; nothing else. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1, SCMP_A0(SCMP_CMP_EQ, CLONE_FS))) < 0)
		return r;

	/* Thread names, and getrlimit-style reads of limits (never a change). */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME))) < 0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0),
				  SCMP_A2(SCMP_CMP_EQ, 0))) < 0 ||
	    (r = allow_name(ctx, "getrlimit")) < 0)
		return r;

	/* Signals to ourselves only (abort(), pthread_kill() to wake a worker): tgkill of our own thread group. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()))) < 0)
		return r;

	if (SB_SANITIZER)
		for (size_t i = 0; i < ARRAY_SIZE(allow_sanitizer); i++)
			if ((r = allow_name(ctx, allow_sanitizer[i])) < 0)
				return r;
	return 0;
}

int sb_seccomp_load(enum sandbox_seccomp mode, bool file_handles)
{
	uint32_t def;
	switch (mode) {
	case SANDBOX_SECCOMP_NONE:
		return 0;
	case SANDBOX_SECCOMP_KILL:
		/* the whole process, not just the thread: a server missing one worker would hang clients */
		def = SCMP_ACT_KILL_PROCESS;
		break;
	case SANDBOX_SECCOMP_LOG:
		def = SCMP_ACT_LOG;
		break;
	default:
		return -EINVAL;
	}

	_cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return -ENOMEM;
	int r;
	/* A syscall through a foreign ABI (i386 via int 0x80, x32) is never legitimate: kill, in both modes. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) < 0)
		return r;
	/* a binary search on the syscall number instead of a linear list (libseccomp >= 2.5); the kernel's
	 * per-syscall cache already skips the filter for the syscalls allowed whatever their arguments */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	/* No SCMP_FLTATR_CTL_LOG: the kernel logs kills anyway (audit type 1326, with the syscall number), and the
	 * flag would also log every ENOSYS answer to clone3, i.e. every thread the server starts. */
	if ((r = add_rules(ctx, file_handles)) < 0)
		return r;
	if ((r = seccomp_load(ctx)) < 0) {
		log_debug("sandbox: seccomp_load: %d", r);
		return r;
	}
	return 0;
}
