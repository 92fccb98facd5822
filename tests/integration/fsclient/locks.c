/* SPDX-License-Identifier: MIT */
/* fsclient: POSIX record locks between processes, F_GETLK, F_SETLKW (and its interruption), OFD locks, flock. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsc.h"

struct lockarg {
	struct fsc *c;
	pid_t holder;
};

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	return fcntl(fd, cmd, &fl);
}

/* The other process: sees the parent's write lock on [0,100) */
static int posix_child(void *arg)
{
	struct lockarg *a = arg;
	int fd = openat(a->c->d, "f", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 10;
	if (setlk(fd, F_SETLK, F_WRLCK, 50, 10) == 0 || (errno != EAGAIN && errno != EACCES))
		return 11;
	if (setlk(fd, F_SETLK, F_RDLCK, 99, 1) == 0 || (errno != EAGAIN && errno != EACCES))
		return 12;
	if (setlk(fd, F_SETLK, F_WRLCK, 100, 10) < 0) /* right after the held range: free */
		return 13;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10 };
	if (fcntl(fd, F_GETLK, &fl) < 0)
		return 14;
	if (fl.l_type != F_WRLCK || fl.l_start != 0 || fl.l_len != 100)
		return 15;
	if (fl.l_pid != a->holder)
		return 16;
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 10 };
	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type != F_UNLCK)
		return 17;
	return 0;
}

static int after_close_child(void *arg)
{
	struct lockarg *a = arg;
	int fd = openat(a->c->d, "f", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 10;
	if (setlk(fd, F_SETLK, F_WRLCK, 0, 100) < 0)
		return 11; /* the parent's lock should be gone */
	return 0;
}

static int shared_child(void *arg)
{
	struct lockarg *a = arg;
	int fd = openat(a->c->d, "f", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 10;
	if (setlk(fd, F_SETLK, F_RDLCK, 0, 0) < 0)
		return 11; /* read locks share */
	if (setlk(fd, F_SETLK, F_WRLCK, 0, 0) == 0 || (errno != EAGAIN && errno != EACCES))
		return 12;
	return 0;
}

static int check_posix(struct fsc *c)
{
	struct lockarg a = { .c = c, .holder = getpid() };
	MUST(fsc_put(c->d, "f", "lockfile", 0644));
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	int other = MUST(openat(c->d, "f", O_RDONLY | O_CLOEXEC));
	MUST(setlk(fd, F_SETLK, F_WRLCK, 0, 100));
	int r = fsc_in_child(posix_child, &a);
	CHECK(r == 0, "other process against a held write lock: step %d failed (see posix_child)", r);
	/* POSIX semantics: closing any descriptor of the file drops the process's locks on it */
	close(other);
	r = fsc_in_child(after_close_child, &a);
	CHECK(r == 0, "after closing another descriptor: step %d failed (the lock survived the close)", r);
	MUST(setlk(fd, F_SETLK, F_RDLCK, 0, 0));
	r = fsc_in_child(shared_child, &a);
	CHECK(r == 0, "read locks: step %d failed (see shared_child)", r);
	/* unlocking part of a range splits it */
	MUST(setlk(fd, F_SETLK, F_UNLCK, 0, 0));
	MUST(setlk(fd, F_SETLK, F_WRLCK, 0, 100));
	MUST(setlk(fd, F_SETLK, F_UNLCK, 0, 50));
	r = fsc_in_child(posix_child, &a);
	CHECK(r == 15, "after a partial unlock: step %d (expected 15: the held range is now [50,100))", r);
	close(fd);
	return 0;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static int setlkw_child(void *arg)
{
	struct lockarg *a = arg;
	int fd = openat(a->c->d, "f", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 10;
	/* interrupted: a signal without SA_RESTART makes F_SETLKW return EINTR (the FUSE INTERRUPT path) */
	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	if (setlk(fd, F_SETLKW, F_WRLCK, 0, 10) == 0)
		return 11;
	if (errno != EINTR)
		return 12;
	alarm(0);
	signal(SIGALRM, SIG_DFL); /* from here a hang is fatal to the child */
	/* tell the parent we are about to wait, then wait: granted when the parent unlocks */
	if (setlk(fd, F_SETLK, F_WRLCK, 1000, 1) < 0) /* a marker the parent polls with F_GETLK */
		return 13;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	alarm(20);
	if (setlk(fd, F_SETLKW, F_WRLCK, 0, 10) < 0)
		return 14;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (ms < 100)
		return 15; /* granted while the parent still held it */
	return 0;
}

static int check_setlkw(struct fsc *c)
{
	struct lockarg a = { .c = c, .holder = getpid() };
	MUST(fsc_put(c->d, "f", "lockfile", 0644));
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST(setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	pid_t pid = fsc_fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(30);
		_exit(setlkw_child(&a));
	}
	/* wait until the child holds its marker lock (it then blocks in F_SETLKW), then let it wait a while */
	for (int i = 0; i < 500; i++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1000, .l_len = 1 };
		if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			break;
		fsc_msleep(20);
	}
	fsc_msleep(300);
	setlk(fd, F_SETLK, F_UNLCK, 0, 10);
	int st = fsc_wait(pid);
	close(fd);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiting process: %s %d (see setlkw_child)",
	      WIFEXITED(st) ? "step" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

static int ofd_child(void *arg)
{
	struct lockarg *a = arg;
	int fd = openat(a->c->d, "f", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 10;
	/* an OFD lock conflicts with a classic POSIX lock of another process too */
	if (setlk(fd, F_SETLK, F_WRLCK, 0, 1) == 0 || (errno != EAGAIN && errno != EACCES))
		return 11;
	return 0;
}

static int check_ofd(struct fsc *c)
{
	struct lockarg a = { .c = c, .holder = getpid() };
	MUST(fsc_put(c->d, "f", "lockfile", 0644));
	int fd1 = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	int fd2 = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST(setlk(fd1, F_OFD_SETLK, F_WRLCK, 0, 100));
	/* two open file descriptions of one process conflict (unlike classic POSIX locks) */
	MUST_FAIL2(setlk(fd2, F_OFD_SETLK, F_WRLCK, 10, 10), EAGAIN, EACCES);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10 };
	MUST(fcntl(fd2, F_OFD_GETLK, &fl));
	CHECK(fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 100 && fl.l_pid == -1,
	      "F_OFD_GETLK: type %d start %lld len %lld pid %d", fl.l_type, (long long)fl.l_start,
	      (long long)fl.l_len, fl.l_pid);
	int r = fsc_in_child(ofd_child, &a);
	CHECK(r == 0, "another process against an OFD lock: step %d failed", r);
	/* closing the other description does not drop it; closing its own does */
	int fd3 = MUST(openat(c->d, "f", O_RDONLY | O_CLOEXEC));
	close(fd3);
	MUST_FAIL2(setlk(fd2, F_OFD_SETLK, F_WRLCK, 10, 10), EAGAIN, EACCES);
	close(fd1);
	/* Through FUSE an OFD lock goes away with the RELEASE of its file, which the kernel sends asynchronously
	 * after close() returned (no local lock tells it to unlock at close): allow it a moment. */
	int r2 = -1;
	for (int i = 0; i < 100 && (r2 = setlk(fd2, F_OFD_SETLK, F_WRLCK, 10, 10)) < 0 && errno == EAGAIN; i++)
		fsc_msleep(10);
	int e = errno;
	close(fd2);
	CHECK(r2 == 0, "the OFD lock outlived the close of its file by 1 s: %s", strerror(e));
	return 0;
}

static int flock_child(void *arg)
{
	struct lockarg *a = arg;
	int fd = openat(a->c->d, "f", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 10;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		return 11;
	return 0;
}

static int check_flock(struct fsc *c)
{
	struct lockarg a = { .c = c, .holder = getpid() };
	MUST(fsc_put(c->d, "f", "lockfile", 0644));
	int fd1 = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	int fd2 = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST(flock(fd1, LOCK_EX | LOCK_NB));
	MUST_FAIL(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	MUST_FAIL(flock(fd2, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	int r = fsc_in_child(flock_child, &a);
	CHECK(r == 0, "another process against a held flock: step %d failed", r);
	MUST(flock(fd1, LOCK_SH)); /* downgrade: shared locks coexist */
	MUST(flock(fd2, LOCK_SH | LOCK_NB));
	MUST(flock(fd2, LOCK_UN));
	MUST(flock(fd1, LOCK_UN));
	MUST(flock(fd2, LOCK_EX | LOCK_NB));
	/* closing the holding description releases it (through FUSE with the asynchronous RELEASE, see ofd) */
	close(fd2);
	int r2 = -1;
	for (int i = 0; i < 100 && (r2 = flock(fd1, LOCK_EX | LOCK_NB)) < 0 && errno == EWOULDBLOCK; i++)
		fsc_msleep(10);
	CHECK(r2 == 0, "the flock outlived the close of its file by 1 s: %s", strerror(errno));
	/* flock and POSIX locks do not interact */
	MUST(setlk(fd1, F_SETLK, F_WRLCK, 0, 0));
	close(fd1);
	return 0;
}

const struct fsc_check fsc_lock_checks[] = {
	{ "lock", "posix-two-processes", check_posix },
	{ "lock", "ofd", check_ofd },
	{ "lock", "flock", check_flock },
	{},
};

/* A waits for B's range while B waits for A's: the kernel refuses the second wait with EDEADLK. A server that
 * takes the host locks as one owner per open file (OFD locks) loses this: both wait forever. */
static int deadlock_child(void *arg)
{
	struct lockarg *a = arg;
	int fd = openat(a->c->d, "f", O_RDWR | O_CLOEXEC);
	if (fd < 0 || setlk(fd, F_SETLK, F_WRLCK, 1, 1) < 0)
		return 10;
	/* tell the parent we hold [1,2), then wait until it waits for it */
	if (setlk(fd, F_SETLK, F_WRLCK, 100, 1) < 0)
		return 11;
	fsc_msleep(500);
	int r = setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
	if (r == 0)
		return 1; /* granted: only right once the parent's wait failed with EDEADLK and it let go */
	return errno == EDEADLK ? 0 : 13;
}

static int check_deadlock(struct fsc *c)
{
	struct lockarg a = { .c = c, .holder = getpid() };
	MUST(fsc_put(c->d, "f", "lockfile", 0644));
	int fd = MUST(openat(c->d, "f", O_RDWR | O_CLOEXEC));
	MUST(setlk(fd, F_SETLK, F_WRLCK, 0, 1));
	pid_t pid = fsc_fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(8); /* EDEADLK is immediate; a deadlock the server misses ends here (the parent then proceeds) */
		_exit(deadlock_child(&a));
	}
	for (int i = 0; i < 250; i++) { /* until the child holds its marker */
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1 };
		if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			break;
		fsc_msleep(20);
	}
	/* wait for the child's range. The child waits 500 ms before its own wait, so this one usually comes first
	 * and is granted once the child's wait fails with EDEADLK and it exits; on a loaded machine the child's may
	 * come first: then this one closes the cycle and fails with EDEADLK, and letting go grants the child's.
	 * Either way exactly one of the two waits fails, with EDEADLK, and neither hangs. */
	int r = setlk(fd, F_SETLKW, F_WRLCK, 1, 1);
	int e = errno;
	if (r < 0 && e == EDEADLK)
		close(fd); /* the child's wait is granted now */
	int st = fsc_wait(pid);
	if (!(r < 0 && e == EDEADLK))
		close(fd);
	int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	CHECK(r == 0 || e == EDEADLK, "the parent's wait: %s", strerror(e));
	CHECK(code == 0 || code == 1, "the child: %s %d (13: its wait failed with another error than EDEADLK)",
	      code >= 0 ? "step" : "signal", code >= 0 ? code : st >= 0 ? WTERMSIG(st) : st);
	CHECK((r == 0) == (code == 0), "exactly one wait must fail with EDEADLK: the parent's %s, the child's %s",
	      r == 0 ? "was granted" : strerror(e), code == 0 ? "failed with EDEADLK" : "was granted");
	return 0;
}

/* Last of all: a server that cannot interrupt a waiting lock hangs here, and nothing after it would run. */
const struct fsc_check fsc_lockwait_checks[] = {
	{ "lock", "posix-setlkw-interrupt", check_setlkw },
	{ "lock", "posix-deadlock-edeadlk", check_deadlock },
	{},
};
