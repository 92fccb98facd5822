/* SPDX-License-Identifier: MIT */
/* The one place raw syscall() is used: wrappers for syscalls glibc 2.36 lacks or wraps badly. 0/-errno. */
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <signal.h>
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
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
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
static inline int sys_pidfd_send_signal(int pidfd, int sig, void *info, unsigned flags)
{
	return (int)SYS_RET(syscall(__NR_pidfd_send_signal, pidfd, sig, info, flags));
}
static inline pid_t sys_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The calling thread's capabilities only (glibc has no wrapper; libcap's may act on every thread). hdr->pid 0. */
struct __user_cap_header_struct;
struct __user_cap_data_struct;
static inline int sys_capget(struct __user_cap_header_struct *hdr, struct __user_cap_data_struct *data)
{
	return (int)SYS_RET(syscall(SYS_capget, hdr, data));
}
static inline int sys_capset(struct __user_cap_header_struct *hdr, const struct __user_cap_data_struct *data)
{
	return (int)SYS_RET(syscall(SYS_capset, hdr, data));
}

/* The *xattrat family (Linux 6.13): xattrs of the inode a path names, with AT_* flags. Used through a procfs
 * "self/fd/N" magic link, which reaches the exact inode an O_PATH fd holds (a symlink included). */
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif
struct sys_xattr_args {
	__u64 value;
	__u32 size;
	__u32 flags;
};
static inline ssize_t sys_setxattrat(int dirfd, const char *path, unsigned at_flags, const char *name,
				     const void *value, size_t size, unsigned flags)
{
	struct sys_xattr_args a = { .value = (__u64)(uintptr_t)value, .size = (__u32)size, .flags = flags };
	return SYS_RET(syscall(__NR_setxattrat, dirfd, path, at_flags, name, &a, sizeof(a)));
}
static inline ssize_t sys_getxattrat(int dirfd, const char *path, unsigned at_flags, const char *name, void *value,
				     size_t size)
{
	struct sys_xattr_args a = { .value = (__u64)(uintptr_t)value, .size = (__u32)size, .flags = 0 };
	return SYS_RET(syscall(__NR_getxattrat, dirfd, path, at_flags, name, &a, sizeof(a)));
}
static inline ssize_t sys_listxattrat(int dirfd, const char *path, unsigned at_flags, char *list, size_t size)
{
	return SYS_RET(syscall(__NR_listxattrat, dirfd, path, at_flags, list, size));
}
static inline int sys_removexattrat(int dirfd, const char *path, unsigned at_flags, const char *name)
{
	return (int)SYS_RET(syscall(__NR_removexattrat, dirfd, path, at_flags, name));
}
/* clone(2) with fork semantics (no new stack, SIGCHLD on exit) and namespace flags: the child returns 0 and
 * continues on a copy of the caller's stack, like fork(). glibc's clone() needs a separate stack instead. */
static inline pid_t sys_clone_fork(unsigned long flags)
{
	return (pid_t)SYS_RET(syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0));
}
