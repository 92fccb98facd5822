/* SPDX-License-Identifier: MIT */
/*
 * A tiny static helper for the virtio-fs guest battery: what busybox cannot do (xattrs, POSIX and flock locks
 * with a second process, lock waits, shared mmap). Runs inside the guest: `guest-tool xattr|locks|lockwait|mmap
 * FILE`.
 * Prints one line per failed check and exits 1; exits 0 when everything held.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                                                         \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			printf("guest-tool: FAIL: " __VA_ARGS__);                                               \
			printf(" (%s)\n", strerror(errno));                                                      \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

static void do_xattr(const char *f)
{
	char v[64];
	int fd = open(f, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	CHECK(fd >= 0, "create %s", f);
	close(fd);
	CHECK(setxattr(f, "user.boxshare", "guest-value", 11, XATTR_CREATE) == 0, "setxattr");
	CHECK(setxattr(f, "user.boxshare", "x", 1, XATTR_CREATE) < 0 && errno == EEXIST, "XATTR_CREATE twice");
	ssize_t n = getxattr(f, "user.boxshare", v, sizeof(v));
	CHECK(n == 11 && memcmp(v, "guest-value", 11) == 0, "getxattr value");
	n = getxattr(f, "user.boxshare", NULL, 0);
	CHECK(n == 11, "getxattr size query");
	char list[256];
	n = listxattr(f, list, sizeof(list));
	CHECK(n > 0 && memmem(list, (size_t)n, "user.boxshare", 14) != NULL, "listxattr");
	CHECK(removexattr(f, "user.boxshare") == 0, "removexattr");
	CHECK(getxattr(f, "user.boxshare", v, sizeof(v)) < 0 && errno == ENODATA, "removed");
	/* leave one for the host to see */
	CHECK(setxattr(f, "user.fromguest", "42", 2, 0) == 0, "setxattr for the host");
}

static void do_locks(const char *f)
{
	int fd = open(f, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	CHECK(fd >= 0, "open %s", f);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "F_SETLK write lock");
	CHECK(flock(fd, LOCK_EX) == 0, "flock LOCK_EX");
	pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		int fd2 = open(f, O_RDWR | O_CLOEXEC);
		struct flock c = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
		if (fcntl(fd2, F_SETLK, &c) == 0 || (errno != EAGAIN && errno != EACCES))
			bad |= 1;
		c = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
		/* l_pid is what the server reports (an OFD lock on the host has none): only the type counts */
		if (fcntl(fd2, F_GETLK, &c) < 0 || c.l_type != F_WRLCK)
			bad |= 2;
		c = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 10 };
		if (fcntl(fd2, F_SETLK, &c) < 0) /* a range nobody holds */
			bad |= 4;
		if (flock(fd2, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
			bad |= 8;
		_exit(bad);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "locks seen by a second process (mask %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	fl.l_type = F_UNLCK;
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "unlock");
	CHECK(flock(fd, LOCK_UN) == 0, "flock unlock");
	close(fd);
}

/*
 * Lock waits: a second process waits (F_SETLKW, then flock) on a lock the first holds, and the first's
 * unlock must still get through to end the wait. A server that serves the wait on the thread the unlock needs
 * deadlocks here: the alarm turns that into a failure instead of a hung guest.
 */
static void do_lockwait(const char *f)
{
	alarm(30);
	int fd = open(f, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	CHECK(fd >= 0, "open %s", f);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	CHECK(fcntl(fd, F_SETLKW, &fl) == 0, "F_SETLKW on a free file");
	CHECK(flock(fd, LOCK_EX) == 0, "flock LOCK_EX");
	pid_t pid = fork();
	if (pid == 0) {
		int fd2 = open(f, O_RDWR | O_CLOEXEC);
		struct flock c = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int bad = fcntl(fd2, F_SETLKW, &c) == 0 ? 0 : 1; /* waits until the parent unlocks */
		c.l_type = F_UNLCK;
		fcntl(fd2, F_SETLK, &c);
		int fd3 = open(f, O_RDWR | O_CLOEXEC);
		if (flock(fd3, LOCK_EX) < 0) /* waits until the parent drops its flock */
			bad |= 2;
		_exit(bad);
	}
	sleep(1); /* the child is waiting now */
	fl.l_type = F_UNLCK;
	CHECK(fcntl(fd, F_SETLK, &fl) == 0, "unlock while another process waits");
	sleep(1);
	CHECK(flock(fd, LOCK_UN) == 0, "flock unlock while another process waits");
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiter got its locks (status 0x%x)", st);
	close(fd);
	alarm(0);
}

static void do_mmap(const char *f)
{
	const size_t len = 256 * 1024;
	int fd = open(f, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)len) == 0, "create %s", f);
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap shared");
	if (p == MAP_FAILED)
		return;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	CHECK(msync(p, len, MS_SYNC) == 0, "msync");
	munmap(p, len);
	close(fd);
	/* read back through read(2) on a new open */
	unsigned char *b = malloc(len);
	fd = open(f, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, b, len) == (ssize_t)len, "read back");
	size_t bad = 0;
	for (size_t i = 0; i < len; i++)
		bad += b[i] != (unsigned char)(i * 7 + 3);
	CHECK(bad == 0, "%zu bytes differ after mmap write", bad);
	/* and through a private read-only mapping */
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED && p[len - 1] == (unsigned char)((len - 1) * 7 + 3), "mmap read");
	if (p != MAP_FAILED)
		munmap(p, len);
	close(fd);
	free(b);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: guest-tool xattr|locks|lockwait|mmap FILE\n");
		return 2;
	}
	if (!strcmp(argv[1], "xattr"))
		do_xattr(argv[2]);
	else if (!strcmp(argv[1], "locks"))
		do_locks(argv[2]);
	else if (!strcmp(argv[1], "lockwait"))
		do_lockwait(argv[2]);
	else if (!strcmp(argv[1], "mmap"))
		do_mmap(argv[2]);
	else
		return 2;
	return failures ? 1 : 0;
}
