/* SPDX-License-Identifier: MIT */
/*
 * The passthrough open-file table (see pt-fh.h). Slots live in chunks that are allocated on demand and never
 * moved or freed before the fs, so a reader finds a slot with one atomic load and validates it with one
 * compare-and-swap on its state word; only opening and the final close of a handle take the table mutex.
 */
#include "fs/pt-fh.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/pt-dir.h"
#include "fs/pt-int.h"
#include "util/log.h"

#define CHUNK_BITS 10
#define CHUNK_SLOTS (1u << CHUNK_BITS)
#define NCHUNKS 1024u /* up to a million open handles */
#define LIVE (1ULL << 31)
#define REFS_MASK (LIVE - 1)
#define GEN_OF(s) ((uint32_t)((s) >> 32))

int pt_fh_init(struct pt *pt)
{
	pthread_mutex_init(&pt->fh_mu, NULL);
	pt->fh_chunks = calloc(NCHUNKS, sizeof(*pt->fh_chunks));
	return pt->fh_chunks ? 0 : -ENOMEM;
}

static struct pt_fh *slot(struct pt *pt, uint32_t idx)
{
	if (idx >= NCHUNKS * CHUNK_SLOTS)
		return NULL;
	struct pt_fh *c = atomic_load_explicit(&pt->fh_chunks[idx >> CHUNK_BITS], memory_order_acquire);
	return c ? &c[idx & (CHUNK_SLOTS - 1)] : NULL;
}

static void finalize(struct pt *pt, struct pt_fh *f, uint32_t idx)
{
	if (f->dir)
		pt_dir_free(f->dir);
	f->dir = NULL;
	if (f->fd >= 0) {
		close(f->fd);
		pt_open_unreserve(pt);
	}
	f->fd = -1;
	pt_inode_put(pt, f->inode);
	f->inode = NULL;
	pthread_mutex_lock(&pt->fh_mu);
	uint32_t gen = GEN_OF(atomic_load(&f->state)) + 1;
	if (gen == 0)
		gen = 1;
	atomic_store(&f->state, (uint64_t)gen << 32);
	f->next_free = pt->fh_free;
	pt->fh_free = idx + 1;
	pthread_mutex_unlock(&pt->fh_mu);
}

void pt_fh_fini(struct pt *pt)
{
	if (!pt->fh_chunks)
		return;
	pt_fh_release_all(pt);
	for (size_t i = 0; i < NCHUNKS; i++)
		free(atomic_load(&pt->fh_chunks[i]));
	free(pt->fh_chunks);
	pt->fh_chunks = NULL;
	pthread_mutex_destroy(&pt->fh_mu);
}

int pt_open_reserve(struct pt *pt)
{
	if (atomic_fetch_add(&pt->nopen, 1) < pt->max_open)
		return 0;
	atomic_fetch_sub(&pt->nopen, 1);
	log_debug("passthrough: %u files open, the ceiling: open fails with EMFILE", pt->max_open);
	return -EMFILE;
}

void pt_open_unreserve(struct pt *pt)
{
	atomic_fetch_sub(&pt->nopen, 1);
}

int pt_fh_new(struct pt *pt, enum pt_fh_kind kind, int fd, int flags, struct pt_inode *inode, struct pt_dir *dir,
	      uint64_t *ret_fh)
{
	pthread_mutex_lock(&pt->fh_mu);
	uint32_t idx;
	struct pt_fh *f;
	if (pt->fh_free) {
		idx = pt->fh_free - 1;
		f = slot(pt, idx);
		pt->fh_free = f->next_free;
	} else {
		idx = pt->fh_nslots;
		if (idx >= NCHUNKS * CHUNK_SLOTS) {
			pthread_mutex_unlock(&pt->fh_mu);
			goto fail_emfile;
		}
		struct pt_fh *c = atomic_load(&pt->fh_chunks[idx >> CHUNK_BITS]);
		if (!c) {
			c = calloc(CHUNK_SLOTS, sizeof(*c));
			if (!c) {
				pthread_mutex_unlock(&pt->fh_mu);
				close(fd);
				pt_open_unreserve(pt);
				return -ENOMEM;
			}
			for (unsigned i = 0; i < CHUNK_SLOTS; i++) {
				atomic_init(&c[i].state, 1ULL << 32);
				c[i].fd = -1;
			}
			atomic_store_explicit(&pt->fh_chunks[idx >> CHUNK_BITS], c, memory_order_release);
		}
		f = &c[idx & (CHUNK_SLOTS - 1)];
		pt->fh_nslots++;
	}
	pthread_mutex_unlock(&pt->fh_mu);
	f->fd = fd;
	f->flags = flags;
	f->kind = kind;
	f->dir = dir;
	atomic_fetch_add(&inode->refs, 1);
	f->inode = inode;
	uint64_t s = atomic_load(&f->state);
	atomic_store_explicit(&f->state, (s & ~(LIVE | REFS_MASK)) | LIVE, memory_order_release);
	*ret_fh = ((uint64_t)GEN_OF(s) << 32) | idx;
	return 0;
fail_emfile:
	close(fd);
	pt_open_unreserve(pt);
	return -EMFILE;
}

struct pt_fh *pt_fh_get(struct pt *pt, uint64_t fh, enum pt_fh_kind kind)
{
	uint32_t idx = (uint32_t)fh, gen = (uint32_t)(fh >> 32);
	struct pt_fh *f = slot(pt, idx);
	if (!f || gen == 0)
		return NULL;
	uint64_t s = atomic_load_explicit(&f->state, memory_order_acquire);
	for (;;) {
		if (GEN_OF(s) != gen || !(s & LIVE) || (s & REFS_MASK) == REFS_MASK)
			return NULL;
		if (atomic_compare_exchange_weak_explicit(&f->state, &s, s + 1, memory_order_acquire,
							  memory_order_acquire))
			break;
	}
	if (kind != PT_FH_ANY && f->kind != kind) {
		pt_fh_put(pt, f);
		return NULL;
	}
	return f;
}

static uint32_t index_of(struct pt *pt, struct pt_fh *f)
{
	for (uint32_t c = 0; c < NCHUNKS; c++) {
		struct pt_fh *base = atomic_load(&pt->fh_chunks[c]);
		if (base && f >= base && f < base + CHUNK_SLOTS)
			return (c << CHUNK_BITS) | (uint32_t)(f - base);
	}
	return UINT32_MAX; /* not reached: f came from this table */
}

void pt_fh_put(struct pt *pt, struct pt_fh *f)
{
	uint64_t old = atomic_fetch_sub_explicit(&f->state, 1, memory_order_acq_rel);
	if (!(old & LIVE) && (old & REFS_MASK) == 1)
		finalize(pt, f, index_of(pt, f));
}

int pt_fh_release(struct pt *pt, uint64_t fh, enum pt_fh_kind kind)
{
	uint32_t idx = (uint32_t)fh, gen = (uint32_t)(fh >> 32);
	struct pt_fh *f = slot(pt, idx);
	if (!f || gen == 0)
		return -EBADF;
	uint64_t s = atomic_load_explicit(&f->state, memory_order_acquire);
	for (;;) {
		if (GEN_OF(s) != gen || !(s & LIVE) || f->kind != kind)
			return -EBADF;
		if (atomic_compare_exchange_weak_explicit(&f->state, &s, s & ~LIVE, memory_order_acq_rel,
							  memory_order_acquire))
			break;
	}
	if ((s & REFS_MASK) == 0)
		finalize(pt, f, idx);
	return 0;
}

void pt_fh_release_all(struct pt *pt)
{
	for (uint32_t idx = 0; idx < NCHUNKS * CHUNK_SLOTS; idx++) {
		struct pt_fh *c = atomic_load(&pt->fh_chunks[idx >> CHUNK_BITS]);
		if (!c) {
			idx |= CHUNK_SLOTS - 1; /* skip the missing chunk */
			continue;
		}
		struct pt_fh *f = &c[idx & (CHUNK_SLOTS - 1)];
		uint64_t s = atomic_load(&f->state);
		if (s & LIVE)
			pt_fh_release(pt, ((uint64_t)GEN_OF(s) << 32) | idx, f->kind);
	}
}
