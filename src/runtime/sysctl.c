/* SPDX-License-Identifier: MIT */
/* linux.sysctl: namespaced keys only, written from a child in the container's namespaces. */
#include "runtime/sysctl.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/macros.h"
#include "util/syscall.h"

#define SYSCTL_MAX 256

/* Which namespace makes a key the container's own, or 0 if none does (the key is the host's). */
static int key_namespace(const char *key)
{
	static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
					   "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced" };
	for (size_t i = 0; i < ARRAY_SIZE(ipc); i++)
		if (strcmp(key, ipc[i]) == 0)
			return CLONE_NEWIPC;
	if (strncmp(key, "fs.mqueue.", 10) == 0)
		return CLONE_NEWIPC;
	if (strncmp(key, "net.", 4) == 0)
		return CLONE_NEWNET;
	if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
		return CLONE_NEWUTS;
	return 0;
}

static int key_to_path(const char *key, char **ret)
{
	size_t n = strlen(key);
	if (n == 0 || n > 200 || key[0] == '.' || key[n - 1] == '.' || strstr(key, ".."))
		return -EINVAL;
	char *p = strdup(key);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '.')
			p[i] = '/';
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			   c == '-' || c == '/')) {
			free(p);
			return -EINVAL;
		}
	}
	/* "net.ipv4.conf.eth0/1.x": a '/' of the key is a '.' of the path (interface names with dots) */
	if (strchr(key, '/'))
		for (size_t i = 0; i < n; i++)
			if (key[i] == '/')
				p[i] = '.';
	*ret = p;
	return 0;
}

int sysctl_parse(json_object *o, int private_ns, struct sysctl_list *l, struct rt_err *err)
{
	*l = (struct sysctl_list){};
	if (!o || json_object_is_type(o, json_type_null))
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return rt_err_set(err, EINVAL, "linux.sysctl: not an object");
	size_t n = (size_t)json_object_object_length(o);
	if (n > SYSCTL_MAX)
		return rt_err_set(err, EINVAL, "linux.sysctl: more than %d entries", SYSCTL_MAX);
	l->v = calloc(n ? n : 1, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	int r = 0;
	json_object_object_foreach(o, key, val)
	{
		if (!json_object_is_type(val, json_type_string) || strlen(json_object_get_string(val)) > 4096 ||
		    strchr(json_object_get_string(val), '\n')) {
			r = rt_err_set(err, EINVAL, "linux.sysctl.%.100s: the value must be a one-line string", key);
			break;
		}
		int ns = key_namespace(key);
		if (!ns) {
			r = rt_err_set(err, EOPNOTSUPP, "linux.sysctl.%.100s: not a namespaced sysctl; it would change the host",
				       key);
			break;
		}
		if (!(private_ns & ns)) {
			r = rt_err_set(err, EOPNOTSUPP, "linux.sysctl.%.100s: needs the container's own %s namespace", key,
				       ns == CLONE_NEWNET ? "network" : ns == CLONE_NEWIPC ? "ipc" : "uts");
			break;
		}
		struct sysctl_entry *e = &l->v[l->n];
		r = key_to_path(key, &e->path);
		if (r < 0) {
			r = r == -ENOMEM ? r : rt_err_set(err, EINVAL, "linux.sysctl.%.100s: not a sysctl name", key);
			break;
		}
		e->value = strdup(json_object_get_string(val));
		e->ns_flag = ns;
		l->n++;
		if (!e->value) {
			r = -ENOMEM;
			break;
		}
	}
	if (r < 0)
		sysctl_free(l);
	return r;
}

void sysctl_free(struct sysctl_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].value);
	}
	free(l->v);
	*l = (struct sysctl_list){};
}

/* In the child: one line back on fd out when something fails. */
static _noreturn_ void child(const struct sysctl_list *l, int pidfd, int flags, int out)
{
	char msg[512];
	if (setns(pidfd, flags) < 0) {
		int n = snprintf(msg, sizeof(msg), "joining the container's namespaces: %m");
		(void)!write(out, msg, (size_t)n);
		_exit(1);
	}
	int sys = open("/proc/sys", O_DIRECTORY | O_PATH | O_CLOEXEC);
	for (size_t i = 0; sys >= 0 && i < l->n; i++) {
		struct open_how how = { .flags = O_WRONLY | O_CLOEXEC,
					.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
		int fd = sys_openat2(sys, l->v[i].path, &how);
		size_t len = strlen(l->v[i].value);
		if (fd < 0 || write(fd, l->v[i].value, len) != (ssize_t)len) {
			int e = fd < 0 ? -fd : errno;
			int n = snprintf(msg, sizeof(msg), "linux.sysctl: writing %s: %s", l->v[i].path, strerror(e));
			(void)!write(out, msg, (size_t)n);
			_exit(1);
		}
		close(fd);
	}
	if (sys < 0) {
		int n = snprintf(msg, sizeof(msg), "linux.sysctl: opening /proc/sys: %m");
		(void)!write(out, msg, (size_t)n);
		_exit(1);
	}
	_exit(0);
}

int sysctl_apply(const struct sysctl_list *l, pid_t pid, struct rt_err *err)
{
	if (!l->n)
		return 0;
	int flags = 0;
	for (size_t i = 0; i < l->n; i++)
		flags |= l->v[i].ns_flag;
	_cleanup_close_ int pidfd = sys_pidfd_open(pid, 0);
	if (pidfd < 0)
		return rt_err_set(err, pidfd, "linux.sysctl: the container's init is gone");
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return rt_err_set(err, errno, "linux.sysctl: pipe: %m");
	pid_t c = fork();
	if (c < 0) {
		close(p[0]);
		close(p[1]);
		return rt_err_set(err, errno, "linux.sysctl: fork: %m");
	}
	if (c == 0) {
		close(p[0]);
		child(l, pidfd, flags, p[1]);
	}
	close(p[1]);
	char msg[512];
	ssize_t n = read(p[0], msg, sizeof(msg) - 1);
	close(p[0]);
	int st = 0;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	if (n > 0) {
		msg[n] = 0;
		return rt_err_set(err, EIO, "%s", msg);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return rt_err_set(err, EIO, "linux.sysctl: the writer failed");
	return 0;
}
