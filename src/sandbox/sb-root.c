/* SPDX-License-Identifier: MIT */
/*
 * Building the confined server's root (namespace and chroot modes) with the new mount API.
 *
 * Why re-root the held fds: an fd opened on the host before confinement names a host mount; openat(fd, "..")
 * from the top of a share walks up into the host's tree whatever the process root is. A bind mount whose root
 * is the share directory stops ".." there (the kernel does not step above the root of a mount that has no
 * parent, nor above the mount ns root), as virtiofsd's pivot_root into the shared directory does.
 */
#include "sb-root.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

#define PROC_ROOT_INO 1

struct held {
	int fd;      /* the number the server uses */
	int flags;   /* F_GETFL: access mode, O_PATH... */
	int fdflags; /* F_GETFD: FD_CLOEXEC */
	bool proc;   /* the root of a procfs */
	int src;     /* the replacement's source: a clone of the directory's tree (not for proc), or -1 */
};

struct held_list {
	struct held *v;
	size_t n;
};

static void held_list_done(struct held_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		safe_close(l->v[i].src);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int held_add(struct held_list *l, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	int flags = fcntl(fd, F_GETFL), fdflags = fcntl(fd, F_GETFD);
	if (flags < 0 || fdflags < 0)
		return -errno;
	struct held *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = (struct held){
		.fd = fd,
		.flags = flags,
		.fdflags = fdflags,
		.proc = sfs.f_type == PROC_SUPER_MAGIC && st.st_ino == PROC_ROOT_INO,
		.src = -1,
	};
	return 0;
}

/* Every directory fd of the process. /proc/self/fd when there is a /proc; else every number below the limit. */
static int held_collect(struct held_list *l)
{
	_cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
	int r;
	if (d) {
		struct dirent *de;
		while ((errno = 0, de = readdir(d))) {
			char *end;
			long fd = strtol(de->d_name, &end, 10);
			if (de->d_name[0] == '.' || *end || fd < 0 || fd > INT32_MAX || fd == dirfd(d))
				continue;
			if ((r = held_add(l, (int)fd)) < 0)
				return r;
		}
		return errno ? -errno : 0;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	rlim_t max = MIN(rl.rlim_cur, (rlim_t)1 << 20);
	for (rlim_t fd = 0; fd < max; fd++)
		if (fcntl((int)fd, F_GETFD) >= 0 && (r = held_add(l, (int)fd)) < 0)
			return r;
	return 0;
}

/* A private copy of the tree under fd, rooted at fd's directory (detached until attached). */
static int clone_tree(int fd)
{
	return sys_open_tree(fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
}

/* A group we are not in: procfs's hidepid exempts the members of its gid= group (0 by default, which a root
 * server is in). */
static gid_t foreign_gid(void)
{
	gid_t groups[256];
	int n = getgroups(ARRAY_SIZE(groups), groups);
	for (gid_t g = 65534; g > 60000; g--) {
		bool ours = g == getgid() || g == getegid();
		for (int i = 0; i < n && !ours; i++)
			ours = groups[i] == g;
		if (!ours)
			return g;
	}
	return 65534;
}

/* A new procfs instance of our pid namespace with only the pid directories (no /proc/sys, no kcore...) and
 * only the processes we may ptrace. Detached: its fd is all there is of it. */
static int fresh_proc(void)
{
	_cleanup_close_ int fs = sys_fsopen("proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		return fs;
	char gid[16];
	snprintf(gid, sizeof(gid), "%u", (unsigned)foreign_gid());
	int r;
	/* subset= and hidepid=invisible are 5.8's; an older kernel still gets hidepid=2 and the pid namespace */
	if ((r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "subset", "pid", 0)) < 0 && r != -EINVAL)
		return r;
	if ((r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "hidepid", "invisible", 0)) == -EINVAL)
		r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "hidepid", "2", 0);
	if (r < 0 ||
	    (r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "gid", gid, 0)) < 0 ||
	    (r = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) < 0)
		return r;
	return sys_fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

/* The new root: a tiny tmpfs, nothing executable, nothing device. */
static int empty_tmpfs(void)
{
	_cleanup_close_ int fs = sys_fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return fs;
	int r;
	if ((r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "size", "64k", 0)) < 0 ||
	    (r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", "64", 0)) < 0 ||
	    (r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0)) < 0 ||
	    (r = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) < 0)
		return r;
	return sys_fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
}

/* Put an fd on src's root directory under h's number, with h's open flags and close-on-exec flag. */
static int held_replace(const struct held *h, int src)
{
	int oflags = O_DIRECTORY | O_CLOEXEC;
	if (h->flags & O_PATH)
		oflags |= O_PATH;
	else
		oflags |= h->flags & (O_ACCMODE | O_NOATIME | O_NONBLOCK);
	_cleanup_close_ int fd = openat(src, ".", oflags);
	if (fd < 0)
		return -errno;
	if (dup3(fd, h->fd, (h->fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		return -errno;
	return 0;
}

/* A directory of the host tree to hang the new root on (in our own mount namespace: the host never sees it). */
static int attach_point(void)
{
	static const char *const cand[] = { "/tmp", "/mnt", "/run", "/dev", "/proc", "/sys" };
	for (size_t i = 0; i < ARRAY_SIZE(cand); i++) {
		int fd = open(cand[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -ENOENT;
}

int sb_root_namespace(bool with_proc, bool readonly)
{
	_cleanup_(held_list_done) struct held_list l = {};
	int r;

	/* Clones first: open_tree only copies mounts of the caller's own mount namespace. */
	if ((r = held_collect(&l)) < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].proc)
			continue;
		l.v[i].src = clone_tree(l.v[i].fd);
		if (l.v[i].src < 0) {
			log_debug("sandbox: open_tree(fd %d): %d", l.v[i].fd, l.v[i].src);
			return l.v[i].src;
		}
	}

	/* Beyond mount and network: IPC (no SysV objects or POSIX queues of the host) and cgroup (our cgroup path,
	 * /proc/self/cgroup, tells nothing of the host's hierarchy). */
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWCGROUP) < 0)
		return -errno;
	/* Host mounts still propagate into our copy of the tree (and into the clones: see below); none of ours
	 * go back out. Also required by pivot_root, which refuses shared mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -errno;

	_cleanup_close_ int proc = -1;
	bool need_proc = with_proc;
	for (size_t i = 0; i < l.n; i++)
		need_proc |= l.v[i].proc;
	if (need_proc && (proc = fresh_proc()) < 0) {
		log_debug("sandbox: new procfs: %d", proc);
		return proc;
	}

	_cleanup_close_ int root = empty_tmpfs();
	if (root < 0)
		return root;
	_cleanup_close_ int at = attach_point();
	if (at < 0)
		return at;
	if ((r = sys_move_mount(root, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) < 0)
		return r;
	if (mkdirat(root, "root", 0555) < 0)
		return -errno;
	if (with_proc) {
		if (mkdirat(root, "root/proc", 0555) < 0)
			return -errno;
		if ((r = sys_move_mount(proc, "", root, "root/proc", MOVE_MOUNT_F_EMPTY_PATH)) < 0)
			return r;
	}

	/*
	 * The clones hang in our tree (not detached) so that host mounts keep propagating into them: a clone of a
	 * shared host mount joined the host's peer group; made a slave, it receives and never sends.
	 */
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].proc)
			continue;
		char name[32];
		snprintf(name, sizeof(name), "fd%d", l.v[i].fd);
		if (mkdirat(root, name, 0) < 0)
			return -errno;
		if ((r = sys_move_mount(l.v[i].src, "", root, name, MOVE_MOUNT_F_EMPTY_PATH)) < 0)
			return r;
		struct mount_attr attr = { .propagation = MS_SLAVE, .attr_set = readonly ? MOUNT_ATTR_RDONLY : 0 };
		if ((r = sys_mount_setattr(root, name, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attr)) < 0)
			return r;
	}

	for (size_t i = 0; i < l.n; i++)
		if ((r = held_replace(&l.v[i], l.v[i].proc ? proc : l.v[i].src)) < 0)
			return r;

	/* Read-only, this mount only: the clones below stay as writable as the shares are. */
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	if ((r = sys_mount_setattr(root, "", AT_EMPTY_PATH, &ro)) < 0)
		return r;

	/* pivot_root(".", ".") stacks the old root on the new one; the lazy unmount then drops it whole. */
	if (fchdir(root) < 0)
		return -errno;
	if ((r = sys_pivot_root(".", ".")) < 0)
		return r;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	/* The process root is the empty directory: the clones' mount points are not even names to it. */
	if (chdir("/root") < 0 || chroot(".") < 0 || chdir("/") < 0)
		return -errno;
	return 0;
}

/* Make a fresh directory under parent, hold it, and remove it: an empty root nothing can be created in. */
static int dead_dir(int parent)
{
	for (unsigned attempt = 0; attempt < 16; attempt++) {
		char name[64];
		snprintf(name, sizeof(name), ".boxshare-root-%d-%u", (int)getpid(), attempt);
		if (mkdirat(parent, name, 0) < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		int fd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int r = fd < 0 ? -errno : 0;
		if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && r == 0)
			r = -errno;
		if (r < 0) {
			safe_close(fd);
			return r;
		}
		return fd;
	}
	return -EEXIST;
}

/* Errors that mean "this host does not let us" rather than "something is wrong". */
static bool refused(int r)
{
	return r == -EPERM || r == -EACCES || r == -ENOSYS || r == -EINVAL;
}

int sb_root_chroot(bool readonly)
{
	_cleanup_(held_list_done) struct held_list l = {};
	int r;

	if ((r = held_collect(&l)) < 0)
		return r;
	_cleanup_close_ int proc = -1;
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].proc && proc < 0) {
			proc = fresh_proc();
			if (proc < 0 && !refused(proc))
				return proc;
		}
		int src = l.v[i].proc ? proc : (l.v[i].src = clone_tree(l.v[i].fd));
		if (src < 0) {
			if (!refused(src))
				return src;
			log_debug("sandbox: fd %d kept as it is (%d)", l.v[i].fd, src);
			continue;
		}
		struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
		if (readonly && !l.v[i].proc &&
		    (r = sys_mount_setattr(src, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro)) < 0)
			return r;
		if ((r = held_replace(&l.v[i], src)) < 0)
			return r;
	}

	static const char *const parents[] = { "/run", "/tmp" };
	_cleanup_close_ int dir = -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(parents) && dir < 0; i++) {
		_cleanup_close_ int p = open(parents[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (p >= 0)
			dir = dead_dir(p);
	}
	if (dir < 0)
		return dir;
	if (fchdir(dir) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return -errno;
	return 0;
}
