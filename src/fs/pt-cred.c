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
/* This thread's umask once its fs_struct is private, -1 before the first create. Nothing but a create on this
 * thread reads it and every create sets its own, so it is left as the last caller's: a create costs a umask()
 * call only when the caller's umask differs from the previous one. */
static _Thread_local int thread_umask = -1;
/* The thread's own fsuid/fsgid (learned from the first switch): a caller with these ids needs no switch. */
static _Thread_local bool thread_ids_known;
static _Thread_local uid_t thread_fsuid;
static _Thread_local gid_t thread_fsgid;

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
		int want = (int)(ctx->umask & 07777);
		if (thread_umask != want) {
			umask((mode_t)want);
			thread_umask = want;
		}
	}
	if (!switch_ids)
		return 0;
	if (thread_ids_known && ctx->uid == thread_fsuid && ctx->gid == thread_fsgid)
		return 0; /* the caller is who this thread already is (root creating as root) */
	c->old_gid = (gid_t)setfsgid(ctx->gid);
	c->old_uid = (uid_t)setfsuid(ctx->uid);
	c->switched = true;
	if (!thread_ids_known) {
		thread_fsuid = c->old_uid;
		thread_fsgid = c->old_gid;
		thread_ids_known = true;
	}
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
	errno = saved;
}
