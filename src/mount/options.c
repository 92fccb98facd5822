/* SPDX-License-Identifier: MIT */
/*
 * OCI mount options: the flags of mount(8) and their recursive (mount_setattr) forms, propagation, and the
 * data keys each known filesystem accepts. Everything is validated here, before any namespace exists, so a
 * typo in config.json is a clear error instead of a kernel EINVAL halfway through the set-up.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "internal.h"
#include "util/macros.h"
#include "util/syscall.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

enum opt_kind { K_FLAG, K_RFLAG, K_PROP, K_BIND, K_RBIND, K_IDMAP, K_RIDMAP, K_NOFOLLOW, K_IGNORE };

struct flag_opt {
	const char *name;
	enum opt_kind kind;
	unsigned long ms_set, ms_clear;
	uint64_t attr_set, attr_clr;
	bool atime; /* touches the MOUNT_ATTR__ATIME field */
};

#define AT_ (MOUNT_ATTR__ATIME)
static const struct flag_opt flag_opts[] = {
	{ "ro", K_FLAG, MS_RDONLY, 0, MOUNT_ATTR_RDONLY, 0, false },
	{ "rw", K_FLAG, 0, MS_RDONLY, 0, MOUNT_ATTR_RDONLY, false },
	{ "nosuid", K_FLAG, MS_NOSUID, 0, MOUNT_ATTR_NOSUID, 0, false },
	{ "suid", K_FLAG, 0, MS_NOSUID, 0, MOUNT_ATTR_NOSUID, false },
	{ "nodev", K_FLAG, MS_NODEV, 0, MOUNT_ATTR_NODEV, 0, false },
	{ "dev", K_FLAG, 0, MS_NODEV, 0, MOUNT_ATTR_NODEV, false },
	{ "noexec", K_FLAG, MS_NOEXEC, 0, MOUNT_ATTR_NOEXEC, 0, false },
	{ "exec", K_FLAG, 0, MS_NOEXEC, 0, MOUNT_ATTR_NOEXEC, false },
	{ "nosymfollow", K_FLAG, MS_NOSYMFOLLOW, 0, MOUNT_ATTR_NOSYMFOLLOW, 0, false },
	{ "symfollow", K_FLAG, 0, MS_NOSYMFOLLOW, 0, MOUNT_ATTR_NOSYMFOLLOW, false },
	{ "relatime", K_FLAG, MS_RELATIME, MS_NOATIME | MS_STRICTATIME, MOUNT_ATTR_RELATIME, AT_, true },
	{ "norelatime", K_FLAG, 0, MS_RELATIME, 0, 0, false },
	{ "noatime", K_FLAG, MS_NOATIME, MS_RELATIME | MS_STRICTATIME, MOUNT_ATTR_NOATIME, AT_, true },
	{ "atime", K_FLAG, 0, MS_NOATIME, MOUNT_ATTR_RELATIME, AT_, true },
	{ "strictatime", K_FLAG, MS_STRICTATIME, MS_RELATIME | MS_NOATIME, MOUNT_ATTR_STRICTATIME, AT_, true },
	{ "nostrictatime", K_FLAG, 0, MS_STRICTATIME, MOUNT_ATTR_RELATIME, AT_, true },
	{ "nodiratime", K_FLAG, MS_NODIRATIME, 0, MOUNT_ATTR_NODIRATIME, 0, false },
	{ "diratime", K_FLAG, 0, MS_NODIRATIME, 0, MOUNT_ATTR_NODIRATIME, false },
	/* superblock flags: mount(2) flags, or fsconfig flags on the new API; no per-mount attribute */
	{ "sync", K_FLAG, MS_SYNCHRONOUS, 0, 0, 0, false },
	{ "async", K_FLAG, 0, MS_SYNCHRONOUS, 0, 0, false },
	{ "dirsync", K_FLAG, MS_DIRSYNC, 0, 0, 0, false },
	{ "lazytime", K_FLAG, MS_LAZYTIME, 0, 0, 0, false },
	{ "nolazytime", K_FLAG, 0, MS_LAZYTIME, 0, 0, false },
	/* the recursive forms: mount_setattr(AT_RECURSIVE) */
	{ "rro", K_RFLAG, 0, 0, MOUNT_ATTR_RDONLY, 0, false },
	{ "rrw", K_RFLAG, 0, 0, 0, MOUNT_ATTR_RDONLY, false },
	{ "rnosuid", K_RFLAG, 0, 0, MOUNT_ATTR_NOSUID, 0, false },
	{ "rsuid", K_RFLAG, 0, 0, 0, MOUNT_ATTR_NOSUID, false },
	{ "rnodev", K_RFLAG, 0, 0, MOUNT_ATTR_NODEV, 0, false },
	{ "rdev", K_RFLAG, 0, 0, 0, MOUNT_ATTR_NODEV, false },
	{ "rnoexec", K_RFLAG, 0, 0, MOUNT_ATTR_NOEXEC, 0, false },
	{ "rexec", K_RFLAG, 0, 0, 0, MOUNT_ATTR_NOEXEC, false },
	{ "rnosymfollow", K_RFLAG, 0, 0, MOUNT_ATTR_NOSYMFOLLOW, 0, false },
	{ "rsymfollow", K_RFLAG, 0, 0, 0, MOUNT_ATTR_NOSYMFOLLOW, false },
	{ "rrelatime", K_RFLAG, 0, 0, MOUNT_ATTR_RELATIME, AT_, true },
	{ "rnorelatime", K_RFLAG, 0, 0, MOUNT_ATTR_STRICTATIME, AT_, true },
	{ "rnoatime", K_RFLAG, 0, 0, MOUNT_ATTR_NOATIME, AT_, true },
	{ "ratime", K_RFLAG, 0, 0, MOUNT_ATTR_RELATIME, AT_, true },
	{ "rstrictatime", K_RFLAG, 0, 0, MOUNT_ATTR_STRICTATIME, AT_, true },
	{ "rnostrictatime", K_RFLAG, 0, 0, MOUNT_ATTR_RELATIME, AT_, true },
	{ "rnodiratime", K_RFLAG, 0, 0, MOUNT_ATTR_NODIRATIME, 0, false },
	{ "rdiratime", K_RFLAG, 0, 0, 0, MOUNT_ATTR_NODIRATIME, false },
	{ "private", K_PROP, MS_PRIVATE, 0, 0, 0, false },
	{ "rprivate", K_PROP, MS_PRIVATE | MS_REC, 0, 0, 0, false },
	{ "shared", K_PROP, MS_SHARED, 0, 0, 0, false },
	{ "rshared", K_PROP, MS_SHARED | MS_REC, 0, 0, 0, false },
	{ "slave", K_PROP, MS_SLAVE, 0, 0, 0, false },
	{ "rslave", K_PROP, MS_SLAVE | MS_REC, 0, 0, 0, false },
	{ "unbindable", K_PROP, MS_UNBINDABLE, 0, 0, 0, false },
	{ "runbindable", K_PROP, MS_UNBINDABLE | MS_REC, 0, 0, 0, false },
	{ "bind", K_BIND, 0, 0, 0, 0, false },
	{ "rbind", K_RBIND, 0, 0, 0, 0, false },
	{ "idmap", K_IDMAP, 0, 0, 0, 0, false },
	{ "ridmap", K_RIDMAP, 0, 0, 0, 0, false },
	{ "src-nofollow", K_NOFOLLOW, 0, 0, 0, 0, false },
	/* accepted for compatibility with configs written for runc/crun; they change nothing here */
	{ "defaults", K_IGNORE, 0, 0, 0, 0, false },
	{ "nomand", K_IGNORE, 0, 0, 0, 0, false },
	{ "silent", K_IGNORE, 0, 0, 0, 0, false },
	{ "loud", K_IGNORE, 0, 0, 0, 0, false },
};

/* How a data key's value is checked. */
/* V_PATH: an absolute path; V_PATHS: absolute paths joined by ':' (overlay's lowerdir). Relative ones would
 * be resolved against whatever the set-up's cwd is at that moment. */
enum val_kind { V_NONE, V_ANY, V_OCTAL, V_DEC, V_SIZE, V_OPTIONAL, V_PATH, V_PATHS };

struct data_key {
	const char *name;
	enum val_kind val;
};

static const struct data_key tmpfs_keys[] = {
	{ "size", V_SIZE },   { "mode", V_OCTAL },   { "nr_inodes", V_SIZE }, { "nr_blocks", V_SIZE },
	{ "uid", V_DEC },     { "gid", V_DEC },      { "huge", V_ANY },       { "mpol", V_ANY },
	{ "inode32", V_NONE }, { "inode64", V_NONE }, { "noswap", V_NONE },   { NULL, V_NONE },
};
static const struct data_key devpts_keys[] = {
	{ "newinstance", V_NONE }, { "ptmxmode", V_OCTAL }, { "mode", V_OCTAL }, { "gid", V_DEC },
	{ "uid", V_DEC },          { "max", V_DEC },        { NULL, V_NONE },
};
static const struct data_key proc_keys[] = {
	{ "hidepid", V_ANY }, { "gid", V_DEC }, { "subset", V_ANY }, { NULL, V_NONE },
};
static const struct data_key cgroup2_keys[] = {
	{ "nsdelegate", V_NONE },         { "memory_recursiveprot", V_NONE }, { "favordynmods", V_NONE },
	{ "memory_localevents", V_NONE }, { "memory_hugetlb_accounting", V_NONE }, { NULL, V_NONE },
};
static const struct data_key overlay_keys[] = {
	{ "lowerdir", V_PATHS }, { "upperdir", V_PATH }, { "workdir", V_PATH },     { "redirect_dir", V_ANY },
	{ "index", V_ANY },    { "metacopy", V_ANY },   { "xino", V_ANY },        { "nfs_export", V_ANY },
	{ "uuid", V_ANY },     { "volatile", V_NONE },  { "userxattr", V_NONE },  { "default_permissions", V_NONE },
	{ NULL, V_NONE },
};
static const struct data_key no_keys[] = { { NULL, V_NONE } };

static const struct {
	const char *type;
	const struct data_key *keys;
} fs_types[] = {
	{ "tmpfs", tmpfs_keys }, { "devpts", devpts_keys }, { "proc", proc_keys },     { "sysfs", no_keys },
	{ "mqueue", no_keys },   { "cgroup2", cgroup2_keys }, { "overlay", overlay_keys }, { "bind", no_keys },
};

static bool all_digits(const char *s, int base)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(base == 8 ? (*s >= '0' && *s <= '7') : isdigit((unsigned char)*s)))
			return false;
	return true;
}

static bool value_ok(enum val_kind k, const char *v)
{
	switch (k) {
	case V_NONE:
		return v == NULL;
	case V_OPTIONAL:
		return true;
	case V_ANY:
		return v && *v;
	case V_OCTAL:
		return v && all_digits(v, 8) && strlen(v) <= 5 && strtoul(v, NULL, 8) <= 07777;
	case V_DEC:
		return v && all_digits(v, 10) && strlen(v) <= 10 && strtoull(v, NULL, 10) <= UINT32_MAX;
	case V_PATH:
		return v && v[0] == '/';
	case V_PATHS:
		if (!v || v[0] != '/')
			return false;
		for (const char *c = strchr(v, ':'); c; c = strchr(c + 1, ':'))
			if (c[1] != '/' && !(c[1] == ':' && c[2] == '/')) /* "::" is overlay's data-only layer mark */
				return false;
		return true;
	case V_SIZE: {
		if (!v || !isdigit((unsigned char)*v))
			return false;
		size_t n = strspn(v, "0123456789");
		if (n > 19)
			return false;
		const char *sfx = v + n;
		return !*sfx || (strchr("kKmMgGtTpPeE%", *sfx) && !sfx[1]);
	}
	}
	return false;
}

static const char *prop_names(unsigned long p)
{
	return p & MS_SHARED ? "shared" : p & MS_SLAVE ? "slave" : p & MS_PRIVATE ? "private" : "unbindable";
}

int bxm_propagation_parse(const char *s, unsigned long *ret_flag, bool *ret_recursive)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_opts); i++)
		if (flag_opts[i].kind == K_PROP && strcmp(flag_opts[i].name, s) == 0) {
			*ret_flag = flag_opts[i].ms_set & ~(unsigned long)MS_REC;
			*ret_recursive = !!(flag_opts[i].ms_set & MS_REC);
			return 0;
		}
	return -EINVAL;
}

static int append_data(char **data, const char *opt)
{
	size_t old = *data ? strlen(*data) : 0, add = strlen(opt);
	char *n = realloc(*data, old + add + 2);
	if (!n)
		return -ENOMEM;
	if (old)
		n[old++] = ',';
	memcpy(n + old, opt, add + 1);
	*data = n;
	return 0;
}

static int bad(size_t i, size_t *ret_bad, char *reason, size_t size, const char *fmt, const char *a,
	       const char *b)
{
	if (ret_bad)
		*ret_bad = i;
	if (reason && size)
		snprintf(reason, size, fmt, a, b);
	return -EINVAL;
}

/* Printable copy of an untrusted option for an error message: control bytes become '?', long ones are cut. */
static const char *printable(const char *s, char buf[64])
{
	size_t i = 0;
	for (; s[i] && i < 60; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	if (s[i])
		strcpy(buf + 57, "...");
	return buf;
}

int bxm_options_parse(const char *type, const char *const *opts, size_t n, struct bxm_options *o,
		      size_t *ret_bad, char *reason, size_t reason_size)
{
	const struct data_key *keys = NULL; /* NULL: unknown filesystem, data passed through */
	char pb[64];
	memset(o, 0, sizeof(*o));
	if (type && *type)
		for (size_t t = 0; t < ARRAY_SIZE(fs_types); t++)
			if (strcmp(fs_types[t].type, type) == 0)
				keys = fs_types[t].keys;

	for (size_t i = 0; i < n; i++) {
		const char *s = opts[i];
		const struct flag_opt *f = NULL;
		if (!s || !*s) {
			bxm_options_done(o);
			return bad(i, ret_bad, reason, reason_size, "empty option%s%s", "", "");
		}
		for (size_t k = 0; k < ARRAY_SIZE(flag_opts); k++)
			if (strcmp(flag_opts[k].name, s) == 0)
				f = &flag_opts[k];
		if (f) {
			switch (f->kind) {
			case K_FLAG:
				o->ms_set = (o->ms_set & ~f->ms_clear) | f->ms_set;
				o->ms_clear = (o->ms_clear & ~f->ms_set) | f->ms_clear;
				o->attr_set = (o->attr_set & ~f->attr_clr) | f->attr_set;
				o->attr_clr = (o->attr_clr & ~f->attr_set) | f->attr_clr;
				if (f->atime) {
					/* the atime field is one value, not bits: the last option wins */
					o->attr_set = (o->attr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | f->attr_set;
					o->attr_clr |= MOUNT_ATTR__ATIME;
					o->atime_set = true;
				}
				break;
			case K_RFLAG:
				o->rattr_set = (o->rattr_set & ~f->attr_clr) | f->attr_set;
				o->rattr_clr = (o->rattr_clr & ~f->attr_set) | f->attr_clr;
				if (f->atime) {
					o->rattr_set = (o->rattr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | f->attr_set;
					o->rattr_clr |= MOUNT_ATTR__ATIME;
					o->ratime_set = true;
				}
				break;
			case K_PROP: {
				unsigned long p = f->ms_set & ~(unsigned long)MS_REC;
				if (o->propagation && o->propagation != p) {
					bxm_options_done(o);
					return bad(i, ret_bad, reason, reason_size,
						   "\"%s\" conflicts with an earlier \"%s\" option", s,
						   prop_names(o->propagation));
				}
				o->propagation = p;
				o->prop_recursive = o->prop_recursive || (f->ms_set & MS_REC);
				break;
			}
			case K_BIND:
				o->bind = true;
				break;
			case K_RBIND:
				o->bind = o->rbind = true;
				break;
			case K_IDMAP:
				o->idmap = true;
				break;
			case K_RIDMAP:
				o->idmap = o->ridmap = true;
				break;
			case K_NOFOLLOW:
				o->src_nofollow = true;
				break;
			case K_IGNORE:
				break;
			}
			continue;
		}

		/* Not a flag: a filesystem data option "key" or "key=value". */
		if (strchr(s, ',')) {
			bxm_options_done(o);
			return bad(i, ret_bad, reason, reason_size,
				   "option \"%s\" contains ',': give each option as its own array element%s",
				   printable(s, pb), "");
		}
		for (const char *c = s; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				bxm_options_done(o);
				return bad(i, ret_bad, reason, reason_size, "option \"%s\" contains a control character%s",
					   printable(s, pb), "");
			}
		if (keys) {
			const char *eq = strchr(s, '=');
			size_t klen = eq ? (size_t)(eq - s) : strlen(s);
			const struct data_key *dk = NULL;
			for (const struct data_key *k = keys; k->name; k++)
				if (strlen(k->name) == klen && strncmp(k->name, s, klen) == 0)
					dk = k;
			if (!dk) {
				bxm_options_done(o);
				return bad(i, ret_bad, reason, reason_size, "unknown option \"%s\"%s", printable(s, pb),
					   "");
			}
			if (!value_ok(dk->val, eq ? eq + 1 : NULL)) {
				bxm_options_done(o);
				return bad(i, ret_bad, reason, reason_size,
					   dk->val == V_NONE ? "option \"%s\" takes no value%s"
							     : "option \"%s\": bad value for %s",
					   printable(s, pb), dk->name);
			}
		}
		if (append_data(&o->data, s) < 0) {
			bxm_options_done(o);
			return -ENOMEM;
		}
	}
	if (o->bind && o->data) {
		/* bind mounts take no filesystem data; mount(2) would silently drop it */
		bxm_options_done(o);
		return bad(n ? n - 1 : 0, ret_bad, reason, reason_size, "bind mounts take no filesystem options%s%s",
			   "", "");
	}
	return 0;
}

void bxm_options_done(struct bxm_options *o)
{
	if (!o)
		return;
	free(o->data);
	o->data = NULL;
}

unsigned long bxm_attr_to_ms(uint64_t a)
{
	unsigned long ms = 0;
	if (a & MOUNT_ATTR_RDONLY)
		ms |= MS_RDONLY;
	if (a & MOUNT_ATTR_NOSUID)
		ms |= MS_NOSUID;
	if (a & MOUNT_ATTR_NODEV)
		ms |= MS_NODEV;
	if (a & MOUNT_ATTR_NOEXEC)
		ms |= MS_NOEXEC;
	if (a & MOUNT_ATTR_NODIRATIME)
		ms |= MS_NODIRATIME;
	if (a & MOUNT_ATTR_NOSYMFOLLOW)
		ms |= MS_NOSYMFOLLOW;
	switch (a & MOUNT_ATTR__ATIME) {
	case MOUNT_ATTR_NOATIME:
		ms |= MS_NOATIME;
		break;
	case MOUNT_ATTR_STRICTATIME:
		ms |= MS_STRICTATIME;
		break;
	default:
		break;
	}
	return ms;
}

uint64_t bxm_ms_to_attr(unsigned long ms)
{
	uint64_t a = 0;
	if (ms & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (ms & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (ms & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (ms & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (ms & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	if (ms & MS_NOSYMFOLLOW)
		a |= MOUNT_ATTR_NOSYMFOLLOW;
	if (ms & MS_NOATIME)
		a |= MOUNT_ATTR_NOATIME;
	else if (ms & MS_STRICTATIME)
		a |= MOUNT_ATTR_STRICTATIME;
	return a;
}

void bxm_attr_change_to_ms(uint64_t attr_set, uint64_t attr_clr, unsigned long *ret_set, unsigned long *ret_clear)
{
	unsigned long set = bxm_attr_to_ms(attr_set), clear = bxm_attr_to_ms(attr_clr & ~(uint64_t)MOUNT_ATTR__ATIME);
	if (attr_clr & MOUNT_ATTR__ATIME) {
		clear |= MS_NOATIME | MS_STRICTATIME | MS_RELATIME;
		/* MOUNT_ATTR_RELATIME is 0: bxm_attr_to_ms() cannot tell it from "no atime change" */
		if ((attr_set & MOUNT_ATTR__ATIME) == MOUNT_ATTR_RELATIME)
			set |= MS_RELATIME;
	}
	*ret_set = set;
	*ret_clear = clear;
}
