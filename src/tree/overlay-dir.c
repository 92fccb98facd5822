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
 *
 * The real fs lists into a filter buffer (fs_dirbuf_init_filter): its entries come back as values, are
 * renumbered (st_ino tag) and counted (readdirplus lookups, for the entry's lifetime) on their way into the
 * client's buffer, and dropped entries give their lookup back. No dirent is decoded here.
 */
#include "tree/overlay-int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/macros.h"

#define COOKIE_REAL (1ULL << 32)


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
	ovl_entry_put(h->ue);
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
		if (r >= 0 && virtual_file)
			r = -ENOTDIR;
		if (r >= 0 && (r = FS_CALL(t.fs, opendir, ctx, t.ino, flags, ret)) >= 0)
			ovl_entry_count(t.e, OVL_OPEN, 1);
		ovl_target_put(&t);
		return r;
	}
	struct ovl_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		pthread_mutex_unlock(&o->lock);
		ovl_target_put(&t);
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
			h->ue = TAKE_PTR(t.e); /* the handle keeps the entry while it is open */
			h->uino = t.ino;
			h->ufh = uo.fh;
			h->has_u = true;
		}
	}
	ovl_target_put(&t);
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

static bool shadowed(const struct ovl_handle *h, const char *name, size_t namelen)
{
	for (size_t i = 0; i < h->nsnap; i++)
		if (h->snap[i].id && strlen(h->snap[i].name) == namelen && memcmp(h->snap[i].name, name, namelen) == 0)
			return true;
	return false;
}

static bool is_dots(const char *name, size_t namelen)
{
	return (namelen == 1 && name[0] == '.') || (namelen == 2 && name[0] == '.' && name[1] == '.');
}

/*
 * Forward one entry of fs (entry e, st_ino tag) into out, renumbered; a readdirplus entry's lookup is counted
 * on e. "." and ".." go name-only: the client ignores their node ids (it would never forget them), so a
 * lookup taken for one is given back here. Returns 0 or -ENOSPC (not taken: the caller's inner undoes).
 */
static int forward_entry(struct fs *fs, struct ovl_entry *e, uint16_t tag, struct fs_dirbuf *out, const char *name,
			 size_t namelen, uint64_t st_ino, unsigned type, const struct fs_entry *plus_e,
			 uint64_t next_off)
{
	int r;
	if (!plus_e || is_dots(name, namelen)) {
		r = fs_dirbuf_add(out, name, namelen, ovl_ino_map(st_ino, tag), type, next_off);
		if (r >= 0 && plus_e)
			FS_CALL_VOID(fs, forget, plus_e->ino, 1);
		return r;
	}
	struct fs_entry copy = *plus_e;
	copy.attr.st_ino = ovl_ino_map(copy.attr.st_ino, tag);
	r = fs_dirbuf_add_plus(out, name, namelen, &copy, next_off);
	if (r >= 0)
		ovl_entry_count(e, OVL_LOOKUP, 1);
	return r;
}

/* A real directory of an entry (not merged): every entry passes, renumbered and counted. */
struct pass_filter {
	struct fs *fs;
	struct ovl_entry *e;
	uint16_t tag;
	struct fs_dirbuf *out;
};

static bool pass_fits(void *data, size_t namelen)
{
	struct pass_filter *p = data;
	return fs_dirbuf_fits(p->out, namelen);
}

static int pass_add(void *data, const char *name, size_t namelen, uint64_t st_ino, unsigned type,
		    const struct fs_entry *plus_e, uint64_t next_off)
{
	struct pass_filter *p = data;
	return forward_entry(p->fs, p->e, p->tag, p->out, name, namelen, st_ino, type, plus_e, next_off);
}

/* The real part of a merged directory: shadowed names dropped, our own cookies (see the top of the file). */
struct merge_filter {
	struct ovl_handle *h;
	uint16_t tag;
	struct fs_dirbuf *out;
	uint64_t k;    /* entries of the real directory handed out so far (cookie COOKIE_REAL + k) */
	uint64_t uoff; /* the real fs's cookie after the last entry consumed */
	bool seen, full, emitted;
	int err;
};

static int cookies_reserve(struct ovl_handle *h, size_t k);
static int cookies_set(struct ovl_handle *h, size_t k, uint64_t val);

static bool merge_fits(void *data, size_t namelen)
{
	struct merge_filter *m = data;
	bool fits = fs_dirbuf_fits(m->out, namelen);
	if (!fits)
		m->full = true;
	return fits;
}

static int merge_add(void *data, const char *name, size_t namelen, uint64_t st_ino, unsigned type,
		     const struct fs_entry *plus_e, uint64_t next_off)
{
	struct merge_filter *m = data;
	struct ovl_handle *h = m->h;
	m->seen = true;
	if (shadowed(h, name, namelen)) {
		/* hidden by a virtual child: dropped here, so its lookup is given back here */
		if (plus_e)
			FS_CALL_VOID(h->ufs, forget, plus_e->ino, 1);
		m->uoff = next_off;
		return 0;
	}
	if (m->k + 1 >= (1ULL << 62) - COOKIE_REAL) {
		m->err = -EOVERFLOW;
		return -ENOSPC;
	}
	/* room for the cookie first: once the entry is in the client's buffer it cannot be taken back */
	int r = cookies_reserve(h, (size_t)m->k + 1);
	if (r < 0) {
		m->err = r;
		return -ENOSPC;
	}
	r = forward_entry(h->ufs, h->ue, m->tag, m->out, name, namelen, st_ino, type, plus_e, COOKIE_REAL + m->k + 1);
	if (r < 0) {
		m->full = true;
		return r;
	}
	m->k++;
	cookies_set(h, (size_t)m->k, next_off); /* reserved: cannot fail */
	m->uoff = next_off;
	m->emitted = true;
	return 0;
}

static int cookies_reserve(struct ovl_handle *h, size_t k)
{
	if (k < h->ccap)
		return 0;
	size_t cap = h->ccap ? h->ccap * 2 : 64;
	while (cap <= k)
		cap *= 2;
	uint64_t *c = realloc(h->cookies, cap * sizeof(*c));
	if (!c)
		return -ENOMEM;
	h->cookies = c;
	h->ccap = cap;
	return 0;
}

/* Cookie k resumes the real listing at val. Cookies handed out earlier stay valid (a client may seekdir back
 * and then forward again); reading again from an earlier one sets the same positions anew. */
static int cookies_set(struct ovl_handle *h, size_t k, uint64_t val)
{
	int r = cookies_reserve(h, k);
	if (r < 0)
		return r;
	h->cookies[k] = val;
	h->ncookies = MAX(h->ncookies, k + 1);
	return 0;
}

static int merged_readdir(struct ovl *o, const struct fs_ctx *ctx, struct ovl_handle *h, uint64_t dir_id,
			  uint64_t off, struct fs_dirbuf *buf)
{
	int r = 0;
	bool emitted = false;
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
		for (uint64_t i = off; i < h->nsnap; i++) {
			if (emit_virtual(o, ctx, &h->snap[i], i + 1, buf))
				return 0;
			emitted = true;
		}
		off = COOKIE_REAL;
	}
	if (!h->has_u)
		return 0;
	uint64_t k = off - COOKIE_REAL;
	if (k >= h->ncookies)
		return k == 0 ? 0 : -EINVAL; /* not a cookie of this handle */
	struct merge_filter m = { .h = h, .tag = ovl_entry_tag(h->ue), .out = buf, .k = k, .uoff = h->cookies[k] };
	const struct fs_dirbuf_filter f = { merge_fits, merge_add, &m };
	for (;;) {
		struct fs_dirbuf fb;
		fs_dirbuf_init_filter(&fb, fs_dirbuf_is_plus(buf), &f);
		m.seen = false;
		r = FS_CALL(h->ufs, readdir, ctx, h->uino, h->ufh, m.uoff, &fb);
		if (r >= 0 && m.err < 0)
			r = m.err;
		/* entries already in the client's buffer carry lookups: hand them out, the error comes next call */
		if (r < 0)
			return emitted || m.emitted ? 0 : r;
		/* the real fs may return a partial listing: go on until the buffer is full or it has nothing */
		if (m.full || !m.seen)
			return 0;
	}
}

int ovl_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
		     struct fs_dirbuf *buf)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	bool own = ovl_is_own_id(o, ino);
	if (own)
		pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, ino, &t);
	bool ours = r >= 0 && t.n && t.n->kind == VK_DIR;
	if (own)
		pthread_mutex_unlock(&o->lock);
	if (ours)
		ovl_target_put(&t); /* its handle holds what it reads from */
	if (r < 0)
		return r;
	if (!ours) {
		if (t.n)
			r = -ENOTDIR;
		else if (!t.e) /* the base: its listing goes out as it is */
			r = FS_CALL(t.fs, readdir, ctx, t.ino, fh, off, buf);
		else {
			struct pass_filter p = { t.fs, t.e, t.tag, buf };
			const struct fs_dirbuf_filter f = { pass_fits, pass_add, &p };
			struct fs_dirbuf fb;
			fs_dirbuf_init_filter(&fb, fs_dirbuf_is_plus(buf), &f);
			r = FS_CALL(t.fs, readdir, ctx, t.ino, fh, off, &fb);
		}
		ovl_target_put(&t);
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
	struct ovl_target t;
	if (ovl_resolve_locked(o, ino, &t) < 0)
		return;
	FS_CALL_VOID(t.fs, releasedir, ctx, ino, fh);
	ovl_entry_uncount(t.e, OVL_OPEN, 1);
	ovl_target_put(&t);
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
	struct ovl_target t;
	int r = ovl_resolve_locked(o, ino, &t);
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, fsyncdir, ctx, ino, fh, datasync);
	ovl_target_put(&t);
	return r;
}

