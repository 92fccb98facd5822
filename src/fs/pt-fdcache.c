/* SPDX-License-Identifier: MIT */
/*
 * The passthrough fd cache: the ceiling on inode fds (--max-fds), the LRU of idle inodes whose fds may be closed
 * when a file handle can reopen them (--inode-file-handles), the reopen itself, and the table of one readable fd
 * per host mount that open_by_handle_at and syncfs need (they refuse O_PATH fds).
 *
 * With handles=never an inode's fd is fixed for its life and nothing here takes a lock on the I/O path. With
 * handles, fd/users/lru of every inode are under pt->fd_mu: short critical sections, the open_by_handle_at
 * itself runs outside it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs/pt-int.h"
#include "util/log.h"
#include "util/macros.h"

void pt_lru_unlink(struct pt *pt, struct pt_inode *n)
{
	if (!n->in_lru)
		return;
	if (n->lru_prev)
		n->lru_prev->lru_next = n->lru_next;
	else
		pt->lru_head = n->lru_next;
	if (n->lru_next)
		n->lru_next->lru_prev = n->lru_prev;
	else
		pt->lru_tail = n->lru_prev;
	n->lru_prev = n->lru_next = NULL;
	n->in_lru = false;
}

void pt_lru_append(struct pt *pt, struct pt_inode *n)
{
	if (n->in_lru)
		return;
	n->lru_prev = pt->lru_tail;
	n->lru_next = NULL;
	if (pt->lru_tail)
		pt->lru_tail->lru_next = n;
	else
		pt->lru_head = n;
	pt->lru_tail = n;
	n->in_lru = true;
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
 * Under fd_mu: make room (closing the fds of the least recently used idle inodes) and count one more. A victim's
 * file handle is taken here, while its fd still pins the inode (most inodes are never evicted, so most never
 * pay for one); one without a handle keeps its fd for good.
 */
static int reserve_locked(struct pt *pt)
{
	while (atomic_load(&pt->nfds) >= pt->max_fds && pt->lru_head) {
		struct pt_inode *victim = pt->lru_head;
		pt_lru_unlink(pt, victim);
		if (pt_inode_take_handle(pt, victim) < 0) {
			victim->pinned = true;
			continue;
		}
		if (victim->fd >= 0) { /* always: only inodes with an fd enter the list */
			close(victim->fd);
			victim->fd = -1;
			atomic_fetch_sub(&pt->nfds, 1);
		}
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

int pt_inode_fd(struct pt *pt, struct pt_inode *inode, int *ret_fd)
{
	if (!inode->evictable) { /* constant for the inode's life */
		*ret_fd = inode->fd;
		return 0;
	}
	pthread_mutex_lock(&pt->fd_mu);
	if (inode->fd < 0) {
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
		if (inode->fd >= 0) { /* another thread reopened it first */
			close(nfd);
			atomic_fetch_sub(&pt->nfds, 1);
		} else {
			inode->fd = nfd;
		}
	}
	pt_lru_unlink(pt, inode);
	inode->users++;
	*ret_fd = inode->fd;
	pthread_mutex_unlock(&pt->fd_mu);
	return 0;
}

void pt_inode_fd_put(struct pt *pt, struct pt_inode *inode)
{
	if (!inode->evictable)
		return;
	pthread_mutex_lock(&pt->fd_mu);
	if (--inode->users == 0 && inode->fd >= 0 && !inode->pinned)
		pt_lru_append(pt, inode);
	pthread_mutex_unlock(&pt->fd_mu);
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
