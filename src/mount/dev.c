/* SPDX-License-Identifier: MIT */
/* The default /dev of a container (OCI runtime spec, "Default Devices" and "Default Filesystems"). */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "internal.h"
#include "util/macros.h"
#include "util/syscall.h"

static const struct {
	const char *name;
	unsigned major, minor;
} nodes[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "tty", 5, 0 }, { "random", 1, 8 }, { "urandom", 1, 9 },
};

static const struct {
	const char *name, *target;
} links[] = {
	{ "ptmx", "pts/ptmx" },      { "fd", "/proc/self/fd" },        { "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
};

static int fs_mount(struct bxm_ctx *c, const char *type, const char *target, uint64_t attrs, const char *data,
		    struct bxm_error *e)
{
	struct bxm_options o = { .attr_set = attrs, .ms_set = bxm_attr_to_ms(attrs), .data = (char *)data };
	struct bxm_mount m = { .type = type, .source = type, .target = target, .opts = &o };
	return bxm_mount(c, &m, e);
}

int bxm_dev_setup(struct bxm_ctx *c, unsigned what, struct bxm_error *e)
{
	int r;
	if (what & BXM_DEV_TMPFS) {
		r = fs_mount(c, "tmpfs", "/dev", MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME, "mode=755,size=65536k", e);
		if (r < 0)
			return r;
	}
	_cleanup_close_ int dev = -1;
	r = bxm_mkpath_in_root(c->root_fd, "/dev", false, &dev);
	if (r < 0)
		return bxm_fail(e, r, "openat2", "open", "/dev");

	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/%s", nodes[i].name);
		if (c->flags & BXM_USERNS) {
			/* mknod is refused in a user namespace: bind the host's node onto an empty file */
			struct bxm_options o = { .bind = true };
			struct bxm_mount m = { .type = "bind", .source = path, .target = path, .opts = &o };
			r = bxm_mount(c, &m, e);
			if (r < 0)
				return r;
			continue;
		}
		if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) < 0) {
			if (errno == EEXIST)
				continue;
			return bxm_fail(e, errno, "mknodat", "create device", path);
		}
		/* mknod applied the umask */
		if (fchmodat(dev, nodes[i].name, 0666, 0) < 0)
			return bxm_fail(e, errno, "fchmodat", "create device", path);
	}
	if (what & BXM_DEV_PTS) {
		/* gid 5 (tty) only means something when it is mapped; in a user namespace leave the default */
		const char *data = c->flags & BXM_USERNS ? "newinstance,ptmxmode=0666,mode=0620"
							 : "newinstance,ptmxmode=0666,mode=0620,gid=5";
		r = fs_mount(c, "devpts", "/dev/pts", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, data, e);
		if (r < 0)
			return r;
	}
	if (what & BXM_DEV_SHM) {
		r = fs_mount(c, "tmpfs", "/dev/shm", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			     "mode=1777,size=65536k", e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
			return bxm_fail(e, errno, "symlinkat", "create symlink /dev/", links[i].name);
	return 0;
}
