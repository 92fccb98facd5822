/* SPDX-License-Identifier: MIT */
/*
 * A test driver that plays both the VMM (the vhost-user front end: features, memory table, vrings, kick and
 * call eventfds) and the guest's virtio driver (descriptor chains in memfd "guest memory"). Used by the
 * in-process unit test, by vu-driver (against a real `boxshare serve` or virtiofsd), by the benchmark and by
 * the libFuzzer harness.
 *
 * Guest memory is one memfd that we map once, offered to the back end as two regions that meet inside the
 * first request queue's first slot, so that large requests span regions. Each queue has `slots` request slots
 * of `slot_bytes` each; slot s uses descriptors [s * VUD_DESC_PER_SLOT, (s + 1) * VUD_DESC_PER_SLOT).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/vu-proto.h"

#define VUD_DESC_PER_SLOT 8u
#define VUD_MAX_QUEUES 9u
#define VUD_MAX_SLOTS 64u
#define VUD_GPA_BASE 0x40000000ull /* guest physical addresses start here: not 0, to catch mix-ups with uva */

/* How the driver reaches the back end: a socket, or a function call (in-process fuzzing). */
struct vud_xport {
	/* Send m with fds; if want_reply, receive the reply into *reply. 0 or -errno. */
	int (*xfer)(void *ctx, const struct vhost_user_msg *m, const int *fds, unsigned nfds,
		    struct vhost_user_msg *reply, bool want_reply);
	void *ctx;
};

struct vud_opts {
	unsigned nqueues;     /* queues including hiprio (>= 2) */
	unsigned slots;       /* in-flight requests per queue (<= VUD_MAX_SLOTS) */
	size_t slot_bytes;    /* bytes per slot: request + reply room */
	bool event_idx;       /* negotiate VIRTIO_RING_F_EVENT_IDX */
	bool indirect;        /* negotiate VIRTIO_RING_F_INDIRECT_DESC */
	bool mem_slots;       /* use ADD_MEM_REG instead of SET_MEM_TABLE */
	bool no_eventfds;     /* fuzzing: no kick/call eventfds are passed (queues never start) */
	bool no_straddle;     /* regions meet at a slot boundary: no buffer spans two regions. For QEMU's C
			       * virtiofsd (libvhost-user counts iovecs against descriptors and calls a chain
			       * with a buffer that spans regions "looped") */
};

struct vud_queue {
	uint16_t size;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx, last_used;
	uint16_t kicked_idx; /* avail_idx at the last vud_kick() */
	int kick, call;
	uint8_t *slot_base; /* slot s at slot_base + s * slot_bytes */
	bool busy[VUD_MAX_SLOTS];
	uint32_t used_len[VUD_MAX_SLOTS];
	bool done[VUD_MAX_SLOTS];
	size_t room_off[VUD_MAX_SLOTS];
};

struct vud {
	struct vud_xport x;
	struct vud_opts o;
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	size_t split;        /* region 0: [0, split), region 1: [split, mem_size) */
	uint64_t features, protocol_features;
	struct vud_queue q[VUD_MAX_QUEUES];
};

/* Submission flags. */
#define VUD_INDIRECT (1u << 0) /* one indirect descriptor for the whole chain */
#define VUD_SPLIT (1u << 1)    /* request and reply each in several descriptors */

int vud_xport_socket(int fd, struct vud_xport *ret); /* ctx is the fd (owned by the caller) */
int vud_new(const struct vud_xport *x, const struct vud_opts *o, struct vud **ret);
void vud_free(struct vud *d);

/* The whole front-end set-up: features, owner, memory, every vring, enable. 0 or -errno. */
int vud_setup(struct vud *d);
/* What a VMM does when its guest reboots: stop every ring (GET_VRING_BASE, which must report every request
 * taken as completed), then set fresh rings up again. */
int vud_restart_rings(struct vud *d);
/* Send one message; want_reply for requests that have one. With REPLY_ACK negotiated and ack set, the
 * request carries NEED_REPLY and the acknowledgement's status is returned (0 or -EIO). */
int vud_msg(struct vud *d, uint32_t request, const void *payload, uint32_t size, const int *fds,
	    unsigned nfds, struct vhost_user_msg *reply, bool want_reply, bool ack);
int vud_msg_u64(struct vud *d, uint32_t request, uint64_t *v);

/* Guest physical address of a pointer into guest memory. */
uint64_t vud_gpa(const struct vud *d, const void *p);
void *vud_slot(const struct vud *d, unsigned q, unsigned slot);

/*
 * Put a request on queue q: req (req_len bytes) readable, reply_room bytes writable, in a free slot.
 * Returns the slot (>= 0) or -errno (-EBUSY: no free slot).
 */
int vud_submit(struct vud *d, unsigned q, const struct iovec *req, int req_cnt, size_t reply_room, unsigned flags);
/* Kick queue q (the eventfd). */
void vud_kick(struct vud *d, unsigned q);
/* Wait up to timeout_ms for a completion on q; returns its slot (>= 0), -ETIMEDOUT or -errno. */
int vud_wait(struct vud *d, unsigned q, int timeout_ms);
/* The reply of a completed slot (in guest memory) and its length; then free the slot. */
const void *vud_reply(struct vud *d, unsigned q, unsigned slot, uint32_t *ret_len);
void vud_release(struct vud *d, unsigned q, unsigned slot);
/* Submit, kick, wait for this very slot: the reply length, or -errno. */
int vud_call(struct vud *d, unsigned q, const struct iovec *req, int req_cnt, void *reply, size_t reply_room,
	     unsigned flags, int timeout_ms);

/* Raw access for tests of broken chains: write descriptor i and publish head on the avail ring. */
void vud_raw_desc(struct vud *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next);
void vud_raw_publish(struct vud *d, unsigned q, uint16_t head);
