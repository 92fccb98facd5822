/* SPDX-License-Identifier: MIT */
/*
 * The passthrough fd cache: the ceiling on inode fds (--max-fds), the choice of idle inode fds to close when a
 * file handle can reopen them (--inode-file-handles), the reopen itself, and the table of one readable fd
 * per host mount that open_by_handle_at and syncfs need (they refuse O_PATH fds).
 *
 * With handles=never an inode's fd is fixed for its life and nothing here takes a lock. With handles, an op
 * pins an open fd without a lock (users, then fd: see pt_inode_fd), and idle fds are chosen for closing by
 * CLOCK, the second-chance approximation of LRU: an op only sets its node's `used` bit, where an LRU list would
 * take a global lock twice per request to move the node. fd_mu covers changes of fds and the ring; the
 * open_by_handle_at itself runs outside it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs/pt-int.h"
#include "util/log.h"
#include "util/macros.h"

void pt_clock_remove(struct pt *pt, struct pt_inode *n)
{
	if (!n->in_clock)
		return;
	if (n->clock_next == n) {
		pt->clock_hand = NULL;
	} else {
		n->clock_prev->clock_next = n->clock_next;
		n->clock_next->clock_prev = n->clock_prev;
		if (pt->clock_hand == n)
			pt->clock_hand = n->clock_next;
	}
	n->clock_prev = n->clock_next = NULL;
	n->in_clock = false;
}

/* Just behind the hand, marked used: the hand reaches it last and gives it its second chance, so the order of
 * evictions follows the order of first use, as an LRU's would for nodes used once. */
void pt_clock_insert(struct pt *pt, struct pt_inode *n)
{
	if (n->in_clock || n->pinned)
		return;
	atomic_store_explicit(&n->used, true, memory_order_relaxed);
	struct pt_inode *h = pt->clock_hand;
	if (!h) {
		n->clock_prev = n->clock_next = n;
		pt->clock_hand = n;
	} else {
		n->clock_next = h;
		n->clock_prev = h->clock_prev;
		h->clock_prev->clock_next = n;
		h->clock_prev = n;
	}
	n->in_clock = true;
}

/* ---- the fd ceiling ---- */

static void warn_emfile(struct pt *pt)
{
	/* Once: the operator needs to know why lookups fail, and a line per request would flood the log. */
	if (atomic_exchange(&pt->warned_emfile, true))
		return;
	if (pt->use_handles)
		log_warn("passthrough: all %u inode fds (--max-fds) are held by requests in flight or by inodes "
			 "without a file handle; lookups fail with EMFILE until some are released",
			 pt->max_fds);
	else
		log_warn("passthrough: %u inodes are known to the client, the --max-fds ceiling: new lookups fail "
			 "with EMFILE; use --inode-file-handles=prefer to let idle inodes give their fds back",
			 pt->max_fds);
}

/*
 * Under fd_mu, victim on the ring and idle: close its fd unless an op pinned it meanwhile. The op counts itself
 * in users before it reads fd, and we set fd to -1 before we read users (both sequentially consistent): either
 * we see its count and put the fd back, or it sees -1 and waits for fd_mu in the slow path. The file handle is
 * taken first, while the fd still pins the inode (most inodes are never evicted, so most never pay for one);
 * an inode without one keeps its fd for good.
 */
static void evict_locked(struct pt *pt, struct pt_inode *victim)
{
	if (pt_inode_take_handle(pt, victim) < 0) {
		pt_clock_remove(pt, victim);
		victim->pinned = true;
		return;
	}
	int fd = atomic_exchange(&victim->fd, -1);
	if (atomic_load(&victim->users) != 0) {
		atomic_store(&victim->fd, fd);
		return;
	}
	pt_clock_remove(pt, victim);
	close(fd);
	atomic_fetch_sub(&pt->nfds, 1);
}

/* Under fd_mu: make room (closing idle fds the hand finds unused since it last passed) and count one more. */
static int reserve_locked(struct pt *pt)
{
	/* two turns of the ring clear every used bit; a third finds nothing idle only if every fd is in use */
	size_t budget = 3 * (size_t)atomic_load(&pt->nfds) + 3;
	while (atomic_load(&pt->nfds) >= pt->max_fds && pt->clock_hand && budget-- > 0) {
		struct pt_inode *n = pt->clock_hand;
		pt->clock_hand = n->clock_next;
		if (atomic_load(&n->users) != 0)
			continue;
		if (atomic_exchange_explicit(&n->used, false, memory_order_relaxed))
			continue; /* a second chance */
		evict_locked(pt, n);
	}
	if (atomic_load(&pt->nfds) >= pt->max_fds)
		return -EMFILE;
	atomic_fetch_add(&pt->nfds, 1);
	return 0;
}

int pt_fd_reserve(struct pt *pt)
{
	int r;
	if (!pt->use_handles) {
		if (atomic_fetch_add(&pt->nfds, 1) < pt->max_fds)
			return 0;
		atomic_fetch_sub(&pt->nfds, 1);
		r = -EMFILE;
	} else {
		pthread_mutex_lock(&pt->fd_mu);
		r = reserve_locked(pt);
		pthread_mutex_unlock(&pt->fd_mu);
	}
	if (r < 0)
		warn_emfile(pt);
	return r;
}

void pt_fd_unreserve(struct pt *pt)
{
	atomic_fetch_sub(&pt->nfds, 1);
}

/* The slow path, users counted already: the fd was closed (or the evictor is looking at it). */
static int reopen(struct pt *pt, struct pt_inode *inode, int *ret_fd)
{
	pthread_mutex_lock(&pt->fd_mu);
	if (atomic_load(&inode->fd) < 0) {
		int r = reserve_locked(pt);
		pthread_mutex_unlock(&pt->fd_mu);
		if (r < 0) {
			warn_emfile(pt);
			return r;
		}
		/* the fd was evicted, so the handle was taken (and never changes) */
		int nfd = open_by_handle_at(inode->mount_fd, pt_inode_handle(inode), O_PATH | O_CLOEXEC);
		r = nfd < 0 ? -errno : 0;
		pthread_mutex_lock(&pt->fd_mu);
		if (r < 0) {
			atomic_fetch_sub(&pt->nfds, 1);
			pthread_mutex_unlock(&pt->fd_mu);
			/* ESTALE: the host inode is gone (deleted while we held no fd on it) */
			return r;
		}
		if (atomic_load(&inode->fd) >= 0) { /* another thread reopened it first */
			close(nfd);
			atomic_fetch_sub(&pt->nfds, 1);
		} else {
			atomic_store(&inode->fd, nfd);
			pt_clock_insert(pt, inode);
		}
	}
	*ret_fd = atomic_load(&inode->fd);
	pthread_mutex_unlock(&pt->fd_mu);
	return 0;
}

int pt_inode_fd(struct pt *pt, struct pt_inode *inode, int *ret_fd)
{
	if (!inode->evictable) { /* constant for the inode's life */
		*ret_fd = inode->fd;
		return 0;
	}
	atomic_fetch_add(&inode->users, 1);
	int fd = atomic_load(&inode->fd);
	if (fd >= 0) {
		*ret_fd = fd;
		return 0;
	}
	int r = reopen(pt, inode, ret_fd);
	if (r < 0)
		atomic_fetch_sub(&inode->users, 1);
	return r;
}

void pt_inode_fd_put(struct pt *pt, struct pt_inode *inode)
{
	if (!inode->evictable)
		return;
	atomic_store_explicit(&inode->used, true, memory_order_relaxed);
	atomic_fetch_sub_explicit(&inode->users, 1, memory_order_release);
}

/* ---- mounts and devices ---- */

int pt_mount_fd(struct pt *pt, uint64_t mnt_id, int fd, mode_t type)
{
	pthread_mutex_lock(&pt->mnt_mu);
	for (size_t i = 0; i < pt->nmounts; i++)
		if (pt->mounts[i].mnt_id == mnt_id) {
			int mfd = pt->mounts[i].fd;
			pthread_mutex_unlock(&pt->mnt_mu);
			return mfd;
		}
	pthread_mutex_unlock(&pt->mnt_mu);
	if (fd < 0)
		return -ENOENT;
	/* open_by_handle_at and syncfs refuse O_PATH fds: open the inode for reading, which only a directory
	 * or a regular file may be (opening a device or a fifo could block or have side effects). */
	int mfd;
	if (S_ISDIR(type)) {
		mfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (S_ISREG(type)) {
		char name[32];
		pt_proc_name(name, fd);
		mfd = openat(pt->proc_fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	} else {
		return -EOPNOTSUPP;
	}
	if (mfd < 0)
		return -errno;
	pthread_mutex_lock(&pt->mnt_mu);
	for (size_t i = 0; i < pt->nmounts; i++)
		if (pt->mounts[i].mnt_id == mnt_id) { /* raced */
			pthread_mutex_unlock(&pt->mnt_mu);
			close(mfd);
			return pt->mounts[i].fd;
		}
	struct pt_mount *m = realloc(pt->mounts, (pt->nmounts + 1) * sizeof(*m));
	if (!m) {
		pthread_mutex_unlock(&pt->mnt_mu);
		close(mfd);
		return -ENOMEM;
	}
	pt->mounts = m;
	m[pt->nmounts++] = (struct pt_mount){ .mnt_id = mnt_id, .fd = mfd };
	pthread_mutex_unlock(&pt->mnt_mu);
	return mfd;
}
