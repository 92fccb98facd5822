/* SPDX-License-Identifier: MIT */
/* OCI hooks: parse, then fork + exec each with the state on stdin, wait with a timeout through a pidfd. */
#include "runtime/hooks.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "util/macros.h"
#include "util/syscall.h"

#define HOOK_ARGS_MAX 4096

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int strv_parse(json_object *a, char ***ret, const char *where, size_t idx, const char *key,
		      struct rt_err *err)
{
	size_t n = a ? json_object_array_length(a) : 0;
	if (a && !json_object_is_type(a, json_type_array))
		return rt_err_set(err, EINVAL, "hooks.%s[%zu].%s: not an array", where, idx, key);
	if (n > HOOK_ARGS_MAX)
		return rt_err_set(err, EINVAL, "hooks.%s[%zu].%s: too many entries", where, idx, key);
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(a, i);
		if (!json_object_is_type(s, json_type_string)) {
			strv_free(v);
			return rt_err_set(err, EINVAL, "hooks.%s[%zu].%s[%zu]: not a string", where, idx, key, i);
		}
		v[i] = strdup(json_object_get_string(s));
		if (!v[i]) {
			strv_free(v);
			return -ENOMEM;
		}
	}
	*ret = v;
	return 0;
}

static int parse_list(json_object *hooks, const char *name, struct hook_list *l, struct rt_err *err)
{
	json_object *a;
	if (!json_object_object_get_ex(hooks, name, &a) || !a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return rt_err_set(err, EINVAL, "hooks.%s: not an array", name);
	size_t n = json_object_array_length(a);
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *h = json_object_array_get_idx(a, i), *path, *args = NULL, *env = NULL, *to = NULL;
		if (!json_object_is_type(h, json_type_object) || !json_object_object_get_ex(h, "path", &path) ||
		    !json_object_is_type(path, json_type_string) || json_object_get_string(path)[0] != '/')
			return rt_err_set(err, EINVAL, "hooks.%s[%zu].path: missing or not absolute", name, i);
		struct hook *k = &l->v[l->n++];
		k->path = strdup(json_object_get_string(path));
		if (!k->path)
			return -ENOMEM;
		json_object_object_get_ex(h, "args", &args);
		json_object_object_get_ex(h, "env", &env);
		int r = strv_parse(args, &k->args, name, i, "args", err);
		if (r < 0)
			return r;
		if (!k->args[0]) {
			free(k->args);
			k->args = calloc(2, sizeof(char *));
			if (!k->args || !(k->args[0] = strdup(k->path)))
				return -ENOMEM;
		}
		r = strv_parse(env, &k->env, name, i, "env", err);
		if (r < 0)
			return r;
		if (json_object_object_get_ex(h, "timeout", &to) && to) {
			int64_t t = json_object_get_int64(to);
			if (!json_object_is_type(to, json_type_int) || t <= 0 || t > 86400)
				return rt_err_set(err, EINVAL, "hooks.%s[%zu].timeout: must be a positive number of seconds",
						  name, i);
			k->timeout = (int)t;
		}
	}
	return 0;
}

int hooks_parse(json_object *hooks, struct rt_hooks *h, struct rt_err *err)
{
	*h = (struct rt_hooks){};
	if (!hooks)
		return 0;
	if (!json_object_is_type(hooks, json_type_object))
		return rt_err_set(err, EINVAL, "hooks: not an object");
	static const char *const names[] = { "prestart",	 "createRuntime", "createContainer",
					     "startContainer", "poststart",	"poststop" };
	struct hook_list *lists[] = { &h->prestart,	   &h->create_runtime, &h->create_container,
				      &h->start_container, &h->poststart,      &h->poststop };
	json_object_object_foreach(hooks, key, val)
	{
		(void)val;
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			known |= strcmp(key, names[i]) == 0;
		if (!known)
			return rt_err_set(err, EOPNOTSUPP, "hooks.%.64s: unknown hook kind", key);
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int r = parse_list(hooks, names[i], lists[i], err);
		if (r < 0) {
			hooks_free(h);
			return r;
		}
	}
	return 0;
}

static void list_free(struct hook_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		strv_free(l->v[i].args);
		strv_free(l->v[i].env);
	}
	free(l->v);
	*l = (struct hook_list){};
}

void hooks_free(struct rt_hooks *h)
{
	list_free(&h->prestart);
	list_free(&h->create_runtime);
	list_free(&h->create_container);
	list_free(&h->start_container);
	list_free(&h->poststart);
	list_free(&h->poststop);
}

/* Namespaces of pid that differ from ours, as CLONE_NEW* flags for setns(pidfd). */
static int ns_flags_of(pid_t pid)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = { { "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },	  { "uts", CLONE_NEWUTS },
		   { "ipc", CLONE_NEWIPC },   { "net", CLONE_NEWNET },	  { "cgroup", CLONE_NEWCGROUP },
		   { "pid", CLONE_NEWPID } };
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

static _noreturn_ void hook_child(const struct hook *h, int in, int pidfd, int nsflags)
{
	/* the state arrives on stdin; nothing else of ours must leak into the hook */
	if (dup2(in, 0) < 0)
		_exit(127);
	if (pidfd >= 0) {
		/* open the hook in our mount namespace, then run it in the container's */
		int exe = open(h->path, O_PATH);
		if (exe < 0)
			_exit(126);
		if (setns(pidfd, nsflags) < 0)
			_exit(125);
		execveat(exe, "", h->args, h->env, AT_EMPTY_PATH);
		_exit(127);
	}
	execve(h->path, h->args, h->env);
	_exit(127);
}

static int wait_hook(pid_t pid, int timeout, int *ret_status)
{
	_cleanup_close_ int pfd = sys_pidfd_open(pid, 0);
	if (pfd >= 0 && timeout > 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int r;
		do
			r = poll(&p, 1, timeout * 1000);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -ETIMEDOUT;
		}
	}
	int st;
	pid_t w;
	do
		w = waitpid(pid, &st, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	*ret_status = st;
	return 0;
}

static int run_one(const struct hook *h, const char *kind, size_t idx, const char *state, pid_t ns_pid,
		   struct rt_err *err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return rt_err_set(err, errno, "hook %s[%zu] %s: socketpair: %m", kind, idx, h->path);
	_cleanup_close_ int ours = sv[0], theirs = sv[1];
	_cleanup_close_ int pidfd = -1;
	int nsflags = 0;
	if (ns_pid > 0) {
		pidfd = sys_pidfd_open(ns_pid, 0);
		if (pidfd < 0)
			return rt_err_set(err, pidfd, "hook %s[%zu] %s: the container's process is gone: %s", kind, idx,
					  h->path, strerror(-pidfd));
		nsflags = ns_flags_of(ns_pid);
	}
	pid_t pid = fork();
	if (pid < 0)
		return rt_err_set(err, errno, "hook %s[%zu] %s: fork: %m", kind, idx, h->path);
	if (pid == 0)
		hook_child(h, theirs, pidfd, nsflags);
	theirs = safe_close(theirs);
	/* the state is small; a hook that never reads it must not block us, hence non-blocking + no SIGPIPE */
	size_t len = strlen(state), off = 0;
	fcntl(ours, F_SETFL, O_NONBLOCK);
	while (off < len) {
		ssize_t n = send(ours, state + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	ours = safe_close(ours);
	int st = 0;
	int r = wait_hook(pid, h->timeout, &st);
	if (r == -ETIMEDOUT)
		return rt_err_set(err, ETIMEDOUT, "hook %s[%zu] %s: killed after its timeout of %d s", kind, idx, h->path,
				  h->timeout);
	if (r < 0)
		return rt_err_set(err, r, "hook %s[%zu] %s: waitpid: %s", kind, idx, h->path, strerror(-r));
	if (WIFSIGNALED(st))
		return rt_err_set(err, EIO, "hook %s[%zu] %s: killed by signal %d", kind, idx, h->path, WTERMSIG(st));
	if (WEXITSTATUS(st) == 127 || WEXITSTATUS(st) == 126 || WEXITSTATUS(st) == 125) {
		/* our child's own failure codes, or the hook's; say both possibilities */
		return rt_err_set(err, EIO, "hook %s[%zu] %s: exited with status %d (could not be executed, or failed)",
				  kind, idx, h->path, WEXITSTATUS(st));
	}
	if (WEXITSTATUS(st) != 0)
		return rt_err_set(err, EIO, "hook %s[%zu] %s: exited with status %d", kind, idx, h->path,
				  WEXITSTATUS(st));
	return 0;
}

int hooks_run(const struct hook_list *l, const char *kind, const char *state_json, struct rt_err *err)
{
	for (size_t i = 0; l && i < l->n; i++) {
		int r = run_one(&l->v[i], kind, i, state_json, 0, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int hooks_run_in(const struct hook_list *l, const char *kind, const char *state_json, pid_t pid,
		 struct rt_err *err)
{
	for (size_t i = 0; l && i < l->n; i++) {
		int r = run_one(&l->v[i], kind, i, state_json, pid, err);
		if (r < 0)
			return r;
	}
	return 0;
}
