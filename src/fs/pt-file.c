/* SPDX-License-Identifier: MIT */
/*
 * Passthrough file I/O: open, create, tmpfile, read, write, flush, release, fsync, fallocate, lseek and
 * copy_file_range. An open file is its own host fd (a reopen of the inode through /proc, never by path),
 * registered in the fh table; reads and writes go with preadv/pwritev straight between that fd and the
 * caller's buffers, without allocating.
 */
#include "fs/pt-file.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs/pt-cred.h"
#include "fs/pt-entry.h"
#include "fs/pt-fh.h"
#include "fs/pt-int.h"
#include "fs/pt-lock.h"
#include "util/fsetid.h"
#include "util/log.h"
#include "util/macros.h"

/* iovecs one read or write may carry: FUSE's max_pages plus the header, with room to spare */
#define PT_IOV_MAX 1024

/* The open(2) flags we pass on for a client's flags. */
static int host_open_flags(struct pt *pt, int flags)
{
	/* creating, path-only, following and controlling-tty behaviour are ours to decide; O_DIRECT needs
	 * aligned buffers the transport does not promise */
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_PATH | __O_TMPFILE | O_DIRECTORY | O_CLOEXEC |
		   FASYNC | O_DIRECT);
	if (pt->writeback) {
		/* the client's page cache reads around partial writes and keeps the append position itself */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

/*
 * hfd: the fh's host fd of a regular file, offered as the backing file for kernel FUSE passthrough (-1 for
 * anything else). Cheapest: no extra open, and it stays valid until the fh's RELEASE, which cannot come before
 * proto has registered it (the kernel then holds its own reference; only the fd's path matters to it, the
 * kernel opens the backing file again with each FUSE file's flags).
 */
static void fill_open(struct pt *pt, struct fs_open *ret, uint64_t fh, int hfd)
{
	*ret = (struct fs_open){ .fh = fh, .backing_fd = hfd };
	if (pt->o.cache == PT_CACHE_NEVER)
		ret->flags |= FS_OPEN_DIRECT_IO | FS_OPEN_PARALLEL_DIRECT_WRITES;
	else if (pt->o.cache == PT_CACHE_ALWAYS)
		ret->flags |= FS_OPEN_KEEP_CACHE;
}

/* Open the inode n for I/O and register the fd. */
static int open_inode(struct pt *pt, struct pt_inode *n, int flags, struct fs_open *ret)
{
	int fd;
	int r = pt_open_reserve(pt);
	if (r < 0)
		return r;
	r = pt_inode_fd(pt, n, &fd);
	if (r < 0) {
		pt_open_unreserve(pt);
		return r;
	}
	int hfd = pt_reopen(pt, n, fd, flags);
	pt_inode_fd_put(pt, n);
	if (hfd < 0) {
		pt_open_unreserve(pt);
		return hfd;
	}
	uint64_t fh;
	r = pt_fh_new(pt, PT_FH_FILE, hfd, flags, n, NULL, &fh);
	if (r < 0)
		return r;
	fill_open(pt, ret, fh, S_ISREG(n->type) ? hfd : -1);
	return 0;
}

int pt_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n = pt_inode_get(pt, ino);
	if (!n)
		return -ESTALE;
	if (flags & O_TRUNC) /* truncating keeps or clears suid/sgid by CAP_FSETID (util/fsetid.c) */
		thread_fsetid_restore();
	int r = open_inode(pt, n, host_open_flags(pt, flags), ret);
	pt_inode_put(pt, n);
	return r;
}

/*
 * The new file's fd (opened as the caller) becomes an fh; an O_PATH fd of the same inode, made through the
 * magic link of that fd (no name is resolved again), becomes the inode.
 */
static int register_new(struct pt *pt, struct pt_inode *parent, int hfd, int flags, struct fs_entry *ret_entry,
			struct fs_open *ret_open)
{
	int r = pt_fd_reserve(pt);
	if (r < 0)
		goto fail;
	char name[32];
	pt_proc_name(name, hfd);
	int opath = openat(pt->proc_fd, name, O_PATH | O_CLOEXEC);
	if (opath < 0) {
		r = -errno;
		pt_fd_unreserve(pt);
		goto fail;
	}
	r = pt_entry_from_fd(pt, parent, opath, ret_entry);
	if (r < 0)
		goto fail;
	struct pt_inode *n = pt_inode_get(pt, ret_entry->ino);
	if (!n) { /* forgotten by a racing client already */
		r = -ESTALE;
		goto fail;
	}
	uint64_t fh;
	r = pt_fh_new(pt, PT_FH_FILE, hfd, flags, n, NULL, &fh);
	pt_inode_put(pt, n);
	if (r < 0) {
		pt_inode_forget(pt, ret_entry->ino, 1);
		return r;
	}
	fill_open(pt, ret_open, fh, hfd); /* O_CREAT or O_TMPFILE: a regular file */
	return 0;
fail:
	close(hfd);
	pt_open_unreserve(pt);
	return r;
}

static int parent_dir(struct pt *pt, uint64_t parent_id, struct pt_inode **ret, int *ret_fd)
{
	struct pt_inode *parent = pt_inode_get(pt, parent_id);
	if (!parent)
		return -ESTALE;
	int r = S_ISDIR(parent->type) ? pt_inode_fd(pt, parent, ret_fd) : -ENOTDIR;
	if (r < 0) {
		pt_inode_put(pt, parent);
		return r;
	}
	*ret = parent;
	return 0;
}

int pt_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent_id, const char *name, mode_t mode, int flags,
	      struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	struct pt *pt = pt_of(fs);
	int r = pt_check_name(name, true);
	if (r < 0)
		return r;
	struct pt_inode *parent;
	int pfd;
	r = parent_dir(pt, parent_id, &parent, &pfd);
	if (r < 0)
		return r;
	int hflags = host_open_flags(pt, flags);
	/* a setgid mode outside the caller's groups, or truncating what exists: decided by CAP_FSETID */
	if ((mode & S_ISGID) || (flags & O_TRUNC))
		thread_fsetid_restore();
	r = pt_open_reserve(pt);
	if (r < 0)
		goto out;
	/* O_EXCL always: an existing name is opened through the inode path below, which refuses devices and
	 * fifos; O_NOFOLLOW: a dangling symlink never gets its target created */
	struct pt_cred cred;
	int hfd = -1;
	r = pt_cred_enter(ctx, pt->switch_creds, &cred);
	if (r == 0) {
		hfd = openat(pfd, name, hflags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
		r = hfd < 0 ? -errno : 0;
	}
	pt_cred_leave(&cred);
	if (r == 0) {
		r = register_new(pt, parent, hfd, hflags, ret_entry, ret_open);
		goto out;
	}
	pt_open_unreserve(pt);
	if (r != -EEXIST || (flags & O_EXCL))
		goto out;
	/* The name exists and the caller did not ask for O_EXCL: open what is there. */
	r = pt_lookup_at(pt, parent, pfd, name, ret_entry);
	if (r < 0)
		goto out;
	struct pt_inode *n = pt_inode_get(pt, ret_entry->ino);
	r = n ? open_inode(pt, n, hflags, ret_open) : -ESTALE;
	pt_inode_put(pt, n);
	if (r < 0)
		pt_inode_forget(pt, ret_entry->ino, 1);
out:
	pt_inode_fd_put(pt, parent);
	pt_inode_put(pt, parent);
	return r;
}

int pt_tmpfile(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent_id, mode_t mode, int flags,
	       struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *parent;
	int pfd;
	int r = parent_dir(pt, parent_id, &parent, &pfd);
	if (r < 0)
		return r;
	int hflags = host_open_flags(pt, flags);
	if ((hflags & O_ACCMODE) == O_RDONLY) {
		r = -EINVAL; /* as open(2): an O_TMPFILE file must be writable */
		goto out;
	}
	if (mode & S_ISGID)
		thread_fsetid_restore();
	r = pt_open_reserve(pt);
	if (r < 0)
		goto out;
	struct pt_cred cred;
	int hfd = -1;
	r = pt_cred_enter(ctx, pt->switch_creds, &cred);
	if (r == 0) {
		hfd = openat(pfd, ".", hflags | O_TMPFILE | O_CLOEXEC, mode & 07777);
		r = hfd < 0 ? -errno : 0;
	}
	pt_cred_leave(&cred);
	if (r < 0) {
		pt_open_unreserve(pt);
		goto out;
	}
	r = register_new(pt, parent, hfd, hflags, ret_entry, ret_open);
out:
	pt_inode_fd_put(pt, parent);
	pt_inode_put(pt, parent);
	return r;
}

/* Copy at most size bytes' worth of src into dst (dst holds PT_IOV_MAX); the number of entries used. */
static int iov_trim(const struct iovec *src, int cnt, size_t size, struct iovec *dst)
{
	int n = 0;
	for (int i = 0; i < cnt && size > 0; i++) {
		if (src[i].iov_len == 0)
			continue;
		dst[n] = src[i];
		if (dst[n].iov_len > size)
			dst[n].iov_len = size;
		size -= dst[n].iov_len;
		n++;
	}
	return n;
}

/* Step over k bytes already transferred. */
static void iov_advance(struct iovec **iov, int *cnt, size_t k)
{
	while (*cnt > 0 && k >= (*iov)->iov_len) {
		k -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0 && k) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + k;
		(*iov)->iov_len -= k;
	}
}

static int check_io(uint64_t off, size_t size, int cnt)
{
	if (cnt < 0 || cnt > PT_IOV_MAX)
		return -EINVAL;
	if (off > INT64_MAX || size > INT64_MAX - off)
		return -EFBIG;
	return 0;
}

int pt_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
	    const struct iovec *dst, int dst_cnt, size_t *ret_len)
{
	struct pt *pt = pt_of(fs);
	int r = check_io(off, size, dst_cnt);
	if (r < 0)
		return r == -EFBIG ? -EINVAL : r;
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_FILE);
	if (!f)
		return -EBADF;
	struct iovec iovbuf[PT_IOV_MAX], *iov = iovbuf;
	int cnt = iov_trim(dst, dst_cnt, size, iovbuf);
	size_t want = 0, done = 0;
	for (int i = 0; i < cnt; i++)
		want += iovbuf[i].iov_len;
	while (cnt > 0) {
		ssize_t k = preadv(f->fd, iov, cnt, (off_t)(off + done));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (done == 0)
				r = -errno;
			break;
		}
		if (k == 0)
			break; /* end of file */
		done += (size_t)k;
		/* A short read of a regular file is its end (or a truncate racing with us): asking again would
		 * cost a second preadv on every READ that reaches EOF, i.e. on every small file read whole. */
		if (done < want)
			break;
		iov_advance(&iov, &cnt, (size_t)k);
	}
	pt_fh_put(pt, f);
	*ret_len = done;
	return r;
}

/* A write by an unprivileged caller clears set-user-ID, and set-group-ID if group-executable; the server
 * writes as root, which the kernel does not do it for. */
static void kill_suidgid(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return;
	mode_t kill = S_ISUID;
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	if (st.st_mode & kill)
		(void)fchmod(fd, st.st_mode & 07777 & ~kill);
}

/*
 * The writeback cache and mtime. With FUSE_WRITEBACK_CACHE the client owns a regular file's mtime: it stamps
 * its own inode when a process writes into the page cache, ignores the mtime of every attr reply from then on,
 * and tells us its value with SETATTR(FATTR_MTIME) when it writes the inode back (close, fsync, sync). The
 * pages themselves come later, or sooner, as WRITEs flagged FS_WRITE_CACHE, and each of those would move the
 * host file's mtime to the time we apply it, which the client never learns: the two would disagree for good.
 * It is worst when the client does not stamp at all (its coarse clock has not passed the mtime the CREATE
 * reply gave it), so no SETATTR ever comes. So a write-back WRITE puts back the host mtime it found, and only
 * a SETATTR moves it.
 *
 * The read, the write and the restore must not interleave with another write-back WRITE or a setattr of the
 * mtime of the same inode (the client's flusher sends the SETATTR while the page WRITEs are in flight): both
 * hold the inode's mtime_mu. A plain WRITE takes no lock.
 */
static bool wb_begin(struct pt_fh *f, struct stat *before)
{
	pthread_mutex_lock(&f->inode->mtime_mu);
	return fstat(f->fd, before) == 0 && S_ISREG(before->st_mode);
}

static void wb_end(struct pt_fh *f, bool keep, const struct stat *before, size_t done)
{
	if (keep && done) {
		const struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, before->st_mtim };
		/* the data is written and the reply says so: only the mtime is off when this fails */
		if (futimens(f->fd, ts) < 0)
			log_debug("passthrough: keeping the mtime of node %llu over a write-back: %s",
				  (unsigned long long)f->inode->id, strerror(errno));
	}
	pthread_mutex_unlock(&f->inode->mtime_mu);
}

int pt_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
	     const struct iovec *src, int src_cnt, uint32_t write_flags, size_t *ret_len)
{
	struct pt *pt = pt_of(fs);
	int r = check_io(off, size, src_cnt);
	if (r < 0)
		return r;
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_FILE);
	if (!f)
		return -EBADF;
	bool wb = write_flags & FS_WRITE_CACHE, keep = false;
	struct stat before;
	thread_fsetid_restore(); /* a write by a root client keeps suid/sgid: the host decides by CAP_FSETID */
	if (wb)
		keep = wb_begin(f, &before);
	struct iovec iovbuf[PT_IOV_MAX], *iov = iovbuf;
	int cnt = iov_trim(src, src_cnt, size, iovbuf);
	size_t done = 0;
	while (cnt > 0) {
		ssize_t k = pwritev(f->fd, iov, cnt, (off_t)(off + done));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (done == 0)
				r = -errno;
			break;
		}
		if (k == 0)
			break;
		done += (size_t)k;
		iov_advance(&iov, &cnt, (size_t)k);
	}
	if (done && (write_flags & FS_WRITE_KILL_SUIDGID))
		kill_suidgid(f->fd);
	if (wb)
		wb_end(f, keep, &before, done);
	pt_fh_put(pt, f);
	*ret_len = done;
	return r;
}

int pt_flush(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_ANY);
	if (!f)
		return -EBADF;
	/* close(2) by a process drops its POSIX locks on the file: drop the lock owner's open file description */
	pt_lock_drop_owner(pt, f->inode, lock_owner);
	pt_fh_put(pt, f);
	return 0;
}

void pt_release(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int flags, uint64_t lock_owner,
		bool flock_release)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_FILE);
	if (f) {
		if (flock_release)
			(void)flock(f->fd, LOCK_UN);
		pt_lock_drop_fh(pt, f->inode, fh);
		pt_fh_put(pt, f);
	}
	pt_fh_release(pt, fh, PT_FH_FILE);
}

int pt_fsync(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_FILE);
	if (!f)
		return -EBADF;
	int r = (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0 ? -errno : 0;
	pt_fh_put(pt, f);
	return r;
}

int pt_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off,
		 off_t len)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_FILE);
	if (!f)
		return -EBADF;
	thread_fsetid_restore();
	int r = fallocate(f->fd, mode, off, len) < 0 ? -errno : 0;
	pt_fh_put(pt, f);
	return r;
}

int pt_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
	     off_t *ret_off)
{
	struct pt *pt = pt_of(fs);
	if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END && whence != SEEK_DATA &&
	    whence != SEEK_HOLE)
		return -EINVAL;
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_FILE);
	if (!f)
		return -EBADF;
	off_t o = lseek(f->fd, off, whence);
	int r = o < 0 ? -errno : 0;
	if (r == 0)
		*ret_off = o;
	pt_fh_put(pt, f);
	return r;
}

int pt_copy_file_range(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino_in, uint64_t fh_in, off_t off_in,
		       uint64_t ino_out, uint64_t fh_out, off_t off_out, size_t len, unsigned flags,
		       size_t *ret_len)
{
	struct pt *pt = pt_of(fs);
	if (flags != 0)
		return -EINVAL;
	if (off_in < 0 || off_out < 0)
		return -EINVAL;
	struct pt_fh *in = pt_fh_get(pt, fh_in, PT_FH_FILE);
	if (!in)
		return -EBADF;
	struct pt_fh *out = pt_fh_get(pt, fh_out, PT_FH_FILE);
	if (!out) {
		pt_fh_put(pt, in);
		return -EBADF;
	}
	loff_t oi = off_in, oo = off_out;
	thread_fsetid_restore();
	ssize_t k = copy_file_range(in->fd, &oi, out->fd, &oo, len, 0);
	int r = k < 0 ? -errno : 0;
	if (r == 0)
		*ret_len = (size_t)k;
	pt_fh_put(pt, out);
	pt_fh_put(pt, in);
	return r;
}
