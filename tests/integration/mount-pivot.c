/* SPDX-License-Identifier: MIT */
/*
 * bxm_pivot_root() against the kernel (issue 5): it works for a tmpfs root, and each of pivot_root's EINVAL
 * rules (new root not a mount point, put_old not under the new root, a shared parent) gives the kernel's
 * errno and a message that says which rule. Each case runs in a child with a private mount namespace of its
 * own, so nothing reaches the host and the test's own root is never moved.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "boxshare/mount.h"

static char base[64];

/* In the child: a private namespace, a tmpfs at base to work in. */
static void enter(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", base, "tmpfs", 0, "size=1m") < 0) {
		perror("mount-pivot: set-up");
		_exit(2);
	}
}

static int expect_einval(const char *name, const char *new_root, const char *put_old, const char *want_detail)
{
	struct bxm_error e;
	char msg[1024];
	int r = bxm_pivot_root(new_root, put_old, &e);
	bxm_error_format(&e, msg, sizeof(msg));
	if (r != -EINVAL || e.err != EINVAL || !strstr(e.detail, want_detail) || !strstr(msg, "pivot_root: invalid argument")) {
		fprintf(stderr, "not ok - %s: got %d \"%s\", want -EINVAL and \"%s\"\n", name, r, msg, want_detail);
		return 1;
	}
	printf("ok - %s: %s\n", name, msg);
	return 0;
}

static int case_not_mountpoint(void)
{
	char d[128];
	snprintf(d, sizeof(d), "%s/plain", base);
	mkdir(d, 0755);
	return expect_einval("new root not a mount point", d, NULL, "new root is not a mount point");
}

static int case_put_old_outside(void)
{
	char nr[128], out[128];
	snprintf(nr, sizeof(nr), "%s/nr", base);
	snprintf(out, sizeof(out), "%s/outside", base);
	mkdir(nr, 0755);
	mkdir(out, 0755);
	if (mount("tmpfs", nr, "tmpfs", 0, NULL) < 0)
		return perror("mount"), 1;
	return expect_einval("put_old not under the new root", nr, out, "put_old is not at or under the new root");
}

static int case_shared_parent(void)
{
	char nr[128];
	snprintf(nr, sizeof(nr), "%s/nr", base);
	mkdir(nr, 0755);
	/* shared within this private namespace only */
	if (mount(NULL, base, NULL, MS_SHARED, NULL) < 0 || mount("tmpfs", nr, "tmpfs", 0, NULL) < 0)
		return perror("mount"), 1;
	return expect_einval("shared parent", nr, NULL, "parent mount is shared");
}

static int case_works(void)
{
	char nr[128];
	snprintf(nr, sizeof(nr), "%s/root", base);
	mkdir(nr, 0755);
	if (mount("tmpfs", nr, "tmpfs", 0, NULL) < 0)
		return perror("mount"), 1;
	struct bxm_error e;
	char msg[1024];
	int r = bxm_pivot_root(nr, NULL, &e);
	if (r < 0) {
		fprintf(stderr, "not ok - pivot_root into a tmpfs: %s\n", bxm_error_format(&e, msg, sizeof(msg)));
		return 1;
	}
	struct statfs sf;
	/* the new root is the tmpfs, and nothing of the old root is reachable */
	if (statfs("/", &sf) < 0 || sf.f_type != TMPFS_MAGIC || access("/proc", F_OK) == 0 || access(base, F_OK) == 0) {
		fprintf(stderr, "not ok - pivot_root into a tmpfs: / is not the new tmpfs alone\n");
		return 1;
	}
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f) {
		fclose(f);
		fprintf(stderr, "not ok - pivot_root into a tmpfs: the old root's /proc is still reachable\n");
		return 1;
	}
	printf("ok - pivot_root into a tmpfs, old root detached\n");
	return 0;
}

static int run(int (*fn)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p < 0)
		return perror("fork"), 1;
	if (p == 0) {
		enter();
		int r = fn();
		fflush(stdout);
		_exit(r);
	}
	int st;
	if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "mount-pivot: skipped: needs root\n");
		return 77;
	}
	if (unshare(0) < 0) {
		fprintf(stderr, "mount-pivot: skipped: no unshare\n");
		return 77;
	}
	snprintf(base, sizeof(base), "/tmp/bx-pivot.XXXXXX");
	if (!mkdtemp(base))
		return perror("mkdtemp"), 1;
	int fails = 0;
	fails += run(case_not_mountpoint) != 0;
	fails += run(case_put_old_outside) != 0;
	fails += run(case_shared_parent) != 0;
	fails += run(case_works) != 0;
	/* the tmpfs lived in the children's namespaces only: the directory is empty here */
	rmdir(base);
	return fails ? 1 : 0;
}
