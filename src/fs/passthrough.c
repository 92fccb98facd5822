/* SPDX-License-Identifier: MIT */
/*
 * The passthrough backend: construction, options, connection set-up and teardown, the ops table, and the small
 * helpers every pt-*.c file shares (names, attrs, reopening an inode for I/O).
 *
 * What the client can reach is exactly what is beneath the root fd: every name is one component resolved with
 * *at() on a held directory fd without following symlinks, ".." of the root is the root, and I/O opens go
 * through the inode's own fd (via a procfs "self/fd/N" magic link, which names that inode and nothing else).
 */
#include "fs/passthrough.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "fs/pt-attr.h"
#include "fs/pt-dir.h"
#include "fs/pt-entry.h"
#include "fs/pt-fh.h"
#include "fs/pt-file.h"
#include "fs/pt-int.h"
#include "fs/pt-lock.h"
#include "util/log.h"
#include "util/macros.h"

/* fds kept outside both ceilings: the transport, the proc fd, mount fds, logging */
#define PT_FD_RESERVE 64

void pt_opts_default(struct pt_opts *o)
{
	*o = (struct pt_opts){
		.handles = PT_HANDLES_NEVER,
		.max_fds = 0,
		.cache = PT_CACHE_AUTO,
		.writeback = false,
		.xattr = true,
		.announce_submounts = false,
	};
}

int pt_cache_parse(const char *s, enum pt_cache *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "never") == 0 || strcmp(s, "none") == 0) /* "none": virtiofsd's old spelling */
		*ret = PT_CACHE_NEVER;
	else if (strcmp(s, "auto") == 0 || strcmp(s, "metadata") == 0)
		*ret = PT_CACHE_AUTO;
	else if (strcmp(s, "always") == 0)
		*ret = PT_CACHE_ALWAYS;
	else
		return -EINVAL;
	return 0;
}

int pt_handles_parse(const char *s, enum pt_handles *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "never") == 0)
		*ret = PT_HANDLES_NEVER;
	else if (strcmp(s, "prefer") == 0)
		*ret = PT_HANDLES_PREFER;
	else if (strcmp(s, "mandatory") == 0)
		*ret = PT_HANDLES_MANDATORY;
	else
		return -EINVAL;
	return 0;
}

/* ---- shared helpers ---- */

int pt_check_name(const char *name, bool new_name)
{
	if (!name || !name[0])
		return -EINVAL;
	size_t len = strnlen(name, NAME_MAX + 1);
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', len))
		return -EINVAL;
	if (new_name && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
		return -EINVAL;
	return 0;
}

void pt_proc_name(char buf[static 32], int fd)
{
	snprintf(buf, 32, "self/fd/%d", fd);
}

void pt_statx_to_stat(struct pt *pt, const struct statx *stx, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	st->st_ino = pt_client_ino(pt, st->st_dev, stx->stx_ino);
	st->st_mode = stx->stx_mode;
	st->st_nlink = stx->stx_nlink;
	st->st_uid = stx->stx_uid;
	st->st_gid = stx->stx_gid;
	st->st_rdev = makedev(stx->stx_rdev_major, stx->stx_rdev_minor);
	st->st_size = (off_t)stx->stx_size;
	st->st_blksize = stx->stx_blksize;
	st->st_blocks = (blkcnt_t)stx->stx_blocks;
	st->st_atim = (struct timespec){ stx->stx_atime.tv_sec, stx->stx_atime.tv_nsec };
	st->st_mtim = (struct timespec){ stx->stx_mtime.tv_sec, stx->stx_mtime.tv_nsec };
	st->st_ctim = (struct timespec){ stx->stx_ctime.tv_sec, stx->stx_ctime.tv_nsec };
}

int pt_stat_fd(struct pt *pt, struct pt_inode *inode, int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	st->st_ino = inode->st_ino;
	return 0;
}

void pt_fill_entry(struct pt *pt, struct pt_inode *inode, const struct statx *stx, uint32_t attr_flags,
		   struct fs_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = inode->id;
	e->generation = pt->generation;
	pt_statx_to_stat(pt, stx, &e->attr);
	e->attr.st_ino = inode->st_ino;
	e->attr_flags = attr_flags;
	e->entry_timeout = pt->entry_timeout;
	e->attr_timeout = pt->attr_timeout;
}

int pt_reopen(struct pt *pt, struct pt_inode *inode, int fd, int flags)
{
	if (S_ISLNK(inode->type))
		return -ELOOP;
	if (!S_ISREG(inode->type) && !S_ISDIR(inode->type))
		return -EACCES; /* device nodes, fifos, sockets: never opened through the share */
	/* What the client may ask for; creating, following and path-only opens are decided here. */
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_PATH | __O_TMPFILE | O_CLOEXEC | FASYNC);
	if (S_ISDIR(inode->type)) {
		if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
			return -EISDIR;
		int r = openat(fd, ".", flags | O_DIRECTORY | O_CLOEXEC);
		return r < 0 ? -errno : r;
	}
	char name[32];
	pt_proc_name(name, fd);
	int r = openat(pt->proc_fd, name, flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

/* ---- set-up and teardown ---- */

static int pt_init(struct fs *fs, struct fs_conn *conn)
{
	struct pt *pt = pt_of(fs);
	uint64_t want = conn->want;
	/* proto's choice, restricted to what this backend is configured for: writeback and submounts only when
	 * its options say so (POSIX ACLs are proto's to grant: the host applies them, see pt_setxattr) */
	want &= ~(FS_CAP_WRITEBACK_CACHE | FS_CAP_SUBMOUNTS);
	if (pt->o.writeback)
		want |= FS_CAP_WRITEBACK_CACHE;
	if (pt->o.announce_submounts)
		want |= FS_CAP_SUBMOUNTS;
	want &= conn->capable;
	conn->want = want;
	pt->export_support = want & FS_CAP_EXPORT_SUPPORT;
	pt->writeback = want & FS_CAP_WRITEBACK_CACHE;
	pt->killpriv_v2 = want & FS_CAP_HANDLE_KILLPRIV_V2;
	return 0;
}

static void pt_destroy(struct fs *fs)
{
	struct pt *pt = pt_of(fs);
	pt_fh_release_all(pt);
	pt_inode_forget_all(pt);
}

static void pt_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	pt_inode_forget(pt_of(fs), ino, nlookup);
}

static const struct fs_ops pt_ops = {
	.init = pt_init,
	.destroy = pt_destroy,
	.lookup = pt_lookup,
	.forget = pt_forget,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.readlink = pt_readlink,
	.mknod = pt_mknod,
	.mkdir = pt_mkdir,
	.symlink = pt_symlink,
	.link = pt_link,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.rename = pt_rename,
	.open = pt_open,
	.create = pt_create,
	.tmpfile = pt_tmpfile,
	.read = pt_read,
	.write = pt_write,
	.flush = pt_flush,
	.release = pt_release,
	.fsync = pt_fsync,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.releasedir = pt_releasedir,
	.fsyncdir = pt_fsyncdir,
	.statfs = pt_statfs,
	.setxattr = pt_setxattr,
	.getxattr = pt_getxattr,
	.listxattr = pt_listxattr,
	.removexattr = pt_removexattr,
	.access = pt_access,
	.getlk = pt_getlk,
	.setlk = pt_setlk,
	.fallocate = pt_fallocate,
	.lseek = pt_lseek,
	.copy_file_range = pt_copy_file_range,
	.syncfs = pt_syncfs,
};

static void pt_free(struct fs *fs)
{
	struct pt *pt = pt_of(fs);
	if (!pt)
		return;
	pt_fh_fini(pt);
	pt_itab_fini(pt);
	pt_lock_fini(pt);
	if (pt->map) {
		if (pt->space)
			fs_inomap_space_free(pt->map, pt->space);
		fs_inomap_unref(pt->map);
	}
	safe_close(pt->proc_fd);
	free(pt);
}

/* Can this process reopen by handle? (needs CAP_DAC_READ_SEARCH and a file system that exports handles) */
static int check_handles(struct pt *pt)
{
	struct pt_inode *root = pt->root;
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} buf;
	buf.h.handle_bytes = MAX_HANDLE_SZ;
	int mnt_id;
	if (name_to_handle_at(root->fd, "", &buf.h, &mnt_id, AT_EMPTY_PATH) < 0)
		return -errno;
	int mfd = pt_mount_fd(pt, root->mnt_id, root->fd, root->type);
	if (mfd < 0)
		return mfd;
	int fd = open_by_handle_at(mfd, &buf.h, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int pt_new(int root_fd, int proc_fd, const struct pt_opts *o, struct fs_inomap *map, struct fs **ret)
{
	_cleanup_close_ int rfd = root_fd;
	if (root_fd < 0 || proc_fd < 0 || !o || !map || !ret)
		return -EINVAL;
	struct statfs sfs;
	if (fstatfs(proc_fd, &sfs) < 0)
		return -errno;
	if (sfs.f_type != PROC_SUPER_MAGIC)
		return -EINVAL;

	struct pt *pt = calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->proc_fd = -1;
	pt->o = *o;
	pt->fs.ops = &pt_ops;
	pt->fs.kind = "passthrough";
	pt->fs.free = pt_free;
	pt_lock_init(pt);
	int r = pt_itab_init(pt);
	if (r < 0)
		goto fail;
	r = pt_fh_init(pt);
	if (r < 0)
		goto fail;
	pt->proc_fd = fcntl(proc_fd, F_DUPFD_CLOEXEC, 3);
	if (pt->proc_fd < 0) {
		r = -errno;
		goto fail;
	}
	pt->map = fs_inomap_ref(map);
	r = fs_inomap_space_new(map, &pt->fs, &pt->space);
	if (r < 0) {
		pt->space = 0;
		goto fail;
	}

	/* Ceilings: inode fds (max_fds) and open-file fds (max_open) share RLIMIT_NOFILE with a reserve. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		r = -errno;
		goto fail;
	}
	/*
	 * Without --max-fds, inode fds get most of the limit: with handles=never every inode the client knows
	 * holds one (a 10k-entry directory needs 10k), while open files need few (an eighth, at least 256).
	 */
	unsigned nofile = rl.rlim_cur > 1u << 30 ? 1u << 30 : (unsigned)rl.rlim_cur;
	unsigned open_share = MAX(nofile / 8, 256u);
	pt->max_fds = o->max_fds ? o->max_fds
				 : (nofile > open_share + PT_FD_RESERVE + 16 ? nofile - open_share - PT_FD_RESERVE : 16);
	if (pt->max_fds < 4) { /* the root, a parent and a child, and one reopen in flight */
		r = -EINVAL;
		goto fail;
	}
	pt->max_open = nofile > pt->max_fds + PT_FD_RESERVE + 64 ? nofile - pt->max_fds - PT_FD_RESERVE : 64;

	r = pt_inode_new_root(pt, rfd);
	if (r < 0)
		goto fail;
	TAKE_FD(rfd);
	pt->fs.root = pt->root->id;

	if (o->handles != PT_HANDLES_NEVER) {
		r = check_handles(pt);
		if (r < 0) {
			if (o->handles == PT_HANDLES_MANDATORY)
				goto fail;
			log_debug("passthrough: file handles unavailable (%s): holding an fd per inode",
				  strerror(-r));
		} else {
			pt->use_handles = true;
		}
	}
	pt->switch_creds = geteuid() == 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* node ids are never reused within a server; the generation tells this server's ids from an earlier
	 * one's (an NFS re-export handle that outlived a restart) */
	pt->generation = ((uint64_t)now.tv_sec << 20) ^ (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 40);
	switch (o->cache) {
	case PT_CACHE_NEVER:
		pt->entry_timeout = pt->attr_timeout = 0;
		break;
	case PT_CACHE_AUTO:
		pt->entry_timeout = pt->attr_timeout = 1.0;
		break;
	case PT_CACHE_ALWAYS:
		pt->entry_timeout = pt->attr_timeout = 86400.0;
		break;
	}
	*ret = &pt->fs;
	return 0;
fail:
	pt_free(&pt->fs);
	return r;
}
