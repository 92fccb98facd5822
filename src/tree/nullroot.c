/* SPDX-License-Identifier: MIT */
/*
 * The null root. It has one node, its root, which lists only "." and "..". Lookups of other names answer
 * ENOENT, anything that would create or change a name answers EROFS (explicitly, so the client reports EROFS
 * and not ENOSYS), and it makes no host syscall at all.
 */
#include "tree/nullroot.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/macros.h"

struct nullroot {
	struct fs base;
	struct fs_inomap *map;
	uint32_t space;
	struct stat attr;
};

static struct nullroot *nr_of(struct fs *fs)
{
	return container_of(fs, struct nullroot, base);
}

static bool is_root(struct fs *fs, uint64_t ino)
{
	return ino == FS_ROOT_ID || ino == fs->root;
}

static int nr_init(struct fs *fs, struct fs_conn *conn)
{
	conn->want &= ~FS_CAP_WRITEBACK_CACHE;
	return 0;
}

static int nr_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		     struct fs_entry *ret)
{
	if (!is_root(fs, parent))
		return -ENOENT;
	if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
		return -ENOENT;
	*ret = (struct fs_entry){ .ino = fs->root, .attr = nr_of(fs)->attr, .entry_timeout = 1, .attr_timeout = 1 };
	return 0;
}

static int nr_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
		      struct stat *ret_attr, double *ret_timeout)
{
	if (!is_root(fs, ino))
		return -ENOENT;
	*ret_attr = nr_of(fs)->attr;
	*ret_timeout = 1;
	return 0;
}

static int nr_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	if (!is_root(fs, ino))
		return -ENOENT;
	*ret = (struct fs_open){ .fh = 0, .flags = FS_OPEN_CACHE_DIR, .backing_fd = -1 };
	return 0;
}

static int nr_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
		      struct fs_dirbuf *buf)
{
	if (!is_root(fs, ino))
		return -ENOENT;
	/* cookies: 1 after ".", 2 after ".." */
	if (off == 0 && fs_dirbuf_add(buf, ".", 1, nr_of(fs)->attr.st_ino, DT_DIR, 1) < 0)
		return 0;
	if (off <= 1)
		fs_dirbuf_add(buf, "..", 2, nr_of(fs)->attr.st_ino, DT_DIR, 2);
	return 0;
}

static int nr_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *ret)
{
	*ret = (struct statvfs){ .f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255, .f_flag = ST_RDONLY };
	return 0;
}

static int nr_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask)
{
	if (!is_root(fs, ino))
		return -ENOENT;
	return (mask & W_OK) ? -EROFS : 0;
}

static int nr_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf,
		       size_t size, size_t *ret_size)
{
	return -ENODATA;
}

static int nr_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
			size_t *ret_size)
{
	*ret_size = 0;
	return 0;
}

static int nr_rofs(void)
{
	return -EROFS;
}

static int nr_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *attr,
		      uint32_t to_set, uint64_t fh, struct stat *ret_attr, double *ret_timeout)
{
	return nr_rofs();
}
static int nr_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    dev_t rdev, struct fs_entry *ret)
{
	return nr_rofs();
}
static int nr_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    struct fs_entry *ret)
{
	return nr_rofs();
}
static int nr_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		      const char *target, struct fs_entry *ret)
{
	return nr_rofs();
}
static int nr_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t newparent, const char *newname,
		   struct fs_entry *ret)
{
	return nr_rofs();
}
static int nr_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	return is_root(fs, parent) ? -ENOENT : nr_rofs();
}
static int nr_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, uint64_t newparent,
		     const char *newname, unsigned flags)
{
	return nr_rofs();
}
static int nr_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		     int flags, struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	return nr_rofs();
}
static int nr_tmpfile(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, mode_t mode, int flags,
		      struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	return nr_rofs();
}
static int nr_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
		       size_t size, int xattr_flags, uint32_t setxattr_flags)
{
	return nr_rofs();
}
static int nr_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name)
{
	return nr_rofs();
}

static const struct fs_ops nr_ops = {
	.init = nr_init,
	.lookup = nr_lookup,
	.getattr = nr_getattr,
	.setattr = nr_setattr,
	.mknod = nr_mknod,
	.mkdir = nr_mkdir,
	.symlink = nr_symlink,
	.link = nr_link,
	.unlink = nr_unlink,
	.rmdir = nr_unlink,
	.rename = nr_rename,
	.create = nr_create,
	.tmpfile = nr_tmpfile,
	.opendir = nr_opendir,
	.readdir = nr_readdir,
	.statfs = nr_statfs,
	.setxattr = nr_setxattr,
	.getxattr = nr_getxattr,
	.listxattr = nr_listxattr,
	.removexattr = nr_removexattr,
	.access = nr_access,
	/* forget, releasedir: nothing to release; open, read, write...: there is no file */
};

static void nr_free(struct fs *fs)
{
	struct nullroot *n = nr_of(fs);
	fs_inomap_space_free(n->map, n->space);
	fs_inomap_unref(n->map);
	free(n);
}

int nullroot_new(struct fs_inomap *map, mode_t mode, uid_t uid, gid_t gid, struct fs **ret)
{
	struct nullroot *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	int r = fs_inomap_space_new(map, &n->base, &n->space);
	if (r < 0) {
		free(n);
		return r;
	}
	n->map = fs_inomap_ref(map);
	n->base.ops = &nr_ops;
	n->base.kind = "nullroot";
	n->base.root = fs_ino_make(n->space, 1);
	n->base.free = nr_free;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	n->attr.st_ino = FS_ROOT_ID;
	n->attr.st_mode = S_IFDIR | (mode & 07777);
	n->attr.st_nlink = 2;
	n->attr.st_uid = uid;
	n->attr.st_gid = gid;
	n->attr.st_blksize = 4096;
	n->attr.st_atim = n->attr.st_mtim = n->attr.st_ctim = now;
	*ret = &n->base;
	return 0;
}
