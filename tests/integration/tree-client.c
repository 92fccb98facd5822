/* SPDX-License-Identifier: MIT */
/*
 * The share-tree integration tests' client: performs one syscall on a path of the mount and prints "OK" or
 * the errno's name, so the scripts assert exactly what a program in the sandbox would see.
 *   tree-client OP PATH [ARG]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *ename(int e)
{
	switch (e) {
	case EROFS: return "EROFS";
	case EXDEV: return "EXDEV";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOSYS: return "ENOSYS";
	case EBADF: return "EBADF";
	case ELOOP: return "ELOOP";
	case ENODATA: return "ENODATA";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: tree-client OP PATH [ARG]\n");
		return 2;
	}
	const char *op = argv[1], *p = argv[2], *a = argc > 3 ? argv[3] : "x";
	int r = -1, fd;
	char buf[4096];
#define IS(s) (strcmp(op, s) == 0)
	if (IS("open-w"))
		r = fd = open(p, O_WRONLY | O_CLOEXEC);
	else if (IS("open-rw"))
		r = fd = open(p, O_RDWR | O_CLOEXEC);
	else if (IS("open-trunc"))
		r = fd = open(p, O_RDONLY | O_TRUNC | O_CLOEXEC);
	else if (IS("open-append"))
		r = fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	else if (IS("creat"))
		r = fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	else if (IS("tmpfile"))
		r = fd = open(p, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	else if (IS("mkdir"))
		r = mkdir(p, 0755);
	else if (IS("mkfifo"))
		r = mknod(p, S_IFIFO | 0644, 0);
	else if (IS("symlink"))
		r = symlink(a, p);
	else if (IS("link"))
		r = link(p, a);
	else if (IS("unlink"))
		r = unlink(p);
	else if (IS("rmdir"))
		r = rmdir(p);
	else if (IS("rename"))
		r = rename(p, a);
	else if (IS("exchange"))
		r = renameat2(AT_FDCWD, p, AT_FDCWD, a, RENAME_EXCHANGE);
	else if (IS("truncate"))
		r = truncate(p, 0);
	else if (IS("chmod"))
		r = chmod(p, 0600);
	else if (IS("chown"))
		r = chown(p, 1, 1);
	else if (IS("utimes"))
		r = utimes(p, NULL);
	else if (IS("setxattr"))
		r = setxattr(p, "user.test", "v", 1, 0);
	else if (IS("removexattr"))
		r = removexattr(p, "user.test");
	else if (IS("access-w"))
		r = access(p, W_OK);
	else if (IS("statvfs-ro")) {
		struct statvfs sv;
		r = statvfs(p, &sv);
		if (r == 0) {
			puts(sv.f_flag & ST_RDONLY ? "RDONLY" : "RW");
			return 0;
		}
	} else if (IS("stat")) {
		struct stat st;
		r = stat(p, &st);
		if (r == 0) {
			printf("%llu %llu\n", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
			return 0;
		}
	} else if (IS("read")) {
		r = fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t k = read(fd, buf, sizeof(buf) - 1);
			if (k < 0) {
				printf("%s\n", ename(errno));
				return 0;
			}
			fwrite(buf, 1, (size_t)k, stdout);
			return 0;
		}
	} else {
		fprintf(stderr, "tree-client: unknown op %s\n", op);
		return 2;
	}
	puts(r < 0 ? ename(errno) : "OK");
	return 0;
}
