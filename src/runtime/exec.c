/* SPDX-License-Identifier: MIT */
/* exec into a running container: setns on the init's pidfd, fork into its pid namespace, join its cgroup,
 * apply the process settings, execvp. */
#include "runtime/exec.h"

#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#include "oci/spec.h"
#include "runtime/cgroup.h"
#include "runtime/console.h"
#include "runtime/lifecycle.h"
#include "runtime/security.h"
#include "runtime/spec-ext.h"
#include "runtime/state.h"
#include "util/macros.h"
#include "util/syscall.h"

#define PROCESS_FILE_MAX (4u << 20)
#define EXEC_GROUPS_MAX 65536

/* The process to start, as plain C. Strings point into the json document. */
struct xproc {
	char **args, **env;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	bool has_umask;
	mode_t umask;
	bool terminal;
	unsigned short rows, cols;
	struct sec_config sec;
};

static void xproc_free(struct xproc *p)
{
	free(p->args);
	free(p->env);
	free(p->groups);
	sec_config_free(&p->sec);
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (o && json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, key, &v);
	return v;
}

static int strv_from_json(json_object *a, const char *where, bool nonempty, char ***ret, struct rt_err *err)
{
	if (a && !json_object_is_type(a, json_type_array))
		return rt_err_set(err, EINVAL, "%s: not an array", where);
	size_t n = a ? json_object_array_length(a) : 0;
	if (nonempty && n == 0)
		return rt_err_set(err, EINVAL, "%s: empty", where);
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(a, i);
		if (!json_object_is_type(s, json_type_string)) {
			free(v);
			return rt_err_set(err, EINVAL, "%s[%zu]: not a string", where, i);
		}
		v[i] = (char *)json_object_get_string(s);
	}
	*ret = v;
	return 0;
}

static int get_u32(json_object *o, const char *key, uint32_t *ret, const char *where, struct rt_err *err)
{
	json_object *v = member(o, key);
	if (!v)
		return 0;
	int64_t x = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || x < 0 || x > UINT32_MAX - 1)
		return rt_err_set(err, EINVAL, "%s.%s: not an id in [0, 2^32-2]", where, key);
	*ret = (uint32_t)x;
	return 0;
}

static int xproc_parse(json_object *p, json_object *lnx, struct xproc *x, struct rt_err *err)
{
	*x = (struct xproc){};
	if (!json_object_is_type(p, json_type_object))
		return rt_err_set(err, EINVAL, "process: not an object");
	int r = spec_ext_check_process(p, err);
	r = r ?: strv_from_json(member(p, "args"), "process.args", true, &x->args, err);
	r = r ?: strv_from_json(member(p, "env"), "process.env", false, &x->env, err);
	if (r < 0)
		return r;
	json_object *v = member(p, "cwd");
	x->cwd = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "/";
	if (x->cwd[0] != '/')
		return rt_err_set(err, EINVAL, "process.cwd '%.200s': not absolute", x->cwd);
	json_object *u = member(p, "user");
	uint32_t uid = 0, gid = 0, um = 0;
	if ((r = get_u32(u, "uid", &uid, "process.user", err)) < 0 || (r = get_u32(u, "gid", &gid, "process.user", err)) < 0)
		return r;
	x->uid = uid;
	x->gid = gid;
	if (member(u, "umask")) {
		if ((r = get_u32(u, "umask", &um, "process.user", err)) < 0)
			return r;
		if (um > 0777)
			return rt_err_set(err, EINVAL, "process.user.umask: above 0777");
		x->has_umask = true;
		x->umask = um;
	}
	json_object *g = member(u, "additionalGids");
	if (g) {
		if (!json_object_is_type(g, json_type_array) || json_object_array_length(g) > EXEC_GROUPS_MAX)
			return rt_err_set(err, EINVAL, "process.user.additionalGids: not an array of ids");
		x->n_groups = json_object_array_length(g);
		x->groups = calloc(x->n_groups ? x->n_groups : 1, sizeof(gid_t));
		if (!x->groups)
			return -ENOMEM;
		for (size_t i = 0; i < x->n_groups; i++) {
			json_object *e = json_object_array_get_idx(g, i);
			int64_t id = json_object_get_int64(e);
			if (!json_object_is_type(e, json_type_int) || id < 0 || id > UINT32_MAX - 1)
				return rt_err_set(err, EINVAL, "process.user.additionalGids[%zu]: not an id", i);
			x->groups[i] = (gid_t)id;
		}
	}
	v = member(p, "terminal");
	x->terminal = v && json_object_get_boolean(v);
	json_object *cs = member(p, "consoleSize");
	if (cs) {
		int64_t h = json_object_get_int64(member(cs, "height")), w = json_object_get_int64(member(cs, "width"));
		if (h < 0 || h > 65535 || w < 0 || w > 65535)
			return rt_err_set(err, EINVAL, "process.consoleSize: out of range");
		x->rows = (unsigned short)h;
		x->cols = (unsigned short)w;
	}
	return sec_config_parse(p, lnx, &x->sec, err);
}

static json_object *read_process_file(const char *path, struct rt_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		rt_err_set(err, errno, "--process '%.200s': %m", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > PROCESS_FILE_MAX) {
		rt_err_set(err, EINVAL, "--process '%.200s': not a regular file of at most 4 MiB", path);
		return NULL;
	}
	_cleanup_free_ char *buf = malloc((size_t)st.st_size);
	size_t len = 0;
	while (buf && len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		rt_err_set(err, ENOMEM, "--process: out of memory");
		return NULL;
	}
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
	bool ok = tok && json_tokener_get_error(tok) == json_tokener_success;
	if (tok)
		json_tokener_free(tok);
	if (!o || !ok || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		rt_err_set(err, EINVAL, "--process '%.200s': not a JSON object", path);
		return NULL;
	}
	return o;
}

static int set_str(json_object *o, const char *key, const char *v)
{
	json_object *s = json_object_new_string(v);
	return s && json_object_object_add(o, key, s) == 0 ? 0 : -ENOMEM;
}

/* runc's exec without --process: config.json's process, with args, cwd, env, user and tty replaced. */
static json_object *process_from_flags(json_object *base, const struct lc_exec_opts *o, struct rt_err *err)
{
	json_object *p = NULL;
	if (!base || json_object_deep_copy(base, &p, NULL) < 0 || !p)
		p = json_object_new_object();
	if (!p)
		return NULL;
	json_object *args = json_object_new_array();
	for (size_t i = 0; args && o->args && o->args[i]; i++)
		json_object_array_add(args, json_object_new_string(o->args[i]));
	json_object_object_add(p, "args", args);
	if (o->cwd && set_str(p, "cwd", o->cwd) < 0)
		goto oom;
	json_object_object_add(p, "terminal", json_object_new_boolean(o->tty));
	if (o->env) {
		json_object *env = member(p, "env");
		if (!env || !json_object_is_type(env, json_type_array)) {
			env = json_object_new_array();
			json_object_object_add(p, "env", env);
		}
		for (size_t i = 0; o->env[i]; i++) {
			const char *eq = strchr(o->env[i], '=');
			if (!eq || eq == o->env[i]) {
				rt_err_set(err, EINVAL, "--env '%.200s': not NAME=VALUE", o->env[i]);
				json_object_put(p);
				return NULL;
			}
			size_t nlen = (size_t)(eq - o->env[i]) + 1, k, n = json_object_array_length(env);
			for (k = 0; k < n; k++)
				if (strncmp(json_object_get_string(json_object_array_get_idx(env, k)), o->env[i], nlen) == 0)
					break;
			if (k < n)
				json_object_array_put_idx(env, k, json_object_new_string(o->env[i]));
			else
				json_object_array_add(env, json_object_new_string(o->env[i]));
		}
	}
	if (o->user) {
		char *end;
		unsigned long uid = strtoul(o->user, &end, 10), gid = 0;
		if (end == o->user || (*end && *end != ':') || uid > UINT32_MAX - 1) {
			rt_err_set(err, EINVAL, "--user '%.100s': not UID[:GID] (numeric)", o->user);
			json_object_put(p);
			return NULL;
		}
		if (*end == ':') {
			const char *g = end + 1;
			gid = strtoul(g, &end, 10);
			if (end == g || *end || gid > UINT32_MAX - 1) {
				rt_err_set(err, EINVAL, "--user '%.100s': not UID[:GID] (numeric)", o->user);
				json_object_put(p);
				return NULL;
			}
		}
		json_object *u = json_object_new_object();
		json_object_object_add(u, "uid", json_object_new_int64((int64_t)uid));
		json_object_object_add(u, "gid", json_object_new_int64((int64_t)gid));
		json_object_object_add(p, "user", u);
	}
	return p;
oom:
	json_object_put(p);
	rt_err_set(err, ENOMEM, "out of memory");
	return NULL;
}

static int ns_flags_of(pid_t pid)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = { { "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },	{ "uts", CLONE_NEWUTS },
		   { "ipc", CLONE_NEWIPC },   { "net", CLONE_NEWNET },	{ "cgroup", CLONE_NEWCGROUP },
		   { "pid", CLONE_NEWPID },   { "time", CLONE_NEWTIME } };
	int flags = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		char p[64], q[64];
		struct stat a, b;
		snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns[i].name);
		snprintf(q, sizeof(q), "/proc/self/ns/%s", ns[i].name);
		if (stat(p, &a) == 0 && stat(q, &b) == 0 && (a.st_ino != b.st_ino || a.st_dev != b.st_dev))
			flags |= ns[i].flag;
	}
	return flags;
}

static _noreturn_ void child_fail(int efd, const struct rt_err *err)
{
	size_t n = strnlen(err->msg, sizeof(err->msg));
	if (write(efd, err->msg, MIN(n, (size_t)PIPE_BUF)) < 0)
		_exit(126);
	_exit(126);
}

/* The new process, in the container's namespaces and cgroup. Never returns. */
static _noreturn_ void exec_child(const struct xproc *x, int console, int efd, int preserve_fds)
{
	struct rt_err err = { "" };
	if (console >= 0) {
		if (console_setup_init(console, x->rows, x->cols, &err) < 0)
			child_fail(efd, &err);
		close(console);
	} else if (setsid() < 0 && errno != EPERM) {
		rt_err_set(&err, errno, "setsid: %m");
		child_fail(efd, &err);
	}
	if (sec_apply_pre_user(&x->sec, &err) < 0)
		child_fail(efd, &err);
	if (setgroups(x->n_groups, x->groups) < 0) {
		rt_err_set(&err, errno, "setgroups (process.user.additionalGids): %m");
		child_fail(efd, &err);
	}
	if (setresgid(x->gid, x->gid, x->gid) < 0 || setresuid(x->uid, x->uid, x->uid) < 0) {
		rt_err_set(&err, errno, "switching to uid %u gid %u: %m", (unsigned)x->uid, (unsigned)x->gid);
		child_fail(efd, &err);
	}
	if (x->has_umask)
		umask(x->umask);
	if (chdir(x->cwd) < 0) {
		rt_err_set(&err, errno, "chdir to %.200s (process.cwd): %m", x->cwd);
		child_fail(efd, &err);
	}
	if (sec_apply_post_user(&x->sec, &err) < 0)
		child_fail(efd, &err);
	/* nothing of ours, nor of whoever ran us, reaches the process: stdio and --preserve-fds only */
	if (close_range(3 + (unsigned)preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		rt_err_set(&err, errno, "close_range: %m");
		child_fail(efd, &err);
	}
	/* execvp searches the PATH of environ: make it the process's */
	environ = x->env;
	execvp(x->args[0], x->args);
	rt_err_set(&err, errno, "exec '%.200s': %m", x->args[0]);
	child_fail(efd, &err);
}

static volatile sig_atomic_t forward_pid;

static void forward_signal(int sig)
{
	if (forward_pid > 0)
		kill(forward_pid, sig);
}

static int wait_child(pid_t pid, int *ret_status)
{
	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, 0);
		if (w == pid) {
			*ret_status = st;
			return 0;
		}
		if (w < 0 && errno != EINTR)
			return -errno;
	}
}

struct exec_ctx {
	int rootfd, dirfd, bundle_fd, pidfd, console, sync[2], pidpipe[2], errpipe[2];
	struct oci_spec *spec;
	json_object *process;
	struct xproc x;
	struct rts s;
};

static void exec_ctx_done(struct exec_ctx *k)
{
	int *fds[] = { &k->rootfd, &k->dirfd,	   &k->bundle_fd,   &k->pidfd,	     &k->console, &k->sync[0],
		       &k->sync[1], &k->pidpipe[0], &k->pidpipe[1], &k->errpipe[0], &k->errpipe[1] };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = safe_close(*fds[i]);
	json_object_put(k->process);
	xproc_free(&k->x);
	oci_spec_free(k->spec);
	rts_clear(&k->s);
}

static int prepare(const struct lc_exec_opts *o, struct exec_ctx *k, struct rt_err *err)
{
	k->rootfd = rts_root_open(o->root);
	if (k->rootfd < 0)
		return rt_err_set(err, k->rootfd, "state directory '%.200s': %s", o->root, strerror(-k->rootfd));
	if (!rts_id_valid(o->id))
		return rt_err_set(err, EINVAL, "container id '%.200s': invalid", o->id);
	k->dirfd = rts_dir_open(k->rootfd, o->id, LOCK_SH, 10000);
	if (k->dirfd == -ENOENT)
		return rt_err_set(err, ENOENT, "container '%s' does not exist", o->id);
	if (k->dirfd == -EWOULDBLOCK)
		return rt_err_set(err, EBUSY, "container '%s': locked by another runtime process", o->id);
	if (k->dirfd < 0)
		return rt_err_set(err, k->dirfd, "container '%s': %s", o->id, strerror(-k->dirfd));
	int r = rts_load(k->dirfd, o->id, &k->s);
	if (r < 0)
		return rt_err_set(err, r, "container '%s': reading its state: %s", o->id, strerror(-r));
	enum rts_status st = rts_status(k->dirfd, &k->s);
	if (st != RTS_RUNNING)
		return rt_err_set(err, EINVAL, "container '%s' is %s: exec needs a running container", o->id,
				  rts_status_name(st));
	k->bundle_fd = open(k->s.bundle, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (k->bundle_fd < 0)
		return rt_err_set(err, errno, "bundle '%.200s': %m", k->s.bundle);
	char errbuf[512] = "";
	r = oci_spec_load(k->bundle_fd, &k->spec, errbuf, sizeof(errbuf));
	if (r < 0)
		return rt_err_set(err, r, "%s/config.json: %s", k->s.bundle, errbuf);
	json_object *lnx = member(k->spec->json, "linux");
	if (o->process_file)
		k->process = read_process_file(o->process_file, err);
	else if (!o->args || !o->args[0])
		return rt_err_set(err, EINVAL, "no command: give one after the id, or --process FILE");
	else
		k->process = process_from_flags(member(k->spec->json, "process"), o, err);
	if (!k->process)
		return err->msg[0] ? -EINVAL : -ENOMEM;
	/* runc: a --process file without capabilities gets the container's, not none (an absent
	 * process.capabilities means empty sets only for the container's own process, see security.h) */
	json_object *base = member(k->spec->json, "process"), *caps = NULL, *copy = NULL;
	if (o->process_file && json_object_is_type(k->process, json_type_object) && !member(k->process, "capabilities") &&
	    base && (caps = member(base, "capabilities"))) {
		if (json_object_deep_copy(caps, &copy, NULL) < 0 || !copy)
			return -ENOMEM;
		json_object_object_add(k->process, "capabilities", copy);
	}
	r = xproc_parse(k->process, lnx, &k->x, err);
	if (r < 0)
		return r;
	if (k->x.terminal && !o->console_socket)
		return rt_err_set(err, EINVAL, "a terminal needs --console-socket to hand the terminal over");
	if (!k->x.terminal && o->console_socket)
		return rt_err_set(err, EINVAL, "--console-socket given but the process has no terminal");
	if (o->console_socket) {
		k->console = console_socket_connect(o->console_socket, err);
		if (k->console < 0)
			return k->console;
	}
	k->pidfd = sys_pidfd_open(k->s.pid, 0);
	if (k->pidfd < 0 || !rts_pid_alive(&k->s))
		return rt_err_set(err, ESRCH, "container '%s': its init is gone", o->id);
	return 0;
}

static int do_exec(const struct lc_exec_opts *o, struct exec_ctx *k, int *ret_exit, struct rt_err *err)
{
	int r = prepare(o, k, err);
	if (r < 0)
		return r;
	for (int i = 0; i < o->preserve_fds; i++)
		if (fcntl(3 + i, F_SETFD, 0) < 0)
			return rt_err_set(err, EBADF, "--preserve-fds %d: fd %d is not open", o->preserve_fds, 3 + i);
	if (pipe2(k->sync, O_CLOEXEC) < 0 || pipe2(k->pidpipe, O_CLOEXEC) < 0 || pipe2(k->errpipe, O_CLOEXEC) < 0)
		return rt_err_set(err, errno, "pipe: %m");
	int nsflags = ns_flags_of(k->s.pid);
	/* the process must be our child to be waited for: become the subreaper its intermediate leaves */
	if (!o->detach && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return rt_err_set(err, errno, "PR_SET_CHILD_SUBREAPER: %m");
	pid_t mid = fork();
	if (mid < 0)
		return rt_err_set(err, errno, "fork: %m");
	if (mid == 0) {
		struct rt_err cerr = { "" };
		if (nsflags && setns(k->pidfd, nsflags) < 0) {
			rt_err_set(&cerr, errno, "joining the container's namespaces: %m");
			child_fail(k->errpipe[1], &cerr);
		}
		/* a pid namespace applies to children only: fork once more */
		pid_t g = fork();
		if (g < 0) {
			rt_err_set(&cerr, errno, "fork in the container: %m");
			child_fail(k->errpipe[1], &cerr);
		}
		if (g > 0)
			_exit(write(k->pidpipe[1], &g, sizeof(g)) == sizeof(g) ? 0 : 1);
		close(k->sync[1]);
		char go;
		if (read(k->sync[0], &go, 1) != 1)
			_exit(1); /* the runtime gave up */
		exec_child(&k->x, k->console, k->errpipe[1], o->preserve_fds);
	}
	k->pidpipe[1] = safe_close(k->pidpipe[1]);
	k->errpipe[1] = safe_close(k->errpipe[1]);
	k->sync[0] = safe_close(k->sync[0]);
	int st;
	wait_child(mid, &st);
	pid_t g = 0;
	if (read(k->pidpipe[0], &g, sizeof(g)) != sizeof(g) || g <= 0) {
		char msg[PIPE_BUF + 1];
		ssize_t n = read(k->errpipe[0], msg, sizeof(msg) - 1);
		msg[n > 0 ? n : 0] = 0;
		return rt_err_set(err, EIO, "%s", n > 0 ? msg : "starting the process in the container failed");
	}
	if (k->s.cgroup && (r = cg_enter(k->s.cgroup, g, err)) < 0) {
		kill(g, SIGKILL);
		return r;
	}
	if (write(k->sync[1], "g", 1) != 1) {
		kill(g, SIGKILL);
		return rt_err_set(err, errno, "releasing the process: %m");
	}
	k->sync[1] = safe_close(k->sync[1]);
	k->console = safe_close(k->console);
	/* EOF: the exec happened (the pipe was close-on-exec); a message: why it did not */
	char msg[PIPE_BUF + 1];
	ssize_t n;
	do
		n = read(k->errpipe[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		msg[n] = 0;
		if (!o->detach)
			wait_child(g, &st);
		return rt_err_set(err, EIO, "%s", msg);
	}
	if (o->pid_file && (r = lc_write_pid_file(o->pid_file, g)) < 0)
		return rt_err_set(err, r, "--pid-file '%.200s': %s", o->pid_file, strerror(-r));
	if (o->detach) {
		*ret_exit = 0;
		return 0;
	}
	/* in the foreground, like runc: our signals go to the process, its status becomes ours */
	forward_pid = g;
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };
	for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
		sigaction(fwd[i], &sa, NULL);
	/* do not hold the container's lock while it runs: delete --force must be able to kill it */
	k->dirfd = safe_close(k->dirfd);
	r = wait_child(g, &st);
	if (r < 0)
		return rt_err_set(err, r, "waiting for the process: %s", strerror(-r));
	*ret_exit = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	return 0;
}

int lc_exec(const struct lc_exec_opts *o, int *ret_exit, struct rt_err *err)
{
	struct exec_ctx k = { .rootfd = -1, .dirfd = -1, .bundle_fd = -1, .pidfd = -1, .console = -1,
			      .sync = { -1, -1 }, .pidpipe = { -1, -1 }, .errpipe = { -1, -1 } };
	*ret_exit = 0;
	int r = do_exec(o, &k, ret_exit, err);
	exec_ctx_done(&k);
	return r;
}
