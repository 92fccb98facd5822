/* SPDX-License-Identifier: MIT */
/*
 * What serve-passthrough.sh checks that a shell cannot do: MAP_SHARED writes, O_DIRECT, two opens of one file
 * at once, ftruncate/fallocate while the file is open. Each prints nothing and exits 0 when what a user sees
 * is right, else names what is wrong and exits 1.
 *   pt-probe mmap FILE | direct FILE | two FILE | resize FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "pt-probe: %s: %s\n", what, errno ? strerror(errno) : "wrong result");
	return 1;
}

/* A MAP_SHARED write is seen by read() at once and is in the file after msync. */
static int t_mmap(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail("open");
	if (ftruncate(fd, 8192) < 0)
		return fail("ftruncate");
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap MAP_SHARED");
	memcpy(p + 4096, "mapped", 6);
	char buf[6];
	errno = 0;
	if (pread(fd, buf, 6, 4096) != 6 || memcmp(buf, "mapped", 6) != 0)
		return fail("read after a MAP_SHARED store");
	if (msync(p, 8192, MS_SYNC) < 0)
		return fail("msync");
	munmap(p, 8192);
	close(fd);
	return 0;
}

/* O_DIRECT write and read of aligned blocks. */
static int t_direct(const char *path)
{
	int fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return fail("open O_DIRECT");
	void *w, *r;
	if (posix_memalign(&w, 4096, 8192) || posix_memalign(&r, 4096, 8192))
		return fail("posix_memalign");
	memset(w, 'D', 8192);
	errno = 0;
	if (pwrite(fd, w, 8192, 4096) != 8192)
		return fail("O_DIRECT write");
	if (pread(fd, r, 8192, 4096) != 8192 || memcmp(w, r, 8192) != 0)
		return fail("O_DIRECT read back");
	free(w);
	free(r);
	close(fd);
	return 0;
}

/* A read-only and a read-write open of one file at once: each sees the other's data. */
static int t_two(const char *path)
{
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	int rw = open(path, O_RDWR | O_CLOEXEC);
	if (ro < 0 || rw < 0)
		return fail("open O_RDONLY and O_RDWR at once");
	char buf[5];
	errno = 0;
	if (pwrite(rw, "first", 5, 0) != 5)
		return fail("write through the O_RDWR open");
	if (pread(ro, buf, 5, 0) != 5 || memcmp(buf, "first", 5) != 0)
		return fail("read through the O_RDONLY open");
	/* a third open while both live */
	int again = open(path, O_RDONLY | O_CLOEXEC);
	if (again < 0 || pread(again, buf, 5, 0) != 5 || memcmp(buf, "first", 5) != 0)
		return fail("a third open while two are live");
	close(again);
	close(ro);
	close(rw);
	return 0;
}

/* ftruncate and fallocate (served by the server) while the file is open for passthrough I/O. */
static int t_resize(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail("open");
	char buf[8192];
	memset(buf, 'x', sizeof(buf));
	struct stat st;
	errno = 0;
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return fail("write");
	if (ftruncate(fd, 100) < 0)
		return fail("ftruncate to 100");
	if (fstat(fd, &st) < 0 || st.st_size != 100)
		return fail("size after ftruncate");
	if (pread(fd, buf, sizeof(buf), 0) != 100)
		return fail("read after ftruncate: not 100 bytes");
	if (fallocate(fd, 0, 0, 65536) < 0)
		return fail("fallocate to 64 KiB");
	if (fstat(fd, &st) < 0 || st.st_size != 65536)
		return fail("size after fallocate");
	if (pread(fd, buf, 10, 60000) != 10 || buf[0] != 0)
		return fail("read of the allocated range");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: pt-probe mmap|direct|two|resize FILE\n");
		return 2;
	}
	if (strcmp(argv[1], "mmap") == 0)
		return t_mmap(argv[2]);
	if (strcmp(argv[1], "direct") == 0)
		return t_direct(argv[2]);
	if (strcmp(argv[1], "two") == 0)
		return t_two(argv[2]);
	if (strcmp(argv[1], "resize") == 0)
		return t_resize(argv[2]);
	fprintf(stderr, "pt-probe: unknown test '%s'\n", argv[1]);
	return 2;
}
