/* SPDX-License-Identifier: MIT */
/* state, kill, delete, list, ps: the OCI lifecycle commands that act on an existing container. */
#include "runtime/lifecycle.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/console.h"
#include "runtime/cgroup.h"
#include "runtime/hooks.h"
#include "runtime/lifecycle-util.h"
#include "oci/spec.h"
#include "runtime/spec-ext.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"


/* --- state, kill, delete, list, ps ---------------------------------------------------------------------- */

int lc_state(const char *root, const char *id, char **ret_json, struct rt_err *err)
{
	_cleanup_close_ int rootfd = lc_open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	/* no lock: state.json is replaced atomically, and state must not wait for a slow create */
	_cleanup_close_ int dirfd = lc_open_container(rootfd, id, 0, 0, err);
	if (dirfd < 0)
		return dirfd;
	struct rts s;
	int r = lc_load(dirfd, id, &s, err);
	if (r < 0)
		return r;
	*ret_json = rts_to_oci_json(&s, rts_status(dirfd, &s));
	rts_clear(&s);
	return *ret_json ? 0 : -ENOMEM;
}

static int pid_ns_inode(pid_t pid, ino_t *ret)
{
	char p[64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
	if (stat(p, &st) < 0)
		return -errno;
	*ret = st.st_ino;
	return 0;
}

/* Processes of the container without a cgroup: everything in its pid namespace when it has its own, else
 * the init and its descendants. */
static int pids_by_proc(const struct rts *s, pid_t **ret, size_t *ret_n)
{
	ino_t ns = 0, self = 0;
	int r = pid_ns_inode(s->pid, &ns);
	if (r < 0)
		return r;
	r = pid_ns_inode(getpid(), &self);
	if (r < 0)
		return r;
	bool own_ns = ns != self;
	_cleanup_closedir_ DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	size_t n = 0, cap = 64;
	pid_t *v = malloc(cap * sizeof(pid_t)), *ppid = malloc(cap * sizeof(pid_t));
	struct dirent *e;
	while (v && ppid && (e = readdir(d))) {
		char *end;
		long p = strtol(e->d_name, &end, 10);
		if (*end || p <= 0)
			continue;
		if (own_ns) {
			ino_t x = 0;
			if (pid_ns_inode((pid_t)p, &x) < 0 || x != ns)
				continue;
		}
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%ld/stat", p);
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (k <= 0)
			continue;
		buf[k] = 0;
		char *rp = strrchr(buf, ')');
		int pp = 0;
		if (!rp || sscanf(rp + 2, "%*c %d", &pp) != 1)
			continue;
		if (n == cap) {
			cap *= 2;
			pid_t *nv = realloc(v, cap * sizeof(pid_t)), *np = nv ? realloc(ppid, cap * sizeof(pid_t)) : NULL;
			if (nv)
				v = nv;
			if (np)
				ppid = np;
			if (!nv || !np)
				break;
		}
		v[n] = (pid_t)p;
		ppid[n++] = pp;
	}
	if (!v || !ppid) {
		free(v);
		free(ppid);
		return -ENOMEM;
	}
	if (!own_ns) {
		/* keep the init's descendants: mark in passes until nothing changes */
		bool *in = calloc(n ? n : 1, sizeof(bool));
		if (!in) {
			free(v);
			free(ppid);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++)
			in[i] = v[i] == s->pid;
		for (bool changed = true; changed;) {
			changed = false;
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; !in[i] && j < n; j++)
					if (in[j] && ppid[i] == v[j])
						in[i] = changed = true;
		}
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (in[i])
				v[m++] = v[i];
		n = m;
		free(in);
	}
	free(ppid);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int container_pids(const struct rts *s, pid_t **ret, size_t *ret_n)
{
	if (s->cgroup)
		return cg_pids(s->cgroup, ret, ret_n);
	if (!rts_pid_alive(s)) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	return pids_by_proc(s, ret, ret_n);
}

int lc_kill(const char *root, const char *id, int sig, bool all, struct rt_err *err)
{
	_cleanup_close_ int rootfd = lc_open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	_cleanup_close_ int dirfd = lc_open_container(rootfd, id, LOCK_SH, LOCK_TIMEOUT_MS, err);
	if (dirfd < 0)
		return dirfd;
	_cleanup_close_ int pidfd = -1;
	struct rts s;
	int r = lc_load(dirfd, id, &s, err);
	if (r < 0)
		return r;
	enum rts_status st = rts_status(dirfd, &s);
	if (st != RTS_CREATED && st != RTS_RUNNING && !(all && s.cgroup)) {
		r = rt_err_set(err, ESRCH, "container '%s' is %s: no process to signal", id, rts_status_name(st));
		goto out;
	}
	if (all) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		r = container_pids(&s, &pids, &n);
		if (r < 0) {
			rt_err_set(err, r, "container '%s': listing its processes: %s", id, strerror(-r));
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (kill(pids[i], sig) < 0 && errno != ESRCH) {
				r = rt_err_set(err, errno, "container '%s': kill %d: %m", id, (int)pids[i]);
				goto out;
			}
		r = 0;
		goto out;
	}
	pidfd = lc_pidfd_of(&s);
	if (pidfd < 0) {
		r = rt_err_set(err, ESRCH, "container '%s': its process is gone", id);
		goto out;
	}
	r = sys_pidfd_send_signal(pidfd, sig, NULL, 0);
	if (r < 0)
		rt_err_set(err, r, "container '%s': sending signal %d: %s", id, sig, strerror(-r));
out:
	rts_clear(&s);
	return r;
}

/* Make sure nothing of the container runs: SIGKILL the init (and its cgroup), wait for it to exit. */
static int kill_all(const struct rts *s)
{
	if (s->cgroup) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		if (cg_pids(s->cgroup, &pids, &n) == 0)
			for (size_t i = 0; i < n; i++)
				kill(pids[i], SIGKILL);
	}
	_cleanup_close_ int pidfd = lc_pidfd_of(s);
	if (pidfd < 0)
		return 0;
	/* the init of a pid namespace takes its namespace with it */
	int r = sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	if (r < 0 && r != -ESRCH)
		return r;
	return lc_wait_exit(pidfd, 10000);
}

static void run_poststop(const struct rts *s, struct rt_err *err)
{
	_cleanup_close_ int bfd = open(s->bundle, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	struct oci_spec *spec = NULL;
	char errbuf[256];
	if (bfd < 0 || oci_spec_load(bfd, &spec, errbuf, sizeof(errbuf)) < 0)
		return; /* the bundle is gone: nothing to run */
	struct spec_ext x;
	if (spec_ext_parse(spec->json, &x, NULL) == 0) {
		if (x.hooks.poststop.n) {
			_cleanup_free_ char *state = rts_to_oci_json(s, RTS_STOPPED);
			if (state)
				hooks_run(&x.hooks.poststop, "poststop", state, err);
		}
		spec_ext_free(&x);
	}
	oci_spec_free(spec);
}

int lc_delete(const char *root, const char *id, bool force, struct rt_err *err)
{
	_cleanup_close_ int rootfd = lc_open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	struct rts s = {};
	if (!force) {
		/* a container being created (or whose create was killed) is refused at once, without waiting
		 * for a lock its orphaned init may hold forever */
		_cleanup_close_ int peek = rts_dir_open(rootfd, id, 0, 0);
		if (peek >= 0 && rts_load(peek, id, &s) == 0 && rts_status(peek, &s) == RTS_CREATING) {
			rts_clear(&s);
			return rt_err_set(err, EBUSY,
					  "container '%s' is being created (or its create was killed): use delete --force",
					  id);
		}
		rts_clear(&s);
	}
	_cleanup_close_ int dirfd = lc_open_container(rootfd, id, LOCK_EX, force ? 200 : LOCK_TIMEOUT_MS, err);
	if (dirfd == -EBUSY && force) {
		/* a create killed mid-way may have left its init holding the lock (an inherited descriptor):
		 * kill the recorded init without the lock, then take it */
		_cleanup_close_ int nolock = rts_dir_open(rootfd, id, 0, 0);
		if (nolock >= 0 && rts_load(nolock, id, &s) == 0) {
			kill_all(&s);
			rts_clear(&s);
		}
		dirfd = lc_open_container(rootfd, id, LOCK_EX, 5000, err);
	}
	if (dirfd < 0)
		return dirfd;
	int r = rts_load(dirfd, id, &s);
	if (r == -ENOENT || r == -EBADMSG) {
		/* no usable state: a create that died before writing it */
		if (!force)
			return lc_load(dirfd, id, &s, err);
		r = rts_dir_remove(rootfd, id);
		return r < 0 ? rt_err_set(err, r, "container '%s': removing its state: %s", id, strerror(-r)) : 0;
	}
	if (r < 0)
		return lc_load(dirfd, id, &s, err);
	enum rts_status st = rts_status(dirfd, &s);
	if (st == RTS_RUNNING && !force) {
		r = rt_err_set(err, EBUSY, "container '%s' is running: stop it first, or use delete --force", id);
		goto out;
	}
	if (st == RTS_CREATING && !force) {
		r = rt_err_set(err, EBUSY, "container '%s' is being created: use delete --force if its runtime died",
			       id);
		goto out;
	}
	/* created (init blocked before exec), or forced: nothing of it may survive */
	r = kill_all(&s);
	if (r < 0) {
		rt_err_set(err, r, "container '%s': killing its process: %s", id, strerror(-r));
		goto out;
	}
	if (s.cgroup) {
		r = cg_destroy(s.cgroup);
		if (r < 0) {
			rt_err_set(err, r, "container '%s': removing its cgroup: %s", id, strerror(-r));
			goto out;
		}
	}
	struct rt_err hook_err = { "" };
	run_poststop(&s, &hook_err);
	r = rts_dir_remove(rootfd, id);
	if (r < 0) {
		rt_err_set(err, r, "container '%s': removing its state: %s", id, strerror(-r));
		goto out;
	}
	if (hook_err.msg[0]) {
		snprintf(err->msg, sizeof(err->msg), "%s", hook_err.msg);
		r = 1; /* warning: poststop failures do not fail delete */
	}
out:
	rts_clear(&s);
	return r;
}

int lc_list(const char *root, struct lc_entry **ret, size_t *ret_n, struct rt_err *err)
{
	*ret = NULL;
	*ret_n = 0;
	_cleanup_close_ int rootfd = lc_open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	int fd = openat(rootfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rt_err_set(err, errno, "state directory '%s': %m", root);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return rt_err_set(err, errno, "state directory '%s': %m", root);
	}
	struct lc_entry *v = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!rts_id_valid(e->d_name) || e->d_name[0] == '.')
			continue;
		_cleanup_close_ int cfd = openat(rootfd, e->d_name, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (cfd < 0)
			continue;
		struct lc_entry *nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			lc_list_free(v, n);
			return -ENOMEM;
		}
		v = nv;
		struct lc_entry *x = &v[n];
		*x = (struct lc_entry){};
		if (rts_load(cfd, e->d_name, &x->s) < 0) {
			x->s.id = strdup(e->d_name);
			x->s.saved = RTS_CREATING;
			if (!x->s.id)
				continue;
		}
		x->status = rts_status(cfd, &x->s);
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void lc_list_free(struct lc_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rts_clear(&v[i].s);
	free(v);
}

int lc_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n, struct rt_err *err)
{
	_cleanup_close_ int rootfd = lc_open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	_cleanup_close_ int dirfd = lc_open_container(rootfd, id, LOCK_SH, LOCK_TIMEOUT_MS, err);
	if (dirfd < 0)
		return dirfd;
	struct rts s;
	int r = lc_load(dirfd, id, &s, err);
	if (r < 0)
		return r;
	r = container_pids(&s, ret, ret_n);
	if (r < 0)
		rt_err_set(err, r, "container '%s': listing its processes: %s", id, strerror(-r));
	rts_clear(&s);
	return r;
}

int lc_signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{ "HUP", SIGHUP },   { "INT", SIGINT },	    { "QUIT", SIGQUIT },     { "ILL", SIGILL },
		{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT },   { "IOT", SIGIOT },	     { "BUS", SIGBUS },
		{ "FPE", SIGFPE },   { "KILL", SIGKILL },   { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
		{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },     { "TERM", SIGTERM },
		{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },  { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },   { "TTOU", SIGTTOU },     { "URG", SIGURG },
		{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
		{ "WINCH", SIGWINCH }, { "IO", SIGIO },     { "POLL", SIGPOLL },     { "PWR", SIGPWR },
		{ "SYS", SIGSYS },
	};
	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		char *end;
		long v = strtol(s, &end, 10);
		return *end || v < 1 || v > SIGRTMAX ? -EINVAL : (int)v;
	}
	const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcasecmp(n, names[i].name) == 0)
			return names[i].sig;
	if (strncasecmp(n, "RTMIN", 5) == 0 || strncasecmp(n, "RTMAX", 5) == 0) {
		bool min = strncasecmp(n, "RTMIN", 5) == 0;
		const char *off = n + 5;
		long k = 0;
		if (*off) {
			char *end;
			k = strtol(off, &end, 10);
			if (*end)
				return -EINVAL;
		}
		long v = min ? SIGRTMIN + k : SIGRTMAX + k;
		return v < SIGRTMIN || v > SIGRTMAX ? -EINVAL : (int)v;
	}
	return -EINVAL;
}
