/* SPDX-License-Identifier: MIT */
/*
 * The share tree's entries. The namespace mechanics (virtual directories, grafts, routing, EXDEV, st_ino
 * renumbering) are the overlay's; this file turns host fds into entries: checks their type, makes their fs,
 * wraps it read-only when asked.
 */
#include "tree/tree.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree/nullroot.h"
#include "tree/ro.h"
#include "util/log.h"
#include "util/macros.h"

struct tree {
	struct fs *fs;
	struct fs_inomap *map;
	struct tree_opts opts;
};

int tree_new(struct fs_inomap *map, struct fs *base, const struct tree_opts *o, struct tree **ret)
{
	int r;
	if (!base) {
		r = nullroot_new(map, 0555, geteuid(), getegid(), &base);
		if (r < 0)
			return r;
	}
	struct tree *t = calloc(1, sizeof(*t));
	if (!t) {
		fs_free(base);
		return -ENOMEM;
	}
	r = ovl_new(base, map, &t->fs);
	if (r < 0) {
		free(t);
		return r;
	}
	t->map = fs_inomap_ref(map);
	t->opts = *o;
	*ret = t;
	return 0;
}

struct fs *tree_fs(struct tree *t)
{
	return t->fs;
}

void tree_free(struct tree *t)
{
	if (!t)
		return;
	fs_inomap_unref(t->map);
	free(t);
}

int tree_add_fs(struct tree *t, struct fs *f, const char *path, bool ro)
{
	int r;
	if (ro || t->opts.force_ro) {
		r = ro_new(f, &f);
		if (r < 0)
			return r;
	}
	/* every entry gets a st_ino range of its own (the overlay hands out the tags and reuses them) */
	r = ovl_add_graft(t->fs, path, f, true);
	log_debug("tree: entry %s (%s): %d", path, ro || t->opts.force_ro ? "ro" : "rw", r);
	return r;
}

int tree_add_host(struct tree *t, int host_fd, enum tree_kind kind, const char *path, bool ro)
{
	_cleanup_close_ int fd = host_fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (kind == TREE_DIR && !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* sockets, fifos and devices are not entries: a passthrough of one would hand the client a channel to
	 * whatever listens or sits behind it on the host */
	if (kind == TREE_FILE && !S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if (!t->opts.open_entry)
		return -ENOSYS;
	struct fs *f;
	int r = t->opts.open_entry(t->opts.data, TAKE_FD(fd), t->map, &f);
	if (r < 0)
		return r;
	return tree_add_fs(t, f, path, ro);
}

int tree_remove(struct tree *t, const char *path)
{
	return ovl_remove(t->fs, path);
}

int tree_add_status(struct tree *t, const char *path)
{
	return ovl_add_callback(t->fs, path, ovl_status_produce, t->fs, &(struct ovl_attr){ .mode = 0444 });
}
