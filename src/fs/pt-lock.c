/* SPDX-License-Identifier: MIT */
/*
 * Passthrough locks.
 *
 * POSIX record locks belong to a process (the client's lock owner) and an inode, not to one open file, and a
 * server that takes them with F_SETLK on its own fds would own them all itself. So each (inode, lock owner)
 * gets its own open file description, reopened from the client's open file, and the lock is an OFD lock
 * (F_OFD_SETLK) on it: owners conflict with each other exactly as processes do on the host, and one owner's
 * locks through two opens of the same file are one set. FLUSH (the owner closed an fd of the file) closes that
 * description, which drops its locks, as close(2) does; RELEASE drops the client's OFD locks (their owner is
 * the open file). The host's OFD locks have no owning process, so each owner remembers the client pid that
 * set its locks, which GETLK reports.
 *
 * The host does no deadlock detection for OFD locks: the server does it for its owners (see wait_begin).
 *
 * A blocking SETLKW waits in F_OFD_SETLKW and so holds the worker thread that serves it (as virtiofsd does);
 * other requests go on on the other workers. proto cancels the wait on INTERRUPT by signalling that thread:
 * the fcntl returns EINTR, which is the answer (never retried here).
 *
 * flock(2) locks belong to the open file, which is exactly the client's fh: flock() on the fh's fd.
 */
#include "fs/pt-lock.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs/pt-fh.h"
#include "fs/pt-int.h"

struct pt_lockfd {
	struct pt_lockfd *next;
	uint64_t owner;
	int fd;
	pid_t pid;      /* the client's pid that last set a lock as this owner: what GETLK reports */
	uint64_t fh;    /* the open file the owner last locked through */
	unsigned users; /* under inode->lock_mu */
	bool dropped;   /* unlinked: the last user closes fd */
};

static void lockfd_close(struct pt *pt, struct pt_lockfd *l)
{
	close(l->fd);
	pt_open_unreserve(pt);
	free(l);
}

/* The owner's description on f's inode (made on first use), with a user reference. */
static int lockfd_get(struct pt *pt, struct pt_fh *f, uint64_t fh, uint64_t owner, struct pt_lockfd **ret)
{
	struct pt_inode *n = f->inode;
	pthread_mutex_lock(&n->lock_mu);
	for (struct pt_lockfd *l = n->locks; l; l = l->next)
		if (l->owner == owner) {
			l->users++;
			l->fh = fh;
			pthread_mutex_unlock(&n->lock_mu);
			*ret = l;
			return 0;
		}
	pthread_mutex_unlock(&n->lock_mu);

	int r = pt_open_reserve(pt);
	if (r < 0)
		return r;
	/* read-write if the host allows, so one description serves the owner's read and write locks */
	int fd;
	if (f->kind == PT_FH_DIR) {
		fd = openat(f->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		char name[32];
		pt_proc_name(name, f->fd);
		fd = openat(pt->proc_fd, name, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			fd = openat(pt->proc_fd, name, (f->flags & O_ACCMODE) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	}
	if (fd < 0) {
		r = -errno;
		pt_open_unreserve(pt);
		return r;
	}
	struct pt_lockfd *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		pt_open_unreserve(pt);
		return -ENOMEM;
	}
	l->owner = owner;
	l->fd = fd;
	l->fh = fh;
	l->users = 1;
	pthread_mutex_lock(&n->lock_mu);
	for (struct pt_lockfd *o = n->locks; o; o = o->next)
		if (o->owner == owner) { /* raced with the same owner */
			o->users++;
			o->fh = fh;
			pthread_mutex_unlock(&n->lock_mu);
			lockfd_close(pt, l);
			*ret = o;
			return 0;
		}
	l->next = n->locks;
	n->locks = l;
	pthread_mutex_unlock(&n->lock_mu);
	*ret = l;
	return 0;
}

static void lockfd_put(struct pt *pt, struct pt_inode *n, struct pt_lockfd *l)
{
	pthread_mutex_lock(&n->lock_mu);
	bool last = --l->users == 0 && l->dropped;
	pthread_mutex_unlock(&n->lock_mu);
	if (last)
		lockfd_close(pt, l);
}

/* Drop the owners that match (by owner, or by the fh they last locked through). */
static void drop_matching(struct pt *pt, struct pt_inode *n, bool by_fh, uint64_t key)
{
	struct pt_lockfd *victims = NULL;
	pthread_mutex_lock(&n->lock_mu);
	for (struct pt_lockfd **pp = &n->locks; *pp;) {
		struct pt_lockfd *l = *pp;
		if ((by_fh ? l->fh : l->owner) != key) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		l->dropped = true;
		if (l->users == 0) { /* else a SETLKW in flight closes it when it returns */
			l->next = victims;
			victims = l;
		}
	}
	pthread_mutex_unlock(&n->lock_mu);
	while (victims) {
		struct pt_lockfd *l = victims;
		victims = l->next;
		lockfd_close(pt, l);
	}
}

void pt_lock_drop_owner(struct pt *pt, struct pt_inode *n, uint64_t owner)
{
	drop_matching(pt, n, false, owner);
}

/*
 * An open file went away. An OFD lock's owner is the client's open file itself, and the client sends no FLUSH
 * for it (FLUSH names the process): its locks go with the RELEASE of that fh. Dropping the POSIX owners that
 * last locked through it too is safe: a process that closed its descriptor of this open file has sent a FLUSH
 * that dropped its locks already.
 */
void pt_lock_drop_fh(struct pt *pt, struct pt_inode *n, uint64_t fh)
{
	drop_matching(pt, n, true, fh);
}

/*
 * Which owner holds the lock a GETLK found? OFD locks carry no process, so ask each other owner's description:
 * the holder does not see its own lock, anyone else does. false: no client owner (a host process holds it).
 */
static bool holder_of(struct pt_inode *n, uint64_t asker, const struct flock *found, uint64_t *ret_owner,
		      pid_t *ret_pid)
{
	bool ok = false;
	pthread_mutex_lock(&n->lock_mu);
	for (struct pt_lockfd *l = n->locks; l; l = l->next) {
		if (l->owner == asker)
			continue;
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = found->l_start,
				   .l_len = found->l_len };
		if (fcntl(l->fd, F_OFD_GETLK, &q) < 0)
			continue;
		if (q.l_type == F_UNLCK || q.l_start != found->l_start || q.l_len != found->l_len ||
		    q.l_type != found->l_type) {
			*ret_owner = l->owner;
			*ret_pid = l->pid;
			ok = true;
			break;
		}
	}
	pthread_mutex_unlock(&n->lock_mu);
	return ok;
}

static pid_t holder_pid(struct pt_inode *n, uint64_t asker, const struct flock *found)
{
	uint64_t owner;
	pid_t pid = 0;
	return holder_of(n, asker, found, &owner, &pid) ? pid : 0;
}

/*
 * Deadlock detection. The host does it for classic POSIX locks but not for OFD locks, so the server keeps the
 * wait-for graph of its own owners: before an owner blocks on a lock held by another client owner, follow
 * "who does that holder wait for" from the holder; reaching the requester is a deadlock, answered EDEADLK as
 * the host answers F_SETLKW (and as the kernel would for the client's processes).
 */
struct pt_waiter {
	struct pt_waiter *next;
	uint64_t owner;
	uint64_t waits_for;
};

void pt_lock_init(struct pt *pt)
{
	pthread_mutex_init(&pt->wait_mu, NULL);
}

void pt_lock_fini(struct pt *pt)
{
	pthread_mutex_destroy(&pt->wait_mu);
}

#define DEADLOCK_MAX_DEPTH 64

/* 0 and *w registered (unregister with wait_end), or -EDEADLK. */
static int wait_begin(struct pt *pt, uint64_t owner, uint64_t holder, struct pt_waiter *w)
{
	pthread_mutex_lock(&pt->wait_mu);
	uint64_t h = holder;
	for (int depth = 0; depth < DEADLOCK_MAX_DEPTH; depth++) {
		if (h == owner) {
			pthread_mutex_unlock(&pt->wait_mu);
			return -EDEADLK;
		}
		struct pt_waiter *x = pt->waiters;
		while (x && x->owner != h)
			x = x->next;
		if (!x)
			break;
		h = x->waits_for;
	}
	*w = (struct pt_waiter){ .next = pt->waiters, .owner = owner, .waits_for = holder };
	pt->waiters = w;
	pthread_mutex_unlock(&pt->wait_mu);
	return 0;
}

static void wait_end(struct pt *pt, struct pt_waiter *w)
{
	pthread_mutex_lock(&pt->wait_mu);
	for (struct pt_waiter **pp = &pt->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&pt->wait_mu);
}

/* F_OFD_SETLKW, after the deadlock check. */
static int setlk_wait(struct pt *pt, struct pt_inode *n, struct pt_lockfd *l, uint64_t owner, struct flock *q)
{
	struct flock t = *q;
	if (fcntl(l->fd, F_OFD_SETLK, &t) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES)
		return -errno;
	struct flock c = *q;
	uint64_t holder;
	pid_t pid;
	struct pt_waiter w;
	bool registered = false;
	if (fcntl(l->fd, F_OFD_GETLK, &c) == 0 && c.l_type != F_UNLCK && holder_of(n, owner, &c, &holder, &pid)) {
		int r = wait_begin(pt, owner, holder, &w);
		if (r < 0)
			return r;
		registered = true;
	}
	int r = fcntl(l->fd, F_OFD_SETLKW, q) < 0 ? -errno : 0;
	if (registered)
		wait_end(pt, &w);
	return r;
}

void pt_lock_free_all(struct pt *pt, struct pt_inode *n)
{
	while (n->locks) {
		struct pt_lockfd *l = n->locks;
		n->locks = l->next;
		lockfd_close(pt, l);
	}
}

static int check_lock(const struct pt_fh *f, const struct flock *lk)
{
	if (lk->l_type != F_RDLCK && lk->l_type != F_WRLCK && lk->l_type != F_UNLCK)
		return -EINVAL;
	/* as fcntl(2): a read lock needs a readable open, a write lock a writable one */
	int acc = f->flags & O_ACCMODE;
	if ((lk->l_type == F_RDLCK && acc == O_WRONLY) || (lk->l_type == F_WRLCK && acc == O_RDONLY))
		return -EBADF;
	return 0;
}

int pt_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner, struct flock *lk)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_ANY);
	if (!f)
		return -EBADF;
	struct pt_lockfd *l;
	int r = lk->l_type == F_UNLCK ? -EINVAL : check_lock(f, lk);
	if (r == 0)
		r = lockfd_get(pt, f, fh, owner, &l);
	if (r == 0) {
		struct flock q = *lk;
		q.l_pid = 0; /* OFD locks require it */
		r = fcntl(l->fd, F_OFD_GETLK, &q) < 0 ? -errno : 0;
		lockfd_put(pt, f->inode, l);
		if (r == 0) {
			q.l_pid = q.l_type == F_UNLCK ? 0 : holder_pid(f->inode, owner, &q);
			*lk = q;
		}
	}
	pt_fh_put(pt, f);
	return r;
}

int pt_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
	     const struct flock *lk, bool sleep, bool is_flock)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_ANY);
	if (!f)
		return -EBADF;
	int r;
	if (is_flock) {
		int op = lk->l_type == F_RDLCK ? LOCK_SH : lk->l_type == F_WRLCK ? LOCK_EX :
			 lk->l_type == F_UNLCK ? LOCK_UN : -1;
		if (op < 0)
			r = -EINVAL;
		else
			r = flock(f->fd, op | (sleep ? 0 : LOCK_NB)) < 0 ? -errno : 0;
		pt_fh_put(pt, f);
		return r;
	}
	r = check_lock(f, lk);
	struct pt_lockfd *l;
	if (r == 0)
		r = lockfd_get(pt, f, fh, owner, &l);
	if (r == 0) {
		struct flock q = *lk;
		q.l_pid = 0;
		/* EINTR is an answer, not a reason to retry: proto interrupts a wait the client gave up on */
		if (sleep && lk->l_type != F_UNLCK)
			r = setlk_wait(pt, f->inode, l, owner, &q);
		else
			r = fcntl(l->fd, F_OFD_SETLK, &q) < 0 ? -errno : 0;
		if (r == 0 && lk->l_type != F_UNLCK) {
			pthread_mutex_lock(&f->inode->lock_mu);
			l->pid = lk->l_pid;
			pthread_mutex_unlock(&f->inode->lock_mu);
		}
		lockfd_put(pt, f->inode, l);
	}
	pt_fh_put(pt, f);
	/* fcntl(2) reports a conflict as EACCES or EAGAIN; FUSE clients expect EAGAIN */
	return r == -EACCES ? -EAGAIN : r;
}
