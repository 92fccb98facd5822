/* SPDX-License-Identifier: MIT */
/* The mount context: kernel feature probes, the private procfs instance, and the root's preparation. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "internal.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

#ifndef OPEN_TREE_NAMESPACE
#define OPEN_TREE_NAMESPACE (1u << 1) /* Linux 7.0: the clone becomes the root of a new mount namespace */
#endif

/* Probe results: 0 unknown, 1 yes, -1 no. One process probes once; the answers never change. */
static int have_api, have_setattr, have_otns;

bool bxm_have_new_api(void)
{
	if (!have_api) {
		/* An empty name is refused after the syscall is found: anything but ENOSYS means it exists. */
		int r = sys_fsopen("", FSOPEN_CLOEXEC);
		if (r >= 0)
			close(r);
		have_api = r == -ENOSYS ? -1 : 1;
	}
	return have_api > 0;
}

bool bxm_have_mount_setattr(void)
{
	if (!have_setattr) {
		struct mount_attr a = { 0 };
		int r = sys_mount_setattr(-1, "", AT_EMPTY_PATH, &a);
		have_setattr = r == -ENOSYS ? -1 : 1;
	}
	return have_setattr > 0;
}

bool bxm_have_open_tree_namespace(void)
{
	if (!have_otns) {
		/* Flags are checked before the path: EINVAL = unknown flag, EBADF = the flag is known. */
		int r = sys_open_tree(-1, "x", OPEN_TREE_NAMESPACE | OPEN_TREE_CLOEXEC);
		if (r >= 0)
			close(r);
		have_otns = r == -EINVAL || r == -ENOSYS ? -1 : 1;
	}
	return have_otns > 0;
}

static int proc_instance_api(int *ret_fd, struct bxm_error *e)
{
	_cleanup_close_ int fs = sys_fsopen("proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		return bxm_fail(e, fs, "fsopen", "mount private proc", NULL);
	int r = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r < 0)
		return bxm_fail(e, r, "fsconfig", "mount private proc", NULL);
	r = sys_fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (r < 0)
		return bxm_fail(e, r, "fsmount", "mount private proc", NULL);
	*ret_fd = r;
	return 0;
}

int bxm_ctx_new(unsigned flags, struct bxm_ctx **ret, struct bxm_error *e)
{
	struct bxm_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return bxm_fail(e, ENOMEM, NULL, "allocate mount context", NULL);
	c->flags = flags;
	c->proc_fd = c->root_fd = c->userns_fd = -1;
	c->bundle_fd = AT_FDCWD;
	c->new_api = !(flags & BXM_LEGACY) && bxm_have_new_api();
	/* mount_setattr is newer than the rest (5.12): a forced fallback does without it too, so the fallback
	 * path is the one an old kernel takes. */
	c->setattr = !(flags & BXM_LEGACY) && bxm_have_mount_setattr();
	if (c->new_api) {
		int r = proc_instance_api(&c->proc_fd, e);
		if (r < 0) {
			bxm_ctx_free(c);
			return r;
		}
	}
	/* mount(2) cannot make a detached procfs: bxm_root_prepare mounts it briefly on the new root. */
	log_debug("mount: %s API, mount_setattr %s, OPEN_TREE_NAMESPACE %s", c->new_api ? "new" : "mount(2)",
		  c->setattr ? "yes" : "no", bxm_have_open_tree_namespace() ? "yes" : "no");
	*ret = c;
	return 0;
}

void bxm_ctx_free(struct bxm_ctx *c)
{
	if (!c)
		return;
	safe_close(c->proc_fd);
	safe_close(c->root_fd);
	if (c->bundle_fd >= 0)
		safe_close(c->bundle_fd);
	safe_close(c->userns_fd);
	free(c);
}

int bxm_ctx_set_bundle(struct bxm_ctx *c, int fd)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return -errno;
	if (c->bundle_fd >= 0)
		close(c->bundle_fd);
	c->bundle_fd = n;
	return 0;
}

int bxm_ctx_set_userns(struct bxm_ctx *c, int fd)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return -errno;
	safe_close(c->userns_fd);
	c->userns_fd = n;
	return 0;
}

bool bxm_ctx_new_api(const struct bxm_ctx *c)
{
	return c->new_api;
}

int bxm_ctx_proc_fd(const struct bxm_ctx *c)
{
	return c->proc_fd;
}

/* Path of an fd through the host's /proc, for the few mount(2) calls made before the private procfs exists
 * (the host's procfs resolves thread-self from any descendant pid namespace). */
static void host_fdpath(int fd, char buf[64])
{
	snprintf(buf, 64, "/proc/thread-self/fd/%d", fd);
}

/* After mount(2) on the directory fd names, the fd still names what is under the new mount: open the mount
 * on top, by fd's canonical path (as the host's /proc shows it) with no symlink allowed, so neither the spec's
 * root.path nor anything in it is resolved again, and check that it is a mount root sitting where fd is. */
static int reopen_root(int fd, int *ret_fd)
{
	char link[64], path[PATH_MAX];
	host_fdpath(fd, link);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0 || path[0] != '/')
		return n < 0 ? -errno : -ESTALE;
	path[n] = '\0';
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int nfd = sys_openat2(AT_FDCWD, path, &how);
	if (nfd < 0)
		return nfd;
	struct statx a, b;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &a) < 0 || statx(nfd, "", AT_EMPTY_PATH, STATX_MNT_ID, &b) < 0)
		return -errno;
	if (!(b.stx_attributes & STATX_ATTR_MOUNT_ROOT) || a.stx_mnt_id == b.stx_mnt_id)
		return -ESTALE;
	*ret_fd = TAKE_FD(nfd);
	return 0;
}

static int legacy_proc_instance(struct bxm_ctx *c, struct bxm_error *e)
{
	char p[64];
	host_fdpath(c->root_fd, p);
	/* The root bind is private or a slave here, so nothing of this reaches the host. */
	if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return bxm_fail(e, errno, "mount", "mount private proc", "/");
	_cleanup_close_ int fd = -1;
	int r = reopen_root(c->root_fd, &fd);
	struct statfs sf;
	if (r == 0 && (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC))
		r = -ESTALE;
	if (r == 0) {
		_cleanup_close_ int dir = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = dir < 0 ? -errno : 0;
		host_fdpath(fd, p);
		if (umount2(p, MNT_DETACH) < 0 && r == 0)
			r = -errno;
		if (r == 0)
			c->proc_fd = TAKE_FD(dir);
	}
	return r < 0 ? bxm_fail(e, r, "umount2", "mount private proc", "/") : 0;
}

/* The root of the mount fd lies in: propagation can only be changed there. ".." stays inside a mount
 * until its root, where it crosses to the parent mount, so stop at the first mount root met going up. */
static int mount_root_of(int fd, int *ret_fd)
{
	_cleanup_close_ int cur = openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (int depth = 0; cur >= 0 && depth < 4096; depth++) {
		struct statx sx;
		if (statx(cur, "", AT_EMPTY_PATH, 0, &sx) < 0)
			return -errno;
		if (!(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
			return -EOPNOTSUPP;
		if (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) {
			*ret_fd = TAKE_FD(cur);
			return 0;
		}
		int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		safe_close(cur);
		cur = up;
	}
	return cur < 0 ? -errno : -ELOOP;
}

/* Propagation of the mount at fd (the root of a mount), before the private procfs exists. */
static int propagate_early(struct bxm_ctx *c, int fd, unsigned long prop, bool recursive)
{
	if (c->setattr) {
		struct mount_attr a = { .propagation = prop };
		return sys_mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a);
	}
	char p[64];
	host_fdpath(fd, p);
	return RET_NERRNO(mount(NULL, p, NULL, prop | (recursive ? MS_REC : 0), NULL));
}

int bxm_root_prepare(struct bxm_ctx *c, const char *rootfs, unsigned long prop, struct bxm_error *e)
{
	bool rec = prop & MS_REC;
	unsigned long p = prop & ~(unsigned long)MS_REC;
	int r;
	bxm_err_begin(e, "prepare root", rootfs);
	if (!p)
		p = MS_PRIVATE, rec = true;

	/* 1. Nothing done from here on may reach the host: "/" of this namespace gets the spec's propagation
	 *    (rprivate by default; rslave/rshared keep the host's peer groups on purpose). "unbindable" is
	 *    about the container's root only (the OCI spec: "a private mount that cannot be bind-mounted"):
	 *    applied to the host's copies it would make every bind source, the rootfs included, refuse to be
	 *    bound, so the tree gets "private" here and the root gets "unbindable" after pivot_root. */
	_cleanup_close_ int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (slash < 0)
		return bxm_fail(e, errno, "openat", "set propagation of", "/");
	r = propagate_early(c, slash, p == MS_UNBINDABLE ? MS_PRIVATE : p, rec);
	if (r < 0)
		return bxm_fail(e, r, c->setattr ? "mount_setattr" : "mount", "set propagation of", "/");

	_cleanup_close_ int rfd = openat(c->bundle_fd, rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return bxm_fail(e, errno, "openat", "open rootfs", rootfs);
	struct stat st;
	if (fstat(rfd, &st) < 0)
		return bxm_fail(e, errno, "fstat", "open rootfs", rootfs);
	char hp[64];
	host_fdpath(rfd, hp);

	/* 2. The mount holding the rootfs, in this namespace only, whatever step 1 did: a non-recursive
	 *    propagation left it as the host has it, and when that is shared, the bind of step 3 would
	 *    propagate to the host's peers (with every mount made under it afterwards) and pivot_root would
	 *    refuse the shared parent. A slave stays a slave, so "slave" keeps receiving the host's mounts. */
	_cleanup_close_ int pfd = -1;
	r = mount_root_of(rfd, &pfd);
	if (r < 0)
		return bxm_fail(e, r, "openat", "find the mount holding", rootfs);
	r = propagate_early(c, pfd, p == MS_SLAVE ? MS_SLAVE : MS_PRIVATE, false);
	if (r < 0)
		return bxm_fail(e, r, c->setattr ? "mount_setattr" : "mount", "make private the mount holding", rootfs);

	/* 3. The rootfs bound onto itself: a mount root pivot_root accepts, and the container's root. */
	if (c->new_api) {
		_cleanup_close_ int tree = sys_open_tree(rfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
								   AT_EMPTY_PATH);
		if (tree < 0)
			return bxm_fail(e, tree, "open_tree", "bind rootfs", rootfs);
		r = sys_move_mount(tree, "", rfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
		if (r < 0)
			return bxm_fail(e, r, "move_mount", "bind rootfs", rootfs);
		c->root_fd = TAKE_FD(tree);
	} else {
		if (mount(hp, hp, NULL, MS_BIND | MS_REC, NULL) < 0)
			return bxm_fail(e, errno, "mount", "bind rootfs", rootfs);
		r = reopen_root(rfd, &c->root_fd);
		/* the bind's root is the rootfs directory itself */
		struct stat nst;
		if (r == 0 && (fstat(c->root_fd, &nst) < 0 || nst.st_dev != st.st_dev || nst.st_ino != st.st_ino))
			r = -ESTALE;
		if (r < 0)
			return bxm_fail(e, r, "openat", "open rootfs", rootfs);
		r = legacy_proc_instance(c, e);
		if (r < 0)
			return r;
	}
	log_debug("mount: root prepared at %s", rootfs);
	return 0;
}
