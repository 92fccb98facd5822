/* SPDX-License-Identifier: MIT */
/* After pivot_root: masked paths, read-only paths, the read-only root and root propagation. */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "internal.h"
#include "util/macros.h"
#include "util/syscall.h"

static int resolve(struct bxm_ctx *c, const char *path, int *ret_fd)
{
	/* a masked or read-only path that is a symlink is followed inside the root, never out of it */
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = sys_openat2(c->root_fd, path, &how);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

int bxm_mask_path(struct bxm_ctx *c, const char *path, struct bxm_error *e)
{
	bxm_err_begin(e, "mask", path);
	_cleanup_close_ int fd = -1, mnt = -1;
	int r = resolve(c, path, &fd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return bxm_fail(e, r, "openat2", NULL, NULL);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return bxm_fail(e, errno, "fstat", NULL, NULL);
	if (S_ISDIR(st.st_mode)) {
		/* an empty read-only tmpfs of its own: no runtime directory is shown in its place */
		struct bxm_options o = {
			.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			.ms_set = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			.data = (char *)"size=4k,nr_inodes=1,mode=555",
		};
		struct bxm_mount m = { .type = "tmpfs", .source = "tmpfs", .target = path, .opts = &o };
		r = bxm_fs_at(c, &m, fd, &mnt, e);
	} else {
		/* The container's /dev/null (the host's mounts are gone after pivot_root): it must really be the
		 * null device, whatever the rootfs put there. */
		_cleanup_close_ int null = -1;
		struct stat ns;
		r = resolve(c, "/dev/null", &null);
		if (r < 0)
			return bxm_err_detail(e, "no /dev/null to mask it with"), bxm_fail(e, r, "openat2", NULL, NULL);
		if (fstat(null, &ns) < 0 || !S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3))
			return bxm_err_detail(e, "/dev/null is not the null device"), bxm_fail(e, ENODEV, "fstat", NULL, NULL);
		struct bxm_options o = { .bind = true };
		struct bxm_mount m = { .type = "bind", .source = "/dev/null", .target = path, .opts = &o };
		r = bxm_bind_at(c, &m, null, fd, &mnt, e);
	}
	return r;
}

int bxm_readonly_path(struct bxm_ctx *c, const char *path, struct bxm_error *e)
{
	bxm_err_begin(e, "make read-only", path);
	_cleanup_close_ int fd = -1, mnt = -1;
	int r = resolve(c, path, &fd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return bxm_fail(e, r, "openat2", NULL, NULL);
	/* bind the path onto itself (with what is mounted below it), then read-only over the whole tree; the
	 * bind keeps the flags it had (nosuid, noexec...) */
	struct bxm_options o = { .bind = true, .rbind = true };
	struct bxm_mount m = { .type = "bind", .source = path, .target = path, .opts = &o };
	r = bxm_bind_at(c, &m, fd, fd, &mnt, e);
	if (r < 0)
		return r;
	return bxm_setattr(c, mnt, MOUNT_ATTR_RDONLY, 0, true, e);
}

int bxm_root_readonly(struct bxm_ctx *c, struct bxm_error *e)
{
	bxm_err_begin(e, "make the root read-only", "/");
	return bxm_setattr(c, c->root_fd, MOUNT_ATTR_RDONLY, 0, false, e);
}

int bxm_set_propagation(struct bxm_ctx *c, const char *path, unsigned long prop, bool recursive,
			struct bxm_error *e)
{
	bxm_err_begin(e, "set propagation of", path);
	_cleanup_close_ int fd = -1;
	int r = resolve(c, path, &fd);
	if (r < 0)
		return bxm_fail(e, r, "openat2", NULL, NULL);
	return bxm_propagate_fd(c, fd, prop, recursive, e);
}
