/* SPDX-License-Identifier: MIT */
/*
 * sandbox_enter(): the order of confinement. The root and namespaces first (they need every privilege), then
 * no_new_privs and the capability drop, then seccomp last, so the filter need not allow the set-up syscalls.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sb-caps.h"
#include "sb-init.h"
#include "sb-root.h"
#include "sb-seccomp.h"
#include "sb-supervise.h"
#include "util/log.h"
#include "util/macros.h"

int sandbox_mode_parse(const char *s, enum sandbox_mode *ret)
{
	static const struct {
		const char *name;
		enum sandbox_mode m;
	} t[] = { { "namespace", SANDBOX_NAMESPACE }, { "chroot", SANDBOX_CHROOT }, { "none", SANDBOX_NONE } };
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (strcmp(s, t[i].name) == 0) {
			*ret = t[i].m;
			return 0;
		}
	return -EINVAL;
}

int sandbox_seccomp_parse(const char *s, enum sandbox_seccomp *ret)
{
	static const struct {
		const char *name;
		enum sandbox_seccomp m;
	} t[] = { { "kill", SANDBOX_SECCOMP_KILL }, { "log", SANDBOX_SECCOMP_LOG }, { "none", SANDBOX_SECCOMP_NONE } };
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (strcmp(s, t[i].name) == 0) {
			*ret = t[i].m;
			return 0;
		}
	return -EINVAL;
}

int sandbox_nofile_raise(uint64_t want, uint64_t *ret_soft)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	rlim_t target = rl.rlim_cur;
	if (want > 0 && (rlim_t)want > rl.rlim_cur)
		target = MIN((rlim_t)want, rl.rlim_max);
	if (target != rl.rlim_cur) {
		rl.rlim_cur = target;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	if (ret_soft)
		*ret_soft = (uint64_t)target;
	return 0;
}

int sandbox_fdtable_presize(unsigned n)
{
	struct rlimit rl;
	if (n < 2 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if ((rlim_t)n > rl.rlim_cur)
		n = (unsigned)rl.rlim_cur; /* < n: fits */
	if (n < 2)
		return 0;
	/* the lowest free fd at or above n - 1 makes the kernel size the table for it; the table never shrinks */
	int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, (int)(n - 1));
	if (fd < 0) {
		int self = open("/", O_PATH | O_CLOEXEC); /* stderr may be closed */
		if (self < 0)
			return -errno;
		fd = fcntl(self, F_DUPFD_CLOEXEC, (int)(n - 1));
		close(self);
		if (fd < 0)
			return -errno;
	}
	close(fd);
	return 0;
}

/* Threads other than the caller would not follow into the forked server (namespace mode). */
static int count_threads(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	int n;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			return n;
	return -ENODATA;
}

int sandbox_enter(const struct sandbox_opts *o)
{
	int r;
	if (!o || (unsigned)o->mode > SANDBOX_NONE || (unsigned)o->seccomp > SANDBOX_SECCOMP_NONE)
		return -EINVAL;

	if ((r = sandbox_nofile_raise(o->nofile, NULL)) < 0) {
		log_debug("sandbox: RLIMIT_NOFILE: %d", r);
		return r;
	}

	/*
	 * A supervisor outside the confinement: always for namespace mode (the pid namespace needs a fork); in the
	 * other modes only when there is cleanup that needs privileges the server drops (unmounting).
	 */
	_cleanup_close_ int status_fd = -1;
	if (o->mode == SANDBOX_NAMESPACE || o->supervisor_cleanup) {
		if (count_threads() > 1)
			return -EBUSY;
		r = sb_fork_supervised(o->mode == SANDBOX_NAMESPACE, o->supervisor_cleanup, o->data, &status_fd);
		if (r < 0)
			return r;
		/* the confined child from here on */
	}

	switch (o->mode) {
	case SANDBOX_NAMESPACE:
		if ((r = sb_root_namespace(sb_seccomp_sanitizer_build(), !o->keep_chown)) < 0) {
			log_debug("sandbox: new root: %d", r);
			return r;
		}
		/* pid 1 stays behind as the namespace's init; the server goes on as pid 2 */
		if ((r = sb_init_fork(TAKE_FD(status_fd))) < 0)
			return r;
		break;
	case SANDBOX_CHROOT:
		if ((r = sb_root_chroot(!o->keep_chown)) < 0) {
			log_debug("sandbox: chroot: %d", r);
			return r;
		}
		break;
	case SANDBOX_NONE:
		break;
	}

	/* The process that serves, from here on: give it its whole fd table now, while it has one thread. */
	if ((r = sandbox_fdtable_presize(o->fdtable)) < 0)
		log_debug("sandbox: presizing the fd table: %d", r);

	/* Nothing gained through execve from here on (set-uid files, file capabilities), whatever the mode. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if ((r = sb_caps_drop(sb_caps_wanted(o->keep_chown, !o->no_file_handles, o->keep_sys_admin))) < 0) {
		log_debug("sandbox: capabilities: %d", r);
		return r;
	}
	/*
	 * Not dumpable: no other process of the same uid without CAP_SYS_PTRACE (another confined server, in
	 * chroot or none mode) may ptrace us or read our /proc entries (fds, memory, root), and hidepid hides us
	 * from it; and no core file full of guest data. Sanitizer builds keep it: LeakSanitizer ptraces the
	 * process from a helper that is not one of its threads.
	 */
	if (!sb_seccomp_sanitizer_build() && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	if ((r = sb_seccomp_load(o->seccomp, !o->no_file_handles)) < 0)
		return r;
	return 0;
}
