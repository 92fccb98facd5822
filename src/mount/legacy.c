/* SPDX-License-Identifier: MIT */
/*
 * The mount(2) fallback, for kernels without the new mount API (or when forced). mount(2) only takes paths,
 * so every path it sees is "thread-self/fd/N" relative to the private procfs (the process's cwd during the
 * call): the kernel follows the fd's magic link, and no string naming a rootfs path is ever walked.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "internal.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static int restore_cwd(struct bxm_ctx *c)
{
	if (c->root_fd >= 0)
		return RET_NERRNO(fchdir(c->root_fd));
	return RET_NERRNO(chdir("/"));
}

int bxm_legacy_mount(struct bxm_ctx *c, int src_fd, const char *src, int tgt_fd, const char *type,
		     unsigned long flags, const char *data)
{
	char sp[BXM_FDPATH_MAX], tp[BXM_FDPATH_MAX];
	if (c->proc_fd < 0)
		return -ENXIO;
	if (src_fd >= 0) {
		bxm_fdpath(src_fd, sp);
		src = sp;
	}
	bxm_fdpath(tgt_fd, tp);
	if (fchdir(c->proc_fd) < 0)
		return -errno;
	int r = RET_NERRNO(mount(src, tgt_fd >= 0 ? tp : NULL, type, flags, data));
	restore_cwd(c);
	return r;
}

/* Flags of the mount at fd as mount(2) flags. Kept on every remount: in a user namespace the kernel refuses
 * to drop nosuid/nodev/noexec/ro/atime flags a more privileged namespace set (they are "locked"). */
static int current_flags(int fd, unsigned long *ret)
{
	struct statvfs sv;
	if (fstatvfs(fd, &sv) < 0)
		return -errno;
	unsigned long f = 0;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_NOSYMFOLLOW)
		f |= MS_NOSYMFOLLOW;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	else if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	else
		f |= MS_STRICTATIME;
	*ret = f;
	return 0;
}

int bxm_legacy_remount(struct bxm_ctx *c, int fd, unsigned long set, unsigned long clear)
{
	unsigned long cur = 0;
	int r = current_flags(fd, &cur);
	if (r < 0)
		return r;
	/* the atime mode is one value: a new one replaces the old */
	if (set & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME))
		cur &= ~(unsigned long)(MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
	unsigned long f = (cur & ~clear) | set;
	return bxm_legacy_mount(c, -1, NULL, fd, NULL, MS_BIND | MS_REMOUNT | f, NULL);
}

static int mnt_id_of(int fd, uint64_t *ret)
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
		return -errno;
	if (!(sx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	*ret = sx.stx_mnt_id;
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

struct mi_line {
	uint64_t id, parent;
	char *mountpoint;
};

static void mi_free(struct mi_line *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].mountpoint);
	free(v);
}

static int mi_read(struct bxm_ctx *c, struct mi_line **ret, size_t *ret_n)
{
	_cleanup_close_ int fd = openat(c->proc_fd, "thread-self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_fclose_ FILE *f = fdopen(fd, "re");
	if (!f)
		return -errno;
	TAKE_FD(fd);
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	struct mi_line *v = NULL;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long id, parent;
		int off = 0;
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%llu %llu %*u:%*u %*s %n", &id, &parent, &off) < 2 || off == 0)
			continue;
		char *mp = line + off, *end = strchr(mp, ' ');
		if (end)
			*end = '\0';
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			struct mi_line *nv = realloc(v, alloc * sizeof(*v));
			if (!nv) {
				mi_free(v, n);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n].id = id;
		v[n].parent = parent;
		v[n].mountpoint = strdup(mp);
		if (!v[n].mountpoint) {
			mi_free(v, n);
			return -ENOMEM;
		}
		unescape(v[n].mountpoint);
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* After mount(2) on tgt_fd: open the new mount's root. mount(2) gives no fd of what it made, so the target is
 * opened again by a path: not the spec's (its "..", or a symlink met after the mount, can lead somewhere
 * else now that the new mount's content is in the way) but tgt_fd's own canonical path, with no symlink
 * allowed; and since a path can still name something else by then (a rename racing us), the result must
 * prove it is the mount just made on tgt_fd: its parent is the mount tgt_fd lies in, at the place tgt_fd
 * names (mountinfo's mount point). Flags and propagation go to this fd, so never to another mount. */
static int reopen_new_mount(struct bxm_ctx *c, int tgt_fd, bool nofollow, int *ret_fd)
{
	char link[BXM_FDPATH_MAX], want[PATH_MAX];
	uint64_t parent = 0, id = 0;
	bxm_fdpath(tgt_fd, link);
	ssize_t n = readlinkat(c->proc_fd, link, want, sizeof(want) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ESTALE;
	want[n] = '\0';
	int r = mnt_id_of(tgt_fd, &parent);
	if (r < 0)
		return r;
	/* d_path: absolute from this process's root, like mountinfo's mount points */
	if (want[0] != '/')
		return -ESTALE;
	struct open_how how = { .flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0),
				.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int fd = sys_openat2(AT_FDCWD, want, &how);
	if (fd < 0)
		return fd;
	r = mnt_id_of(fd, &id);
	if (r < 0)
		return r;
	if (id == parent)
		return -ESTALE;
	struct mi_line *v = NULL;
	size_t nv = 0;
	r = mi_read(c, &v, &nv);
	if (r < 0)
		return r;
	r = -ESTALE;
	for (size_t i = 0; i < nv; i++)
		if (v[i].id == id && v[i].parent == parent && strcmp(v[i].mountpoint, want) == 0)
			r = 0;
	mi_free(v, nv);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int bxm_legacy_setattr(struct bxm_ctx *c, int fd, uint64_t attr_set, uint64_t attr_clr, bool recursive)
{
	unsigned long set = 0, clear = 0;
	bxm_attr_change_to_ms(attr_set, attr_clr, &set, &clear);
	int r = bxm_legacy_remount(c, fd, set, clear);
	if (r < 0 || !recursive)
		return r;

	/* mount(2) has no recursive remount: walk the submounts the private procfs lists under this one. */
	uint64_t top = 0;
	r = mnt_id_of(fd, &top);
	if (r < 0)
		return r;
	struct mi_line *v = NULL;
	size_t n = 0;
	r = mi_read(c, &v, &n);
	if (r < 0)
		return r;
	bool *in = calloc(n ? n : 1, sizeof(bool));
	if (!in) {
		mi_free(v, n);
		return -ENOMEM;
	}
	/* mark the subtree: repeat until stable (children may be listed before their parents after moves) */
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (in[i])
				continue;
			bool hit = v[i].parent == top;
			for (size_t j = 0; !hit && j < n; j++)
				hit = in[j] && v[j].id == v[i].parent && v[i].id != v[j].id;
			if (hit)
				in[i] = changed = true;
		}
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!in[i])
			continue;
		struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
		_cleanup_close_ int sub = sys_openat2(AT_FDCWD, v[i].mountpoint, &how);
		uint64_t id = 0;
		/* a submount hidden under another mount cannot be reached by path; the one on top is handled */
		if (sub < 0 || mnt_id_of(sub, &id) < 0 || id != v[i].id)
			continue;
		r = bxm_legacy_remount(c, sub, set, clear);
		log_debug("mount: remount %s: %d", v[i].mountpoint, r);
	}
	free(in);
	mi_free(v, n);
	return r;
}

int bxm_legacy_bind(struct bxm_ctx *c, const struct bxm_mount *m, int src_fd, int tgt_fd, int *ret_mnt_fd,
		    struct bxm_error *e)
{
	const struct bxm_options *o = m->opts;
	if (o->idmap)
		return bxm_err_detail(e, "idmapped mounts need mount_setattr (Linux 5.12)"),
		       bxm_fail(e, EOPNOTSUPP, "mount", NULL, NULL);
	int r = bxm_legacy_mount(c, src_fd, NULL, tgt_fd, NULL, MS_BIND | (o->rbind ? MS_REC : 0), NULL);
	if (r < 0)
		return bxm_fail(e, r, "mount", NULL, NULL);
	struct stat st;
	bool link = o->src_nofollow && fstat(src_fd, &st) == 0 && S_ISLNK(st.st_mode);
	r = reopen_new_mount(c, tgt_fd, link, ret_mnt_fd);
	if (r == -ESTALE)
		bxm_err_detail(e, "the mount point changed while it was mounted on");
	return r < 0 ? bxm_fail(e, r, "openat2", NULL, NULL) : 0;
}

int bxm_legacy_fs(struct bxm_ctx *c, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e)
{
	const struct bxm_options *o = m->opts;
	unsigned long f = o->ms_set & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	const char *src = m->source && *m->source ? m->source : m->type;
	int r = bxm_legacy_mount(c, -1, src, tgt_fd, m->type, f, o->data);
	if (r < 0) {
		if (o->data)
			bxm_err_detail(e, "options %s", o->data);
		return bxm_fail(e, r, "mount", NULL, NULL);
	}
	r = reopen_new_mount(c, tgt_fd, false, ret_mnt_fd);
	if (r == -ESTALE)
		bxm_err_detail(e, "the mount point changed while it was mounted on");
	return r < 0 ? bxm_fail(e, r, "openat2", NULL, NULL) : 0;
}
