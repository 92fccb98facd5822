/* SPDX-License-Identifier: MIT */
/*
 * Passthrough directory listings.
 *
 * Offsets are the host's own cookies: each entry carries the d_off getdents64 gave it, and a readdir at a
 * cookie other than where the stream stands seeks the directory fd there. File systems guarantee that a cookie
 * stays valid while entries come and go (ext4's hash positions, tmpfs's stable offsets, xfs's...), so a
 * listing that continues after other entries were added or removed neither repeats nor skips a survivor.
 *
 * readdirplus looks every entry up (a lookup count for the client, as the protocol says) with the listing's
 * own fd as the parent; getdents64's d_ino tells a new inode (an O_PATH open and a statx of what was opened)
 * from a known one (one statx by name, to fill the attrs and confirm it is still the same inode). An entry that
 * cannot be looked up (the fd ceiling, a race with an unlink, ...) is still listed, name only, so a listing
 * never has a silent hole; the client looks such a name up itself and sees the error there.
 */
#include "fs/pt-dir.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/pt-entry.h"
#include "fs/pt-fh.h"
#include "fs/pt-int.h"
#include "fs/pt-lock.h"
#include "util/macros.h"

#define DIR_BUF_SIZE (32 * 1024)

struct pt_dir {
	pthread_mutex_t mu; /* the kernel serializes readdir on one open directory; a hostile client may not */
	uint64_t pos;       /* the cookie where the stream stands (0: the start) */
	size_t len, next;   /* getdents64 bytes in buf, and the first not yet handed out */
	char buf[DIR_BUF_SIZE];
};

void pt_dir_free(struct pt_dir *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->mu);
	free(d);
}

int pt_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n = pt_inode_get(pt, ino);
	if (!n)
		return -ESTALE;
	int r, fd;
	if (!S_ISDIR(n->type)) {
		r = -ENOTDIR;
		goto out;
	}
	r = pt_open_reserve(pt);
	if (r < 0)
		goto out;
	r = pt_inode_fd(pt, n, &fd);
	if (r < 0) {
		pt_open_unreserve(pt);
		goto out;
	}
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = dfd < 0 ? -errno : 0;
	pt_inode_fd_put(pt, n);
	if (r < 0) {
		pt_open_unreserve(pt);
		goto out;
	}
	struct pt_dir *d = calloc(1, sizeof(*d));
	if (!d) {
		close(dfd);
		pt_open_unreserve(pt);
		r = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&d->mu, NULL);
	*ret = (struct fs_open){ .backing_fd = -1 };
	r = pt_fh_new(pt, PT_FH_DIR, dfd, O_RDONLY, n, d, &ret->fh);
	if (r < 0) {
		pt_dir_free(d);
		goto out;
	}
	if (pt->o.cache == PT_CACHE_ALWAYS)
		ret->flags |= FS_OPEN_CACHE_DIR | FS_OPEN_KEEP_CACHE;
out:
	pt_inode_put(pt, n);
	return r;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}

/* Add one entry; 0 (added, or gone and skipped) or -ENOSPC (not added: stop here). */
static int emit(struct pt *pt, struct pt_fh *f, struct fs_dirbuf *buf, const struct dirent64 *de,
		uint64_t next_off)
{
	struct pt_inode *dir = f->inode;
	const char *name = de->d_name;
	size_t namelen = strnlen(name, sizeof(de->d_name));
	uint64_t st_ino;
	if (name[0] == '.' && name[1] == 0)
		st_ino = dir->st_ino;
	else if (strcmp(name, "..") == 0 && dir == pt->root)
		st_ino = dir->st_ino; /* nothing of the root's own parent shows */
	else
		st_ino = pt_client_ino(pt, dir->dev, de->d_ino);

	if (!fs_dirbuf_is_plus(buf) || is_dot_or_dotdot(name))
		return fs_dirbuf_add(buf, name, namelen, st_ino, de->d_type, next_off);
	if (!fs_dirbuf_fits(buf, namelen))
		return -ENOSPC;
	struct fs_entry e;
	int r = pt_lookup_hint(pt, dir, f->fd, name, de->d_ino, &e);
	if (r == -ENOENT)
		return 0; /* removed since getdents64 read it */
	if (r < 0)
		return fs_dirbuf_add(buf, name, namelen, st_ino, de->d_type, next_off);
	r = fs_dirbuf_add_plus(buf, name, namelen, &e, next_off);
	if (r < 0)
		pt_inode_forget(pt, e.ino, 1); /* not handed out: give the lookup back */
	return r;
}

int pt_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
	       struct fs_dirbuf *buf)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_DIR);
	if (!f)
		return -EBADF;
	struct pt_dir *d = f->dir;
	int r = 0;
	unsigned added = 0;
	pthread_mutex_lock(&d->mu);
	if (off != d->pos) {
		if (lseek(f->fd, (off_t)off, SEEK_SET) < 0) {
			r = -errno;
			goto out;
		}
		d->pos = off;
		d->len = d->next = 0;
	}
	for (;;) {
		if (d->next >= d->len) {
			ssize_t n = getdents64(f->fd, d->buf, sizeof(d->buf));
			if (n < 0) {
				r = -errno;
				break;
			}
			d->len = (size_t)n;
			d->next = 0;
			if (n == 0)
				break;
		}
		const struct dirent64 *de = (const struct dirent64 *)(d->buf + d->next);
		if (de->d_reclen == 0 || de->d_reclen > d->len - d->next) { /* never from a sane kernel */
			r = -EIO;
			break;
		}
		r = emit(pt, f, buf, de, (uint64_t)de->d_off);
		if (r == -ENOSPC) {
			r = 0;
			break;
		}
		if (r < 0)
			break;
		d->next += de->d_reclen;
		d->pos = (uint64_t)de->d_off;
		added++;
	}
out:
	pthread_mutex_unlock(&d->mu);
	pt_fh_put(pt, f);
	return added ? 0 : r;
}

void pt_releasedir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_DIR);
	if (f) {
		pt_lock_drop_fh(pt, f->inode, fh); /* locks taken on the directory through this open */
		pt_fh_put(pt, f);
	}
	pt_fh_release(pt, fh, PT_FH_DIR);
}

int pt_fsyncdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync)
{
	struct pt *pt = pt_of(fs);
	struct pt_fh *f = pt_fh_get(pt, fh, PT_FH_DIR);
	if (!f)
		return -EBADF;
	int r = (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0 ? -errno : 0;
	pt_fh_put(pt, f);
	return r;
}
