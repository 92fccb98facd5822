/* SPDX-License-Identifier: MIT */
/* Unit test of bxm_mkpath_in_root() (src/mount/mount.c): mount points are created and resolved inside the
 * root whatever symlinks and ".." the rootfs or the destination hold. Runs unprivileged in a temp dir. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxshare/mount.h"

static int failures;
static char base[64], root[128];

#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                 \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

/* mkpath must give an fd of exactly host path `want` (relative to root), of the given type. */
static void expect_at(int rfd, const char *path, bool file, const char *want, mode_t type)
{
	int fd = -1;
	int r = bxm_mkpath_in_root(rfd, path, file, &fd);
	char full[PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", root, want);
	struct stat a, b;
	if (r < 0 || fstat(fd, &a) < 0 || lstat(full, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev ||
	    (a.st_mode & S_IFMT) != type) {
		fprintf(stderr, "mkpath %s: got %d, want %s\n", path, r, full);
		failures++;
	}
	if (fd >= 0)
		close(fd);
}

static void expect_err(int rfd, const char *path, int want)
{
	int fd = -1;
	int r = bxm_mkpath_in_root(rfd, path, false, &fd);
	if (r != want) {
		fprintf(stderr, "mkpath %s: got %d, want %d\n", path, r, want);
		failures++;
	}
	if (fd >= 0)
		close(fd);
}

static void sh(const char *fmt, const char *arg)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg);
	if (system(cmd) != 0) {
		fprintf(stderr, "set-up failed: %s\n", cmd);
		exit(99);
	}
}

int main(void)
{
	snprintf(base, sizeof(base), "/tmp/bx-mkpath.XXXXXX");
	if (!mkdtemp(base))
		return 99;
	snprintf(root, sizeof(root), "%s/root", base);
	sh("mkdir %s/root && cd %s/root && mkdir -p sub/dir && touch file && ln -s /inside abs && ln -s /loop loop && "
	   "ln -s ../../.. up && ln -s sub/dir rel && ln -s %s/outside hostabs",
	   base);
	int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(rfd >= 0);

	expect_at(rfd, "/a/b/c", false, "a/b/c", S_IFDIR);
	expect_at(rfd, "a//b/./c/", false, "a/b/c", S_IFDIR);
	expect_at(rfd, "/", false, ".", S_IFDIR);
	expect_at(rfd, "/../../../x", false, "x", S_IFDIR);
	expect_at(rfd, "/abs/y", false, "inside/y", S_IFDIR);      /* dangling absolute link: made inside */
	expect_at(rfd, "/up/z", false, "z", S_IFDIR);              /* ../../.. stops at the root */
	expect_at(rfd, "/rel/q", false, "sub/dir/q", S_IFDIR);
	char inside[PATH_MAX];
	snprintf(inside, sizeof(inside), "%s/outside/h", base + 1);
	expect_at(rfd, "/hostabs/h", false, inside, S_IFDIR);      /* a host path, made under the root */
	expect_at(rfd, "/newfile", true, "newfile", S_IFREG);
	expect_at(rfd, "/sub/dir/f2", true, "sub/dir/f2", S_IFREG);
	expect_at(rfd, "/file", true, "file", S_IFREG);
	expect_err(rfd, "/loop/x", -ELOOP);
	expect_err(rfd, "/file/x", -ENOTDIR);
	char longp[PATH_MAX + 10];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	expect_err(rfd, longp, -ENAMETOOLONG);
	longp[300] = '\0';
	expect_err(rfd, longp, -ENAMETOOLONG); /* a component longer than NAME_MAX */

	/* nothing was created outside the root */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/outside", base);
	CHECK(access(p, F_OK) != 0);
	CHECK(access("/inside", F_OK) != 0);

	close(rfd);
	sh("rm -rf %s", base);
	if (failures) {
		fprintf(stderr, "test-mount-paths: %d failures\n", failures);
		return 1;
	}
	printf("test-mount-paths: ok\n");
	return 0;
}
