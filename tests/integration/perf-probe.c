/* SPDX-License-Identifier: MIT */
/*
 * Client-side probes for two protocol-ordering/negotiation bugs, run on a boxshare mount by perf-order.sh.
 *
 *   perf-probe relock FILE ROUNDS   close-then-relock: each round opens FILE, takes a non-blocking exclusive
 *                                   flock() and an OFD write lock, and closes it. The next round's open must
 *                                   get both at once: the client sent the RELEASE of the last open before the
 *                                   new lock requests, so the server must not serve them out of order.
 *   perf-probe mmap FILE            MAP_SHARED read-write mapping of FILE (the mount runs --cache never, i.e.
 *                                   direct I/O): write through it, msync, and read the bytes back with read().
 * Exit 0: as expected; 1: the failure, described on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

static int relock(const char *path, long rounds)
{
	long fails_flock = 0, fails_ofd = 0;
	for (long i = 0; i < rounds; i++) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "relock: open %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (fails_flock++ == 0)
				fprintf(stderr, "relock: round %ld: flock: %s\n", i, strerror(errno));
		}
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			if (fails_ofd++ == 0)
				fprintf(stderr, "relock: round %ld: F_OFD_SETLK: %s\n", i, strerror(errno));
		}
		close(fd);
	}
	if (fails_flock || fails_ofd) {
		fprintf(stderr, "relock: %ld of %ld flock and %ld OFD locks refused after the previous close\n",
			fails_flock, rounds, fails_ofd);
		return 1;
	}
	return 0;
}

static int map_shared(const char *path)
{
	const char msg[] = "written through a shared mapping";
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mmap: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (ftruncate(fd, 4096) < 0) {
		fprintf(stderr, "mmap: ftruncate %s: %s\n", path, strerror(errno));
		return 1;
	}
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap: MAP_SHARED of %s: %s\n", path, strerror(errno));
		return 1;
	}
	memcpy(p, msg, sizeof(msg));
	if (msync(p, 4096, MS_SYNC) < 0) {
		fprintf(stderr, "mmap: msync: %s\n", strerror(errno));
		return 1;
	}
	munmap(p, 4096);
	char buf[sizeof(msg)] = { 0 };
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || memcmp(buf, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "mmap: read back after msync: got '%.*s'\n", (int)sizeof(buf), buf);
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "relock") == 0)
		return relock(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "mmap") == 0)
		return map_shared(argv[2]);
	fprintf(stderr, "usage: perf-probe relock FILE ROUNDS | perf-probe mmap FILE\n");
	return 2;
}
