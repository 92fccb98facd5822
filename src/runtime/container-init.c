/* SPDX-License-Identifier: MIT */
/*
 * The container init, from the clone to the exec: join or finish the namespaces, hostname, loopback, the
 * mounts (src/mount), a pause for the runtime's createContainer hooks when it asks for one (opts.pre_pivot),
 * pivot_root, masked and read-only paths, then the root-only half of the process security, user, groups,
 * cwd and no_new_privs. It then reports ready and blocks until released (sync socket or exec FIFO, see
 * container.h), applies the capability sets, and execs.
 * Every failure goes back to the runtime as a SYNC_ERROR record; the init never prints, except when an exec
 * released through the FIFO fails and nobody is left listening.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/container-sync.h"
#include "runtime/security.h"
#include "util/macros.h"
#include "util/syscall.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct init {
	const struct container_init_args *a;
	int *tree_fds; /* per spec mount: an idmapped tree from the runtime, or -1 */
	struct bxm_error merr;
	int proc_fd; /* kept past the mount context for the exec FIFO */
};

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

_Noreturn static void die_msg(struct init *in, const char *stage, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn static void die_msg(struct init *in, const char *stage, int err, const char *fmt, ...)
{
	struct sync_msg m = { .type = SYNC_ERROR, .err = err < 0 ? -err : err };
	copy(m.stage, sizeof(m.stage), stage);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m.msg, sizeof(m.msg), fmt, ap);
	va_end(ap);
	if (send(in->a->sync_fd, &m, sizeof(m), MSG_NOSIGNAL) < 0 && in->a->opts->exec_fifo_fd >= 0)
		dprintf(STDERR_FILENO, "boxshare: container init: %s\n", m.msg);
	_exit(1);
}

_Noreturn static void die_mount(struct init *in, const char *stage, int err)
{
	struct sync_msg m = { .type = SYNC_ERROR, .err = err < 0 ? -err : err };
	copy(m.stage, sizeof(m.stage), stage);
	copy(m.syscall, sizeof(m.syscall), in->merr.syscall);
	copy(m.what, sizeof(m.what), in->merr.what);
	copy(m.path, sizeof(m.path), in->merr.path);
	copy(m.detail, sizeof(m.detail), in->merr.detail);
	send(in->a->sync_fd, &m, sizeof(m), MSG_NOSIGNAL);
	_exit(1);
}

static void wait_for(struct init *in, enum sync_type want)
{
	for (;;) {
		struct sync_msg m;
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n;
		while ((n = recvmsg(in->a->sync_fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof(m))
			_exit(1); /* the runtime is gone or confused: nobody to report to */
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int fd = -1;
		if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (m.type == SYNC_MOUNT_FD && fd >= 0 && m.err >= 0 && (size_t)m.err < in->a->spec->n_mounts &&
		    in->tree_fds) {
			safe_close(in->tree_fds[m.err]);
			in->tree_fds[m.err] = fd;
			continue;
		}
		safe_close(fd);
		if (m.type != want)
			_exit(1);
		return;
	}
}

static void join_namespaces(struct init *in)
{
	const struct oci_linux *l = &in->a->spec->lnx;
	static const struct {
		enum oci_ns_type t;
		int flag;
	} order[] = {
		/* the user namespace first: the others are then joined with its privileges */
		{ OCI_NS_USER, CLONE_NEWUSER }, { OCI_NS_IPC, CLONE_NEWIPC },       { OCI_NS_UTS, CLONE_NEWUTS },
		{ OCI_NS_NET, CLONE_NEWNET },   { OCI_NS_CGROUP, CLONE_NEWCGROUP },
	};
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		const char *p = l->ns[order[i].t].path;
		if (!p)
			continue;
		_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die_msg(in, "setns", errno, "open %s namespace %s: %s", oci_ns_name(order[i].t), p, strerror(errno));
		if (setns(fd, order[i].flag) < 0)
			die_msg(in, "setns", errno, "join %s namespace %s: %s", oci_ns_name(order[i].t), p,
				strerror(errno));
	}
	/* After the runtime's prepare() (which may have moved us into our cgroup): the new cgroup namespace is
	 * rooted at the container's own cgroup. */
	if (l->ns[OCI_NS_CGROUP].enabled && !l->ns[OCI_NS_CGROUP].path && !l->ns[OCI_NS_USER].path &&
	    unshare(CLONE_NEWCGROUP) < 0)
		die_msg(in, "unshare", errno, "create the cgroup namespace: %s", strerror(errno));
	if (l->ns[OCI_NS_USER].path) {
		/* the clone made only the pid namespace: make the rest now, owned by the joined user namespace */
		int flags = 0;
		if (l->ns[OCI_NS_MOUNT].enabled)
			flags |= CLONE_NEWNS;
		if (l->ns[OCI_NS_UTS].enabled && !l->ns[OCI_NS_UTS].path)
			flags |= CLONE_NEWUTS;
		if (l->ns[OCI_NS_IPC].enabled && !l->ns[OCI_NS_IPC].path)
			flags |= CLONE_NEWIPC;
		if (l->ns[OCI_NS_NET].enabled && !l->ns[OCI_NS_NET].path)
			flags |= CLONE_NEWNET;
		if (l->ns[OCI_NS_CGROUP].enabled && !l->ns[OCI_NS_CGROUP].path)
			flags |= CLONE_NEWCGROUP;
		if (flags && unshare(flags) < 0)
			die_msg(in, "unshare", errno, "create namespaces in the joined user namespace: %s", strerror(errno));
	}
}

static void loopback_up(struct init *in)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die_msg(in, "network", errno, "bring up lo: socket: %s", strerror(errno));
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die_msg(in, "network", errno, "bring up lo: SIOCGIFFLAGS: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die_msg(in, "network", errno, "bring up lo: SIOCSIFFLAGS: %s", strerror(errno));
}

static bool spec_has(const struct oci_spec *s, const char *dest, const char **ret_type)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		const char *d = s->mounts[i].destination;
		/* "/dev", "/dev/" and "dev" name the same place */
		while (*d == '/')
			d++;
		size_t n = strlen(dest);
		if (strncmp(d, dest, n) == 0 && d[n + strspn(d + n, "/")] == '\0') {
			if (ret_type)
				*ret_type = s->mounts[i].type;
			return true;
		}
	}
	return false;
}

/* An fd opened before the clone names a mount of the runtime's namespace, which open_tree(), mount(2) and
 * pivot_root refuse or would act on outside the container: open the same directory again by its path, now
 * that the copy of the tree is ours, and check it is the same directory. */
static int reopen_here(struct init *in, int fd)
{
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		die_msg(in, "mount", errno, "find the bundle directory's path: %s", strerror(errno));
	path[n] = '\0';
	int nfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat a, b;
	if (nfd < 0 || fstat(fd, &a) < 0 || fstat(nfd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		die_msg(in, "mount", nfd < 0 ? errno : ESTALE, "reopen the bundle directory %s in the container's "
			"mount namespace: %s", path, nfd < 0 ? strerror(errno) : "it moved");
	return nfd;
}

/* process.terminal for `boxshare run` (see container.h): a pty of the container's own devpts instance (so
 * it is the container's /dev/pts/N), its peer bound onto /dev/console as the OCI spec asks, the controlling
 * terminal of a new session, and stdio; the master goes to the runtime, which relays it. */
static void setup_terminal(struct init *in, struct bxm_ctx *ctx)
{
	const struct oci_process *p = &in->a->spec->process;
	/* after pivot_root: "/dev/ptmx" (a symlink to pts/ptmx) resolves inside the container's root; a
	 * rootfs's own /dev must not lead through /proc's magic links to an fd of this process */
	struct open_how how = { .flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int master = root < 0 ? -errno : sys_openat2(root, "/dev/ptmx", &how);
	if (master < 0)
		die_msg(in, "terminal", master, "process.terminal: open /dev/ptmx in the container: %s",
			strerror(-master));
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		die_msg(in, "terminal", errno, "process.terminal: unlock the pty: %s", strerror(errno));
	/* the peer through the master, not by a /dev/pts path something else could be mounted over */
	_cleanup_close_ int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		die_msg(in, "terminal", errno, "process.terminal: open the pty's peer: %s", strerror(errno));
	/* the process's own terminal, as login would leave it; an unmapped uid keeps it root's */
	if (fchown(peer, p->uid, (gid_t)-1) < 0 && errno != EINVAL)
		die_msg(in, "terminal", errno, "process.terminal: chown the pty to uid %u: %s", p->uid, strerror(errno));
	int r = bxm_bind_fd(ctx, peer, "/dev/console", &in->merr);
	if (r < 0)
		die_mount(in, "terminal", r);

	struct sync_msg m = { .type = SYNC_PTY };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = { 0 };
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(in->a->sync_fd, &mh, MSG_NOSIGNAL) < 0)
		_exit(1); /* the runtime is gone: nobody to report to */

	if (setsid() < 0)
		die_msg(in, "terminal", errno, "process.terminal: setsid: %s", strerror(errno));
	if (ioctl(peer, TIOCSCTTY, 0) < 0)
		die_msg(in, "terminal", errno, "process.terminal: make the pty the controlling terminal: %s",
			strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup2(peer, fd) < 0)
			die_msg(in, "terminal", errno, "process.terminal: dup2 onto fd %d: %s", fd, strerror(errno));
}

static void setup_mounts(struct init *in)
{
	const struct oci_spec *s = in->a->spec;
	const struct oci_linux *l = &s->lnx;
	const struct container_opts *o = in->a->opts;
	struct bxm_ctx *ctx = NULL;
	unsigned flags = o->mount_flags | (l->ns[OCI_NS_USER].enabled ? BXM_USERNS : 0);
	int r;

	r = bxm_ctx_new(flags, &ctx, &in->merr);
	if (r < 0)
		die_mount(in, "mount", r);
	if (o->bundle_fd >= 0) {
		_cleanup_close_ int b = reopen_here(in, o->bundle_fd);
		if ((r = bxm_ctx_set_bundle(ctx, b)) < 0)
			die_msg(in, "mount", r, "bundle directory: %s", strerror(-r));
	}

	unsigned long prop = l->rootfs_propagation ? l->rootfs_propagation : MS_PRIVATE;
	bool prop_rec = l->rootfs_propagation ? l->rootfs_propagation_recursive : true;
	r = bxm_root_prepare(ctx, s->root_path, prop | (prop_rec ? MS_REC : 0), &in->merr);
	if (r < 0)
		die_mount(in, "mount", r);
	if (l->ns[OCI_NS_USER].enabled) {
		_cleanup_close_ int u = openat(bxm_ctx_proc_fd(ctx), "thread-self/ns/user", O_RDONLY | O_CLOEXEC);
		if (u < 0 || (r = bxm_ctx_set_userns(ctx, u)) < 0)
			die_msg(in, "mount", errno, "open the container's user namespace: %s", strerror(errno));
	}

	if (!spec_has(s, "dev", NULL)) {
		unsigned what = BXM_DEV_TMPFS | (spec_has(s, "dev/pts", NULL) ? 0 : BXM_DEV_PTS) |
				(spec_has(s, "dev/shm", NULL) ? 0 : BXM_DEV_SHM);
		r = bxm_dev_setup(ctx, what, &in->merr);
		if (r < 0)
			die_mount(in, "mount", r);
	}
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct oci_mount *m = &s->mounts[i];
		struct bxm_mount bm = { .type = m->type, .source = m->source, .target = m->destination, .opts = &m->parsed,
					.use_tree_fd = in->tree_fds && in->tree_fds[i] >= 0,
					.tree_fd = in->tree_fds ? in->tree_fds[i] : -1 };
		r = bxm_mount(ctx, &bm, &in->merr);
		if (r < 0)
			die_mount(in, "mount", r);
		/* a spec's own /dev tmpfs still gets the default devices (OCI runtime spec, "Default Devices") */
		const char *d = m->destination + strspn(m->destination, "/");
		if (strncmp(d, "dev", 3) == 0 && d[3 + strspn(d + 3, "/")] == '\0' && m->type &&
		    strcmp(m->type, "tmpfs") == 0) {
			r = bxm_dev_setup(ctx, (spec_has(s, "dev/pts", NULL) ? 0 : BXM_DEV_PTS), &in->merr);
			if (r < 0)
				die_mount(in, "mount", r);
		}
	}

	if (o->pre_pivot) {
		/* the createContainer moment (see container.h): tell the runtime and wait for its go-ahead */
		struct sync_msg m = { .type = SYNC_PRE_PIVOT };
		if (send(in->a->sync_fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
			_exit(1); /* the runtime is gone: nobody to report to */
		wait_for(in, SYNC_RESUME);
	}
	r = bxm_pivot(ctx, &in->merr);
	if (r < 0)
		die_mount(in, "pivot_root", r);
	/* The whole tree got rootfsPropagation before the mounts; the root itself gets it again now, and only
	 * it: doing it recursively would undo the propagation options of the spec's mounts. */
	r = bxm_set_propagation(ctx, "/", prop, false, &in->merr);
	if (r < 0)
		die_mount(in, "mount", r);
	if (o->terminal)
		setup_terminal(in, ctx);
	for (size_t i = 0; i < l->n_masked_paths; i++)
		if ((r = bxm_mask_path(ctx, l->masked_paths[i], &in->merr)) < 0)
			die_mount(in, "mount", r);
	for (size_t i = 0; i < l->n_readonly_paths; i++)
		if ((r = bxm_readonly_path(ctx, l->readonly_paths[i], &in->merr)) < 0)
			die_mount(in, "mount", r);
	if (s->root_readonly && (r = bxm_root_readonly(ctx, &in->merr)) < 0)
		die_mount(in, "mount", r);

	in->proc_fd = fcntl(bxm_ctx_proc_fd(ctx), F_DUPFD_CLOEXEC, 3);
	if (in->proc_fd < 0)
		die_msg(in, "mount", errno, "keep the private procfs: %s", strerror(errno));
	bxm_ctx_free(ctx);
}

static void setup_user(struct init *in)
{
	const struct oci_process *p = &in->a->spec->process;
	/* process security that needs root (rlimits, bounding set, seccomp without no_new_privs,
	 * PR_SET_KEEPCAPS) while we still are root; the capability sets follow right before exec */
	struct rt_err serr = { "" };
	int sr = security_apply_init_pre_user(&serr);
	if (sr < 0)
		die_msg(in, "security", sr, "%s", serr.msg);
	/* groups first: after setresuid() to a non-root user there is no privilege left to set them */
	if (setgroups(p->n_additional_gids, p->additional_gids) < 0)
		die_msg(in, "user", errno, "setgroups (process.user.additionalGids): %s", strerror(errno));
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		die_msg(in, "user", errno, "setresgid %u (process.user.gid): %s", p->gid, strerror(errno));
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		die_msg(in, "user", errno, "setresuid %u (process.user.uid): %s", p->uid, strerror(errno));
	if (p->has_umask)
		umask(p->umask);
	if (chdir(p->cwd) < 0)
		die_msg(in, "cwd", errno, "chdir to %s (process.cwd): %s", p->cwd, strerror(errno));
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die_msg(in, "user", errno, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
}

/* execvpe() searches the runtime's PATH; the container's PATH is the one in process.env. */
static const char *find_program(const struct oci_process *p, char *buf, size_t size)
{
	const char *prog = p->args[0];
	if (strchr(prog, '/')) {
		/* checked here too, as runc's LookPath does before it reports ready: a missing program is an
		 * error of create, not an init that dies after start */
		struct stat st;
		return access(prog, X_OK) == 0 && stat(prog, &st) == 0 && S_ISREG(st.st_mode) ? prog : NULL;
	}
	const char *path = DEFAULT_PATH;
	for (size_t i = 0; i < p->n_env; i++)
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			path = p->env[i] + 5;
	for (const char *d = path;; d++) {
		const char *end = strchrnul(d, ':');
		int n = snprintf(buf, size, "%.*s%s%s", (int)(end - d), d, end == d ? "" : "/", prog);
		struct stat st;
		if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0 && stat(buf, &st) == 0 && S_ISREG(st.st_mode))
			return buf;
		if (!*end)
			break;
		d = end;
	}
	return NULL;
}

/* Everything the runtime had open is closed at exec, except stdio, the FIFO handshake and what the caller
 * asked to keep. */
static void cloexec_all_but(const int *keep, size_t n)
{
	unsigned lo = 3;
	for (;;) {
		unsigned next = ~0u;
		for (size_t i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next > lo)
			close_range(lo, next == ~0u ? ~0u : next - 1, CLOSE_RANGE_CLOEXEC);
		if (next == ~0u)
			break;
		lo = next + 1;
	}
}

static void wait_for_start(struct init *in)
{
	const struct container_opts *o = in->a->opts;
	struct sync_msg m = { .type = SYNC_READY };
	if (send(in->a->sync_fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
		_exit(1);
	if (o->exec_fifo_fd < 0) {
		wait_for(in, SYNC_START);
		return;
	}
	/* The FIFO (an O_PATH fd) is reopened for writing through the private procfs: that open blocks until
	 * `boxshare start` opens it for reading. */
	char p[48];
	snprintf(p, sizeof(p), "thread-self/fd/%d", o->exec_fifo_fd);
	_cleanup_close_ int w = openat(in->proc_fd, p, O_WRONLY | O_CLOEXEC);
	if (w < 0)
		die_msg(in, "start", errno, "open the exec FIFO: %s", strerror(errno));
	if (write(w, "0", 1) != 1)
		die_msg(in, "start", errno, "write the exec FIFO: %s", strerror(errno));
}

_Noreturn void container_init_main(const struct container_init_args *a)
{
	struct init in = { .a = a, .proc_fd = -1 };
	const struct oci_spec *s = a->spec;
	const struct oci_linux *l = &s->lnx;

	/* the runtime blocks the signals it forwards; the container's process gets a clean mask */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* `boxshare run` owns the container: if it dies, so does the container. A created container outlives
	 * `boxshare create` by design. */
	if (a->opts->exec_fifo_fd < 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

	/* the runtime writes the id maps, passes idmapped trees and runs its prepare() first */
	in.tree_fds = malloc((s->n_mounts ? s->n_mounts : 1) * sizeof(int));
	if (!in.tree_fds)
		die_msg(&in, "mount", ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n_mounts; i++)
		in.tree_fds[i] = -1;
	wait_for(&in, SYNC_GO);
	if (a->new_userns) {
		/* become root of the new namespace if root is mapped; the spec's user is set at the end */
		if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
			die_msg(&in, "user", errno, "setresgid 0 in the user namespace: %s", strerror(errno));
		if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
			die_msg(&in, "user", errno, "setresuid 0 in the user namespace: %s", strerror(errno));
	}
	join_namespaces(&in);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		die_msg(&in, "hostname", errno, "sethostname %s: %s", s->hostname, strerror(errno));
	if (l->ns[OCI_NS_NET].enabled && !l->ns[OCI_NS_NET].path)
		loopback_up(&in);

	setup_mounts(&in);
	setup_user(&in);

	char buf[4096];
	const char *prog = find_program(&s->process, buf, sizeof(buf));
	if (!prog)
		die_msg(&in, "exec", ENOENT, strchr(s->process.args[0], '/') ? "exec %s: no such executable file" :
			"exec %s: not found in the container's PATH", s->process.args[0]);

	wait_for_start(&in);

	/* process security (caps, rlimits, seccomp): see runtime/security.h */
	if (security_apply_init() < 0)
		die_msg(&in, "security", EPERM, "process security (console, hooks, caps, rlimits, seccomp) failed");

	/* the exec FIFO is not among them: the process has no use for it */
	cloexec_all_but(a->opts->keep_fds, a->opts->n_keep_fds);

	char *const *env = s->process.env;
	static char *const empty_env[] = { NULL };
	execve(prog, s->process.args, env ? env : empty_env);
	die_msg(&in, "exec", errno, "exec %s: %s", prog, strerror(errno));
}
