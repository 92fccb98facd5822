/* SPDX-License-Identifier: MIT */
/*
 * A tiny in-memory struct fs for the share-tree tests and fuzz target: directories, regular files, symlinks,
 * hard links; node ids from its own space of the shared map; readdir cookies are "local id + 2". Not
 * thread-safe and O(n) everywhere: for tests only.
 */
#pragma once

#include <boxshare/fs.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMFS_MAX 4096

struct memfs_node {
	bool used, linked;
	uint64_t parent; /* local id */
	char name[256];
	mode_t mode;
	char *data;
	size_t len;
	uint64_t nlookup;
	unsigned nlink;
};

struct memfs {
	struct fs base;
	struct fs_inomap *map;
	uint32_t space;
	uint64_t n;
	uint64_t inoff; /* added to local ids to make st_ino (to simulate different host filesystems) */
	struct memfs_node nodes[MEMFS_MAX];
	unsigned calls; /* requests that reached this fs */
};

static inline struct memfs *memfs_of(struct fs *fs)
{
	return (struct memfs *)fs;
}

static inline struct memfs_node *memfs_get(struct memfs *m, uint64_t ino, uint64_t *ret_local)
{
	uint64_t local;
	if (ino == FS_ROOT_ID || ino == m->base.root)
		local = 1;
	else if (fs_ino_space(ino) != m->space)
		return NULL;
	else
		local = fs_ino_local(ino);
	if (local == 0 || local >= m->n || !m->nodes[local].used)
		return NULL;
	if (ret_local)
		*ret_local = local;
	return &m->nodes[local];
}

static inline void memfs_stat(struct memfs *m, uint64_t local, struct stat *st)
{
	struct memfs_node *n = &m->nodes[local];
	memset(st, 0, sizeof(*st));
	st->st_ino = local + m->inoff;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_size = (off_t)n->len;
	st->st_blksize = 4096;
}

static inline int memfs_entry(struct memfs *m, uint64_t local, struct fs_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = local == 1 ? m->base.root : fs_ino_make(m->space, local);
	memfs_stat(m, local, &e->attr);
	e->entry_timeout = e->attr_timeout = 1;
	m->nodes[local].nlookup++;
	return 0;
}

static inline int64_t memfs_find(struct memfs *m, uint64_t dir, const char *name)
{
	for (uint64_t i = 2; i < m->n; i++)
		if (m->nodes[i].used && m->nodes[i].linked && m->nodes[i].parent == dir &&
		    strcmp(m->nodes[i].name, name) == 0)
			return (int64_t)i;
	return -1;
}

/* Create a node under dir (local); returns its local id or -errno. For tests to set up content too. */
static inline int64_t memfs_mk(struct memfs *m, uint64_t dir, const char *name, mode_t mode, const char *data)
{
	if (memfs_find(m, dir, name) >= 0)
		return -EEXIST;
	if (m->n >= MEMFS_MAX || strlen(name) > 255)
		return -ENOSPC;
	uint64_t i = m->n++;
	struct memfs_node *n = &m->nodes[i];
	memset(n, 0, sizeof(*n));
	n->used = n->linked = true;
	n->parent = dir;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->mode = mode;
	n->nlink = S_ISDIR(mode) ? 2 : 1;
	if (data) {
		n->len = strlen(data);
		n->data = strdup(data);
	}
	m->calls += 0;
	return (int64_t)i;
}

static int memfs_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
			struct fs_entry *e)
{
	struct memfs *m = memfs_of(fs);
	uint64_t pl;
	m->calls++;
	struct memfs_node *p = memfs_get(m, parent, &pl);
	if (!p)
		return -ESTALE;
	if (!S_ISDIR(p->mode))
		return -ENOTDIR;
	if (strcmp(name, ".") == 0)
		return memfs_entry(m, pl, e);
	if (strcmp(name, "..") == 0)
		return memfs_entry(m, pl == 1 ? 1 : p->parent, e);
	int64_t k = memfs_find(m, pl, name);
	if (k < 0)
		return -ENOENT;
	return memfs_entry(m, (uint64_t)k, e);
}

static void memfs_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
	struct memfs_node *p = memfs_get(memfs_of(fs), ino, NULL);
	if (p)
		p->nlookup = n > p->nlookup ? 0 : p->nlookup - n;
}

static int memfs_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
			 struct stat *st, double *t)
{
	struct memfs *m = memfs_of(fs);
	uint64_t l;
	m->calls++;
	if (!memfs_get(m, ino, &l))
		return -ESTALE;
	memfs_stat(m, l, st);
	*t = 1;
	return 0;
}

static int memfs_new_entry(struct fs *fs, uint64_t parent, const char *name, mode_t mode, const char *data,
			   struct fs_entry *e)
{
	struct memfs *m = memfs_of(fs);
	uint64_t pl;
	m->calls++;
	struct memfs_node *p = memfs_get(m, parent, &pl);
	if (!p)
		return -ESTALE;
	if (!S_ISDIR(p->mode))
		return -ENOTDIR;
	int64_t k = memfs_mk(m, pl, name, mode, data);
	if (k < 0)
		return (int)k;
	return memfs_entry(m, (uint64_t)k, e);
}

static int memfs_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		       struct fs_entry *e)
{
	return memfs_new_entry(fs, parent, name, S_IFDIR | (mode & 07777), NULL, e);
}

static int memfs_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		       dev_t rdev, struct fs_entry *e)
{
	return memfs_new_entry(fs, parent, name, mode, NULL, e);
}

static int memfs_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
			 const char *target, struct fs_entry *e)
{
	return memfs_new_entry(fs, parent, name, S_IFLNK | 0777, target, e);
}

static int memfs_readlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
			  size_t *ret_len)
{
	struct memfs_node *n = memfs_get(memfs_of(fs), ino, NULL);
	if (!n)
		return -ESTALE;
	if (!S_ISLNK(n->mode))
		return -EINVAL;
	if (n->len > size)
		return -ENAMETOOLONG;
	memcpy(buf, n->data, n->len);
	*ret_len = n->len;
	return 0;
}

static int memfs_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
			int flags, struct fs_entry *e, struct fs_open *o)
{
	int r = memfs_new_entry(fs, parent, name, S_IFREG | (mode & 07777), NULL, e);
	if (r < 0)
		return r;
	*o = (struct fs_open){ .fh = fs_ino_local(e->ino), .backing_fd = -1 };
	return 0;
}

static int memfs_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t newparent,
		      const char *newname, struct fs_entry *e)
{
	struct memfs *m = memfs_of(fs);
	uint64_t l, pl;
	m->calls++;
	struct memfs_node *n = memfs_get(m, ino, &l), *p = memfs_get(m, newparent, &pl);
	if (!n || !p)
		return -ESTALE;
	if (S_ISDIR(n->mode))
		return -EPERM;
	/* a hard link in this toy fs is a second node sharing nothing: enough to see where the name lands */
	int64_t k = memfs_mk(m, pl, newname, n->mode, n->data);
	if (k < 0)
		return (int)k;
	return memfs_entry(m, (uint64_t)k, e);
}

static int memfs_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	struct memfs *m = memfs_of(fs);
	uint64_t pl;
	m->calls++;
	if (!memfs_get(m, parent, &pl))
		return -ESTALE;
	int64_t k = memfs_find(m, pl, name);
	if (k < 0)
		return -ENOENT;
	m->nodes[k].linked = false;
	return 0;
}

static int memfs_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
			uint64_t newparent, const char *newname, unsigned flags)
{
	struct memfs *m = memfs_of(fs);
	uint64_t pl, npl;
	m->calls++;
	if (!memfs_get(m, parent, &pl) || !memfs_get(m, newparent, &npl))
		return -ESTALE;
	int64_t k = memfs_find(m, pl, name);
	if (k < 0)
		return -ENOENT;
	int64_t old = memfs_find(m, npl, newname);
	if (old >= 0)
		m->nodes[old].linked = false;
	m->nodes[k].parent = npl;
	snprintf(m->nodes[k].name, sizeof(m->nodes[k].name), "%s", newname);
	return 0;
}

static int memfs_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *o)
{
	struct memfs *m = memfs_of(fs);
	uint64_t l;
	m->calls++;
	struct memfs_node *n = memfs_get(m, ino, &l);
	if (!n)
		return -ESTALE;
	if (S_ISDIR(n->mode))
		return -EISDIR;
	*o = (struct fs_open){ .fh = l, .backing_fd = -1 };
	return 0;
}

static int memfs_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
		      size_t size, const struct iovec *dst, int dst_cnt, size_t *ret_len)
{
	struct memfs *m = memfs_of(fs);
	m->calls++;
	struct memfs_node *n = memfs_get(m, ino, NULL);
	if (!n)
		return -ESTALE;
	size_t done = 0;
	if (off < n->len) {
		size_t want = size < n->len - off ? size : n->len - off;
		for (int i = 0; i < dst_cnt && done < want; i++) {
			size_t k = dst[i].iov_len < want - done ? dst[i].iov_len : want - done;
			memcpy(dst[i].iov_base, n->data + off + done, k);
			done += k;
		}
	}
	*ret_len = done;
	return 0;
}

static int memfs_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *o)
{
	struct memfs *m = memfs_of(fs);
	uint64_t l;
	m->calls++;
	struct memfs_node *n = memfs_get(m, ino, &l);
	if (!n)
		return -ESTALE;
	if (!S_ISDIR(n->mode))
		return -ENOTDIR;
	*o = (struct fs_open){ .fh = l, .backing_fd = -1 };
	return 0;
}

static int memfs_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
			 struct fs_dirbuf *buf)
{
	struct memfs *m = memfs_of(fs);
	uint64_t l;
	m->calls++;
	struct memfs_node *n = memfs_get(m, ino, &l);
	if (!n)
		return -ESTALE;
	if (off == 0 && fs_dirbuf_add(buf, ".", 1, l + m->inoff, DT_DIR, 1) < 0)
		return 0;
	if (off <= 1 && fs_dirbuf_add(buf, "..", 2, n->parent + m->inoff, DT_DIR, 2) < 0)
		return 0;
	for (uint64_t i = 2; i < m->n; i++) {
		struct memfs_node *k = &m->nodes[i];
		if (!k->used || !k->linked || k->parent != l || i + 2 <= off)
			continue;
		if (fs_dirbuf_is_plus(buf)) {
			struct fs_entry e;
			if (!fs_dirbuf_fits(buf, strlen(k->name)))
				return 0;
			memfs_entry(m, i, &e);
			if (fs_dirbuf_add_plus(buf, k->name, strlen(k->name), &e, i + 2) < 0) {
				k->nlookup--;
				return 0;
			}
		} else if (fs_dirbuf_add(buf, k->name, strlen(k->name), i + m->inoff, (k->mode & S_IFMT) >> 12,
					 i + 2) < 0) {
			return 0;
		}
	}
	return 0;
}

static int memfs_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	st->f_bsize = 4096;
	st->f_namemax = 255;
	return 0;
}

static const struct fs_ops memfs_ops = {
	.lookup = memfs_lookup,
	.forget = memfs_forget,
	.getattr = memfs_getattr,
	.readlink = memfs_readlink,
	.mknod = memfs_mknod,
	.mkdir = memfs_mkdir,
	.symlink = memfs_symlink,
	.link = memfs_link,
	.unlink = memfs_unlink,
	.rmdir = memfs_unlink,
	.rename = memfs_rename,
	.open = memfs_open,
	.create = memfs_create,
	.read = memfs_read,
	.opendir = memfs_opendir,
	.readdir = memfs_readdir,
	.statfs = memfs_statfs,
};

static void memfs_free(struct fs *fs)
{
	struct memfs *m = memfs_of(fs);
	for (uint64_t i = 0; i < m->n; i++)
		free(m->nodes[i].data);
	fs_inomap_space_free(m->map, m->space);
	fs_inomap_unref(m->map);
	free(m);
}

/* An empty fs (a root directory, or a regular file root when file_root). */
static inline struct memfs *memfs_new(struct fs_inomap *map, bool file_root, uint64_t inoff)
{
	struct memfs *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	if (fs_inomap_space_new(map, &m->base, &m->space) < 0)
		abort();
	m->map = fs_inomap_ref(map);
	m->base.ops = &memfs_ops;
	m->base.kind = "memfs";
	m->base.root = fs_ino_make(m->space, 1);
	m->base.free = memfs_free;
	m->inoff = inoff;
	m->n = 2;
	m->nodes[1] = (struct memfs_node){ .used = true, .linked = true, .parent = 1, .nlink = 2,
					   .mode = file_root ? S_IFREG | 0644 : S_IFDIR | 0755 };
	if (file_root) {
		m->nodes[1].data = strdup("file-entry-bytes\n");
		m->nodes[1].len = strlen(m->nodes[1].data);
		m->nodes[1].nlink = 1;
	}
	return m;
}
