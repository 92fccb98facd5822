/* SPDX-License-Identifier: MIT */
/*
 * A spec mount of type "cgroup" (v1), as podman asks for at /sys/fs/cgroup on every container.
 *
 * A bare `mount -t cgroup` means "all v1 controllers in one hierarchy", which the kernel refuses with EBUSY
 * on any host whose controllers are already mounted as separate hierarchies (every hybrid host). What runc
 * does instead, and this file does too: a tmpfs at the destination, then one mount per v1 hierarchy the
 * process belongs to (and the cgroup2 "unified" one), each named as on the host, and a symlink per
 * controller of a co-mounted hierarchy (cpu -> cpu,cpuacct). Each is a bind of the process's own cgroup
 * directory in that hierarchy (per /proc/self/cgroup and mountinfo), or, when the process is in a cgroup
 * namespace (mountinfo then shows the hierarchy's root outside it, "/.."), a fresh mount of the hierarchy,
 * which the kernel roots at the namespace's root. The spec's options (ro, nosuid...) go on every one of
 * them; read-only goes on the tmpfs only once its directories and links exist.
 * On a host without v1 hierarchies, "cgroup" means cgroup2.
 * Runs before pivot_root: the host's cgroup mounts are still reachable at their own paths.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

#define CG_MAX 32 /* hierarchies; the kernel has 14 v1 controllers, named ones are rare */

struct cg_hier {
	char *name;    /* basename of the host mount point: "memory", "cpu,cpuacct", "systemd", "unified" */
	char *mp;      /* host mount point */
	char *root;    /* the mount's root inside its hierarchy, as mountinfo shows it */
	char *opts;    /* v1: the controllers, comma-separated ("cpu,cpuacct", "name=systemd"); v2: NULL */
	bool v2;
	char *cgpath;  /* the process's cgroup in this hierarchy (/proc/self/cgroup) */
};

struct cg_set {
	struct cg_hier h[CG_MAX];
	size_t n;
	bool any_v1;
};

static void cg_set_done(struct cg_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->h[i].name);
		free(s->h[i].mp);
		free(s->h[i].root);
		free(s->h[i].opts);
		free(s->h[i].cgpath);
	}
	s->n = 0;
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

/* The controllers among a v1 mount's super options: everything but rw/ro and the non-controller flags. */
static char *v1_controllers(const char *super)
{
	static const char *const skip[] = { "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode" };
	char *out = calloc(1, strlen(super) + 1);
	if (!out)
		return NULL;
	for (const char *p = super; *p;) {
		size_t n = strcspn(p, ",");
		bool drop = n == 0 || strncmp(p, "release_agent=", 14) == 0;
		for (size_t i = 0; i < ARRAY_SIZE(skip) && !drop; i++)
			drop = strlen(skip[i]) == n && strncmp(p, skip[i], n) == 0;
		if (!drop) {
			if (*out)
				strcat(out, ",");
			strncat(out, p, n);
		}
		p += n + (p[n] == ',');
	}
	return out;
}

/* Whether every controller of a /proc/self/cgroup line ("cpu,cpuacct", "name=systemd") is in opts. */
static bool same_controllers(const char *line_ctrls, const char *opts)
{
	size_t want = 0, have = 0;
	for (const char *p = line_ctrls; *p;) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (const char *q = opts; *q && !found;) {
			size_t m = strcspn(q, ",");
			found = m == n && strncmp(p, q, n) == 0;
			q += m + (q[m] == ',');
		}
		if (!found)
			return false;
		want++;
		p += n + (p[n] == ',');
	}
	for (const char *q = opts; *q; q += strcspn(q, ",") + (q[strcspn(q, ",")] == ','))
		have++;
	return want > 0 && want == have;
}

static int read_hierarchies(struct bxm_ctx *c, struct cg_set *s)
{
	_cleanup_close_ int fd = openat(c->proc_fd, "thread-self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_fclose_ FILE *f = fdopen(fd, "re");
	if (!f)
		return -errno;
	TAKE_FD(fd);
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source super */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char fstype[32], super[512];
		if (sscanf(sep + 3, "%31s %*s %511s", fstype, super) != 2)
			continue;
		bool v2 = strcmp(fstype, "cgroup2") == 0;
		if (!v2 && strcmp(fstype, "cgroup") != 0)
			continue;
		char root[PATH_MAX], mp[PATH_MAX];
		if (sscanf(line, "%*u %*u %*u:%*u %4095s %4095s", root, mp) != 2)
			continue;
		unescape(root);
		unescape(mp);
		const char *base = strrchr(mp, '/');
		base = base ? base + 1 : mp;
		/* the host's layout is one directory of hierarchies; skip a hierarchy seen already and a cgroup2
		 * mounted at the top (a pure v2 host, handled by the caller) */
		if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || (v2 && strcmp(mp, "/sys/fs/cgroup") == 0))
			continue;
		bool dup = false;
		for (size_t i = 0; i < s->n && !dup; i++)
			dup = strcmp(s->h[i].name, base) == 0;
		if (dup || s->n == CG_MAX)
			continue;
		struct cg_hier *h = &s->h[s->n];
		*h = (struct cg_hier){ .v2 = v2 };
		h->name = strdup(base);
		h->mp = strdup(mp);
		h->root = strdup(root);
		h->opts = v2 ? NULL : v1_controllers(super);
		s->n++;
		if (!h->name || !h->mp || !h->root || (!v2 && !h->opts))
			return -ENOMEM;
		if (!v2)
			s->any_v1 = true;
	}
	return 0;
}

static int read_own_cgroups(struct bxm_ctx *c, struct cg_set *s)
{
	_cleanup_close_ int fd = openat(c->proc_fd, "thread-self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_fclose_ FILE *f = fdopen(fd, "re");
	if (!f)
		return -errno;
	TAKE_FD(fd);
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		/* ID:controllers:path; the path may itself hold ':' */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1, *path = c2 + 1;
		for (size_t i = 0; i < s->n; i++) {
			struct cg_hier *h = &s->h[i];
			bool match = h->v2 ? *ctrls == '\0' : same_controllers(ctrls, h->opts);
			if (match && !h->cgpath && !(h->cgpath = strdup(path)))
				return -ENOMEM;
		}
	}
	return 0;
}

/* The process's cgroup relative to the mount's root, or NULL when it is not below it (a cgroup namespace
 * shows the root as "/.."; a mount of a sub-tree may not contain us). */
static const char *below_root(const struct cg_hier *h)
{
	if (!h->cgpath || strncmp(h->root, "/..", 3) == 0)
		return NULL;
	size_t n = strlen(h->root);
	if (strcmp(h->root, "/") == 0)
		return h->cgpath + strspn(h->cgpath, "/");
	if (strncmp(h->cgpath, h->root, n) != 0 || (h->cgpath[n] != '/' && h->cgpath[n] != '\0'))
		return NULL;
	return h->cgpath + n + strspn(h->cgpath + n, "/");
}

static int mount_one(struct bxm_ctx *c, const struct bxm_mount *m, const struct cg_hier *h, int dir_fd,
		     struct bxm_error *e)
{
	const struct bxm_options *o = m->opts;
	_cleanup_close_ int tgt = -1, mnt = -1, src = -1;
	if (mkdirat(dir_fd, h->name, 0755) < 0 && errno != EEXIST)
		return bxm_err_detail(e, "hierarchy %.64s", h->name), bxm_fail(e, errno, "mkdirat", NULL, NULL);
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
	tgt = sys_openat2(dir_fd, h->name, &how);
	if (tgt < 0)
		return bxm_err_detail(e, "hierarchy %.64s", h->name), bxm_fail(e, tgt, "openat2", NULL, NULL);

	const char *rel = below_root(h);
	int r;
	if (rel) {
		/* the host's mount point, then our cgroup beneath it: no string of both is ever walked */
		_cleanup_close_ int mp = open(h->mp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (mp < 0)
			return bxm_err_detail(e, "host hierarchy %.100s", h->mp), bxm_fail(e, errno, "open", NULL, NULL);
		struct open_how bh = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS };
		if (*rel)
			src = sys_openat2(mp, rel, &bh);
		else if ((src = fcntl(mp, F_DUPFD_CLOEXEC, 3)) < 0)
			src = -errno;
		if (src < 0)
			return bxm_err_detail(e, "cgroup %.64s in %.64s", h->cgpath, h->name),
			       bxm_fail(e, src, "openat2", NULL, NULL);
		const struct bxm_mount bm = { .type = "bind", .source = h->mp, .target = m->target, .opts = o };
		r = bxm_bind_at(c, &bm, src, tgt, &mnt, e);
		if (r < 0)
			return r;
		r = bxm_setattr(c, mnt, o->attr_set, o->attr_clr, false, e);
	} else {
		/* in a cgroup namespace: a new mount of the same hierarchy is rooted at the namespace's root */
		struct bxm_options fo = *o;
		fo.data = h->v2 ? NULL : h->opts;
		fo.bind = fo.rbind = false;
		const struct bxm_mount fm = { .type = h->v2 ? "cgroup2" : "cgroup", .source = "cgroup",
					      .target = m->target, .opts = &fo };
		r = bxm_fs_at(c, &fm, tgt, &mnt, e);
	}
	if (r < 0)
		return bxm_err_detail(e, "hierarchy %.64s", h->name), r;
	return 0;
}

int bxm_cgroup_at(struct bxm_ctx *c, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e)
{
	const struct bxm_options *o = m->opts;
	struct cg_set s = { 0 };
	int r = read_hierarchies(c, &s);
	if (r == 0 && s.any_v1)
		r = read_own_cgroups(c, &s);
	if (r < 0) {
		cg_set_done(&s);
		return bxm_err_detail(e, "reading mountinfo and cgroup of the init"), bxm_fail(e, r, "read", NULL, NULL);
	}
	if (!s.any_v1) {
		/* a pure v2 host: "cgroup" can only mean the one hierarchy there is */
		cg_set_done(&s);
		struct bxm_options o2 = *o;
		o2.data = NULL;
		const struct bxm_mount m2 = { .type = "cgroup2", .source = m->source, .target = m->target, .opts = &o2 };
		return bxm_fs_at(c, &m2, tgt_fd, ret_mnt_fd, e);
	}

	/* the tmpfs holding the hierarchies, writable until they are in place */
	struct bxm_options to = *o;
	to.data = (char *)"mode=755";
	to.attr_set &= ~(uint64_t)MOUNT_ATTR_RDONLY;
	to.ms_set &= ~(unsigned long)MS_RDONLY;
	const struct bxm_mount tm = { .type = "tmpfs", .source = "cgroup", .target = m->target, .opts = &to };
	_cleanup_close_ int mnt = -1;
	r = bxm_fs_at(c, &tm, tgt_fd, &mnt, e);
	for (size_t i = 0; r == 0 && i < s.n; i++) {
		if (!s.h[i].cgpath)
			continue; /* a hierarchy we are not in (mounted by someone, not ours): nothing to show */
		r = mount_one(c, m, &s.h[i], mnt, e);
		/* co-mounted controllers get a link each, as on the host: cpu -> cpu,cpuacct */
		for (const char *p = s.h[i].opts; r == 0 && p && strchr(s.h[i].opts, ',') && *p;) {
			size_t n = strcspn(p, ",");
			char link[64];
			if (n < sizeof(link) && strncmp(p, "name=", 5) != 0) {
				memcpy(link, p, n);
				link[n] = '\0';
				if (symlinkat(s.h[i].name, mnt, link) < 0 && errno != EEXIST) {
					bxm_err_detail(e, "link %s", link);
					r = bxm_fail(e, errno, "symlinkat", NULL, NULL);
				}
			}
			p += n + (p[n] == ',');
		}
	}
	cg_set_done(&s);
	if (r == 0 && (o->attr_set & MOUNT_ATTR_RDONLY))
		r = bxm_setattr(c, mnt, MOUNT_ATTR_RDONLY, 0, false, e);
	if (r < 0)
		return r;
	bxm_err_begin(e, "mount cgroup", m->target);
	*ret_mnt_fd = TAKE_FD(mnt);
	return 0;
}
