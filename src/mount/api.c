/* SPDX-License-Identifier: MIT */
/*
 * The new mount API path: a filesystem is configured key by key on an fsopen() context and attached with
 * fsmount() + move_mount(); a bind is an open_tree(OPEN_TREE_CLONE) detached copy, shaped with
 * mount_setattr() (idmap must be set while the copy is still detached) and then attached. Nothing becomes
 * visible before it is complete.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "internal.h"
#include "util/macros.h"
#include "util/syscall.h"

int bxm_api_bind(struct bxm_ctx *c, const struct bxm_mount *m, int src_fd, int tgt_fd, int *ret_mnt_fd,
		 struct bxm_error *e)
{
	const struct bxm_options *o = m->opts;
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (o->rbind ? AT_RECURSIVE : 0);
	_cleanup_close_ int tree = sys_open_tree(src_fd, "", flags);
	if (tree < 0)
		return bxm_fail(e, tree, "open_tree", NULL, NULL);
	if (o->idmap) {
		if (c->userns_fd < 0)
			return bxm_err_detail(e, "idmap needs a user namespace (linux.namespaces \"user\")"),
			       bxm_fail(e, EINVAL, "mount_setattr", NULL, NULL);
		struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)c->userns_fd };
		int r = sys_mount_setattr(tree, "", AT_EMPTY_PATH | (o->ridmap ? AT_RECURSIVE : 0), &a);
		if (r < 0)
			return bxm_fail(e, r, "mount_setattr", NULL, NULL);
	}
	int r = sys_move_mount(tree, "", tgt_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	if (r < 0)
		return bxm_fail(e, r, "move_mount", NULL, NULL);
	*ret_mnt_fd = TAKE_FD(tree);
	return 0;
}

/* The fs context keeps the filesystem's own explanation of a refusal ("e overlay: ..."): worth showing. */
static void fs_messages(int fs, struct bxm_error *e)
{
	char buf[256];
	ssize_t n = read(fs, buf, sizeof(buf) - 1);
	if (n <= 2)
		return;
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	bxm_err_detail(e, "%s", buf[1] == ' ' ? buf + 2 : buf);
}

static int set_option(int fs, const char *opt, struct bxm_error *e)
{
	char key[256];
	const char *eq = strchr(opt, '=');
	size_t klen = eq ? (size_t)(eq - opt) : strlen(opt);
	if (klen == 0 || klen >= sizeof(key))
		return bxm_err_detail(e, "option %.64s", opt), bxm_fail(e, EINVAL, "fsconfig", NULL, NULL);
	memcpy(key, opt, klen);
	key[klen] = '\0';
	int r = eq ? sys_fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0)
		   : sys_fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0);
	if (r < 0) {
		bxm_err_detail(e, "option %.64s", opt);
		fs_messages(fs, e);
		return bxm_fail(e, r, "fsconfig", NULL, NULL);
	}
	return 0;
}

int bxm_api_fs(struct bxm_ctx *c, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e)
{
	const struct bxm_options *o = m->opts;
	_cleanup_close_ int fs = sys_fsopen(m->type, FSOPEN_CLOEXEC);
	if (fs < 0)
		return bxm_fail(e, fs, "fsopen", NULL, NULL);
	const char *src = m->source && *m->source ? m->source : m->type;
	int r = sys_fsconfig(fs, FSCONFIG_SET_STRING, "source", src, 0);
	if (r < 0)
		return fs_messages(fs, e), bxm_fail(e, r, "fsconfig", NULL, NULL);
	if (o->data) {
		_cleanup_free_ char *d = strdup(o->data);
		if (!d)
			return bxm_fail(e, ENOMEM, NULL, NULL, NULL);
		char *save = NULL;
		for (char *t = strtok_r(d, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			r = set_option(fs, t, e);
			if (r < 0)
				return r;
		}
	}
	/* superblock flags have no mount attribute: they are fs-context flags */
	static const struct {
		unsigned long ms;
		const char *key;
	} sb[] = { { MS_SYNCHRONOUS, "sync" }, { MS_DIRSYNC, "dirsync" }, { MS_LAZYTIME, "lazytime" } };
	for (size_t i = 0; i < ARRAY_SIZE(sb); i++)
		if (o->ms_set & sb[i].ms) {
			r = set_option(fs, sb[i].key, e);
			if (r < 0)
				return r;
		}
	r = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r < 0) {
		if (o->data)
			bxm_err_detail(e, "options %.100s", o->data);
		fs_messages(fs, e);
		return bxm_fail(e, r, "fsconfig", NULL, NULL);
	}
	const uint64_t allowed = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
				 MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW;
	_cleanup_close_ int mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)(o->attr_set & allowed));
	if (mnt < 0)
		return bxm_fail(e, mnt, "fsmount", NULL, NULL);
	r = sys_move_mount(mnt, "", tgt_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	if (r < 0)
		return bxm_fail(e, r, "move_mount", NULL, NULL);
	*ret_mnt_fd = TAKE_FD(mnt);
	return 0;
}

int bxm_idmap_tree(int dirfd, const char *source, const struct bxm_options *o, int userns_fd, unsigned long prop,
		   int *ret_fd, struct bxm_error *e)
{
	char what[256];
	snprintf(what, sizeof(what), "bind %s", source ? source : "");
	bxm_err_begin(e, what, NULL);
	if (!source || !*source)
		return bxm_fail(e, EINVAL, NULL, NULL, NULL);
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (o->rbind ? AT_RECURSIVE : 0) |
			 (o->src_nofollow ? AT_SYMLINK_NOFOLLOW : 0);
	_cleanup_close_ int tree = sys_open_tree(dirfd, source, flags);
	if (tree < 0)
		return bxm_fail(e, tree, "open_tree", NULL, NULL);
	struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
	int r = sys_mount_setattr(tree, "", AT_EMPTY_PATH | (o->ridmap ? AT_RECURSIVE : 0), &a);
	if (r < 0)
		return bxm_fail(e, r, "mount_setattr", NULL, NULL);
	/* The clone of a shared host mount joins the host's peer group, and would stay in it once attached in
	 * the container: whatever is mounted under it there would appear on the host. A bind made in the
	 * container is a clone of the container's copy, which bxm_root_prepare() gave the root propagation
	 * (recursively for the r- forms): give this tree the same, so both kinds of bind behave alike. */
	unsigned long p = prop & ~(unsigned long)MS_REC;
	if (!p)
		p = MS_PRIVATE, prop |= MS_REC;
	if (prop & MS_REC) {
		struct mount_attr pa = { .propagation = p == MS_UNBINDABLE ? MS_PRIVATE : p };
		r = sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &pa);
		if (r < 0)
			return bxm_fail(e, r, "mount_setattr", NULL, NULL);
	}
	*ret_fd = TAKE_FD(tree);
	return 0;
}
