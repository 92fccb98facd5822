/* SPDX-License-Identifier: MIT */
/*
 * fsops: the metadata and small-file workloads of bench/fuse-bench.sh, timed in-process so the figure is the
 * file system's and not fork/exec's. Prints the elapsed seconds of the timed part on stdout.
 *
 *   fsops create  DIR N        create N empty files (DIR is made first)
 *   fsops stat    DIR N        stat each of them
 *   fsops readdir DIR N        list DIR (fails unless exactly N entries besides . and ..)
 *   fsops unlink  DIR N        remove them (and DIR)
 *   fsops mkfiles DIR N SIZE   (set-up, untimed meaning) N files of SIZE bytes
 *   fsops read    DIR N SIZE   open, read and close each file, checking the size
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, const char *name)
{
	fprintf(stderr, "fsops: %s %s: %s\n", what, name, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: fsops create|stat|readdir|unlink|mkfiles|read DIR N [SIZE]\n");
		return 2;
	}
	const char *op = argv[1], *dir = argv[2];
	long n = strtol(argv[3], NULL, 10);
	long size = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
	char name[32];
	char *buf = calloc(1, size > 0 ? (size_t)size : 1);
	if (!buf)
		return 1;
	if ((!strcmp(op, "create") || !strcmp(op, "mkfiles")) && mkdir(dir, 0755) < 0 && errno != EEXIST)
		return die("mkdir", dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return die("open", dir);
	for (long i = 0; i < size; i++)
		buf[i] = (char)('a' + i % 26);

	double t0 = now();
	if (!strcmp(op, "create") || !strcmp(op, "mkfiles")) {
		for (long i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "f%07ld", i);
			int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd < 0)
				return die("create", name);
			if (size > 0 && write(fd, buf, (size_t)size) != size)
				return die("write", name);
			close(fd);
		}
	} else if (!strcmp(op, "stat")) {
		struct stat st;
		for (long i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "f%07ld", i);
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return die("stat", name);
		}
	} else if (!strcmp(op, "readdir")) {
		DIR *d = fdopendir(dfd);
		long k = 0;
		struct dirent *de;
		while (d && (de = readdir(d)))
			k += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		if (k != n) {
			fprintf(stderr, "fsops: %s lists %ld entries, expected %ld\n", dir, k, n);
			return 1;
		}
		dfd = -1; /* closed with d (leaked on purpose: the process ends) */
	} else if (!strcmp(op, "unlink")) {
		for (long i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "f%07ld", i);
			if (unlinkat(dfd, name, 0) < 0)
				return die("unlink", name);
		}
		if (rmdir(dir) < 0)
			return die("rmdir", dir);
	} else if (!strcmp(op, "read")) {
		for (long i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "f%07ld", i);
			int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return die("open", name);
			ssize_t k = read(fd, buf, (size_t)size);
			if (k != size)
				return die("read", name);
			close(fd);
		}
	} else {
		fprintf(stderr, "fsops: unknown operation %s\n", op);
		return 2;
	}
	printf("%.6f\n", now() - t0);
	return 0;
}
