/* SPDX-License-Identifier: MIT */
/*
 * fsclient: runs the core's checks against a directory (a boxshare mount, or a native directory as the oracle)
 * and prints TAP. Exit status: 0 all passed or skipped, 1 a check failed, 2 bad usage.
 *
 *   fsclient [--oracle] [--host DIR] [--outside DIR] [--only G,G..] [--skip G,G..] [--small] TARGET
 *
 * --host DIR     the host directory behind TARGET: checks then compare what the client sees with the host
 * --outside DIR  a host directory outside the share: the escape checks aim at it, and it is snapshotted before
 *                and compared after the run (nothing in it may change)
 * --oracle       TARGET is a native directory: skip the checks that only hold through the share
 * --only/--skip  groups: meta, io, xattr, lock, scale, escape
 * --small        scale checks with 1/10 of the sizes (the cache-mode rounds)
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsclient/fsc.h"

static const struct fsc_check *const tables[] = {
	fsc_meta_checks, fsc_io_checks,     fsc_xattr_checks,    fsc_lock_checks,
	fsc_scale_checks, fsc_escape_checks, fsc_lockwait_checks,
};

static _Atomic int cur_num;
static const char *_Atomic cur_name;
static _Atomic long deadline; /* CLOCK_MONOTONIC seconds; 0: no check running */
static unsigned check_timeout = 120;

/*
 * A check that hangs is a failure with a name, not a silent harness timeout. A signal cannot do this: a FUSE
 * request the server never answers is waited for uninterruptibly once sent, so no handler ever runs. A thread
 * can: it prints the failure with the kernel stack of every thread, kills our children and exits the process
 * (which completes once the server answers or goes away; the calling script kills it then).
 */
static void *watchdog(void *arg)
{
	for (;;) {
		fsc_msleep(250);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		long d = atomic_load(&deadline);
		if (!d || ts.tv_sec < d)
			continue;
		printf("not ok %d - %s: timed out after %u s: the server stopped answering\n", atomic_load(&cur_num),
		       atomic_load(&cur_name) ? atomic_load(&cur_name) : "?", check_timeout);
		fsc_dump_stacks(getpid());
		fsc_kill_children();
		fflush(stdout);
		_exit(1);
	}
	return NULL;
}

static void arm(unsigned secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	atomic_store(&deadline, secs ? ts.tv_sec + (long)secs : 0);
}

static bool in_list(const char *list, const char *group)
{
	if (!list)
		return false;
	size_t gl = strlen(group);
	for (const char *p = list; *p;) {
		const char *e = strchrnul(p, ',');
		if ((size_t)(e - p) == gl && !strncmp(p, group, gl))
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fsclient [--oracle] [--host DIR] [--outside DIR] [--only GROUPS] [--skip GROUPS] [--small] "
		   "TARGET\n  groups: meta io xattr lock scale escape\n");
}

int main(int argc, char **argv)
{
	struct fsc c = { .rootfd = -1, .d = -1, .hd = -1, .outsidefd = -1, .scale = 1 };
	const char *only = NULL, *skip = NULL;
	static const struct option opts[] = {
		{ "oracle", no_argument, NULL, 'O' },  { "host", required_argument, NULL, 'H' },
		{ "outside", required_argument, NULL, 'X' }, { "only", required_argument, NULL, 'o' },
		{ "skip", required_argument, NULL, 's' }, { "small", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },     {}
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'O':
			c.oracle = true;
			break;
		case 'H':
			c.host_path = optarg;
			break;
		case 'X':
			c.outside_path = optarg;
			break;
		case 'o':
			only = optarg;
			break;
		case 's':
			skip = optarg;
			break;
		case 'S':
			c.scale = 10;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	c.root_path = argv[optind];
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);

	c.rootfd = open(c.root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.rootfd < 0) {
		fprintf(stderr, "fsclient: open %s: %m\n", c.root_path);
		return 2;
	}
	int hostfd = -1;
	if (c.host_path) {
		hostfd = open(c.host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (hostfd < 0) {
			fprintf(stderr, "fsclient: open %s: %m\n", c.host_path);
			return 2;
		}
	}
	if (c.outside_path) {
		c.outsidefd = open(c.outside_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c.outsidefd < 0) {
			fprintf(stderr, "fsclient: open %s: %m\n", c.outside_path);
			return 2;
		}
	}

	/* All work happens in one fresh directory, so a run never trips over an earlier one's leftovers. */
	char work[64];
	snprintf(work, sizeof(work), "fsc.%d", (int)getpid());
	if (mkdirat(c.rootfd, work, 0755) < 0) {
		fprintf(stderr, "fsclient: mkdir %s/%s: %m\n", c.root_path, work);
		return 1;
	}
	int workfd = openat(c.rootfd, work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int hworkfd = hostfd >= 0 ? openat(hostfd, work, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (workfd < 0 || (hostfd >= 0 && hworkfd < 0)) {
		fprintf(stderr, "fsclient: open %s (through the target and on the host): %m\n", work);
		return 1;
	}

	struct fsc_snap *before = NULL;
	int pr = c.outsidefd >= 0 ? fsc_escape_prepare(&c) : 0;
	if (pr < 0) {
		fprintf(stderr, "fsclient: preparing the sentinel in %s: %s\n", c.outside_path, strerror(-pr));
		fsc_escape_cleanup(&c);
		return 1;
	}
	if (c.outsidefd >= 0 && fsc_snap_take(c.outside_path, &before) < 0) {
		fprintf(stderr, "fsclient: snapshot of %s failed\n", c.outside_path);
		return 1;
	}

	signal(SIGPIPE, SIG_IGN);
	const char *to = getenv("FSCLIENT_CHECK_TIMEOUT");
	if (to && atoi(to) > 0)
		check_timeout = (unsigned)atoi(to);
	pthread_t wd;
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
		fprintf(stderr, "fsclient: cannot start the watchdog thread\n");
		return 1;
	}
	pthread_detach(wd);
	int num = 0, failed = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct fsc_check *k = tables[t]; k->name; k++) {
			if ((only && !in_list(only, k->group)) || in_list(skip, k->group))
				continue;
			char name[128], rel[192];
			snprintf(name, sizeof(name), "%s.%s", k->group, k->name);
			snprintf(rel, sizeof(rel), "%s/%s", work, name);
			atomic_store(&cur_num, ++num);
			atomic_store(&cur_name, name);
			c.dir_rel = rel;
			c.reason[0] = 0;
			int r;
			if (mkdirat(workfd, name, 0755) < 0 ||
			    (c.d = openat(workfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
				r = -1;
				snprintf(c.reason, sizeof(c.reason), "mkdir %s: %s", rel, strerror(errno));
			} else {
				c.hd = hworkfd >= 0 ? openat(hworkfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
				arm(check_timeout);
				r = k->fn(&c);
				arm(0);
			}
			if (r == 0)
				printf("ok %d - %s\n", num, name);
			else if (r > 0)
				printf("ok %d - %s # SKIP %s\n", num, name, c.reason);
			else {
				printf("not ok %d - %s: %s\n", num, name, c.reason);
				failed++;
			}
			if (c.d >= 0)
				close(c.d);
			if (c.hd >= 0)
				close(c.hd);
			c.d = c.hd = -1;
			arm(check_timeout);
			int k2 = fsc_rm_rf(workfd, name);
			arm(0);
			if (k2 < 0)
				printf("# cleanup of %s: %s\n", rel, strerror(-k2));
		}
	}

	if (before) {
		struct fsc_snap *after = NULL;
		const char *diff = fsc_snap_take(c.outside_path, &after) < 0 ? "cannot snapshot again"
									     : fsc_snap_diff(before, after);
		if (diff) {
			printf("not ok %d - outside-unchanged: %s\n", ++num, diff);
			failed++;
		} else {
			printf("ok %d - outside-unchanged\n", ++num);
		}
		fsc_snap_free(before);
		fsc_snap_free(after);
	}
	if (c.outsidefd >= 0)
		fsc_escape_cleanup(&c);
	close(workfd);
	if (fsc_rm_rf(c.rootfd, work) < 0)
		printf("# cleanup of %s failed\n", work);
	printf("1..%d\n", num);
	if (failed)
		printf("# %d of %d checks failed\n", failed, num);
	return failed ? 1 : 0;
}
