/* SPDX-License-Identifier: MIT */
/* create, start, state, kill, delete, list, ps: the OCI lifecycle over container.h and the state dir. */
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
#include "runtime/container.h"
#include "runtime/spec-ext.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

#define ERROR_FIFO "error.fifo"
/* How long an operation waits for another one on the same container. A create holds the lock while its
 * hooks run; one that was killed leaves it held by its orphaned init, which only delete --force breaks. */
#define LOCK_TIMEOUT_MS 10000

static int open_root(const char *root, struct rt_err *err)
{
	int fd = rts_root_open(root);
	if (fd < 0)
		return rt_err_set(err, fd, "state directory '%.200s': %s", root, strerror(-fd));
	return fd;
}

/* Open and lock ROOT/ID, with the messages a user needs. */
static int open_container(int rootfd, const char *id, int op, int timeout_ms, struct rt_err *err)
{
	if (!rts_id_valid(id))
		return rt_err_set(err, EINVAL, "container id '%.200s': invalid (allowed: letters, digits, _ + - .)", id);
	int fd = rts_dir_open(rootfd, id, op, timeout_ms);
	if (fd == -ENOENT)
		return rt_err_set(err, ENOENT, "container '%s' does not exist", id);
	if (fd == -EWOULDBLOCK)
		return rt_err_set(err, EBUSY,
				  "container '%s': locked by another runtime process (a create still running, or one "
				  "that was killed: delete --force cleans that up)",
				  id);
	if (fd < 0)
		return rt_err_set(err, fd, "container '%s': opening its state: %s", id, strerror(-fd));
	return fd;
}

static int load(int dirfd, const char *id, struct rts *s, struct rt_err *err)
{
	int r = rts_load(dirfd, id, s);
	if (r == -ENOENT)
		return rt_err_set(err, ENOENT,
				  "container '%s': no state yet (being created, or left by a runtime that crashed: "
				  "delete --force removes it)",
				  id);
	if (r < 0)
		return rt_err_set(err, r, "container '%s': reading state.json: %s", id, strerror(-r));
	return 0;
}

/* A pidfd for s->pid that is surely our init: the start time is checked after the pidfd pins the pid. */
static int pidfd_of(const struct rts *s)
{
	if (s->pid <= 0)
		return -ESRCH;
	int fd = sys_pidfd_open(s->pid, 0);
	if (fd < 0)
		return fd;
	if (!rts_pid_alive(s)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

/* Wait until the process behind pidfd has exited (zombie counts), up to timeout_ms. */
static int wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

int lc_write_pid_file(const char *path, pid_t pid)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	char *slash = strrchr(copy, '/');
	const char *dir = ".", *base = copy;
	if (slash) {
		*slash = 0;
		dir = slash == copy ? "/" : copy;
		base = slash + 1;
	}
	if (!*base || strlen(base) > NAME_MAX - 8)
		return -EINVAL;
	_cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	char tmp[NAME_MAX + 1];
	snprintf(tmp, sizeof(tmp), ".%s.%d", base, (int)getpid());
	_cleanup_close_ int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	int r = write(fd, buf, (size_t)n) == n ? 0 : -EIO;
	if (r == 0 && renameat(dfd, tmp, dfd, base) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

/* --- create --------------------------------------------------------------------------------------------- */

struct create_ctx {
	int rootfd, dirfd, bundle_fd, fifo_fd, efd, console, state_pipe[2];
	struct oci_spec *spec;
	struct spec_ext x;
	struct container *c;
	struct rts s;
	bool dir_created, no_cgroups;
};

static void create_ctx_done(struct create_ctx *k)
{
	safe_close(k->rootfd);
	safe_close(k->dirfd);
	safe_close(k->bundle_fd);
	safe_close(k->fifo_fd);
	safe_close(k->efd);
	safe_close(k->console);
	safe_close(k->state_pipe[0]);
	safe_close(k->state_pipe[1]);
	container_free(k->c);
	spec_ext_free(&k->x);
	oci_spec_free(k->spec);
	rts_clear(&k->s);
}

/* Undo a failed create: the init (ours to reap), its cgroup, the state dir. */
static void create_rollback(struct create_ctx *k)
{
	if (k->c) {
		kill(container_pid(k->c), SIGKILL);
		int st;
		container_wait(k->c, &st);
	}
	if (k->s.cgroup)
		cg_destroy(k->s.cgroup);
	if (k->dir_created)
		rts_dir_remove(k->rootfd, k->s.id);
}

static int check_resources(struct create_ctx *k, struct rt_err *err)
{
	if (k->no_cgroups)
		k->x.cgroups_path = NULL; /* the caller asked for no cgroup at all */
	if (k->x.cgroups_path && *k->x.cgroups_path)
		return 0;
	if (!cg_limits_any(&k->x.limits))
		return 0;
	/* Without a cgroup, only "deny" device rules can be accepted: podman --cgroups=disabled sends the
	 * default deny-all. The container's /dev holds only what the spec lists; mknod'd nodes in it are not
	 * stopped by anything, and features says so (org.boxshare.resources). Any limit is refused. */
	const struct cg_limits *l = &k->x.limits;
	if (l->has_memory || l->has_swap || l->has_pids || l->has_cpu_quota || l->has_cpu_period || l->has_cpu_shares)
		return rt_err_set(err, EOPNOTSUPP,
				  "linux.resources: limits need a cgroup, and linux.cgroupsPath is empty (or cgroups are "
				  "disabled with --cgroup-manager disabled)");
	for (size_t i = 0; i < l->n_devices; i++)
		if (l->devices[i].allow)
			return rt_err_set(err, EOPNOTSUPP,
					  "linux.resources.devices[%zu]: allow rules need a cgroup, and linux.cgroupsPath "
					  "is empty",
					  i);
	log_debug("linux.resources.devices: deny rules without a cgroup are not enforced");
	return 0;
}

static int run_create_hooks(struct create_ctx *k, struct rt_err *err)
{
	const struct rt_hooks *h = &k->x.hooks;
	if (!h->prestart.n && !h->create_runtime.n && !h->create_container.n && !h->start_container.n)
		return 0;
	_cleanup_free_ char *state = rts_to_oci_json(&k->s, RTS_CREATING);
	if (!state)
		return -ENOMEM;
	int r = hooks_run(&h->prestart, "prestart", state, err);
	r = r ?: hooks_run(&h->create_runtime, "createRuntime", state, err);
	r = r ?: hooks_run_in(&h->create_container, "createContainer", state, k->s.pid, err);
	if (r == 0 && k->state_pipe[1] >= 0) {
		/* the startContainer hooks run in the init; they read this state then */
		_cleanup_free_ char *st = rts_to_oci_json(&k->s, RTS_CREATED);
		size_t n = st ? strlen(st) : 0;
		if (!st || n >= 65536 || write(k->state_pipe[1], st, n) != (ssize_t)n)
			return rt_err_set(err, EIO, "passing the state to the startContainer hooks failed");
		k->state_pipe[1] = safe_close(k->state_pipe[1]);
	}
	return r;
}

/*
 * container.h's prepare(): the init exists but has set up nothing yet. Record its pid first, so that from
 * here a killed create leaves something delete --force can find; then its cgroup, before the init makes
 * its cgroup namespace (rooted at that cgroup then) and before any mount work is charged elsewhere.
 */
static int create_prepare(pid_t pid, void *userdata, struct container_error *e)
{
	struct create_ctx *k = userdata;
	k->s.pid = pid;
	int r = rts_pid_start_time(pid, &k->s.start_time);
	r = r ?: rts_save(k->dirfd, &k->s);
	if (r < 0) {
		snprintf(e->msg, sizeof(e->msg), "recording the init's pid in state.json: %s", strerror(-r));
		return r;
	}
	if (!k->x.cgroups_path || !*k->x.cgroups_path)
		return 0;
	struct rt_err err = { "" };
	r = cg_setup(k->x.cgroups_path, &k->x.limits, pid, &k->s.cgroup, &err);
	if (r == 0)
		r = rts_save(k->dirfd, &k->s);
	if (r < 0)
		snprintf(e->msg, sizeof(e->msg), "%s", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

static int do_create(const struct lc_create_opts *o, struct create_ctx *k, struct rt_err *err)
{
	int r;
	if (!rts_id_valid(o->id))
		return rt_err_set(err, EINVAL, "container id '%.200s': invalid (allowed: letters, digits, _ + - .)",
				  o->id);
	if (o->no_pivot)
		return rt_err_set(err, EOPNOTSUPP, "--no-pivot: not supported; boxshare always uses pivot_root");
	k->rootfd = open_root(o->root, err);
	if (k->rootfd < 0)
		return k->rootfd;
	char bundle[PATH_MAX];
	if (!realpath(o->bundle ? o->bundle : ".", bundle))
		return rt_err_set(err, errno, "bundle '%.200s': %m", o->bundle ? o->bundle : ".");
	k->bundle_fd = open(bundle, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (k->bundle_fd < 0)
		return rt_err_set(err, errno, "bundle '%.200s': %m", bundle);
	char errbuf[512] = "";
	r = oci_spec_load(k->bundle_fd, &k->spec, errbuf, sizeof(errbuf));
	if (r < 0)
		return rt_err_set(err, r, "%s/config.json: %s", bundle, errbuf[0] ? errbuf : strerror(-r));
	r = spec_ext_parse(k->spec->json, &k->x, err);
	if (r < 0) {
		char msg[sizeof(err->msg)];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return rt_err_set(err, r, "%s/config.json: %s", bundle, msg);
	}
	if (k->x.terminal && !o->console_socket)
		return rt_err_set(err, EINVAL, "process.terminal is true: --console-socket is required to hand the "
					       "terminal over");
	if (!k->x.terminal && o->console_socket)
		return rt_err_set(err, EINVAL, "--console-socket given but process.terminal is false");
	k->no_cgroups = o->no_cgroups;
	r = check_resources(k, err);
	if (r < 0)
		return r;
	if (o->console_socket) {
		k->console = console_socket_connect(o->console_socket, err);
		if (k->console < 0)
			return k->console;
	}

	k->dirfd = rts_dir_create(k->rootfd, o->id);
	if (k->dirfd == -EEXIST)
		return rt_err_set(err, EEXIST, "container '%s' already exists", o->id);
	if (k->dirfd < 0)
		return rt_err_set(err, k->dirfd, "container '%s': creating its state dir: %s", o->id,
				  strerror(-k->dirfd));
	k->dir_created = true;
	k->s.id = strdup(o->id);
	k->s.bundle = strdup(bundle);
	k->s.annotations = strdup(k->spec->annotations ? json_object_to_json_string_ext(k->spec->annotations,
											JSON_C_TO_STRING_PLAIN)
						       : "{}");
	if (!k->s.id || !k->s.bundle || !k->s.annotations)
		return -ENOMEM;
	k->s.created = time(NULL);
	k->s.saved = RTS_CREATING;
	r = rts_save(k->dirfd, &k->s);
	if (r < 0)
		return rt_err_set(err, r, "container '%s': writing state.json: %s", o->id, strerror(-r));
	/* 0622 as runc: an init whose root is mapped to another host uid must still open it for writing */
	if (mkfifoat(k->dirfd, RTS_FIFO_FILE, 0622) < 0 || mkfifoat(k->dirfd, ERROR_FIFO, 0622) < 0)
		return rt_err_set(err, errno, "container '%s': mkfifo: %m", o->id);
	k->fifo_fd = openat(k->dirfd, RTS_FIFO_FILE, O_PATH | O_CLOEXEC);
	/* read+write: opening does not block, and the init holds a writer until its exec closes it */
	k->efd = openat(k->dirfd, ERROR_FIFO, O_RDWR | O_CLOEXEC);
	if (k->fifo_fd < 0 || k->efd < 0)
		return rt_err_set(err, errno, "container '%s': opening its fifos: %m", o->id);
	if (k->x.hooks.start_container.n && pipe2(k->state_pipe, O_CLOEXEC) < 0)
		return rt_err_set(err, errno, "pipe: %m");

	struct sec_init_ctx ictx = {
		.sec = &k->x.sec,
		.console_socket = k->console,
		.cons_rows = k->x.cons_rows,
		.cons_cols = k->x.cons_cols,
		.start_hooks = &k->x.hooks.start_container,
		.state_fd = k->state_pipe[0],
		.report_fd = k->efd,
		/* container-init.c looks the program up itself, before it reports ready */
	};
	_cleanup_free_ int *keep = calloc(3 + (size_t)o->preserve_fds, sizeof(int));
	size_t nkeep = 0;
	if (!keep)
		return -ENOMEM;
	for (int i = 0; i < o->preserve_fds; i++) {
		if (fcntl(3 + i, F_GETFD) < 0)
			return rt_err_set(err, EBADF, "--preserve-fds %d: fd %d is not open", o->preserve_fds, 3 + i);
		keep[nkeep++] = 3 + i;
	}
	keep[nkeep++] = k->efd;
	if (k->console >= 0)
		keep[nkeep++] = k->console;
	if (k->state_pipe[0] >= 0)
		keep[nkeep++] = k->state_pipe[0];
	struct container_opts copts = {
		.bundle_fd = k->bundle_fd,
		.exec_fifo_fd = k->fifo_fd,
		.keep_fds = keep,
		.n_keep_fds = nkeep,
		.prepare = create_prepare,
		.userdata = k,
	};
	struct container_error cerr = {};
	security_set_init_ctx(&ictx);
	r = container_create(k->spec, &copts, &k->c, &cerr);
	security_set_init_ctx(NULL);
	if (r < 0) {
		char buf[640];
		return rt_err_set(err, r, "%s", container_error_format(&cerr, buf, sizeof(buf)));
	}
	/* the init's copies are what matter now; ours would keep the fifo's writer count up */
	k->efd = safe_close(k->efd);
	k->console = safe_close(k->console);
	k->state_pipe[0] = safe_close(k->state_pipe[0]);

	r = run_create_hooks(k, err);
	if (r < 0)
		return r;
	if (o->pid_file) {
		r = lc_write_pid_file(o->pid_file, k->s.pid);
		if (r < 0)
			return rt_err_set(err, r, "--pid-file '%.200s': %s", o->pid_file, strerror(-r));
	}
	k->s.saved = RTS_CREATED;
	r = rts_save(k->dirfd, &k->s);
	if (r < 0)
		return rt_err_set(err, r, "container '%s': writing state.json: %s", o->id, strerror(-r));
	return 0;
}

int lc_create(const struct lc_create_opts *o, struct rt_err *err)
{
	struct create_ctx k = { .rootfd = -1, .dirfd = -1, .bundle_fd = -1, .fifo_fd = -1, .efd = -1,
				.console = -1, .state_pipe = { -1, -1 } };
	int r = do_create(o, &k, err);
	if (r < 0)
		create_rollback(&k);
	else if (k.dirfd >= 0)
		/* the init may hold a copy of this open file description: unlock it explicitly */
		flock(k.dirfd, LOCK_UN);
	create_ctx_done(&k);
	return r;
}

/* --- start ---------------------------------------------------------------------------------------------- */

/* After the release: EOF on the error fifo means the init exec'd (or died without a word); a message is
 * why it could not exec. */
static int wait_exec(int efd, int pidfd, char *msg, size_t size)
{
	msg[0] = 0;
	for (;;) {
		struct pollfd p[2] = { { .fd = efd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		int n = poll(p, pidfd >= 0 ? 2 : 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t k = read(efd, msg, size - 1);
			if (k > 0) {
				msg[k] = 0;
				return -EIO;
			}
			if (k == 0 || (k < 0 && errno != EAGAIN))
				return 0;
		}
		if (p[1].revents & POLLIN) {
			/* it died: a last message may still be in the fifo */
			ssize_t k = read(efd, msg, size - 1);
			if (k > 0) {
				msg[k] = 0;
				return -EIO;
			}
			return 0;
		}
	}
}

/*
 * The cross-process release (container_start_fifo()'s protocol), without its blocking open: opened
 * non-blocking, the read end lets the init's open for writing complete; we then wait for its byte or for
 * its death, so a start racing with a dying init cannot hang.
 */
static int release_fifo(int dirfd, int pidfd)
{
	_cleanup_close_ int fd = openat(dirfd, RTS_FIFO_FILE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
		int n = poll(p, pidfd >= 0 ? 2 : 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		char b;
		ssize_t k = read(fd, &b, 1);
		if (k == 1)
			return 0;
		if (k < 0 && errno != EAGAIN)
			return -errno;
		if (p[1].revents & POLLIN)
			return -ESRCH; /* the init died before it could be released */
		if (k == 0 && (p[0].revents & POLLHUP))
			return -ESRCH; /* a writer came and went without its byte */
	}
}

static int run_poststart(const struct rts *s, struct rt_err *err)
{
	_cleanup_close_ int bfd = open(s->bundle, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	struct oci_spec *spec = NULL;
	char errbuf[256];
	int r = 0;
	if (bfd < 0 || oci_spec_load(bfd, &spec, errbuf, sizeof(errbuf)) < 0)
		return 0; /* the bundle is gone: nothing to run */
	struct spec_ext x;
	if (spec_ext_parse(spec->json, &x, NULL) == 0) {
		if (x.hooks.poststart.n) {
			_cleanup_free_ char *state = rts_to_oci_json(s, RTS_RUNNING);
			if (state && hooks_run(&x.hooks.poststart, "poststart", state, err) < 0)
				r = 1; /* a warning */
		}
		spec_ext_free(&x);
	}
	oci_spec_free(spec);
	return r;
}

int lc_start(const char *root, const char *id, struct rt_err *err)
{
	_cleanup_close_ int rootfd = open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	_cleanup_close_ int dirfd = open_container(rootfd, id, LOCK_EX, LOCK_TIMEOUT_MS, err);
	if (dirfd < 0)
		return dirfd;
	_cleanup_close_ int pidfd = -1, efd = -1;
	struct rts s;
	int r = load(dirfd, id, &s, err);
	if (r < 0)
		return r;
	enum rts_status st = rts_status(dirfd, &s);
	if (st != RTS_CREATED) {
		r = rt_err_set(err, EINVAL, "container '%s' is %s: only a created container can be started", id,
			       rts_status_name(st));
		goto out;
	}
	pidfd = pidfd_of(&s);
	efd = openat(dirfd, ERROR_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	r = release_fifo(dirfd, pidfd);
	if (r < 0) {
		rt_err_set(err, r, "container '%s': releasing the init through its exec fifo: %s", id,
			   r == -ESRCH ? "the init died" : strerror(-r));
		goto out;
	}
	unlinkat(dirfd, RTS_FIFO_FILE, 0);
	s.started = true;
	s.saved = RTS_RUNNING;
	r = rts_save(dirfd, &s);
	if (r < 0) {
		rt_err_set(err, r, "container '%s': writing state.json: %s", id, strerror(-r));
		goto out;
	}
	if (efd >= 0) {
		char msg[PIPE_BUF + 1];
		r = wait_exec(efd, pidfd, msg, sizeof(msg));
		unlinkat(dirfd, ERROR_FIFO, 0);
		if (r < 0) {
			rt_err_set(err, r, "container '%s': %s", id, msg[0] ? msg : strerror(-r));
			goto out;
		}
	}
	/* poststart: the spec says a failure is only logged; the caller prints err as a warning */
	r = run_poststart(&s, err);
out:
	rts_clear(&s);
	return r;
}

/* --- state, kill, delete, list, ps ---------------------------------------------------------------------- */

int lc_state(const char *root, const char *id, char **ret_json, struct rt_err *err)
{
	_cleanup_close_ int rootfd = open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	/* no lock: state.json is replaced atomically, and state must not wait for a slow create */
	_cleanup_close_ int dirfd = open_container(rootfd, id, 0, 0, err);
	if (dirfd < 0)
		return dirfd;
	struct rts s;
	int r = load(dirfd, id, &s, err);
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
	_cleanup_close_ int rootfd = open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	_cleanup_close_ int dirfd = open_container(rootfd, id, LOCK_SH, LOCK_TIMEOUT_MS, err);
	if (dirfd < 0)
		return dirfd;
	_cleanup_close_ int pidfd = -1;
	struct rts s;
	int r = load(dirfd, id, &s, err);
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
	pidfd = pidfd_of(&s);
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
	_cleanup_close_ int pidfd = pidfd_of(s);
	if (pidfd < 0)
		return 0;
	/* the init of a pid namespace takes its namespace with it */
	int r = sys_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	if (r < 0 && r != -ESRCH)
		return r;
	return wait_exit(pidfd, 10000);
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
	_cleanup_close_ int rootfd = open_root(root, err);
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
	_cleanup_close_ int dirfd = open_container(rootfd, id, LOCK_EX, force ? 2000 : LOCK_TIMEOUT_MS, err);
	if (dirfd == -EBUSY && force) {
		/* a create killed mid-way may have left its init holding the lock (an inherited descriptor):
		 * kill the recorded init without the lock, then take it */
		_cleanup_close_ int nolock = rts_dir_open(rootfd, id, 0, 0);
		if (nolock >= 0 && rts_load(nolock, id, &s) == 0) {
			kill_all(&s);
			rts_clear(&s);
		}
		dirfd = open_container(rootfd, id, LOCK_EX, 5000, err);
	}
	if (dirfd < 0)
		return dirfd;
	int r = rts_load(dirfd, id, &s);
	if (r == -ENOENT || r == -EBADMSG) {
		/* no usable state: a create that died before writing it */
		if (!force)
			return load(dirfd, id, &s, err);
		r = rts_dir_remove(rootfd, id);
		return r < 0 ? rt_err_set(err, r, "container '%s': removing its state: %s", id, strerror(-r)) : 0;
	}
	if (r < 0)
		return load(dirfd, id, &s, err);
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
	_cleanup_close_ int rootfd = open_root(root, err);
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
	_cleanup_close_ int rootfd = open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	_cleanup_close_ int dirfd = open_container(rootfd, id, LOCK_SH, LOCK_TIMEOUT_MS, err);
	if (dirfd < 0)
		return dirfd;
	struct rts s;
	int r = load(dirfd, id, &s, err);
	if (r < 0)
		return r;
	r = container_pids(&s, ret, ret_n);
	if (r < 0)
		rt_err_set(err, r, "container '%s': listing its processes: %s", id, strerror(-r));
	rts_clear(&s);
	return r;
}

struct lc_run_ctx {
	struct spec_ext x;
	struct sec_init_ctx init;
};

int lc_run_prepare(const struct oci_spec *spec, struct lc_run_ctx **ret, struct rt_err *err)
{
	*ret = NULL;
	struct lc_run_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int r = spec_ext_parse(spec->json, &c->x, err);
	if (r < 0) {
		free(c);
		return r;
	}
	const struct rt_hooks *h = &c->x.hooks;
	if (h->prestart.n || h->create_runtime.n || h->create_container.n || h->start_container.n ||
	    h->poststart.n || h->poststop.n)
		r = rt_err_set(err, EOPNOTSUPP, "hooks: run them with create/start/delete, not run");
	else if (c->x.cgroups_path && *c->x.cgroups_path)
		r = rt_err_set(err, EOPNOTSUPP, "linux.cgroupsPath: cgroups are set up by create/start, not run");
	else {
		/* as create without a cgroup: only deny device rules can be accepted (see check_resources) */
		const struct cg_limits *l = &c->x.limits;
		bool allow = l->has_memory || l->has_swap || l->has_pids || l->has_cpu_quota || l->has_cpu_period ||
			     l->has_cpu_shares;
		for (size_t i = 0; i < l->n_devices; i++)
			allow |= l->devices[i].allow;
		if (allow)
			r = rt_err_set(err, EOPNOTSUPP,
				       "linux.resources: limits need create/start with linux.cgroupsPath, not run");
	}
	if (r < 0) {
		lc_run_free(c);
		return r;
	}
	c->init = (struct sec_init_ctx){ .sec = &c->x.sec, .console_socket = -1, .state_fd = -1, .report_fd = -1 };
	security_set_init_ctx(&c->init);
	*ret = c;
	return 0;
}

void lc_run_free(struct lc_run_ctx *c)
{
	if (!c)
		return;
	security_set_init_ctx(NULL);
	spec_ext_free(&c->x);
	free(c);
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
