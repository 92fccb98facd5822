/* SPDX-License-Identifier: MIT */
/*
 * What serve-locks.sh asks of POSIX record locks that a shell cannot do (util-linux's flock(1) covers flock).
 *   lock-probe hold FILE   take a write lock on the whole file (F_SETLK), print "held", keep it until stdin
 *                          reaches EOF; exit 1 if the lock is refused
 *   lock-probe test FILE   print "locked" if another process holds a conflicting lock (F_GETLK), else
 *                          "unlocked"
 * Exit 2 for a bad command line or an error opening the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: lock-probe hold|test FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	int fd = open(argv[2], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "lock-probe: open %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	if (strcmp(argv[1], "hold") == 0) {
		if (fcntl(fd, F_SETLK, &fl) < 0) {
			fprintf(stderr, "lock-probe: F_SETLK %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		printf("held\n");
		fflush(stdout);
		char c;
		while (read(STDIN_FILENO, &c, 1) > 0)
			;
		return 0;
	}
	if (strcmp(argv[1], "test") == 0) {
		if (fcntl(fd, F_GETLK, &fl) < 0) {
			fprintf(stderr, "lock-probe: F_GETLK %s: %s\n", argv[2], strerror(errno));
			return 2;
		}
		printf("%s\n", fl.l_type == F_UNLCK ? "unlocked" : "locked");
		return 0;
	}
	return usage();
}
