/* SPDX-License-Identifier: MIT */
/* fsclient: open and I/O checks (open flags, O_TMPFILE, read/write, sync, readdir, statfs, fallocate, lseek,
 * copy_file_range, mmap). */
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fsc.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

static int check_open_flags(struct fsc *c)
{
	struct stat st;
	char buf[64];
	int fd = MUST(openat(c->d, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
	MUST(write(fd, "0123456789", 10));
	close(fd);
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK((st.st_mode & 0777) == 0640, "created with mode %o", st.st_mode & 0777);
	MUST_FAIL(openat(c->d, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640), EEXIST);
	/* O_CREAT without O_EXCL opens the existing file and leaves its mode alone */
	fd = MUST(openat(c->d, "f", O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
	close(fd);
	MUST(fstatat(c->d, "f", &st, 0));
	CHECK((st.st_mode & 0777) == 0640 && st.st_size == 10, "O_CREAT of an existing file: mode %o size %lld",
	      st.st_mode & 0777, (long long)st.st_size);
	/* O_APPEND: every write lands at the end, wherever the offset was */
	fd = MUST(openat(c->d, "f", O_WRONLY | O_APPEND | O_CLOEXEC));
	MUST(lseek(fd, 0, SEEK_SET));
	MUST(write(fd, "AB", 2));
	off_t pos = MUST(lseek(fd, 0, SEEK_CUR));
	close(fd);
	CHECK(pos == 12, "offset after an O_APPEND write is %lld", (long long)pos);
	MUST(fsc_get(c->d, "f", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "0123456789AB"), "after O_APPEND: '%s'", buf);
	/* O_TRUNC empties it */
	fd = MUST(openat(c->d, "f", O_WRONLY | O_TRUNC | O_CLOEXEC));
	MUST(fstat(fd, &st));
	CHECK(st.st_size == 0, "size %lld after O_TRUNC", (long long)st.st_size);
	MUST(write(fd, "x", 1));
	close(fd);
	MUST(fsc_get(c->d, "f", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "x"), "after O_TRUNC and a write: '%s'", buf);
	/* O_CREAT|O_TRUNC of an existing file */
	fd = MUST(openat(c->d, "f", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	MUST(fstat(fd, &st));
	close(fd);
	CHECK(st.st_size == 0, "size %lld after O_CREAT|O_TRUNC", (long long)st.st_size);
	/* the umask applies to new files */
	mode_t old = umask(077);
	fd = openat(c->d, "masked", O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	umask(old);
	MUST(fd);
	close(fd);
	MUST(fstatat(c->d, "masked", &st, 0));
	CHECK((st.st_mode & 0777) == 0600, "umask 077 gave mode %o", st.st_mode & 0777);
	old = umask(0);
	fd = openat(c->d, "unmasked", O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	int dr = mkdirat(c->d, "unmasked-dir", 0777);
	umask(old);
	MUST(fd);
	MUST(dr);
	close(fd);
	MUST(fstatat(c->d, "unmasked", &st, 0));
	CHECK((st.st_mode & 0777) == 0666, "umask 0 gave mode %o", st.st_mode & 0777);
	MUST(fstatat(c->d, "unmasked-dir", &st, 0));
	CHECK((st.st_mode & 0777) == 0777, "umask 0 gave directory mode %o", st.st_mode & 0777);
	/* the kinds that cannot be opened so */
	MUST(mkdirat(c->d, "dir", 0755));
	MUST_FAIL(openat(c->d, "dir", O_WRONLY | O_CLOEXEC), EISDIR);
	MUST_FAIL(openat(c->d, "f", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ENOTDIR);
	MUST_FAIL(openat(c->d, "missing", O_RDONLY | O_CLOEXEC), ENOENT);
	fd = MUST(openat(c->d, "f", O_PATH | O_CLOEXEC));
	MUST_FAIL(read(fd, buf, 1), EBADF);
	close(fd);
	/* read-only and write-only descriptors stay so */
	fd = MUST(openat(c->d, "f", O_RDONLY | O_CLOEXEC));
	MUST_FAIL(write(fd, "x", 1), EBADF);
	close(fd);
	fd = MUST(openat(c->d, "f", O_WRONLY | O_CLOEXEC));
	MUST_FAIL(read(fd, buf, 1), EBADF);
	close(fd);
	return 0;
}

static int check_tmpfile(struct fsc *c)
{
	struct stat st;
	char buf[32];
	int fd = openat(c->d, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);
	if (fd < 0 && errno == EOPNOTSUPP && c->oracle)
		SKIP("the native file system has no O_TMPFILE");
	CHECK(fd >= 0, "O_TMPFILE: %s", strerror(errno));
	MUST(write(fd, "tmpdata", 7));
	MUST(fstat(fd, &st));
	CHECK(st.st_nlink == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0640,
	      "O_TMPFILE file: nlink %lu mode %o", (unsigned long)st.st_nlink, st.st_mode);
	CHECK(fsc_count_entries(c->d) == 2, "O_TMPFILE file shows in the directory");
	int r = linkat(fd, "", c->d, "named", AT_EMPTY_PATH);
	if (r < 0 && errno == ENOENT && geteuid() != 0)
		SKIP("linkat AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH");
	CHECK(r == 0, "linkat of the O_TMPFILE file: %s", strerror(errno));
	MUST(fstat(fd, &st));
	CHECK(st.st_nlink == 1, "nlink %lu after linkat", (unsigned long)st.st_nlink);
	close(fd);
	MUST(fsc_get(c->d, "named", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "tmpdata"), "named holds '%s'", buf);
	if (c->hd >= 0) {
		MUST(fsc_get(c->hd, "named", buf, sizeof(buf)));
		CHECK(!strcmp(buf, "tmpdata"), "host named holds '%s'", buf);
	}
	/* O_EXCL: it can never be linked */
	fd = MUST(openat(c->d, ".", O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
	MUST_FAIL(linkat(fd, "", c->d, "never", AT_EMPTY_PATH), ENOENT);
	close(fd);
	MUST_FAIL(openat(c->d, ".", O_TMPFILE | O_RDONLY | O_CLOEXEC, 0600), EINVAL);
	return 0;
}

static int check_readwrite(struct fsc *c)
{
	const size_t sz = 3 * 1024 * 1024 + 123;
	uint8_t *buf = malloc(sz), *back = malloc(sz);
	int fd = openat(c->d, "big", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int r = -1;
	ssize_t n, bad;
	if (!buf || !back || fd < 0) {
		fsc_reason(c, __LINE__, "setup: %s", strerror(errno));
		goto out;
	}
	fsc_fill(buf, sz, 7, 0);
	/* many write sizes: 1 byte, odd sizes, page-crossing, bigger than max_write */
	size_t off = 0;
	static const size_t sizes[] = { 1, 511, 4096, 4097, 65536, 131072 + 17, 1 << 20 };
	for (int i = 0; off < sz; i++) {
		size_t len = MIN(sizes[i % 7], sz - off);
		if ((n = write(fd, buf + off, len)) != (ssize_t)len) {
			fsc_reason(c, __LINE__, "write of %zu bytes at %zu: %zd (%s)", len, off, n, strerror(errno));
			goto out;
		}
		off += len;
	}
	if ((n = fsc_pread_all(fd, back, sz, 0)) != (ssize_t)sz || (bad = fsc_verify(back, sz, 7, 0)) >= 0) {
		fsc_reason(c, __LINE__, "read back %zd of %zu bytes, first bad byte at %zd", n, sz, n == (ssize_t)sz ? bad : -1);
		goto out;
	}
	/* pread/pwrite at odd offsets do not move the file offset */
	off_t pos = lseek(fd, 0, SEEK_CUR);
	fsc_fill(buf, 10000, 8, 777777);
	if (fsc_pwrite_all(fd, buf, 10000, 777777) < 0 || lseek(fd, 0, SEEK_CUR) != pos) {
		fsc_reason(c, __LINE__, "pwrite moved the offset or failed");
		goto out;
	}
	if (fsc_pread_all(fd, back, 10000, 777777) != 10000 || fsc_verify(back, 10000, 8, 777777) >= 0) {
		fsc_reason(c, __LINE__, "pread after pwrite differs");
		goto out;
	}
	/* reading at and past the end gives 0 bytes */
	if (pread(fd, back, 100, (off_t)sz) != 0 || pread(fd, back, 100, (off_t)sz + 1000000) != 0) {
		fsc_reason(c, __LINE__, "read past the end did not return 0");
		goto out;
	}
	/* a write far past the end leaves a hole of zeros */
	off_t far = (off_t)1 << 33;
	if (pwrite(fd, "end", 3, far) != 3) {
		fsc_reason(c, __LINE__, "pwrite at 8 GiB: %s", strerror(errno));
		goto out;
	}
	struct stat st;
	fstat(fd, &st);
	if (st.st_size != far + 3 || pread(fd, back, 4096, far - 4096) != 4096) {
		fsc_reason(c, __LINE__, "size %lld after the far write", (long long)st.st_size);
		goto out;
	}
	for (int i = 0; i < 4096; i++)
		if (back[i]) {
			fsc_reason(c, __LINE__, "the hole holds data at %d", i);
			goto out;
		}
	/* beyond the largest file: the file system's error, not a crash or a wrap-around */
	errno = 0;
	n = pwrite(fd, "x", 1, (off_t)0x7ffffffffffffff0LL);
	if (n == 1 && getenv("FSCLIENT_WRITEBACK")) {
		/* Only with the writeback cache (core-cache sets FSCLIENT_WRITEBACK for that round): the client
		 * takes the byte into its page cache, since FUSE gives it no per-file size limit, and the host's
		 * EFBIG can only come with the write-back, i.e. at fsync. It must come then, and not be lost. */
		int s = fsync(fd);
		int e = errno;
		/* drop the page and the size the host refused, so the checks below see the file as it was; the
		 * error is also the superblock's, reported once by the next syncfs: take it here, not in a later
		 * check's syncfs */
		int t = ftruncate(fd, far + 3);
		(void)syncfs(fd);
		if (s == 0 || e != EFBIG) {
			fsc_reason(c, __LINE__, "writeback: pwrite near 2^63 was cached, then fsync: %s, expected EFBIG",
				   s == 0 ? "ok" : strerror(e));
			goto out;
		}
		if (t < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0 || st.st_size != far + 3) {
			fsc_reason(c, __LINE__, "writeback: after the refused write-back, truncate back to %lld: %s, "
				   "size %lld", (long long)(far + 3), strerror(errno), (long long)st.st_size);
			goto out;
		}
	} else if (n >= 0 || (errno != EFBIG && errno != EINVAL)) {
		int e = errno;
		/* a write cache may have taken it: the host's refusal then shows at fsync (collect it here, not in
		 * a later check's syncfs) */
		int s = n >= 0 ? fsync(fd) : 0;
		fsc_reason(c, __LINE__, "pwrite near 2^63: %zd (%s), expected EFBIG; fsync after it: %s", n,
			   strerror(e), s < 0 ? strerror(errno) : "ok");
		if (n >= 0) { /* drop the cached page the host refused, so later checks do not inherit its error */
			if (ftruncate(fd, 0) == 0)
				fsync(fd);
			syncfs(fd);
		}
		goto out;
	}
	errno = 0;
	if (pread(fd, back, 1, -1) >= 0 || errno != EINVAL) {
		fsc_reason(c, __LINE__, "pread at -1 did not fail with EINVAL");
		goto out;
	}
	if (c->hd >= 0) { /* the host holds exactly what was written */
		int hfd = openat(c->hd, "big", O_RDONLY | O_CLOEXEC);
		fsync(fd);
		if (hfd < 0 || fsc_pread_all(hfd, back, 10000, 777777) != 10000 || fsc_verify(back, 10000, 8, 777777) >= 0) {
			fsc_reason(c, __LINE__, "the host file differs from what was written");
			if (hfd >= 0)
				close(hfd);
			goto out;
		}
		close(hfd);
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(back);
	return r;
}

static int check_sync(struct fsc *c)
{
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	MUST(write(fd, "data", 4));
	MUST(fsync(fd));
	MUST(fdatasync(fd));
	MUST(syncfs(fd));
	close(fd);
	int dfd = MUST(openat(c->d, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	MUST(fsync(dfd)); /* FSYNCDIR */
	MUST(syncfs(dfd));
	close(dfd);
	fd = MUST(openat(c->d, "f", O_RDONLY | O_CLOEXEC));
	MUST(fsync(fd)); /* fsync of a read-only descriptor is allowed */
	close(fd);
	fd = MUST(openat(c->d, "f", O_WRONLY | O_SYNC | O_CLOEXEC));
	MUST(write(fd, "sync", 4));
	close(fd);
	if (c->hd >= 0) {
		char buf[16];
		MUST(fsc_get(c->hd, "f", buf, sizeof(buf)));
		CHECK(!strcmp(buf, "sync"), "the host holds '%s' after an O_SYNC write", buf);
	}
	return 0;
}

/* close() flushes: whatever was written through a descriptor is on the host once the last close returns. */
static int check_flush(struct fsc *c)
{
	char buf[64];
	int fd = MUST(openat(c->d, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	int fd2 = MUST(dup(fd));
	MUST(write(fd, "first", 5));
	MUST(close(fd)); /* a FLUSH while another descriptor is open */
	MUST(write(fd2, "+second", 7));
	MUST(close(fd2));
	MUST(fsc_get(c->d, "f", buf, sizeof(buf)));
	CHECK(!strcmp(buf, "first+second"), "after close: '%s'", buf);
	if (c->hd >= 0) {
		MUST(fsc_get(c->hd, "f", buf, sizeof(buf)));
		CHECK(!strcmp(buf, "first+second"), "host after close: '%s'", buf);
	}
	return 0;
}

static int check_readdir(struct fsc *c)
{
	enum { N = 300 };
	char name[64];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "entry-%04d-%s", i, i % 3 ? "file" : "a-longer-name-to-vary-sizes");
		if (i % 10 == 0)
			MUST(mkdirat(c->d, name, 0755));
		else
			MUST(fsc_put(c->d, name, "", 0644));
	}
	int fd = MUST(openat(c->d, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	DIR *dir = fdopendir(fd);
	CHECK(dir, "fdopendir: %s", strerror(errno));
	/* first pass: every name exactly once, with its type */
	char *seen = calloc(N, 1);
	long total = 0, pos_at = -1;
	char after[260] = "";
	struct dirent *de;
	int r = 0;
	while ((de = readdir(dir))) {
		total++;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				r = -1;
			continue;
		}
		int i;
		if (sscanf(de->d_name, "entry-%d", &i) != 1 || i < 0 || i >= N || seen[i]++) {
			fsc_reason(c, __LINE__, "unexpected or repeated entry '%s'", de->d_name);
			r = -1;
			break;
		}
		unsigned want = i % 10 == 0 ? DT_DIR : DT_REG;
		if (de->d_type != want && de->d_type != DT_UNKNOWN) {
			fsc_reason(c, __LINE__, "'%s' has d_type %d", de->d_name, de->d_type);
			r = -1;
			break;
		}
		if (total == 150) { /* remember a position in the middle and the name that follows it */
			pos_at = telldir(dir);
			struct dirent *nx = readdir(dir);
			if (nx) {
				snprintf(after, sizeof(after), "%s", nx->d_name);
				total++;
				if (sscanf(nx->d_name, "entry-%d", &i) == 1 && i >= 0 && i < N)
					seen[i]++;
			}
		}
	}
	for (int i = 0; r == 0 && i < N; i++)
		if (seen[i] != 1) {
			fsc_reason(c, __LINE__, "entry %d listed %d times", i, seen[i]);
			r = -1;
		}
	free(seen);
	if (r == 0 && total != N + 2) {
		fsc_reason(c, __LINE__, "%ld entries listed, expected %d", total, N + 2);
		r = -1;
	}
	/* seekdir back to the remembered position gives the same next name; rewinddir starts over */
	if (r == 0 && pos_at >= 0) {
		seekdir(dir, pos_at);
		de = readdir(dir);
		if (!de || strcmp(de->d_name, after)) {
			fsc_reason(c, __LINE__, "after seekdir: '%s', expected '%s'", de ? de->d_name : "(end)", after);
			r = -1;
		}
	}
	if (r == 0) {
		rewinddir(dir);
		long again = 0;
		while (readdir(dir))
			again++;
		if (again != total) {
			fsc_reason(c, __LINE__, "after rewinddir %ld entries, before %ld", again, total);
			r = -1;
		}
	}
	closedir(dir);
	if (r)
		return r;
	/* entries removed while a listing is open: later entries still come, none twice */
	fd = MUST(openat(c->d, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	dir = fdopendir(fd);
	CHECK(dir, "fdopendir: %s", strerror(errno));
	long k = 0;
	while (k < 10 && readdir(dir))
		k++;
	for (int i = 200; i < N; i++) {
		snprintf(name, sizeof(name), "entry-%04d-%s", i, i % 3 ? "file" : "a-longer-name-to-vary-sizes");
		if (i % 10 == 0)
			unlinkat(c->d, name, AT_REMOVEDIR);
		else
			unlinkat(c->d, name, 0);
	}
	while (readdir(dir))
		k++;
	closedir(dir);
	CHECK(k >= 200 && k <= N + 2, "listing across removals gave %ld entries", k);
	CHECK(fsc_count_entries(c->d) == 202, "after removals %ld entries", fsc_count_entries(c->d));
	return 0;
}

static int check_statfs(struct fsc *c)
{
	struct statfs sf;
	struct statvfs sv;
	MUST(fstatfs(c->d, &sf));
	MUST(fstatvfs(c->d, &sv));
	CHECK(sf.f_bsize > 0 && sf.f_blocks > 0 && sf.f_namelen == 255, "statfs: bsize %ld blocks %llu namelen %ld",
	      (long)sf.f_bsize, (unsigned long long)sf.f_blocks, (long)sf.f_namelen);
	if (!c->oracle)
		CHECK(sf.f_type == FUSE_SUPER_MAGIC, "f_type %lx is not FUSE's", (unsigned long)sf.f_type);
	if (c->hd >= 0) { /* the share reports the host file system's size */
		struct statvfs hv;
		MUST(fstatvfs(c->hd, &hv));
		CHECK((unsigned long long)sv.f_blocks * sv.f_frsize == (unsigned long long)hv.f_blocks * hv.f_frsize,
		      "total size %llu, host %llu", (unsigned long long)sv.f_blocks * sv.f_frsize,
		      (unsigned long long)hv.f_blocks * hv.f_frsize);
		CHECK(sv.f_files == hv.f_files, "f_files %llu, host %llu", (unsigned long long)sv.f_files,
		      (unsigned long long)hv.f_files);
	}
	return 0;
}

static int check_fallocate(struct fsc *c)
{
	struct stat st;
	char buf[8192];
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	MUST(fallocate(fd, 0, 0, 1 << 20));
	MUST(fstat(fd, &st));
	CHECK(st.st_size == 1 << 20 && st.st_blocks * 512 >= 1 << 20, "fallocate 1 MiB: size %lld blocks %lld",
	      (long long)st.st_size, (long long)st.st_blocks);
	MUST(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20));
	MUST(fstat(fd, &st));
	CHECK(st.st_size == 1 << 20 && st.st_blocks * 512 >= 2 << 20, "KEEP_SIZE: size %lld blocks %lld",
	      (long long)st.st_size, (long long)st.st_blocks);
	/* punch a hole in written data: it reads back as zeros and frees the blocks */
	memset(buf, 'x', sizeof(buf));
	for (off_t o = 0; o < 1 << 20; o += sizeof(buf))
		MUST(fsc_pwrite_all(fd, buf, sizeof(buf), o));
	MUST(fsync(fd));
	struct stat before;
	MUST(fstat(fd, &before));
	int r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 65536, 131072);
	CHECK(r == 0, "PUNCH_HOLE: %s", strerror(errno));
	MUST(fstat(fd, &st));
	CHECK(st.st_size == 1 << 20, "size %lld after punching", (long long)st.st_size);
	CHECK(st.st_blocks < before.st_blocks, "punching freed nothing (%lld blocks)", (long long)st.st_blocks);
	MUST(fsc_pread_all(fd, buf, sizeof(buf), 65536 + 4096));
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK(buf[i] == 0, "punched range reads %d at %zu", buf[i], i);
	MUST(fsc_pread_all(fd, buf, 1, 65535));
	CHECK(buf[0] == 'x', "the byte before the hole changed");
	MUST(fsc_pread_all(fd, buf, 1, 65536 + 131072));
	CHECK(buf[0] == 'x', "the byte after the hole changed");
	/* ZERO_RANGE */
	r = fallocate(fd, FALLOC_FL_ZERO_RANGE, 300000, 5000);
	if (r == 0) {
		MUST(fsc_pread_all(fd, buf, 5002, 299999));
		CHECK(buf[0] == 'x' && buf[1] == 0 && buf[5000] == 0 && buf[5001] == 'x', "ZERO_RANGE result wrong");
	} else {
		CHECK(errno == EOPNOTSUPP, "ZERO_RANGE: %s", strerror(errno));
	}
	MUST_FAIL(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP); /* needs KEEP_SIZE */
	MUST_FAIL(fallocate(fd, 0, 0, 0), EINVAL);
	MUST_FAIL(fallocate(fd, 0, -1, 10), EINVAL);
	MUST_FAIL2(fallocate(fd, 0, (off_t)1 << 62, 1 << 20), EFBIG, EINVAL);
	close(fd);
	fd = MUST(openat(c->d, "f", O_RDONLY | O_CLOEXEC));
	MUST_FAIL(fallocate(fd, 0, 0, 4096), EBADF);
	close(fd);
	return 0;
}

static int check_seek_data_hole(struct fsc *c)
{
	char buf[65536];
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	memset(buf, 'd', sizeof(buf));
	MUST(fsc_pwrite_all(fd, buf, sizeof(buf), 0));
	MUST(fsc_pwrite_all(fd, buf, 4096, 1 << 20));
	MUST(ftruncate(fd, 2 << 20));
	MUST(fsync(fd)); /* with a writeback cache the data must be on the host before the host is asked */
	off_t o = lseek(fd, 0, SEEK_HOLE);
	CHECK(o == 65536, "SEEK_HOLE from 0: %lld", (long long)o);
	o = lseek(fd, 65536, SEEK_DATA);
	CHECK(o == 1 << 20, "SEEK_DATA from 64 KiB: %lld", (long long)o);
	o = lseek(fd, (1 << 20) + 100, SEEK_HOLE);
	CHECK(o == (1 << 20) + 4096, "SEEK_HOLE inside the second extent: %lld", (long long)o);
	o = lseek(fd, 10, SEEK_DATA);
	CHECK(o == 10, "SEEK_DATA inside data: %lld", (long long)o);
	MUST_FAIL(lseek(fd, (1 << 20) + 8192, SEEK_DATA), ENXIO); /* only a hole up to the end */
	MUST_FAIL(lseek(fd, 3 << 20, SEEK_HOLE), ENXIO);          /* past the end */
	o = lseek(fd, (1 << 20) + 8192, SEEK_HOLE);
	CHECK(o == (1 << 20) + 8192, "SEEK_HOLE in the trailing hole: %lld", (long long)o);
	/* plain whences still work and the offset is where lseek said */
	MUST(lseek(fd, 100, SEEK_SET));
	o = MUST(lseek(fd, 50, SEEK_CUR));
	CHECK(o == 150, "SEEK_CUR gave %lld", (long long)o);
	o = MUST(lseek(fd, -10, SEEK_END));
	CHECK(o == (2 << 20) - 10, "SEEK_END gave %lld", (long long)o);
	MUST_FAIL(lseek(fd, -1, SEEK_SET), EINVAL);
	close(fd);
	return 0;
}

static int check_copy_file_range(struct fsc *c)
{
	enum { SZ = 1 << 20 };
	uint8_t *buf = malloc(SZ);
	CHECK(buf, "malloc");
	fsc_fill(buf, SZ, 3, 0);
	int in = openat(c->d, "in", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int out = openat(c->d, "out", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int r = -1;
	if (in < 0 || out < 0 || fsc_write_all(in, buf, SZ) < 0) {
		fsc_reason(c, __LINE__, "setup: %s", strerror(errno));
		goto out;
	}
	loff_t oi = 4096, oo = 100;
	size_t done = 0;
	while (done < SZ - 4096) {
		ssize_t n = copy_file_range(in, &oi, out, &oo, SZ - 4096 - done, 0);
		if (n <= 0) {
			fsc_reason(c, __LINE__, "copy_file_range: %zd (%s) after %zu bytes", n, strerror(errno), done);
			goto out;
		}
		done += (size_t)n;
	}
	if (oi != SZ || oo != 100 + SZ - 4096) {
		fsc_reason(c, __LINE__, "offsets after the copy: %lld %lld", (long long)oi, (long long)oo);
		goto out;
	}
	memset(buf, 0, SZ);
	if (fsc_pread_all(out, buf, SZ - 4096, 100) != SZ - 4096 || fsc_verify(buf, SZ - 4096, 3, 4096) >= 0) {
		fsc_reason(c, __LINE__, "the copy differs from the source");
		goto out;
	}
	/* with the file offsets (NULL pointers) */
	lseek(in, 0, SEEK_SET);
	lseek(out, 0, SEEK_SET);
	ssize_t n = copy_file_range(in, NULL, out, NULL, 100, 0);
	if (n != 100 || lseek(in, 0, SEEK_CUR) != 100 || lseek(out, 0, SEEK_CUR) != 100) {
		fsc_reason(c, __LINE__, "copy with file offsets: %zd", n);
		goto out;
	}
	/* overlapping range in one file: EINVAL; bad flags: EINVAL */
	oi = 0;
	oo = 10;
	errno = 0;
	if (copy_file_range(in, &oi, in, &oo, 100, 0) >= 0 || errno != EINVAL) {
		fsc_reason(c, __LINE__, "an overlapping copy did not fail with EINVAL (%s)", strerror(errno));
		goto out;
	}
	errno = 0;
	if (copy_file_range(in, NULL, out, NULL, 1, 1) >= 0 || errno != EINVAL) {
		fsc_reason(c, __LINE__, "copy with flags 1 did not fail with EINVAL");
		goto out;
	}
	r = 0;
out:
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int check_mmap(struct fsc *c)
{
	enum { SZ = 256 * 1024 };
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	MUST(ftruncate(fd, SZ));
	uint8_t *m = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED, "mmap MAP_SHARED read/write: %s", strerror(errno));
	fsc_fill(m, SZ, 11, 0);
	int r = msync(m, SZ, MS_SYNC);
	munmap(m, SZ);
	CHECK(r == 0, "msync: %s", strerror(errno));
	uint8_t *buf = malloc(SZ);
	ssize_t n = fsc_pread_all(fd, buf, SZ, 0);
	ssize_t bad = fsc_verify(buf, SZ, 11, 0);
	close(fd);
	if (n != SZ || bad >= 0) {
		free(buf);
		FAIL("read after mmap writes: %zd bytes, first bad at %zd", n, bad);
	}
	if (c->hd >= 0) {
		int hfd = MUST(openat(c->hd, "f", O_RDONLY | O_CLOEXEC));
		n = fsc_pread_all(hfd, buf, SZ, 0);
		bad = fsc_verify(buf, SZ, 11, 0);
		close(hfd);
		if (n != SZ || bad >= 0) {
			free(buf);
			FAIL("host file after mmap writes: %zd bytes, first bad at %zd", n, bad);
		}
	}
	/* a private read-only map sees what write() put there */
	fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	fsc_fill(buf, 4096, 12, 8192);
	MUST(fsc_pwrite_all(fd, buf, 4096, 8192));
	m = mmap(NULL, SZ, PROT_READ, MAP_PRIVATE, fd, 0);
	free(buf);
	close(fd);
	CHECK(m != MAP_FAILED, "mmap MAP_PRIVATE: %s", strerror(errno));
	bad = fsc_verify(m + 8192, 4096, 12, 8192);
	ssize_t bad2 = fsc_verify(m, 8192, 11, 0);
	munmap(m, SZ);
	CHECK(bad < 0 && bad2 < 0, "mapped pages differ from written data (%zd, %zd)", bad, bad2);
	return 0;
}

const struct fsc_check fsc_io_checks[] = {
	{ "io", "open-flags", check_open_flags },
	{ "io", "tmpfile-linkat", check_tmpfile },
	{ "io", "read-write", check_readwrite },
	{ "io", "fsync-syncfs", check_sync },
	{ "io", "flush-on-close", check_flush },
	{ "io", "readdir-seekdir", check_readdir },
	{ "io", "statfs", check_statfs },
	{ "io", "fallocate", check_fallocate },
	{ "io", "seek-data-hole", check_seek_data_hole },
	{ "io", "copy-file-range", check_copy_file_range },
	{ "io", "mmap", check_mmap },
	{},
};
