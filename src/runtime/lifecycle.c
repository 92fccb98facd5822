/* SPDX-License-Identifier: MIT */
/* create and start (and run's preparation): the OCI lifecycle over container.h and the state dir.
 * state, kill, delete, list and ps are in lifecycle-ctl.c. */
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/lifecycle-util.h"
#include "runtime/spec-ext.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"


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

/* The startContainer hooks run in the init at start; they read this state then. (The createContainer hooks
 * ran during container_create(), at its pre_pivot point.) */
static int pass_start_state(struct create_ctx *k, struct rt_err *err)
{
	if (!k->x.hooks.start_container.n || k->state_pipe[1] < 0)
		return 0;
	_cleanup_free_ char *st = rts_to_oci_json(&k->s, RTS_CREATED);
	size_t n = st ? strlen(st) : 0;
	if (!st || n >= 65536 || write(k->state_pipe[1], st, n) != (ssize_t)n)
		return rt_err_set(err, EIO, "passing the state to the startContainer hooks failed");
	k->state_pipe[1] = safe_close(k->state_pipe[1]);
	return 0;
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
	struct rt_err err = { "" };
	r = sysctl_apply(&k->x.sysctl, pid, &err);
	if (r == 0 && k->x.cgroups_path && *k->x.cgroups_path) {
		r = cg_setup(k->x.cgroups_path, &k->x.limits, pid, &k->s.cgroup, &err);
		if (r == 0)
			r = rts_save(k->dirfd, &k->s);
	}
	/* the spec's moment for prestart and createRuntime: namespaces exist, nothing is mounted yet, the
	 * process has not pivoted (a network hook configures the netns before the init brings lo up) */
	const struct rt_hooks *h = &k->x.hooks;
	if (r == 0 && (h->prestart.n || h->create_runtime.n)) {
		_cleanup_free_ char *state = rts_to_oci_json(&k->s, RTS_CREATING);
		r = state ? 0 : -ENOMEM;
		r = r ?: hooks_run(&h->prestart, "prestart", state, &err);
		r = r ?: hooks_run(&h->create_runtime, "createRuntime", state, &err);
	}
	if (r < 0)
		snprintf(e->msg, sizeof(e->msg), "%s", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

/* container.h's pre_pivot(): the createContainer hooks, in the init's mount namespace after the spec's
 * mounts and before pivot_root, as the OCI runtime spec places them. */
static int create_pre_pivot(pid_t pid, void *userdata, struct container_error *e)
{
	struct create_ctx *k = userdata;
	_cleanup_free_ char *state = rts_to_oci_json(&k->s, RTS_CREATING);
	if (!state) {
		snprintf(e->msg, sizeof(e->msg), "createContainer hooks: out of memory");
		return -ENOMEM;
	}
	struct rt_err err = { "" };
	int r = hooks_run_in(&k->x.hooks.create_container, "createContainer", state, pid, &err);
	if (r < 0)
		snprintf(e->msg, sizeof(e->msg), "%s", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

/* process.terminal: the master the init sent back goes to the --console-socket, as runc does it. */
static int hand_over_terminal(struct create_ctx *k, struct rt_err *err)
{
	int pty = container_pty(k->c);
	if (pty < 0)
		return rt_err_set(err, EPROTO, "process.terminal: the container init sent no terminal");
	if (k->x.cons_rows && k->x.cons_cols) {
		struct winsize ws = { .ws_row = k->x.cons_rows, .ws_col = k->x.cons_cols };
		if (ioctl(pty, TIOCSWINSZ, &ws) < 0)
			return rt_err_set(err, errno, "process.consoleSize: TIOCSWINSZ: %m");
	}
	char name[64] = "/dev/console";
	int n;
	if (ioctl(pty, TIOCGPTN, &n) == 0)
		snprintf(name, sizeof(name), "/dev/pts/%d", n);
	int r = console_send_fd(k->console, pty, name);
	if (r < 0)
		return rt_err_set(err, r, "--console-socket: sending the terminal: %s", strerror(-r));
	k->console = safe_close(k->console);
	return 0;
}

static int do_create(const struct lc_create_opts *o, struct create_ctx *k, struct rt_err *err)
{
	int r;
	if (!rts_id_valid(o->id))
		return rt_err_set(err, EINVAL, "container id '%.200s': invalid (allowed: letters, digits, _ + - .)",
				  o->id);
	if (o->no_pivot)
		return rt_err_set(err, EOPNOTSUPP, "--no-pivot: not supported; boxshare always uses pivot_root");
	k->rootfd = lc_open_root(o->root, err);
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
	/* mkfifo's mode went through our umask; the init, perhaps no longer root, reopens the exec fifo */
	if (fchmodat(k->dirfd, RTS_FIFO_FILE, 0622, 0) < 0)
		return rt_err_set(err, errno, "container '%s': chmod of the exec fifo: %m", o->id);
	k->fifo_fd = openat(k->dirfd, RTS_FIFO_FILE, O_PATH | O_CLOEXEC);
	/* read+write: opening does not block, and the init holds a writer until its exec closes it */
	k->efd = openat(k->dirfd, ERROR_FIFO, O_RDWR | O_CLOEXEC);
	if (k->fifo_fd < 0 || k->efd < 0)
		return rt_err_set(err, errno, "container '%s': opening its fifos: %m", o->id);
	if (k->x.hooks.start_container.n && pipe2(k->state_pipe, O_CLOEXEC) < 0)
		return rt_err_set(err, errno, "pipe: %m");

	struct sec_init_ctx ictx = {
		.sec = &k->x.sec,
		.start_hooks = &k->x.hooks.start_container,
		.state_fd = k->state_pipe[0],
		.state_wfd = k->state_pipe[1],
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
	if (k->state_pipe[0] >= 0)
		keep[nkeep++] = k->state_pipe[0];
	struct container_opts copts = {
		.bundle_fd = k->bundle_fd,
		.exec_fifo_fd = k->fifo_fd,
		.keep_fds = keep,
		.n_keep_fds = nkeep,
		.prepare = create_prepare,
		.userdata = k,
		/* the init opens the pty in the container (its devpts, /dev/console) and hands us the master */
		.terminal = k->x.terminal,
		.pre_pivot = k->x.hooks.create_container.n ? create_pre_pivot : NULL,
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
	if (k->console >= 0) {
		r = hand_over_terminal(k, err);
		if (r < 0)
			return r;
	}
	k->state_pipe[0] = safe_close(k->state_pipe[0]);

	r = pass_start_state(k, err);
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
	_cleanup_close_ int rootfd = lc_open_root(root, err);
	if (rootfd < 0)
		return rootfd;
	_cleanup_close_ int dirfd = lc_open_container(rootfd, id, LOCK_EX, LOCK_TIMEOUT_MS, err);
	if (dirfd < 0)
		return dirfd;
	_cleanup_close_ int pidfd = -1, efd = -1;
	struct rts s;
	int r = lc_load(dirfd, id, &s, err);
	if (r < 0)
		return r;
	enum rts_status st = rts_status(dirfd, &s);
	if (st != RTS_CREATED) {
		r = rt_err_set(err, EINVAL, "container '%s' is %s: only a created container can be started", id,
			       rts_status_name(st));
		goto out;
	}
	pidfd = lc_pidfd_of(&s);
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
	else if (c->x.sysctl.n)
		r = rt_err_set(err, EOPNOTSUPP, "linux.sysctl: applied by create/start, not run");
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
	c->init = (struct sec_init_ctx){ .sec = &c->x.sec, .state_fd = -1, .state_wfd = -1, .report_fd = -1 };
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
