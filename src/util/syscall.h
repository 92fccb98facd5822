/* SPDX-License-Identifier: MIT */
/* The one place raw syscall() is used: wrappers for syscalls glibc 2.36 lacks or wraps badly. 0/-errno. */
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig 431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif
#ifndef __NR_fspick
#define __NR_fspick 433
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif

#define SYS_RET(expr)                                                                                            \
	({                                                                                                       \
		long _r_ = (expr);                                                                               \
		_r_ < 0 ? -errno : _r_;                                                                          \
	})

static inline int sys_openat2(int dirfd, const char *path, struct open_how *how)
{
	return (int)SYS_RET(syscall(__NR_openat2, dirfd, path, how, sizeof(*how)));
}
static inline int sys_open_tree(int dirfd, const char *path, unsigned flags)
{
	return (int)SYS_RET(syscall(__NR_open_tree, dirfd, path, flags));
}
static inline int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags)
{
	return (int)SYS_RET(syscall(__NR_move_mount, from_dfd, from, to_dfd, to, flags));
}
static inline int sys_fsopen(const char *fsname, unsigned flags)
{
	return (int)SYS_RET(syscall(__NR_fsopen, fsname, flags));
}
static inline int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux)
{
	return (int)SYS_RET(syscall(__NR_fsconfig, fd, cmd, key, value, aux));
}
static inline int sys_fsmount(int fd, unsigned flags, unsigned attr_flags)
{
	return (int)SYS_RET(syscall(__NR_fsmount, fd, flags, attr_flags));
}
static inline int sys_fspick(int dirfd, const char *path, unsigned flags)
{
	return (int)SYS_RET(syscall(__NR_fspick, dirfd, path, flags));
}
static inline int sys_mount_setattr(int dirfd, const char *path, unsigned flags, struct mount_attr *attr)
{
	return (int)SYS_RET(syscall(__NR_mount_setattr, dirfd, path, flags, attr, sizeof(*attr)));
}
static inline int sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)SYS_RET(syscall(SYS_pivot_root, new_root, put_old));
}
static inline int sys_pidfd_open(pid_t pid, unsigned flags)
{
	return (int)SYS_RET(syscall(__NR_pidfd_open, pid, flags));
}
static inline pid_t sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}
