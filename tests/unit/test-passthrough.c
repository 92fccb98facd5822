/* SPDX-License-Identifier: MIT */
/*
 * Unit test of the passthrough backend: drives the struct fs vtable directly on a temporary directory (no FUSE)
 * and checks every result against the host file system: every op, lookup counts, symlink escapes, devices
 * and fifos, a single-file root, readdir offsets under churn, locks, xattrs, cache modes.
 * Exits 77 when not run as root (owners, devices, trusted xattrs and file handles need it).
 */
#include "pt-test.h"

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
	/* the same after a cold walk (lookups of new inodes teach the lookup to open the name first): the fd
	 * opened for a known inode is closed again */
	for (int i = 0; i < 4; i++) {
		char cold[32];
		snprintf(cold, sizeof(cold), "cold%d", i);
		host_write(share, cold, "c", 0644);
		struct fs_entry c;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, cold, &c));
		FS_CALL_VOID(fs, forget, c.ino, 1);
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", share, cold);
		CHECK(unlink(path) == 0, "unlink %s: %m", path);
	}
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "counted", &e2));
	CHECK(e1.ino == e2.ino && count_fds() == fds1 + 1, "after a cold walk: same node, no new fd");
	FS_CALL_VOID(fs, forget, e2.ino, 1);
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
	off_t start, len; /* 0, 0: [0,100) */
	atomic_int done;
};

static void on_usr1(int sig)
{
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = w->start,
			    .l_len = w->len ? w->len : 100, .l_pid = 7 };
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

	/* deadlock: A holds [0,1) and waits for [1,2); B holds [1,2) and asks for [0,1): EDEADLK, as the host
	 * answers for processes (the host does not detect it for OFD locks: the server must) */
	struct flock a0 = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	struct flock b1 = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1 };
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, a2.fh, A, &a0, false, false));
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &b1, false, false));
	wt = (struct waiter){ .fs = fs, .ino = e.ino, .fh = a2.fh, .owner = A, .r = 1, .start = 1, .len = 1 };
	CHECK(pthread_create(&th, NULL, waiter_main, &wt) == 0, "thread");
	usleep(100 * 1000);
	CHECK(atomic_load(&wt.done) == 0, "A waits for B");
	ERR(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &a0, true, false), EDEADLK);
	OK(FS_CALL(fs, setlk, &root_ctx, e.ino, b.fh, B, &un, false, false)); /* B gives up: A gets it */
	pthread_join(th, NULL);
	CHECK(wt.r == 0, "A's wait granted: %d", wt.r);
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

/* A write-back of cached pages keeps the host mtime (the client owns it under the writeback cache and sets it
 * with SETATTR); a plain write moves it as write(2) does. */
struct wb_race {
	struct fs *fs;
	uint64_t ino, fh;
	atomic_bool stop;
};

static void *wb_writer(void *arg)
{
	struct wb_race *w = arg;
	size_t got;
	while (!atomic_load(&w->stop))
		OK(FS_CALL(w->fs, write, &root_ctx, w->ino, w->fh, 0, 1, &(struct iovec){ "w", 1 }, 1, FS_WRITE_CACHE,
			   &got));
	return NULL;
}

static void test_writeback_mtime(void)
{
	struct pt_opts o;
	pt_opts_default(&o);
	o.writeback = true;
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, &o, &map);
	host_write(share, "wbtime", "0123456789", 0644);
	struct fs_entry e;
	struct fs_open fo;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "wbtime", &e));
	OK(FS_CALL(fs, open, &root_ctx, e.ino, O_RDWR, &fo));
	const struct timespec old = { 1000000000, 123456789 };
	struct stat a = { .st_mtim = old }, st, h;
	double t;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MTIME, 0, &st, &t));

	size_t got;
	OK(FS_CALL(fs, write, &root_ctx, e.ino, fo.fh, 2, 3, &(struct iovec){ "abc", 3 }, 1, FS_WRITE_CACHE, &got));
	CHECK(got == 3, "write-back wrote %zu", got);
	host_stat(share, "wbtime", &h);
	CHECK(h.st_mtim.tv_sec == old.tv_sec && h.st_mtim.tv_nsec == old.tv_nsec,
	      "write-back moved the mtime to %lld.%09ld", (long long)h.st_mtim.tv_sec, h.st_mtim.tv_nsec);
	char back[16] = { 0 };
	CHECK(rw(fs, false, e.ino, fo.fh, 0, back, 10) == 10 && memcmp(back, "01abc56789", 10) == 0,
	      "write-back data: %s", back);
	/* with the kill flag too: the bits go, the mtime stays */
	a.st_mode = 04755;
	OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MODE, 0, &st, &t));
	OK(FS_CALL(fs, write, &root_ctx, e.ino, fo.fh, 0, 1, &(struct iovec){ "x", 1 }, 1,
		   FS_WRITE_CACHE | FS_WRITE_KILL_SUIDGID, &got));
	host_stat(share, "wbtime", &h);
	CHECK((h.st_mode & 07777) == 0755 && h.st_mtim.tv_sec == old.tv_sec, "write-back with kill: %o %lld",
	      h.st_mode & 07777, (long long)h.st_mtim.tv_sec);

	/* a plain write moves it */
	OK(FS_CALL(fs, write, &root_ctx, e.ino, fo.fh, 0, 1, &(struct iovec){ "y", 1 }, 1, 0, &got));
	host_stat(share, "wbtime", &h);
	CHECK(h.st_mtim.tv_sec > old.tv_sec, "a plain write left the mtime at %lld", (long long)h.st_mtim.tv_sec);

	/* a SETATTR of the mtime racing with write-backs is never undone by one of them: from each SETATTR on the
	 * host holds its value (or, for the moment of a pwritev, the present, which is later) */
	struct wb_race w = { .fs = fs, .ino = e.ino, .fh = fo.fh };
	pthread_t th;
	CHECK(pthread_create(&th, NULL, wb_writer, &w) == 0, "pthread_create");
	const time_t base = old.tv_sec;
	for (int i = 1; i <= 2000; i++) {
		a.st_mtim = (struct timespec){ base + i, 0 };
		OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &a, FS_SET_MTIME | FS_SET_FH, fo.fh, &st, &t));
		host_stat(share, "wbtime", &h);
		if (h.st_mtim.tv_sec < base + i)
			atomic_store(&w.stop, true);
		CHECK(h.st_mtim.tv_sec >= base + i, "a write-back put back the mtime %lld over %lld",
		      (long long)h.st_mtim.tv_sec, (long long)(base + i));
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	host_stat(share, "wbtime", &h);
	CHECK(h.st_mtim.tv_sec == base + 2000, "after the last SETATTR: %lld", (long long)h.st_mtim.tv_sec);

	FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
	free_pt(fs, map);
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
	int r = pt_test_setup("test-passthrough");
	if (r)
		return r;
	static const struct pt_test tests[] = {
		{ "names and root", test_names_and_root },
		{ "entries", test_entries },
		{ "lookup counts", test_lookup_counts },
		{ "file io", test_file_io },
		{ "locks", test_locks },
		{ "escapes", test_escapes },
		{ "file root", test_file_root },
		{ "readdir", test_readdir },
		{ "cache modes", test_cache_modes },
		{ "writeback mtime", test_writeback_mtime },
		{ "bad construction", test_bad_construction },
	};
	return pt_test_run(tests, ARRAY_SIZE(tests));
}
