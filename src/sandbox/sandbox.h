/* SPDX-License-Identifier: MIT */
/*
 * The server confines itself (both transports): namespaces or chroot, seccomp, capabilities, RLIMIT_NOFILE.
 * Called by `boxshare serve` after every host resource it needs is open (share fds, the /proc fd, /dev/fuse or
 * the vhost-user socket) and before the first request from the client is read.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum sandbox_mode {
	SANDBOX_NAMESPACE, /* new mount, pid, net (+ ipc, cgroup) namespaces; host mounts rslave; pivot_root into
			    * an empty root */
	SANDBOX_CHROOT,    /* chroot into an empty directory (no namespaces: for hosts that forbid unshare) */
	SANDBOX_NONE,
};

enum sandbox_seccomp {
	SANDBOX_SECCOMP_KILL, /* a syscall outside the allowlist kills the process */
	SANDBOX_SECCOMP_LOG,  /* ... is logged by the kernel and allowed */
	SANDBOX_SECCOMP_NONE,
};

struct sandbox_opts {
	enum sandbox_mode mode;
	enum sandbox_seccomp seccomp;
	uint64_t nofile;          /* RLIMIT_NOFILE wanted: raised up to the hard limit (no CAP_SYS_RESOURCE) */
	unsigned fdtable;         /* fd table slots the serving process gets before its threads start (0: as it
				   * is; see sandbox_fdtable_presize) */
	bool keep_chown;          /* keep CAP_CHOWN/CAP_FOWNER/CAP_FSETID/CAP_SETFCAP/CAP_MKNOD... (a rw share);
				   * false: the whole export is read-only, and so are the share mounts in the sandbox */
	/* The server never opens files by handle (--inode-file-handles never): drop CAP_DAC_READ_SEARCH and refuse
	 * open_by_handle_at. With that capability, open_by_handle_at ignores the bind mount a share is confined
	 * to and opens any inode of the share's file system (ext4's root directory has a well-known handle). */
	bool no_file_handles;
	/* Keep CAP_SYS_ADMIN (`serve --passthrough`: FUSE_DEV_IOC_BACKING_OPEN needs it). Only the capability:
	 * the seccomp filter still refuses mount, unshare and the other syscalls it would open up. */
	bool keep_sys_admin;
	/* Runs in the supervisor (outside the sandbox) after the confined server exited, e.g. to unmount the
	 * /dev/fuse mount point. May be NULL. When set, chroot and none modes fork a supervisor too (in the
	 * caller's pid namespace): the confined server can no longer unmount anything itself. */
	void (*supervisor_cleanup)(void *data);
	void *data;
};

/*
 * Enter the sandbox. SANDBOX_NAMESPACE forks: the child is the confined server and gets 0 back; the parent
 * stays outside as supervisor, forwards SIGINT/SIGTERM/SIGHUP to the child, waits for it, runs
 * supervisor_cleanup and exits with the child's status (it never returns). Other modes fork the same way only
 * when supervisor_cleanup is set. Call it before starting threads: a forking mode refuses with -EBUSY when the
 * process has more than one. In namespace mode the server is pid 2 of its namespace, under a small init (pid 1)
 * that holds nothing, relays the forwarded signals and reports the server's status to the supervisor; so the
 * server gets and dies of signals as any process does.
 *
 * Every directory fd the process holds is re-rooted (same number, same flags) so ".." cannot climb out of it,
 * and a procfs root fd is replaced by a fresh procfs (see sb-root.h); in none mode nothing is.
 * Returns 0 in the server, -errno on failure (half confined then, perhaps: the caller must exit).
 */
int sandbox_enter(const struct sandbox_opts *o);

/*
 * Raise the RLIMIT_NOFILE soft limit to min(want, hard limit); never lowers it (want 0: leave it). The hard
 * limit is not raised (that needs CAP_SYS_RESOURCE). *ret_soft (may be NULL) gets the soft limit in force.
 * sandbox_enter() calls it with o->nofile; the caller may call it earlier to size its fd ceiling. 0 or -errno.
 */
int sandbox_nofile_raise(uint64_t want, uint64_t *ret_soft);

/*
 * Grow the calling process's fd table to hold fds up to n - 1 (at most RLIMIT_NOFILE), so that it never grows
 * while the process is serving. A table shared by several threads grows only after an RCU grace period
 * (expand_fdtable() calls synchronize_rcu() when files->count > 1): a few milliseconds per doubling on an
 * idle machine, tens on a busy VM, paid by whichever request opens the fd that does not fit. A passthrough
 * server holds an fd per inode the client knows, so a fresh server creating 20k files crossed 9 doublings
 * (serve's CREATE averaged 30 us on tmpfs, 22 of them in the first open of a new fd number; 8 us after).
 * sandbox_enter() calls it with o->fdtable in the process that serves, before threads start. A slot costs 8
 * bytes of kernel memory whether used or not (the kernel rounds up to a power of two): callers size it to the
 * fds they may hold, up to SANDBOX_FDTABLE_PRESIZE_MAX (256 KiB; past it a doubling is one grace period per
 * 32k+ fds). 0 or -errno; n < 2 does nothing.
 */
#define SANDBOX_FDTABLE_PRESIZE_MAX 32768u
int sandbox_fdtable_presize(unsigned n);

/* Parse the --sandbox and --seccomp values; -EINVAL if unknown. */
int sandbox_mode_parse(const char *s, enum sandbox_mode *ret);
int sandbox_seccomp_parse(const char *s, enum sandbox_seccomp *ret);
