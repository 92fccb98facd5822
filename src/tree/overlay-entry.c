/* SPDX-License-Identifier: MIT */
/*
 * The overlay's entries (grafts): routing a node id to the fs that owns it, and freeing a removed entry once
 * nothing can reach it any more (see struct ovl_entry in overlay-int.h for what keeps one alive).
 *
 * Why an entry-level count and not one per node: the overlay sees every reply that hands the client a node of
 * an entry (lookup, the entry-creating ops, readdirplus entries through its dirbuf filter) and every forget,
 * open and release, so the sum per entry is exact for a well-behaved client, costs two integers per entry and
 * no table per node. A client that lies (forgets more than it was given) can only make its own ids stale.
 *
 * Route table: open addressing keyed by node-id space, so a server that adds and removes entries all day keeps
 * a table the size of its live entries (spaces themselves are never reused by the inomap, so an array indexed
 * by space would grow forever).
 */
#include "tree/overlay-int.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/macros.h"

#define TAG_MAX 0xffffu

static size_t home(const struct ovl *o, uint32_t space)
{
	return (size_t)((space * 0x9E3779B1u) & (o->rcap - 1));
}

/* rlock held (read or write) */
static size_t rtab_find(const struct ovl *o, uint32_t space)
{
	if (!o->rcap)
		return SIZE_MAX;
	for (size_t i = home(o, space);; i = (i + 1) & (o->rcap - 1)) {
		if (!o->rtab[i])
			return SIZE_MAX;
		if (o->rtab[i]->space == space)
			return i;
	}
}

/* rlock held for writing; the table has a free slot */
static void rtab_insert(struct ovl *o, struct ovl_entry *e)
{
	size_t i = home(o, e->space);
	while (o->rtab[i])
		i = (i + 1) & (o->rcap - 1);
	o->rtab[i] = e;
	o->rcount++;
}

static int rtab_grow(struct ovl *o)
{
	if ((o->rcount + 1) * 2 <= o->rcap)
		return 0;
	size_t cap = o->rcap ? o->rcap * 2 : 16;
	struct ovl_entry **old = o->rtab;
	size_t oldcap = o->rcap;
	struct ovl_entry **t = calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	o->rtab = t;
	o->rcap = cap;
	o->rcount = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i])
			rtab_insert(o, old[i]);
	free(old);
	return 0;
}

/* Backward-shift deletion: keeps every probe chain unbroken without tombstones. rlock held for writing. */
static void rtab_delete(struct ovl *o, size_t i)
{
	size_t mask = o->rcap - 1;
	for (size_t j = (i + 1) & mask; o->rtab[j]; j = (j + 1) & mask) {
		size_t k = home(o, o->rtab[j]->space);
		/* may rtab[j] move back to i? only if its home is not in (i, j] (cyclically) */
		bool in_between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
		if (!in_between) {
			o->rtab[i] = o->rtab[j];
			i = j;
		}
	}
	o->rtab[i] = NULL;
	o->rcount--;
}

static bool tag_test(const struct ovl *o, uint32_t tag)
{
	return o->tags[tag / 64] & (1ULL << (tag % 64));
}

static void tag_set(struct ovl *o, uint32_t tag, bool on)
{
	if (on)
		o->tags[tag / 64] |= 1ULL << (tag % 64);
	else
		o->tags[tag / 64] &= ~(1ULL << (tag % 64));
}

int ovl_entry_attach(struct ovl *o, struct fs *g, bool renumber, bool is_dir, struct ovl_entry **ret)
{
	struct ovl_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->o = o;
	e->fs = g;
	e->space = fs_ino_space(g->root);
	e->is_dir = is_dir;
	atomic_init(&e->refs, 1); /* attached */
	pthread_mutex_init(&e->mu, NULL);
	int r = 0;
	pthread_rwlock_wrlock(&o->rlock);
	if (rtab_find(o, e->space) != SIZE_MAX)
		r = -EEXIST;
	if (r >= 0 && renumber) {
		/* the lowest free tag: 65535 entries alive at once, any number over the server's life */
		uint32_t t = 1;
		while (t <= TAG_MAX && tag_test(o, t))
			t++;
		if (t > TAG_MAX)
			r = -ENOSPC;
		else
			e->tag = (uint16_t)t;
	}
	if (r >= 0)
		r = rtab_grow(o);
	if (r >= 0) {
		if (e->tag)
			tag_set(o, e->tag, true);
		rtab_insert(o, e);
	}
	pthread_rwlock_unlock(&o->rlock);
	if (r < 0) {
		pthread_mutex_destroy(&e->mu);
		free(e);
		return r;
	}
	*ret = e;
	return 0;
}

struct ovl_entry *ovl_entry_get(struct ovl *o, uint64_t ino)
{
	struct ovl_entry *e = NULL;
	pthread_rwlock_rdlock(&o->rlock);
	size_t i = rtab_find(o, fs_ino_space(ino));
	if (i != SIZE_MAX) {
		/* an entry whose count reached 0 is being freed: it is gone for new requests */
		unsigned n = atomic_load(&o->rtab[i]->refs);
		while (n && !atomic_compare_exchange_weak(&o->rtab[i]->refs, &n, n + 1))
			;
		if (n)
			e = o->rtab[i];
	}
	pthread_rwlock_unlock(&o->rlock);
	return e;
}

struct ovl_entry *ovl_entry_ref(struct ovl_entry *e)
{
	if (e)
		atomic_fetch_add(&e->refs, 1);
	return e;
}

static void entry_free(struct ovl_entry *e)
{
	struct ovl *o = e->o;
	pthread_rwlock_wrlock(&o->rlock);
	size_t i = rtab_find(o, e->space);
	if (i != SIZE_MAX && o->rtab[i] == e)
		rtab_delete(o, i);
	/* the client forgot every node of the entry: no st_ino of this tag is cached anywhere any more */
	if (e->tag)
		tag_set(o, e->tag, false);
	pthread_rwlock_unlock(&o->rlock);
	log_debug("overlay: entry space %u tag %u freed", e->space, e->tag);
	if (e->fs->ops->destroy)
		e->fs->ops->destroy(e->fs);
	fs_free(e->fs);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

void ovl_entry_put(struct ovl_entry *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		entry_free(e);
}

void ovl_entry_count(struct ovl_entry *e, enum ovl_count what, uint64_t n)
{
	if (!e || !n)
		return;
	pthread_mutex_lock(&e->mu);
	if (e->nlookup == 0 && e->nopen == 0)
		ovl_entry_ref(e); /* the caller holds one: e cannot be freed under us */
	uint64_t *c = what == OVL_LOOKUP ? &e->nlookup : &e->nopen;
	*c = *c > UINT64_MAX - n ? UINT64_MAX : *c + n;
	pthread_mutex_unlock(&e->mu);
}

void ovl_entry_uncount(struct ovl_entry *e, enum ovl_count what, uint64_t n)
{
	if (!e || !n)
		return;
	pthread_mutex_lock(&e->mu);
	bool held = e->nlookup || e->nopen;
	uint64_t *c = what == OVL_LOOKUP ? &e->nlookup : &e->nopen;
	*c = n >= *c ? 0 : *c - n;
	bool drop = held && !e->nlookup && !e->nopen;
	pthread_mutex_unlock(&e->mu);
	if (drop)
		ovl_entry_put(e);
}

uint16_t ovl_entry_tag(const struct ovl_entry *e)
{
	if (!e)
		return 0;
	/* with submounts a directory entry has its own st_dev: its own numbers are fine there */
	return (e->o->submounts && e->is_dir) ? 0 : e->tag;
}

void ovl_entries_foreach(struct ovl *o, void (*fn)(struct ovl_entry *e, void *data), void *data)
{
	pthread_rwlock_rdlock(&o->rlock);
	for (size_t i = 0; i < o->rcap; i++)
		if (o->rtab[i])
			fn(o->rtab[i], data);
	pthread_rwlock_unlock(&o->rlock);
}

void ovl_entries_client_gone(struct ovl *o)
{
	pthread_rwlock_rdlock(&o->rlock);
	size_t n = 0;
	struct ovl_entry **es = calloc(o->rcount ? o->rcount : 1, sizeof(*es));
	for (size_t i = 0; es && i < o->rcap; i++) {
		struct ovl_entry *e = o->rtab[i];
		unsigned k = e ? atomic_load(&e->refs) : 0;
		while (k && !atomic_compare_exchange_weak(&e->refs, &k, k + 1))
			;
		if (k)
			es[n++] = e;
	}
	pthread_rwlock_unlock(&o->rlock);
	if (!es) {
		log_debug("overlay: out of memory releasing the client's holds");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct ovl_entry *e = es[i];
		pthread_mutex_lock(&e->mu);
		bool held = e->nlookup || e->nopen;
		e->nlookup = e->nopen = 0;
		pthread_mutex_unlock(&e->mu);
		if (held)
			ovl_entry_put(e);
		ovl_entry_put(e);
	}
	free(es);
}

void ovl_entries_free(struct ovl *o)
{
	for (size_t i = 0; i < o->rcap; i++) {
		struct ovl_entry *e = o->rtab[i];
		if (!e)
			continue;
		fs_free(e->fs);
		pthread_mutex_destroy(&e->mu);
		free(e);
	}
	free(o->rtab);
	o->rtab = NULL;
	o->rcap = o->rcount = 0;
}

size_t ovl_entries_alive(struct ovl *o)
{
	pthread_rwlock_rdlock(&o->rlock);
	size_t n = o->rcount;
	pthread_rwlock_unlock(&o->rlock);
	return n;
}
