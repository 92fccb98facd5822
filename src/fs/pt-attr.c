/* SPDX-License-Identifier: MIT */
/*
 * Passthrough attributes: getattr, setattr, readlink, xattrs, access, statfs and syncfs.
 *
 * All of them act on the inode an O_PATH fd holds, never on a name, and a symlink is never followed: chown and
 * times of a symlink change the link (fchownat/utimensat with AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), chmod of a
 * symlink is refused as Linux refuses it, and xattrs go through the inode's procfs magic link, which names
 * the inode itself (a symlink included) and resolves no further.
 */
#include "fs/pt-attr.h"

#include <errno.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/pt-cred.h"
#include "fs/pt-fh.h"
#include "fs/pt-int.h"
#include "util/fsetid.h"
#include "util/macros.h"
#include "util/syscall.h"

/* The inode with its fd pinned; undo with inode_end(). */
static int inode_begin(struct pt *pt, uint64_t ino, struct pt_inode **ret, int *ret_fd)
{
	struct pt_inode *n = pt_inode_get(pt, ino);
	if (!n)
		return -ESTALE;
	int r = pt_inode_fd(pt, n, ret_fd);
	if (r < 0) {
		pt_inode_put(pt, n);
		return r;
	}
	*ret = n;
	return 0;
}

static void inode_end(struct pt *pt, struct pt_inode *n)
{
	pt_inode_fd_put(pt, n);
	pt_inode_put(pt, n);
}

int pt_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
	       struct stat *ret_attr, double *ret_timeout)
{
	struct pt *pt = pt_of(fs);
	*ret_timeout = pt->attr_timeout;
	if (has_fh) { /* an open file: its fd works even when the inode's fd is closed or the file deleted */
		struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_ANY);
		if (f) {
			int r = fstat(f->fd, ret_attr) < 0 ? -errno : 0;
			ret_attr->st_ino = f->inode->st_ino;
			pt_fh_put(pt, f);
			return r;
		}
	}
	struct pt_inode *n;
	int fd;
	int r = inode_begin(pt, ino, &n, &fd);
	if (r < 0)
		return r;
	r = pt_stat_fd(pt, n, fd, ret_attr);
	inode_end(pt, n);
	return r;
}

static int set_size(struct pt *pt, struct pt_inode *n, int fd, int hfd, off_t size)
{
	if (S_ISDIR(n->type))
		return -EISDIR;
	if (!S_ISREG(n->type))
		return -EINVAL;
	if (hfd >= 0)
		return ftruncate(hfd, size) < 0 ? -errno : 0;
	int r = pt_open_reserve(pt);
	if (r < 0)
		return r;
	int tfd = pt_reopen(pt, n, fd, O_WRONLY | O_NONBLOCK);
	if (tfd < 0) {
		pt_open_unreserve(pt);
		return tfd;
	}
	r = ftruncate(tfd, size) < 0 ? -errno : 0;
	close(tfd);
	pt_open_unreserve(pt);
	return r;
}

static int set_times(struct pt *pt, struct pt_inode *n, int fd, int hfd, const struct stat *attr, uint32_t to_set)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	if (to_set & FS_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FS_SET_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FS_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FS_SET_MTIME)
		ts[1] = attr->st_mtim;
	int r;
	if (hfd >= 0) {
		r = futimens(hfd, ts);
	} else if (S_ISLNK(n->type)) {
		r = utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	} else {
		char name[32];
		pt_proc_name(name, fd);
		r = utimensat(pt->proc_fd, name, ts, 0);
	}
	return r < 0 ? -errno : 0;
}

static int set_mode(struct pt *pt, struct pt_inode *n, int fd, int hfd, mode_t mode)
{
	if (S_ISLNK(n->type))
		return -EOPNOTSUPP; /* as fchmodat(AT_SYMLINK_NOFOLLOW) on Linux */
	int r;
	if (hfd >= 0) {
		r = fchmod(hfd, mode & 07777);
	} else {
		char name[32];
		pt_proc_name(name, fd);
		r = fchmodat(pt->proc_fd, name, mode & 07777, 0);
	}
	return r < 0 ? -errno : 0;
}

int pt_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *attr, uint32_t to_set,
	       uint64_t fh, struct stat *ret_attr, double *ret_timeout)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n;
	int fd;
	int r = inode_begin(pt, ino, &n, &fd);
	if (r < 0)
		return r;
	struct pt_fh *f = (to_set & FS_SET_FH) ? pt_fh_get(pt, fh, PT_FH_FILE) : NULL;
	if (f && f->inode != n) { /* an fh of another file: not this request's to use */
		pt_fh_put(pt, f);
		f = NULL;
	}
	int hfd = f ? f->fd : -1;
	int wfd = f && (f->flags & O_ACCMODE) != O_RDONLY ? f->fd : -1; /* ftruncate needs a writable open */
	/* a write-back WRITE in flight must not put back the mtime it found over this one (pt-file.c) */
	bool mtime = to_set & (FS_SET_MTIME | FS_SET_MTIME_NOW);
	if (mtime)
		pthread_mutex_lock(&n->mtime_mu);
	/* chown, truncate and a setgid mode keep or clear suid/sgid by CAP_FSETID; times and plain modes do not */
	if ((to_set & (FS_SET_UID | FS_SET_GID | FS_SET_SIZE)) || ((to_set & FS_SET_MODE) && (attr->st_mode & S_ISGID)))
		thread_fsetid_restore();

	/* owner before mode: a chown clears set-user-ID, which must not undo a mode set in the same request */
	if (to_set & (FS_SET_UID | FS_SET_GID)) {
		uid_t uid = (to_set & FS_SET_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FS_SET_GID) ? attr->st_gid : (gid_t)-1;
		r = fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	}
	if (r == 0 && (to_set & FS_SET_MODE))
		r = set_mode(pt, n, fd, hfd, attr->st_mode);
	if (r == 0 && (to_set & FS_SET_SIZE))
		r = set_size(pt, n, fd, wfd, attr->st_size);
	if (r == 0 && (to_set & (FS_SET_ATIME | FS_SET_MTIME | FS_SET_ATIME_NOW | FS_SET_MTIME_NOW)))
		r = set_times(pt, n, fd, hfd, attr, to_set);
	if (r == 0 && (to_set & FS_SET_KILL_SUIDGID) && !(to_set & FS_SET_MODE) && S_ISREG(n->type)) {
		/* what a truncate or chown by an unprivileged caller does on the host; the server acts as root */
		struct stat st;
		r = pt_stat_fd(pt, n, fd, &st);
		mode_t kill = S_ISUID;
		if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
			kill |= S_ISGID;
		if (r == 0 && (st.st_mode & kill))
			r = set_mode(pt, n, fd, hfd, st.st_mode & ~kill);
	}
	if (r == 0)
		r = f ? (fstat(f->fd, ret_attr) < 0 ? -errno : 0) : pt_stat_fd(pt, n, fd, ret_attr);
	if (r == 0)
		ret_attr->st_ino = n->st_ino;
	*ret_timeout = pt->attr_timeout;
	if (mtime)
		pthread_mutex_unlock(&n->mtime_mu);
	if (f)
		pt_fh_put(pt, f);
	inode_end(pt, n);
	return r;
}

int pt_readlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size, size_t *ret_len)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n;
	int fd;
	int r = inode_begin(pt, ino, &n, &fd);
	if (r < 0)
		return r;
	if (!S_ISLNK(n->type)) {
		r = -EINVAL;
	} else {
		ssize_t k = readlinkat(fd, "", buf, size);
		if (k < 0)
			r = -errno;
		else if ((size_t)k >= size)
			r = -ENAMETOOLONG; /* possibly cut short */
		else
			*ret_len = (size_t)k;
	}
	inode_end(pt, n);
	return r;
}

/* ---- xattrs ---- */

enum xop { XGET, XSET, XLIST, XREMOVE };

struct xreq {
	enum xop op;
	const char *name;
	void *buf;
	size_t size;
	int flags;
};

/*
 * Through "self/fd/N" of the proc fd: the *xattrat syscalls (Linux 6.13) act on the inode the magic link
 * names. Older kernels: the same relative name after a per-thread fchdir to /proc (the thread's fs_struct is
 * its own, see pt-cred.c), with the path-based calls that follow the magic link to the inode and no further.
 */
static ssize_t xattr_do(struct pt *pt, int fd, const struct xreq *q)
{
	char name[32];
	pt_proc_name(name, fd);
	ssize_t r = -ENOSYS;
	switch (q->op) {
	case XGET:
		r = sys_getxattrat(pt->proc_fd, name, 0, q->name, q->buf, q->size);
		break;
	case XSET:
		r = sys_setxattrat(pt->proc_fd, name, 0, q->name, q->buf, q->size, (unsigned)q->flags);
		break;
	case XLIST:
		r = sys_listxattrat(pt->proc_fd, name, 0, q->buf, q->size);
		break;
	case XREMOVE:
		r = sys_removexattrat(pt->proc_fd, name, 0, q->name);
		break;
	}
	if (r != -ENOSYS)
		return r;
	if (!pt_thread_fs_private() || fchdir(pt->proc_fd) < 0)
		return -EOPNOTSUPP;
	switch (q->op) {
	case XGET:
		r = getxattr(name, q->name, q->buf, q->size);
		break;
	case XSET:
		r = setxattr(name, q->name, q->buf, q->size, q->flags);
		break;
	case XLIST:
		r = listxattr(name, q->buf, q->size);
		break;
	case XREMOVE:
		r = removexattr(name, q->name);
		break;
	}
	return r < 0 ? -errno : r;
}

static ssize_t xattr_op(struct fs *fs, uint64_t ino, const struct xreq *q)
{
	struct pt *pt = pt_of(fs);
	if (!pt->o.xattr)
		return -EOPNOTSUPP;
	if (q->name && (!q->name[0] || strnlen(q->name, XATTR_NAME_MAX + 1) > XATTR_NAME_MAX))
		return q->name[0] ? -ERANGE : -EINVAL;
	if (q->size > XATTR_SIZE_MAX && q->op == XSET)
		return -E2BIG;
	struct pt_inode *n;
	int fd;
	int r = inode_begin(pt, ino, &n, &fd);
	if (r < 0)
		return r;
	ssize_t k = xattr_do(pt, fd, q);
	inode_end(pt, n);
	return k;
}

/*
 * Setting an access ACL clears set-group-ID when the caller is neither in the file's group nor privileged, as
 * posix_acl_update_mode() does on the host for the caller; the server sets it as root, so it is done here.
 * Supplementary groups are not known here: only the caller's primary group counts.
 */
static void acl_kill_sgid(struct pt *pt, const struct fs_ctx *ctx, uint64_t ino)
{
	if (!ctx || ctx->uid == 0)
		return;
	struct pt_inode *n;
	int fd;
	if (inode_begin(pt, ino, &n, &fd) < 0)
		return;
	struct stat st;
	if (!S_ISLNK(n->type) && pt_stat_fd(pt, n, fd, &st) == 0 && (st.st_mode & S_ISGID) && st.st_gid != ctx->gid)
		(void)set_mode(pt, n, fd, -1, st.st_mode & 07777 & ~S_ISGID);
	inode_end(pt, n);
}

int pt_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
		size_t size, int xattr_flags, uint32_t setxattr_flags)
{
	if (xattr_flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	struct xreq q = { .op = XSET, .name = name, .buf = (void *)value, .size = size, .flags = xattr_flags };
	thread_fsetid_restore(); /* an access ACL sets the mode, and keeps sgid by it */
	ssize_t r = xattr_op(fs, ino, &q);
	if (r < 0)
		return (int)r;
	if ((setxattr_flags & FS_SETXATTR_ACL_KILL_SGID) && strcmp(name, "system.posix_acl_access") == 0)
		acl_kill_sgid(pt_of(fs), ctx, ino);
	return 0;
}

int pt_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf, size_t size,
		size_t *ret_size)
{
	struct xreq q = { .op = XGET, .name = name, .buf = size ? buf : NULL, .size = size };
	ssize_t r = xattr_op(fs, ino, &q);
	if (r < 0)
		return (int)r;
	*ret_size = (size_t)r;
	return 0;
}

int pt_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size, size_t *ret_size)
{
	struct xreq q = { .op = XLIST, .buf = size ? buf : NULL, .size = size };
	ssize_t r = xattr_op(fs, ino, &q);
	if (r < 0)
		return (int)r;
	*ret_size = (size_t)r;
	return 0;
}

int pt_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name)
{
	struct xreq q = { .op = XREMOVE, .name = name };
	thread_fsetid_restore();
	ssize_t r = xattr_op(fs, ino, &q);
	return r < 0 ? (int)r : 0;
}

/* ---- the rest ---- */

int pt_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask)
{
	struct pt *pt = pt_of(fs);
	if (mask & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	struct pt_inode *n;
	int fd;
	int r = inode_begin(pt, ino, &n, &fd);
	if (r < 0)
		return r;
	/* checked as the caller: with fsuid switched, the kernel checks with its ids and without our caps */
	struct pt_cred cred;
	r = pt_cred_enter(ctx, pt->switch_creds, &cred);
	if (r == 0)
		r = faccessat(fd, "", mask, AT_EMPTY_PATH | AT_EACCESS | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	pt_cred_leave(&cred);
	inode_end(pt, n);
	return r;
}

int pt_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *ret)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n;
	int fd;
	int r = inode_begin(pt, ino, &n, &fd);
	if (r < 0)
		return r;
	r = fstatvfs(fd, ret) < 0 ? -errno : 0;
	inode_end(pt, n);
	return r;
}

int pt_syncfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n;
	int fd;
	int r = inode_begin(pt, ino, &n, &fd);
	if (r < 0)
		return r;
	/* syncfs refuses O_PATH fds: the mount table holds a readable fd per mount */
	int mfd = pt_mount_fd(pt, n->mnt_id, fd, n->type);
	if (mfd < 0)
		mfd = pt_mount_fd(pt, pt->root->mnt_id, pt->root->fd, pt->root->type);
	r = mfd < 0 ? mfd : (syncfs(mfd) < 0 ? -errno : 0);
	inode_end(pt, n);
	return r;
}
