/* SPDX-License-Identifier: MIT */
/*
 * The overlay's remaining per-node ops: extended attributes, access, locks, and the space ops (fallocate,
 * lseek, copy_file_range, syncfs). Same pattern as overlay-ops.c: a virtual node answers here, anything
 * else goes to the fs that owns the id, with a merged directory's fh swapped for the real fs's own.
 */
#include "tree/overlay-int.h"

#include <string.h>
#include <sys/stat.h>

#include "util/macros.h"

int ovl_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
		      size_t size, int xattr_flags, uint32_t setxattr_flags)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_fwd(o, ino, &t);
	if (r == 1)
		return -EROFS;
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, setxattr, ctx, t.ino, name, value, size, xattr_flags, setxattr_flags);
	ovl_target_put(&t);
	return r;
}

int ovl_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf,
		      size_t size, size_t *ret_size)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_fwd(o, ino, &t);
	if (r == 1)
		return -ENODATA;
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, getxattr, ctx, t.ino, name, buf, size, ret_size);
	ovl_target_put(&t);
	return r;
}

int ovl_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
		       size_t *ret_size)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_get(o, ino, &t);
	if (r == 1) {
		pthread_mutex_unlock(&o->lock);
		*ret_size = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, listxattr, ctx, t.ino, buf, size, ret_size);
	ovl_target_put(&t);
	return r;
}

int ovl_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_fwd(o, ino, &t);
	if (r == 1)
		return -EROFS;
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, removexattr, ctx, t.ino, name);
	ovl_target_put(&t);
	return r;
}

/* Permission bits of a virtual node, as the kernel's generic check would apply them. */
static int mode_access(const struct stat *st, const struct fs_ctx *ctx, int mask)
{
	if (mask & W_OK)
		return -EROFS;
	mask &= R_OK | X_OK;
	if (ctx->uid == 0) {
		if ((mask & X_OK) && !S_ISDIR(st->st_mode) && !(st->st_mode & 0111))
			return -EACCES;
		return 0;
	}
	mode_t bits = st->st_mode;
	if (ctx->uid == st->st_uid)
		bits >>= 6;
	else if (ctx->gid == st->st_gid)
		bits >>= 3;
	return ((bits & 7) & (mode_t)mask) == (mode_t)mask ? 0 : -EACCES;
}

int ovl_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_get(o, ino, &t);
	if (r == 1) {
		r = mode_access(&t.n->attr, ctx, mask);
		pthread_mutex_unlock(&o->lock);
		return r;
	}
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, access, ctx, t.ino, mask);
	ovl_target_put(&t);
	return r;
}

int ovl_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		   struct flock *lk)
{
	struct ovl_fwd f;
	int r = ovl_fwd_begin(ovl_of(fs), ino, fh, &f);
	if (r == 1) {
		lk->l_type = F_UNLCK; /* nobody can write a virtual file: no lock ever conflicts that matters */
		return 0;
	}
	if (r < 0)
		return r;
	return ovl_fwd_end(&f, FS_CALL(f.t.fs, getlk, ctx, f.t.ino, f.fh, owner, lk));
}

int ovl_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		   const struct flock *lk, bool sleep, bool is_flock)
{
	struct ovl_fwd f;
	int r = ovl_fwd_begin(ovl_of(fs), ino, fh, &f);
	if (r != 0)
		return r == 1 ? 0 : r;
	return ovl_fwd_end(&f, FS_CALL(f.t.fs, setlk, ctx, f.t.ino, f.fh, owner, lk, sleep, is_flock));
}

int ovl_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off,
		       off_t len)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_fwd f;
	COUNT(o);
	int r = ovl_fwd_begin(o, ino, fh, &f);
	if (r != 0)
		return r == 1 ? -EROFS : r;
	return ovl_fwd_end(&f, FS_CALL(f.t.fs, fallocate, ctx, f.t.ino, f.fh, mode, off, len));
}

int ovl_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
		   off_t *ret_off)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_fwd f;
	int r = ovl_fwd_begin(o, ino, fh, &f);
	if (r < 0)
		return r;
	if (r == 0)
		return ovl_fwd_end(&f, FS_CALL(f.t.fs, lseek, ctx, f.t.ino, f.fh, off, whence, ret_off));
	struct ovl_handle *h = ovl_handle_get(o, fh, false, false);
	if (!h)
		return -EBADF;
	off_t len = h->blob ? (off_t)h->blob->len : 0;
	ovl_handle_put(h);
	if (off < 0)
		return -EINVAL;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off >= len)
		return -ENXIO;
	*ret_off = whence == SEEK_DATA ? off : len;
	return 0;
}

int ovl_copy_file_range(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino_in, uint64_t fh_in,
			     off_t off_in, uint64_t ino_out, uint64_t fh_out, off_t off_out, size_t len,
			     unsigned flags, size_t *ret_len)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target a, b = { 0 };
	COUNT(o);
	pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, ino_in, &a);
	if (r >= 0)
		r = ovl_resolve_locked(o, ino_out, &b);
	/* the client falls back to read+write on EXDEV: right for virtual files and across entries */
	if (r >= 0 && (!a.fs || !b.fs || a.fs != b.fs || (a.n && a.n->kind == VK_DIR) ||
		       (b.n && b.n->kind == VK_DIR)))
		r = -EXDEV;
	pthread_mutex_unlock(&o->lock);
	if (r >= 0)
		r = FS_CALL(a.fs, copy_file_range, ctx, a.ino, fh_in, off_in, b.ino, fh_out, off_out, len, flags,
			    ret_len);
	ovl_target_put(&a);
	ovl_target_put(&b);
	return r;
}

int ovl_syncfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	int r = ovl_target_fwd(o, ino, &t);
	if (r == 1)
		return FS_CALL(o->lower, syncfs, ctx, o->lower->root);
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, syncfs, ctx, t.ino);
	ovl_target_put(&t);
	return r;
}
