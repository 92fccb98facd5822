/* SPDX-License-Identifier: MIT */
/*
 * The supervisor of namespace mode. It stays in the host's namespaces with its privileges, because what has to
 * happen after the server is gone (unmounting the /dev/fuse mount point) cannot be done from inside the
 * server's mount namespace, and because the server, as pid 1 of its namespace, must have a parent that
 * reports its status.
 */
#include "sb-supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };

/*
 * Does pid have a handler for sig? The child is pid 1 of its namespace, and the kernel drops a signal sent to
 * such an init that has no handler for it (SIGKILL and SIGSTOP excepted). Unknown: assume it has one.
 */
static bool child_catches(pid_t pid, int sig)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		uint64_t mask;
		if (sscanf(line, "SigCgt: %" SCNx64, &mask) == 1)
			return (mask >> (sig - 1)) & 1;
	}
	return true;
}

/* Re-raise the child's death signal in the supervisor, so our own parent sees the same status. */
static _noreturn_ void die_like(int sig)
{
	struct rlimit no_core = { 0, 0 };
	sigset_t s;
	setrlimit(RLIMIT_CORE, &no_core); /* the child's crash, not ours: no second core file */
	signal(sig, SIG_DFL);
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	raise(sig);
	_exit(128 + sig);
}

static _noreturn_ void supervise(pid_t child, bool child_is_init, int status_rd, const sigset_t *set,
				  void (*cleanup)(void *), void *data)
{
	int substituted = 0, status = 0;

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			/* cannot wait for signals: fall back to a plain wait, forwarding nothing */
			while (waitpid(child, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (sig == SIGCHLD) {
			pid_t p = waitpid(child, &status, WNOHANG);
			if (p == child)
				break;
			if (p < 0 && errno == ECHILD) { /* reaped elsewhere (SIGCHLD ignored?): nothing to wait for */
				status = 0;
				break;
			}
			continue;
		}
		if (!child_is_init || child_catches(child, sig)) {
			kill(child, sig);
		} else {
			/* Without a handler the signal would have killed an ordinary process; an init only dies of
			 * SIGKILL. Report it as the signal that was sent. */
			substituted = sig;
			kill(child, SIGKILL);
		}
	}

	/* The namespace's init reports how the server ended (it cannot die of the server's signal itself). */
	int reported;
	if (status_rd >= 0 && read(status_rd, &reported, sizeof(reported)) == (ssize_t)sizeof(reported)) {
		status = reported;
		substituted = 0;
	}

	if (cleanup)
		cleanup(data);
	fflush(stdout);
	fflush(stderr);
	/* _exit: the caller's atexit handlers and leak checks belong to the server, not to its supervisor */
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		die_like(substituted && WTERMSIG(status) == SIGKILL ? substituted : WTERMSIG(status));
	_exit(1);
}

int sb_fork_supervised(bool new_pidns, void (*cleanup)(void *data), void *data, int *ret_status_fd)
{
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);

	/* Our own pid namespace, to go back to after the fork: unshare(CLONE_NEWPID) changes where our later
	 * children go, and the supervisor_cleanup may want to run a helper program. */
	_cleanup_close_ int self_ns = new_pidns ? sys_pidfd_open(getpid(), 0) : -1;
	if (new_pidns && self_ns < 0)
		return self_ns;
	/* Lets the child see whether we died before its PR_SET_PDEATHSIG took effect: EOF on the read end. */
	int alive[2];
	if (pipe2(alive, O_CLOEXEC) < 0)
		return -errno;
	/* The server's wait status, from the namespace's init to us. */
	int status[2] = { -1, -1 };
	if (new_pidns && pipe2(status, O_CLOEXEC) < 0) {
		int r = -errno;
		close(alive[0]);
		close(alive[1]);
		return r;
	}

	/* Blocked before the fork, so that no signal is lost between fork and sigwaitinfo. */
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0) {
		int r = -errno;
		close(alive[0]);
		close(alive[1]);
		safe_close(status[0]);
		safe_close(status[1]);
		return r;
	}
	fflush(NULL); /* or both processes would write what stdio had buffered */
	/* SIG_IGN would have the kernel reap the child behind our back; set before the fork, as it may die soon */
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old_chld;
	sigaction(SIGCHLD, &dfl, &old_chld);

	int r = 0;
	pid_t pid = -1;
	if (new_pidns && unshare(CLONE_NEWPID) < 0) {
		r = -errno;
		log_debug("sandbox: unshare(CLONE_NEWPID): %d", r);
	} else {
		pid = fork();
		if (pid < 0)
			r = -errno;
		if (new_pidns && pid != 0 && setns(self_ns, CLONE_NEWPID) < 0)
			log_debug("sandbox: setns back to our pid namespace: %d", -errno);
	}
	if (r < 0) {
		sigaction(SIGCHLD, &old_chld, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(alive[0]);
		close(alive[1]);
		safe_close(status[0]);
		safe_close(status[1]);
		return r;
	}

	if (pid == 0) {
		close(alive[1]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(127);
		char c;
		if (fcntl(alive[0], F_SETFL, O_NONBLOCK) < 0 || read(alive[0], &c, 1) == 0)
			_exit(127); /* the supervisor is already gone */
		close(alive[0]);
		safe_close(status[0]);
		*ret_status_fd = status[1];
		sigaction(SIGCHLD, &old_chld, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 0;
	}

	close(alive[0]); /* alive[1] stays open until we exit */
	safe_close(status[1]);
	supervise(pid, new_pidns, status[0], &set, cleanup, data);
}
