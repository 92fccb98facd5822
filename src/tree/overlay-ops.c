/* SPDX-License-Identifier: MIT */
/*
 * The overlay's fs ops (directories are in overlay-dir.c). Each op resolves its node id: a virtual node is
 * answered here (under ovl->lock), a virtual directory over a real one falls through to it, and any other id
 * goes to the fs that owns it.
 */
#include "tree/overlay-int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/macros.h"


/* -- connection -- */

struct init_walk {
	struct fs_conn *conn;
	int err;
};
static void init_entry(struct ovl_entry *e, void *data)
{
	struct init_walk *w = data;
	if (w->err < 0)
		return;
	/* each entry may only restrict what the connection uses */
	struct fs_conn c = *w->conn;
	int k = FS_CALL(e->fs, init, &c);
	if (k < 0 && k != -ENOSYS) {
		w->err = k;
		return;
	}
	w->conn->want &= c.want;
	w->conn->max_write = MIN(w->conn->max_write, c.max_write);
}

static int o_init(struct fs *fs, struct fs_conn *conn)
{
	struct ovl *o = ovl_of(fs);
	int r = FS_CALL(o->lower, init, conn);
	if (r < 0 && r != -ENOSYS)
		return r;
	/* under ->lock: an entry the control thread adds meanwhile is either attached before the walk (and
	 * initialized by it) or sees inited afterwards (and initializes itself in ovl_add_graft) */
	pthread_mutex_lock(&o->lock);
	struct init_walk w = { conn, 0 };
	ovl_entries_foreach(o, init_entry, &w);
	if (w.err >= 0) {
		o->notifier = conn->notifier;
		o->submounts = conn->want & FS_CAP_SUBMOUNTS;
		o->conn = *conn;
		o->inited = true;
	}
	pthread_mutex_unlock(&o->lock);
	return w.err;
}

static void destroy_fs(struct fs *f)
{
	if (f && f->ops->destroy)
		f->ops->destroy(f);
}

static void destroy_entry(struct ovl_entry *e, void *data)
{
	(void)data;
	destroy_fs(e->fs);
}

static void o_destroy(struct fs *fs)
{
	struct ovl *o = ovl_of(fs);
	static const struct fs_ctx ctx0 = { 0, 0, 0, 0 };
	/* the client is gone: its lookups and open handles with it (a vhost-user front end may reconnect) */
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < o->nnodes; i++)
		if (o->nodes[i])
			o->nodes[i]->nlookup = 0;
	for (size_t i = 0; i < o->nnodes; i++)
		if (o->nodes[i])
			ovl_node_maybe_free(o, o->nodes[i]);
	struct ovl_handle **hs = o->handles;
	size_t nh = o->nhandles;
	o->handles = NULL;
	o->nhandles = o->hcap = 0;
	pthread_mutex_unlock(&o->lock);
	for (size_t i = 0; i < nh; i++) {
		if (hs[i] && hs[i]->has_u)
			FS_CALL_VOID(hs[i]->ufs, releasedir, &ctx0, hs[i]->uino, hs[i]->ufh);
		ovl_handle_put(hs[i]);
	}
	free(hs);
	destroy_fs(o->lower);
	ovl_entries_foreach(o, destroy_entry, NULL);
	/* removed entries that only the client kept alive go now */
	ovl_entries_client_gone(o);
	/* a vhost-user front end may connect again and reuse this fs */
	pthread_mutex_lock(&o->lock);
	ovl_reresolve_locked(o);
	o->inited = false;
	pthread_mutex_unlock(&o->lock);
}

/* -- names -- */

static int o_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		    struct fs_entry *ret)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	bool own = ovl_is_own_id(o, parent);
	if (own)
		pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, parent, &t);
	if (r >= 0 && t.n) {
		struct vnode *k = NULL;
		if (t.n->kind != VK_DIR) {
			r = -ENOTDIR; /* a virtual file, or a file entry: nothing is reachable below it */
		} else if (t.n->kind == VK_DIR && strcmp(name, ".") == 0) {
			k = t.n;
		} else if (t.n->kind == VK_DIR && strcmp(name, "..") == 0) {
			/* never below a graft root: ".." of an entry's root is the tree's directory above it */
			k = t.n->parent && t.n != o->root ? t.n->parent : o->root;
		} else if (t.n->kind == VK_DIR) {
			k = ovl_kid(t.n, name);
		}
		if (k) {
			r = ovl_node_entry(o, ctx, k, ret);
			pthread_mutex_unlock(&o->lock);
			ovl_target_put(&t);
			return r;
		}
		if (r >= 0 && !t.fs)
			r = -ENOENT;
	}
	if (own)
		pthread_mutex_unlock(&o->lock);
	/* ".." of a real root can only be the tree's business: never ask the entry's fs to go above it */
	if (r >= 0 && strcmp(name, "..") == 0 && t.ino == t.fs->root)
		r = -ENOENT;
	if (r >= 0 && (r = FS_CALL(t.fs, lookup, ctx, t.ino, name, ret)) >= 0)
		ovl_target_entry(&t, ret);
	ovl_target_put(&t);
	return r;
}

static void o_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	struct ovl *o = ovl_of(fs);
	pthread_mutex_lock(&o->lock);
	struct vnode *n = ovl_node(o, ino);
	if (n) {
		n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
		ovl_node_maybe_free(o, n);
		pthread_mutex_unlock(&o->lock);
		return;
	}
	pthread_mutex_unlock(&o->lock);
	if (fs_ino_space(ino) == o->space || ino == FS_ROOT_ID)
		return;
	/* exactly once, to the owner of the id: the entry whose space holds it, else the base */
	struct ovl_target t;
	if (ovl_resolve_locked(o, ino, &t) < 0)
		return;
	FS_CALL_VOID(t.fs, forget, ino, nlookup);
	ovl_entry_uncount(t.e, OVL_LOOKUP, nlookup);
	ovl_target_put(&t);
}

/*
 * Resolve id for an op that virtual nodes answer with a fixed error (or handle themselves): returns 1 with the
 * lock held when id is a virtual node without a real one under it, 0 (unlocked) with t filled to forward, or
 * -errno.
 */
int ovl_target_get(struct ovl *o, uint64_t id, struct ovl_target *t)
{
	/* an entry's or the base's own id: routed by the entry table alone, without the overlay's mutex, so
	 * requests on different entries (and on one) do not serialize on it */
	if (!ovl_is_own_id(o, id)) {
		int r = ovl_resolve_locked(o, id, t);
		return r < 0 ? r : 0;
	}
	pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, id, t);
	if (r >= 0 && t->n && !t->fs)
		return 1;
	pthread_mutex_unlock(&o->lock);
	return r < 0 ? r : 0;
}

static int o_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
		     struct stat *ret_attr, double *ret_timeout)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_get(o, ino, &t);
	if (r == 1) {
		*ret_attr = t.n->attr;
		if (t.n->blob)
			ret_attr->st_size = (off_t)t.n->blob->len;
		*ret_timeout = t.n->fn ? 0 : 1.0;
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	if (r < 0)
		return r;
	/* a merged directory's fh is ours, not the real fs's */
	if (t.vdir)
		has_fh = false;
	r = FS_CALL(t.fs, getattr, ctx, t.ino, fh, has_fh, ret_attr, ret_timeout);
	if (r >= 0)
		ret_attr->st_ino = ovl_ino_map(ret_attr->st_ino, t.tag);
	ovl_target_put(&t);
	return r;
}

static int o_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *attr,
		     uint32_t to_set, uint64_t fh, struct stat *ret_attr, double *ret_timeout)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_get(o, ino, &t);
	if (r == 1) {
		pthread_mutex_unlock(&o->lock);
		return -EROFS; /* virtual entries are the server's: the client cannot change them */
	}
	if (r < 0)
		return r;
	if (t.vdir)
		to_set &= ~FS_SET_FH;
	r = FS_CALL(t.fs, setattr, ctx, t.ino, attr, to_set, fh, ret_attr, ret_timeout);
	if (r >= 0)
		ret_attr->st_ino = ovl_ino_map(ret_attr->st_ino, t.tag);
	ovl_target_put(&t);
	return r;
}

static int o_readlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size,
		      size_t *ret_len)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_fwd(o, ino, &t);
	if (r == 1)
		return -EINVAL;
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, readlink, ctx, t.ino, buf, size, ret_len);
	ovl_target_put(&t);
	return r;
}

/*
 * Where a new name in parent goes: 0 with (fs, ino) of the real directory, or -errno. A name a virtual entry
 * holds is taken (EEXIST); a purely virtual directory cannot hold new names (EROFS).
 */
static int new_name_target(struct ovl *o, uint64_t parent, const char *name, struct ovl_target *t)
{
	pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, parent, t);
	if (r >= 0 && t->n) {
		if (t->n->kind != VK_DIR)
			r = t->n->kind == VK_FILE ? -ENOTDIR : 0;
		else if (ovl_kid(t->n, name))
			r = -EEXIST;
		else if (!t->fs)
			r = -EROFS;
	}
	pthread_mutex_unlock(&o->lock);
	if (r < 0)
		ovl_target_put(t);
	return r;
}

static int o_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		   dev_t rdev, struct fs_entry *ret)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = new_name_target(o, parent, name, &t);
	if (r < 0)
		return r;
	if ((r = FS_CALL(t.fs, mknod, ctx, t.ino, name, mode, rdev, ret)) >= 0)
		ovl_target_entry(&t, ret);
	ovl_target_put(&t);
	return r;
}

static int o_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		   struct fs_entry *ret)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = new_name_target(o, parent, name, &t);
	if (r < 0)
		return r;
	if ((r = FS_CALL(t.fs, mkdir, ctx, t.ino, name, mode, ret)) >= 0)
		ovl_target_entry(&t, ret);
	ovl_target_put(&t);
	return r;
}

static int o_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name,
		     const char *target_path, struct fs_entry *ret)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = new_name_target(o, parent, name, &t);
	if (r < 0)
		return r;
	if ((r = FS_CALL(t.fs, symlink, ctx, t.ino, name, target_path, ret)) >= 0)
		ovl_target_entry(&t, ret);
	ovl_target_put(&t);
	return r;
}

static int o_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    int flags, struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = new_name_target(o, parent, name, &t);
	if (r < 0)
		return r;
	if ((r = FS_CALL(t.fs, create, ctx, t.ino, name, mode, flags, ret_entry, ret_open)) >= 0) {
		ovl_target_entry(&t, ret_entry);
		ovl_entry_count(t.e, OVL_OPEN, 1);
	}
	ovl_target_put(&t);
	return r;
}

static int o_tmpfile(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, mode_t mode, int flags,
		     struct fs_entry *ret_entry, struct fs_open *ret_open)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = new_name_target(o, parent, "", &t);
	if (r < 0)
		return r;
	if ((r = FS_CALL(t.fs, tmpfile, ctx, t.ino, mode, flags, ret_entry, ret_open)) >= 0) {
		ovl_target_entry(&t, ret_entry);
		ovl_entry_count(t.e, OVL_OPEN, 1);
	}
	ovl_target_put(&t);
	return r;
}

static int o_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t newparent, const char *newname,
		  struct fs_entry *ret)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target src, dst;
	COUNT(o);
	int r = new_name_target(o, newparent, newname, &dst);
	if (r < 0)
		return r;
	pthread_mutex_lock(&o->lock);
	r = ovl_resolve_locked(o, ino, &src);
	/* a graft's root (or a virtual file) linked elsewhere would leave its entry: another device for link(2) */
	if (r >= 0 && (src.n || src.fs != dst.fs))
		r = -EXDEV;
	pthread_mutex_unlock(&o->lock);
	if (r >= 0 && (r = FS_CALL(dst.fs, link, ctx, src.ino, dst.ino, newname, ret)) >= 0)
		ovl_target_entry(&dst, ret);
	ovl_target_put(&src);
	ovl_target_put(&dst);
	return r;
}

/* Where removing or renaming name in parent goes: virtual names and graft roots cannot be touched. */
static int old_name_target(struct ovl *o, uint64_t parent, const char *name, struct ovl_target *t)
{
	pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, parent, t);
	if (r >= 0 && t->n) {
		struct vnode *k = t->n->kind == VK_DIR ? ovl_kid(t->n, name) : NULL;
		if (t->n->kind == VK_FILE)
			r = -ENOTDIR;
		else if (k)
			r = k->graft ? -EBUSY : -EROFS;
		else if (!t->fs)
			r = -ENOENT;
	}
	pthread_mutex_unlock(&o->lock);
	if (r < 0)
		ovl_target_put(t);
	return r;
}

static int o_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = old_name_target(o, parent, name, &t);
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, unlink, ctx, t.ino, name);
	ovl_target_put(&t);
	return r;
}

static int o_rmdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = old_name_target(o, parent, name, &t);
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, rmdir, ctx, t.ino, name);
	ovl_target_put(&t);
	return r;
}

static int o_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, uint64_t newparent,
		    const char *newname, unsigned flags)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target a, b;
	COUNT(o);
	b = (struct ovl_target){ 0 };
	int r = old_name_target(o, parent, name, &a);
	if (r >= 0)
		r = old_name_target(o, newparent, newname, &b);
	if (r == -ENOENT) /* a purely virtual target directory */
		r = -EROFS;
	if (r >= 0 && a.fs != b.fs)
		r = -EXDEV;
	if (r >= 0)
		r = FS_CALL(a.fs, rename, ctx, a.ino, name, b.ino, newname, flags);
	ovl_target_put(&a);
	ovl_target_put(&b);
	return r;
}

/*
 * The fh that goes down with an op: a merged directory's fh is ours (its handle holds the real fs's own fh,
 * which is what goes down, so flock(2) on a merged directory reaches the real one); any other fh is the real
 * fs's. Our fh is never handed to another fs.
 */
int ovl_fwd_begin(struct ovl *o, uint64_t id, uint64_t fh, struct ovl_fwd *f)
{
	int r = ovl_target_fwd(o, id, &f->t);
	if (r != 0)
		return r;
	f->fh = fh;
	f->dh = NULL;
	if (!f->t.vdir)
		return 0;
	struct ovl_handle *h = ovl_handle_get(o, fh, true, false);
	if (!h || !h->has_u) {
		ovl_handle_put(h);
		ovl_target_put(&f->t);
		return -EBADF;
	}
	f->fh = h->ufh;
	f->dh = h;
	return 0;
}

int ovl_fwd_end(struct ovl_fwd *f, int r)
{
	ovl_handle_put(f->dh);
	ovl_target_put(&f->t);
	return r;
}

/* -- files -- */

static int o_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_get(o, ino, &t);
	if (r < 0)
		return r;
	if (r == 0) {
		if ((r = FS_CALL(t.fs, open, ctx, t.ino, flags, ret)) >= 0)
			ovl_entry_count(t.e, OVL_OPEN, 1);
		ovl_target_put(&t);
		return r;
	}
	struct vnode *n = t.n;
	if (n->kind != VK_FILE)
		r = -EISDIR;
	else if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		r = -EROFS;
	else if (n->oneshot && !n->linked)
		r = -ENOENT; /* consumed (or removed) */
	struct ovl_blob *blob = NULL;
	ovl_produce_fn fn = NULL;
	void *fn_data = NULL;
	if (r >= 0) {
		blob = ovl_blob_ref(n->blob);
		fn = n->fn;
		fn_data = n->fn_data;
		if (n->oneshot) {
			/* gone for every later lookup; the entry was handed out with entry_timeout 0 */
			struct vnode *p = n->parent;
			for (size_t i = 0; p && i < p->nkids; i++)
				if (p->kids[i] == n) {
					p->kids[i] = p->kids[--p->nkids];
					break;
				}
			n->linked = false;
		}
	}
	pthread_mutex_unlock(&o->lock);
	if (r < 0)
		return r;
	if (fn) {
		char *buf = NULL;
		size_t len = 0;
		r = fn(fn_data, &buf, &len);
		if (r < 0)
			return r;
		struct ovl_blob *b = malloc(sizeof(*b) + len + 1);
		if (!b) {
			free(buf);
			return -ENOMEM;
		}
		atomic_init(&b->refs, 1);
		b->len = len;
		if (len)
			memcpy(b->data, buf, len);
		free(buf);
		blob = b;
	}
	struct ovl_handle *h = calloc(1, sizeof(*h));
	if (!h) {
		ovl_blob_unref(blob);
		return -ENOMEM;
	}
	atomic_init(&h->refs, 1);
	pthread_mutex_init(&h->mu, NULL);
	h->blob = blob;
	*ret = (struct fs_open){ .backing_fd = -1 };
	r = ovl_handle_add(o, h, &ret->fh);
	if (r < 0) {
		ovl_handle_put(h);
		return r;
	}
	/* bytes made at open can differ from what the client cached: read them from us every time */
	ret->flags = fn ? FS_OPEN_DIRECT_IO : 0;
	atomic_fetch_add(&o->n_opens, 1);
	return 0;
}

static int o_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		  const struct iovec *dst, int dst_cnt, size_t *ret_len)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_fwd f;
	COUNT(o);
	int r = ovl_fwd_begin(o, ino, fh, &f);
	if (r < 0)
		return r;
	if (r == 0)
		return ovl_fwd_end(&f, FS_CALL(f.t.fs, read, ctx, f.t.ino, f.fh, off, size, dst, dst_cnt, ret_len));
	struct ovl_handle *h = ovl_handle_get(o, fh, false, false);
	if (!h)
		return -EBADF;
	size_t done = 0;
	if (h->blob && off < h->blob->len) {
		size_t want = MIN(size, h->blob->len - (size_t)off);
		for (int i = 0; i < dst_cnt && done < want; i++) {
			size_t k = MIN(dst[i].iov_len, want - done);
			memcpy(dst[i].iov_base, h->blob->data + off + done, k);
			done += k;
		}
	}
	ovl_handle_put(h);
	*ret_len = done;
	return 0;
}

static int o_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		   const struct iovec *src, int src_cnt, uint32_t write_flags, size_t *ret_len)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_fwd f;
	COUNT(o);
	int r = ovl_fwd_begin(o, ino, fh, &f);
	if (r != 0)
		return r == 1 ? -EROFS : r;
	return ovl_fwd_end(&f,
			   FS_CALL(f.t.fs, write, ctx, f.t.ino, f.fh, off, size, src, src_cnt, write_flags, ret_len));
}

static int o_flush(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_fwd f;
	int r = ovl_fwd_begin(o, ino, fh, &f);
	if (r != 0)
		return r == 1 ? 0 : r;
	return ovl_fwd_end(&f, FS_CALL(f.t.fs, flush, ctx, f.t.ino, f.fh, lock_owner));
}

static void o_release(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int flags,
		      uint64_t lock_owner, bool flock_release)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	bool own = ovl_is_own_id(o, ino);
	if (own)
		pthread_mutex_lock(&o->lock);
	int r = ovl_resolve_locked(o, ino, &t);
	if (own)
		pthread_mutex_unlock(&o->lock);
	/* a virtual file's handle is ours, also when its node is already freed (fh names it) */
	if ((r >= 0 && t.n && !t.fs) || (r < 0 && fs_ino_space(ino) == o->space)) {
		ovl_handle_put(ovl_handle_get(o, fh, false, true));
		return;
	}
	if (r >= 0) {
		FS_CALL_VOID(t.fs, release, ctx, t.ino, fh, flags, lock_owner, flock_release);
		ovl_entry_uncount(t.e, OVL_OPEN, 1);
	}
	ovl_target_put(&t);
}

static int o_fsync(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_fwd f;
	int r = ovl_fwd_begin(o, ino, fh, &f);
	if (r != 0)
		return r == 1 ? 0 : r;
	return ovl_fwd_end(&f, FS_CALL(f.t.fs, fsync, ctx, f.t.ino, f.fh, datasync));
}

static int o_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *ret)
{
	struct ovl *o = ovl_of(fs);
	struct ovl_target t;
	COUNT(o);
	int r = ovl_target_fwd(o, ino, &t);
	if (r == 1)
		return FS_CALL(o->lower, statfs, ctx, o->lower->root, ret);
	if (r < 0)
		return r;
	r = FS_CALL(t.fs, statfs, ctx, t.ino, ret);
	ovl_target_put(&t);
	return r;
}

const struct fs_ops ovl_ops = {
	.init = o_init,
	.destroy = o_destroy,
	.lookup = o_lookup,
	.forget = o_forget,
	.getattr = o_getattr,
	.setattr = o_setattr,
	.readlink = o_readlink,
	.mknod = o_mknod,
	.mkdir = o_mkdir,
	.symlink = o_symlink,
	.link = o_link,
	.unlink = o_unlink,
	.rmdir = o_rmdir,
	.rename = o_rename,
	.open = o_open,
	.create = o_create,
	.tmpfile = o_tmpfile,
	.read = o_read,
	.write = o_write,
	.flush = o_flush,
	.release = o_release,
	.fsync = o_fsync,
	.opendir = ovl_opendir,
	.readdir = ovl_readdir,
	.releasedir = ovl_releasedir,
	.fsyncdir = ovl_fsyncdir,
	.statfs = o_statfs,
	.setxattr = ovl_setxattr,
	.getxattr = ovl_getxattr,
	.listxattr = ovl_listxattr,
	.removexattr = ovl_removexattr,
	.access = ovl_access,
	.getlk = ovl_getlk,
	.setlk = ovl_setlk,
	.fallocate = ovl_fallocate,
	.lseek = ovl_lseek,
	.copy_file_range = ovl_copy_file_range,
	.syncfs = ovl_syncfs,
};
