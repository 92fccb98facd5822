/* SPDX-License-Identifier: MIT */
/*
 * Shared set-up of the passthrough unit tests (test-passthrough.c, test-passthrough-scale.c): a temporary tree
 * T/share (served) beside T/outside/secret (must never change), helpers that drive the struct fs vtable and
 * check results on the host. Each test program includes it once.
 */
#pragma once

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
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/passthrough.h"
#include "fs/pt-int.h"
#include "proto/wire.h"
#include "util/macros.h"

static _unused_ char base[64], share[128], outside[128], secret[160];
static _unused_ int proc_fd = -1;
static _unused_ bool in_child; /* a forked child must not clean up the parent's tree */
static _unused_ int failures;

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

static _unused_ int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? 0 : 0;
}

static _unused_ void cleanup(void)
{
	if (base[0] && !in_child)
		nftw(base, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

static _unused_ const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1, .umask = 022 };

static _unused_ int count_fds(void)
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

static _unused_ struct fs *new_pt(const char *path, struct pt_opts *o_in, struct fs_inomap **ret_map)
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

static _unused_ void free_pt(struct fs *fs, struct fs_inomap *map)
{
	fs->ops->destroy(fs);
	fs_free(fs);
	fs_inomap_unref(map);
}

static _unused_ void host_write(const char *dir, const char *name, const char *data, mode_t mode)
{
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = openat(d, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	CHECK(fd >= 0, "create %s/%s: %m", dir, name);
	CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data), "write");
	fchmod(fd, mode);
	close(fd);
	close(d);
}

static _unused_ void host_stat(const char *dir, const char *name, struct stat *st)
{
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(fstatat(d, name, st, AT_SYMLINK_NOFOLLOW) == 0, "stat %s/%s: %m", dir, name);
	close(d);
}

static _unused_ size_t rw(struct fs *fs, bool wr, uint64_t ino, uint64_t fh, uint64_t off, void *buf,
			  size_t len)
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

struct snap {
	struct stat st;
	char xattrs[256];
	ssize_t xlen;
};

static _unused_ void snap(struct snap *s)
{
	CHECK(lstat(secret, &s->st) == 0, "stat secret");
	memset(s->xattrs, 0, sizeof(s->xattrs));
	s->xlen = llistxattr(secret, s->xattrs, sizeof(s->xattrs));
}

/* ---- readdir ---- */

struct listing {
	char names[4096][32];
	uint64_t ino[4096];
	int n;
	uint64_t last_off;
};

/* One readdir call into a buffer of bufsize; appends to l. Returns the number of entries. */
static _unused_ int readdir_once(struct fs *fs, uint64_t dino, uint64_t fh, uint64_t off, bool plus,
				 size_t bufsize, struct listing *l)
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

static _unused_ int find_name(const struct listing *l, const char *name)
{
	int c = 0;
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			c++;
	return c;
}


/* Make the tree and the proc fd; 77 (skip) when not root. Cleans up at exit. */
static _unused_ int pt_test_setup(const char *prog)
{
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root (owners, device nodes, trusted xattrs, file handles)\n", prog);
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
	return 0;
}

struct pt_test {
	const char *name;
	void (*fn)(void);
};

static _unused_ int pt_test_run(const struct pt_test *tests, size_t n)
{
	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		tests[i].fn();
		printf("ok %zu - %s\n", i + 1, tests[i].name);
		fflush(stdout);
	}
	close(proc_fd);
	return failures ? 1 : 0;
}
