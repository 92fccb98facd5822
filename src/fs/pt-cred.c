/* SPDX-License-Identifier: MIT */
/*
 * Per-thread credentials for creating entries as the caller.
 *
 * fsuid/fsgid are per thread in Linux and glibc's setfsuid()/setfsgid() do not broadcast them to other threads
 * (unlike setuid), so a worker can switch for one syscall. While fsuid is not 0, the kernel clears the file
 * system capabilities (CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_MKNOD...) from the thread's effective set, so the
 * create is also permission-checked as the caller, and they come back when fsuid returns to 0. Supplementary
 * groups stay the server's: the kernel client (default_permissions) has checked access with the caller's.
 *
 * The umask is per fs_struct, shared by all threads of a process, so each worker unshares its fs_struct once
 * (CLONE_FS, allowed in a multi-threaded process and by the sandbox's seccomp filter) and then sets its own. The
 * umask must be applied by the kernel rather than by masking the mode here: a directory with a default ACL
 * ignores the umask, which only the kernel knows.
 */
#include "fs/pt-cred.h"

#include <errno.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/stat.h>

#include "util/log.h"

static _Thread_local int thread_fs_state; /* 0: not tried, 1: private, -1: refused */

bool pt_thread_fs_private(void)
{
	if (thread_fs_state == 0) {
		if (unshare(CLONE_FS) == 0) {
			thread_fs_state = 1;
		} else {
			log_debug("passthrough: unshare(CLONE_FS): %m; the process umask applies to new files");
			thread_fs_state = -1;
		}
	}
	return thread_fs_state > 0;
}

int pt_cred_enter(const struct fs_ctx *ctx, bool switch_ids, struct pt_cred *c)
{
	*c = (struct pt_cred){ 0 };
	if (!ctx)
		return 0;
	if (pt_thread_fs_private()) {
		c->old_umask = umask(ctx->umask & 07777);
		c->umask_set = true;
	}
	if (!switch_ids)
		return 0;
	c->old_gid = (gid_t)setfsgid(ctx->gid);
	c->old_uid = (uid_t)setfsuid(ctx->uid);
	c->switched = true;
	/* setfsuid reports no error: read the value back */
	if ((uid_t)setfsuid((uid_t)-1) != ctx->uid || (gid_t)setfsgid((gid_t)-1) != ctx->gid)
		return -EPERM;
	return 0;
}

void pt_cred_leave(struct pt_cred *c)
{
	int saved = errno;
	if (c->switched) {
		setfsuid(c->old_uid);
		setfsgid(c->old_gid);
		c->switched = false;
	}
	if (c->umask_set) {
		umask(c->old_umask);
		c->umask_set = false;
	}
	errno = saved;
}
