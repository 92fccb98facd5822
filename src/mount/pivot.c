/* SPDX-License-Identifier: MIT */
/* pivot_root into the prepared root and the detach of the old one; and the explanation of pivot_root's
 * EINVAL, which the kernel uses for three different rules. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "internal.h"
#include "util/macros.h"
#include "util/syscall.h"

/* The old root is still our copy of the host's tree, with the host's peer groups: make it a slave before
 * unmounting it, or the unmount would propagate to the host and take its mounts away. */
static int detach_old_root(bool setattr, int old_fd)
{
	if (fchdir(old_fd) < 0)
		return -errno;
	int r;
	if (setattr) {
		struct mount_attr a = { .propagation = MS_SLAVE };
		r = sys_mount_setattr(old_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a);
	} else {
		r = RET_NERRNO(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL));
	}
	if (r < 0)
		return r;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	return RET_NERRNO(chdir("/"));
}

static void explain_einval(const char *new_root, const char *put_old, struct bxm_error *e);

/* pivot_root(".", ".") into new_root_fd and the detach of the old root, for bxm_pivot and bxm_pivot_root. */
static int pivot_into(int new_root_fd, bool setattr, struct bxm_error *e)
{
	_cleanup_close_ int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old < 0)
		return bxm_fail(e, errno, "openat", NULL, NULL);
	if (fchdir(new_root_fd) < 0)
		return bxm_fail(e, errno, "fchdir", NULL, NULL);
	/* new and old root on the same directory: the old one ends up stacked on top, detached just below */
	int r = sys_pivot_root(".", ".");
	if (r < 0) {
		if (r == -EINVAL)
			explain_einval(".", NULL, e);
		return bxm_fail(e, r, "pivot_root", NULL, NULL);
	}
	r = detach_old_root(setattr, old);
	return r < 0 ? bxm_fail(e, r, "umount2", "detach the old root", "/") : 0;
}

int bxm_pivot(struct bxm_ctx *c, struct bxm_error *e)
{
	bxm_err_begin(e, "pivot_root", "/");
	if (c->root_fd < 0 || c->pivoted)
		return bxm_fail(e, EBADFD, NULL, NULL, NULL);
	int r = pivot_into(c->root_fd, c->setattr, e);
	if (r < 0)
		return r;
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return bxm_fail(e, errno, "openat", NULL, NULL);
	safe_close(c->root_fd);
	c->root_fd = TAKE_FD(root);
	c->pivoted = true;
	return 0;
}

/* Mount id and "shared:" state of the mount at path, and of its parent, from /proc/self/mountinfo. */
static int mount_info(const char *path, bool *ret_root, bool *ret_parent_shared)
{
	struct statx sx;
	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &sx) < 0)
		return -errno;
	*ret_root = (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	*ret_parent_shared = false;
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	unsigned long long parent = 0, id, pid;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "%llu %llu", &id, &pid) == 2 && id == sx.stx_mnt_id)
			parent = pid;
	rewind(f);
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "%llu", &id) == 1 && id == parent) {
			/* optional fields sit between the mount options (6th) and " - " */
			char *sep = strstr(line, " - ");
			if (sep)
				*sep = '\0';
			*ret_parent_shared = strstr(line, " shared:") != NULL;
		}
	return 0;
}

static void explain_einval(const char *new_root, const char *put_old, struct bxm_error *e)
{
	bool is_root = false, parent_shared = false;
	if (mount_info(new_root, &is_root, &parent_shared) < 0)
		return;
	if (!is_root) {
		bxm_err_detail(e, "new root is not a mount point");
		return;
	}
	if (put_old) {
		char a[PATH_MAX], b[PATH_MAX];
		if (realpath(new_root, a) && realpath(put_old, b)) {
			size_t n = strlen(a);
			bool under = strcmp(a, "/") == 0 || (strncmp(a, b, n) == 0 && (b[n] == '/' || b[n] == '\0'));
			if (!under) {
				bxm_err_detail(e, "put_old is not at or under the new root");
				return;
			}
		}
	}
	if (parent_shared) {
		bxm_err_detail(e, "the new root's parent mount is shared");
		return;
	}
	bool cur_root, cur_parent_shared;
	if (mount_info("/", &cur_root, &cur_parent_shared) == 0)
		bxm_err_detail(e, "the current root or its parent is shared, or the new root is not reachable from it");
}

int bxm_pivot_root(const char *new_root, const char *put_old, struct bxm_error *e)
{
	bxm_err_begin(e, "pivot_root", new_root);
	if (!put_old) {
		_cleanup_close_ int nr = open(new_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (nr < 0)
			return bxm_fail(e, errno, "openat", NULL, NULL);
		return pivot_into(nr, bxm_have_mount_setattr(), e);
	}
	int r = sys_pivot_root(new_root, put_old);
	if (r == -EINVAL)
		explain_einval(new_root, put_old, e);
	return r < 0 ? bxm_fail(e, r, "pivot_root", NULL, NULL) : 0;
}
