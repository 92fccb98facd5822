/* SPDX-License-Identifier: MIT */
/*
 * One split virtqueue (virtio 1.2, 2.7) seen from the device side: taking descriptor chains off the available
 * ring, turning them into iovecs into guest memory, and returning them on the used ring with EVENT_IDX-aware
 * notification. Everything the guest wrote is untrusted: each descriptor is copied out of guest memory once and
 * then validated (index, loop, length, order of readable and writable parts, address inside the regions).
 *
 * Not thread-safe by itself: the caller serialises vq_pop() and vq_push()/vq_need_notify() per queue.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/vu-mem.h"
#include "virtio/vu-proto.h"

/* The most iovecs one chain may turn into (a descriptor that spans regions takes one per region). */
#define VQ_MAX_IOV 1024u
/* The most bytes one chain may describe in each direction: the used ring's length field is 32 bits. */
#define VQ_MAX_CHAIN_BYTES UINT32_MAX

struct vq {
	uint16_t size;     /* number of descriptors: a power of 2, <= VIRTQ_MAX_SIZE */
	bool event_idx;    /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;     /* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	/* The rings, in the front end's address space (SET_VRING_ADDR) and translated into ours. */
	uint64_t desc_uva, avail_uva, used_uva;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;

	uint16_t last_avail;      /* next avail entry we take */
	uint16_t used_idx;        /* our shadow of used->idx */
	uint16_t signalled_used;  /* used_idx when we last decided about a notification */
	bool signalled_used_valid;
};

/* A chain taken off the ring: rd device-readable iovecs (the request), then wr device-writable ones (room). */
struct vq_elem {
	uint16_t head;
	unsigned nrd, nwr;
	uint64_t rd_len, wr_len;
	struct iovec iov[VQ_MAX_IOV]; /* rd: iov[0..nrd), wr: iov[nrd..nrd+nwr) */
};

/* Validate the ring addresses (alignment, sizes) and translate them with m. 0 or -EINVAL/-EFAULT. */
int vq_map(struct vq *q, const struct vu_mem *m);

/*
 * Take the next chain: 1 and *e filled, 0 if the ring is empty, -errno if the guest broke the ring or the
 * chain (the queue must stop then). On error e is undefined and last_avail unchanged.
 */
int vq_pop(struct vq *q, const struct vu_mem *m, struct vq_elem *e);
/* Put head on the used ring with len bytes written. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);
/* After pushes: does the guest want an interrupt now? (EVENT_IDX or the NO_INTERRUPT flag.) */
bool vq_need_notify(struct vq *q);
/*
 * Before sleeping on the kick fd: tell the guest (EVENT_IDX's avail_event) that we want a kick for the next
 * buffer. Returns true if buffers arrived meanwhile (the caller must not sleep then).
 */
bool vq_enable_kick(struct vq *q);
/* Bytes the three rings take for a queue of size n (for bounds checks). */
uint64_t vq_desc_bytes(uint16_t n);
uint64_t vq_avail_bytes(uint16_t n);
uint64_t vq_used_bytes(uint16_t n);
