/* SPDX-License-Identifier: MIT */
/* The pid namespace's init: a reaper and signal relay holding nothing (no fds, no capabilities). */
#include "sb-init.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sb-caps.h"
#include "sb-seccomp.h"
#include "util/macros.h"

static const int relayed[] = { SIGINT, SIGTERM, SIGHUP };

/* Never runs (the signals are blocked and taken by sigwaitinfo); its presence in SigCgt tells the supervisor that
 * we catch them, so it forwards them instead of sending SIGKILL. */
static void unused_handler(int sig)
{
}

/* Only what the loop below calls; anything else kills. Best effort: a failure leaves init unfiltered but
 * holding nothing. */
static void init_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return;
	static const int allowed[] = { SCMP_SYS(rt_sigtimedwait), SCMP_SYS(wait4), SCMP_SYS(kill),
				       SCMP_SYS(write), SCMP_SYS(exit_group), SCMP_SYS(exit),
				       SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall) };
	/* a sanitizer runtime tears down its alternate signal stack and shadow memory on the way out */
	static const int sanitizer[] = { SCMP_SYS(sigaltstack), SCMP_SYS(munmap), SCMP_SYS(mmap), SCMP_SYS(madvise),
					 SCMP_SYS(mprotect), SCMP_SYS(futex), SCMP_SYS(getpid), SCMP_SYS(gettid),
					 SCMP_SYS(sched_yield), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction) };
	bool ok = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) == 0;
	for (size_t i = 0; ok && i < ARRAY_SIZE(allowed); i++)
		ok = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0) == 0;
	for (size_t i = 0; ok && sb_seccomp_sanitizer_build() && i < ARRAY_SIZE(sanitizer); i++)
		ok = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer[i], 0) == 0;
	if (ok)
		(void)seccomp_load(ctx);
	seccomp_release(ctx);
}

static _noreturn_ void init_main(pid_t server, int status_fd, const sigset_t *set)
{
	/* Nothing of the server's: its shares, /dev/fuse or the vhost-user socket must close when it exits. */
	if (status_fd > 3)
		close_range(3, (unsigned)status_fd - 1, 0);
	close_range((unsigned)status_fd + 1, ~0u, 0);
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* nobody without CAP_SYS_PTRACE may look into it */
	(void)sb_caps_drop(0);
	init_filter();

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(server, sig);
			continue;
		}
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			if (p == server) {
				(void)!write(status_fd, &st, sizeof(st));
				_exit(0);
			}
	}
}

int sb_init_fork(int status_fd)
{
	sigset_t set, old;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(relayed); i++)
		sigaddset(&set, relayed[i]);
	sigaddset(&set, SIGCHLD);
	/* blocked across the fork: a signal that arrives meanwhile waits for the loop */
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		return -errno;
	struct sigaction sa = { .sa_handler = unused_handler }, old_sa[ARRAY_SIZE(relayed)], dfl = { .sa_handler = SIG_DFL },
			 old_chld;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(relayed); i++)
		sigaction(relayed[i], &sa, &old_sa[i]);
	sigaction(SIGCHLD, &dfl, &old_chld);

	pid_t pid = fork();
	if (pid != 0) {
		if (pid > 0)
			init_main(pid, status_fd, &set);
		int r = -errno;
		close(status_fd);
		for (size_t i = 0; i < ARRAY_SIZE(relayed); i++)
			sigaction(relayed[i], &old_sa[i], NULL);
		sigaction(SIGCHLD, &old_chld, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return r;
	}
	/* the server: the caller's dispositions and mask as they were */
	for (size_t i = 0; i < ARRAY_SIZE(relayed); i++)
		sigaction(relayed[i], &old_sa[i], NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(status_fd);
	return 0;
}
