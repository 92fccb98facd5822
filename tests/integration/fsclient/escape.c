/* SPDX-License-Identifier: MIT */
/*
 * fsclient: escape attempts through the kernel. The share holds (made on the host side) symlinks that point at
 * a sentinel outside the share, device nodes, a fifo and a unix socket. Through the client we use every
 * no-follow operation on the links and try to open the special files. The outside sentinel must never change
 * (the runner also snapshots the whole outside directory before and after the run).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fsc.h"

static char target_abs[PATH_MAX + 128]; /* the sentinel file outside the share */
static char outdir_abs[PATH_MAX + 128]; /* a directory outside the share */
static char prep_dir[64];          /* outside/<prep_dir> holds both */

/* Made before the outside snapshot is taken: the sentinel with a known mode, owner, times and xattr. */
int fsc_escape_prepare(struct fsc *c)
{
	char real[PATH_MAX];
	if (!realpath(c->outside_path, real))
		return -errno;
	snprintf(prep_dir, sizeof(prep_dir), "fsc.%d", (int)getpid());
	if (mkdirat(c->outsidefd, prep_dir, 0755) < 0)
		return -errno;
	snprintf(target_abs, sizeof(target_abs), "%s/%s/target", real, prep_dir);
	snprintf(outdir_abs, sizeof(outdir_abs), "%s/%s/dir", real, prep_dir);
	if (mkdir(outdir_abs, 0755) < 0)
		return -errno;
	int fd = open(target_abs, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int r = write(fd, "sentinel", 8) == 8 ? 0 : -EIO;
	if (r == 0 && fsetxattr(fd, "user.sentinel", "orig", 4, 0) < 0 && errno != EOPNOTSUPP)
		r = -errno;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	if (r == 0 && futimens(fd, ts) < 0)
		r = -errno;
	close(fd);
	return r;
}

void fsc_escape_cleanup(struct fsc *c)
{
	if (prep_dir[0])
		fsc_rm_rf(c->outsidefd, prep_dir);
}

static int need_host(struct fsc *c)
{
	if (c->hd < 0 || c->outsidefd < 0 || !target_abs[0]) {
		fsc_reason(c, __LINE__, "needs --host and --outside");
		return 1;
	}
	return 0;
}

/* The sentinel as it was made: any difference is an escape. */
static int target_intact(struct fsc *c, const char *after_what, int line)
{
	struct stat st;
	char v[16];
	if (lstat(target_abs, &st) < 0) {
		fsc_reason(c, line, "after %s: the outside target is gone: %s", after_what, strerror(errno));
		return -1;
	}
	ssize_t n = lgetxattr(target_abs, "user.sentinel", v, sizeof(v));
	if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0640 || st.st_uid != 0 || st.st_gid != 0 ||
	    st.st_size != 8 || st.st_mtim.tv_sec != 1000000000 || st.st_atim.tv_sec != 1000000000 ||
	    st.st_nlink != 1 || (n >= 0 && (n != 4 || memcmp(v, "orig", 4)))) {
		fsc_reason(c, line, "after %s: the target OUTSIDE the share changed: mode %o owner %u:%u size %lld "
				    "mtime %lld atime %lld nlink %lu xattr %zd",
			   after_what, st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size,
			   (long long)st.st_mtim.tv_sec, (long long)st.st_atim.tv_sec, (unsigned long)st.st_nlink, n);
		return -1;
	}
	return 0;
}
#define INTACT(what)                                                                                             \
	do {                                                                                                     \
		if (target_intact(c, (what), __LINE__) < 0)                                                      \
			return -1;                                                                               \
	} while (0)

static int check_symlink_nofollow(struct fsc *c)
{
	if (need_host(c))
		return 1;
	if (geteuid() != 0)
		SKIP("needs root (lchown, trusted xattrs)");
	/* an absolute link and a relative one that climbs far above the share */
	char rel[PATH_MAX] = "";
	for (int i = 0; i < 40; i++)
		strcat(rel, "../");
	strcat(rel, target_abs + 1);
	MUST(symlinkat(target_abs, c->hd, "abs"));
	MUST(symlinkat(rel, c->hd, "rel"));
	INTACT("setup");
	static const char *const links[] = { "abs", "rel" };
	for (int i = 0; i < 2; i++) {
		const char *l = links[i];
		char path[PATH_MAX];
		struct stat st, hst;
		snprintf(path, sizeof(path), "%s/%s/%s", c->root_path, c->dir_rel, l);
		/* lstat sees the link, not the target */
		MUST(lstat(path, &st));
		CHECK(S_ISLNK(st.st_mode), "lstat %s: mode %o", l, st.st_mode);
		/* lchown changes the link */
		MUST(lchown(path, 4321, 4322));
		INTACT("lchown of the link");
		MUST(fstatat(c->hd, l, &hst, AT_SYMLINK_NOFOLLOW));
		CHECK(hst.st_uid == 4321 && hst.st_gid == 4322, "lchown did not change the link: %u:%u", hst.st_uid,
		      hst.st_gid);
		MUST(fchownat(c->d, l, 0, 0, AT_SYMLINK_NOFOLLOW));
		INTACT("fchownat AT_SYMLINK_NOFOLLOW");
		/* utimensat with AT_SYMLINK_NOFOLLOW changes the link's times */
		struct timespec ts[2] = { { 1500000000, 1 }, { 1600000000, 2 } };
		MUST(utimensat(c->d, l, ts, AT_SYMLINK_NOFOLLOW));
		INTACT("utimensat AT_SYMLINK_NOFOLLOW");
		MUST(fstatat(c->hd, l, &hst, AT_SYMLINK_NOFOLLOW));
		CHECK(hst.st_mtim.tv_sec == 1600000000 && hst.st_mtim.tv_nsec == 2, "the link's mtime is %lld.%ld",
		      (long long)hst.st_mtim.tv_sec, hst.st_mtim.tv_nsec);
		struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
		MUST(utimensat(c->d, l, now, AT_SYMLINK_NOFOLLOW));
		INTACT("utimensat UTIME_NOW AT_SYMLINK_NOFOLLOW");
		/* xattrs of the link: trusted.* may live on a symlink; user.* may not (EPERM), on either side */
		int xr = lsetxattr(path, "trusted.bx", "link", 4, 0), xe = errno;
		INTACT("lsetxattr");
		char hp[PATH_MAX], v[64];
		snprintf(hp, sizeof(hp), "%s/%s/%s", c->host_path, c->dir_rel, l);
		ssize_t n = lgetxattr(hp, "trusted.bx", v, sizeof(v));
		/* a server without CAP_SYS_ADMIN refuses trusted.* (EPERM): then nothing may have changed */
		bool refused = xr < 0 && xe == EPERM && !c->oracle;
		CHECK(xr == 0 || refused, "lsetxattr trusted.bx of the link: %s", strerror(xe));
		CHECK(refused ? n < 0 : n == 4 && !memcmp(v, "link", 4), "lsetxattr did not land on the link (host: %zd)",
		      n);
		MUST_FAIL(lsetxattr(path, "user.bx", "x", 1, 0), EPERM);
		INTACT("lsetxattr user.*");
		MUST_FAIL(lgetxattr(path, "user.sentinel", v, sizeof(v)), ENODATA);
		n = MUST(llistxattr(path, v, sizeof(v)));
		for (ssize_t k = 0; k < n; k += (ssize_t)strlen(v + k) + 1)
			CHECK(strcmp(v + k, "user.sentinel"), "llistxattr of the link lists the target's xattr");
		if (!refused)
			MUST(lremovexattr(path, "trusted.bx"));
		MUST_FAIL2(lremovexattr(path, "user.sentinel"), EPERM, ENODATA);
		INTACT("lremovexattr");
		/* hard-linking, renaming and removing the link touch only the link */
		char l2[16];
		snprintf(l2, sizeof(l2), "%s.2", l);
		MUST(linkat(c->d, l, c->d, l2, 0));
		MUST(fstatat(c->hd, l2, &hst, AT_SYMLINK_NOFOLLOW));
		CHECK(S_ISLNK(hst.st_mode), "linkat of the link made a %o on the host", hst.st_mode);
		MUST(renameat(c->d, l2, c->d, "renamed"));
		MUST(unlinkat(c->d, "renamed", 0));
		INTACT("link, rename and unlink of the link");
		/* the link's target reads back verbatim */
		char buf[PATH_MAX];
		n = MUST(readlinkat(c->d, l, buf, sizeof(buf)));
		CHECK((size_t)n == strlen(i ? rel : target_abs), "readlink of %s: %zd bytes", l, n);
		/* O_NOFOLLOW|O_PATH opens the link itself; O_NOFOLLOW alone refuses */
		MUST_FAIL(openat(c->d, l, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), ELOOP);
		int pfd = MUST(openat(c->d, l, O_PATH | O_NOFOLLOW | O_CLOEXEC));
		MUST(fstat(pfd, &st));
		close(pfd);
		CHECK(S_ISLNK(st.st_mode), "O_PATH|O_NOFOLLOW gave a %o", st.st_mode);
	}
	/* a directory link: creating beside it and removing it leaves the outside directory alone */
	MUST(symlinkat(outdir_abs, c->hd, "dirlink"));
	MUST_FAIL(unlinkat(c->d, "dirlink", AT_REMOVEDIR), ENOTDIR);
	MUST(unlinkat(c->d, "dirlink", 0));
	struct stat st;
	MUST(stat(outdir_abs, &st));
	INTACT("the end");
	return 0;
}

/* Device nodes made on the host inside the share cannot be opened through it (the mount is nodev and the
 * server opens only regular files and directories). */
static int check_devnodes(struct fsc *c)
{
	if (need_host(c))
		return 1;
	if (geteuid() != 0)
		SKIP("mknod needs root");
	struct stat root;
	MUST(stat("/", &root));
	MUST(mknodat(c->hd, "null", S_IFCHR | 0666, makedev(1, 3)));
	MUST(mknodat(c->hd, "mem", S_IFCHR | 0600, makedev(1, 1)));
	MUST(mknodat(c->hd, "disk", S_IFBLK | 0600, root.st_dev));
	struct stat st;
	MUST(fstatat(c->d, "disk", &st, 0)); /* looking it up is fine */
	CHECK(S_ISBLK(st.st_mode) && st.st_rdev == root.st_dev, "disk node: mode %o rdev %llx", st.st_mode,
	      (unsigned long long)st.st_rdev);
	if (c->oracle)
		SKIP("a native directory opens device nodes");
	static const struct {
		const char *name;
		int flags;
	} tries[] = { { "null", O_RDWR }, { "null", O_RDONLY }, { "mem", O_RDONLY }, { "disk", O_RDONLY },
		      { "disk", O_RDWR } };
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		int fd = openat(c->d, tries[i].name, tries[i].flags | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			FAIL("opening the device node '%s' (flags %o) through the share succeeded", tries[i].name,
			     tries[i].flags);
		}
	}
	return 0;
}

static int check_fifo(struct fsc *c)
{
	if (need_host(c))
		return 1;
	MUST(mkfifoat(c->hd, "fifo", 0666));
	int hr = MUST(openat(c->hd, "fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	int mw = openat(c->d, "fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (mw >= 0) {
		ssize_t w = write(mw, "through-the-share", 17);
		close(mw);
		(void)w;
	}
	char buf[64];
	ssize_t n = read(hr, buf, sizeof(buf));
	if (c->oracle) {
		close(hr);
		SKIP("a native fifo is the host's fifo");
	}
	CHECK(n <= 0, "a write into the fifo through the share reached the host's reader (%zd bytes)", n);
	/* the other way round: the host writes, a reader through the share gets nothing */
	int mr = openat(c->d, "fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int hw = openat(c->hd, "fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (hw >= 0) {
		ssize_t w = write(hw, "from-the-host", 13);
		(void)w;
		close(hw);
	}
	n = mr >= 0 ? read(mr, buf, sizeof(buf)) : -1;
	if (mr >= 0)
		close(mr);
	close(hr);
	CHECK(n <= 0, "a reader through the share got the host's fifo data (%zd bytes)", n);
	return 0;
}

static int check_socket(struct fsc *c)
{
	if (need_host(c))
		return 1;
	/* bind and connect by a short relative name: the full paths may not fit sockaddr_un */
	int cwd = MUST(open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, "sock");
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r = -1, err = 0;
	if (ls >= 0 && fchdir(c->hd) == 0 && bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(ls, 4) == 0)
		r = 0;
	else
		err = errno;
	int cs = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int cr = -1, cerr = 0;
	if (r == 0 && cs >= 0 && fchdir(c->d) == 0) {
		cr = connect(cs, (struct sockaddr *)&sa, sizeof(sa));
		cerr = errno;
	}
	if (fchdir(cwd) < 0)
		err = errno;
	close(cwd);
	if (cs >= 0)
		close(cs);
	int acc = ls >= 0 ? accept4(ls, NULL, NULL, SOCK_CLOEXEC) : -1;
	if (acc >= 0)
		close(acc);
	if (ls >= 0)
		close(ls);
	CHECK(r == 0, "binding a unix socket on the host: %s", strerror(err));
	/* open(2) of a socket fails everywhere; through the share it must not reach the host socket either */
	MUST_FAIL(openat(c->d, "sock", O_RDWR | O_CLOEXEC), ENXIO);
	if (c->oracle)
		SKIP("a native socket is the host's socket");
	CHECK(cr < 0 && acc < 0, "connecting through the share reached the host's socket");
	CHECK(cerr == ECONNREFUSED, "connect through the share: %s (expected ECONNREFUSED)", strerror(cerr));
	return 0;
}

/* ".." of a directory reconnected by file handle is its real parent; ".." never leaves the share through the
 * server (the kernel asks the server for ".." when it reconnects a dentry). */
static int check_dotdot(struct fsc *c)
{
	struct stat a, b;
	/* readdir of the root lists "." and ".." */
	long n = fsc_count_entries(c->rootfd);
	CHECK(n >= 3, "the root lists %ld entries", n);
	MUST(mkdirat(c->d, "sub", 0755));
	MUST(mkdirat(c->d, "sub/leaf", 0755));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/sub/leaf", c->root_path, c->dir_rel);
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	int mnt;
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt, 0) < 0) {
		if (errno == EOPNOTSUPP)
			SKIP("the file system gives no file handles (no export support)");
		FAIL("name_to_handle_at: %s", strerror(errno));
	}
	if (geteuid() != 0)
		SKIP("open_by_handle_at needs CAP_DAC_READ_SEARCH");
	/* drop the dentry cache so the handle opens a disconnected dentry the kernel must reconnect */
	int dc = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (dc >= 0) {
		if (write(dc, "2", 1) < 0)
			(void)0;
		close(dc);
	}
	int fd = open_by_handle_at(c->rootfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ESTALE && !c->oracle)
		SKIP("open_by_handle_at of a live directory after a dentry-cache drop: ESTALE (the server "
		     "negotiates export support but cannot look up a node id the kernel forgot)");
	CHECK(fd >= 0, "open_by_handle_at: %s", strerror(errno));
	int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int up2 = up >= 0 ? openat(up, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	close(fd);
	int ok = up >= 0 && up2 >= 0 && fstat(up, &a) == 0 && fstatat(c->d, "sub", &b, 0) == 0 &&
		 a.st_ino == b.st_ino && fstat(up2, &a) == 0 && fstat(c->d, &b) == 0 && a.st_ino == b.st_ino;
	if (up >= 0)
		close(up);
	if (up2 >= 0)
		close(up2);
	CHECK(ok, "'..' of a directory opened by handle is not its parent");
	return 0;
}

const struct fsc_check fsc_escape_checks[] = {
	{ "escape", "symlink-nofollow-ops", check_symlink_nofollow },
	{ "escape", "device-nodes", check_devnodes },
	{ "escape", "fifo", check_fifo },
	{ "escape", "unix-socket", check_socket },
	{ "escape", "dotdot-by-handle", check_dotdot },
	{},
};
