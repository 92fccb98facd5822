/* SPDX-License-Identifier: MIT */
/* Helpers of the share-tree unit tests: CHECK (check.h), and listing a directory through readdir(plus). */
#pragma once

#include <boxshare/fs.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "proto/wire.h"

static const struct fs_ctx uctx = { 0, 0, 1, 022 };

struct listing {
	size_t n;
	char names[512][64];
	uint64_t ino[512];     /* node id (plus; 0 for name-only) */
	uint64_t st_ino[512];
	uint32_t flags[512];   /* FUSE attr flags (plus) */
	uint64_t off[512];
};

/* Decode one reply buffer; returns entries decoded, last cookie in *last. */
static inline void listing_decode(struct listing *l, const char *mem, size_t len, bool plus, uint64_t *last)
{
	size_t pos = 0;
	while (pos < len && l->n < 512) {
		struct fuse_dirent d;
		uint64_t nodeid = 0;
		uint32_t flags = 0;
		size_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
		if (plus) {
			struct fuse_entry_out eo;
			memcpy(&eo, mem + pos, sizeof(eo));
			nodeid = eo.nodeid;
			flags = eo.attr.flags;
			memcpy(&d, mem + pos + sizeof(eo), FUSE_NAME_OFFSET);
		} else {
			memcpy(&d, mem + pos, FUSE_NAME_OFFSET);
		}
		const char *name = mem + pos + head;
		snprintf(l->names[l->n], 64, "%.*s", (int)d.namelen, name);
		l->ino[l->n] = nodeid;
		l->st_ino[l->n] = d.ino;
		l->flags[l->n] = flags;
		l->off[l->n] = d.off;
		l->n++;
		*last = d.off;
		pos += FUSE_DIRENT_ALIGN(head + d.namelen);
	}
}

/* List dir ino with reply buffers of bufsize bytes (small: many calls). Returns 0 or -errno. */
static inline int list_dir(struct fs *fs, uint64_t ino, bool plus, size_t bufsize, struct listing *l)
{
	memset(l, 0, sizeof(*l));
	struct fs_open o;
	int r = FS_CALL(fs, opendir, &uctx, ino, O_RDONLY, &o);
	if (r < 0)
		return r;
	char mem[8192];
	uint64_t off = 0;
	for (int calls = 0; calls < 10000; calls++) {
		struct fs_dirbuf b;
		wire_dirbuf_init(&b, mem, bufsize, plus, true);
		r = FS_CALL(fs, readdir, &uctx, ino, o.fh, off, &b);
		if (r < 0 || b.len == 0)
			break;
		listing_decode(l, mem, b.len, plus, &off);
	}
	if (fs->ops->releasedir)
		fs->ops->releasedir(fs, &uctx, ino, o.fh);
	return r < 0 ? r : 0;
}

static inline int listing_count(const struct listing *l, const char *name)
{
	int c = 0;
	for (size_t i = 0; i < l->n; i++)
		c += strcmp(l->names[i], name) == 0;
	return c;
}

/* Read a whole small file by node id; returns bytes or -errno. */
static inline int read_all(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct fs_open o;
	int r = FS_CALL(fs, open, &uctx, ino, O_RDONLY, &o);
	if (r < 0)
		return r;
	struct iovec iov = { buf, size - 1 };
	size_t len = 0;
	r = FS_CALL(fs, read, &uctx, ino, o.fh, 0, size - 1, &iov, 1, &len);
	if (fs->ops->release)
		fs->ops->release(fs, &uctx, ino, o.fh, O_RDONLY, 0, false);
	if (r < 0)
		return r;
	buf[len] = '\0';
	return (int)len;
}

static inline int lookup_path(struct fs *fs, const char *path, struct fs_entry *ret)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s", path);
	uint64_t cur = FS_ROOT_ID;
	char *save = NULL;
	memset(ret, 0, sizeof(*ret));
	ret->ino = FS_ROOT_ID;
	for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int r = FS_CALL(fs, lookup, &uctx, cur, c, ret);
		if (r < 0)
			return r;
		if (ret->ino == 0)
			return -ENOENT;
		cur = ret->ino;
	}
	return 0;
}
