/* SPDX-License-Identifier: MIT */
/*
 * The overlay's file handles and directory ops.
 *
 * Handles of virtual files and virtual directories: fh = generation << 32 | (slot + 1) in a table, checked on
 * every use, so a guest that sends any fh gets EBADF, never a wild pointer.
 *
 * Directory cookies of a virtual directory (see docs/share-tree.md):
 *   1 .. N      the virtual children, from a snapshot of their names taken at opendir and at every rewind
 *               (cookie 0), so positions stay valid while entries come and go;
 *   2^32 + k    the k-th entry of the real directory under it: the handle keeps a table k -> the real fs's own
 *               cookie to resume from. The real fs's cookies can use all 63 bits (ext4 hashes), and FUSE
 *               cookies must stay below 2^63 (lseek on the client rejects the rest), so no bit is free to tag
 *               them; the table costs 8 bytes an entry and lives as long as the open directory.
 * Real entries whose name a virtual one shadows are skipped, so no name is listed twice.
 */
#include "tree/overlay-int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tree/dirscan.h"
#include "util/macros.h"

#define COOKIE_REAL (1ULL << 32)
#define SCRATCH 8192

#define COUNT(o) atomic_fetch_add(&(o)->n_requests, 1)

/* -- handles: fh = gen << 32 | (slot + 1), checked on every use (a guest may send any fh) -- */

static void snap_clear(struct ovl_handle *h)
{
	for (size_t i = 0; i < h->nsnap; i++)
		free(h->snap[i].name);
	free(h->snap);
	h->snap = NULL;
	h->nsnap = 0;
}

void ovl_handle_put(struct ovl_handle *h)
{
	if (!h || atomic_fetch_sub(&h->refs, 1) != 1)
		return;
	ovl_blob_unref(h->blob);
	snap_clear(h);
	free(h->cookies);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int ovl_handle_add(struct ovl *o, struct ovl_handle *h, uint64_t *ret_fh)
{
	pthread_mutex_lock(&o->lock);
	size_t slot = 0;
	while (slot < o->nhandles && o->handles[slot])
		slot++;
	if (slot == o->nhandles) {
		if (o->nhandles == o->hcap) {
			size_t cap = o->hcap ? o->hcap * 2 : 16;
			if (cap > UINT32_MAX - 1) {
				pthread_mutex_unlock(&o->lock);
				return -EMFILE;
			}
			struct ovl_handle **nh = realloc(o->handles, cap * sizeof(*nh));
			if (!nh) {
				pthread_mutex_unlock(&o->lock);
				return -ENOMEM;
			}
			o->handles = nh;
			o->hcap = cap;
		}
		o->nhandles++;
	}
	h->gen = ++o->hgen;
	o->handles[slot] = h;
	pthread_mutex_unlock(&o->lock);
	*ret_fh = ((uint64_t)h->gen << 32) | (slot + 1);
	return 0;
}

/* The handle of fh with a reference taken, or NULL; remove: take it out of the table too. */
struct ovl_handle *ovl_handle_get(struct ovl *o, uint64_t fh, bool dir, bool remove)
{
	uint64_t slot = (fh & 0xffffffffu) - 1;
	struct ovl_handle *h = NULL;
	pthread_mutex_lock(&o->lock);
	if ((fh & 0xffffffffu) != 0 && slot < o->nhandles && o->handles[slot] &&
	    o->handles[slot]->gen == (uint32_t)(fh >> 32) && o->handles[slot]->dir == dir) {
		h = o->handles[slot];
		atomic_fetch_add(&h->refs, 1);
		if (remove) {
			o->handles[slot] = NULL;
			ovl_handle_put(h); /* the table's reference; ours remains */
		}
	}
	pthread_mutex_unlock(&o->lock);
	return h;
}

void ovl_handles_free(struct ovl *o)
{
	for (size_t i = 0; i < o->nhandles; i++)
		ovl_handle_put(o->handles[i]);
	free(o->handles);
}

/* -- directories -- */

static int cookies_set(struct ovl_handle *h, size_t k, uint64_t val);

static int snap_take(struct ovl *o, struct vnode *n, struct ovl_handle *h)
{
	snap_clear(h);
	size_t cap = n->nkids + 2;
	h->snap = calloc(cap, sizeof(*h->snap));
	if (!h->snap)
		return -ENOMEM;
	if (!n->ufs) { /* the real directory lists its own "." and ".." */
		uint64_t pino = n->parent ? n->parent->attr.st_ino : n->attr.st_ino;
		h->snap[h->nsnap++] = (struct snap_ent){ strdup("."), 0, DT_DIR, n->attr.st_ino };
		h->snap[h->nsnap++] = (struct snap_ent){ strdup(".."), 0, DT_DIR, pino };
	}
	for (size_t i = 0; i < n->nkids; i++) {
		struct vnode *k = n->kids[i];
		unsigned type = k->kind == VK_DIR ? DT_DIR : k->kind == VK_FILE ? DT_REG : DT_UNKNOWN;
		h->snap[h->nsnap++] = (struct snap_ent){ strdup(k->name), k->id, type, k->attr.st_ino };
	}
	for (size_t i = 0; i < h->nsnap; i++)
		if (!h->snap[i].name) {
			snap_clear(h);
			return -ENOMEM;
		}
	return 0;
}

int ovl_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	struct ovl *o = ovl_of(fs);
	COUNT(o);
	pthread_mutex_lock(&o->lock);
	struct ovl_target t;
	int r = ovl_resolve_locked(o, ino, &t);
	if (r < 0 || !t.n || t.n->kind != VK_DIR) {
		bool virtual_file = r >= 0 && t.n; /* a virtual file or a file entry's root */
		pthread_mutex_unlock(&o->lock);
		if (r < 0)
			return r;
		if (virtual_file)
			return -ENOTDIR;
		return FS_CALL(t.fs, opendir, ctx, t.ino, flags, ret);
	}
	struct ovl_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		pthread_mutex_unlock(&o->lock);
		return -ENOMEM;
	}
	atomic_init(&h->refs, 1);
	pthread_mutex_init(&h->mu, NULL);
	h->dir = true;
	r = snap_take(o, t.n, h);
	if (r >= 0)
		r = cookies_set(h, 0, 0); /* cookie 2^32 + 0: the start of the real directory */
	pthread_mutex_unlock(&o->lock);
	if (r >= 0 && t.fs) {
		struct fs_open uo;
		r = FS_CALL(t.fs, opendir, ctx, t.ino, flags, &uo);
		if (r >= 0) {
			h->ufs = t.fs;
			h->uino = t.ino;
			h->ufh = uo.fh;
			h->has_u = true;
		}
	}
	if (r >= 0)
		r = ovl_handle_add(o, h, &ret->fh);
	if (r < 0) {
		if (h->has_u)
			FS_CALL_VOID(h->ufs, releasedir, ctx, h->uino, h->ufh);
		ovl_handle_put(h);
		return r;
	}
	ret->flags = 0; /* never FS_OPEN_CACHE_DIR: the listing changes with the allowlist */
	ret->backing_fd = -1;
	return 0;
}

/* Emit one virtual child; 1 when the buffer is full. */
static int emit_virtual(struct ovl *o, const struct fs_ctx *ctx, const struct snap_ent *s, uint64_t next,
			struct fs_dirbuf *buf)
{
	size_t nl = strlen(s->name);
	if (!fs_dirbuf_fits(buf, nl))
		return 1;
	if (!fs_dirbuf_is_plus(buf) || s->id == 0)
		return fs_dirbuf_add(buf, s->name, nl, s->st_ino, s->type, next) < 0 ? 1 : 0;
	struct fs_entry e;
	pthread_mutex_lock(&o->lock);
	struct vnode *n = ovl_node(o, s->id);
	int r = n && n->linked ? ovl_node_entry(o, ctx, n, &e) : -ENOENT;
	pthread_mutex_unlock(&o->lock);
	if (r < 0) /* gone since the snapshot: list the name only (the client's lookup will tell) */
		return fs_dirbuf_add(buf, s->name, nl, s->st_ino, s->type, next) < 0 ? 1 : 0;
	if (fs_dirbuf_add_plus(buf, s->name, nl, &e, next) < 0) {
		FS_CALL_VOID(&o->base, forget, e.ino, 1);
		return 1;
	}
	return 0;
}

static bool shadowed(const struct ovl_handle *h, const struct ds_ent *e)
{
	for (size_t i = 0; i < h->nsnap; i++)
		if (h->snap[i].id && strlen(h->snap[i].name) == e->namelen &&
		    memcmp(h->snap[i].name, e->name, e->namelen) == 0)
			return true;
	return false;
}

/* Emit one real entry; 1 when the buffer is full, 0 added, 2 skipped. */
static int emit_real(struct ovl *o, const struct fs_ctx *ctx, struct ovl_handle *h, const struct ds_ent *d,
		     uint16_t tag, uint64_t next, struct fs_dirbuf *buf)
{
	if (!fs_dirbuf_fits(buf, d->namelen))
		return 1;
	bool dots = (d->namelen == 1 && d->name[0] == '.') ||
		    (d->namelen == 2 && d->name[0] == '.' && d->name[1] == '.');
	if (!fs_dirbuf_is_plus(buf) || dots)
		return fs_dirbuf_add(buf, d->name, d->namelen, ovl_ino_map(d->st_ino, tag), d->type, next) < 0 ? 1
														     : 0;
	char name[1025];
	memcpy(name, d->name, d->namelen);
	name[d->namelen] = '\0';
	struct fs_entry e;
	int r = FS_CALL(h->ufs, lookup, ctx, h->uino, name, &e);
	if (r < 0 || e.ino == 0)
		return 2; /* gone meanwhile */
	ovl_remap_entry(&e, tag);
	if (fs_dirbuf_add_plus(buf, d->name, d->namelen, &e, next) < 0) {
		FS_CALL_VOID(h->ufs, forget, e.ino, 1);
		return 1;
	}
	return 0;
}

static int cookies_set(struct ovl_handle *h, size_t k, uint64_t val)
{
	if (k >= h->ccap) {
		size_t cap = h->ccap ? h->ccap * 2 : 64;
		while (cap <= k)
			cap *= 2;
		uint64_t *c = realloc(h->cookies, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		h->cookies = c;
		h->ccap = cap;
	}
	h->cookies[k] = val;
	h->ncookies = k + 1;
	return 0;
}

static int merged_readdir(struct ovl *o, const struct fs_ctx *ctx, 
			  struct ovl_handle *h, uint64_t dir_id, uint64_t off, struct fs_dirbuf *buf)
{
	int r = 0;
	if (off == 0) {
		/* a rewind: take the names again so additions and removals show */
		pthread_mutex_lock(&o->lock);
		struct vnode *n = ovl_node(o, dir_id);
		if (n && n->kind == VK_DIR)
			r = snap_take(o, n, h);
		pthread_mutex_unlock(&o->lock);
		if (r < 0)
			return r;
		h->ncookies = 0;
		if ((r = cookies_set(h, 0, 0)) < 0)
			return r;
	}
	if (off < COOKIE_REAL) {
		for (uint64_t i = off; i < h->nsnap; i++)
			if (emit_virtual(o, ctx, &h->snap[i], i + 1, buf))
				return 0;
		off = COOKIE_REAL;
	}
	if (!h->has_u)
		return 0;
	uint64_t k = off - COOKIE_REAL;
	if (k >= h->ncookies)
		return k == 0 ? 0 : -EINVAL; /* not a cookie of this handle */
	uint16_t tag;
	ovl_route(o, h->uino, &tag);
	_cleanup_free_ char *scratch = malloc(SCRATCH);
	if (!scratch)
		return -ENOMEM;
	uint64_t uoff = h->cookies[k];
	for (;;) {
		struct ds_scan s;
		r = ds_read(h->ufs, ctx, h->uino, h->ufh, uoff, scratch, SCRATCH, &s);
		if (r < 0)
			return r;
		struct ds_ent d;
		bool any = false;
		while (ds_next(&s, &d)) {
			any = true;
			uoff = d.next_off;
			if (shadowed(h, &d))
				continue;
			if (k + 1 >= (1ULL << 62) - COOKIE_REAL)
				return -EOVERFLOW;
			int e = emit_real(o, ctx, h, &d, tag, COOKIE_REAL + k + 1, buf);
			if (e == 1)
				return 0;
			if (e == 2)
				continue;
			k++;
			if ((r = cookies_set(h, k, d.next_off)) < 0)
				return r;
		}
		if (!any)
			return 0;
	}
}

int ovl_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
		     struct fs_dirbuf *buf)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, ino, &t);
	bool ours = r >= 0 && t.n && t.n->kind == VK_DIR;
	pthread_mutex_unlock(&o->lock);
	if (r < 0)
		return r;
	if (!ours) {
		if (t.n)
			return -ENOTDIR;
		size_t from = ds_len(buf);
		r = FS_CALL(t.fs, readdir, ctx, t.ino, fh, off, buf);
		if (t.tag)
			ds_patch_ino(buf, from, ovl_ino_map, t.tag);
		return r;
	}
	struct ovl_handle *h = ovl_handle_get(o, fh, true, false);
	if (!h)
		return -EBADF;
	pthread_mutex_lock(&h->mu);
	r = merged_readdir(o, ctx, h, ino, off, buf);
	pthread_mutex_unlock(&h->mu);
	ovl_handle_put(h);
	return r;
}

void ovl_releasedir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh)
{
	struct ovl *o = ovl_of(fs);
	if (fs_ino_space(ino) == o->space || ino == FS_ROOT_ID || ino == o->base.root) {
		struct ovl_handle *h = ovl_handle_get(o, fh, true, true);
		if (h && h->has_u)
			FS_CALL_VOID(h->ufs, releasedir, ctx, h->uino, h->ufh);
		ovl_handle_put(h);
		return;
	}
	uint16_t tag;
	struct fs *f = ovl_route(o, ino, &tag);
	FS_CALL_VOID(f, releasedir, ctx, ino, fh);
}

int ovl_fsyncdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync)
{
	struct ovl *o = ovl_of(fs);
	if (fs_ino_space(ino) == o->space || ino == FS_ROOT_ID || ino == o->base.root) {
		struct ovl_handle *h = ovl_handle_get(o, fh, true, false);
		int r = 0;
		if (!h)
			return -EBADF;
		if (h->has_u)
			r = FS_CALL(h->ufs, fsyncdir, ctx, h->uino, h->ufh, datasync);
		ovl_handle_put(h);
		return r;
	}
	uint16_t tag;
	struct fs *f = ovl_route(o, ino, &tag);
	return FS_CALL(f, fsyncdir, ctx, ino, fh, datasync);
}

