/* SPDX-License-Identifier: MIT */
/*
 * The passthrough inode table: one node per host (st_dev, st_ino, mount id), counted by lookup and forget, each
 * holding an O_PATH fd (pt-fdcache.c bounds those), and the st_ino the client sees for inodes that live on
 * another device than the share root.
 *
 * With export support (the client may hand out file handles of the share, e.g. for an NFS re-export) a node's
 * id must stay resolvable after the client forgets it: the kernel asks for LOOKUP "." of that id when it
 * reconnects a handle. With --inode-file-handles a forgotten node leaves a ghost (its id, key and host file
 * handle, no fd), from which the node is made again with the same id; ghosts are bounded per shard (oldest go
 * first). With handles=never the server may not reopen by handle at all (open_by_handle_at needs
 * CAP_DAC_READ_SEARCH, which the sandbox drops then): a forgotten node is gone, and its id is ESTALE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/pt-int.h"
#include "fs/pt-lock.h"
#include "util/log.h"
#include "util/macros.h"

#define SHARD_MASK (PT_NSHARDS - 1)
#define INITIAL_BUCKETS 64

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t key_hash(dev_t dev, ino_t ino, uint64_t mnt_id)
{
	return mix64((uint64_t)ino ^ mix64((uint64_t)dev ^ (mnt_id << 32) ^ (mnt_id >> 32)));
}

/* Key hashes choose the shard with their low bits, the bucket with the rest. */
static size_t key_bucket(const struct pt_shard *s, uint64_t h)
{
	return (size_t)(h >> PT_SHARD_BITS) & (s->nbuckets - 1);
}

static size_t id_bucket(const struct pt_shard *s, uint64_t id)
{
	return (size_t)mix64(fs_ino_local(id) >> PT_SHARD_BITS) & (s->nbuckets - 1);
}

typedef struct {
	struct file_handle h;
	unsigned char bytes[MAX_HANDLE_SZ];
} handle_buf;

/* The host file handle of fd (an inode of type `type` on mount mnt_id), and an fd of that mount to open it. */
static int handle_of(struct pt *pt, int fd, uint64_t mnt_id, mode_t type, handle_buf *hb, int *ret_mount_fd)
{
	hb->h.handle_bytes = MAX_HANDLE_SZ;
	int old_mnt_id;
	if (name_to_handle_at(fd, "", &hb->h, &old_mnt_id, AT_EMPTY_PATH) < 0)
		return -errno;
	int mfd = pt_mount_fd(pt, mnt_id, fd, type);
	if (mfd < 0)
		return mfd;
	*ret_mount_fd = mfd;
	return 0;
}

struct pt_ghost {
	uint64_t id;
	dev_t dev;
	ino_t ino;
	uint64_t mnt_id;
	uint64_t st_ino;
	int mount_fd;
	struct pt_ghost *next;             /* bucket chain */
	struct pt_ghost *newer, *older;    /* age list */
	struct file_handle *handle;
};

static size_t ghost_bucket(uint64_t id)
{
	return (size_t)mix64(fs_ino_local(id) >> PT_SHARD_BITS) & (PT_GHOST_BUCKETS - 1);
}

static void ghost_free(struct pt_ghost *g)
{
	if (g) {
		free(g->handle);
		free(g);
	}
}

static void ghost_unlink_locked(struct pt_shard *s, struct pt_ghost *g)
{
	struct pt_ghost **pp = &s->ghosts[ghost_bucket(g->id)];
	while (*pp && *pp != g)
		pp = &(*pp)->next;
	if (*pp)
		*pp = g->next;
	if (g->older)
		g->older->newer = g->newer;
	else
		s->ghost_old = g->newer;
	if (g->newer)
		g->newer->older = g->older;
	else
		s->ghost_new = g->older;
	s->nghosts--;
}

/* Under the shard lock: the node n is forgotten; keep what it takes to make it again (handle and mount_fd:
 * n's own, or made for the ghost when n has none). */
static void ghost_add_locked(struct pt_shard *s, const struct pt_inode *n, const struct file_handle *handle,
			     int mount_fd)
{
	if (!handle || mount_fd < 0 || !s->ghosts)
		return;
	struct pt_ghost *g = calloc(1, sizeof(*g));
	size_t hsz = sizeof(struct file_handle) + handle->handle_bytes;
	struct file_handle *h = malloc(hsz);
	if (!g || !h) {
		free(g);
		free(h);
		return;
	}
	memcpy(h, handle, hsz);
	*g = (struct pt_ghost){ .id = n->id, .dev = n->dev, .ino = n->ino, .mnt_id = n->mnt_id,
				.st_ino = n->st_ino, .mount_fd = mount_fd, .handle = h };
	size_t b = ghost_bucket(g->id);
	g->next = s->ghosts[b];
	s->ghosts[b] = g;
	g->older = s->ghost_new;
	if (s->ghost_new)
		s->ghost_new->newer = g;
	else
		s->ghost_old = g;
	s->ghost_new = g;
	if (++s->nghosts > PT_GHOSTS_PER_SHARD) {
		struct pt_ghost *old = s->ghost_old;
		ghost_unlink_locked(s, old);
		ghost_free(old);
	}
}

static void ghosts_free_all_locked(struct pt_shard *s)
{
	while (s->ghost_old) {
		struct pt_ghost *g = s->ghost_old;
		ghost_unlink_locked(s, g);
		ghost_free(g);
	}
}

int pt_itab_init(struct pt *pt)
{
	for (unsigned i = 0; i < PT_NSHARDS; i++) {
		struct pt_shard *s = &pt->shards[i];
		pthread_mutex_init(&s->mu, NULL);
		s->nbuckets = INITIAL_BUCKETS;
		s->by_id = calloc(s->nbuckets, sizeof(*s->by_id));
		s->by_key = calloc(s->nbuckets, sizeof(*s->by_key));
		s->ghosts = calloc(PT_GHOST_BUCKETS, sizeof(*s->ghosts));
		s->next = 1; /* counter 0 is the root's */
		if (!s->by_id || !s->by_key || !s->ghosts)
			return -ENOMEM;
	}
	pthread_mutex_init(&pt->fd_mu, NULL);
	pthread_mutex_init(&pt->mnt_mu, NULL);
	pthread_mutex_init(&pt->dev_mu, NULL);
	return 0;
}

/* Frees what is left: call with no op in flight. */
static void inode_free(struct pt *pt, struct pt_inode *inode);

void pt_itab_fini(struct pt *pt)
{
	for (unsigned i = 0; i < PT_NSHARDS; i++) {
		struct pt_shard *s = &pt->shards[i];
		if (s->by_id) {
			for (size_t b = 0; b < s->nbuckets; b++) {
				struct pt_inode *n = s->by_id[b];
				while (n) {
					struct pt_inode *next = n->next_id;
					inode_free(pt, n);
					n = next;
				}
			}
		}
		free(s->by_id);
		free(s->by_key);
		s->by_id = s->by_key = NULL;
		if (s->ghosts)
			ghosts_free_all_locked(s);
		free(s->ghosts);
		s->ghosts = NULL;
		pthread_mutex_destroy(&s->mu);
	}
	for (size_t i = 0; i < pt->nmounts; i++)
		safe_close(pt->mounts[i].fd);
	free(pt->mounts);
	free(pt->devs);
	pthread_mutex_destroy(&pt->fd_mu);
	pthread_mutex_destroy(&pt->mnt_mu);
	pthread_mutex_destroy(&pt->dev_mu);
}

static void inode_free(struct pt *pt, struct pt_inode *inode)
{
	if (inode->evictable) {
		pthread_mutex_lock(&pt->fd_mu);
		pt_clock_remove(pt, inode);
		int fd = atomic_exchange(&inode->fd, -1);
		pthread_mutex_unlock(&pt->fd_mu);
		if (fd >= 0) {
			close(fd);
			atomic_fetch_sub(&pt->nfds, 1);
		}
	} else if (inode->fd >= 0) {
		close(inode->fd);
		atomic_fetch_sub(&pt->nfds, 1);
	}
	pt_lock_free_all(pt, inode);
	pthread_mutex_destroy(&inode->lock_mu);
	pthread_mutex_destroy(&inode->mtime_mu);
	free(pt_inode_handle(inode));
	free(inode);
}

/* ---- lookups by id and by key ---- */

static struct pt_shard *shard_of_id(struct pt *pt, uint64_t id)
{
	return &pt->shards[fs_ino_local(id) & SHARD_MASK];
}

static struct pt_inode *find_id_locked(struct pt_shard *s, uint64_t id)
{
	for (struct pt_inode *n = s->by_id[id_bucket(s, id)]; n; n = n->next_id)
		if (n->id == id)
			return n;
	return NULL;
}

static struct pt_inode *find_key_locked(struct pt_shard *s, uint64_t h, dev_t dev, ino_t ino, uint64_t mnt_id)
{
	for (struct pt_inode *n = s->by_key[key_bucket(s, h)]; n; n = n->next_key)
		if (n->ino == ino && n->dev == dev && n->mnt_id == mnt_id)
			return n;
	return NULL;
}

struct pt_inode *pt_inode_get(struct pt *pt, uint64_t id)
{
	struct pt_inode *root = pt->root;
	if (id == FS_ROOT_ID || id == root->id) {
		atomic_fetch_add(&root->refs, 1);
		return root;
	}
	if (fs_ino_space(id) != pt->space)
		return NULL;
	struct pt_shard *s = shard_of_id(pt, id);
	pthread_mutex_lock(&s->mu);
	struct pt_inode *n = find_id_locked(s, id);
	if (n)
		atomic_fetch_add(&n->refs, 1);
	pthread_mutex_unlock(&s->mu);
	return n;
}

void pt_inode_put(struct pt *pt, struct pt_inode *inode)
{
	if (inode && atomic_fetch_sub(&inode->refs, 1) == 1)
		inode_free(pt, inode);
}

void pt_inode_ref_lookup(struct pt *pt, struct pt_inode *inode)
{
	if (inode == pt->root)
		return;
	struct pt_shard *s = shard_of_id(pt, inode->id);
	pthread_mutex_lock(&s->mu);
	/* The caller's reference keeps the memory; a count of 0 means forget unlinked it meanwhile: link it
	 * again so the new lookup count has a node to name. */
	if (inode->nlookup++ == 0) {
		size_t bi = id_bucket(s, inode->id);
		inode->next_id = s->by_id[bi];
		s->by_id[bi] = inode;
		uint64_t h = key_hash(inode->dev, inode->ino, inode->mnt_id);
		if (!inode->keyless && find_key_locked(s, h, inode->dev, inode->ino, inode->mnt_id) == NULL) {
			size_t bk = key_bucket(s, h);
			inode->next_key = s->by_key[bk];
			s->by_key[bk] = inode;
		} else {
			inode->keyless = true;
		}
		s->count++;
		atomic_fetch_add(&inode->refs, 1);
	}
	pthread_mutex_unlock(&s->mu);
}

static void unkey_locked(struct pt_shard *s, struct pt_inode *inode)
{
	uint64_t h = key_hash(inode->dev, inode->ino, inode->mnt_id);
	struct pt_inode **pp = &s->by_key[key_bucket(s, h)];
	while (*pp && *pp != inode)
		pp = &(*pp)->next_key;
	if (*pp)
		*pp = inode->next_key;
	inode->next_key = NULL;
}

static void unlink_locked(struct pt_shard *s, struct pt_inode *inode)
{
	struct pt_inode **pp = &s->by_id[id_bucket(s, inode->id)];
	while (*pp && *pp != inode)
		pp = &(*pp)->next_id;
	if (*pp)
		*pp = inode->next_id;
	if (!inode->keyless)
		unkey_locked(s, inode);
	inode->next_id = NULL;
	s->count--;
}

void pt_inode_unkey(struct pt *pt, struct pt_inode *n)
{
	if (n == pt->root)
		return;
	struct pt_shard *s = shard_of_id(pt, n->id);
	pthread_mutex_lock(&s->mu);
	if (!n->keyless) {
		unkey_locked(s, n);
		n->keyless = true;
	}
	pthread_mutex_unlock(&s->mu);
}

bool pt_inode_fd_open(struct pt *pt, struct pt_inode *n)
{
	return !n->evictable || atomic_load(&n->fd) >= 0;
}

/* Forward: a ghost needs the node's file handle, which a node whose fd was never evicted has not taken yet. */
static void take_handle_for_ghost(struct pt *pt, struct pt_inode *inode);

void pt_inode_forget(struct pt *pt, uint64_t id, uint64_t n)
{
	if (id == FS_ROOT_ID || id == pt->root->id || fs_ino_space(id) != pt->space)
		return;
	bool ghosts = pt->export_support && pt->use_handles;
	bool tried = false;
	struct pt_shard *s = shard_of_id(pt, id);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		struct pt_inode *inode = find_id_locked(s, id);
		if (!inode) {
			pthread_mutex_unlock(&s->mu);
			return;
		}
		if (n < inode->nlookup) {
			inode->nlookup -= n;
			pthread_mutex_unlock(&s->mu);
			return;
		}
		if (ghosts && inode->evictable && !pt_inode_handle(inode) && !tried) {
			/* no syscall under the shard lock: take the handle outside it, then look again */
			atomic_fetch_add(&inode->refs, 1);
			pthread_mutex_unlock(&s->mu);
			take_handle_for_ghost(pt, inode);
			pt_inode_put(pt, inode);
			tried = true;
			continue;
		}
		inode->nlookup = 0;
		unlink_locked(s, inode);
		struct file_handle *handle = pt_inode_handle(inode);
		if (ghosts && handle)
			ghost_add_locked(s, inode, handle, inode->mount_fd);
		pthread_mutex_unlock(&s->mu);
		pt_inode_put(pt, inode); /* the table's reference */
		return;
	}
}

void pt_inode_forget_all(struct pt *pt)
{
	for (unsigned i = 0; i < PT_NSHARDS; i++) {
		struct pt_shard *s = &pt->shards[i];
		for (;;) {
			struct pt_inode *victim = NULL;
			pthread_mutex_lock(&s->mu);
			for (size_t b = 0; b < s->nbuckets && !victim; b++)
				for (struct pt_inode *n = s->by_id[b]; n; n = n->next_id)
					if (n != pt->root) {
						victim = n;
						break;
					}
			if (victim) {
				victim->nlookup = 0;
				unlink_locked(s, victim);
			} else {
				ghosts_free_all_locked(s); /* the client is gone: so are its handles */
			}
			pthread_mutex_unlock(&s->mu);
			if (!victim)
				break;
			pt_inode_put(pt, victim);
		}
	}
}

struct pt_inode *pt_inode_find(struct pt *pt, dev_t dev, ino_t ino, uint64_t mnt_id)
{
	uint64_t h = key_hash(dev, ino, mnt_id);
	struct pt_shard *s = &pt->shards[h & SHARD_MASK];
	pthread_mutex_lock(&s->mu);
	struct pt_inode *n = find_key_locked(s, h, dev, ino, mnt_id);
	if (n) {
		if (n != pt->root)
			n->nlookup++;
		atomic_fetch_add(&n->refs, 1);
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

bool pt_inode_known(struct pt *pt, dev_t dev, ino_t ino, uint64_t mnt_id)
{
	uint64_t h = key_hash(dev, ino, mnt_id);
	struct pt_shard *s = &pt->shards[h & SHARD_MASK];
	pthread_mutex_lock(&s->mu);
	bool known = find_key_locked(s, h, dev, ino, mnt_id) != NULL;
	pthread_mutex_unlock(&s->mu);
	return known;
}

static void grow_locked(struct pt_shard *s)
{
	size_t nb = s->nbuckets * 2;
	struct pt_inode **by_id = calloc(nb, sizeof(*by_id));
	struct pt_inode **by_key = calloc(nb, sizeof(*by_key));
	if (!by_id || !by_key) { /* keep the old (longer chains, still correct) */
		free(by_id);
		free(by_key);
		return;
	}
	struct pt_shard t = { .nbuckets = nb, .by_id = by_id, .by_key = by_key };
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct pt_inode *n = s->by_id[b];
		while (n) {
			struct pt_inode *next = n->next_id;
			size_t bi = id_bucket(&t, n->id);
			n->next_id = by_id[bi];
			by_id[bi] = n;
			n = next;
		}
		n = s->by_key[b];
		while (n) {
			struct pt_inode *next = n->next_key;
			size_t bk = key_bucket(&t, key_hash(n->dev, n->ino, n->mnt_id));
			n->next_key = by_key[bk];
			by_key[bk] = n;
			n = next;
		}
	}
	free(s->by_id);
	free(s->by_key);
	s->by_id = by_id;
	s->by_key = by_key;
	s->nbuckets = nb;
}

static bool same_handle(const struct file_handle *a, const struct file_handle *b)
{
	return a->handle_type == b->handle_type && a->handle_bytes == b->handle_bytes &&
	       memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

/*
 * Link inode, whose id is set, by id, and by key unless another node has that key (then it is keyless). A node
 * of that key with another file handle is a dead inode whose number inode reuses: it gives up the key.
 */
static void link_locked(struct pt_shard *s, uint64_t h, struct pt_inode *inode)
{
	if (s->count >= s->nbuckets)
		grow_locked(s);
	size_t bi = id_bucket(s, inode->id);
	inode->next_id = s->by_id[bi];
	s->by_id[bi] = inode;
	struct pt_inode *old = find_key_locked(s, h, inode->dev, inode->ino, inode->mnt_id);
	/* old without a handle has never had its fd evicted: the fd pins its inode, which then is inode's */
	struct file_handle *oh = old ? pt_inode_handle(old) : NULL, *nh = pt_inode_handle(inode);
	if (oh && nh && !same_handle(oh, nh)) {
		unkey_locked(s, old);
		old->keyless = true;
		old = NULL;
	}
	if (old) {
		inode->keyless = true;
	} else {
		size_t bk = key_bucket(s, h);
		inode->next_key = s->by_key[bk];
		s->by_key[bk] = inode;
	}
	s->count++;
}

/* Link inode (refs and nlookup set by the caller) with a fresh id; -ENOSPC when the shard's ids ran out. */
static int insert_locked(struct pt *pt, struct pt_shard *s, unsigned shard, uint64_t h, struct pt_inode *inode,
			 bool root)
{
	uint64_t counter = root ? 0 : s->next;
	uint64_t local = (counter << PT_SHARD_BITS) | shard;
	if (local > FS_INO_LOCAL_MAX || (counter >> (64 - PT_SHARD_BITS)) != 0)
		return -ENOSPC;
	if (!root)
		s->next++;
	inode->id = fs_ino_make(pt->space, local);
	link_locked(s, h, inode);
	return 0;
}

static struct pt_inode *inode_alloc(struct pt *pt, int fd, const struct statx *stx)
{
	struct pt_inode *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	n->ino = (ino_t)stx->stx_ino;
	n->mnt_id = stx->stx_mnt_id;
	n->type = stx->stx_mode & S_IFMT;
	n->fd = fd;
	n->mount_fd = -1;
	pthread_mutex_init(&n->lock_mu, NULL);
	pthread_mutex_init(&n->mtime_mu, NULL);
	return n;
}

static struct file_handle *handle_dup(const struct file_handle *h)
{
	size_t sz = sizeof(struct file_handle) + h->handle_bytes;
	struct file_handle *copy = malloc(sz);
	if (copy)
		memcpy(copy, h, sz);
	return copy;
}

/*
 * Make n evictable when file handles are in use: its fd may then be closed when idle and reopened by handle.
 * The handle itself is taken now only with handles=mandatory (a file without one is refused). Otherwise it is
 * taken when the fd is first evicted (pt_inode_take_handle), which most inodes never are, or, with export
 * support, when the node is forgotten (its ghost holds it): a lookup costs no name_to_handle_at. -errno only
 * when handles are mandatory; otherwise a node without a mount fd (or handle) keeps its fd for its life.
 */
static int inode_prepare_handle(struct pt *pt, struct pt_inode *n)
{
	bool eager = pt->o.handles == PT_HANDLES_MANDATORY;
	int r, mfd = -1;
	handle_buf hb;
	if (eager)
		r = handle_of(pt, n->fd, n->mnt_id, n->type, &hb, &mfd);
	else
		r = mfd = pt_mount_fd(pt, n->mnt_id, n->fd, n->type);
	if (r < 0) {
		log_debug("passthrough: no file handle for inode %llu: %s", (unsigned long long)n->ino, strerror(-r));
		return pt->o.handles == PT_HANDLES_MANDATORY ? r : 0;
	}
	if (eager) {
		struct file_handle *h = handle_dup(&hb.h);
		if (!h)
			return -ENOMEM;
		atomic_store_explicit(&n->handle, h, memory_order_release);
	}
	n->mount_fd = mfd;
	n->evictable = true;
	return 0;
}

/* Take the file handle of n's inode through fd (n's fd, pinned by the caller) and publish it, once. */
static int handle_publish(struct pt_inode *n, int fd)
{
	handle_buf hb;
	hb.h.handle_bytes = MAX_HANDLE_SZ;
	int mnt;
	/* works on an O_PATH fd, and after the last name of the inode is gone */
	if (name_to_handle_at(fd, "", &hb.h, &mnt, AT_EMPTY_PATH) < 0) {
		int r = -errno;
		log_debug("passthrough: no file handle for inode %llu: %s", (unsigned long long)n->ino, strerror(-r));
		return r;
	}
	struct file_handle *h = handle_dup(&hb.h);
	if (!h)
		return -ENOMEM;
	struct file_handle *none = NULL;
	if (!atomic_compare_exchange_strong_explicit(&n->handle, &none, h, memory_order_acq_rel,
						     memory_order_acquire))
		free(h); /* another thread's is the same inode's */
	return 0;
}

int pt_inode_take_handle(struct pt *pt, struct pt_inode *n)
{
	if (pt_inode_handle(n))
		return 0;
	return handle_publish(n, n->fd);
}

/* Pins the fd for the syscall instead of holding fd_mu through it: a FORGET runs while the client's next
 * request (often a LOOKUP that takes fd_mu) is served. */
static void take_handle_for_ghost(struct pt *pt, struct pt_inode *inode)
{
	int fd;
	if (pt_inode_handle(inode) || pt_inode_fd(pt, inode, &fd) < 0)
		return; /* a handle (taken when the fd was evicted), or no fd to take one from */
	(void)handle_publish(inode, fd);
	pt_inode_fd_put(pt, inode);
}

bool pt_inode_names(struct pt *pt, struct pt_inode *n, int pfd, const char *name)
{
	if (n == pt->root || pt_inode_fd_open(pt, n))
		return true;
	struct file_handle *h = pt_inode_handle(n); /* set: the fd was evicted, which takes it first */
	if (!h)
		return true;
	handle_buf hb;
	hb.h.handle_bytes = MAX_HANDLE_SZ;
	int mnt;
	if (name_to_handle_at(pfd, name ? name : "", &hb.h, &mnt, name ? 0 : AT_EMPTY_PATH) < 0)
		return true; /* cannot tell: keep the node, its ops say ESTALE if it is gone */
	return same_handle(&hb.h, h);
}

int pt_inode_add(struct pt *pt, int fd, const struct statx *stx, struct pt_inode **ret, bool *ret_new)
{
	dev_t dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	ino_t ino = (ino_t)stx->stx_ino;
	uint64_t h = key_hash(dev, ino, stx->stx_mnt_id);
	unsigned si = h & SHARD_MASK;
	struct pt_shard *s = &pt->shards[si];
	struct pt_inode *n = NULL;
	if (ret_new)
		*ret_new = false;
	/*
	 * Each turn either returns the key's node, takes a dead one out of the key chain (so it is not met again),
	 * or links n: another thread may link the key between our look and our link, and then its node is
	 * checked like any other on the next turn.
	 */
	for (;;) {
		struct pt_inode *found = pt_inode_find(pt, dev, ino, stx->stx_mnt_id);
		if (found && !pt_inode_names(pt, found, fd, NULL)) {
			/* a dead node: it keeps its id for the client's remaining forgets, but is never found by key
			 * again */
			pt_inode_unkey(pt, found);
			pt_inode_forget(pt, found->id, 1); /* the count pt_inode_find took */
			pt_inode_put(pt, found);
			continue;
		}
		if (found) {
			if (n) {
				inode_free(pt, n); /* closes fd, gives the reservation back */
			} else {
				close(fd);
				pt_fd_unreserve(pt);
			}
			*ret = found;
			return 0;
		}
		if (!n) {
			n = inode_alloc(pt, fd, stx);
			if (!n) {
				close(fd);
				pt_fd_unreserve(pt);
				return -ENOMEM;
			}
			n->st_ino = pt_client_ino(pt, n->dev, n->ino);
			if (pt->use_handles) {
				int r = inode_prepare_handle(pt, n);
				if (r < 0) {
					inode_free(pt, n);
					return r;
				}
			}
			n->nlookup = 1;
			atomic_init(&n->refs, 2); /* the table's and the caller's */
		}
		pthread_mutex_lock(&s->mu);
		if (find_key_locked(s, h, dev, ino, stx->stx_mnt_id)) {
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		int r = insert_locked(pt, s, si, h, n, false);
		pthread_mutex_unlock(&s->mu);
		if (r < 0) {
			inode_free(pt, n);
			return r;
		}
		break;
	}
	if (n->evictable) { /* on the ring of fds that may be closed */
		pthread_mutex_lock(&pt->fd_mu);
		/* others may have found and used it since it was linked, never evicted it: it was not on the ring */
		if (n->fd >= 0)
			pt_clock_insert(pt, n);
		pthread_mutex_unlock(&pt->fd_mu);
	}
	if (ret_new)
		*ret_new = true;
	*ret = n;
	return 0;
}

int pt_inode_resurrect(struct pt *pt, uint64_t id, struct statx *stx, struct pt_inode **ret)
{
	/* reopening by handle is what --inode-file-handles permits (the sandbox allows open_by_handle_at and
	 * keeps CAP_DAC_READ_SEARCH only then): without it a forgotten node is gone */
	if (!pt->use_handles || fs_ino_space(id) != pt->space)
		return -ESTALE;
	struct pt_shard *s = shard_of_id(pt, id);
	pthread_mutex_lock(&s->mu);
	struct pt_ghost *g = s->ghosts[ghost_bucket(id)];
	while (g && g->id != id)
		g = g->next;
	if (g)
		ghost_unlink_locked(s, g);
	pthread_mutex_unlock(&s->mu);
	if (!g)
		return -ESTALE;
	int r = pt_fd_reserve(pt);
	if (r < 0)
		goto out;
	int fd = open_by_handle_at(g->mount_fd, g->handle, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		pt_fd_unreserve(pt);
		r = -ESTALE;
		goto out;
	}
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID, stx) < 0 ||
	    makedev(stx->stx_dev_major, stx->stx_dev_minor) != g->dev || stx->stx_ino != g->ino ||
	    stx->stx_mnt_id != g->mnt_id) {
		close(fd);
		pt_fd_unreserve(pt);
		r = -ESTALE;
		goto out;
	}
	struct pt_inode *n = inode_alloc(pt, fd, stx);
	if (!n) {
		close(fd);
		pt_fd_unreserve(pt);
		r = -ENOMEM;
		goto out;
	}
	n->id = id;
	n->st_ino = g->st_ino;
	atomic_init(&n->handle, TAKE_PTR(g->handle));
	n->mount_fd = g->mount_fd;
	n->evictable = true;
	n->nlookup = 1;
	atomic_init(&n->refs, 2);
	pthread_mutex_lock(&s->mu);
	struct pt_inode *raced = find_id_locked(s, id);
	if (raced) { /* two reconnects of the same handle at once */
		raced->nlookup++;
		atomic_fetch_add(&raced->refs, 1);
		pthread_mutex_unlock(&s->mu);
		inode_free(pt, n);
		*ret = raced;
		goto out;
	}
	link_locked(s, key_hash(n->dev, n->ino, n->mnt_id), n);
	pthread_mutex_unlock(&s->mu);
	if (n->evictable) {
		pthread_mutex_lock(&pt->fd_mu);
		if (n->fd >= 0)
			pt_clock_insert(pt, n);
		pthread_mutex_unlock(&pt->fd_mu);
	}
	*ret = n;
out:
	ghost_free(g);
	return r;
}

int pt_inode_new_root(struct pt *pt, int fd)
{
	struct statx stx;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!S_ISDIR(stx.stx_mode) && !S_ISREG(stx.stx_mode))
		return -ENOTDIR;
	struct pt_inode *n = inode_alloc(pt, fd, &stx);
	if (!n)
		return -ENOMEM;
	n->st_ino = n->ino;
	n->nlookup = 1;
	atomic_init(&n->refs, 1);
	atomic_fetch_add(&pt->nfds, 1);
	uint64_t h = key_hash(n->dev, n->ino, n->mnt_id);
	unsigned si = h & SHARD_MASK;
	pthread_mutex_lock(&pt->shards[si].mu);
	int r = insert_locked(pt, &pt->shards[si], si, h, n, true);
	pthread_mutex_unlock(&pt->shards[si].mu);
	if (r < 0) {
		n->fd = -1; /* the caller still owns fd */
		atomic_fetch_sub(&pt->nfds, 1);
		inode_free(pt, n);
		return r;
	}
	pt->root = n;
	pt->root_is_dir = S_ISDIR(stx.stx_mode);
	return 0;
}

/*
 * The client sees one st_dev for the whole share (unless submounts are announced), so an inode of another
 * host device could carry the st_ino of an unrelated inode of the root's device. Such inodes get
 * PT_INO_FOREIGN | device index << 40 | host st_ino: deterministic (the same file keeps its st_ino across
 * forget and lookup, and readdir's d_ino agrees with stat), and distinct from every inode of the root's device
 * (whose numbers do not reach bit 63 on real file systems) and of other devices. A host st_ino of 2^40 or more
 * on a foreign device is folded into 40 bits, the one case that may collide.
 */
uint64_t pt_client_ino(struct pt *pt, dev_t dev, uint64_t ino)
{
	if (pt->o.announce_submounts || !pt->root || dev == pt->root->dev)
		return ino;
	size_t idx = 0;
	pthread_mutex_lock(&pt->dev_mu);
	for (size_t i = 0; i < pt->ndevs; i++)
		if (pt->devs[i] == dev) {
			idx = i + 1;
			break;
		}
	if (!idx) {
		dev_t *d = realloc(pt->devs, (pt->ndevs + 1) * sizeof(*d));
		if (d) {
			pt->devs = d;
			d[pt->ndevs++] = dev;
			idx = pt->ndevs;
		}
	}
	pthread_mutex_unlock(&pt->dev_mu);
	const uint64_t low = (1ULL << 40) - 1;
	uint64_t folded = ino <= low ? ino : ((ino ^ (ino >> 40)) & low);
	return PT_INO_FOREIGN | (((uint64_t)idx & ((1ULL << 23) - 1)) << 40) | folded;
}
