/* SPDX-License-Identifier: MIT */
/*
 * Passthrough name operations: lookup, forget's partner, and everything that makes, links, removes or renames a
 * name. Each acts with *at() on the parent's fd and a single component, never following a symlink.
 */
#include "fs/pt-entry.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs/pt-cred.h"
#include "fs/pt-int.h"
#include "util/fsetid.h"
#include "util/macros.h"

#define STATX_WANT (STATX_BASIC_STATS | STATX_MNT_ID)
#define DOTDOT_MAX_DEPTH 4096

static uint32_t attr_flags_of(struct pt *pt, const struct pt_inode *parent, const struct pt_inode *n)
{
	/* a host mount point inside the share: the client gives it its own st_dev when submounts are announced */
	return pt->o.announce_submounts && n->mnt_id != parent->mnt_id ? FS_ATTR_SUBMOUNT : 0;
}

static int entry_from_fd(struct pt *pt, struct pt_inode *parent, int fd, struct fs_entry *e, bool *ret_new)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_WANT, &stx) < 0) {
		int r = -errno;
		close(fd);
		pt_fd_unreserve(pt);
		return r;
	}
	struct pt_inode *n;
	int r = pt_inode_add(pt, fd, &stx, &n, ret_new);
	if (r < 0)
		return r;
	pt_fill_entry(pt, n, &stx, attr_flags_of(pt, parent, n), e);
	pt_inode_put(pt, n);
	return 0;
}

int pt_entry_from_fd(struct pt *pt, struct pt_inode *parent, int fd, struct fs_entry *e)
{
	return entry_from_fd(pt, parent, fd, e, NULL);
}

/*
 * Open name and stat what was opened (the attrs must describe the inode we hold, not a name that may have been
 * replaced in between): two syscalls for a new inode, three (the fd closed again) for a known one.
 */
static int lookup_open(struct pt *pt, struct pt_inode *parent, int pfd, const char *name, struct fs_entry *e,
		       bool *ret_new)
{
	int r = pt_fd_reserve(pt);
	if (r < 0)
		return r;
	int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		pt_fd_unreserve(pt);
		return r;
	}
	return entry_from_fd(pt, parent, fd, e, ret_new);
}

/*
 * A lookup either finds a known inode (the client revalidating a name whose entry timed out: one statx by name
 * is all it takes) or a new one (an open and a statx of what was opened; trying the statx by name first would
 * be a third syscall). Which one comes next is guessed from the last few lookups of this thread, as a branch
 * predictor does: a cold tree walk (stat or read of files the client never saw, rm -r after a drop of caches)
 * misses again and again, a warm one hits. A wrong guess costs one syscall more than the right one.
 */
#define MISS_MAX 3
#define MISS_OPEN_FIRST 2
static _Thread_local unsigned lookup_misses; /* saturating: 0..MISS_MAX, at MISS_OPEN_FIRST or more open first */

static void lookup_learn(bool learn, bool miss)
{
	if (!learn)
		return;
	if (miss && lookup_misses < MISS_MAX)
		lookup_misses++;
	else if (!miss && lookup_misses > 0)
		lookup_misses--;
}

/* statx by name first: one syscall when the inode is known; learn: train the guess with the outcome */
static int lookup_stat(struct pt *pt, struct pt_inode *parent, int pfd, const char *name, struct fs_entry *e,
		       bool learn)
{
	struct statx stx;
	if (statx(pfd, name, AT_SYMLINK_NOFOLLOW, STATX_WANT, &stx) < 0)
		return -errno;
	struct pt_inode *n =
		pt_inode_find(pt, makedev(stx.stx_dev_major, stx.stx_dev_minor), (ino_t)stx.stx_ino, stx.stx_mnt_id);
	if (n && !pt_inode_names(pt, n, pfd, name)) {
		pt_inode_unkey(pt, n);
		pt_inode_forget(pt, n->id, 1); /* the count pt_inode_find took */
		pt_inode_put(pt, n);
		n = NULL;
	}
	if (n) {
		lookup_learn(learn, false);
		pt_fill_entry(pt, n, &stx, attr_flags_of(pt, parent, n), e);
		pt_inode_put(pt, n);
		return 0;
	}
	bool created = false;
	int r = lookup_open(pt, parent, pfd, name, e, &created);
	if (r == 0)
		lookup_learn(learn, created);
	return r;
}

int pt_lookup_hint(struct pt *pt, struct pt_inode *parent, int pfd, const char *name, uint64_t d_ino,
		   struct fs_entry *e)
{
	/* getdents64's d_ino says whether the inode can be known, better than the guess (and a listing does not
	 * train it: the client looks up few of the names it listed with readdirplus) */
	if (!pt_inode_known(pt, parent->dev, (ino_t)d_ino, parent->mnt_id))
		return lookup_open(pt, parent, pfd, name, e, NULL);
	return lookup_stat(pt, parent, pfd, name, e, false);
}

int pt_lookup_at(struct pt *pt, struct pt_inode *parent, int pfd, const char *name, struct fs_entry *e)
{
	if (lookup_misses >= MISS_OPEN_FIRST) {
		bool created = false;
		int r = lookup_open(pt, parent, pfd, name, e, &created);
		if (r == 0)
			lookup_learn(true, created);
		if (r != -EMFILE)
			return r;
		/* at the fd ceiling a known inode is still found without an fd: a guess must not make it fail */
		lookup_misses = 0;
	}
	return lookup_stat(pt, parent, pfd, name, e, true);
}

static int stat_self(struct pt *pt, struct pt_inode *n, int fd, struct fs_entry *e)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_WANT, &stx) < 0)
		return -errno;
	pt_inode_ref_lookup(pt, n);
	pt_fill_entry(pt, n, &stx, 0, e);
	return 0;
}

static bool same_file(const struct statx *a, const struct statx *b)
{
	return a->stx_ino == b->stx_ino && a->stx_dev_major == b->stx_dev_major &&
	       a->stx_dev_minor == b->stx_dev_minor && a->stx_mnt_id == b->stx_mnt_id;
}

/* Is the directory fd beneath the root? Walks ".." up until the root (yes) or the top of the tree (no). */
static int is_beneath(struct pt *pt, int fd)
{
	struct statx root;
	if (statx(pt->root->fd, "", AT_EMPTY_PATH, STATX_WANT, &root) < 0)
		return -errno;
	_cleanup_close_ int cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return -errno;
	for (int depth = 0; depth < DOTDOT_MAX_DEPTH; depth++) {
		struct statx here, up;
		if (statx(cur, "", AT_EMPTY_PATH, STATX_WANT, &here) < 0)
			return -errno;
		if (same_file(&here, &root))
			return 1;
		int next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (next < 0)
			return -errno;
		if (statx(next, "", AT_EMPTY_PATH, STATX_WANT, &up) < 0) {
			int r = -errno;
			close(next);
			return r;
		}
		close(cur);
		cur = next;
		if (same_file(&here, &up))
			return 0; /* the top of this process's tree */
	}
	return 0;
}

/*
 * ".." of a directory other than the root. It is known when the client holds the directory by a name (the
 * kernel keeps a parent while it keeps a child); an NFS re-export reconnecting a disconnected directory may ask
 * for one we forgot, which is accepted only if it is still beneath the root (a host-side rename could have
 * moved the directory out of the share).
 */
static int lookup_dotdot(struct pt *pt, struct pt_inode *parent, int pfd, struct fs_entry *e)
{
	struct statx stx;
	if (statx(pfd, "..", AT_SYMLINK_NOFOLLOW, STATX_WANT, &stx) < 0)
		return -errno;
	struct pt_inode *n =
		pt_inode_find(pt, makedev(stx.stx_dev_major, stx.stx_dev_minor), (ino_t)stx.stx_ino, stx.stx_mnt_id);
	if (n && !pt_inode_names(pt, n, pfd, "..")) {
		pt_inode_unkey(pt, n); /* a dead directory whose number the parent reuses (see pt_lookup_at) */
		pt_inode_forget(pt, n->id, 1);
		pt_inode_put(pt, n);
		n = NULL;
	}
	if (n) {
		pt_fill_entry(pt, n, &stx, 0, e);
		pt_inode_put(pt, n);
		return 0;
	}
	int r = pt_fd_reserve(pt);
	if (r < 0)
		return r;
	int fd = openat(pfd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		pt_fd_unreserve(pt);
		return r;
	}
	r = is_beneath(pt, fd);
	if (r <= 0) {
		close(fd);
		pt_fd_unreserve(pt);
		return r < 0 ? r : -ENOENT;
	}
	return pt_entry_from_fd(pt, parent, fd, e);
}

int pt_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent_id, const char *name, struct fs_entry *ret)
{
	struct pt *pt = pt_of(fs);
	int r = pt_check_name(name, false);
	if (r < 0)
		return r;
	bool dot = strcmp(name, ".") == 0;
	struct pt_inode *parent = pt_inode_get(pt, parent_id);
	if (!parent) {
		if (!dot)
			return -ESTALE;
		/* the client reconnecting a file handle of a node it forgot */
		struct statx stx;
		struct pt_inode *n;
		r = pt_inode_resurrect(pt, parent_id, &stx, &n);
		if (r == 0) {
			pt_fill_entry(pt, n, &stx, 0, ret);
			pt_inode_put(pt, n);
		}
		return r;
	}
	int pfd;
	if (!dot && !S_ISDIR(parent->type)) {
		r = -ENOTDIR; /* also every name under a root that is a single file */
		goto out;
	}
	r = pt_inode_fd(pt, parent, &pfd);
	if (r < 0)
		goto out;
	if (dot || (strcmp(name, "..") == 0 && parent == pt->root))
		r = stat_self(pt, parent, pfd, ret); /* "." of any node: the client revalidating a file handle */
	else if (strcmp(name, "..") == 0)
		r = lookup_dotdot(pt, parent, pfd, ret);
	else
		r = pt_lookup_at(pt, parent, pfd, name, ret);
	pt_inode_fd_put(pt, parent);
	if (r == -ENOENT && pt->o.cache == PT_CACHE_ALWAYS) {
		/* a cacheable negative entry: with cache=always the host tree is ours alone */
		memset(ret, 0, sizeof(*ret));
		ret->entry_timeout = pt->entry_timeout;
		r = 0;
	}
out:
	pt_inode_put(pt, parent);
	return r;
}

/* The parent for making or removing name: a directory, its fd pinned. */
static int parent_begin(struct pt *pt, uint64_t parent_id, const char *name, struct pt_inode **ret_parent,
			int *ret_fd)
{
	int r = pt_check_name(name, true);
	if (r < 0)
		return r;
	struct pt_inode *parent = pt_inode_get(pt, parent_id);
	if (!parent)
		return -ESTALE;
	if (!S_ISDIR(parent->type)) {
		pt_inode_put(pt, parent);
		return -ENOTDIR;
	}
	r = pt_inode_fd(pt, parent, ret_fd);
	if (r < 0) {
		pt_inode_put(pt, parent);
		return r;
	}
	*ret_parent = parent;
	return 0;
}

static void parent_end(struct pt *pt, struct pt_inode *parent)
{
	pt_inode_fd_put(pt, parent);
	pt_inode_put(pt, parent);
}

enum make_kind { MAKE_NOD, MAKE_DIR, MAKE_SYMLINK };

static int make_entry(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent_id, const char *name,
		      enum make_kind kind, mode_t mode, dev_t rdev, const char *target, struct fs_entry *ret)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *parent;
	int pfd;
	int r = parent_begin(pt, parent_id, name, &parent, &pfd);
	if (r < 0)
		return r;
	if (mode & S_ISGID) /* kept outside the caller's groups only with CAP_FSETID (util/fsetid.c) */
		thread_fsetid_restore();
	struct pt_cred cred;
	r = pt_cred_enter(ctx, pt->switch_creds, &cred);
	if (r == 0) {
		switch (kind) {
		case MAKE_NOD:
			r = mknodat(pfd, name, mode, rdev);
			break;
		case MAKE_DIR:
			r = mkdirat(pfd, name, mode & 07777);
			break;
		case MAKE_SYMLINK:
			r = symlinkat(target, pfd, name);
			break;
		}
		r = r < 0 ? -errno : 0;
	}
	pt_cred_leave(&cred);
	if (r == 0) /* a new inode (unless the name was replaced already): no statx by name first */
		r = lookup_open(pt, parent, pfd, name, ret, NULL);
	parent_end(pt, parent);
	return r;
}

int pt_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode, dev_t rdev,
	     struct fs_entry *ret)
{
	mode_t type = mode & S_IFMT;
	if (type != 0 && type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
	    type != S_IFSOCK)
		return -EINVAL;
	return make_entry(fs, ctx, parent, name, MAKE_NOD, mode, rdev, NULL, ret);
}

int pt_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
	     struct fs_entry *ret)
{
	return make_entry(fs, ctx, parent, name, MAKE_DIR, mode, 0, NULL, ret);
}

int pt_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, const char *target,
	       struct fs_entry *ret)
{
	/* the target is stored, never resolved by us: any bytes, as on the host, up to PATH_MAX with its NUL */
	if (!target || !target[0])
		return -ENOENT;
	if (strnlen(target, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	return make_entry(fs, ctx, parent, name, MAKE_SYMLINK, 0, 0, target, ret);
}

int pt_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t newparent_id, const char *newname,
	    struct fs_entry *ret)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n = pt_inode_get(pt, ino);
	if (!n)
		return -ESTALE;
	int r, fd;
	if (S_ISDIR(n->type)) {
		r = -EPERM;
		goto out;
	}
	struct pt_inode *parent;
	int pfd;
	r = parent_begin(pt, newparent_id, newname, &parent, &pfd);
	if (r < 0)
		goto out;
	r = pt_inode_fd(pt, n, &fd);
	if (r == 0) {
		r = linkat(fd, "", pfd, newname, AT_EMPTY_PATH);
		if (r < 0 && (errno == ENOENT || errno == EPERM)) {
			/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the magic link names the same inode */
			char pname[32];
			pt_proc_name(pname, fd);
			r = linkat(pt->proc_fd, pname, pfd, newname, AT_SYMLINK_FOLLOW);
		}
		r = r < 0 ? -errno : 0;
		pt_inode_fd_put(pt, n);
	}
	if (r == 0)
		r = pt_lookup_at(pt, parent, pfd, newname, ret);
	parent_end(pt, parent);
out:
	pt_inode_put(pt, n);
	return r;
}

static int remove_entry(struct fs *fs, uint64_t parent_id, const char *name, int flags)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *parent;
	int pfd;
	int r = parent_begin(pt, parent_id, name, &parent, &pfd);
	if (r < 0)
		return r;
	r = unlinkat(pfd, name, flags) < 0 ? -errno : 0;
	parent_end(pt, parent);
	return r;
}

int pt_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	return remove_entry(fs, parent, name, 0);
}

int pt_rmdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	return remove_entry(fs, parent, name, AT_REMOVEDIR);
}

int pt_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent_id, const char *name, uint64_t newparent_id,
	      const char *newname, unsigned flags)
{
	struct pt *pt = pt_of(fs);
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	struct pt_inode *parent, *newparent;
	int pfd, npfd;
	int r = parent_begin(pt, parent_id, name, &parent, &pfd);
	if (r < 0)
		return r;
	r = parent_begin(pt, newparent_id, newname, &newparent, &npfd);
	if (r == 0) {
		r = renameat2(pfd, name, npfd, newname, flags) < 0 ? -errno : 0;
		parent_end(pt, newparent);
	}
	parent_end(pt, parent);
	return r;
}
