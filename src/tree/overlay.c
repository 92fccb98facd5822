/* SPDX-License-Identifier: MIT */
/*
 * The virtual overlay's nodes: creating them by path, removing them, freeing them when the client forgot
 * them, and routing every other node id to the fs that owns it. The fs ops are in overlay-ops.c.
 *
 * Lifetime of a node: it lives while it is linked (reachable by name), or the client holds lookups of it, or
 * another node names it as parent. Removal unlinks it at once (new lookups: ENOENT); the memory goes when the
 * client forgets it. Node ids are never reused (a stale id answers ESTALE, never reaches a new node).
 */
#include "tree/overlay-int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "util/macros.h"

#define OVL_MAX_HOSTFILE (64u << 20)
#define MASK48 ((1ULL << 48) - 1)

static const struct fs_ctx root_ctx = { 0, 0, 0, 0 };

uint64_t ovl_ino_map(uint64_t ino, uint32_t tag)
{
	if (!tag)
		return ino;
	/* tag << 48 keeps entries apart; numbers above 2^48 fold into the low bits (then distinct only with
	 * high probability, documented: no common Linux filesystem hands out such numbers) */
	return ((uint64_t)tag << 48) | ((ino ^ (ino >> 48)) & MASK48);
}

struct ovl_blob *ovl_blob_ref(struct ovl_blob *b)
{
	if (b)
		atomic_fetch_add(&b->refs, 1);
	return b;
}

void ovl_blob_unref(struct ovl_blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

static struct ovl_blob *blob_new(const void *data, size_t len)
{
	struct ovl_blob *b = malloc(sizeof(*b) + len + 1);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	if (len)
		memcpy(b->data, data, len);
	return b;
}

struct vnode *ovl_node(struct ovl *o, uint64_t id)
{
	if (id == FS_ROOT_ID || id == o->base.root)
		return o->root;
	if (fs_ino_space(id) != o->space)
		return NULL;
	uint64_t local = fs_ino_local(id);
	return local < o->nnodes ? o->nodes[local] : NULL;
}

int ovl_resolve_locked(struct ovl *o, uint64_t id, struct ovl_target *ret)
{
	*ret = (struct ovl_target){ 0 };
	struct vnode *n = ovl_node(o, id);
	if (n) {
		ret->n = n;
		ret->vdir = n->kind == VK_DIR;
		if (n->ufs) {
			ret->fs = n->ufs;
			ret->ino = n->uino;
			/* the vnode's reference keeps the entry while the lock is held; the request needs its own */
			ret->e = ovl_entry_ref(n->ue);
			ret->tag = ovl_entry_tag(ret->e);
		}
		return 0;
	}
	if (fs_ino_space(id) == o->space || id == 0)
		return -ESTALE;
	ret->ino = id;
	ret->e = ovl_entry_get(o, id);
	if (ret->e) {
		ret->fs = ret->e->fs;
		ret->tag = ovl_entry_tag(ret->e);
		return 0;
	}
	/* the base's own ids; an id of a freed entry (or of no space at all) must not reach the base */
	uint32_t lspace = fs_ino_space(o->lower->root);
	if (lspace != 0 && fs_ino_space(id) != lspace)
		return -ESTALE;
	ret->fs = o->lower;
	return 0;
}

void ovl_target_put(struct ovl_target *t)
{
	ovl_entry_put(t->e);
	t->e = NULL;
}

void ovl_target_entry(struct ovl_target *t, struct fs_entry *e)
{
	if (!e->ino)
		return;
	e->attr.st_ino = ovl_ino_map(e->attr.st_ino, t->tag);
	ovl_entry_count(t->e, OVL_LOOKUP, 1);
}

struct vnode *ovl_kid(struct vnode *dir, const char *name)
{
	for (size_t i = 0; i < dir->nkids; i++)
		if (strcmp(dir->kids[i]->name, name) == 0)
			return dir->kids[i];
	return NULL;
}

/* Fill e for node n and take one lookup (lock held). Attrs of a node over a real one are the real one's. */
int ovl_node_entry(struct ovl *o, const struct fs_ctx *ctx, struct vnode *n, struct fs_entry *e)
{
	*e = (struct fs_entry){ .ino = n->id, .entry_timeout = 1.0, .attr_timeout = 1.0 };
	if (n->ufs) {
		double t;
		int r = FS_CALL(n->ufs, getattr, ctx ? ctx : &root_ctx, n->uino, 0, false, &e->attr, &t);
		if (r < 0)
			return r;
		e->attr.st_ino = ovl_ino_map(e->attr.st_ino, ovl_entry_tag(n->ue));
		e->attr_timeout = t;
		if (n->graft)
			e->attr_flags |= FS_ATTR_SUBMOUNT;
	} else {
		e->attr = n->attr;
		if (n->kind == VK_FILE && n->blob)
			e->attr.st_size = (off_t)n->blob->len;
		if (n->fn)
			e->attr_timeout = 0; /* the size changes at every open */
	}
	if (n->oneshot)
		e->entry_timeout = 0; /* the name must be looked up again: it is gone after the first open */
	n->nlookup++;
	return 0;
}

static void node_free(struct ovl *o, struct vnode *n)
{
	if (n->uheld)
		FS_CALL_VOID(n->ufs, forget, n->uino, 1);
	ovl_entry_put(n->ue); /* may free a removed entry: lock order ->lock, then ->rlock */
	o->nodes[n->local] = NULL;
	o->n_vnodes--;
	ovl_blob_unref(n->blob);
	free(n->kids);
	free(n->name);
	free(n);
}

void ovl_node_maybe_free(struct ovl *o, struct vnode *n)
{
	while (n && n != o->root && !n->linked && n->nlookup == 0 && n->nrefs == 0) {
		struct vnode *p = n->parent;
		node_free(o, n);
		if (!p)
			break;
		p->nrefs--;
		n = p;
	}
}

static void fill_attr(struct vnode *n, mode_t type, const struct ovl_attr *a)
{
	mode_t perm = a && a->mode ? (a->mode & 07777) : (type == S_IFDIR ? 0555 : 0444);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (a && a->mtime)
		now = (struct timespec){ .tv_sec = a->mtime };
	n->attr = (struct stat){
		.st_ino = n->id,
		.st_mode = type | perm,
		.st_nlink = type == S_IFDIR ? 2 : 1,
		.st_uid = a ? a->uid : 0,
		.st_gid = a ? a->gid : 0,
		.st_blksize = 4096,
		.st_atim = now,
		.st_mtim = now,
		.st_ctim = now,
	};
}

/* A new linked node under parent (lock held). */
static int node_new(struct ovl *o, struct vnode *parent, const char *name, enum vkind kind, struct vnode **ret)
{
	if (o->nnodes >= FS_INO_LOCAL_MAX)
		return -ENOSPC;
	if (o->nnodes == o->ncap) {
		size_t cap = o->ncap ? o->ncap * 2 : 64;
		struct vnode **nn = realloc(o->nodes, cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		o->nodes = nn;
		o->ncap = cap;
	}
	if (parent->nkids == parent->kcap) {
		size_t cap = parent->kcap ? parent->kcap * 2 : 8;
		struct vnode **k = realloc(parent->kids, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->kcap = cap;
	}
	struct vnode *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return -ENOMEM;
	}
	n->local = o->nnodes++;
	n->id = fs_ino_make(o->space, n->local);
	n->kind = kind;
	n->parent = parent;
	n->linked = true;
	parent->nrefs++;
	parent->kids[parent->nkids++] = n;
	o->nodes[n->local] = n;
	o->n_vnodes++;
	*ret = n;
	return 0;
}

/* A virtual directory under parent, merged with the real directory of that name if there is one. */
static int dir_new(struct ovl *o, struct vnode *parent, const char *name, const struct ovl_attr *a,
		   struct vnode **ret)
{
	struct vnode *n;
	int r = node_new(o, parent, name, VK_DIR, &n);
	if (r < 0)
		return r;
	fill_attr(n, S_IFDIR, a);
	if (parent->ufs) {
		struct fs_entry e;
		if (FS_CALL(parent->ufs, lookup, &root_ctx, parent->uino, name, &e) == 0 && e.ino) {
			if (S_ISDIR(e.attr.st_mode)) {
				n->ufs = parent->ufs;
				n->ue = ovl_entry_ref(parent->ue);
				n->uino = e.ino;
				n->uheld = true;
			} else {
				FS_CALL_VOID(parent->ufs, forget, e.ino, 1);
			}
		}
	}
	*ret = n;
	return 0;
}

/* Check one path component. */
static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return memchr(s, '\0', len) == NULL;
}

/*
 * Walk path from the root, creating missing directories when create. Returns the parent of the last component
 * and the last component (a copy) in *ret_last (NULL for the root itself). Lock held.
 */
static int walk(struct ovl *o, const char *path, bool create, struct vnode **ret_parent, char **ret_last,
		struct vnode **ret_first_new)
{
	if (ret_first_new)
		*ret_first_new = NULL;
	if (!path || strlen(path) > PATH_MAX)
		return -EINVAL;
	struct vnode *cur = o->root;
	const char *p = path;
	while (*p == '/')
		p++;
	if (!*p) {
		*ret_parent = o->root;
		*ret_last = NULL;
		return 0;
	}
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!name_ok(p, len))
			return -EINVAL;
		char name[256];
		memcpy(name, p, len);
		name[len] = '\0';
		const char *next = slash;
		while (next && *next == '/')
			next++;
		if (!next || !*next) {
			*ret_parent = cur;
			*ret_last = strdup(name);
			return *ret_last ? 0 : -ENOMEM;
		}
		struct vnode *k = ovl_kid(cur, name);
		if (!k) {
			if (!create)
				return -ENOENT;
			int r = dir_new(o, cur, name, NULL, &k);
			if (r < 0)
				return r;
			if (ret_first_new && !*ret_first_new)
				*ret_first_new = k;
		} else if (k->kind != VK_DIR) {
			return -ENOTDIR;
		}
		cur = k;
		p = next;
	}
}

static void notify_entry(struct ovl *o, uint64_t parent, const char *name)
{
	pthread_mutex_lock(&o->lock); /* set by init on a request thread; we run on the control thread */
	const struct fs_notifier *nf = o->notifier;
	pthread_mutex_unlock(&o->lock);
	if (!nf || !nf->inval_entry)
		return;
	int r = nf->inval_entry(nf, parent, name, strlen(name));
	if (r < 0 && r != -ENOENT)
		log_debug("overlay: invalidating %s in %llu: %d", name, (unsigned long long)parent, r);
}

/* Create a node at path of kind with the final setup done by init (lock held inside). */
static int add_node(struct ovl *o, const char *path, enum vkind kind, const struct ovl_attr *a,
		    void (*setup)(struct vnode *n, void *data), void *data)
{
	_cleanup_free_ char *last = NULL, *first_name = NULL;
	struct vnode *parent, *n = NULL, *first;
	uint64_t parent_id = 0, first_parent = 0;
	pthread_mutex_lock(&o->lock);
	int r = walk(o, path, true, &parent, &last, &first);
	if (first) {
		/* a directory made on the way may now stand over a real one the client has cached: drop that */
		first_parent = first->parent->id;
		first_name = strdup(first->name);
	}
	if (r >= 0 && !last)
		r = -EEXIST; /* the root */
	if (r >= 0 && ovl_kid(parent, last))
		r = -EEXIST;
	if (r >= 0) {
		if (kind == VK_DIR)
			r = dir_new(o, parent, last, a, &n);
		else
			r = node_new(o, parent, last, kind, &n);
	}
	if (r >= 0) {
		if (kind == VK_FILE)
			fill_attr(n, S_IFREG, a);
		n->explicit_ = true;
		n->oneshot = a && a->oneshot && kind == VK_FILE;
		if (setup)
			setup(n, data);
		parent_id = parent->id;
	}
	pthread_mutex_unlock(&o->lock);
	if (first_name)
		notify_entry(o, first_parent, first_name);
	if (r >= 0)
		notify_entry(o, parent_id, last); /* drops a cached real or negative entry of that name */
	return r;
}

static void setup_blob(struct vnode *n, void *data)
{
	n->blob = data;
	n->attr.st_size = (off_t)n->blob->len;
}

int ovl_add_buffer(struct fs *fs, const char *path, const void *buf, size_t len, const struct ovl_attr *a)
{
	struct ovl_blob *b = blob_new(buf, len);
	if (!b)
		return -ENOMEM;
	int r = add_node(ovl_of(fs), path, VK_FILE, a, setup_blob, b);
	if (r < 0)
		ovl_blob_unref(b);
	return r;
}

int ovl_add_fd(struct fs *fs, const char *path, int fd, const struct ovl_attr *a)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if ((uint64_t)st.st_size > OVL_MAX_HOSTFILE)
		return -EFBIG;
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	/* pread: the fd may be O_PATH-reopened by the caller; read what is there now, up to the size seen */
	while (got < (size_t)st.st_size) {
		ssize_t k = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	struct ovl_attr aa = a ? *a : (struct ovl_attr){ 0 };
	if (!aa.mode)
		aa.mode = st.st_mode & 0555 ? st.st_mode & 07555 : 0444; /* keep x bits of the host file */
	return ovl_add_buffer(fs, path, buf, got, &aa);
}

struct cb_setup {
	ovl_produce_fn fn;
	void *data;
};
static void setup_cb(struct vnode *n, void *data)
{
	struct cb_setup *c = data;
	n->fn = c->fn;
	n->fn_data = c->data;
}

int ovl_add_callback(struct fs *fs, const char *path, ovl_produce_fn fn, void *data, const struct ovl_attr *a)
{
	struct cb_setup c = { fn, data };
	return add_node(ovl_of(fs), path, VK_FILE, a, setup_cb, &c);
}

int ovl_add_dir(struct fs *fs, const char *path, const struct ovl_attr *a)
{
	return add_node(ovl_of(fs), path, VK_DIR, a, NULL, NULL);
}

struct graft_setup {
	struct ovl_entry *e;
};
static void setup_graft(struct vnode *n, void *data)
{
	struct graft_setup *g = data;
	n->ufs = g->e->fs;
	n->ue = ovl_entry_ref(g->e);
	n->uino = g->e->fs->root;
	n->uheld = false; /* a root is never freed */
	n->graft = true;
	n->kind = g->e->is_dir ? VK_DIR : VK_PROXY;
}

int ovl_add_graft(struct fs *fs, const char *path, struct fs *g, bool renumber)
{
	struct ovl *o = ovl_of(fs);
	uint32_t space = fs_ino_space(g->root);
	struct stat st;
	double t;
	int r = FS_CALL(g, getattr, &root_ctx, g->root, 0, false, &st, &t);
	if (r >= 0 && (space == 0 || space == o->space || space == fs_ino_space(o->lower->root)))
		r = -EINVAL; /* its ids could not be routed to it */
	if (r < 0) {
		fs_free(g);
		return r;
	}
	struct ovl_entry *e;
	pthread_mutex_lock(&o->lock); /* against o_init: see there */
	if (o->inited) {
		/* the connection is already negotiated: the new fs learns it, it cannot change it */
		struct fs_conn c = o->conn;
		FS_CALL(g, init, &c);
	}
	r = ovl_entry_attach(o, g, renumber, S_ISDIR(st.st_mode), &e);
	pthread_mutex_unlock(&o->lock);
	if (r < 0) {
		fs_free(g);
		return r;
	}
	struct graft_setup gs = { e };
	r = add_node(o, path, VK_DIR, NULL, setup_graft, &gs);
	if (r >= 0) {
		pthread_mutex_lock(&o->lock);
		o->n_grafts++;
		pthread_mutex_unlock(&o->lock);
	}
	/* the attach reference: on success the graft node holds its own now; on failure nothing names e and
	 * this frees it (destroy, then fs_free of g) */
	ovl_entry_put(e);
	return r;
}

/* Unlink n and everything under it (lock held). */
static void unlink_tree(struct ovl *o, struct vnode *n)
{
	while (n->nkids > 0) {
		struct vnode *k = n->kids[--n->nkids];
		unlink_tree(o, k);
	}
	n->linked = false;
	if (n->graft)
		o->n_grafts--;
	ovl_node_maybe_free(o, n);
}

int ovl_remove(struct fs *fs, const char *path)
{
	struct ovl *o = ovl_of(fs);
	_cleanup_free_ char *last = NULL;
	struct vnode *parent;
	uint64_t parent_id = 0;
	pthread_mutex_lock(&o->lock);
	int r = walk(o, path, false, &parent, &last, NULL);
	if (r >= 0 && !last)
		r = -EBUSY; /* the root stays */
	struct vnode *n = r >= 0 ? ovl_kid(parent, last) : NULL;
	if (r >= 0 && !n)
		r = -ENOENT;
	if (r >= 0) {
		for (size_t i = 0; i < parent->nkids; i++)
			if (parent->kids[i] == n) {
				parent->kids[i] = parent->kids[--parent->nkids];
				break;
			}
		parent_id = parent->id;
		unlink_tree(o, n);
	}
	pthread_mutex_unlock(&o->lock);
	if (r >= 0)
		notify_entry(o, parent_id, last);
	return r;
}

void ovl_reresolve_locked(struct ovl *o)
{
	static const struct fs_ctx ctx0 = { 0, 0, 0, 0 };
	/* parents have smaller local ids than their children: one pass in id order sees parents first */
	for (size_t i = 2; i < o->nnodes; i++) {
		struct vnode *n = o->nodes[i];
		if (!n || !n->uheld)
			continue;
		n->ufs = NULL;
		n->uino = 0;
		n->uheld = false;
		ovl_entry_put(n->ue);
		n->ue = NULL;
		struct vnode *p = n->parent;
		struct fs_entry e;
		if (!n->linked || !p || !p->ufs || p->kind != VK_DIR)
			continue;
		if (FS_CALL(p->ufs, lookup, &ctx0, p->uino, n->name, &e) == 0 && e.ino) {
			if (S_ISDIR(e.attr.st_mode)) {
				n->ufs = p->ufs;
				n->ue = ovl_entry_ref(p->ue);
				n->uino = e.ino;
				n->uheld = true;
			} else {
				FS_CALL_VOID(p->ufs, forget, e.ino, 1);
			}
		}
	}
}

static void list_rec(struct vnode *n, char *path, size_t len, ovl_visit_fn fn, void *data)
{
	for (size_t i = 0; i < n->nkids; i++) {
		struct vnode *k = n->kids[i];
		size_t nl = strlen(k->name);
		if (len + 1 + nl >= PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, k->name, nl + 1);
		if (k->explicit_) {
			const char *kind = k->graft ? (k->kind == VK_DIR ? "share" : "file")
						    : (k->kind == VK_DIR ? "dir" : "virtual");
			fn(data, path, kind);
		}
		if (k->kind == VK_DIR)
			list_rec(k, path, len + 1 + nl, fn, data);
		path[len] = '\0';
	}
}

void ovl_list(struct fs *fs, ovl_visit_fn fn, void *data)
{
	struct ovl *o = ovl_of(fs);
	char path[PATH_MAX + 1] = "";
	pthread_mutex_lock(&o->lock);
	list_rec(o->root, path, 0, fn, data);
	pthread_mutex_unlock(&o->lock);
}

void ovl_get_stats(struct fs *fs, struct ovl_stats *ret)
{
	struct ovl *o = ovl_of(fs);
	pthread_mutex_lock(&o->lock);
	*ret = (struct ovl_stats){
		.requests = atomic_load(&o->n_requests),
		.vnodes = o->n_vnodes,
		.grafts = o->n_grafts,
		.opens = atomic_load(&o->n_opens),
		.entries_alive = ovl_entries_alive(o),
	};
	pthread_mutex_unlock(&o->lock);
}

int ovl_status_produce(void *data, char **ret_buf, size_t *ret_len)
{
	struct fs *fs = data;
	struct ovl_stats s;
	ovl_get_stats(fs, &s);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	char *buf = NULL;
	int n = asprintf(&buf,
			 "uptime_s: %lld\nnow_ns: %lld%09ld\nrequests: %llu\nvirtual_opens: %llu\nvirtual_nodes: %llu\n"
			 "entries: %llu\n",
			 (long long)(now.tv_sec - ovl_of(fs)->started), (long long)now.tv_sec, now.tv_nsec,
			 (unsigned long long)s.requests, (unsigned long long)s.opens, (unsigned long long)s.vnodes,
			 (unsigned long long)s.grafts);
	if (n < 0)
		return -ENOMEM;
	*ret_buf = buf;
	*ret_len = (size_t)n;
	return 0;
}

static void ovl_free(struct fs *fs)
{
	struct ovl *o = ovl_of(fs);
	/* every node, linked or not; held lookups need no forget: their fs goes too */
	for (size_t i = 0; i < o->nnodes; i++) {
		struct vnode *n = o->nodes[i];
		if (!n)
			continue;
		ovl_blob_unref(n->blob);
		free(n->kids);
		free(n->name);
		free(n);
	}
	free(o->nodes);
	ovl_handles_free(o);
	ovl_entries_free(o);
	fs_free(o->lower);
	fs_inomap_space_free(o->map, o->space);
	fs_inomap_unref(o->map);
	pthread_mutex_destroy(&o->lock);
	pthread_rwlock_destroy(&o->rlock);
	free(o);
}

int ovl_new(struct fs *lower, struct fs_inomap *map, struct fs **ret)
{
	struct ovl *o = calloc(1, sizeof(*o));
	if (!o) {
		fs_free(lower);
		return -ENOMEM;
	}
	int r = fs_inomap_space_new(map, &o->base, &o->space);
	if (r < 0) {
		free(o);
		fs_free(lower);
		return r;
	}
	o->map = fs_inomap_ref(map);
	o->lower = lower;
	o->base.ops = &ovl_ops;
	o->base.kind = "overlay";
	o->base.root = fs_ino_make(o->space, 1);
	o->base.free = ovl_free;
	o->started = time(NULL);
	pthread_mutex_init(&o->lock, NULL);
	pthread_rwlock_init(&o->rlock, NULL);
	/* local 0 is never used; local 1 is the root */
	o->ncap = 64;
	o->nodes = calloc(o->ncap, sizeof(*o->nodes));
	struct vnode *root = calloc(1, sizeof(*root));
	if (!o->nodes || !root) {
		free(root);
		ovl_free(&o->base);
		return -ENOMEM;
	}
	root->id = FS_ROOT_ID;
	root->local = 1;
	root->kind = VK_DIR;
	root->linked = true;
	root->name = strdup("");
	root->ufs = lower;
	root->uino = lower->root;
	fill_attr(root, S_IFDIR, NULL);
	o->nodes[1] = root;
	o->nnodes = 2;
	o->n_vnodes = 1;
	o->root = root;
	*ret = &o->base;
	return 0;
}
