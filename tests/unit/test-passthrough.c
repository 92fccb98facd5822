/* SPDX-License-Identifier: MIT */
/*
 * Unit test of the passthrough backend: drives the struct fs vtable directly on a temporary directory (no FUSE)
 * and checks every result against the host file system. Exits 77 when not run as root (owners, devices,
 * trusted xattrs and file handles need it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/passthrough.h"
#include "fs/pt-int.h"
#include "proto/wire.h"
#include "util/macros.h"

static char base[64], share[128], outside[128], secret[160];
static int proc_fd = -1;
static bool in_child; /* a forked child must not clean up the parent's tree */
static int failures;

#define CHECK(cond, ...)                                                                                         \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                                            \
			fputc('\n', stderr);                                                                     \
			failures++;                                                                              \
			exit(1);                                                                                 \
		}                                                                                                \
	} while (0)
#define OK(expr) CHECK((expr) == 0, "%s", strerror(-(expr)))
#define ERR(expr, e)                                                                                             \
	do {                                                                                                     \
		int _r = (expr);                                                                                 \
		CHECK(_r == -(e), "got %d (%s), want -%s", _r, strerror(-_r), #e);                               \
	} while (0)

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? 0 : 0;
}

static void cleanup(void)
{
	if (base[0] && !in_child)
		nftw(base, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

static const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1, .umask = 022 };

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static struct fs *new_pt(const char *path, struct pt_opts *o_in, struct fs_inomap **ret_map)
{
	struct pt_opts o;
	pt_opts_default(&o);
	if (o_in)
		o = *o_in;
	int fd = open(path, O_PATH | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %m", path);
	struct fs_inomap *map = fs_inomap_new();
	struct fs *fs;
	OK(pt_new(fd, proc_fd, &o, map, &fs));
	struct fs_conn conn = { .capable = ~0ULL, .want = FS_CAP_ASYNC_READ, .max_write = 1 << 20 };
	OK(FS_CALL(fs, init, &conn));
	*ret_map = map;
	return fs;
}

static void free_pt(struct fs *fs, struct fs_inomap *map)
{
	fs->ops->destroy(fs);
	fs_free(fs);
	fs_inomap_unref(map);
}

static void host_write(const char *dir, const char *name, const char *data, mode_t mode)
{
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = openat(d, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	CHECK(fd >= 0, "create %s/%s: %m", dir, name);
	CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data), "write");
	fchmod(fd, mode);
	close(fd);
	close(d);
}

static void host_stat(const char *dir, const char *name, struct stat *st)
{
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(fstatat(d, name, st, AT_SYMLINK_NOFOLLOW) == 0, "stat %s/%s: %m", dir, name);
	close(d);
}

static size_t rw(struct fs *fs, bool wr, uint64_t ino, uint64_t fh, uint64_t off, void *buf, size_t len)
{
	/* split in two iovecs so the vector path is exercised */
	struct iovec iov[2] = { { buf, len / 2 }, { (char *)buf + len / 2, len - len / 2 } };
	size_t got = 0;
	if (wr)
		OK(FS_CALL(fs, write, &root_ctx, ino, fh, off, len, iov, 2, 0, &got));
	else
		OK(FS_CALL(fs, read, &root_ctx, ino, fh, off, len, iov, 2, &got));
	return got;
}

/* ---- the tests ---- */

static void test_names_and_root(void)
{
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_entry e;
	struct stat st;
	host_stat(share, ".", &st);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, ".", &e));
	CHECK(e.ino == fs->root && e.attr.st_ino == st.st_ino, "'.' of the root is the root");
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "..", &e));
	CHECK(e.ino == fs->root && e.attr.st_ino == st.st_ino, "'..' of the root is the root");
	OK(FS_CALL(fs, lookup, &root_ctx, fs->root, "..", &e));
	CHECK(e.ino == fs->root, "'..' of fs->root is the root");

	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "", &e), EINVAL);
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "a/b", &e), EINVAL);
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "../outside", &e), EINVAL);
	char longname[300];
	memset(longname, 'x', 299);
	longname[299] = 0;
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, longname, &e), ENAMETOOLONG);
	ERR(FS_CALL(fs, mkdir, &root_ctx, FS_ROOT_ID, ".", 0755, &e), EINVAL);
	ERR(FS_CALL(fs, mkdir, &root_ctx, FS_ROOT_ID, "..", 0755, &e), EINVAL);
	ERR(FS_CALL(fs, mknod, &root_ctx, FS_ROOT_ID, "x/y", S_IFREG | 0644, 0, &e), EINVAL);
	ERR(FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "../outside/secret"), EINVAL);
	ERR(FS_CALL(fs, rename, &root_ctx, FS_ROOT_ID, "a", FS_ROOT_ID, "..", 0), EINVAL);
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "nonexistent", &e), ENOENT);

	/* unknown node ids and handles */
	ERR(FS_CALL(fs, getattr, &root_ctx, 12345, 0, false, &st, &(double){ 0 }), ESTALE);
	ERR(FS_CALL(fs, getattr, &root_ctx, fs_ino_make(77, 5), 0, false, &st, &(double){ 0 }), ESTALE);
	FS_CALL_VOID(fs, forget, 987654321, 3);
	FS_CALL_VOID(fs, forget, FS_ROOT_ID, 100);
	FS_CALL_VOID(fs, forget, fs->root, 100);
	OK(FS_CALL(fs, getattr, &root_ctx, FS_ROOT_ID, 0, false, &st, &(double){ 0 }));
	char buf[16];
	size_t got;
	struct iovec iov = { buf, sizeof(buf) };
	ERR(FS_CALL(fs, read, &root_ctx, FS_ROOT_ID, 0, 0, sizeof(buf), &iov, 1, &got), EBADF);
	ERR(FS_CALL(fs, read, &root_ctx, FS_ROOT_ID, 0xdeadbeef12345ULL, 0, sizeof(buf), &iov, 1, &got), EBADF);
	ERR(FS_CALL(fs, read, &root_ctx, FS_ROOT_ID, 5, 0, sizeof(buf), &iov, 1, &got), EBADF);
	free_pt(fs, map);
}

static void test_entries(void)
{
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_entry d, e, e2;
	struct stat st;
	OK(FS_CALL(fs, mkdir, &root_ctx, FS_ROOT_ID, "dir", 0777, &d));
	host_stat(share, "dir", &st);
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755, "mkdir mode %o (umask 022)", st.st_mode);
	CHECK(d.attr.st_ino == st.st_ino && S_ISDIR(d.attr.st_mode), "mkdir entry");
	OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "..", &e));
	CHECK(e.ino == fs->root, "'..' of a child of the root");
	OK(FS_CALL(fs, lookup, &root_ctx, d.ino, ".", &e));
	CHECK(e.ino == d.ino, "'.'");

	/* created as the caller: owner and umask */
	struct fs_ctx user = { .uid = 1234, .gid = 4321, .pid = 1, .umask = 027 };
	OK(chmod(share, 0777));
	struct fs_open fo;
	OK(FS_CALL(fs, create, &user, FS_ROOT_ID, "userfile", 0666, O_RDWR, &e, &fo));
	host_stat(share, "userfile", &st);
	CHECK(st.st_uid == 1234 && st.st_gid == 4321, "owner %u:%u", st.st_uid, st.st_gid);
	CHECK((st.st_mode & 07777) == 0640, "mode %o", st.st_mode & 07777);
	CHECK(geteuid() == 0 && getegid() == 0, "server creds back");
	OK(FS_CALL(fs, mkdir, &user, FS_ROOT_ID, "userdir", 0777, &e2));
	host_stat(share, "userdir", &st);
	CHECK(st.st_uid == 1234 && (st.st_mode & 07777) == 0750, "mkdir as caller");
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
	/* an unprivileged caller cannot make a device node (CAP_MKNOD is dropped with fsuid) */
	ERR(FS_CALL(fs, mknod, &user, FS_ROOT_ID, "userdev", S_IFCHR | 0600, makedev(1, 3), &e2), EPERM);
	OK(chmod(share, 0755));

	/* symlink, readlink */
	OK(FS_CALL(fs, symlink, &root_ctx, d.ino, "sl", "some/where", &e));
	CHECK(S_ISLNK(e.attr.st_mode), "symlink type");
	char buf[64];
	size_t len;
	OK(FS_CALL(fs, readlink, &root_ctx, e.ino, buf, sizeof(buf), &len));
	CHECK(len == 10 && memcmp(buf, "some/where", 10) == 0, "readlink");
	ERR(FS_CALL(fs, readlink, &root_ctx, e.ino, buf, 5, &len), ENAMETOOLONG);
	ERR(FS_CALL(fs, readlink, &root_ctx, d.ino, buf, sizeof(buf), &len), EINVAL);

	/* hard links share one node */
	OK(FS_CALL(fs, mknod, &root_ctx, d.ino, "f", S_IFREG | 0644, 0, &e));
	OK(FS_CALL(fs, link, &root_ctx, e.ino, FS_ROOT_ID, "hl", &e2));
	CHECK(e2.ino == e.ino && e2.attr.st_nlink == 2, "link: same node, nlink %lu", (unsigned long)e2.attr.st_nlink);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "hl", &e2));
	CHECK(e2.ino == e.ino, "lookup of a hard link");
	ERR(FS_CALL(fs, link, &root_ctx, d.ino, FS_ROOT_ID, "dirlink", &e2), EPERM);

	/* unlink, rmdir */
	ERR(FS_CALL(fs, rmdir, &root_ctx, FS_ROOT_ID, "dir"), ENOTEMPTY);
	OK(FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "hl"));
	OK(FS_CALL(fs, unlink, &root_ctx, d.ino, "f"));
	OK(FS_CALL(fs, unlink, &root_ctx, d.ino, "sl"));
	ERR(FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "dir"), EISDIR);
	OK(FS_CALL(fs, rmdir, &root_ctx, FS_ROOT_ID, "dir"));
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "dir", &e), ENOENT);
	ERR(FS_CALL(fs, lookup, &root_ctx, e.ino, "x", &e2), ENOTDIR);

	/* rename and its flags */
	host_write(share, "ra", "A", 0644);
	host_write(share, "rb", "B", 0644);
	struct stat sa, sb;
	host_stat(share, "ra", &sa);
	host_stat(share, "rb", &sb);
	ERR(FS_CALL(fs, rename, &root_ctx, FS_ROOT_ID, "ra", FS_ROOT_ID, "rb", RENAME_NOREPLACE), EEXIST);
	OK(FS_CALL(fs, rename, &root_ctx, FS_ROOT_ID, "ra", FS_ROOT_ID, "rb", RENAME_EXCHANGE));
	host_stat(share, "ra", &st);
	CHECK(st.st_ino == sb.st_ino, "exchange");
	ERR(FS_CALL(fs, rename, &root_ctx, FS_ROOT_ID, "ra", FS_ROOT_ID, "rb", 0x80), EINVAL);
	int r = FS_CALL(fs, rename, &root_ctx, FS_ROOT_ID, "ra", FS_ROOT_ID, "rc", RENAME_WHITEOUT);
	if (r == -EINVAL || r == -EOPNOTSUPP) {
		fprintf(stderr, "# RENAME_WHITEOUT not supported by the host fs: skipped\n");
	} else {
		OK(r);
		host_stat(share, "ra", &st);
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0), "whiteout left behind");
		host_stat(share, "rc", &st);
		CHECK(st.st_ino == sb.st_ino, "renamed");
		OK(FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "ra"));
	}
	OK(FS_CALL(fs, rename, &root_ctx, FS_ROOT_ID, r == 0 ? "rc" : "ra", FS_ROOT_ID, "rb", 0));
	host_stat(share, "rb", &st);
	CHECK(st.st_ino == sb.st_ino, "plain rename replaces");
	free_pt(fs, map);
}

static void test_lookup_counts(void)
{
	host_write(share, "counted", "x", 0644);
	int fds0 = count_fds();
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	int fds1 = count_fds();
	struct fs_entry e1, e2;
	struct stat st;
	double t;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "counted", &e1));
	CHECK(count_fds() == fds1 + 1, "one O_PATH fd per node");
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "counted", &e2));
	CHECK(e1.ino == e2.ino && count_fds() == fds1 + 1, "same node, no new fd");
	FS_CALL_VOID(fs, forget, e1.ino, 1);
	OK(FS_CALL(fs, getattr, &root_ctx, e1.ino, 0, false, &st, &t));
	FS_CALL_VOID(fs, forget, e1.ino, 1);
	ERR(FS_CALL(fs, getattr, &root_ctx, e1.ino, 0, false, &st, &t), ESTALE);
	CHECK(count_fds() == fds1, "fd closed when the count reaches zero");
	/* a new lookup makes a new node */
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "counted", &e2));
	CHECK(e2.ino != e1.ino, "node ids are not reused");
	FS_CALL_VOID(fs, forget, e2.ino, 100); /* more than it has: freed, not underflowed */
	ERR(FS_CALL(fs, getattr, &root_ctx, e2.ino, 0, false, &st, &t), ESTALE);

	/* an op in flight keeps its inode: forget while an fh is open, then I/O through the fh still works */
	struct fs_open fo;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "counted", &e1));
	OK(FS_CALL(fs, open, &root_ctx, e1.ino, O_RDONLY, &fo));
	FS_CALL_VOID(fs, forget, e1.ino, 1);
	char c;
	CHECK(rw(fs, false, e1.ino, fo.fh, 0, &c, 1) == 1 && c == 'x', "read after forget");
	FS_CALL_VOID(fs, release, &root_ctx, e1.ino, fo.fh, 0, 0, false);
	ERR(FS_CALL(fs, read, &root_ctx, e1.ino, fo.fh, 0, 1, &(struct iovec){ &c, 1 }, 1, &(size_t){ 0 }), EBADF);
	CHECK(count_fds() == fds1, "all closed");

	/* destroy drops what the client held */
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "counted", &e1));
	OK(FS_CALL(fs, open, &root_ctx, e1.ino, O_RDWR, &fo));
	fs->ops->destroy(fs);
	CHECK(count_fds() == fds1, "destroy closed opens and lookups (%d vs %d)", count_fds(), fds1);
	fs_free(fs);
	fs_inomap_unref(map);
	CHECK(count_fds() == fds0, "free closed everything");
}

static void test_file_io(void)
{
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_entry e;
	struct fs_open fo;
	struct stat st;
	double t;
	OK(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "io", 0644, O_RDWR, &e, &fo));
	struct fs_entry ex;
	struct fs_open exo;
	ERR(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "io", 0644, O_RDWR | O_EXCL, &ex, &exo), EEXIST);
	static char big[1 << 20], back[1 << 20];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	CHECK(rw(fs, true, e.ino, fo.fh, 0, big, sizeof(big)) == sizeof(big), "write 1 MiB");
	CHECK(rw(fs, false, e.ino, fo.fh, 0, back, sizeof(back)) == sizeof(back), "read 1 MiB");
	CHECK(memcmp(big, back, sizeof(big)) == 0, "same bytes");
	CHECK(rw(fs, false, e.ino, fo.fh, sizeof(big) - 10, back, 100) == 10, "short read at EOF");
	CHECK(rw(fs, false, e.ino, fo.fh, 5 << 20, back, 100) == 0, "read past EOF");
	size_t got;
	struct iovec iov = { back, 1 };
	ERR(FS_CALL(fs, read, &root_ctx, e.ino, fo.fh, UINT64_MAX - 1, 1, &iov, 1, &got), EINVAL);
	ERR(FS_CALL(fs, write, &root_ctx, e.ino, fo.fh, UINT64_MAX - 1, 1, &iov, 1, 0, &got), EFBIG);
	OK(FS_CALL(fs, fsync, &root_ctx, e.ino, fo.fh, false));
	OK(FS_CALL(fs, fsync, &root_ctx, e.ino, fo.fh, true));
	OK(FS_CALL(fs, flush, &root_ctx, e.ino, fo.fh, 42));

	/* fallocate: punch a hole, then SEEK_HOLE/SEEK_DATA find it */
	OK(FS_CALL(fs, getattr, &root_ctx, e.ino, fo.fh, true, &st, &t));
	blkcnt_t blocks = st.st_blocks;
	OK(FS_CALL(fs, fallocate, &root_ctx, e.ino, fo.fh, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 256 << 10,
		   256 << 10));
	OK(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t));
	CHECK(st.st_size == sizeof(big) && st.st_blocks < blocks, "punched: size kept, blocks %ld < %ld",
	      (long)st.st_blocks, (long)blocks);
	CHECK(rw(fs, false, e.ino, fo.fh, 300 << 10, back, 4096) == 4096, "read in the hole");
	for (int i = 0; i < 4096; i++)
		CHECK(back[i] == 0, "hole reads zeros");
	off_t off;
	OK(FS_CALL(fs, lseek, &root_ctx, e.ino, fo.fh, 0, SEEK_HOLE, &off));
	CHECK(off == 256 << 10, "SEEK_HOLE %ld", (long)off);
	OK(FS_CALL(fs, lseek, &root_ctx, e.ino, fo.fh, 256 << 10, SEEK_DATA, &off));
	CHECK(off == 512 << 10, "SEEK_DATA %ld", (long)off);
	ERR(FS_CALL(fs, lseek, &root_ctx, e.ino, fo.fh, 2 << 20, SEEK_DATA, &off), ENXIO);
	ERR(FS_CALL(fs, lseek, &root_ctx, e.ino, fo.fh, 0, 99, &off), EINVAL);
	OK(FS_CALL(fs, fallocate, &root_ctx, e.ino, fo.fh, 0, 0, 2 << 20));
	OK(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t));
	CHECK(st.st_size == 2 << 20, "fallocate extends");

	/* copy_file_range between two opens */
	struct fs_entry e2;
	struct fs_open fo2;
	OK(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "io2", 0644, O_RDWR, &e2, &fo2));
	OK(FS_CALL(fs, copy_file_range, &root_ctx, e.ino, fo.fh, 4096, e2.ino, fo2.fh, 0, 100000, 0, &got));
	CHECK(got == 100000, "copied %zu", got);
	CHECK(rw(fs, false, e2.ino, fo2.fh, 0, back, 100000) == 100000 && memcmp(back, big + 4096, 100000) == 0,
	      "copied bytes");
	ERR(FS_CALL(fs, copy_file_range, &root_ctx, e.ino, fo.fh, 0, e2.ino, 777, 0, 10, 0, &got), EBADF);

	/* setattr: size (with and without fh), mode, owner, times */
	struct stat a = { .st_size = 1000 };
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_SIZE | FS_SET_FH, fo.fh, &st, &t));
	CHECK(st.st_size == 1000, "ftruncate");
	a.st_size = 10;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_SIZE, 0, &st, &t));
	CHECK(st.st_size == 10, "truncate");
	a.st_mode = 04751;
	a.st_uid = 55;
	a.st_gid = 66;
	a.st_atim = (struct timespec){ 1000, 5 };
	a.st_mtim = (struct timespec){ 2000, 7 };
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE | FS_SET_UID | FS_SET_GID | FS_SET_ATIME | FS_SET_MTIME,
		   0, &st, &t));
	struct stat h;
	host_stat(share, "io", &h);
	CHECK((h.st_mode & 07777) == 04751 && h.st_uid == 55 && h.st_gid == 66, "mode/owner %o %u %u",
	      h.st_mode & 07777, h.st_uid, h.st_gid);
	CHECK(h.st_atim.tv_sec == 1000 && h.st_mtim.tv_sec == 2000 && h.st_mtim.tv_nsec == 7, "times");
	CHECK(st.st_ino == h.st_ino && st.st_mtim.tv_sec == 2000, "returned attrs");
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_KILL_SUIDGID, 0, &st, &t));
	CHECK((st.st_mode & 07777) == 0751, "kill suid %o", st.st_mode & 07777);
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MTIME_NOW, 0, &st, &t));
	CHECK(st.st_mtim.tv_sec > 2000, "mtime now");

	/* a write flagged KILL_SUIDGID clears set-user-ID */
	a.st_mode = 06775;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE, 0, &st, &t));
	OK(FS_CALL(fs, write, &root_ctx, e.ino, fo.fh, 0, 1, &(struct iovec){ "z", 1 }, 1, FS_WRITE_KILL_SUIDGID, &got));
	host_stat(share, "io", &h);
	CHECK((h.st_mode & 07777) == 0775, "write killed suid/sgid: %o", h.st_mode & 07777);

	/* open flags: O_TRUNC, O_APPEND */
	struct fs_open fo3;
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_WRONLY | O_TRUNC, &fo3));
	host_stat(share, "io", &h);
	CHECK(h.st_size == 0, "O_TRUNC");
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo3.fh, 0, 0, false);
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_WRONLY | O_APPEND, &fo3));
	rw(fs, true, e.ino, fo3.fh, 0, "abc", 3);
	rw(fs, true, e.ino, fo3.fh, 0, "def", 3);
	CHECK(rw(fs, false, e.ino, fo.fh, 0, back, 10) == 6 && memcmp(back, "abcdef", 6) == 0, "O_APPEND");
	ERR(FS_CALL(fs, read, &root_ctx, e.ino, fo3.fh, 0, 1, &iov, 1, &got), EBADF); /* write-only */
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo3.fh, 0, 0, false);

	/* tmpfile, then link it in */
	struct fs_entry te, le;
	struct fs_open tfo;
	OK(FS_CALL(fs, tmpfile, &root_ctx, FS_ROOT_ID, 0600, O_RDWR, &te, &tfo));
	rw(fs, true, te.ino, tfo.fh, 0, "tmpdata", 7);
	OK(FS_CALL(fs, link, &root_ctx, te.ino, FS_ROOT_ID, "fromtmp", &le));
	CHECK(le.ino == te.ino, "linked tmpfile is the same node");
	host_stat(share, "fromtmp", &h);
	CHECK(h.st_size == 7 && (h.st_mode & 07777) == 0600, "tmpfile linked in");
	FS_CALL_VOID(fs, release, &root_ctx, te.ino, tfo.fh, 0, 0, false);
	ERR(FS_CALL(fs, tmpfile, &root_ctx, FS_ROOT_ID, 0600, O_RDONLY, &te, &tfo), EINVAL);

	/* xattrs */
	OK(FS_CALL(fs, setxattr, &root_ctx, e.ino, "user.k", "value", 5, 0, 0));
	ERR(FS_CALL(fs, setxattr, &root_ctx, e.ino, "user.k", "v", 1, XATTR_CREATE, 0), EEXIST);
	ERR(FS_CALL(fs, setxattr, &root_ctx, e.ino, "user.none", "v", 1, XATTR_REPLACE, 0), ENODATA);
	OK(FS_CALL(fs, getxattr, &root_ctx, e.ino, "user.k", NULL, 0, &got));
	CHECK(got == 5, "xattr size query");
	ERR(FS_CALL(fs, getxattr, &root_ctx, e.ino, "user.k", back, 2, &got), ERANGE);
	OK(FS_CALL(fs, getxattr, &root_ctx, e.ino, "user.k", back, sizeof(back), &got));
	CHECK(got == 5 && memcmp(back, "value", 5) == 0, "xattr value");
	OK(FS_CALL(fs, listxattr, &root_ctx, e.ino, back, sizeof(back), &got));
	CHECK(memmem(back, got, "user.k", 7) != NULL, "listxattr");
	char hv[16];
	CHECK(getxattr(secret, "user.k", hv, sizeof(hv)) < 0, "nothing outside");
	OK(FS_CALL(fs, removexattr, &root_ctx, e.ino, "user.k"));
	ERR(FS_CALL(fs, getxattr, &root_ctx, e.ino, "user.k", back, sizeof(back), &got), ENODATA);
	ERR(FS_CALL(fs, removexattr, &root_ctx, e.ino, "user.k"), ENODATA);

	/* access as a user */
	struct fs_ctx user = { .uid = 1000, .gid = 1000, .pid = 1 };
	a.st_mode = 0600;
	a.st_uid = 0;
	a.st_gid = 0;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE | FS_SET_UID | FS_SET_GID, 0, &st, &t));
	ERR(FS_CALL(fs, access, &user, e.ino, R_OK), EACCES);
	OK(FS_CALL(fs, access, &root_ctx, e.ino, R_OK | W_OK));
	a.st_mode = 0644;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE, 0, &st, &t));
	OK(FS_CALL(fs, access, &user, e.ino, R_OK));
	ERR(FS_CALL(fs, access, &user, e.ino, W_OK), EACCES);

	/* an access ACL set for a caller outside the file's group clears set-group-ID (SETXATTR_ACL_KILL_SGID) */
	a.st_mode = 02775;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE, 0, &st, &t));
	struct {
		uint32_t version;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} ent[3];
	} acl = { 2, { { 0x01, 7, UINT32_MAX }, { 0x04, 5, UINT32_MAX }, { 0x20, 5, UINT32_MAX } } };
	OK(FS_CALL(fs, setxattr, &user, e.ino, "system.posix_acl_access", &acl, sizeof(acl), 0,
		   FS_SETXATTR_ACL_KILL_SGID));
	host_stat(share, "io", &h);
	CHECK((h.st_mode & 07777) == 0755, "ACL applied (g=r-x) and sgid cleared: %o", h.st_mode & 07777);

	struct statvfs sv;
	OK(FS_CALL(fs, statfs, &root_ctx, FS_ROOT_ID, &sv));
	CHECK(sv.f_bsize > 0 && sv.f_blocks > 0, "statfs");
	OK(FS_CALL(fs, syncfs, &root_ctx, e.ino));

	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
	FS_CALL_VOID(fs, release, &root_ctx, e2.ino, fo2.fh, 0, 0, false);
	free_pt(fs, map);
}

struct waiter {
	struct fs *fs;
	uint64_t ino, fh, owner;
	int r;
	atomic_int done;
};

static void on_usr1(int sig)
{
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100, .l_pid = 7 };
	w->r = FS_CALL(w->fs, setlk, &root_ctx, w->ino, w->fh, w->owner, &wr, true, false);
	atomic_store(&w->done, 1);
	return NULL;
}

static void test_locks(void)
{
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_entry e;
	struct fs_open a1, a2, b;
	OK(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "lockme", 0644, O_RDWR, &e, &a1));
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_RDWR, &a2));
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_RDWR, &b));
	const uint64_t A = 0xa, B = 0xb;
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100, .l_pid = 4242 };
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, a1.fh, A, &wr, false, false));
	ERR(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &wr, false, false), EAGAIN);
	/* the same owner through another open: one process's locks never conflict with each other */
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, a2.fh, A, &wr, false, false));
	struct flock q = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
	OK(FS_CALL(fs, getlk, &root_ctx, e.ino, b.fh, B, &q));
	CHECK(q.l_type == F_WRLCK && q.l_start == 0 && q.l_len == 100, "getlk reports the conflict");
	CHECK(q.l_pid == 4242, "getlk reports the holder's pid: %d", q.l_pid);
	struct flock other = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 10 };
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &other, false, false));
	/* the host sees the lock too */
	int hfd = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int lfd = openat(hfd, "lockme", O_RDWR | O_CLOEXEC);
	struct flock hq = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	CHECK(fcntl(lfd, F_OFD_GETLK, &hq) == 0 && hq.l_type == F_WRLCK, "host sees the lock");
	/* flush by owner A (a close by that process) drops A's locks */
	OK(FS_CALL(fs, flush, &root_ctx, e.ino, a1.fh, A));
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &wr, false, false));
	struct flock un = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &un, false, false));
	q = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	OK(FS_CALL(fs, getlk, &root_ctx, e.ino, a1.fh, A, &q));
	CHECK(q.l_type == F_UNLCK, "no lock left");
	struct flock bad = { .l_type = 77, .l_whence = SEEK_SET };
	ERR(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &bad, false, false), EINVAL);

	/* an OFD lock's owner is the open file: releasing it drops the lock (no FLUSH names that owner) */
	struct fs_open c1;
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_RDWR, &c1));
	const uint64_t OFD = 0xc0ffee;
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, c1.fh, OFD, &wr, false, false));
	ERR(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &wr, false, false), EAGAIN);
	OK(FS_CALL(fs, flush, &root_ctx, e.ino, c1.fh, B)); /* a FLUSH by another owner changes nothing */
	ERR(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &wr, false, false), EAGAIN);
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, c1.fh, 0, 0, false);
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &wr, false, false));
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &un, false, false));

	/* a blocking wait ends with EINTR when its thread is signalled (proto's INTERRUPT), not retried */
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &wr, false, false));
	struct waiter wt = { .fs = fs, .ino = e.ino, .fh = a2.fh, .owner = A, .r = 1 };
	struct sigaction sa = { .sa_handler = on_usr1 }, old_sa;
	sigaction(SIGUSR1, &sa, &old_sa); /* no SA_RESTART */
	pthread_t th;
	CHECK(pthread_create(&th, NULL, waiter_main, &wt) == 0, "thread");
	usleep(100 * 1000);
	CHECK(atomic_load(&wt.done) == 0, "SETLKW did not wait for the held lock");
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
	CHECK(wt.r == -EINTR, "interrupted SETLKW: %d", wt.r);
	sigaction(SIGUSR1, &old_sa, NULL);
	/* and a wait that can be granted is: B lets go while A waits */
	wt.r = 1;
	atomic_store(&wt.done, 0);
	CHECK(pthread_create(&th, NULL, waiter_main, &wt) == 0, "thread");
	usleep(50 * 1000);
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &un, false, false));
	pthread_join(th, NULL);
	CHECK(wt.r == 0, "SETLKW granted after the unlock: %d", wt.r);
	OK(FS_CALL(fs, flush, &root_ctx, e.ino, a2.fh, A));

	/* flock: per open file */
	struct flock ex = { .l_type = F_WRLCK };
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, a1.fh, A, &ex, false, true));
	ERR(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &ex, false, true), EAGAIN);
	CHECK(flock(lfd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK, "host flock conflicts");
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, a1.fh, 0, A, true);
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &ex, false, true));
	struct flock sh = { .l_type = F_RDLCK };
	ERR(FS_CALL(fs, setlk, &root_ctx, e.ino, a2.fh, A, &sh, false, true), EAGAIN);
	close(lfd);
	close(hfd);
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, a2.fh, 0, A, true);
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, b.fh, 0, B, true);
	free_pt(fs, map);
}

/* Mode, owner, times and xattrs of the outside file: none of them may change. */
struct snap {
	struct stat st;
	char xattrs[256];
	ssize_t xlen;
};

static void snap(struct snap *s)
{
	CHECK(lstat(secret, &s->st) == 0, "stat secret");
	memset(s->xattrs, 0, sizeof(s->xattrs));
	s->xlen = llistxattr(secret, s->xattrs, sizeof(s->xattrs));
}

static void test_escapes(void)
{
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	char abs_target[200];
	snprintf(abs_target, sizeof(abs_target), "%s", secret);
	int d = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(symlinkat("../outside/secret", d, "esc") == 0, "symlink");
	CHECK(symlinkat(abs_target, d, "absesc") == 0, "symlink");
	CHECK(symlinkat("../outside", d, "escdir") == 0, "symlink");
	CHECK(symlinkat("../outside/created", d, "dangle") == 0, "symlink");
	CHECK(mknodat(d, "nul", S_IFCHR | 0666, makedev(1, 3)) == 0, "mknod");
	CHECK(mkfifoat(d, "fifo", 0666) == 0, "mkfifo");
	close(d);

	struct snap before, after;
	struct timespec ts[2] = { { 111, 0 }, { 222, 0 } };
	CHECK(utimensat(AT_FDCWD, secret, ts, 0) == 0, "set times");
	snap(&before);

	struct fs_entry e, e2;
	struct fs_open fo;
	struct stat st, a = { 0 };
	double t;
	const char *links[] = { "esc", "absesc" };
	for (int i = 0; i < 2; i++) {
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, links[i], &e));
		CHECK(S_ISLNK(e.attr.st_mode), "lookup gives the link, not its target");
		ERR(FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo), ELOOP);
		ERR(FS_CALL(fs, open, &root_ctx, e.ino, O_RDWR | O_TRUNC, &fo), ELOOP);
		ERR(FS_CALL(fs, opendir, &root_ctx, e.ino, 0, &fo), ENOTDIR);
		ERR(FS_CALL(fs, lookup, &root_ctx, e.ino, "x", &e2), ENOTDIR);
		a.st_uid = 4242;
		a.st_gid = 4343;
		OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_UID | FS_SET_GID, 0, &st, &t));
		CHECK(st.st_uid == 4242 && S_ISLNK(st.st_mode), "lchown acted on the link");
		a.st_atim = (struct timespec){ 5, 0 };
		a.st_mtim = (struct timespec){ 6, 0 };
		OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_ATIME | FS_SET_MTIME, 0, &st, &t));
		CHECK(st.st_mtim.tv_sec == 6, "utimensat-nofollow acted on the link");
		OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MTIME_NOW, 0, &st, &t));
		a.st_mode = 0777;
		ERR(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE, 0, &st, &t), EOPNOTSUPP);
		a.st_size = 0;
		ERR(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_SIZE, 0, &st, &t), EINVAL);
		/* user.* xattrs are not allowed on symlinks: refused, and not applied to the target */
		ERR(FS_CALL(fs, setxattr, &root_ctx, e.ino, "user.evil", "1", 1, 0, 0), EPERM);
		/* trusted.* is: it lands on the link */
		OK(FS_CALL(fs, setxattr, &root_ctx, e.ino, "trusted.mark", "1", 1, 0, 0));
		char v[8];
		CHECK(getxattr(secret, "trusted.mark", v, sizeof(v)) < 0, "not on the target");
		size_t got;
		OK(FS_CALL(fs, getxattr, &root_ctx, e.ino, "trusted.mark", v, sizeof(v), &got));
		OK(FS_CALL(fs, removexattr, &root_ctx, e.ino, "trusted.mark"));
		OK(FS_CALL(fs, access, &root_ctx, e.ino, R_OK));
	}
	struct stat ls;
	char p[300];
	snprintf(p, sizeof(p), "%s/esc", share);
	CHECK(lstat(p, &ls) == 0 && ls.st_uid == 4242 && ls.st_mtim.tv_sec != 222, "the link changed");
	snap(&after);
	CHECK(after.st.st_mode == before.st.st_mode && after.st.st_uid == before.st.st_uid &&
		      after.st.st_gid == before.st.st_gid,
	      "outside file's mode/owner untouched");
	CHECK(after.st.st_mtim.tv_sec == 222 && after.st.st_atim.tv_sec == 111, "outside file's times untouched");
	CHECK(after.xlen == before.xlen && memcmp(after.xattrs, before.xattrs, sizeof(after.xattrs)) == 0,
	      "outside file's xattrs untouched");

	/* through a symlinked directory: nothing */
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "escdir", &e));
	ERR(FS_CALL(fs, lookup, &root_ctx, e.ino, "secret", &e2), ENOTDIR);
	ERR(FS_CALL(fs, create, &root_ctx, e.ino, "new", 0644, O_RDWR, &e2, &fo), ENOTDIR);
	ERR(FS_CALL(fs, mkdir, &root_ctx, e.ino, "new", 0755, &e2), ENOTDIR);
	/* creating through a dangling symlink never creates its target */
	ERR(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "dangle", 0644, O_RDWR | O_EXCL, &e2, &fo), EEXIST);
	ERR(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "dangle", 0644, O_RDWR, &e2, &fo), ELOOP);
	char created[200];
	snprintf(created, sizeof(created), "%s/created", outside);
	CHECK(access(created, F_OK) < 0, "nothing created outside");

	/* devices and fifos are never opened (a fifo open would block) */
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "nul", &e));
	ERR(FS_CALL(fs, open, &root_ctx, e.ino, O_RDWR, &fo), EACCES);
	a.st_size = 0;
	ERR(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_SIZE, 0, &st, &t), EINVAL);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "fifo", &e));
	ERR(FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo), EACCES);
	ERR(FS_CALL(fs, open, &root_ctx, e.ino, O_WRONLY | O_NONBLOCK, &fo), EACCES);
	OK(FS_CALL(fs, mknod, &root_ctx, FS_ROOT_ID, "sock", S_IFSOCK | 0644, 0, &e));
	CHECK(S_ISSOCK(e.attr.st_mode), "socket node");
	ERR(FS_CALL(fs, open, &root_ctx, e.ino, O_RDWR, &fo), EACCES);
	OK(FS_CALL(fs, mknod, &root_ctx, FS_ROOT_ID, "fifo2", S_IFIFO | 0644, 0, &e));
	ERR(FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo), EACCES);
	/* but their attrs and xattrs work, on the node itself */
	a.st_mode = 0600;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE, 0, &st, &t));
	CHECK((st.st_mode & 07777) == 0600 && S_ISFIFO(st.st_mode), "chmod of a fifo");
	/* create over an existing fifo (no O_EXCL) refuses it too */
	ERR(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "fifo", 0644, O_RDWR, &e2, &fo), EACCES);
	/* '..' from a subdirectory stays inside; from the root it is the root */
	OK(FS_CALL(fs, mkdir, &root_ctx, FS_ROOT_ID, "sub", 0755, &e));
	OK(FS_CALL(fs, lookup, &root_ctx, e.ino, "..", &e2));
	CHECK(e2.ino == fs->root, "sub/.. is the root");
	OK(FS_CALL(fs, lookup, &root_ctx, e2.ino, "..", &e2));
	CHECK(e2.ino == fs->root, "root/.. is the root");
	free_pt(fs, map);
}

static void test_file_root(void)
{
	char path[200];
	snprintf(path, sizeof(path), "%s/single", base);
	host_write(base, "single", "only me", 0644);
	struct fs_inomap *map;
	struct fs *fs = new_pt(path, NULL, &map);
	struct fs_entry e;
	struct fs_open fo;
	struct stat st;
	double t;
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "x", &e), ENOTDIR);
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "..", &e), ENOTDIR);
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "share", &e), ENOTDIR);
	ERR(FS_CALL(fs, opendir, &root_ctx, FS_ROOT_ID, 0, &fo), ENOTDIR);
	ERR(FS_CALL(fs, mkdir, &root_ctx, FS_ROOT_ID, "d", 0755, &e), ENOTDIR);
	ERR(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "c", 0644, O_RDWR, &e, &fo), ENOTDIR);
	ERR(FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "single"), ENOTDIR);
	OK(FS_CALL(fs, getattr, &root_ctx, FS_ROOT_ID, 0, false, &st, &t));
	CHECK(S_ISREG(st.st_mode) && st.st_size == 7, "getattr of the file root");
	OK(FS_CALL(fs, open, &root_ctx, fs->root, O_RDWR, &fo));
	char buf[16] = { 0 };
	CHECK(rw(fs, false, FS_ROOT_ID, fo.fh, 0, buf, sizeof(buf)) == 7 && strcmp(buf, "only me") == 0, "read");
	rw(fs, true, FS_ROOT_ID, fo.fh, 7, "!", 1);
	struct stat a = { .st_size = 4 };
	OK(FS_CALL(fs, setattr, &root_ctx, FS_ROOT_ID, &a, FS_SET_SIZE, 0, &st, &t));
	CHECK(st.st_size == 4, "truncate the file root");
	OK(FS_CALL(fs, setxattr, &root_ctx, FS_ROOT_ID, "user.x", "1", 1, 0, 0));
	FS_CALL_VOID(fs, release, &root_ctx, FS_ROOT_ID, fo.fh, 0, 0, false);
	free_pt(fs, map);
}

/* ---- readdir ---- */

struct listing {
	char names[4096][32];
	uint64_t ino[4096];
	int n;
	uint64_t last_off;
};

/* One readdir call into a buffer of bufsize; appends to l. Returns the number of entries. */
static int readdir_once(struct fs *fs, uint64_t dino, uint64_t fh, uint64_t off, bool plus, size_t bufsize,
			struct listing *l)
{
	static char mem[1 << 16];
	struct fs_dirbuf b;
	wire_dirbuf_init(&b, mem, bufsize, plus, false);
	OK(FS_CALL(fs, readdir, &root_ctx, dino, fh, off, &b));
	size_t p = 0;
	int n = 0;
	while (p < b.len) {
		const struct fuse_dirent *de;
		uint64_t nodeid = 0;
		if (plus) {
			const struct fuse_direntplus *dp = (const void *)(mem + p);
			de = &dp->dirent;
			nodeid = dp->entry_out.nodeid;
			p += FUSE_DIRENTPLUS_SIZE(dp);
		} else {
			de = (const void *)(mem + p);
			p += FUSE_DIRENT_SIZE(de);
		}
		CHECK(l->n < 4096, "listing too long");
		snprintf(l->names[l->n], 32, "%.*s", (int)de->namelen, de->name);
		l->ino[l->n] = nodeid;
		l->n++;
		l->last_off = de->off;
		n++;
	}
	return n;
}

static int find_name(const struct listing *l, const char *name)
{
	int c = 0;
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			c++;
	return c;
}

static void test_readdir(void)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/list", share);
	CHECK(mkdir(dir, 0755) == 0, "mkdir");
	char name[32];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		host_write(dir, name, "", 0644);
	}
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_entry d;
	struct fs_open fo;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "list", &d));
	OK(FS_CALL(fs, opendir, &root_ctx, d.ino, O_RDONLY, &fo));
	static struct listing l;
	memset(&l, 0, sizeof(l));
	/* small pages: ~10 entries each */
	int n = readdir_once(fs, d.ino, fo.fh, 0, false, 256, &l);
	CHECK(n > 0 && n < 20, "first page %d", n);
	/* churn: remove names (some seen, most not) and add new ones, then go on from the cookie */
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	bool removed[300] = { 0 };
	for (int i = 0; i < 300; i += 7) {
		snprintf(name, sizeof(name), "f%03d", i);
		CHECK(unlinkat(dfd, name, 0) == 0, "unlink");
		removed[i] = true;
	}
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "new%03d", i);
		host_write(dir, name, "", 0644);
	}
	uint64_t off = l.last_off;
	while ((n = readdir_once(fs, d.ino, fo.fh, off, false, 256, &l)) > 0)
		off = l.last_off;
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		int c = find_name(&l, name);
		CHECK(c <= 1, "%s listed %d times", name, c);
		CHECK(removed[i] || c == 1, "%s (never removed) listed %d times", name, c);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "new%03d", i);
		CHECK(find_name(&l, name) <= 1, "%s repeated", name);
	}
	CHECK(find_name(&l, ".") == 1 && find_name(&l, "..") == 1, "dots");
	/* a cookie works on a fresh handle too (the kernel may reopen between calls) and rewinding restarts */
	static struct listing l2;
	memset(&l2, 0, sizeof(l2));
	struct fs_open fo2;
	OK(FS_CALL(fs, opendir, &root_ctx, d.ino, O_RDONLY, &fo2));
	readdir_once(fs, d.ino, fo2.fh, 0, false, 4096, &l2);
	uint64_t mid = l2.last_off;
	int first = l2.n;
	memset(&l2, 0, sizeof(l2));
	readdir_once(fs, d.ino, fo.fh, mid, false, 4096, &l2);
	CHECK(l2.n > 0, "continued at a cookie of another handle");
	memset(&l2, 0, sizeof(l2));
	readdir_once(fs, d.ino, fo.fh, 0, false, 4096, &l2);
	CHECK(l2.n == first, "rewind: %d vs %d", l2.n, first);
	FS_CALL_VOID(fs, releasedir, &root_ctx, d.ino, fo2.fh);
	OK(FS_CALL(fs, fsyncdir, &root_ctx, d.ino, fo.fh, false));
	FS_CALL_VOID(fs, releasedir, &root_ctx, d.ino, fo.fh);
	ERR(FS_CALL(fs, fsyncdir, &root_ctx, d.ino, fo.fh, false), EBADF);

	/* readdirplus: every entry but the dots carries a node with a lookup count; forgetting them frees all */
	int fds0 = count_fds();
	OK(FS_CALL(fs, opendir, &root_ctx, d.ino, O_RDONLY, &fo));
	static struct listing lp;
	memset(&lp, 0, sizeof(lp));
	off = 0;
	while (readdir_once(fs, d.ino, fo.fh, off, true, 1024, &lp) > 0)
		off = lp.last_off;
	int nodes = 0;
	for (int i = 0; i < lp.n; i++) {
		bool dot = strcmp(lp.names[i], ".") == 0 || strcmp(lp.names[i], "..") == 0;
		CHECK(dot ? lp.ino[i] == 0 : lp.ino[i] != 0, "plus entry %s node %llu", lp.names[i],
		      (unsigned long long)lp.ino[i]);
		if (lp.ino[i])
			nodes++;
	}
	CHECK(nodes == 300 - 43 + 100, "plus listed %d", nodes);
	CHECK(count_fds() == fds0 + 1 + nodes, "an fd per node (%d, %d nodes)", count_fds() - fds0, nodes);
	for (int i = 0; i < lp.n; i++)
		if (lp.ino[i])
			FS_CALL_VOID(fs, forget, lp.ino[i], 1);
	FS_CALL_VOID(fs, releasedir, &root_ctx, d.ino, fo.fh);
	CHECK(count_fds() == fds0, "forget freed every readdirplus node");
	close(dfd);
	free_pt(fs, map);
}

/* ---- bounded fds ---- */

static void test_handles(void)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/many", base);
	CHECK(mkdir(dir, 0755) == 0, "mkdir");
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char name[32];
	enum { NFILES = 5000 };
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "%d", i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		CHECK(fd >= 0, "create");
		close(fd);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "sub%d", i);
		CHECK(mkdirat(dfd, name, 0755) == 0, "mkdir");
	}
	close(dfd);

	int fds0 = count_fds();
	struct pt_opts o;
	pt_opts_default(&o);
	o.handles = PT_HANDLES_PREFER;
	o.max_fds = 16;
	struct fs_inomap *map;
	struct fs *fs = new_pt(dir, &o, &map);
	CHECK(pt_of(fs)->use_handles, "file handles usable here");
	static uint64_t ids[NFILES];
	int peak = 0;
	struct fs_entry e;
	struct stat st;
	double t;
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "%d", i);
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &e));
		ids[i] = e.ino;
		if (i % 250 == 0) {
			int n = count_fds() - fds0;
			peak = MAX(peak, n);
		}
	}
	/* every node still works: reopened by handle */
	for (int i = 0; i < NFILES; i += 3) {
		OK(FS_CALL(fs, getattr, &root_ctx, ids[i], 0, false, &st, &t));
		if (i % 300 == 0)
			peak = MAX(peak, count_fds() - fds0);
	}
	/* a node whose fd was closed does not pin its host inode: delete the file, and if the host gives the
	 * number to a new file of the same name, the name must get a new node, not the dead one's */
	{
		int dfd2 = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat old, new;
		CHECK(fstatat(dfd2, "0", &old, 0) == 0 && unlinkat(dfd2, "0", 0) == 0, "unlink 0");
		int fd = openat(dfd2, "0", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		CHECK(fd >= 0 && fstat(fd, &new) == 0, "recreate 0");
		close(fd);
		close(dfd2);
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "0", &e));
		if (new.st_ino == old.st_ino) {
			CHECK(e.ino != ids[0], "a reused inode number got the dead node");
			OK(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t));
			CHECK((st.st_mode & 07777) == 0600, "the new file's attrs");
			ERR(FS_CALL(fs, getattr, &root_ctx, ids[0], 0, false, &st, &t), ESTALE);
		} else {
			fprintf(stderr, "# inode number not reused by the host: reuse check skipped\n");
		}
		FS_CALL_VOID(fs, forget, e.ino, 1);
	}
	/* directories too: lookups under reopened directory fds */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "sub%d", i);
		struct fs_entry s, c;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &s));
		OK(FS_CALL(fs, mknod, &root_ctx, s.ino, "inner", S_IFREG | 0644, 0, &c));
		OK(FS_CALL(fs, lookup, &root_ctx, s.ino, "inner", &c));
	}
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "sub%d", i);
		struct fs_entry s, c;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &s));
		OK(FS_CALL(fs, lookup, &root_ctx, s.ino, "inner", &c));
		CHECK(c.attr.st_size == 0, "inner");
	}
	/* readdirplus over the whole directory stays under the ceiling too */
	struct fs_open fo;
	OK(FS_CALL(fs, opendir, &root_ctx, FS_ROOT_ID, O_RDONLY, &fo));
	static struct listing l;
	uint64_t off = 0;
	int total = 0;
	for (;;) {
		memset(&l, 0, sizeof(l));
		int n = readdir_once(fs, FS_ROOT_ID, fo.fh, off, true, 8192, &l);
		if (n == 0)
			break;
		for (int i = 0; i < l.n; i++)
			CHECK(l.ino[i] || l.names[i][0] == '.', "plus entry %s without a node", l.names[i]);
		total += n;
		off = l.last_off;
		peak = MAX(peak, count_fds() - fds0);
	}
	CHECK(total == NFILES + 20 + 2, "listed %d", total);
	FS_CALL_VOID(fs, releasedir, &root_ctx, FS_ROOT_ID, fo.fh);
	/* mount fds for open_by_handle_at (one per host mount) are outside the inode ceiling */
	/* above the baseline: the inode fds (ceiling 16), the proc fd, one mount fd for open_by_handle_at (outside
	 * the inode ceiling: one per host mount), and the listing's own open directory */
	CHECK(peak <= 16 + 3, "fds held peaked at %d (ceiling 16 + proc + mount + open dir)", peak);
	CHECK(atomic_load(&pt_of(fs)->nfds) <= 16, "inode fds %u", atomic_load(&pt_of(fs)->nfds));
	fprintf(stderr, "# handles: %d nodes, peak %d fds above baseline (max_fds 16)\n", NFILES + 40, peak);
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");

	/* without handles the ceiling is a clear EMFILE, and readdirplus still lists every name */
	o.handles = PT_HANDLES_NEVER;
	fs = new_pt(dir, &o, &map);
	int emfile = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "%d", i);
		int r = FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &e);
		CHECK(r == 0 || r == -EMFILE, "lookup: %s", strerror(-r));
		emfile += r == -EMFILE;
	}
	CHECK(emfile == 100 - 15, "EMFILE at the ceiling (%d)", emfile);
	CHECK(count_fds() - fds0 <= 16 + 1, "never mode holds at most max_fds (+ the proc fd)");
	OK(FS_CALL(fs, opendir, &root_ctx, FS_ROOT_ID, O_RDONLY, &fo));
	off = 0;
	total = 0;
	for (;;) {
		memset(&l, 0, sizeof(l));
		int n = readdir_once(fs, FS_ROOT_ID, fo.fh, off, true, 8192, &l);
		if (n == 0)
			break;
		total += n;
		off = l.last_off;
	}
	CHECK(total == NFILES + 20 + 2, "no hole in the listing: %d", total);
	FS_CALL_VOID(fs, releasedir, &root_ctx, FS_ROOT_ID, fo.fh);
	free_pt(fs, map);

	/* mandatory: works the same where handles exist */
	o.handles = PT_HANDLES_MANDATORY;
	fs = new_pt(dir, &o, &map);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "7", &e));
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");
}

/* ---- export support: a forgotten node named again through a file handle ---- */

static void test_export(void)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/exp", share);
	CHECK(mkdir(dir, 0755) == 0, "mkdir");
	host_write(dir, "f", "exported", 0644);
	int fds0 = count_fds();
	for (int handles = 0; handles < 2; handles++) {
		host_write(dir, "gone", "x", 0644);
		struct pt_opts o;
		pt_opts_default(&o);
		o.handles = handles ? PT_HANDLES_PREFER : PT_HANDLES_NEVER;
		struct fs_inomap *map;
		struct fs *fs = new_pt(share, &o, &map);
		struct fs_conn conn = { .capable = ~0ULL, .want = FS_CAP_EXPORT_SUPPORT };
		OK(FS_CALL(fs, init, &conn));
		struct fs_entry d, f, g, e;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "exp", &d));
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "f", &f));
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "gone", &g));
		/* "." of a file the client knows: itself */
		OK(FS_CALL(fs, lookup, &root_ctx, f.ino, ".", &e));
		CHECK(e.ino == f.ino, "'.' of a file");
		FS_CALL_VOID(fs, forget, f.ino, 2);
		FS_CALL_VOID(fs, forget, g.ino, 1);
		FS_CALL_VOID(fs, forget, d.ino, 1);
		struct stat st;
		double t;
		ERR(FS_CALL(fs, getattr, &root_ctx, f.ino, 0, false, &st, &t), ESTALE);
		/* the kernel reconnects a handle with LOOKUP "." on the old id: the same node comes back */
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, ".", &e));
		CHECK(e.ino == d.ino && S_ISDIR(e.attr.st_mode), "directory back under its id");
		OK(FS_CALL(fs, lookup, &root_ctx, f.ino, ".", &e));
		CHECK(e.ino == f.ino && e.attr.st_size == 8, "file back under its id");
		OK(FS_CALL(fs, getattr, &root_ctx, f.ino, 0, false, &st, &t));
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "..", &e));
		CHECK(e.ino == fs->root, "'..' of the reconnected directory");
		/* a name looked up again meets the same node */
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "f", &e));
		CHECK(e.ino == f.ino, "lookup finds the reconnected node");
		/* a deleted file does not come back */
		char gp[300];
		snprintf(gp, sizeof(gp), "%s/gone", dir);
		CHECK(unlink(gp) == 0, "unlink");
		ERR(FS_CALL(fs, lookup, &root_ctx, g.ino, ".", &e), ESTALE);
		ERR(FS_CALL(fs, lookup, &root_ctx, fs_ino_make(pt_of(fs)->space, 999999), ".", &e), ESTALE);
		free_pt(fs, map);
	}
	/* without export support nothing is kept */
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_entry f, e;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "exp", &f));
	FS_CALL_VOID(fs, forget, f.ino, 1);
	ERR(FS_CALL(fs, lookup, &root_ctx, f.ino, ".", &e), ESTALE);
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");
}

/* ---- many workers at once ---- */

struct worker {
	struct fs *fs;
	uint64_t dir;
	int id;
	unsigned seed;
	int errors;
	unsigned max_nfds;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct fs *fs = w->fs;
	char name[32], buf[64];
	static char mem_plus[8][8192];
	for (int it = 0; it < 1500; it++) {
		int op = (int)(rand_r(&w->seed) % 5);
		int k = (int)(rand_r(&w->seed) % 64);
		snprintf(name, sizeof(name), "s%d", k);
		struct fs_entry e;
		struct fs_open fo;
		struct stat st;
		double t;
		size_t got;
		int r = 0;
		switch (op) {
		case 0: /* lookup, getattr, forget */
			r = FS_CALL(fs, lookup, &root_ctx, w->dir, name, &e);
			if (r == 0) {
				r = FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t);
				FS_CALL_VOID(fs, forget, e.ino, 1);
			}
			break;
		case 1: /* open, read, release */
			r = FS_CALL(fs, lookup, &root_ctx, w->dir, name, &e);
			if (r == 0) {
				r = FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo);
				if (r == 0) {
					r = FS_CALL(fs, read, &root_ctx, e.ino, fo.fh, 0, sizeof(buf),
						    &(struct iovec){ buf, sizeof(buf) }, 1, &got);
					if (r == 0 && (got != 2 || buf[0] != 's'))
						r = -EIO;
					FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
				}
				FS_CALL_VOID(fs, forget, e.ino, 1);
			}
			break;
		case 2: { /* a private name, created as this worker's own user: create, write, unlink */
			snprintf(name, sizeof(name), "w%d-%d", w->id, k);
			struct fs_ctx me = { .uid = 2000 + (uid_t)w->id, .gid = 3000 + (gid_t)w->id, .umask = 022 };
			r = FS_CALL(fs, create, &me, w->dir, name, 0666, O_RDWR, &e, &fo);
			if (r == 0 && (e.attr.st_uid != me.uid || e.attr.st_gid != me.gid ||
				       (e.attr.st_mode & 07777) != 0644)) {
				fprintf(stderr, "worker %d: created as %u:%u mode %o\n", w->id, e.attr.st_uid,
					e.attr.st_gid, e.attr.st_mode & 07777);
				w->errors++;
			}
			if (r == 0) {
				r = FS_CALL(fs, write, &root_ctx, e.ino, fo.fh, 0, 3, &(struct iovec){ "abc", 3 }, 1, 0,
					    &got);
				FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
				FS_CALL_VOID(fs, forget, e.ino, 1);
				if (r == 0)
					r = FS_CALL(fs, unlink, &root_ctx, w->dir, name);
			}
			break;
		}
		case 3: { /* readdirplus the whole directory, forget every node */
			r = FS_CALL(fs, opendir, &root_ctx, w->dir, O_RDONLY, &fo);
			if (r < 0)
				break;
			uint64_t off = 0;
			for (;;) {
				struct fs_dirbuf b;
				char *mem = mem_plus[w->id];
				wire_dirbuf_init(&b, mem, sizeof(mem_plus[0]), true, false);
				r = FS_CALL(fs, readdir, &root_ctx, w->dir, fo.fh, off, &b);
				if (r < 0 || b.len == 0)
					break;
				for (size_t p = 0; p < b.len;) {
					const struct fuse_direntplus *dp = (const void *)(mem + p);
					if (dp->entry_out.nodeid)
						FS_CALL_VOID(fs, forget, dp->entry_out.nodeid, 1);
					off = dp->dirent.off;
					p += FUSE_DIRENTPLUS_SIZE(dp);
				}
			}
			FS_CALL_VOID(fs, releasedir, &root_ctx, w->dir, fo.fh);
			break;
		}
		case 4: /* a stale handle and a stale node from someone else: refused, never a crash */
			r = FS_CALL(fs, read, &root_ctx, w->dir, (uint64_t)rand_r(&w->seed) << 20 | 1, 0, 4,
				    &(struct iovec){ buf, 4 }, 1, &got);
			r = r == -EBADF ? 0 : -EIO;
			break;
		}
		/* ENOENT: another worker's readdir raced nothing here, but a name may vanish (w%d are private) */
		if (r < 0 && r != -ENOENT)
			w->errors++;
		unsigned n = atomic_load(&pt_of(fs)->nfds);
		if (n > w->max_nfds)
			w->max_nfds = n;
	}
	return NULL;
}

static void run_workers(enum pt_handles handles, unsigned max_fds)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/threads", base);
	mkdir(dir, 0777);
	chmod(dir, 0777);
	for (int k = 0; k < 64; k++) {
		char name[32];
		snprintf(name, sizeof(name), "s%d", k);
		host_write(dir, name, "s!", 0644);
	}
	int fds0 = count_fds();
	struct pt_opts o;
	pt_opts_default(&o);
	o.handles = handles;
	o.max_fds = max_fds;
	struct fs_inomap *map;
	struct fs *fs = new_pt(dir, &o, &map);
	enum { NW = 8 };
	pthread_t th[NW];
	struct worker w[NW];
	for (int i = 0; i < NW; i++) {
		w[i] = (struct worker){ .fs = fs, .dir = FS_ROOT_ID, .id = i, .seed = 1234u + (unsigned)i };
		CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0, "thread");
	}
	for (int i = 0; i < NW; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].errors == 0, "worker %d: %d errors", i, w[i].errors);
		CHECK(w[i].max_nfds <= max_fds, "inode fds %u over the ceiling %u", w[i].max_nfds, max_fds);
	}
	CHECK(atomic_load(&pt_of(fs)->nfds) == 1, "every node forgotten: only the root's fd (%u)",
	      atomic_load(&pt_of(fs)->nfds));
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");
}

static void test_threads(void)
{
	run_workers(PT_HANDLES_NEVER, 4096);
	run_workers(PT_HANDLES_PREFER, 24);
}

/* ---- a hostile client: random requests, refused or served, never a crash, nothing outside touched ---- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void random_name(uint64_t *s, char *buf, size_t size)
{
	static const char *const fixed[] = { "", ".", "..", "/", "a/b", "../outside", "esc", "x", "y", "d", "nul" };
	uint64_t k = rnd(s) % 4;
	if (k == 0) {
		snprintf(buf, size, "%s", fixed[rnd(s) % ARRAY_SIZE(fixed)]);
		return;
	}
	size_t len = k == 1 ? 300 : 1 + rnd(s) % 6;
	if (len >= size)
		len = size - 1;
	for (size_t i = 0; i < len; i++) {
		char c = (char)(rnd(s) % 4 ? 'a' + rnd(s) % 3 : 1 + rnd(s) % 255);
		buf[i] = c ? c : 'z';
	}
	buf[len] = 0;
}

static void test_hostile(void)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/hostile", share);
	CHECK(mkdir(dir, 0755) == 0, "mkdir");
	host_write(dir, "x", "data", 0644);
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(symlinkat("../../outside/secret", d, "esc") == 0, "symlink");
	CHECK(mkdirat(d, "d", 0755) == 0, "mkdir");
	close(d);
	struct snap before, after;
	snap(&before);
	int fds0 = count_fds();
	for (int mode = 0; mode < 2; mode++) {
		struct pt_opts o;
		pt_opts_default(&o);
		o.handles = mode ? PT_HANDLES_PREFER : PT_HANDLES_NEVER;
		o.max_fds = 32;
		struct fs_inomap *map;
		struct fs *fs = new_pt(dir, &o, &map);
		uint64_t seed = 0x9e3779b97f4a7c15ULL + (uint64_t)mode;
		uint64_t ids[64] = { FS_ROOT_ID, fs->root };
		uint64_t fhs[64] = { 0 };
		size_t nids = 2, nfhs = 0;
		static char mem[8192];
		int served = 0;
		for (int it = 0; it < 6000; it++) {
			char name[320], name2[320];
			random_name(&seed, name, sizeof(name));
			random_name(&seed, name2, sizeof(name2));
			uint64_t ino = rnd(&seed) % 8 ? ids[rnd(&seed) % nids] : rnd(&seed);
			uint64_t fh = nfhs && rnd(&seed) % 8 ? fhs[rnd(&seed) % nfhs] : rnd(&seed);
			struct fs_ctx ctx = { .uid = rnd(&seed) % 2 ? 0 : 1000, .gid = 0, .umask = 022 };
			struct fs_entry e = { 0 };
			struct fs_open fo = { 0 };
			struct stat st, a = { .st_mode = (mode_t)rnd(&seed), .st_size = (off_t)(rnd(&seed) % (1 << 20)) };
			double t;
			size_t got;
			char buf[256];
			struct iovec iov = { buf, sizeof(buf) };
			int r = -1;
			switch (rnd(&seed) % 22) {
			case 0: r = FS_CALL(fs, lookup, &ctx, ino, name, &e); break;
			case 1: r = FS_CALL(fs, mknod, &ctx, ino, name, (mode_t)(rnd(&seed) % 2 ? S_IFREG : S_IFIFO) | 0644, 0, &e); break;
			case 2: r = FS_CALL(fs, mkdir, &ctx, ino, name, 0755, &e); break;
			case 3: r = FS_CALL(fs, symlink, &ctx, ino, name, name2[0] ? name2 : "t", &e); break;
			case 4: r = FS_CALL(fs, link, &ctx, ino, ids[rnd(&seed) % nids], name, &e); break;
			case 5: r = FS_CALL(fs, unlink, &ctx, ino, name); break;
			case 6: r = FS_CALL(fs, rmdir, &ctx, ino, name); break;
			case 7: r = FS_CALL(fs, rename, &ctx, ino, name, ids[rnd(&seed) % nids], name2, (unsigned)(rnd(&seed) % 8)); break;
			case 8: r = FS_CALL(fs, open, &ctx, ino, (int)(rnd(&seed) % 3) | (int)(rnd(&seed) % 2 ? O_TRUNC : 0), &fo); break;
			case 9: r = FS_CALL(fs, create, &ctx, ino, name, 0644, O_RDWR, &e, &fo); break;
			case 10: r = FS_CALL(fs, read, &ctx, ino, fh, rnd(&seed) % 2 ? rnd(&seed) : rnd(&seed) % 4096, sizeof(buf), &iov, 1, &got); break;
			case 11: r = FS_CALL(fs, write, &ctx, ino, fh, rnd(&seed) % 65536, 16, &iov, 1, 0, &got); break;
			case 12: r = FS_CALL(fs, setattr, &ctx, ino, &a, (uint32_t)rnd(&seed) & 0x7ff & ~(uint32_t)FS_SET_UID, fh, &st, &t); break;
			case 13: r = FS_CALL(fs, getattr, &ctx, ino, fh, rnd(&seed) % 2, &st, &t); break;
			case 14: r = FS_CALL(fs, opendir, &ctx, ino, 0, &fo); break;
			case 15: {
				struct fs_dirbuf b;
				wire_dirbuf_init(&b, mem, sizeof(mem), rnd(&seed) % 2, false);
				r = FS_CALL(fs, readdir, &ctx, ino, fh, rnd(&seed) % 3 ? 0 : rnd(&seed), &b);
				if (r == 0 && b.plus)
					for (size_t p = 0; p < b.len;) {
						const struct fuse_direntplus *dp = (const void *)(mem + p);
						if (dp->entry_out.nodeid && nids < ARRAY_SIZE(ids))
							ids[nids++] = dp->entry_out.nodeid;
						p += FUSE_DIRENTPLUS_SIZE(dp);
					}
				break;
			}
			case 16: FS_CALL_VOID(fs, release, &ctx, ino, fh, 0, rnd(&seed), rnd(&seed) % 2); r = 0; break;
			case 17: FS_CALL_VOID(fs, releasedir, &ctx, ino, fh); r = 0; break;
			case 18: FS_CALL_VOID(fs, forget, ino, rnd(&seed) % 3); r = 0; break;
			case 19: {
				struct flock lk = { .l_type = (short)(rnd(&seed) % 4), .l_whence = SEEK_SET,
						    .l_start = (off_t)(rnd(&seed) % 100), .l_len = (off_t)(rnd(&seed) % 100) };
				r = FS_CALL(fs, setlk, &ctx, ino, fh, rnd(&seed) % 4, &lk, false, rnd(&seed) % 2);
				break;
			}
			case 20: r = FS_CALL(fs, setxattr, &ctx, ino, rnd(&seed) % 2 ? "user.h" : name, "v", 1, (int)(rnd(&seed) % 4), 0); break;
			case 21: r = FS_CALL(fs, fallocate, &ctx, ino, fh, (int)(rnd(&seed) % 2 ? 0 : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), (off_t)(rnd(&seed) % 65536), (off_t)(1 + rnd(&seed) % 65536)); break;
			}
			CHECK(r <= 0, "an op returned %d", r);
			served += r == 0;
			if (r == 0 && e.ino && nids < ARRAY_SIZE(ids))
				ids[nids++] = e.ino;
			if (r == 0 && fo.fh && nfhs < ARRAY_SIZE(fhs))
				fhs[nfhs++] = fo.fh;
		}
		fprintf(stderr, "# hostile (%s): %d of 6000 requests served, the rest refused\n",
			mode ? "handles" : "no handles", served);
		CHECK(served > 600, "too few requests served to mean anything");
		free_pt(fs, map);
	}
	CHECK(count_fds() == fds0, "everything closed after a hostile session (%d vs %d)", count_fds(), fds0);
	snap(&after);
	CHECK(after.st.st_mode == before.st.st_mode && after.st.st_uid == before.st.st_uid &&
		      after.st.st_size == before.st.st_size && after.st.st_mtim.tv_sec == before.st.st_mtim.tv_sec &&
		      after.xlen == before.xlen && memcmp(after.xattrs, before.xattrs, sizeof(after.xattrs)) == 0,
	      "the outside file is untouched");
	DIR *od = opendir(outside);
	int n = 0;
	for (struct dirent *de; (de = readdir(od));)
		n += de->d_name[0] != '.';
	closedir(od);
	CHECK(n == 1, "nothing new outside the share (%d entries)", n);
}

/* ---- submounts (a tmpfs mounted inside the share, in a private mount namespace) ---- */

static int submount_child(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	char sub[200];
	snprintf(sub, sizeof(sub), "%s/mnt", share);
	if (mkdir(sub, 0755) < 0 || mount("tmpfs", sub, "tmpfs", 0, "size=1m") < 0)
		return 77;
	host_write(sub, "inner", "i", 0644);
	struct stat host_inner;
	host_stat(sub, "inner", &host_inner);
	for (int announce = 0; announce < 2; announce++) {
		struct pt_opts o;
		pt_opts_default(&o);
		o.announce_submounts = announce;
		struct fs_inomap *map;
		struct fs *fs = new_pt(share, &o, &map);
		struct fs_entry m, i, i2;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "mnt", &m));
		OK(FS_CALL(fs, lookup, &root_ctx, m.ino, "inner", &i));
		if (announce) {
			CHECK(m.attr_flags & FS_ATTR_SUBMOUNT, "submount root flagged");
			CHECK(!(i.attr_flags & FS_ATTR_SUBMOUNT), "inside not flagged");
			CHECK(i.attr.st_ino == host_inner.st_ino, "host st_ino with announced submounts");
		} else {
			CHECK(!(m.attr_flags & FS_ATTR_SUBMOUNT), "not flagged");
			CHECK((i.attr.st_ino & PT_INO_FOREIGN) && (m.attr.st_ino & PT_INO_FOREIGN),
			      "foreign st_ino remapped");
			CHECK((i.attr.st_ino & ((1ULL << 40) - 1)) == host_inner.st_ino, "remap keeps the host number");
			FS_CALL_VOID(fs, forget, i.ino, 1);
			OK(FS_CALL(fs, lookup, &root_ctx, m.ino, "inner", &i2));
			CHECK(i2.attr.st_ino == i.attr.st_ino, "stable across forget");
			struct stat st;
			double t;
			OK(FS_CALL(fs, getattr, &root_ctx, i2.ino, 0, false, &st, &t));
			CHECK(st.st_ino == i.attr.st_ino, "getattr agrees");
			OK(FS_CALL(fs, lookup, &root_ctx, m.ino, "..", &i2));
			CHECK(i2.ino == fs->root, "'..' of the submount root");
		}
		OK(FS_CALL(fs, syncfs, &root_ctx, m.ino));
		free_pt(fs, map);
	}
	umount2(sub, MNT_DETACH);
	return 0;
}

static void test_submounts(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		in_child = true;
		_exit(submount_child());
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid, "wait");
	CHECK(WIFEXITED(status), "child crashed");
	if (WEXITSTATUS(status) == 77)
		fprintf(stderr, "# submounts: cannot mount here: skipped\n");
	else
		CHECK(WEXITSTATUS(status) == 0, "submount checks failed");
	char sub[200];
	snprintf(sub, sizeof(sub), "%s/mnt", share);
	rmdir(sub);
}

static void test_cache_modes(void)
{
	struct pt_opts o;
	pt_opts_default(&o);
	struct fs_inomap *map;
	struct fs_entry e;
	struct fs_open fo;
	host_write(share, "cached", "c", 0644);
	o.cache = PT_CACHE_ALWAYS;
	struct fs *fs = new_pt(share, &o, &map);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "missing", &e));
	CHECK(e.ino == 0 && e.entry_timeout > 1000, "negative entry with cache=always");
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "cached", &e));
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo));
	CHECK(fo.flags & FS_OPEN_KEEP_CACHE, "keep cache");
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
	free_pt(fs, map);
	o.cache = PT_CACHE_NEVER;
	fs = new_pt(share, &o, &map);
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "missing", &e), ENOENT);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "cached", &e));
	CHECK(e.entry_timeout == 0 && e.attr_timeout == 0, "no caching");
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo));
	CHECK(fo.flags & FS_OPEN_DIRECT_IO, "direct io");
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
	uint64_t defaults = FS_CAP_WRITEBACK_CACHE | FS_CAP_POSIX_ACL | FS_CAP_POSIX_LOCKS | FS_CAP_FLOCK_LOCKS |
			    FS_CAP_READDIRPLUS | FS_CAP_SUBMOUNTS;
	struct fs_conn conn = { .capable = ~0ULL, .want = defaults };
	OK(FS_CALL(fs, init, &conn));
	CHECK(!(conn.want & (FS_CAP_WRITEBACK_CACHE | FS_CAP_SUBMOUNTS)), "writeback/submounts only when configured");
	CHECK(conn.want & FS_CAP_POSIX_LOCKS && conn.want & FS_CAP_FLOCK_LOCKS && conn.want & FS_CAP_READDIRPLUS,
	      "locks and readdirplus kept");
	free_pt(fs, map);
	o.writeback = true;
	o.announce_submounts = true;
	fs = new_pt(share, &o, &map);
	conn = (struct fs_conn){ .capable = FS_CAP_POSIX_LOCKS | FS_CAP_WRITEBACK_CACHE, .want = defaults };
	OK(FS_CALL(fs, init, &conn));
	CHECK(conn.want == (FS_CAP_POSIX_LOCKS | FS_CAP_WRITEBACK_CACHE), "configured, and a subset of capable");
	/* with writeback the client reads around partial writes: a write-only open is read-write on the host */
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "cached", &e));
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_WRONLY | O_APPEND, &fo));
	char ch;
	size_t got;
	OK(FS_CALL(fs, read, &root_ctx, e.ino, fo.fh, 0, 1, &(struct iovec){ &ch, 1 }, 1, &got));
	CHECK(got == 1 && ch == 'c', "read through a write-only open with writeback");
	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
	free_pt(fs, map);

	enum pt_cache c;
	enum pt_handles h;
	CHECK(pt_cache_parse("always", &c) == 0 && c == PT_CACHE_ALWAYS, "parse");
	CHECK(pt_cache_parse("sometimes", &c) == -EINVAL && pt_cache_parse(NULL, &c) == -EINVAL, "parse bad");
	CHECK(pt_handles_parse("mandatory", &h) == 0 && h == PT_HANDLES_MANDATORY, "parse");
	CHECK(pt_handles_parse("", &h) == -EINVAL, "parse bad");
}

static void test_bad_construction(void)
{
	struct pt_opts o;
	pt_opts_default(&o);
	struct fs_inomap *map = fs_inomap_new();
	struct fs *fs;
	int fds0 = count_fds();
	/* not a procfs fd */
	int root = open(share, O_PATH | O_CLOEXEC);
	int notproc = open(share, O_PATH | O_CLOEXEC);
	ERR(pt_new(root, notproc, &o, map, &fs), EINVAL);
	close(notproc);
	/* a symlink or a device node is not a root */
	char p[300];
	snprintf(p, sizeof(p), "%s/esc", share);
	root = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	ERR(pt_new(root, proc_fd, &o, map, &fs), ENOTDIR);
	root = open("/dev/null", O_PATH | O_CLOEXEC);
	ERR(pt_new(root, proc_fd, &o, map, &fs), ENOTDIR);
	o.max_fds = 2;
	root = open(share, O_PATH | O_CLOEXEC);
	ERR(pt_new(root, proc_fd, &o, map, &fs), EINVAL);
	CHECK(count_fds() == fds0, "root fd taken on failure");
	fs_inomap_unref(map);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test-passthrough: needs root (owners, device nodes, trusted xattrs, file handles)\n");
		return 77;
	}
	umask(022);
	snprintf(base, sizeof(base), "/tmp/bx-pt-XXXXXX");
	if (!mkdtemp(base)) {
		base[0] = 0;
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	snprintf(share, sizeof(share), "%s/share", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(secret, sizeof(secret), "%s/secret", outside);
	CHECK(mkdir(share, 0755) == 0 && mkdir(outside, 0755) == 0, "mkdir");
	host_write(outside, "secret", "do not touch", 0640);
	CHECK(setxattr(secret, "user.orig", "1", 1, 0) == 0, "xattr on the outside file (user xattrs needed)");
	proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(proc_fd >= 0, "open /proc");

	struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{ "names and root", test_names_and_root },
		{ "entries", test_entries },
		{ "lookup counts", test_lookup_counts },
		{ "file io", test_file_io },
		{ "locks", test_locks },
		{ "escapes", test_escapes },
		{ "file root", test_file_root },
		{ "readdir", test_readdir },
		{ "handles", test_handles },
		{ "export", test_export },
		{ "threads", test_threads },
		{ "hostile", test_hostile },
		{ "submounts", test_submounts },
		{ "cache modes", test_cache_modes },
		{ "bad construction", test_bad_construction },
	};
	printf("1..%zu\n", sizeof(tests) / sizeof(tests[0]));
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		tests[i].fn();
		printf("ok %zu - %s\n", i + 1, tests[i].name);
		fflush(stdout);
	}
	close(proc_fd);
	return failures ? 1 : 0;
}
