/* SPDX-License-Identifier: MIT */
/* cgroup v2, v1 and the hybrid layout: find the hierarchies, create the container's cgroup, apply limits. */
#include "runtime/cgroup.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

#define CG_MAX_HIER 16
#define CG_PATH_MAX 4096

/* The controllers we set limits through. */
enum cg_ctrl { CG_MEMORY, CG_PIDS, CG_CPU, CG_DEVICES, CG_NCTRL };
static const char *const ctrl_names[CG_NCTRL] = { "memory", "pids", "cpu", "devices" };

struct cg_hier {
	char *mnt;      /* mount point */
	char *self;     /* our own cgroup in it, relative to the mount's root ("/" or "/a/b") */
	bool v2;
	unsigned ctrls; /* 1u << enum cg_ctrl attached here (v1), or enabled (v2) */
};

struct cg_layout {
	struct cg_hier h[CG_MAX_HIER];
	size_t n;
	int unified; /* index of the cgroup2 hierarchy, -1 if none */
};

static void layout_free(struct cg_layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->h[i].mnt);
		free(l->h[i].self);
	}
	l->n = 0;
}

static int read_file_at(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	return (int)len;
}

static int write_file_at(int dirfd, const char *name, const char *value)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size_t n = strlen(value);
	ssize_t w = write(fd, value, n);
	if (w < 0)
		return -errno;
	return (size_t)w == n ? 0 : -EIO;
}

/* /proc/self/cgroup: "0::/path" (v2) or "N:ctrl,ctrl:/path" (v1); finds our path for a hierarchy. */
static char *self_path(bool v2, const char *ctrl)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return NULL;
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = 0;
		const char *ctrls = c1 + 1, *path = c2 + 1;
		if (v2 ? strcmp(line, "0") == 0 && !*ctrls : false)
			return strdup(path);
		if (!v2 && ctrl) {
			_cleanup_free_ char *copy = strdup(ctrls);
			char *save = NULL;
			for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
				if (strcmp(t, ctrl) == 0)
					return strdup(path);
		}
	}
	return NULL;
}

/* Strip the mount's root from our path: a cgroup mount of a container may show a subtree only. */
static char *relative_to_root(char *path, const char *root)
{
	size_t n = strlen(root);
	if (!path || strcmp(root, "/") == 0)
		return path;
	if (strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == 0)) {
		char *r = strdup(path[n] ? path + n : "/");
		free(path);
		return r;
	}
	free(path);
	return strdup("/");
}

static int layout_load(struct cg_layout *l)
{
	*l = (struct cg_layout){ .unified = -1 };
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[8192];
	while (fgets(line, sizeof(line), f) && l->n < CG_MAX_HIER) {
		/* id parent maj:min root mountpoint options [optional...] - fstype source superoptions */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		char fstype[32], src[256], super[1024] = "";
		if (sscanf(sep + 3, "%31s %255s %1023s", fstype, src, super) < 2)
			continue;
		bool v2 = strcmp(fstype, "cgroup2") == 0;
		if (!v2 && strcmp(fstype, "cgroup") != 0)
			continue;
		char root[CG_PATH_MAX], mnt[CG_PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		if (v2 && l->unified >= 0)
			continue; /* the first cgroup2 mount is the one */
		struct cg_hier *h = &l->h[l->n];
		*h = (struct cg_hier){ .v2 = v2 };
		const char *first_ctrl = NULL;
		if (v2) {
			char buf[1024];
			_cleanup_close_ int fd = open(mnt, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && read_file_at(fd, "cgroup.controllers", buf, sizeof(buf)) >= 0) {
				char *save = NULL;
				for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
					for (int c = 0; c < CG_NCTRL; c++)
						if (strcmp(t, ctrl_names[c]) == 0)
							h->ctrls |= 1u << c;
			}
			/* the v2 devices controller is a BPF program, not a file: we do not claim it */
			h->ctrls &= ~(1u << CG_DEVICES);
		} else {
			char *save = NULL;
			for (char *t = strtok_r(super, ",", &save); t; t = strtok_r(NULL, ",", &save))
				for (int c = 0; c < CG_NCTRL; c++)
					if (strcmp(t, ctrl_names[c]) == 0) {
						h->ctrls |= 1u << c;
						first_ctrl = ctrl_names[c];
					}
			if (!h->ctrls)
				continue; /* name=systemd and controllers we do not use */
		}
		h->mnt = strdup(mnt);
		h->self = relative_to_root(self_path(v2, first_ctrl), root);
		if (!h->mnt || !h->self) {
			free(h->mnt);
			free(h->self);
			continue;
		}
		if (v2)
			l->unified = (int)l->n;
		l->n++;
	}
	return 0;
}

/* Which hierarchy serves controller c: cgroup2 when it has it enabled, else the v1 one; -1 if none. */
static int hier_for(const struct cg_layout *l, enum cg_ctrl c)
{
	if (l->unified >= 0 && (l->h[l->unified].ctrls & (1u << c)))
		return l->unified;
	for (size_t i = 0; i < l->n; i++)
		if (!l->h[i].v2 && (l->h[i].ctrls & (1u << c)))
			return (int)i;
	return -1;
}

/* --- linux.resources ------------------------------------------------------------------------------------ */

static int get_i64(json_object *o, const char *key, bool *has, int64_t *ret, const char *where, struct rt_err *err)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return rt_err_set(err, EINVAL, "linux.resources.%s.%s: not an integer", where, key);
	*ret = json_object_get_int64(v);
	*has = true;
	return 0;
}

static int only_keys(json_object *o, const char *where, const char *const *keys, struct rt_err *err)
{
	if (!json_object_is_type(o, json_type_object))
		return rt_err_set(err, EINVAL, "linux.resources%s%s: not an object", *where ? "." : "", where);
	json_object_object_foreach(o, key, val)
	{
		if (!val)
			continue; /* null is "not set" */
		bool ok = false;
		for (size_t i = 0; keys[i]; i++)
			ok |= strcmp(key, keys[i]) == 0;
		if (!ok)
			return rt_err_set(err, EOPNOTSUPP, "linux.resources%s%s.%.64s: not supported by boxshare",
					  *where ? "." : "", where, key);
	}
	return 0;
}

static int parse_devices(json_object *a, struct cg_limits *l, struct rt_err *err)
{
	if (!json_object_is_type(a, json_type_array))
		return rt_err_set(err, EINVAL, "linux.resources.devices: not an array");
	size_t n = json_object_array_length(a);
	if (n > 4096)
		return rt_err_set(err, EINVAL, "linux.resources.devices: too many rules");
	l->devices = calloc(n ? n : 1, sizeof(*l->devices));
	if (!l->devices)
		return -ENOMEM;
	static const char *const keys[] = { "allow", "type", "major", "minor", "access", NULL };
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i), *v;
		char where[48];
		snprintf(where, sizeof(where), "devices[%zu]", i);
		int r = only_keys(e, where, keys, err);
		if (r < 0)
			return r;
		struct cg_dev_rule *d = &l->devices[l->n_devices++];
		*d = (struct cg_dev_rule){ .type = 'a', .major = -1, .minor = -1 };
		strcpy(d->access, "rwm");
		if (!json_object_object_get_ex(e, "allow", &v) || !json_object_is_type(v, json_type_boolean))
			return rt_err_set(err, EINVAL, "linux.resources.%s.allow: missing or not a boolean", where);
		d->allow = json_object_get_boolean(v);
		if (json_object_object_get_ex(e, "type", &v) && v) {
			const char *t = json_object_get_string(v);
			if (!json_object_is_type(v, json_type_string) || strlen(t) != 1 || !strchr("acb", t[0]))
				return rt_err_set(err, EINVAL, "linux.resources.%s.type: not one of a, c, b", where);
			d->type = t[0];
		}
		bool has;
		if ((r = get_i64(e, "major", &has, &d->major, where, err)) < 0 ||
		    (r = get_i64(e, "minor", &has, &d->minor, where, err)) < 0)
			return r;
		if (d->major < -1 || d->minor < -1 || d->major > 0xfffff || d->minor > 0xfffff)
			return rt_err_set(err, EINVAL, "linux.resources.%s: major/minor out of range", where);
		if (json_object_object_get_ex(e, "access", &v) && v) {
			const char *s = json_object_get_string(v);
			if (!json_object_is_type(v, json_type_string) || strlen(s) > 3 || strspn(s, "rwm") != strlen(s))
				return rt_err_set(err, EINVAL, "linux.resources.%s.access: not a subset of \"rwm\"", where);
			strcpy(d->access, s);
		}
	}
	return 0;
}

int cg_limits_parse(json_object *res, struct cg_limits *l, struct rt_err *err)
{
	*l = (struct cg_limits){ .memory_limit = -1, .memory_swap = -1, .pids_limit = -1, .cpu_quota = -1 };
	if (!res)
		return 0;
	static const char *const top[] = { "memory", "pids", "cpu", "devices", NULL };
	static const char *const mem[] = { "limit", "swap", NULL };
	static const char *const pids[] = { "limit", NULL };
	static const char *const cpu[] = { "quota", "period", "shares", NULL };
	int r = only_keys(res, "", top, err);
	json_object *v;
	if (r == 0 && json_object_object_get_ex(res, "memory", &v) && v) {
		r = only_keys(v, "memory", mem, err);
		r = r ?: get_i64(v, "limit", &l->has_memory, &l->memory_limit, "memory", err);
		r = r ?: get_i64(v, "swap", &l->has_swap, &l->memory_swap, "memory", err);
		if (r == 0 && ((l->has_memory && l->memory_limit < -1) || (l->has_swap && l->memory_swap < -1)))
			r = rt_err_set(err, EINVAL, "linux.resources.memory: limits must be -1 or positive");
		if (r == 0 && l->has_swap && l->memory_swap >= 0 &&
		    (!l->has_memory || l->memory_limit < 0 || l->memory_swap < l->memory_limit))
			r = rt_err_set(err, EINVAL, "linux.resources.memory.swap: must be at least memory.limit");
	}
	if (r == 0 && json_object_object_get_ex(res, "pids", &v) && v) {
		r = only_keys(v, "pids", pids, err);
		r = r ?: get_i64(v, "limit", &l->has_pids, &l->pids_limit, "pids", err);
		if (r == 0 && l->pids_limit == 0)
			l->pids_limit = -1; /* the spec: 0 or -1 mean unlimited */
		if (r == 0 && l->pids_limit < -1)
			r = rt_err_set(err, EINVAL, "linux.resources.pids.limit: must be -1 or positive");
	}
	if (r == 0 && json_object_object_get_ex(res, "cpu", &v) && v) {
		int64_t period = 0, shares = 0;
		r = only_keys(v, "cpu", cpu, err);
		r = r ?: get_i64(v, "quota", &l->has_cpu_quota, &l->cpu_quota, "cpu", err);
		r = r ?: get_i64(v, "period", &l->has_cpu_period, &period, "cpu", err);
		r = r ?: get_i64(v, "shares", &l->has_cpu_shares, &shares, "cpu", err);
		if (r == 0 && l->has_cpu_period && (period < 1000 || period > 1000000))
			r = rt_err_set(err, EINVAL, "linux.resources.cpu.period: not in [1000, 1000000] us");
		if (r == 0 && l->has_cpu_quota && l->cpu_quota != -1 && l->cpu_quota < 1000)
			r = rt_err_set(err, EINVAL, "linux.resources.cpu.quota: -1 or at least 1000 us");
		if (r == 0 && l->has_cpu_shares && (shares < 2 || shares > 262144))
			r = rt_err_set(err, EINVAL, "linux.resources.cpu.shares: not in [2, 262144]");
		l->cpu_period = (uint64_t)period;
		l->cpu_shares = (uint64_t)shares;
	}
	if (r == 0 && json_object_object_get_ex(res, "devices", &v) && v)
		r = parse_devices(v, l, err);
	if (r < 0)
		cg_limits_free(l);
	return r;
}

void cg_limits_free(struct cg_limits *l)
{
	free(l->devices);
	l->devices = NULL;
	l->n_devices = 0;
}

bool cg_limits_any(const struct cg_limits *l)
{
	return l->has_memory || l->has_swap || l->has_pids || l->has_cpu_quota || l->has_cpu_period ||
	       l->has_cpu_shares || l->n_devices;
}

/* --- creating, entering, listing, removing ------------------------------------------------------------- */

static int check_path(const char *p)
{
	if (!*p || strlen(p) >= CG_PATH_MAX / 2)
		return -EINVAL;
	const char *c = p;
	while (*c) {
		while (*c == '/')
			c++;
		size_t n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		c += n;
	}
	return 0;
}

/* Open (mkdir -p if create) mnt + rel beneath the hierarchy's mount. */
static int open_cgroup(const char *mnt, const char *rel, bool create)
{
	_cleanup_close_ int fd = open(mnt, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_free_ char *copy = strdup(rel);
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (create && mkdirat(fd, c, 0755) < 0 && errno != EEXIST)
			return -errno;
		struct open_how how = { .flags = O_DIRECTORY | O_RDONLY | O_CLOEXEC,
					.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
		int nfd = sys_openat2(fd, c, &how);
		if (nfd < 0)
			return nfd;
		close(fd);
		fd = nfd;
	}
	return TAKE_FD(fd);
}

/* A relative path goes under our own cgroup of that hierarchy (runc's rule, per v1 hierarchy too). */
static char *resolve_path(const struct cg_hier *h, const char *cgroups_path)
{
	if (cgroups_path[0] == '/')
		return strdup(cgroups_path);
	char *r = NULL;
	if (asprintf(&r, "%s/%s", strcmp(h->self, "/") == 0 ? "" : h->self, cgroups_path) < 0)
		r = NULL;
	return r;
}

/*
 * The record kept in the state: one line per hierarchy, "MOUNTPOINT\tPATH\tV2", so that delete, exec and
 * ps find the same cgroups whatever cgroup the process running them is in.
 */
typedef int (*record_fn)(const char *mnt, const char *path, bool v2, void *userdata);

static int record_foreach(const char *rec, record_fn fn, void *userdata)
{
	_cleanup_free_ char *copy = strdup(rec);
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	int r = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t');
		char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			return -EBADMSG;
		*t1 = *t2 = 0;
		if (line[0] != '/' || check_path(t1 + 1) < 0)
			return -EBADMSG;
		int k = fn(line, t1 + 1, strcmp(t2 + 1, "1") == 0, userdata);
		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

static int write_limit(int dirfd, const char *file, const char *value, const char *what, struct rt_err *err)
{
	int r = write_file_at(dirfd, file, value);
	if (r < 0)
		return rt_err_set(err, r, "cgroup: setting %s (%s = %s): %s", what, file, value, strerror(-r));
	return 0;
}

static int apply_limits(const struct cg_layout *lay, int *fds, const struct cg_limits *l, struct rt_err *err)
{
	char buf[64];
	int r = 0;
	int m = hier_for(lay, CG_MEMORY), p = hier_for(lay, CG_PIDS), c = hier_for(lay, CG_CPU),
	    d = hier_for(lay, CG_DEVICES);
	if ((l->has_memory || l->has_swap) && m < 0)
		return rt_err_set(err, EOPNOTSUPP, "linux.resources.memory: no memory controller on this host");
	if (l->has_pids && p < 0)
		return rt_err_set(err, EOPNOTSUPP, "linux.resources.pids: no pids controller on this host");
	if ((l->has_cpu_quota || l->has_cpu_period || l->has_cpu_shares) && c < 0)
		return rt_err_set(err, EOPNOTSUPP, "linux.resources.cpu: no cpu controller on this host");
	if (l->n_devices && d < 0)
		return rt_err_set(err, EOPNOTSUPP,
				  "linux.resources.devices: no cgroup v1 devices controller (device rules on cgroup v2 "
				  "need a BPF program, which boxshare does not load)");
	if (l->has_memory) {
		bool v2 = lay->h[m].v2;
		if (l->memory_limit < 0)
			snprintf(buf, sizeof(buf), v2 ? "max" : "-1");
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)l->memory_limit);
		r = write_limit(fds[m], v2 ? "memory.max" : "memory.limit_in_bytes", buf, "the memory limit", err);
		if (r < 0)
			return r;
	}
	if (l->has_swap) {
		bool v2 = lay->h[m].v2;
		if (v2 && l->memory_swap >= 0)
			snprintf(buf, sizeof(buf), "%lld", (long long)(l->memory_swap - l->memory_limit));
		else
			snprintf(buf, sizeof(buf), v2 ? "max" : "%lld", (long long)l->memory_swap);
		r = write_limit(fds[m], v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes", buf, "the swap limit", err);
		if (r < 0)
			return r;
	}
	if (l->has_pids) {
		if (l->pids_limit < 0)
			snprintf(buf, sizeof(buf), "max");
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)l->pids_limit);
		r = write_limit(fds[p], "pids.max", buf, "the pids limit", err);
		if (r < 0)
			return r;
	}
	if (c >= 0 && lay->h[c].v2) {
		if (l->has_cpu_quota || l->has_cpu_period) {
			char q[32] = "max";
			if (l->has_cpu_quota && l->cpu_quota >= 0)
				snprintf(q, sizeof(q), "%lld", (long long)l->cpu_quota);
			snprintf(buf, sizeof(buf), "%s %llu", q,
				 (unsigned long long)(l->has_cpu_period ? l->cpu_period : 100000));
			r = write_limit(fds[c], "cpu.max", buf, "the cpu quota", err);
		}
		if (r == 0 && l->has_cpu_shares) {
			/* the shares -> weight mapping of runc and crun: [2, 262144] -> [1, 10000] */
			snprintf(buf, sizeof(buf), "%llu",
				 (unsigned long long)(1 + ((l->cpu_shares - 2) * 9999) / 262142));
			r = write_limit(fds[c], "cpu.weight", buf, "the cpu weight", err);
		}
	} else if (c >= 0) {
		/* period first: a quota is checked against the current period */
		if (l->has_cpu_period) {
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)l->cpu_period);
			r = write_limit(fds[c], "cpu.cfs_period_us", buf, "the cpu period", err);
		}
		if (r == 0 && l->has_cpu_quota) {
			snprintf(buf, sizeof(buf), "%lld", (long long)l->cpu_quota);
			r = write_limit(fds[c], "cpu.cfs_quota_us", buf, "the cpu quota", err);
		}
		if (r == 0 && l->has_cpu_shares) {
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)l->cpu_shares);
			r = write_limit(fds[c], "cpu.shares", buf, "the cpu shares", err);
		}
	}
	for (size_t i = 0; r == 0 && i < l->n_devices; i++) {
		const struct cg_dev_rule *dr = &l->devices[i];
		char mj[24] = "*", mn[24] = "*";
		if (dr->major >= 0)
			snprintf(mj, sizeof(mj), "%lld", (long long)dr->major);
		if (dr->minor >= 0)
			snprintf(mn, sizeof(mn), "%lld", (long long)dr->minor);
		if (dr->type == 'a')
			snprintf(buf, sizeof(buf), "a");
		else
			snprintf(buf, sizeof(buf), "%c %s:%s %s", dr->type, mj, mn, dr->access);
		r = write_limit(fds[d], dr->allow ? "devices.allow" : "devices.deny", buf, "a device rule", err);
	}
	return r;
}

static int record_add(char **rec, const char *mnt, const char *path, bool v2)
{
	char *n = NULL;
	if (asprintf(&n, "%s%s\t%s\t%d\n", *rec ? *rec : "", mnt, path, v2) < 0)
		return -ENOMEM;
	free(*rec);
	*rec = n;
	return 0;
}

int cg_setup(const char *cgroups_path, const struct cg_limits *l, pid_t pid, char **ret_record,
	     struct rt_err *err)
{
	*ret_record = NULL;
	if (check_path(cgroups_path) < 0)
		return rt_err_set(err, EINVAL, "linux.cgroupsPath '%.200s': not a cgroup path (empty, '.' or '..')",
				  cgroups_path);
	for (const char *c = cgroups_path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return rt_err_set(err, EINVAL, "linux.cgroupsPath: contains a control character");
	if (strchr(cgroups_path, ':'))
		return rt_err_set(err, EOPNOTSUPP,
				  "linux.cgroupsPath '%.200s': a systemd slice:prefix:name path; boxshare has no systemd "
				  "cgroup driver, give a plain path",
				  cgroups_path);
	struct cg_layout lay;
	int r = layout_load(&lay);
	if (r < 0)
		return rt_err_set(err, r, "cgroup: reading /proc/self/mountinfo: %s", strerror(-r));
	if (lay.n == 0) {
		layout_free(&lay);
		return rt_err_set(err, ENOENT, "linux.cgroupsPath: no cgroup hierarchy is mounted on this host");
	}
	_cleanup_free_ char *rec = NULL;
	int fds[CG_MAX_HIER];
	for (size_t i = 0; i < CG_MAX_HIER; i++)
		fds[i] = -1;
	/* create in every hierarchy we use, so that kill, ps and delete find the processes in any of them */
	for (size_t i = 0; i < lay.n; i++) {
		_cleanup_free_ char *path = resolve_path(&lay.h[i], cgroups_path);
		if (!path || record_add(&rec, lay.h[i].mnt, path, lay.h[i].v2) < 0) {
			r = -ENOMEM;
			goto out;
		}
		fds[i] = open_cgroup(lay.h[i].mnt, path, true);
		if (fds[i] < 0) {
			r = rt_err_set(err, fds[i], "cgroup %s%s: creating: %s", lay.h[i].mnt, path, strerror(-fds[i]));
			goto out;
		}
		if (!lay.h[i].v2 || !(lay.h[i].ctrls & ((1u << CG_MEMORY) | (1u << CG_PIDS) | (1u << CG_CPU))))
			continue;
		/* a v2 child only has the controllers its parent enables in cgroup.subtree_control */
		char *slash = strrchr(path, '/');
		if (!slash)
			continue;
		*slash = 0;
		_cleanup_close_ int pfd = open_cgroup(lay.h[i].mnt, path[0] ? path : "/", false);
		for (int c = 0; pfd >= 0 && c < CG_NCTRL; c++) {
			char en[32];
			if (!(lay.h[i].ctrls & (1u << c)))
				continue;
			snprintf(en, sizeof(en), "+%s", ctrl_names[c]);
			if (write_file_at(pfd, "cgroup.subtree_control", en) < 0)
				log_debug("cgroup: enabling %s under %s failed", ctrl_names[c], path);
		}
	}
	r = apply_limits(&lay, fds, l, err);
	if (r < 0)
		goto out;
	char pidbuf[24];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	for (size_t i = 0; i < lay.n; i++) {
		int w = write_file_at(fds[i], "cgroup.procs", pidbuf);
		if (w < 0) {
			r = rt_err_set(err, w, "cgroup in %s: moving pid %d in: %s", lay.h[i].mnt, (int)pid, strerror(-w));
			goto out;
		}
	}
	*ret_record = TAKE_PTR(rec);
	r = 0;
out:
	for (size_t i = 0; i < CG_MAX_HIER; i++)
		safe_close(fds[i]);
	if (r < 0 && rec)
		cg_destroy(rec);
	layout_free(&lay);
	return r;
}

struct enter_ctx {
	const char *pid;
	struct rt_err *err;
};

static int enter_one(const char *mnt, const char *path, bool v2, void *userdata)
{
	struct enter_ctx *e = userdata;
	_cleanup_close_ int fd = open_cgroup(mnt, path, false);
	int r = fd < 0 ? fd : write_file_at(fd, "cgroup.procs", e->pid);
	if (r < 0)
		return rt_err_set(e->err, r, "cgroup %s%s: moving pid %s in: %s", mnt, path, e->pid, strerror(-r));
	return 0;
}

int cg_enter(const char *record, pid_t pid, struct rt_err *err)
{
	char pidbuf[24];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	struct enter_ctx e = { pidbuf, err };
	int r = record_foreach(record, enter_one, &e);
	if (r == -EBADMSG)
		return rt_err_set(err, r, "cgroup: the state's cgroup record is malformed");
	return r;
}

static int read_procs(int fd, pid_t **ret, size_t *ret_n)
{
	int pfd = openat(fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	_cleanup_fclose_ FILE *f = fdopen(pfd, "re");
	if (!f) {
		close(pfd);
		return -errno;
	}
	pid_t *v = NULL;
	size_t n = 0, cap = 0;
	int p;
	while (fscanf(f, "%d", &p) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			pid_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = p;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

struct pids_ctx {
	pid_t **ret;
	size_t *n;
	bool done;
};

static int pids_one(const char *mnt, const char *path, bool v2, void *userdata)
{
	struct pids_ctx *p = userdata;
	if (p->done)
		return 0;
	/* every hierarchy holds the whole container; the first one that opens is enough */
	_cleanup_close_ int fd = open_cgroup(mnt, path, false);
	if (fd < 0)
		return 0;
	int r = read_procs(fd, p->ret, p->n);
	p->done = r == 0;
	return r;
}

int cg_pids(const char *record, pid_t **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	struct pids_ctx p = { ret, ret_n, false };
	int r = record_foreach(record, pids_one, &p);
	if (r < 0)
		return r;
	return p.done ? 0 : -ENOENT;
}

static int kill_one(const char *mnt, const char *path, bool v2, void *userdata)
{
	_cleanup_close_ int fd = open_cgroup(mnt, path, false);
	if (fd < 0)
		return 0;
	/* cgroup.kill (v2, 5.14+) kills the whole group at once; else kill what is listed, a few rounds, since
	 * a fork may race with us */
	if (v2)
		(void)write_file_at(fd, "cgroup.kill", "1");
	for (int round = 0; round < 100; round++) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		if (read_procs(fd, &pids, &n) < 0 || n == 0)
			break;
		for (size_t k = 0; k < n; k++)
			kill(pids[k], SIGKILL);
		poll(NULL, 0, 10);
	}
	return 0;
}

static int rmdir_one(const char *mnt, const char *path, bool v2, void *userdata)
{
	_cleanup_close_ int root = open(mnt, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	const char *rel = path;
	while (*rel == '/')
		rel++;
	if (root < 0 || !*rel)
		return 0;
	/* only the container's own directory, never its parents */
	for (int tries = 0; tries < 100; tries++) {
		if (unlinkat(root, rel, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		poll(NULL, 0, 10); /* dying tasks still count for a moment */
	}
	return -EBUSY;
}

int cg_destroy(const char *record)
{
	int r = record_foreach(record, kill_one, NULL);
	int k = record_foreach(record, rmdir_one, NULL);
	return r ?: k;
}

int cg_features(json_object *lnx)
{
	struct cg_layout lay;
	if (layout_load(&lay) < 0)
		lay = (struct cg_layout){ .unified = -1 };
	bool v1 = false;
	for (size_t i = 0; i < lay.n; i++)
		v1 |= !lay.h[i].v2;
	json_object *o = json_object_new_object();
	if (!o) {
		layout_free(&lay);
		return -ENOMEM;
	}
	json_object_object_add(o, "v1", json_object_new_boolean(v1));
	json_object_object_add(o, "v2", json_object_new_boolean(lay.unified >= 0));
	json_object_object_add(o, "systemd", json_object_new_boolean(0));
	json_object_object_add(o, "systemdUser", json_object_new_boolean(0));
	json_object_object_add(o, "rdma", json_object_new_boolean(0));
	json_object_object_add(lnx, "cgroup", o);
	layout_free(&lay);
	return 0;
}
