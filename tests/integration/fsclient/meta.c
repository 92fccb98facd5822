/* SPDX-License-Identifier: MIT */
/* fsclient: namespace and attribute checks (lookup, setattr of every kind, links, renames, access). */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fsc.h"

/* What the client sees must be what the host has: compare the attrs of name on both sides. */
static int host_same(struct fsc *c, const char *name, int line)
{
	if (c->hd < 0)
		return 0;
	struct stat a, b;
	if (fstatat(c->d, name, &a, AT_SYMLINK_NOFOLLOW) < 0) {
		fsc_reason(c, line, "stat %s through the target: %s", name, strerror(errno));
		return -1;
	}
	if (fstatat(c->hd, name, &b, AT_SYMLINK_NOFOLLOW) < 0) {
		fsc_reason(c, line, "stat %s on the host: %s", name, strerror(errno));
		return -1;
	}
	const char *what = NULL;
	if (a.st_mode != b.st_mode)
		what = "mode";
	else if (a.st_uid != b.st_uid || a.st_gid != b.st_gid)
		what = "owner";
	else if (a.st_size != b.st_size)
		what = "size";
	else if (a.st_nlink != b.st_nlink)
		what = "nlink";
	else if (a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec)
		what = "mtime";
	else if (a.st_rdev != b.st_rdev)
		what = "rdev";
	if (what) {
		fsc_reason(c, line, "%s: %s differs between client (mode %o uid %u size %lld mtime %lld.%09ld) and "
				     "host (mode %o uid %u size %lld mtime %lld.%09ld)",
			   name, what, a.st_mode, a.st_uid, (long long)a.st_size, (long long)a.st_mtim.tv_sec,
			   a.st_mtim.tv_nsec, b.st_mode, b.st_uid, (long long)b.st_size, (long long)b.st_mtim.tv_sec,
			   b.st_mtim.tv_nsec);
		return -1;
	}
	return 0;
}
#define HOST_SAME(name)                                                                                          \
	do {                                                                                                     \
		if (host_same(c, (name), __LINE__) < 0)                                                          \
			return -1;                                                                               \
	} while (0)

static int check_lookup(struct fsc *c)
{
	struct stat st, st2;
	MUST(fsc_put(c->d, "f", "hello", 0644));
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644, "mode %o, expected a 0644 file", st.st_mode);
	CHECK(st.st_size == 5 && st.st_nlink == 1, "size %lld nlink %lu", (long long)st.st_size,
	      (unsigned long)st.st_nlink);
	CHECK(st.st_uid == geteuid() && st.st_gid == getegid(), "owner %u:%u", st.st_uid, st.st_gid);
	HOST_SAME("f");
	MUST_FAIL(fstatat(c->d, "missing", &st, 0), ENOENT);
	MUST_FAIL(fstatat(c->d, "f/x", &st, 0), ENOTDIR);
	char longname[300];
	memset(longname, 'n', 255);
	longname[255] = 0;
	MUST(fsc_put(c->d, longname, "", 0600)); /* NAME_MAX is allowed */
	MUST(fstatat(c->d, longname, &st, 0));
	longname[255] = 'n';
	longname[256] = 0;
	MUST_FAIL(fstatat(c->d, longname, &st, 0), ENAMETOOLONG);
	MUST_FAIL(openat(c->d, longname, O_CREAT | O_WRONLY | O_CLOEXEC, 0600), ENAMETOOLONG);
	/* "." is the directory itself and ".." its parent, as on any file system */
	MUST(fstatat(c->d, ".", &st, 0));
	MUST(fstat(c->d, &st2));
	CHECK(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev, "'.' is not the directory");
	MUST(mkdirat(c->d, "sub", 0755));
	MUST(fstatat(c->d, "sub/..", &st, 0));
	CHECK(st.st_ino == st2.st_ino, "'sub/..' is not the parent");
	/* distinct files have distinct inode numbers; both names of a hard link the same */
	MUST(fstatat(c->d, "f", &st, 0));
	MUST(fstatat(c->d, "sub", &st2, 0));
	CHECK(st.st_ino != st2.st_ino, "two files share st_ino %llu", (unsigned long long)st.st_ino);
	return 0;
}

static int check_chmod(struct fsc *c)
{
	struct stat st;
	MUST(fsc_put(c->d, "f", "x", 0644));
	static const mode_t modes[] = { 0600, 0755, 0000, 04755, 02755, 01777, 0644 };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		MUST(fchmodat(c->d, "f", modes[i], 0));
		MUST(fstatat(c->d, "f", &st, 0));
		CHECK((st.st_mode & 07777) == modes[i], "chmod %o gave %o", modes[i], st.st_mode & 07777);
		HOST_SAME("f");
	}
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST(fchmod(fd, 0640));
	MUST(fstat(fd, &st));
	close(fd);
	CHECK((st.st_mode & 07777) == 0640, "fchmod 640 gave %o", st.st_mode & 07777);
	MUST(mkdirat(c->d, "d", 0755));
	MUST(fchmodat(c->d, "d", 0700, 0));
	HOST_SAME("d");
	return 0;
}

static int check_chown(struct fsc *c)
{
	struct stat st;
	if (geteuid() != 0)
		SKIP("needs root");
	MUST(fsc_put(c->d, "f", "x", 0644));
	MUST(fchownat(c->d, "f", 1234, 5678, 0));
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_uid == 1234 && st.st_gid == 5678, "chown 1234:5678 gave %u:%u", st.st_uid, st.st_gid);
	HOST_SAME("f");
	MUST(fchownat(c->d, "f", (uid_t)-1, 42, 0)); /* -1 keeps the owner */
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_uid == 1234 && st.st_gid == 42, "chown -1:42 gave %u:%u", st.st_uid, st.st_gid);
	/* chown by root of a setuid executable clears setuid (and setgid with group exec), as the kernel does */
	MUST(fchmodat(c->d, "f", 06755, 0));
	MUST(fchownat(c->d, "f", 1, 1, 0));
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK((st.st_mode & 06000) == 0, "chown kept setuid/setgid: mode %o", st.st_mode & 07777);
	HOST_SAME("f");
	int fd = MUST(openat(c->d, "f", O_RDONLY | O_CLOEXEC));
	MUST(fchown(fd, 0, 0));
	close(fd);
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_uid == 0 && st.st_gid == 0, "fchown 0:0 gave %u:%u", st.st_uid, st.st_gid);
	return 0;
}

static int check_truncate(struct fsc *c)
{
	struct stat st;
	char buf[8192];
	MUST(fsc_put(c->d, "f", "0123456789", 0644));
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST(ftruncate(fd, 4));
	MUST(fstat(fd, &st));
	CHECK(st.st_size == 4, "ftruncate 4: size %lld", (long long)st.st_size);
	MUST(ftruncate(fd, 5000)); /* grow: the new bytes read as zeros */
	ssize_t n = MUST(fsc_pread_all(fd, buf, sizeof(buf), 0));
	CHECK(n == 5000, "read %zd bytes after growing to 5000", n);
	CHECK(!memcmp(buf, "0123", 4), "kept bytes changed");
	for (int i = 4; i < 5000; i++)
		CHECK(buf[i] == 0, "byte %d after grow is %d, not 0", i, buf[i]);
	close(fd);
	HOST_SAME("f");
	/* truncate(2) by path, without an open file */
	int dfd = c->d;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/f", c->root_path, c->dir_rel);
	MUST(truncate(path, 3));
	MUST(fstatat(dfd, "f", &st, 0));
	CHECK(st.st_size == 3, "truncate 3: size %lld", (long long)st.st_size);
	MUST(truncate(path, 0));
	MUST(fstatat(dfd, "f", &st, 0));
	CHECK(st.st_size == 0 && st.st_blocks == 0, "truncate 0: size %lld blocks %lld", (long long)st.st_size,
	      (long long)st.st_blocks);
	HOST_SAME("f");
	/* a huge size is the file system's limit, not a crash */
	fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST_FAIL2(ftruncate(fd, (off_t)1 << 62), EFBIG, EINVAL);
	MUST_FAIL(ftruncate(fd, -1), EINVAL);
	close(fd);
	return 0;
}

static int ts_in(struct timespec t, struct timespec lo, struct timespec hi)
{
	/* the file system's clock granularity may round down: allow one tick of slack (ext4: 1 ns, some 1 s) */
	long long v = t.tv_sec * 1000000000LL + t.tv_nsec;
	long long l = lo.tv_sec * 1000000000LL + lo.tv_nsec - 20000000LL;
	long long h = hi.tv_sec * 1000000000LL + hi.tv_nsec + 20000000LL;
	return v >= l && v <= h;
}

static int check_utimens(struct fsc *c)
{
	struct stat st;
	MUST(fsc_put(c->d, "f", "x", 0644));
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1200000000, 987654321 } };
	MUST(utimensat(c->d, "f", ts, 0));
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_atim.tv_sec == ts[0].tv_sec && st.st_atim.tv_nsec == ts[0].tv_nsec, "atime %lld.%09ld",
	      (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	CHECK(st.st_mtim.tv_sec == ts[1].tv_sec && st.st_mtim.tv_nsec == ts[1].tv_nsec, "mtime %lld.%09ld",
	      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	HOST_SAME("f");
	/* UTIME_OMIT keeps one, UTIME_NOW sets the other to now */
	/* "before" on the coarse clock, the one the kernel stamps files with: it may trail CLOCK_REALTIME by more
	 * than the slack of ts_in() when the VM's timekeeping CPU is descheduled */
	struct timespec before, after;
	clock_gettime(CLOCK_REALTIME_COARSE, &before);
	struct timespec ts2[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	MUST(utimensat(c->d, "f", ts2, 0));
	clock_gettime(CLOCK_REALTIME, &after);
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_atim.tv_sec == ts[0].tv_sec && st.st_atim.tv_nsec == ts[0].tv_nsec,
	      "UTIME_OMIT changed atime to %lld.%09ld", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	CHECK(ts_in(st.st_mtim, before, after), "UTIME_NOW mtime %lld.%09ld is not now (%lld)",
	      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)before.tv_sec);
	struct timespec ts3[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct timespec mt = st.st_mtim;
	MUST(utimensat(c->d, "f", ts3, 0));
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_mtim.tv_sec == mt.tv_sec && st.st_mtim.tv_nsec == mt.tv_nsec, "UTIME_OMIT changed mtime");
	CHECK(st.st_atim.tv_sec >= before.tv_sec, "UTIME_NOW atime %lld is in the past",
	      (long long)st.st_atim.tv_sec);
	/* both omitted: nothing changes, not even ctime */
	struct timespec ct = st.st_ctim;
	struct timespec ts4[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	fsc_msleep(20);
	MUST(utimensat(c->d, "f", ts4, 0));
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_ctim.tv_sec == ct.tv_sec && st.st_ctim.tv_nsec == ct.tv_nsec, "OMIT/OMIT changed ctime");
	/* NULL times: both now (futimens on an open file) */
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	clock_gettime(CLOCK_REALTIME_COARSE, &before);
	MUST(futimens(fd, NULL));
	clock_gettime(CLOCK_REALTIME, &after);
	MUST(fstat(fd, &st));
	close(fd);
	CHECK(ts_in(st.st_mtim, before, after) && ts_in(st.st_atim, before, after),
	      "futimens(NULL) is not now: mtime %lld.%09ld atime %lld.%09ld, called between %lld.%09ld and %lld.%09ld",
	      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	      (long long)before.tv_sec, before.tv_nsec, (long long)after.tv_sec, after.tv_nsec);
	/* times before the epoch and far in the future */
	struct timespec ts5[2] = { { -1000, 0 }, { 4000000000LL, 5 } };
	MUST(utimensat(c->d, "f", ts5, 0));
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK(st.st_atim.tv_sec == -1000 && st.st_mtim.tv_sec == 4000000000LL && st.st_mtim.tv_nsec == 5,
	      "times %lld / %lld.%ld", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec,
	      st.st_mtim.tv_nsec);
	HOST_SAME("f");
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
	MUST_FAIL(utimensat(c->d, "f", bad, 0), EINVAL);
	return 0;
}

static int check_symlink(struct fsc *c)
{
	char buf[PATH_MAX + 1];
	static const char *const targets[] = { "plain", "../../../../etc/passwd", "/absolute/elsewhere",
						"dir/with/slashes", "a", "x y\tz" };
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "l%zu", i);
		MUST(symlinkat(targets[i], c->d, name));
		ssize_t n = MUST(readlinkat(c->d, name, buf, sizeof(buf)));
		CHECK((size_t)n == strlen(targets[i]) && !memcmp(buf, targets[i], (size_t)n), "readlink %s: '%.*s'",
		      name, (int)n, buf);
		if (c->hd >= 0) { /* the server stores the target as given: no rewriting, no resolution */
			n = MUST(readlinkat(c->hd, name, buf, sizeof(buf)));
			CHECK((size_t)n == strlen(targets[i]) && !memcmp(buf, targets[i], (size_t)n),
			      "host target of %s: '%.*s'", name, (int)n, buf);
		}
		struct stat st;
		MUST(fstatat(c->d, name, &st, AT_SYMLINK_NOFOLLOW));
		CHECK(S_ISLNK(st.st_mode) && st.st_size == (off_t)strlen(targets[i]), "lstat %s: mode %o size %lld",
		      name, st.st_mode, (long long)st.st_size);
	}
	/* the longest target the kernel takes (PATH_MAX - 1 bytes) */
	char *longt = malloc(PATH_MAX);
	memset(longt, 'x', PATH_MAX - 1);
	longt[PATH_MAX - 1] = 0;
	for (int i = 100; i < PATH_MAX - 1; i += 100)
		longt[i] = '/';
	int r = symlinkat(longt, c->d, "long");
	if (r < 0) {
		free(longt);
		FAIL("symlink with a %d-byte target: %s", PATH_MAX - 1, strerror(errno));
	}
	ssize_t n = readlinkat(c->d, "long", buf, sizeof(buf));
	int ok = n == PATH_MAX - 1 && !memcmp(buf, longt, PATH_MAX - 1);
	/* a short buffer truncates silently (readlink(2) semantics) */
	ssize_t n2 = readlinkat(c->d, "long", buf, 10);
	free(longt);
	CHECK(ok, "readlink of the long target: %zd bytes", n);
	CHECK(n2 == 10, "readlink into 10 bytes gave %zd", n2);
	MUST_FAIL(symlinkat("", c->d, "empty"), ENOENT);
	MUST(fsc_put(c->d, "f", "", 0644));
	MUST_FAIL(readlinkat(c->d, "f", buf, sizeof(buf)), EINVAL);
	MUST_FAIL(symlinkat("x", c->d, "f"), EEXIST);
	/* open follows it, O_NOFOLLOW refuses it */
	MUST(symlinkat("f", c->d, "tof"));
	int fd = MUST(openat(c->d, "tof", O_RDONLY | O_CLOEXEC));
	close(fd);
	MUST_FAIL(openat(c->d, "tof", O_RDONLY | O_NOFOLLOW | O_CLOEXEC), ELOOP);
	MUST(symlinkat("loop", c->d, "loop"));
	MUST_FAIL(openat(c->d, "loop", O_RDONLY | O_CLOEXEC), ELOOP);
	return 0;
}

static int check_mknod(struct fsc *c)
{
	struct stat st;
	MUST(mknodat(c->d, "fifo", S_IFIFO | 0640, 0));
	MUST(fstatat(c->d, "fifo", &st, 0));
	CHECK(S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0640, "fifo mode %o", st.st_mode);
	HOST_SAME("fifo");
	MUST(mkfifoat(c->d, "fifo2", 0600));
	/* a fifo through the client works as a fifo: a reader and a writer in one process */
	int r = MUST(openat(c->d, "fifo2", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	int w = MUST(openat(c->d, "fifo2", O_WRONLY | O_NONBLOCK | O_CLOEXEC));
	MUST(write(w, "ping", 4));
	char buf[8] = { 0 };
	ssize_t n = read(r, buf, sizeof(buf));
	close(r);
	close(w);
	CHECK(n == 4 && !memcmp(buf, "ping", 4), "fifo read %zd bytes", n);
	MUST(mknodat(c->d, "reg", S_IFREG | 0600, 0));
	MUST(fstatat(c->d, "reg", &st, 0));
	CHECK(S_ISREG(st.st_mode) && st.st_size == 0, "mknod S_IFREG: mode %o", st.st_mode);
	MUST_FAIL(mknodat(c->d, "reg", S_IFIFO | 0600, 0), EEXIST);
	if (geteuid() == 0) {
		MUST(mknodat(c->d, "chr", S_IFCHR | 0600, makedev(1, 3)));
		MUST(fstatat(c->d, "chr", &st, 0));
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3), "char device: mode %o rdev %llx",
		      st.st_mode, (unsigned long long)st.st_rdev);
		HOST_SAME("chr");
	}
	return 0;
}

static int check_mkdir_rmdir(struct fsc *c)
{
	struct stat st;
	MUST(mkdirat(c->d, "d", 0750));
	MUST(fstatat(c->d, "d", &st, 0));
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0750 && st.st_nlink == 2, "mkdir: mode %o nlink %lu",
	      st.st_mode, (unsigned long)st.st_nlink);
	HOST_SAME("d");
	MUST_FAIL(mkdirat(c->d, "d", 0755), EEXIST);
	MUST(mkdirat(c->d, "d/e", 0755));
	MUST(fstatat(c->d, "d", &st, 0));
	CHECK(st.st_nlink == 3, "parent nlink %lu after a subdirectory", (unsigned long)st.st_nlink);
	MUST_FAIL(unlinkat(c->d, "d", AT_REMOVEDIR), ENOTEMPTY);
	MUST_FAIL(unlinkat(c->d, "d", 0), EISDIR);
	MUST(fsc_put(c->d, "f", "", 0644));
	MUST_FAIL(unlinkat(c->d, "f", AT_REMOVEDIR), ENOTDIR);
	MUST_FAIL(mkdirat(c->d, "f/x", 0755), ENOTDIR);
	MUST_FAIL(unlinkat(c->d, "d/.", AT_REMOVEDIR), EINVAL);
	MUST(unlinkat(c->d, "d/e", AT_REMOVEDIR));
	MUST(unlinkat(c->d, "d", AT_REMOVEDIR));
	MUST_FAIL(fstatat(c->d, "d", &st, 0), ENOENT);
	if (c->hd >= 0)
		MUST_FAIL(fstatat(c->hd, "d", &st, 0), ENOENT);
	/* an open directory that is removed answers as removed */
	MUST(mkdirat(c->d, "gone", 0755));
	int fd = MUST(openat(c->d, "gone", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	MUST(unlinkat(c->d, "gone", AT_REMOVEDIR));
	MUST_FAIL(openat(fd, "new", O_CREAT | O_WRONLY | O_CLOEXEC, 0644), ENOENT);
	close(fd);
	return 0;
}

static int check_unlink(struct fsc *c)
{
	struct stat st;
	char buf[16];
	MUST(fsc_put(c->d, "f", "data", 0644));
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST(unlinkat(c->d, "f", 0));
	MUST_FAIL(fstatat(c->d, "f", &st, 0), ENOENT);
	if (c->hd >= 0)
		MUST_FAIL(fstatat(c->hd, "f", &st, 0), ENOENT);
	/* the open file lives on: read, write, fstat */
	ssize_t n = MUST(pread(fd, buf, sizeof(buf), 0));
	CHECK(n == 4 && !memcmp(buf, "data", 4), "read of an unlinked open file: %zd bytes", n);
	MUST(pwrite(fd, "more", 4, 4));
	MUST(fstat(fd, &st));
	CHECK(st.st_nlink == 0 && st.st_size == 8, "unlinked open file: nlink %lu size %lld",
	      (unsigned long)st.st_nlink, (long long)st.st_size);
	close(fd);
	MUST_FAIL(unlinkat(c->d, "f", 0), ENOENT);
	MUST(fsc_put(c->d, "f", "new", 0644)); /* the name is free again */
	return 0;
}

static int check_rename(struct fsc *c)
{
	struct stat st, st2;
	char buf[64];
	MUST(fsc_put(c->d, "a", "A", 0644));
	MUST(fsc_put(c->d, "b", "B", 0644));
	MUST(fstatat(c->d, "a", &st, 0));
	MUST(renameat(c->d, "a", c->d, "b")); /* replaces b */
	MUST(fstatat(c->d, "b", &st2, 0));
	CHECK(st.st_ino == st2.st_ino, "b is not the renamed a");
	MUST(fsc_get(c->d, "b", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "A"), "b holds '%s'", buf);
	MUST_FAIL(fstatat(c->d, "a", &st, 0), ENOENT);
	/* across directories, directories themselves */
	MUST(mkdirat(c->d, "d1", 0755));
	MUST(mkdirat(c->d, "d2", 0755));
	MUST(renameat(c->d, "b", c->d, "d1/b"));
	MUST(renameat(c->d, "d1", c->d, "d2/d1"));
	MUST(fsc_get(c->d, "d2/d1/b", buf, sizeof(buf)));
	if (c->hd >= 0)
		MUST(fstatat(c->hd, "d2/d1/b", &st, 0));
	/* the errors of rename(2) */
	MUST(mkdirat(c->d, "full", 0755));
	MUST(fsc_put(c->d, "full/x", "", 0644));
	MUST(mkdirat(c->d, "empty", 0755));
	MUST_FAIL(renameat(c->d, "empty", c->d, "full"), ENOTEMPTY);
	MUST(fsc_put(c->d, "file", "", 0644));
	MUST_FAIL(renameat(c->d, "file", c->d, "empty"), EISDIR);
	MUST_FAIL(renameat(c->d, "empty", c->d, "file"), ENOTDIR);
	MUST_FAIL(renameat(c->d, "d2", c->d, "d2/d1/inside"), EINVAL); /* into its own subtree */
	MUST_FAIL(renameat(c->d, "nope", c->d, "x"), ENOENT);
	MUST(renameat(c->d, "file", c->d, "file")); /* same name: nothing happens */
	MUST(fstatat(c->d, "file", &st, 0));
	/* an open file follows its new name */
	int fd = MUST(openat(c->d, "file", O_RDWR | O_CLOEXEC));
	MUST(renameat(c->d, "file", c->d, "moved"));
	MUST(write(fd, "after", 5));
	close(fd);
	MUST(fsc_get(c->d, "moved", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "after"), "moved holds '%s'", buf);
	return 0;
}

static int check_rename2(struct fsc *c)
{
	char buf[64];
	struct stat st;
	MUST(fsc_put(c->d, "a", "A", 0644));
	MUST(fsc_put(c->d, "b", "B", 0644));
	MUST_FAIL(renameat2(c->d, "a", c->d, "b", RENAME_NOREPLACE), EEXIST);
	MUST(fsc_get(c->d, "b", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "B"), "NOREPLACE replaced b");
	MUST(renameat2(c->d, "a", c->d, "c", RENAME_NOREPLACE));
	MUST(renameat2(c->d, "c", c->d, "b", RENAME_EXCHANGE));
	MUST(fsc_get(c->d, "b", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "A"), "after EXCHANGE b holds '%s'", buf);
	MUST(fsc_get(c->d, "c", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "B"), "after EXCHANGE c holds '%s'", buf);
	if (c->hd >= 0) {
		MUST(fsc_get(c->hd, "b", buf, sizeof(buf)));
		CHECK(!strcmp(buf, "A"), "host b holds '%s' after EXCHANGE", buf);
	}
	/* exchange a file with a directory */
	MUST(mkdirat(c->d, "dir", 0755));
	MUST(renameat2(c->d, "dir", c->d, "c", RENAME_EXCHANGE));
	MUST(fstatat(c->d, "c", &st, 0));
	CHECK(S_ISDIR(st.st_mode), "c is not the directory after EXCHANGE");
	MUST(fstatat(c->d, "dir", &st, 0));
	CHECK(S_ISREG(st.st_mode), "dir is not the file after EXCHANGE");
	MUST_FAIL(renameat2(c->d, "b", c->d, "none", RENAME_EXCHANGE), ENOENT);
	MUST_FAIL(renameat2(c->d, "b", c->d, "c", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
	if (geteuid() == 0) {
		/* WHITEOUT: b moves to w and a whiteout (char device 0:0) takes b's place */
		int r = renameat2(c->d, "b", c->d, "w", RENAME_WHITEOUT);
		if (r < 0 && (errno == EINVAL || errno == EOPNOTSUPP) && c->oracle)
			SKIP("the native file system has no RENAME_WHITEOUT");
		CHECK(r == 0, "RENAME_WHITEOUT: %s", strerror(errno));
		MUST(fstatat(c->d, "b", &st, AT_SYMLINK_NOFOLLOW));
		CHECK(S_ISCHR(st.st_mode) && st.st_rdev == 0, "whiteout is mode %o rdev %llx", st.st_mode,
		      (unsigned long long)st.st_rdev);
		MUST(fsc_get(c->d, "w", buf, sizeof(buf)));
		CHECK(!strcmp(buf, "A"), "w holds '%s'", buf);
		HOST_SAME("b");
	}
	return 0;
}

static int check_link(struct fsc *c)
{
	struct stat st, st2;
	char buf[16];
	MUST(fsc_put(c->d, "f", "one", 0644));
	MUST(linkat(c->d, "f", c->d, "g", 0));
	MUST(fstatat(c->d, "f", &st, 0));
	MUST(fstatat(c->d, "g", &st2, 0));
	CHECK(st.st_ino == st2.st_ino && st.st_nlink == 2 && st2.st_nlink == 2, "link: ino %llu/%llu nlink %lu",
	      (unsigned long long)st.st_ino, (unsigned long long)st2.st_ino, (unsigned long)st.st_nlink);
	HOST_SAME("g");
	MUST(fsc_put(c->d, "g", "two", 0644)); /* writing one name changes the other */
	MUST(fsc_get(c->d, "f", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "two"), "f holds '%s' after writing g", buf);
	MUST(mkdirat(c->d, "sub", 0755));
	MUST(linkat(c->d, "f", c->d, "sub/h", 0));
	MUST(unlinkat(c->d, "f", 0));
	MUST(fstatat(c->d, "g", &st, 0));
	CHECK(st.st_nlink == 2, "nlink %lu after unlinking one of three names", (unsigned long)st.st_nlink);
	MUST_FAIL(linkat(c->d, "sub", c->d, "sublink", 0), EPERM);
	MUST_FAIL(linkat(c->d, "g", c->d, "sub/h", 0), EEXIST);
	MUST_FAIL(linkat(c->d, "none", c->d, "x", 0), ENOENT);
	/* linkat of a symlink links the symlink itself */
	MUST(symlinkat("g", c->d, "sl"));
	MUST(linkat(c->d, "sl", c->d, "sl2", 0));
	MUST(fstatat(c->d, "sl2", &st, AT_SYMLINK_NOFOLLOW));
	CHECK(S_ISLNK(st.st_mode), "link of a symlink is mode %o", st.st_mode);
	return 0;
}

/* In a child that dropped to uid 65534: what an unprivileged user of the share may and may not do. */
static int nobody_child(void *arg)
{
	struct fsc *c = arg;
	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		return 10;
	char buf[16];
	if (faccessat(c->d, "pub", R_OK, 0) < 0)
		return 11;
	if (faccessat(c->d, "pub", W_OK, 0) == 0 || errno != EACCES)
		return 12;
	if (fsc_get(c->d, "pub", buf, sizeof(buf)) != 3)
		return 13;
	if (openat(c->d, "pub", O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 14;
	if (openat(c->d, "secret", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 15;
	if (openat(c->d, "closed/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) >= 0 || errno != EACCES)
		return 16;
	if (unlinkat(c->d, "pub", 0) == 0 || errno != EACCES)
		return 17;
	if (fchmodat(c->d, "pub", 0777, 0) == 0 || errno != EPERM)
		return 18;
	if (fchownat(c->d, "mine", 0, 0, 0) == 0 || errno != EPERM)
		return 19;
	/* the owner may chmod and write its own file; writing clears setuid/setgid of a group-executable file */
	int fd = openat(c->d, "mine", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 20;
	if (write(fd, "w", 1) != 1)
		return 21;
	close(fd);
	if (faccessat(c->d, "open", W_OK, 0) < 0)
		return 22;
	if (fsc_put(c->d, "open/new", "n", 0644) < 0)
		return 23;
	return 0;
}

static int check_access(struct fsc *c)
{
	struct stat st;
	MUST(fsc_put(c->d, "pub", "pub", 0644));
	MUST(fsc_put(c->d, "secret", "s", 0600));
	MUST(faccessat(c->d, "pub", R_OK | W_OK, 0));
	MUST_FAIL(faccessat(c->d, "pub", X_OK, 0), EACCES); /* even root needs one x bit */
	MUST(fchmodat(c->d, "pub", 0744, 0));
	MUST(faccessat(c->d, "pub", X_OK, 0));
	MUST(fchmodat(c->d, "pub", 0644, 0));
	MUST_FAIL(faccessat(c->d, "none", F_OK, 0), ENOENT);
	if (geteuid() != 0)
		SKIP("the other-user half needs root");
	MUST(fchmodat(c->d, ".", 0755, 0));
	MUST(mkdirat(c->d, "closed", 0755));
	MUST(mkdirat(c->d, "open", 0777));
	MUST(fchmodat(c->d, "open", 0777, 0));
	MUST(fsc_put(c->d, "mine", "m", 0644));
	MUST(fchownat(c->d, "mine", 65534, 65534, 0));
	MUST(fchmodat(c->d, "mine", 06775, 0));
	int r = fsc_in_child(nobody_child, c);
	CHECK(r == 0, "as uid 65534: step %d failed (see nobody_child)", r);
	MUST(fstatat(c->d, "mine", &st, 0));
	CHECK((st.st_mode & 06000) == 0, "a write by the owner kept setuid/setgid: mode %o", st.st_mode & 07777);
	CHECK(st.st_size == 1, "mine has size %lld", (long long)st.st_size);
	HOST_SAME("mine");
	MUST(fstatat(c->d, "open/new", &st, 0));
	CHECK(st.st_uid == 65534 && st.st_gid == 65534, "a file created by 65534 is owned by %u:%u", st.st_uid,
	      st.st_gid);
	if (c->hd >= 0) {
		MUST(fstatat(c->hd, "open/new", &st, 0));
		CHECK(st.st_uid == 65534 && st.st_gid == 65534, "on the host, 65534's new file is owned by %u:%u",
		      st.st_uid, st.st_gid);
	}
	return 0;
}

/* The setgid bit of a directory is inherited by new entries, with its group (BSD group semantics). */
static int check_sgid_dir(struct fsc *c)
{
	struct stat st;
	if (geteuid() != 0)
		SKIP("needs root");
	MUST(mkdirat(c->d, "g", 0755));
	MUST(fchownat(c->d, "g", 0, 4242, 0));
	MUST(fchmodat(c->d, "g", 02775, 0));
	MUST(fsc_put(c->d, "g/f", "", 0644));
	MUST(mkdirat(c->d, "g/sub", 0755));
	MUST(fstatat(c->d, "g/f", &st, 0));
	CHECK(st.st_gid == 4242, "new file in a setgid dir has group %u", st.st_gid);
	MUST(fstatat(c->d, "g/sub", &st, 0));
	CHECK(st.st_gid == 4242 && (st.st_mode & 02000), "new dir in a setgid dir: group %u mode %o", st.st_gid,
	      st.st_mode & 07777);
	return 0;
}

const struct fsc_check fsc_meta_checks[] = {
	{ "meta", "lookup-stat", check_lookup },
	{ "meta", "chmod", check_chmod },
	{ "meta", "chown", check_chown },
	{ "meta", "truncate", check_truncate },
	{ "meta", "utimens", check_utimens },
	{ "meta", "symlink-readlink", check_symlink },
	{ "meta", "mknod", check_mknod },
	{ "meta", "mkdir-rmdir", check_mkdir_rmdir },
	{ "meta", "unlink", check_unlink },
	{ "meta", "rename", check_rename },
	{ "meta", "rename2", check_rename2 },
	{ "meta", "link", check_link },
	{ "meta", "access-other-user", check_access },
	{ "meta", "setgid-dir", check_sgid_dir },
	{},
};
