/* SPDX-License-Identifier: MIT */
/*
 * The /dev/fuse transport: mounting (new mount API, mount(2) fallback), the reader pool, notifications and
 * shutdown. Knows nothing of files: requests go to proto_handle() as bytes.
 *
 * Shutdown paths:
 *  - `umount MNT` or the lazy unmount of our signal path: when the superblock goes, the kernel aborts the
 *    connection and every read() of /dev/fuse fails with ENODEV; each reader stops on it.
 *  - a signal: the main thread (signalfd) runs on_signal (unmount), waits a moment for ENODEV, then sets
 *    `stop` and pokes each remaining reader with PROTO_INTR_SIGNAL until it has left its read() (EINTR). The
 *    poke is repeated because it may land just before the reader enters read().
 *  - DESTROY (fuseblk, or a client that sends it): proto_session_done() becomes true; readers stop.
 */
#include "transport/devfuse.h"
#include "transport/devfuse-backing.h"
#include "transport/devfuse-int.h"
#include "transport/devfuse-uring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

/* ---- mounting ---- */

static int fsconfig_str(int fsfd, const char *key, const char *val, const char **step, const char *name)
{
	int r = sys_fsconfig(fsfd, FSCONFIG_SET_STRING, key, val, 0);
	if (r < 0)
		*step = name;
	return r;
}

static int fsconfig_flag(int fsfd, const char *key, const char **step, const char *name)
{
	int r = sys_fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
	if (r < 0)
		*step = name;
	return r;
}

static int mount_new_api(const struct devfuse_mount_opts *o, int fd, const char **step)
{
	char buf[64];
	_cleanup_close_ int fsfd = sys_fsopen("fuse", FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		*step = "fsopen";
		return fsfd;
	}
	int r;
	snprintf(buf, sizeof(buf), "%d", fd);
	if ((r = fsconfig_str(fsfd, "fd", buf, step, "fsconfig fd")) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%o", (unsigned)o->rootmode);
	if ((r = fsconfig_str(fsfd, "rootmode", buf, step, "fsconfig rootmode")) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%u", (unsigned)o->user_id);
	if ((r = fsconfig_str(fsfd, "user_id", buf, step, "fsconfig user_id")) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%u", (unsigned)o->group_id);
	if ((r = fsconfig_str(fsfd, "group_id", buf, step, "fsconfig group_id")) < 0)
		return r;
	if (o->allow_other && (r = fsconfig_flag(fsfd, "allow_other", step, "fsconfig allow_other")) < 0)
		return r;
	if (o->default_permissions &&
	    (r = fsconfig_flag(fsfd, "default_permissions", step, "fsconfig default_permissions")) < 0)
		return r;
	if (o->source && (r = fsconfig_str(fsfd, "source", o->source, step, "fsconfig source")) < 0)
		return r;
	if (o->subtype && (r = fsconfig_str(fsfd, "subtype", o->subtype, step, "fsconfig subtype")) < 0)
		return r;
	r = sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r < 0) {
		*step = "fsconfig create";
		return r;
	}
	unsigned attrs = 0;
	if (o->readonly)
		attrs |= MOUNT_ATTR_RDONLY;
	if (o->nosuid_nodev)
		attrs |= MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	/* the mount fd is closed right after the move: holding it would make a plain `umount MNT` fail EBUSY */
	_cleanup_close_ int mfd = sys_fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0) {
		*step = "fsmount";
		return mfd;
	}
	r = sys_move_mount(mfd, "", AT_FDCWD, o->mountpoint, MOVE_MOUNT_F_EMPTY_PATH);
	if (r < 0)
		*step = "move_mount";
	return r;
}

static int mount_legacy(const struct devfuse_mount_opts *o, int fd, const char **step)
{
	char data[256], type[64];
	int n = snprintf(data, sizeof(data), "fd=%d,rootmode=%o,user_id=%u,group_id=%u%s%s", fd,
			 (unsigned)o->rootmode, (unsigned)o->user_id, (unsigned)o->group_id,
			 o->allow_other ? ",allow_other" : "", o->default_permissions ? ",default_permissions" : "");
	if (n < 0 || (size_t)n >= sizeof(data)) {
		*step = "mount options";
		return -EINVAL;
	}
	snprintf(type, sizeof(type), "fuse%s%s", o->subtype ? "." : "", o->subtype ? o->subtype : "");
	unsigned long flags = (o->readonly ? MS_RDONLY : 0) | (o->nosuid_nodev ? MS_NOSUID | MS_NODEV : 0);
	if (mount(o->source ? o->source : "boxshare", o->mountpoint, type, flags, data) < 0) {
		*step = "mount";
		return -errno;
	}
	return 0;
}

int devfuse_mount(const struct devfuse_mount_opts *o, int *ret_fd, const char **ret_step)
{
	const char *step = NULL;
	if (!ret_step)
		ret_step = &step;
	_cleanup_close_ int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*ret_step = "open /dev/fuse";
		return -errno;
	}
	int r = mount_new_api(o, fd, ret_step);
	if (r == -ENOSYS)
		r = mount_legacy(o, fd, ret_step);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int devfuse_unmount(const char *path)
{
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
		/* EINVAL: not a mount point any more (the client unmounted first); ENOENT: gone or not visible */
		if (errno == EINVAL || errno == ENOENT)
			return 0;
		return -errno;
	}
	return 0;
}

/* ---- serving ---- */

int devfuse_new(int fuse_fd, unsigned threads, struct devfuse **ret)
{
	_cleanup_close_ int fd = fuse_fd;
	if (threads == 0)
		threads = 1;
	struct devfuse *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->readers = calloc(threads, sizeof(*d->readers));
	if (!d->readers) {
		free(d);
		return -ENOMEM;
	}
	d->n = threads;
	d->evfd = -1;
	for (unsigned i = 0; i < threads; i++)
		d->readers[i].fd = -1;
	d->fd = TAKE_FD(fd);
	d->readers[0].fd = d->fd;
	for (unsigned i = 1; i < threads; i++) {
		/* each reader gets its own fd: the kernel then keeps a processing queue per fd, and replies must
		 * go to the fd the request came from */
		_cleanup_close_ int c = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		uint32_t master = (uint32_t)d->fd;
		if (c >= 0 && ioctl(c, FUSE_DEV_IOC_CLONE, &master) == 0) {
			d->readers[i].fd = TAKE_FD(c);
		} else {
			log_debug("devfuse: cannot clone the session fd (%s); readers share it", strerror(errno));
			d->readers[i].fd = -1; /* share d->fd */
		}
	}
	atomic_init(&d->stop, false);
	atomic_init(&d->err, 0);
	for (unsigned i = 0; i < DEVFUSE_LOCK_THREADS; i++)
		atomic_init(&d->locks[i].busy, false);
	for (unsigned i = 0; i < DEVFUSE_REL_STRIPES; i++)
		atomic_init(&d->rel_pending[i], 0);
	*ret = d;
	return 0;
}

void devfuse_free(struct devfuse *d)
{
	if (!d || d->stuck)
		return;
	devfuse_uring_free(d->uring);
	for (unsigned i = 1; i < d->n; i++)
		safe_close(d->readers[i].fd);
	safe_close(d->fd);
	safe_close(d->evfd);
	free(d->readers);
	free(d);
}

static int send_notify(void *data, const struct iovec *iov, int cnt)
{
	struct devfuse *d = data;
	ssize_t n = writev(d->fd, iov, cnt);
	return n < 0 ? -errno : 0;
}

/* Backing files belong to the connection: any of its fds would do, the session fd is the one that stays. */
static int backing_open(void *data, int fd)
{
	struct devfuse *d = data;
	return devfuse_backing_open(d->fd, fd);
}

static int backing_close(void *data, int id)
{
	struct devfuse *d = data;
	return devfuse_backing_close(d->fd, id);
}

void devfuse_transport(struct devfuse *d, struct proto_transport *ret)
{
	*ret = (struct proto_transport){
		.send_notify = send_notify,
		.backing_open = backing_open,
		.backing_close = backing_close,
		.data = d,
	};
}

static void reader_done(struct devfuse *d, int err)
{
	if (err < 0) {
		int zero = 0;
		atomic_compare_exchange_strong(&d->err, &zero, err);
	}
	atomic_store(&d->stop, true);
	uint64_t one = 1;
	if (write(d->evfd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow with a handful of readers; nothing to do */
	}
}

static void send_reply(struct devfuse *d, int fd, void *out, ssize_t len)
{
	if (len > 0) {
		struct iovec ov = { out, (size_t)len };
		/* ENOENT: the client no longer waits for this request (interrupted): not an error */
		if (writev(fd, &ov, 1) < 0 && errno != ENOENT && errno != ENODEV)
			log_debug("devfuse: writing a reply: %s", strerror(errno));
	} else if (len < 0) {
		log_debug("devfuse: proto_handle: %s", strerror((int)-len));
	}
}

static void *lock_main(void *arg)
{
	struct devfuse_lock_job *j = arg;
	uint8_t out[sizeof(struct fuse_out_header) + 64]; /* SETLKW replies carry no payload */
	struct iovec iv = { j->req, j->len }, ov[2] = { { out, sizeof(out) } };
	if (j->ent)
		devfuse_uring_reply_room(j->ent, ov);
	ssize_t len = proto_handle(j->d->s, &iv, 1, ov, j->ent ? 2 : 1);
	/* Woken because we are stopping, not because the client interrupted: no reply. The client would take
	 * our EINTR for its own interruption (and, with no signal pending, show the caller ERESTARTSYS); the
	 * connection's abort fails the request properly instead. */
	if (!atomic_load(&j->d->stop)) {
		if (j->ent)
			devfuse_uring_lock_done(j->ent, len);
		else
			send_reply(j->d, j->fd, out, len);
	}
	free(j->req);
	j->req = NULL;
	atomic_store(&j->busy, false);
	return NULL;
}

bool devfuse_offload_lock(struct devfuse *d, int fd, struct devfuse_uring_ent *ent, const void *req, size_t len)
{
	for (unsigned i = 0; i < DEVFUSE_LOCK_THREADS; i++) {
		struct devfuse_lock_job *j = &d->locks[i];
		bool expect = false;
		if (!atomic_compare_exchange_strong(&j->busy, &expect, true))
			continue;
		if (j->req == NULL && j->d) /* a finished job of this slot: reap its thread */
			pthread_join(j->thread, NULL);
		j->d = d;
		j->fd = fd;
		j->ent = ent;
		j->len = len;
		j->req = malloc(len);
		if (!j->req) {
			j->d = NULL;
			atomic_store(&j->busy, false);
			return false;
		}
		memcpy(j->req, req, len);
		if (pthread_create(&j->thread, NULL, lock_main, j) != 0) {
			free(j->req);
			j->req = NULL;
			j->d = NULL;
			atomic_store(&j->busy, false);
			return false;
		}
		return true;
	}
	return false;
}

/*
 * Wake lock waiters (the fs should fail them with EINTR) and reap every lock thread. A waiter that does not
 * wake within 2 s is left behind: d->stuck tells the caller the session is still in use and must not be
 * freed; the process exits with the thread still in its wait.
 */
static void stop_lock_jobs(struct devfuse *d)
{
	for (int round = 0; round < 2000; round++) {
		bool busy = false;
		for (unsigned i = 0; i < DEVFUSE_LOCK_THREADS; i++) {
			struct devfuse_lock_job *j = &d->locks[i];
			if (j->d && atomic_load(&j->busy)) {
				busy = true;
				pthread_kill(j->thread, PROTO_INTR_SIGNAL);
			}
		}
		if (!busy)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	for (unsigned i = 0; i < DEVFUSE_LOCK_THREADS; i++) {
		struct devfuse_lock_job *j = &d->locks[i];
		if (!j->d)
			continue;
		if (atomic_load(&j->busy)) {
			log_warn("devfuse: a lock wait did not end when interrupted; leaving it behind");
			d->stuck = true;
			continue;
		}
		pthread_join(j->thread, NULL);
		j->d = NULL;
	}
}

bool devfuse_stuck(const struct devfuse *d)
{
	return d && d->stuck;
}

/*
 * Release-before-lock ordering.
 *
 * The client sends RELEASE asynchronously: close(fd) returns before the server has seen it. A process that
 * closes a file it had flock()ed (or OFD-locked) and then locks the file again through a new open expects
 * the old lock to be gone, and the client queued the RELEASE before the new SETLK; the kernel hands requests
 * to the readers in that order, but with several readers the SETLK can be served first, and on the host the
 * old open still holds its lock (EWOULDBLOCK, or a SETLKW that waits for ever).
 *
 * So a lock request (GETLK, SETLK, SETLKW; flock comes as SETLK/SETLKW) first makes sure every RELEASE of
 * its inode that the kernel dequeued before it has been handled:
 *  1. every RELEASE is counted in rel_pending[stripe of its node id] by the reader that read it, before that
 *     reader bumps its gen, and uncounted once handled;
 *  2. a reader still inside read() when our request came out of it may hold an older request the kernel
 *     dequeued but has not returned yet: we poke it out of read() (PROTO_INTR_SIGNAL: its read returns the
 *     request or EINTR) and wait until its gen moves, i.e. until whatever it read has been announced. A
 *     reader not inside read() either is handling a request it already announced, or will only read
 *     requests that come after ours;
 *  3. then we wait for the stripe's count to drop to 0 (releases are short: close of host fds).
 * Nothing is shared on the hot path: ordinary requests touch only their reader's own counters and, for a
 * RELEASE, one stripe counter; the cost (a signal per idle reader) is paid by lock requests only.
 * A RELEASE the kernel still holds back (its background queue is full) is out of our reach.
 * With io_uring queues (devfuse-uring.c) the same holds with queue threads for readers: a thread waiting for
 * completions is poked through its eventfd and announces what it got before its gen moves. A RELEASE already
 * handed to a queue thread busy with an earlier request is announced only when that request is done: out of
 * reach too, like the background queue.
 */
void devfuse_lock_barrier(struct devfuse *d, const void *self, uint64_t nodeid)
{
	devfuse_uring_barrier(d, self);
	for (unsigned i = 0; i < d->n; i++) {
		struct devfuse_reader *rd = &d->readers[i];
		if ((const void *)rd == self || atomic_load(&rd->exited) || !atomic_load(&rd->in_read))
			continue;
		unsigned long g = atomic_load(&rd->gen);
		/* poke again and again: a poke that lands just before the reader enters read() is lost */
		for (unsigned round = 0; atomic_load(&rd->in_read) && atomic_load(&rd->gen) == g &&
					 !atomic_load(&rd->exited) && !atomic_load(&d->stop);
		     round++) {
			if (round % 8 == 0)
				pthread_kill(rd->self, PROTO_INTR_SIGNAL);
			devfuse_short_wait(round);
		}
	}
	atomic_uint *c = &d->rel_pending[devfuse_rel_stripe(nodeid)];
	for (unsigned round = 0; atomic_load(c) > 0 && !atomic_load(&d->stop); round++)
		devfuse_short_wait(round);
}

static void *reader_main(void *arg)
{
	struct devfuse_reader *rd = arg;
	struct devfuse *d = rd->d;
	int fd = rd->fd >= 0 ? rd->fd : d->fd;
	rd->self = pthread_self();
	size_t in_room = proto_request_room(d->s);
	size_t out_room = proto_reply_room(d->s);
	/* one pair of buffers per reader for its whole life: no allocation per request */
	void *in = malloc(in_room);
	void *out = malloc(out_room);
	int err = 0;
	if (!in || !out) {
		err = -ENOMEM;
		goto done;
	}
	while (!atomic_load(&d->stop)) {
		atomic_store(&rd->in_read, true);
		ssize_t n = read(fd, in, in_room);
		int rerr = errno;
		const struct fuse_in_header *h = in;
		bool hdr = n >= (ssize_t)sizeof(*h);
		atomic_uint *rel = NULL;
		if (hdr && devfuse_is_release(h->opcode)) {
			rel = &d->rel_pending[devfuse_rel_stripe(h->nodeid)];
			atomic_fetch_add(rel, 1);
		}
		atomic_fetch_add(&rd->gen, 1);
		atomic_store(&rd->in_read, false);
		errno = rerr;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* ENOENT: the request we were about to read was interrupted and withdrawn */
			if (errno == ENOENT)
				continue;
			if (errno != ENODEV) /* ENODEV: the connection was aborted (unmounted): a normal end */
				err = -errno;
			break;
		}
		if (hdr && devfuse_is_lock(h->opcode))
			devfuse_lock_barrier(d, rd, h->nodeid);
		if (hdr && h->opcode == FUSE_SETLKW && devfuse_offload_lock(d, fd, NULL, in, (size_t)n))
			continue;
		struct iovec iv = { in, (size_t)n };
		struct iovec ov = { out, out_room };
		send_reply(d, fd, out, proto_handle(d->s, &iv, 1, &ov, 1));
		/* INIT answered (the client has it once writev returned): the io_uring queues may register now */
		if (hdr && h->opcode == FUSE_INIT && d->uring && proto_session_uring(d->s))
			devfuse_uring_start(d);
		if (rel)
			atomic_fetch_sub(rel, 1);
		if (proto_session_done(d->s))
			break;
	}
done:
	free(in);
	free(out);
	atomic_store(&rd->exited, true);
	reader_done(d, err);
	return NULL;
}

static void stop_readers(struct devfuse *d)
{
	atomic_store(&d->stop, true);
	for (int round = 0; round < 2000; round++) { /* 2 s at most; a reader in a long fs call may take time */
		bool all = true;
		for (unsigned i = 0; i < d->n; i++) {
			struct devfuse_reader *rd = &d->readers[i];
			if (rd->started && !atomic_load(&rd->exited)) {
				all = false;
				pthread_kill(rd->thread, PROTO_INTR_SIGNAL);
			}
		}
		if (all)
			return;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	log_warn("devfuse: a request is still running after 2 s; waiting for it");
}

static bool all_exited(struct devfuse *d)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->readers[i].started && !atomic_load(&d->readers[i].exited))
			return false;
	return true;
}

static void ignore_signal(int sig)
{
}

int devfuse_run(struct devfuse *d, struct proto_session *s, void (*on_signal)(void *data), void *data,
		int *ret_signal)
{
	int sig = 0, r = 0;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* readers inherit this mask: the signals reach only the signalfd below */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	/* A handler too, though it never runs: as pid 1 of a sandbox's pid namespace we only receive signals
	 * we catch, and the supervisor looks at our caught set to decide between forwarding and SIGKILL. */
	struct sigaction sa = { .sa_handler = ignore_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	proto_signal_init();
	sigset_t intr;
	sigemptyset(&intr);
	sigaddset(&intr, PROTO_INTR_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &intr, NULL);

	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		r = -errno;
		goto out;
	}
	d->evfd = eventfd(0, EFD_CLOEXEC);
	if (d->evfd < 0) {
		r = -errno;
		goto out;
	}
	d->s = s;
	for (unsigned i = 0; i < d->n; i++) {
		struct devfuse_reader *rd = &d->readers[i];
		rd->d = d;
		atomic_init(&rd->exited, false);
		atomic_init(&rd->in_read, false);
		atomic_init(&rd->gen, 0);
		int k = pthread_create(&rd->thread, NULL, reader_main, rd);
		if (k != 0) {
			r = -k;
			stop_readers(d);
			goto join;
		}
		rd->started = true;
	}

	/* wait for a signal, or for the readers to stop on their own (unmount, DESTROY, error) */
	while (!all_exited(d)) {
		struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = d->evfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				sig = (int)si.ssi_signo;
				break;
			}
		}
		if (p[1].revents & POLLIN) {
			uint64_t v;
			if (read(d->evfd, &v, sizeof(v)) < 0) {
				/* only EAGAIN is possible; loop */
			}
			/* one reader stopping for good (ENODEV) means the connection is gone for all of them */
			if (atomic_load(&d->stop))
				break;
		}
	}
	if (sig) {
		log_info("devfuse: %s: stopping", strsignal(sig));
		/* unmount, and give the readers a moment to see ENODEV from it, as with `umount MNT` */
		if (on_signal)
			on_signal(data);
		for (int i = 0; on_signal && i < 200 && !all_exited(d); i++) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	stop_readers(d);
join:
	for (unsigned i = 0; i < d->n; i++)
		if (d->readers[i].started) {
			pthread_join(d->readers[i].thread, NULL);
			d->readers[i].started = false;
		}
	devfuse_uring_stop(d);
	stop_lock_jobs(d);
	if (r == 0)
		r = atomic_load(&d->err);
out:
	/* the signals stay blocked: a second SIGTERM during the caller's clean-up must not kill it half-way */
	if (ret_signal)
		*ret_signal = sig;
	return r;
}
