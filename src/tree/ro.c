/* SPDX-License-Identifier: MIT */
/*
 * The read-only layer. Every slot of struct fs_ops is named below with a decision (forward, refuse, filter);
 * a slot added to fs.h later breaks the build here (the _Static_assert on the decision table) and the unit
 * test (which walks the ops table), so a new op can never slip through to a writable inner fs by default.
 * The layer is enforced by the server: a client that remounts its FUSE mount rw still gets EROFS.
 */
#include "tree/ro.h"

#include <stdlib.h>

#include "util/log.h"
#include "util/macros.h"

struct ro_fs {
	struct fs base;
	struct fs *inner;
};

static struct fs *inner_of(struct fs *fs)
{
	return container_of(fs, struct ro_fs, base)->inner;
}

/* -- filtered ops -- */

static int ro_init(struct fs *fs, struct fs_conn *conn)
{
	int r = FS_CALL(inner_of(fs), init, conn);
	/* writeback caching would let the client buffer writes we are going to refuse anyway */
	conn->want &= ~FS_CAP_WRITEBACK_CACHE;
	return r;
}

/* Would opening with these flags allow a change? Write access, truncation and O_TMPFILE do. */
static bool open_flags_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) || (flags & __O_TMPFILE) == __O_TMPFILE;
}

static int ro_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	if (open_flags_write(flags))
		return -EROFS;
	return FS_CALL(inner_of(fs), open, ctx, ino, flags, ret);
}

static int ro_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	if (open_flags_write(flags))
		return -EROFS;
	return FS_CALL(inner_of(fs), opendir, ctx, ino, flags, ret);
}

static int ro_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask)
{
	if (mask & W_OK)
		return -EROFS;
	return FS_CALL(inner_of(fs), access, ctx, ino, mask);
}

static int ro_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *ret)
{
	int r = FS_CALL(inner_of(fs), statfs, ctx, ino, ret);
	if (r >= 0)
		ret->f_flag |= ST_RDONLY;
	return r;
}

static int ro_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		    const struct flock *lk, bool sleep, bool is_flock)
{
	/* flock(2) LOCK_EX works on a read-only file on a real ro mount; a POSIX write lock needs a writable fd,
	 * which we never hand out, so the inner fs refuses it itself (EBADF) */
	return FS_CALL(inner_of(fs), setlk, ctx, ino, fh, owner, lk, sleep, is_flock);
}

/* -- refused ops -- */

static int ro_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *attr,
		      uint32_t to_set, uint64_t fh, struct stat *ret_attr, double *ret_timeout)
{
	return -EROFS;
}
static int ro_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    dev_t rdev, struct fs_entry *ret)
{
	return -EROFS;
}
static int ro_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    struct fs_entry *ret)
{
	return -EROFS;
}
static int ro_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		      const char *target, struct fs_entry *ret)
{
	return -EROFS;
}
static int ro_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t newparent, const char *newname,
		   struct fs_entry *ret)
{
	return -EROFS;
}
static int ro_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	return -EROFS;
}
static int ro_rmdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	return -EROFS;
}
static int ro_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, uint64_t newparent,
		     const char *newname, unsigned flags)
{
	return -EROFS;
}
static int ro_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		     int flags, struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	return -EROFS;
}
static int ro_tmpfile(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, mode_t mode, int flags,
		      struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	return -EROFS;
}
static int ro_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		    const struct iovec *src, int src_cnt, uint32_t write_flags, size_t *ret_len)
{
	return -EROFS;
}
static int ro_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
		       size_t size, int xattr_flags, uint32_t setxattr_flags)
{
	return -EROFS;
}
static int ro_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name)
{
	return -EROFS;
}
static int ro_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off,
			off_t len)
{
	return -EROFS;
}
static int ro_copy_file_range(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino_in, uint64_t fh_in,
			      off_t off_in, uint64_t ino_out, uint64_t fh_out, off_t off_out, size_t len,
			      unsigned flags, size_t *ret_len)
{
	return -EROFS;
}

/* -- forwarded ops -- */

static void ro_destroy(struct fs *fs)
{
	struct fs *in = inner_of(fs);
	/* FS_CALL_VOID needs at least one argument after the op */
	if (in->ops->destroy)
		in->ops->destroy(in);
}
static int ro_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		     struct fs_entry *ret)
{
	return FS_CALL(inner_of(fs), lookup, ctx, parent, name, ret);
}
static void ro_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	FS_CALL_VOID(inner_of(fs), forget, ino, nlookup);
}
static int ro_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
		      struct stat *ret_attr, double *ret_timeout)
{
	return FS_CALL(inner_of(fs), getattr, ctx, ino, fh, has_fh, ret_attr, ret_timeout);
}
static int ro_readlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
		       size_t *ret_len)
{
	return FS_CALL(inner_of(fs), readlink, ctx, ino, buf, size, ret_len);
}
static int ro_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		   const struct iovec *dst, int dst_cnt, size_t *ret_len)
{
	return FS_CALL(inner_of(fs), read, ctx, ino, fh, off, size, dst, dst_cnt, ret_len);
}
static int ro_flush(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	return FS_CALL(inner_of(fs), flush, ctx, ino, fh, lock_owner);
}
static void ro_release(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int flags,
		       uint64_t lock_owner, bool flock_release)
{
	FS_CALL_VOID(inner_of(fs), release, ctx, ino, fh, flags, lock_owner, flock_release);
}
static int ro_fsync(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync)
{
	return FS_CALL(inner_of(fs), fsync, ctx, ino, fh, datasync);
}
static int ro_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
		      struct fs_dirbuf *buf)
{
	return FS_CALL(inner_of(fs), readdir, ctx, ino, fh, off, buf);
}
static void ro_releasedir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh)
{
	FS_CALL_VOID(inner_of(fs), releasedir, ctx, ino, fh);
}
static int ro_fsyncdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync)
{
	return FS_CALL(inner_of(fs), fsyncdir, ctx, ino, fh, datasync);
}
static int ro_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf,
		       size_t size, size_t *ret_size)
{
	return FS_CALL(inner_of(fs), getxattr, ctx, ino, name, buf, size, ret_size);
}
static int ro_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
			size_t *ret_size)
{
	return FS_CALL(inner_of(fs), listxattr, ctx, ino, buf, size, ret_size);
}
static int ro_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		    struct flock *lk)
{
	return FS_CALL(inner_of(fs), getlk, ctx, ino, fh, owner, lk);
}
static int ro_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
		    off_t *ret_off)
{
	return FS_CALL(inner_of(fs), lseek, ctx, ino, fh, off, whence, ret_off);
}
static int ro_syncfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino)
{
	return FS_CALL(inner_of(fs), syncfs, ctx, ino);
}

const struct fs_ops ro_ops = {
	.init = ro_init,
	.destroy = ro_destroy,
	.lookup = ro_lookup,
	.forget = ro_forget,
	.getattr = ro_getattr,
	.setattr = ro_setattr,
	.readlink = ro_readlink,
	.mknod = ro_mknod,
	.mkdir = ro_mkdir,
	.symlink = ro_symlink,
	.link = ro_link,
	.unlink = ro_unlink,
	.rmdir = ro_rmdir,
	.rename = ro_rename,
	.open = ro_open,
	.create = ro_create,
	.tmpfile = ro_tmpfile,
	.read = ro_read,
	.write = ro_write,
	.flush = ro_flush,
	.release = ro_release,
	.fsync = ro_fsync,
	.opendir = ro_opendir,
	.readdir = ro_readdir,
	.releasedir = ro_releasedir,
	.fsyncdir = ro_fsyncdir,
	.statfs = ro_statfs,
	.setxattr = ro_setxattr,
	.getxattr = ro_getxattr,
	.listxattr = ro_listxattr,
	.removexattr = ro_removexattr,
	.access = ro_access,
	.getlk = ro_getlk,
	.setlk = ro_setlk,
	.fallocate = ro_fallocate,
	.lseek = ro_lseek,
	.copy_file_range = ro_copy_file_range,
	.syncfs = ro_syncfs,
};

#define SLOT(n, d) { offsetof(struct fs_ops, n), #n, d }
const struct ro_slot ro_slots[] = {
	SLOT(init, RO_FILTER),
	SLOT(destroy, RO_FORWARD),
	SLOT(lookup, RO_FORWARD),
	SLOT(forget, RO_FORWARD),
	SLOT(getattr, RO_FORWARD),
	SLOT(setattr, RO_REFUSE),
	SLOT(readlink, RO_FORWARD),
	SLOT(mknod, RO_REFUSE),
	SLOT(mkdir, RO_REFUSE),
	SLOT(symlink, RO_REFUSE),
	SLOT(link, RO_REFUSE),
	SLOT(unlink, RO_REFUSE),
	SLOT(rmdir, RO_REFUSE),
	SLOT(rename, RO_REFUSE),
	SLOT(open, RO_FILTER),
	SLOT(create, RO_REFUSE),
	SLOT(tmpfile, RO_REFUSE),
	SLOT(read, RO_FORWARD),
	SLOT(write, RO_REFUSE),
	SLOT(flush, RO_FORWARD),
	SLOT(release, RO_FORWARD),
	SLOT(fsync, RO_FORWARD),
	SLOT(opendir, RO_FILTER),
	SLOT(readdir, RO_FORWARD),
	SLOT(releasedir, RO_FORWARD),
	SLOT(fsyncdir, RO_FORWARD),
	SLOT(statfs, RO_FILTER),
	SLOT(setxattr, RO_REFUSE),
	SLOT(getxattr, RO_FORWARD),
	SLOT(listxattr, RO_FORWARD),
	SLOT(removexattr, RO_REFUSE),
	SLOT(access, RO_FILTER),
	SLOT(getlk, RO_FORWARD),
	SLOT(setlk, RO_FORWARD),
	SLOT(fallocate, RO_REFUSE),
	SLOT(lseek, RO_FORWARD),
	SLOT(copy_file_range, RO_REFUSE),
	SLOT(syncfs, RO_FORWARD),
};
#undef SLOT
_Static_assert(ARRAY_SIZE(ro_slots) == FS_OPS_NSLOTS,
	       "struct fs_ops changed: decide in ro.c whether the new op is forwarded, refused or filtered");
const size_t ro_slots_n = ARRAY_SIZE(ro_slots);

static void ro_free(struct fs *fs)
{
	struct ro_fs *r = container_of(fs, struct ro_fs, base);
	fs_free(r->inner);
	free(r);
}

int ro_new(struct fs *inner, struct fs **ret)
{
	struct ro_fs *r = calloc(1, sizeof(*r));
	if (!r) {
		fs_free(inner);
		return -ENOMEM;
	}
	r->base.ops = &ro_ops;
	r->base.kind = "ro";
	r->base.root = inner->root;
	r->base.free = ro_free;
	r->inner = inner;
	log_debug("ro: wrapping %s", inner->kind);
	*ret = &r->base;
	return 0;
}
