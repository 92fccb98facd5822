/* SPDX-License-Identifier: MIT */
/*
 * The per-node backing-id table of kernel FUSE passthrough (see backing.h for the rules it keeps).
 */
#include "proto/backing.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/session.h"
#include "util/log.h"
#include "util/macros.h"

#define BK_SHARDS 64   /* independent locks: opens of different nodes rarely meet */
#define BK_BUCKETS 128 /* chains per shard: 8192 in all, short up to tens of thousands of open nodes */
#define BK_CHUNK 64    /* entries allocated at once when a shard's free list is empty */

struct bk_node {
	struct bk_node *next;
	uint64_t nodeid;
	int32_t id;           /* > 0: registered backing id, pt_opens use it; 0: plain_opens only */
	uint32_t opens;       /* passthrough opens (id > 0) or opens served without passthrough (id == 0) */
};

struct bk_chunk {
	struct bk_chunk *next;
	struct bk_node n[BK_CHUNK];
};

struct bk_shard {
	pthread_mutex_t mu;
	struct bk_node *bucket[BK_BUCKETS];
	struct bk_node *free;
	struct bk_chunk *chunks;
} __attribute__((aligned(64)));

struct proto_backing {
	struct bk_shard sh[BK_SHARDS];
	atomic_bool off; /* registration refused with EPERM: no new ids for this session */
};

static uint64_t bk_hash(uint64_t nodeid)
{
	return nodeid * 0x9e3779b97f4a7c15ull;
}

static struct bk_shard *bk_shard(struct proto_backing *b, uint64_t h)
{
	return &b->sh[h >> 58]; /* top 6 bits: BK_SHARDS == 64 */
}

static struct bk_node **bk_slot(struct bk_shard *sh, uint64_t h, uint64_t nodeid)
{
	struct bk_node **p = &sh->bucket[(h >> 40) % BK_BUCKETS];
	while (*p && (*p)->nodeid != nodeid)
		p = &(*p)->next;
	return p;
}

int proto_backing_new(struct proto_backing **ret)
{
	struct proto_backing *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (unsigned i = 0; i < BK_SHARDS; i++)
		pthread_mutex_init(&b->sh[i].mu, NULL);
	atomic_init(&b->off, false);
	*ret = b;
	return 0;
}

void proto_backing_free(struct proto_session *s, struct proto_backing *b)
{
	if (!b)
		return;
	unsigned left = 0;
	for (unsigned i = 0; i < BK_SHARDS; i++) {
		struct bk_shard *sh = &b->sh[i];
		for (unsigned j = 0; j < BK_BUCKETS; j++)
			for (struct bk_node *n = sh->bucket[j]; n; n = n->next)
				if (n->id > 0) {
					(void)s->t.backing_close(s->t.data, n->id);
					left++;
				}
		while (sh->chunks) {
			struct bk_chunk *c = sh->chunks;
			sh->chunks = c->next;
			free(c);
		}
		pthread_mutex_destroy(&sh->mu);
	}
	if (left)
		log_debug("proto: closed %u backing ids the client left open", left);
	free(b);
}

static struct bk_node *bk_alloc(struct bk_shard *sh)
{
	if (!sh->free) {
		struct bk_chunk *c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->next = sh->chunks;
		sh->chunks = c;
		for (unsigned i = 0; i < BK_CHUNK; i++) {
			c->n[i].next = sh->free;
			sh->free = &c->n[i];
		}
	}
	struct bk_node *n = sh->free;
	sh->free = n->next;
	*n = (struct bk_node){ 0 };
	return n;
}

static void bk_put(struct bk_shard *sh, struct bk_node *n)
{
	n->next = sh->free;
	sh->free = n;
}

static void bk_unlink(struct bk_shard *sh, struct bk_node **slot)
{
	struct bk_node *n = *slot;
	*slot = n->next;
	bk_put(sh, n);
}

static bool bk_active(const struct proto_session *s)
{
	return s->backing && (s->caps & FS_CAP_PASSTHROUGH);
}

int proto_backing_open(struct proto_session *s, uint64_t nodeid, int fd, bool direct)
{
	if (!bk_active(s))
		return 0;
	struct proto_backing *b = s->backing;
	uint64_t h = bk_hash(nodeid);
	struct bk_shard *sh = bk_shard(b, h);
	int ret = 0;
	pthread_mutex_lock(&sh->mu);
	struct bk_node **slot = bk_slot(sh, h, nodeid);
	struct bk_node *n = *slot;
	if (n) {
		/* same kind as the node's live opens: its id, or again without passthrough */
		n->opens++;
		ret = n->id;
		goto out;
	}
	if (fd < 0 || atomic_load_explicit(&b->off, memory_order_relaxed))
		goto out; /* not counted: nothing to keep consistent with */
	n = bk_alloc(sh);
	if (!n) {
		ret = -ENOMEM;
		goto out;
	}
	n->nodeid = nodeid;
	n->opens = 1;
	/* Under the shard lock: a second open of the node waits for this registration instead of registering
	 * a backing file of its own (the client refuses two backings for one inode). An O_DIRECT open is served
	 * through us (see backing.h): counted like a file that cannot be registered. */
	int k = direct ? 0 : s->t.backing_open(s->t.data, fd);
	if (k > 0) {
		n->id = k;
		ret = k;
	} else if (k == -EPERM) {
		/* no CAP_SYS_ADMIN (a kept-dropped capability, a user namespace): it will not change */
		if (!atomic_exchange(&b->off, true))
			log_warn("proto: FUSE passthrough refused by the kernel (%s): serving without it",
				 strerror(-k));
		bk_put(sh, n); /* not linked yet */
		goto out;
	} else if (!direct) {
		/* this file only (ELOOP: a stacked file system below; EOPNOTSUPP, EMFILE...): served through us
		 * as long as it has opens, and counted so no passthrough open joins them */
		log_debug("proto: no passthrough for node %llu: %s", (unsigned long long)nodeid,
			  strerror(k < 0 ? -k : EINVAL));
	}
	n->next = NULL;
	*slot = n;
out:
	pthread_mutex_unlock(&sh->mu);
	return ret;
}

void proto_backing_release(struct proto_session *s, uint64_t nodeid)
{
	if (!bk_active(s))
		return;
	uint64_t h = bk_hash(nodeid);
	struct bk_shard *sh = bk_shard(s->backing, h);
	pthread_mutex_lock(&sh->mu);
	struct bk_node **slot = bk_slot(sh, h, nodeid);
	struct bk_node *n = *slot;
	if (n && --n->opens == 0) {
		if (n->id > 0) {
			int k = s->t.backing_close(s->t.data, n->id);
			if (k < 0)
				log_debug("proto: closing backing id %d of node %llu: %s", n->id,
					  (unsigned long long)nodeid, strerror(-k));
		}
		bk_unlink(sh, slot);
	}
	pthread_mutex_unlock(&sh->mu);
}
