/* SPDX-License-Identifier: MIT */
/* Split virtqueues, device side: chain validation and translation, used ring, notification suppression. */
#include "virtio/vq.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "util/log.h"
#include "util/macros.h"

/* The rings live in memory the guest writes concurrently: every load and store of a shared field goes through
 * these so that the compiler neither tears nor repeats it. */
#define LOAD16(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD16_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE16(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE16_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

uint64_t vq_desc_bytes(uint16_t n)
{
	return 16ull * n;
}
uint64_t vq_avail_bytes(uint16_t n)
{
	return 4ull + 2ull * n + 2; /* flags, idx, ring[n], used_event */
}
uint64_t vq_used_bytes(uint16_t n)
{
	return 4ull + 8ull * n + 2; /* flags, idx, ring[n], avail_event */
}

int vq_map(struct vq *q, const struct vu_mem *m)
{
	if (q->size == 0 || q->size > VIRTQ_MAX_SIZE || (q->size & (q->size - 1)))
		return -EINVAL;
	if ((q->desc_uva & 15) || (q->avail_uva & 1) || (q->used_uva & 3))
		return -EINVAL;
	void *d = vu_mem_uva(m, q->desc_uva, vq_desc_bytes(q->size));
	void *a = vu_mem_uva(m, q->avail_uva, vq_avail_bytes(q->size));
	void *u = vu_mem_uva(m, q->used_uva, vq_used_bytes(q->size));
	if (!d || !a || !u)
		return -EFAULT;
	q->desc = d;
	q->avail = a;
	q->used = u;
	return 0;
}

/* Copy one descriptor out of guest memory so that the guest cannot change it between check and use. */
static void desc_copy(struct virtq_desc *dst, const struct virtq_desc *src)
{
	dst->addr = __atomic_load_n(&src->addr, __ATOMIC_RELAXED);
	dst->len = __atomic_load_n(&src->len, __ATOMIC_RELAXED);
	dst->flags = __atomic_load_n(&src->flags, __ATOMIC_RELAXED);
	dst->next = __atomic_load_n(&src->next, __ATOMIC_RELAXED);
}

/* Add one (already copied) buffer descriptor to e. */
static int elem_add(const struct vu_mem *m, struct vq_elem *e, const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	unsigned cnt = e->nrd + e->nwr;

	if (!writable && e->nwr > 0) {
		log_debug("virtqueue: readable descriptor after a writable one");
		return -EPROTO;
	}
	uint64_t *total = writable ? &e->wr_len : &e->rd_len;
	if (d->len > VQ_MAX_CHAIN_BYTES - *total)
		return -E2BIG;
	int r = vu_mem_iov(m, d->addr, d->len, e->iov, &cnt, VQ_MAX_IOV);
	if (r < 0) {
		log_debug("virtqueue: buffer 0x%llx+%u %s", (unsigned long long)d->addr, d->len,
			  r == -EFAULT ? "outside guest memory" : "needs too many iovecs");
		return r;
	}
	*total += d->len;
	if (writable)
		e->nwr = cnt - e->nrd;
	else
		e->nrd = cnt;
	return 0;
}

/* Walk an indirect table of n descriptors, copied into tbl. */
static int walk_indirect(const struct vu_mem *m, struct vq_elem *e, const struct virtq_desc *tbl, unsigned n)
{
	unsigned i = 0;
	for (unsigned seen = 0;; seen++) {
		const struct virtq_desc *d = &tbl[i];
		if (seen >= n)
			return -ELOOP;
		if (d->flags & VIRTQ_DESC_F_INDIRECT)
			return -EPROTO; /* no nesting */
		int r = elem_add(m, e, d);
		if (r < 0)
			return r;
		if (!(d->flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d->next >= n)
			return -ERANGE;
		i = d->next;
	}
}

static int chain_parse(struct vq *q, const struct vu_mem *m, uint16_t head, struct vq_elem *e)
{
	struct virtq_desc d;
	uint16_t i = head;

	e->head = head;
	e->nrd = e->nwr = 0;
	e->rd_len = e->wr_len = 0;
	for (unsigned seen = 0;; seen++) {
		/* A chain never has more descriptors than the table: more means a loop. */
		if (seen >= q->size)
			return -ELOOP;
		desc_copy(&d, &q->desc[i]);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* An indirect descriptor is the whole chain (the driver may not set NEXT with it). */
			if (!q->indirect || seen != 0 || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EPROTO;
			if (d.len == 0 || d.len % sizeof(struct virtq_desc) ||
			    d.len / sizeof(struct virtq_desc) > VQ_MAX_IOV)
				return -EINVAL;
			/* Copy the table: the guest cannot change it under us, and a table that spans regions
			 * reads as well as one that does not. */
			struct virtq_desc tbl[VQ_MAX_IOV];
			int r = vu_mem_read(m, d.addr, tbl, d.len);
			if (r < 0)
				return r;
			return walk_indirect(m, e, tbl, d.len / sizeof(struct virtq_desc));
		}
		int r = elem_add(m, e, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= q->size)
			return -ERANGE;
		i = d.next;
	}
}

int vq_pop(struct vq *q, const struct vu_mem *m, struct vq_elem *e)
{
	/* acquire: the ring entry and descriptors the guest wrote before idx are visible after it */
	uint16_t avail_idx = LOAD16_ACQ(&q->avail->idx);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size) {
		log_debug("virtqueue: avail idx %u moved %u past our %u (size %u)", avail_idx, pending,
			  q->last_avail, q->size);
		return -EPROTO;
	}
	uint16_t head = LOAD16(&q->avail->ring[q->last_avail & (q->size - 1)]);
	if (head >= q->size)
		return -ERANGE;
	int r = chain_parse(q, m, head, e);
	if (r < 0)
		return r;
	q->last_avail++;
	return 1;
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *u = &q->used->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&u->id, (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n(&u->len, len, __ATOMIC_RELAXED);
	q->used_idx++;
	/* release: the element (and the reply bytes written before) are visible before the new idx */
	STORE16_REL(&q->used->idx, q->used_idx);
}

bool vq_need_notify(struct vq *q)
{
	/* The used idx store must be visible before we read the guest's used_event / flags (a full fence: a
	 * store followed by a load of another location). */
	atomic_thread_fence(memory_order_seq_cst);
	if (!q->event_idx)
		return !(LOAD16(&q->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	uint16_t old = q->signalled_used, new = q->used_idx;
	bool valid = q->signalled_used_valid;
	q->signalled_used = new;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	uint16_t used_event = LOAD16(&q->avail->ring[q->size]);
	/* virtio 1.2, 2.7.10: notify if used_event lies in (old, new] */
	return (uint16_t)(new - used_event - 1) < (uint16_t)(new - old);
}

bool vq_enable_kick(struct vq *q)
{
	if (q->event_idx)
		STORE16((uint16_t *)&q->used->ring[q->size], q->last_avail);
	else
		STORE16(&q->used->flags, 0);
	atomic_thread_fence(memory_order_seq_cst);
	return LOAD16_ACQ(&q->avail->idx) != q->last_avail;
}
