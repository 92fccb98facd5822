/* SPDX-License-Identifier: MIT */
/* The runtime side of a container: clone the init into new namespaces, write its id maps, wait until it is
 * ready, release it, reap it. The init's side is container-init.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/container-sync.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

struct container {
	pid_t pid;
	int pidfd;
	int sync_fd;
	int pty; /* master of the container's terminal, or -1 */
	bool reaped;
};

static int fail(struct container_error *e, int err, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct container_error *e, int err, const char *stage, const char *fmt, ...)
{
	if (err < 0)
		err = -err;
	if (e) {
		memset(e, 0, sizeof(*e));
		e->err = err;
		snprintf(e->stage, sizeof(e->stage), "%s", stage);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -err;
}

const char *container_error_format(const struct container_error *e, char *buf, size_t size)
{
	if (!buf || !size)
		return buf;
	buf[0] = '\0';
	if (!e)
		return buf;
	if (e->msg[0])
		snprintf(buf, size, "%s", e->msg);
	else if (e->mount.err)
		bxm_error_format(&e->mount, buf, size);
	else
		snprintf(buf, size, "%s: %s", e->stage[0] ? e->stage : "container", strerror(e->err ? e->err : EIO));
	return buf;
}

/* Copy a received string field, which must be NUL-terminated inside its array. */
#define COPY_FIELD(dst, src)                                                                                     \
	do {                                                                                                     \
		size_t _n = strnlen((src), sizeof(src));                                                         \
		if (_n == sizeof(src))                                                                           \
			_n = sizeof(src) - 1;                                                                    \
		if (_n >= sizeof(dst))                                                                           \
			_n = sizeof(dst) - 1;                                                                    \
		memcpy((dst), (src), _n);                                                                        \
		(dst)[_n] = '\0';                                                                                \
	} while (0)

static void error_from_msg(const struct sync_msg *m, struct container_error *e)
{
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
	e->err = m->err > 0 && m->err < 4096 ? m->err : EIO;
	COPY_FIELD(e->stage, m->stage);
	COPY_FIELD(e->msg, m->msg);
	if (!e->msg[0]) {
		char sc[sizeof(m->syscall)];
		COPY_FIELD(sc, m->syscall);
		e->mount.syscall = sc[0] ? bxm_syscall_name(sc) : NULL;
		COPY_FIELD(e->mount.what, m->what);
		COPY_FIELD(e->mount.path, m->path);
		COPY_FIELD(e->mount.detail, m->detail);
		e->mount.err = e->err;
	}
}

/* Receive one message and the fd that came with it (*ret_fd, -1 if none; NULL: any fd is closed); 0 and
 * *got=false on EOF. */
static int recv_msg_fd(int fd, struct sync_msg *m, bool *got, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	while ((n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	int rfd = -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&rfd, CMSG_DATA(cm), sizeof(int));
	if (ret_fd)
		*ret_fd = rfd;
	else
		safe_close(rfd);
	*got = n > 0;
	if ((n > 0 && (size_t)n != sizeof(*m)) || (mh.msg_flags & MSG_CTRUNC)) {
		if (ret_fd)
			*ret_fd = safe_close(rfd);
		return -EPROTO;
	}
	return 0;
}

static int recv_msg(int fd, struct sync_msg *m, bool *got)
{
	return recv_msg_fd(fd, m, got, NULL);
}

static int send_type(int fd, enum sync_type t)
{
	struct sync_msg m = { .type = t };
	return RET_NERRNO(send(fd, &m, sizeof(m), MSG_NOSIGNAL)) < 0 ? -errno : 0;
}

static int write_map(pid_t pid, const char *file, const struct oci_id_mapping *v, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	/* the kernel wants the whole map in one write() */
	size_t cap = n * 36 + 1, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%u %u %u\n", v[i].container_id, v[i].host_id, v[i].size);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, buf, len);
	if (w < 0)
		return -errno;
	return (size_t)w == len ? 0 : -EIO;
}

static void reap(struct container *c)
{
	if (c->reaped)
		return;
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	c->reaped = true;
}

/* The init died before it said anything: say how. */
static int died(struct container *c, const char *stage, struct container_error *e)
{
	int st = 0;
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	c->reaped = true;
	if (WIFSIGNALED(st))
		return fail(e, EIO, stage, "container init killed by signal %d during %s", WTERMSIG(st), stage);
	return fail(e, EIO, stage, "container init exited with status %d during %s", WEXITSTATUS(st), stage);
}

/* Idmapped mounts must be made by a process privileged over the source's filesystem: the runtime, in the
 * host's namespaces, makes each as a detached tree mapped through the init's user namespace and passes it
 * on; the init attaches it. */
/* A user namespace with the given maps, for a mount's own uidMappings/gidMappings: a child that only
 * exists to own it. The namespace lives on through the returned fd. */
static int userns_with_maps(const struct oci_mount *m, int *ret_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = sys_clone_fork(CLONE_NEWUSER);
	if (pid == 0) {
		char b;
		close(p[1]);
		(void)!read(p[0], &b, 1); /* until the runtime is done with us */
		_exit(0);
	}
	close(p[0]);
	int r = pid < 0 ? pid : 0;
	if (r == 0)
		r = write_map(pid, "uid_map", m->uid_mappings, m->n_uid_mappings);
	if (r == 0)
		r = write_map(pid, "gid_map", m->gid_mappings, m->n_gid_mappings);
	if (r == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		*ret_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*ret_fd < 0)
			r = -errno;
	}
	close(p[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return r;
}

static int send_idmapped(const struct oci_spec *spec, const struct container_opts *opts, pid_t pid, int sock,
			 struct container_error *e)
{
	_cleanup_close_ int userns = -1;
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		if (!m->parsed.idmap || (opts->mount_flags & BXM_LEGACY))
			continue;
		_cleanup_close_ int own = -1;
		if (m->n_uid_mappings) {
			int r = userns_with_maps(m, &own);
			if (r < 0)
				return fail(e, r, "idmap", "mounts[%zu]: make a user namespace with its uidMappings/"
					    "gidMappings: %s", i, strerror(-r));
		} else if (userns < 0 && pid > 0) {
			char p[64];
			snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
			userns = open(p, O_RDONLY | O_CLOEXEC);
			if (userns < 0)
				return fail(e, errno, "idmap", "open the container's user namespace: %s", strerror(errno));
		}
		_cleanup_close_ int tree = -1;
		struct bxm_error me;
		const struct oci_linux *l = &spec->lnx;
		unsigned long prop = l->rootfs_propagation ? l->rootfs_propagation : MS_PRIVATE;
		if (!l->rootfs_propagation || l->rootfs_propagation_recursive)
			prop |= MS_REC;
		int r = bxm_idmap_tree(opts->bundle_fd >= 0 ? opts->bundle_fd : AT_FDCWD, m->source, &m->parsed,
				       own >= 0 ? own : userns, prop, &tree, &me);
		if (r < 0) {
			char b[512];
			snprintf(me.path, sizeof(me.path), "%s", m->destination);
			return fail(e, r, "mount", "%s", bxm_error_format(&me, b, sizeof(b)));
		}
		struct sync_msg msg = { .type = SYNC_MOUNT_FD, .err = (int32_t)i };
		char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
		struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &tree, sizeof(int));
		if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
			return fail(e, errno, "idmap", "pass an idmapped mount to the container init: %s", strerror(errno));
	}
	return 0;
}

static int check_spec(const struct oci_spec *s, struct container_error *e)
{
	const struct oci_linux *l = &s->lnx;
	if (!s->process.args || s->process.n_args == 0)
		return fail(e, EINVAL, "config", "config.json: process.args: required to run a container");
	if (!l->ns[OCI_NS_MOUNT].enabled || l->ns[OCI_NS_MOUNT].path)
		return fail(e, EINVAL, "config",
			    "config.json: linux.namespaces: a new \"mount\" namespace is required (the root is "
			    "set up with pivot_root inside it)");
	if (l->ns[OCI_NS_TIME].enabled)
		return fail(e, EOPNOTSUPP, "config", "config.json: linux.namespaces: time namespaces are not supported");
	if (l->ns[OCI_NS_USER].enabled && !l->ns[OCI_NS_USER].path && (!l->n_uid_mappings || !l->n_gid_mappings))
		return fail(e, EINVAL, "config",
			    "config.json: linux.uidMappings and linux.gidMappings: required with a new user namespace");
	if (s->hostname && !l->ns[OCI_NS_UTS].enabled)
		return fail(e, EINVAL, "config", "config.json: hostname: needs a \"uts\" namespace");
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct oci_mount *m = &s->mounts[i];
		bool own = m->n_uid_mappings || m->n_gid_mappings;
		if (own && (!m->n_uid_mappings || !m->n_gid_mappings))
			return fail(e, EINVAL, "config",
				    "config.json: mounts[%zu]: uidMappings and gidMappings go together", i);
		if (own && !m->parsed.idmap)
			return fail(e, EINVAL, "config",
				    "config.json: mounts[%zu]: uidMappings need the \"idmap\" or \"ridmap\" option", i);
		if (m->parsed.idmap && !own && !l->ns[OCI_NS_USER].enabled)
			return fail(e, EINVAL, "config",
				    "config.json: mounts[%zu].options: idmap without mount mappings needs a user namespace", i);
	}
	return 0;
}

int container_create(const struct oci_spec *spec, const struct container_opts *opts, struct container **ret,
		     struct container_error *e)
{
	const struct oci_linux *l = &spec->lnx;
	int r = check_spec(spec, e);
	if (r < 0)
		return r;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(e, errno, "socketpair", "socketpair: %s", strerror(errno));
	_cleanup_close_ int mine = sv[0], theirs = sv[1];

	static const struct {
		enum oci_ns_type t;
		unsigned long flag;
	} nsflags[] = { { OCI_NS_MOUNT, CLONE_NEWNS }, { OCI_NS_PID, CLONE_NEWPID },   { OCI_NS_UTS, CLONE_NEWUTS },
			{ OCI_NS_IPC, CLONE_NEWIPC },  { OCI_NS_NET, CLONE_NEWNET },   { OCI_NS_USER, CLONE_NEWUSER },
			{ OCI_NS_CGROUP, CLONE_NEWCGROUP } };
	unsigned long flags = 0;
	for (size_t i = 0; i < ARRAY_SIZE(nsflags); i++)
		if (l->ns[nsflags[i].t].enabled && !l->ns[nsflags[i].t].path)
			flags |= nsflags[i].flag;
	/* With a user namespace to join, the others must be created by the init after it joined it (so they are
	 * owned by it): only the mount namespace is special-cased by the kernel, so create them all there. */
	if (l->ns[OCI_NS_USER].path)
		flags &= CLONE_NEWPID; /* pid namespaces still need a clone */

	struct container_init_args args = {
		.spec = spec, .opts = opts, .sync_fd = theirs, .new_userns = !!(flags & CLONE_NEWUSER),
	};
	/* The cgroup namespace is made by the init after prepare() (see container.h), not by the clone. */
	flags &= ~(unsigned long)CLONE_NEWCGROUP;

	/* A pid namespace to join applies to children only: this process enters it for the clone alone, then
	 * goes back to its own for whatever it forks later (hooks, the idmap helpers). */
	_cleanup_close_ int own_pidns = -1;
	if (l->ns[OCI_NS_PID].path) {
		const char *p = l->ns[OCI_NS_PID].path;
		_cleanup_close_ int ns = open(p, O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			return fail(e, errno, "setns", "linux.namespaces: open the pid namespace %s: %s", p, strerror(errno));
		own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (own_pidns < 0)
			return fail(e, errno, "setns", "open /proc/self/ns/pid: %s", strerror(errno));
		if (setns(ns, CLONE_NEWPID) < 0)
			return fail(e, errno, "setns", "linux.namespaces: join the pid namespace %s: %s", p, strerror(errno));
	}
	fflush(NULL); /* nothing buffered is written twice */
	pid_t pid = sys_clone_fork(flags);
	if (pid != 0 && own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0) {
		/* cannot happen (our own namespace is always one we may enter); never fork into the wrong one */
		int err = errno;
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return fail(e, err, "setns", "return to the runtime's own pid namespace: %s", strerror(err));
	}
	if (pid < 0)
		return fail(e, pid, "clone", "clone into new namespaces: %s", strerror(-pid));
	if (pid == 0) {
		mine = safe_close(mine);
		container_init_main(&args);
	}
	theirs = safe_close(theirs);

	struct container *c = calloc(1, sizeof(*c));
	if (!c) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return fail(e, ENOMEM, "create", "out of memory");
	}
	c->pid = pid;
	c->sync_fd = -1;
	c->pty = -1;
	c->pidfd = sys_pidfd_open(pid, 0);
	if (c->pidfd < 0) {
		r = fail(e, c->pidfd, "pidfd_open", "pidfd_open: %s", strerror(-c->pidfd));
		goto kill;
	}
	if (args.new_userns) {
		/* as the privileged parent, the maps may name any ids and setgroups stays allowed */
		r = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings);
		if (r < 0) {
			fail(e, r, "uid_map", "write uid_map of the container: %s (check linux.uidMappings)", strerror(-r));
			goto kill;
		}
		r = write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings);
		if (r < 0) {
			fail(e, r, "gid_map", "write gid_map of the container: %s (check linux.gidMappings)", strerror(-r));
			goto kill;
		}
	}
	r = send_idmapped(spec, opts, pid, mine, e);
	if (r < 0)
		goto kill;
	if (opts->prepare) {
		r = opts->prepare(pid, opts->userdata, e);
		if (r < 0)
			goto kill;
	}
	r = send_type(mine, SYNC_GO);
	if (r < 0) {
		r = died(c, "set-up", e);
		goto fail;
	}

	struct sync_msg m;
	bool got = false, pre_pivot_done = false;
	for (;;) {
		int fd = -1;
		r = recv_msg_fd(mine, &m, &got, &fd);
		if (r == 0 && got && m.type == SYNC_PRE_PIVOT) {
			/* once, before the terminal and "ready", and only when asked for */
			safe_close(fd);
			if (!opts->pre_pivot || pre_pivot_done || c->pty >= 0) {
				r = fail(e, EPROTO, "sync", "unexpected pre-pivot message from the container init");
				goto kill;
			}
			pre_pivot_done = true;
			struct container_error pe = {};
			r = opts->pre_pivot(pid, opts->userdata, &pe);
			if (r < 0) {
				pe.err = pe.err ? pe.err : -r;
				if (!pe.stage[0])
					snprintf(pe.stage, sizeof(pe.stage), "createContainer");
				if (e)
					*e = pe;
				goto kill;
			}
			r = send_type(mine, SYNC_RESUME);
			if (r < 0) {
				r = died(c, "set-up", e);
				goto fail;
			}
			continue;
		}
		if (r < 0 || !got || m.type != SYNC_PTY) {
			safe_close(fd);
			break;
		}
		/* the terminal comes before "ready", once, and only when asked for */
		if (fd < 0 || !opts->terminal || c->pty >= 0) {
			safe_close(fd);
			r = fail(e, EPROTO, "sync", "unexpected terminal from the container init");
			goto kill;
		}
		c->pty = fd;
	}
	if (r < 0) {
		fail(e, r, "sync", "read from the container init: %s", strerror(-r));
		goto kill;
	}
	if (!got) {
		r = died(c, "set-up", e);
		goto fail;
	}
	if (m.type == SYNC_ERROR) {
		error_from_msg(&m, e);
		r = -e->err;
		reap(c);
		goto fail;
	}
	if (m.type != SYNC_READY || (opts->terminal && c->pty < 0)) {
		r = fail(e, EPROTO, "sync", "unexpected message %u from the container init%s", m.type,
			 m.type == SYNC_READY ? " (ready, without the terminal)" : "");
		goto kill;
	}
	c->sync_fd = TAKE_FD(mine);
	log_debug("container: init %d ready", (int)pid);
	*ret = c;
	return 0;
kill:
	kill(pid, SIGKILL);
	reap(c);
fail:
	container_free(c);
	return r < 0 ? r : -EIO;
}

pid_t container_pid(const struct container *c)
{
	return c->pid;
}

int container_pidfd(const struct container *c)
{
	return c->pidfd;
}

int container_pty(const struct container *c)
{
	return c->pty;
}

int container_start(struct container *c, struct container_error *e)
{
	if (c->sync_fd < 0)
		return fail(e, EBADFD, "start", "container already started");
	int r = send_type(c->sync_fd, SYNC_START);
	if (r < 0)
		return fail(e, r, "start", "the container init is gone: %s", strerror(-r));
	/* success is the socket closing: the init's end is O_CLOEXEC, so exec closed it */
	struct sync_msg m;
	bool got = false;
	r = recv_msg(c->sync_fd, &m, &got);
	c->sync_fd = safe_close(c->sync_fd);
	if (r < 0)
		return fail(e, r, "start", "read from the container init: %s", strerror(-r));
	if (got && m.type == SYNC_ERROR) {
		error_from_msg(&m, e);
		return -e->err;
	}
	if (got)
		return fail(e, EPROTO, "start", "unexpected message %u from the container init", m.type);
	return 0;
}

int container_start_fifo(int dirfd, const char *name)
{
	/* opening for reading releases the init's blocking open for writing; its byte says it got there */
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char b;
	ssize_t n;
	while ((n = read(fd, &b, 1)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -ESRCH;
}

int container_wait(struct container *c, int *ret_status)
{
	if (c->reaped)
		return -ECHILD;
	int st;
	for (;;) {
		pid_t p = waitpid(c->pid, &st, 0);
		if (p == c->pid)
			break;
		if (p < 0 && errno != EINTR)
			return -errno;
	}
	c->reaped = true;
	*ret_status = st;
	return 0;
}

void container_free(struct container *c)
{
	if (!c)
		return;
	safe_close(c->pidfd);
	safe_close(c->sync_fd);
	safe_close(c->pty);
	free(c);
}

int container_exit_code(int st)
{
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 255;
}
