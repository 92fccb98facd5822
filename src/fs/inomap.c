/* SPDX-License-Identifier: MIT */
/*
 * The node-id map shared by every fs of one tree (see include/boxshare/fs.h).
 *
 * A space id indexes a two-level table of owner pointers: 4096 chunks of 4096 slots, each chunk allocated on
 * first use and never freed before the map, so a reader finds the owner of any node id with two atomic loads
 * and no lock. Writers (space_new/space_free: adding and removing whole filesystems, rare) take a mutex.
 * Freed space ids are not reused: a stale node id from the client must never reach a new owner.
 */
#include <boxshare/fs.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "util/macros.h"

#define CHUNK_BITS 12
#define CHUNK_SLOTS (1u << CHUNK_BITS)
#define NCHUNKS ((FS_INO_SPACE_MAX >> CHUNK_BITS) + 1)

struct fs_inomap {
	atomic_uint refs;
	pthread_mutex_t lock;
	uint32_t next_space; /* under lock */
	_Atomic(struct fs *) *_Atomic chunks[NCHUNKS];
};

struct fs_inomap *fs_inomap_new(void)
{
	struct fs_inomap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	pthread_mutex_init(&m->lock, NULL);
	m->next_space = 1;
	return m;
}

struct fs_inomap *fs_inomap_ref(struct fs_inomap *m)
{
	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void fs_inomap_unref(struct fs_inomap *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	for (size_t i = 0; i < NCHUNKS; i++)
		free((void *)atomic_load(&m->chunks[i]));
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int fs_inomap_space_new(struct fs_inomap *m, struct fs *owner, uint32_t *ret_space)
{
	int r = 0;
	pthread_mutex_lock(&m->lock);
	uint32_t s = m->next_space;
	if (s > FS_INO_SPACE_MAX) {
		r = -ENOSPC;
		goto out;
	}
	uint32_t c = s >> CHUNK_BITS;
	_Atomic(struct fs *) *chunk = atomic_load(&m->chunks[c]);
	if (!chunk) {
		chunk = calloc(CHUNK_SLOTS, sizeof(*chunk));
		if (!chunk) {
			r = -ENOMEM;
			goto out;
		}
		atomic_store(&m->chunks[c], chunk);
	}
	atomic_store(&chunk[s & (CHUNK_SLOTS - 1)], owner);
	m->next_space = s + 1;
	*ret_space = s;
out:
	pthread_mutex_unlock(&m->lock);
	return r;
}

void fs_inomap_space_free(struct fs_inomap *m, uint32_t space)
{
	if (space == 0 || space > FS_INO_SPACE_MAX)
		return;
	pthread_mutex_lock(&m->lock);
	_Atomic(struct fs *) *chunk = atomic_load(&m->chunks[space >> CHUNK_BITS]);
	if (chunk)
		atomic_store(&chunk[space & (CHUNK_SLOTS - 1)], NULL);
	pthread_mutex_unlock(&m->lock);
}

struct fs *fs_inomap_owner(struct fs_inomap *m, uint64_t ino)
{
	uint32_t s = fs_ino_space(ino);
	if (s == 0)
		return NULL;
	_Atomic(struct fs *) *chunk = atomic_load_explicit(&m->chunks[s >> CHUNK_BITS], memory_order_acquire);
	if (!chunk)
		return NULL;
	return atomic_load_explicit(&chunk[s & (CHUNK_SLOTS - 1)], memory_order_acquire);
}
