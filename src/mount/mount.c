/* SPDX-License-Identifier: MIT */
/* One spec mount: resolve (and create) the target inside the root, then hand off to the new API or to
 * mount(2), then attributes and propagation on the new mount. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "internal.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

static int open_in_root(int root_fd, const char *path, int flags, mode_t mode, int *ret_fd)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = mode, .resolve = IN_ROOT };
	int fd = sys_openat2(root_fd, path, &how);
	if (fd == -EAGAIN) /* a rename raced the lookup: the kernel asks to retry */
		fd = sys_openat2(root_fd, path, &how);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

/* Splice a symlink met while creating a path: prefix (up to the link's parent), the link's target, and
 * what was left of the path after the link. An absolute target starts again at the root. */
static int splice_link(char *path, size_t size, size_t parent_len, const char *target, const char *rest)
{
	char buf[PATH_MAX];
	int n;
	if (target[0] == '/')
		n = snprintf(buf, sizeof(buf), "%s/%s", target, rest);
	else
		n = snprintf(buf, sizeof(buf), "%.*s/%s/%s", (int)parent_len, path, target, rest);
	if (n < 0 || (size_t)n >= sizeof(buf) || (size_t)n >= size)
		return -ENAMETOOLONG;
	memcpy(path, buf, (size_t)n + 1);
	return 0;
}

/* bxm_mkpath_in_root(), saying which call failed (*ret_syscall): mkdirat on a read-only rootfs is the usual
 * one, and "openat2: read-only file system" would send the reader looking in the wrong place. */
static int mkpath(int root_fd, const char *want, bool make_file, int *ret_fd, const char **ret_syscall)
{
	char path[PATH_MAX], prefix[PATH_MAX];
	int links = 0, r;

	if (!want || strlen(want) >= sizeof(path))
		return -ENAMETOOLONG;
	strcpy(path, want);
restart:;
	_cleanup_close_ int parent = -1;
	size_t len = 0;
	r = open_in_root(root_fd, ".", O_PATH | O_DIRECTORY, 0, &parent);
	if (r < 0)
		return r;
	prefix[0] = '\0';
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t clen = (size_t)(end - p);
		bool last = !*end || !end[strspn(end, "/")];
		char name[NAME_MAX + 1];
		if (clen > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, clen);
		name[clen] = '\0';
		size_t parent_len = len;
		prefix[len++] = '/';
		memcpy(prefix + len, p, clen);
		len += clen;
		prefix[len] = '\0';
		p = end;
		if (strcmp(name, ".") == 0 && !last)
			continue;

		/* Each prefix is resolved from the root again, so a symlink met on the way is followed inside the
		 * root, and ".." never climbs above it. */
		int fd = -1;
		r = open_in_root(root_fd, prefix, O_PATH, 0, &fd);
		if (r == -ENOENT) {
			/* A dangling symlink: create what it points to, inside the root (mkdir -p through links). */
			char target[PATH_MAX];
			ssize_t tl = readlinkat(parent, name, target, sizeof(target) - 1);
			if (tl > 0) {
				target[tl] = '\0';
				if (++links > 40)
					return -ELOOP;
				r = splice_link(prefix, sizeof(prefix), parent_len, target, p + strspn(p, "/"));
				if (r < 0)
					return r;
				strcpy(path, prefix);
				goto restart;
			}
			if (last && make_file) {
				/* O_EXCL: a FIFO or device planted here meanwhile is never opened (a FIFO would
				 * block, a device open can have effects); it is then taken as found, by O_PATH */
				r = open_in_root(root_fd, prefix, O_CREAT | O_EXCL | O_RDONLY | O_NOCTTY | O_NONBLOCK, 0644,
						 &fd);
				if (r == -EISDIR || r == -EEXIST)
					r = open_in_root(root_fd, prefix, O_PATH, 0, &fd);
			} else {
				/* create the name in the directory the prefix resolved to, not by path */
				if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
					*ret_syscall = "mkdirat";
					return -errno;
				}
				r = open_in_root(root_fd, prefix, O_PATH, 0, &fd);
			}
		}
		if (r < 0)
			return r;
		if (!last) {
			struct stat st;
			if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
				close(fd);
				return -ENOTDIR;
			}
		}
		safe_close(parent);
		parent = fd;
	}
	*ret_fd = TAKE_FD(parent);
	return 0;
}

int bxm_mkpath_in_root(int root_fd, const char *want, bool make_file, int *ret_fd)
{
	const char *sc = NULL;
	return mkpath(root_fd, want, make_file, ret_fd, &sc);
}

/* The mount point of a mount, created in the root, with the error record filled. */
static int mount_point(struct bxm_ctx *c, const char *target, bool file, int *ret_fd, struct bxm_error *e)
{
	const char *sc = "openat2";
	int r = mkpath(c->root_fd, target, file, ret_fd, &sc);
	if (r < 0)
		return bxm_err_detail(e, "creating the mount point inside the root"), bxm_fail(e, r, sc, NULL, NULL);
	return 0;
}

int bxm_open_source(struct bxm_ctx *c, const char *source, bool nofollow, int *ret_fd)
{
	if (!source || !*source)
		return -EINVAL;
	int fd = openat(c->bundle_fd, source, O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int bxm_setattr(struct bxm_ctx *c, int fd, uint64_t set, uint64_t clr, bool recursive, struct bxm_error *e)
{
	if (!set && !clr)
		return 0;
	int r;
	if (c->setattr) {
		struct mount_attr a = { .attr_set = set, .attr_clr = clr };
		r = sys_mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a);
		return r < 0 ? bxm_fail(e, r, "mount_setattr", NULL, NULL) : 0;
	}
	r = bxm_legacy_setattr(c, fd, set, clr, recursive);
	return r < 0 ? bxm_fail(e, r, "mount", NULL, NULL) : 0;
}

int bxm_bind_at(struct bxm_ctx *c, const struct bxm_mount *m, int src_fd, int tgt_fd, int *ret_mnt_fd,
		struct bxm_error *e)
{
	return c->new_api ? bxm_api_bind(c, m, src_fd, tgt_fd, ret_mnt_fd, e)
			  : bxm_legacy_bind(c, m, src_fd, tgt_fd, ret_mnt_fd, e);
}

int bxm_fs_at(struct bxm_ctx *c, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e)
{
	return c->new_api ? bxm_api_fs(c, m, tgt_fd, ret_mnt_fd, e) : bxm_legacy_fs(c, m, tgt_fd, ret_mnt_fd, e);
}

int bxm_propagate_fd(struct bxm_ctx *c, int fd, unsigned long prop, bool recursive, struct bxm_error *e)
{
	int r;
	if (c->setattr) {
		struct mount_attr a = { .propagation = prop };
		r = sys_mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a);
		return r < 0 ? bxm_fail(e, r, "mount_setattr", NULL, NULL) : 0;
	}
	r = bxm_legacy_mount(c, -1, NULL, fd, NULL, prop | (recursive ? MS_REC : 0), NULL);
	return r < 0 ? bxm_fail(e, r, "mount", NULL, NULL) : 0;
}

int bxm_mount(struct bxm_ctx *c, const struct bxm_mount *m, struct bxm_error *e)
{
	static const struct bxm_options none = { 0 };
	const struct bxm_options *o = m->opts ? m->opts : &none;
	struct bxm_mount mm = *m;
	mm.opts = o;
	bool bind = o->bind || (m->type && strcmp(m->type, "bind") == 0);
	char what[256];
	_cleanup_close_ int src = -1, tgt = -1, mnt = -1;
	int r;

	if (bind)
		snprintf(what, sizeof(what), "bind %s", m->source ? m->source : "(no source)");
	else
		snprintf(what, sizeof(what), "mount %s", m->type ? m->type : "(no type)");
	bxm_err_begin(e, what, m->target);
	if (c->root_fd < 0)
		return bxm_fail(e, EBADFD, NULL, NULL, NULL);
	if (!m->target || !*m->target)
		return bxm_fail(e, EINVAL, NULL, NULL, NULL);
	if (!bind && (!m->type || !*m->type))
		return bxm_err_detail(e, "no filesystem type"), bxm_fail(e, EINVAL, NULL, NULL, NULL);

	bool file = false;
	if (m->use_tree_fd) {
		/* a tree made by the runtime: attach it as it is (idmap already set) */
		if (!c->new_api)
			return bxm_err_detail(e, "a prepared mount needs the new mount API"),
			       bxm_fail(e, EOPNOTSUPP, "move_mount", NULL, NULL);
		struct stat st;
		if (fstat(m->tree_fd, &st) < 0)
			return bxm_fail(e, errno, "fstat", NULL, NULL);
		r = mount_point(c, m->target, !S_ISDIR(st.st_mode), &tgt, e);
		if (r < 0)
			return r;
		r = sys_move_mount(m->tree_fd, "", tgt, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
		if (r < 0)
			return bxm_fail(e, r, "move_mount", NULL, NULL);
		mnt = fcntl(m->tree_fd, F_DUPFD_CLOEXEC, 3);
		if (mnt < 0)
			return bxm_fail(e, errno, "fcntl", NULL, NULL);
	} else if (bind) {
		r = bxm_open_source(c, m->source, o->src_nofollow, &src);
		if (r < 0)
			return bxm_err_detail(e, "source %.100s", m->source ? m->source : ""),
			       bxm_fail(e, r, "openat", NULL, NULL);
		struct stat st;
		if (fstat(src, &st) < 0)
			return bxm_fail(e, errno, "fstat", NULL, NULL);
		file = !S_ISDIR(st.st_mode);
	}
	if (tgt < 0) {
		r = mount_point(c, m->target, file, &tgt, e);
		if (r < 0)
			return r;
	}
	/* "/", "/a/..", a symlink to "/": a mount over the root itself would be hidden under it by pivot_root
	 * (which enters the root through root_fd) or, with mount(2), make the options land on the root */
	struct stat ts, rs;
	if (fstat(tgt, &ts) < 0 || fstat(c->root_fd, &rs) < 0)
		return bxm_fail(e, errno, "fstat", NULL, NULL);
	if (ts.st_dev == rs.st_dev && ts.st_ino == rs.st_ino)
		return bxm_err_detail(e, "the destination is the container's root; that is root.path's job"),
		       bxm_fail(e, EINVAL, NULL, NULL, NULL);

	if (m->use_tree_fd)
		r = 0;
	else if (bind)
		r = bxm_bind_at(c, &mm, src, tgt, &mnt, e);
	else if (strcmp(m->type, "cgroup") == 0)
		r = bxm_cgroup_at(c, &mm, tgt, &mnt, e);
	else
		r = bxm_fs_at(c, &mm, tgt, &mnt, e);
	if (r < 0)
		return r;

	/* A bind copies the source's flags: the options apply afterwards, to the top mount. (A new filesystem
	 * got them from fsmount() or mount(2) already.) */
	if (bind || m->use_tree_fd) {
		r = bxm_setattr(c, mnt, o->attr_set, o->attr_clr, false, e);
		if (r < 0)
			return r;
	}
	r = bxm_setattr(c, mnt, o->rattr_set, o->rattr_clr, true, e);
	if (r < 0)
		return r;
	if (o->propagation) {
		r = bxm_propagate_fd(c, mnt, o->propagation, o->prop_recursive, e);
		if (r < 0)
			return r;
	}
	log_debug("mount: %s on %s", what, m->target);
	return 0;
}

int bxm_bind_fd(struct bxm_ctx *c, int src_fd, const char *target, struct bxm_error *e)
{
	_cleanup_close_ int tgt = -1, mnt = -1;
	struct stat st;
	bxm_err_begin(e, "bind", target);
	if (c->root_fd < 0)
		return bxm_fail(e, EBADFD, NULL, NULL, NULL);
	if (fstat(src_fd, &st) < 0)
		return bxm_fail(e, errno, "fstat", NULL, NULL);
	int r = mount_point(c, target, !S_ISDIR(st.st_mode), &tgt, e);
	if (r < 0)
		return r;
	static const struct bxm_options o = { .bind = true };
	const struct bxm_mount m = { .type = "bind", .source = "(fd)", .target = target, .opts = &o };
	return bxm_bind_at(c, &m, src_fd, tgt, &mnt, e);
}
