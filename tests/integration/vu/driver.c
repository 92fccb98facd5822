/* SPDX-License-Identifier: MIT */
/* The test driver: vhost-user front end and virtio guest driver in one (see driver.h). */
#include "driver.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((size_t)(a)-1))
#define PAGE 4096u
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static int sock_xfer(void *ctx, const struct vhost_user_msg *m, const int *fds, unsigned nfds,
		     struct vhost_user_msg *reply, bool want_reply)
{
	int fd = (int)(intptr_t)ctx;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(m->hdr) + m->hdr.size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return -errno ? -errno : -EIO;
	if (!want_reply)
		return 0;
	ssize_t n = recv(fd, &reply->hdr, sizeof(reply->hdr), MSG_WAITALL);
	if (n != sizeof(reply->hdr))
		return n < 0 ? -errno : -EPIPE;
	if (reply->hdr.size > sizeof(reply->payload) || reply->hdr.request != m->hdr.request ||
	    !(reply->hdr.flags & VHOST_USER_REPLY_MASK))
		return -EPROTO;
	if (reply->hdr.size && recv(fd, &reply->payload, reply->hdr.size, MSG_WAITALL) != reply->hdr.size)
		return -EPIPE;
	return 0;
}

int vud_xport_socket(int fd, struct vud_xport *ret)
{
	ret->xfer = sock_xfer;
	ret->ctx = (void *)(intptr_t)fd;
	return 0;
}

static uint16_t queue_size(const struct vud_opts *o)
{
	unsigned n = o->slots * VUD_DESC_PER_SLOT, s = 1;
	while (s < n)
		s <<= 1;
	return (uint16_t)s;
}

int vud_new(const struct vud_xport *x, const struct vud_opts *o, struct vud **ret)
{
	if (o->nqueues < 2 || o->nqueues > VUD_MAX_QUEUES || o->slots == 0 || o->slots > VUD_MAX_SLOTS ||
	    o->slot_bytes < PAGE * 2)
		return -EINVAL;
	struct vud *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->memfd = -1;
	for (unsigned i = 0; i < VUD_MAX_QUEUES; i++)
		d->q[i].kick = d->q[i].call = -1;
	d->x = *x;
	d->o = *o;
	d->o.slot_bytes = ALIGN_UP(o->slot_bytes, PAGE);
	uint16_t qs = queue_size(o);
	size_t ring_bytes = ALIGN_UP(16u * qs + (4u + 2u * qs + 2u) + 8 + (4u + 8u * qs + 2u) + 16u * qs + 64, PAGE);
	size_t slots_bytes = (size_t)o->slots * d->o.slot_bytes;
	d->mem_size = o->nqueues * (ring_bytes + slots_bytes);
	d->memfd = memfd_create("vud-guest-ram", MFD_CLOEXEC);
	if (d->memfd < 0 || ftruncate(d->memfd, (off_t)d->mem_size) < 0)
		goto fail;
	d->mem = mmap(NULL, d->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		goto fail;
	}
	size_t off = 0;
	for (unsigned i = 0; i < o->nqueues; i++) {
		struct vud_queue *q = &d->q[i];
		q->size = qs;
		q->kick = q->call = -1;
		q->desc = (struct virtq_desc *)(d->mem + off);
		q->avail = (struct virtq_avail *)(d->mem + off + 16u * qs);
		q->used = (struct virtq_used *)(d->mem + ALIGN_UP(off + 16u * qs + 4u + 2u * qs + 2u, 4));
		q->desc_gpa = vud_gpa(d, q->desc);
		q->avail_gpa = vud_gpa(d, q->avail);
		q->used_gpa = vud_gpa(d, q->used);
		off += ring_bytes;
	}
	for (unsigned i = 0; i < o->nqueues; i++) {
		d->q[i].slot_base = d->mem + off;
		off += slots_bytes;
	}
	/* The regions meet one page into the first request queue's first slot. */
	d->split = (size_t)(d->q[1].slot_base - d->mem) + (o->no_straddle ? 0 : PAGE);
	*ret = d;
	return 0;
fail:
	vud_free(d);
	return -ENOMEM;
}

void vud_free(struct vud *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < VUD_MAX_QUEUES; i++) {
		if (d->q[i].kick >= 0)
			close(d->q[i].kick);
		if (d->q[i].call >= 0)
			close(d->q[i].call);
	}
	if (d->mem)
		munmap(d->mem, d->mem_size);
	if (d->memfd >= 0)
		close(d->memfd);
	free(d);
}

uint64_t vud_gpa(const struct vud *d, const void *p)
{
	return VUD_GPA_BASE + (uint64_t)((const uint8_t *)p - d->mem);
}

void *vud_slot(const struct vud *d, unsigned q, unsigned slot)
{
	return d->q[q].slot_base + (size_t)slot * d->o.slot_bytes;
}

int vud_msg(struct vud *d, uint32_t request, const void *payload, uint32_t size, const int *fds,
	    unsigned nfds, struct vhost_user_msg *reply, bool want_reply, bool ack)
{
	struct vhost_user_msg m, r;
	if (size > sizeof(m.payload))
		return -EMSGSIZE;
	memset(&m, 0, sizeof(m));
	m.hdr.request = request;
	m.hdr.flags = VHOST_USER_VERSION;
	m.hdr.size = size;
	if (size)
		memcpy(&m.payload, payload, size);
	bool acked = !want_reply && ack && (d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	if (acked)
		m.hdr.flags |= VHOST_USER_NEED_REPLY_MASK;
	int ret = d->x.xfer(d->x.ctx, &m, fds, nfds, reply ? reply : &r, want_reply || acked);
	if (ret < 0 || !acked)
		return ret;
	struct vhost_user_msg *a = reply ? reply : &r;
	if (a->hdr.size != sizeof(uint64_t))
		return -EPROTO;
	return a->payload.u64 == 0 ? 0 : -EIO;
}

int vud_msg_u64(struct vud *d, uint32_t request, uint64_t *v)
{
	struct vhost_user_msg r;
	int ret = vud_msg(d, request, NULL, 0, NULL, 0, &r, true, false);
	if (ret < 0)
		return ret;
	if (r.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	*v = r.payload.u64;
	return 0;
}

static int setup_mem(struct vud *d)
{
	struct vhost_user_region reg[2] = {
		{ .guest_phys_addr = VUD_GPA_BASE, .memory_size = d->split, .userspace_addr = (uintptr_t)d->mem,
		  .mmap_offset = 0 },
		{ .guest_phys_addr = VUD_GPA_BASE + d->split, .memory_size = d->mem_size - d->split,
		  .userspace_addr = (uintptr_t)d->mem + d->split, .mmap_offset = d->split },
	};
	int fds[2] = { d->memfd, d->memfd };
	if (d->o.mem_slots) {
		for (unsigned i = 0; i < 2; i++) {
			struct vhost_user_mem_reg mr = { .region = reg[i] };
			int r = vud_msg(d, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), fds, 1, NULL, false, true);
			if (r < 0)
				return r;
		}
		return 0;
	}
	struct vhost_user_memory mt = { .nregions = 2 };
	memcpy(mt.regions, reg, sizeof(reg));
	return vud_msg(d, VHOST_USER_SET_MEM_TABLE, &mt, 8 + 2 * sizeof(reg[0]), fds, 2, NULL, false, true);
}

static int setup_vrings(struct vud *d)
{
	int r;
	for (unsigned i = 0; i < d->o.nqueues; i++) {
		struct vud_queue *q = &d->q[i];
		struct vhost_vring_state st = { .index = i, .num = q->size };
		if ((r = vud_msg(d, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, false, true)) < 0)
			return r;
		st.num = 0;
		if ((r = vud_msg(d, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0, NULL, false, true)) < 0)
			return r;
		struct vhost_vring_addr a = {
			.index = i,
			.desc_user_addr = (uintptr_t)q->desc,
			.used_user_addr = (uintptr_t)q->used,
			.avail_user_addr = (uintptr_t)q->avail,
		};
		if ((r = vud_msg(d, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, false, true)) < 0)
			return r;
		if (d->o.no_eventfds)
			continue;
		if (q->kick < 0)
			q->kick = eventfd(0, EFD_CLOEXEC);
		if (q->call < 0)
			q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick < 0 || q->call < 0)
			return -errno;
		uint64_t idx = i;
		if ((r = vud_msg(d, VHOST_USER_SET_VRING_CALL, &idx, 8, &q->call, 1, NULL, false, true)) < 0)
			return r;
		if ((r = vud_msg(d, VHOST_USER_SET_VRING_KICK, &idx, 8, &q->kick, 1, NULL, false, true)) < 0)
			return r;
		st.num = 1;
		if ((r = vud_msg(d, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, NULL, false, true)) < 0)
			return r;
	}
	return 0;
}

int vud_setup(struct vud *d)
{
	uint64_t v;
	int r = vud_msg_u64(d, VHOST_USER_GET_FEATURES, &v);
	if (r < 0)
		return r;
	uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	if (d->o.event_idx)
		want |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (d->o.indirect)
		want |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if ((v & want) != want)
		return -EOPNOTSUPP;
	d->features = want;
	if ((r = vud_msg(d, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL, false, false)) < 0)
		return r;
	if ((r = vud_msg_u64(d, VHOST_USER_GET_PROTOCOL_FEATURES, &v)) < 0)
		return r;
	uint64_t pwant = (1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	if (d->o.mem_slots)
		pwant |= 1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS;
	pwant |= v & (1ull << VHOST_USER_PROTOCOL_F_CONFIG);
	if ((v & pwant) != pwant)
		return -EOPNOTSUPP;
	if ((r = vud_msg(d, VHOST_USER_SET_PROTOCOL_FEATURES, &pwant, 8, NULL, 0, NULL, false, false)) < 0)
		return r;
	d->protocol_features = pwant;
	if ((r = vud_msg_u64(d, VHOST_USER_GET_QUEUE_NUM, &v)) < 0)
		return r;
	if (v < d->o.nqueues)
		return -ERANGE;
	if (d->o.mem_slots) {
		if ((r = vud_msg_u64(d, VHOST_USER_GET_MAX_MEM_SLOTS, &v)) < 0)
			return r;
		if (v < 2)
			return -ENOSPC;
	}
	if ((r = vud_msg(d, VHOST_USER_SET_FEATURES, &d->features, 8, NULL, 0, NULL, false, true)) < 0)
		return r;
	if ((r = setup_mem(d)) < 0)
		return r;
	return setup_vrings(d);
}

void vud_raw_desc(struct vud *d, unsigned qi, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	struct virtq_desc *dd = &d->q[qi].desc[i & (d->q[qi].size - 1)];
	dd->addr = addr;
	dd->len = len;
	dd->flags = flags;
	dd->next = next;
}

void vud_raw_publish(struct vud *d, unsigned qi, uint16_t head)
{
	struct vud_queue *q = &d->q[qi];
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

void vud_kick(struct vud *d, unsigned qi)
{
	struct vud_queue *q = &d->q[qi];
	uint64_t one = 1;
	uint16_t old = q->kicked_idx, new = q->avail_idx;
	if (q->kick < 0 || old == new)
		return;
	q->kicked_idx = new;
	/* as a guest driver does: with EVENT_IDX, kick only if the device asked to hear of an entry in
	 * (old, new] (its avail_event); without it, unless the device set NO_NOTIFY */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->features & (1ull << VIRTIO_RING_F_EVENT_IDX)) {
		uint16_t ev = __atomic_load_n((uint16_t *)&q->used->ring[q->size], __ATOMIC_RELAXED);
		if ((uint16_t)(new - ev - 1) >= (uint16_t)(new - old))
			return;
	} else if (__atomic_load_n(&q->used->flags, __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY) {
		return;
	}
	(void)!write(q->kick, &one, sizeof(one));
}

int vud_submit(struct vud *d, unsigned qi, const struct iovec *req, int req_cnt, size_t reply_room, unsigned flags)
{
	struct vud_queue *q = &d->q[qi];
	size_t req_len = 0;
	for (int i = 0; i < req_cnt; i++)
		req_len += req[i].iov_len;
	size_t room_off = ALIGN_UP(req_len, 8);
	if (room_off + reply_room > d->o.slot_bytes)
		return -EMSGSIZE;
	int slot = -1;
	for (unsigned s = 0; s < d->o.slots; s++)
		if (!q->busy[s]) {
			slot = (int)s;
			break;
		}
	if (slot < 0)
		return -EBUSY;
	uint8_t *buf = vud_slot(d, qi, (unsigned)slot);
	size_t off = 0;
	for (int i = 0; i < req_cnt; i++) {
		if (req[i].iov_len)
			memcpy(buf + off, req[i].iov_base, req[i].iov_len);
		off += req[i].iov_len;
	}
	memset(buf + room_off, 0xa5, MIN(reply_room, 64)); /* stale bytes a reply must overwrite */

	/* The chain: readable parts, then writable parts. */
	struct virtq_desc chain[4];
	unsigned n = 0;
	bool split = flags & VUD_SPLIT;
	if (req_len > 0) {
		size_t a = split && req_len >= 2 ? req_len / 2 : req_len;
		chain[n++] = (struct virtq_desc){ .addr = vud_gpa(d, buf), .len = (uint32_t)a };
		if (a < req_len)
			chain[n++] = (struct virtq_desc){ .addr = vud_gpa(d, buf + a), .len = (uint32_t)(req_len - a) };
	}
	if (reply_room > 0) {
		size_t a = split && reply_room >= 2 ? reply_room / 2 : reply_room;
		chain[n++] = (struct virtq_desc){ .addr = vud_gpa(d, buf + room_off), .len = (uint32_t)a,
						  .flags = VIRTQ_DESC_F_WRITE };
		if (a < reply_room)
			chain[n++] = (struct virtq_desc){ .addr = vud_gpa(d, buf + room_off + a),
							  .len = (uint32_t)(reply_room - a), .flags = VIRTQ_DESC_F_WRITE };
	}
	if (n == 0)
		return -EINVAL;
	uint16_t base = (uint16_t)(slot * VUD_DESC_PER_SLOT);
	if (flags & VUD_INDIRECT) {
		/* the indirect tables live after the used ring, VUD_DESC_PER_SLOT entries per slot */
		struct virtq_desc *tbl = (struct virtq_desc *)((uint8_t *)q->used + ALIGN_UP(4u + 8u * q->size + 2u, 16)) +
					 base;
		for (unsigned i = 0; i < n; i++) {
			tbl[i] = chain[i];
			if (i + 1 < n) {
				tbl[i].flags |= VIRTQ_DESC_F_NEXT;
				tbl[i].next = (uint16_t)(i + 1);
			}
		}
		vud_raw_desc(d, qi, base, vud_gpa(d, tbl), n * sizeof(*tbl), VIRTQ_DESC_F_INDIRECT, 0);
	} else {
		for (unsigned i = 0; i < n; i++)
			vud_raw_desc(d, qi, (uint16_t)(base + i), chain[i].addr, chain[i].len,
				     chain[i].flags | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0), (uint16_t)(base + i + 1));
	}
	q->busy[slot] = true;
	q->done[slot] = false;
	q->room_off[slot] = room_off;
	vud_raw_publish(d, qi, base);
	return slot;
}

/* Take completions off the used ring. Returns a completed slot or -EAGAIN. */
static int reap(struct vud *d, unsigned qi)
{
	struct vud_queue *q = &d->q[qi];
	uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	if (idx == q->last_used)
		return -EAGAIN;
	struct virtq_used_elem e = q->used->ring[q->last_used & (q->size - 1)];
	q->last_used++;
	if (e.id >= q->size || e.id % VUD_DESC_PER_SLOT || !q->busy[e.id / VUD_DESC_PER_SLOT])
		return -EPROTO;
	unsigned slot = e.id / VUD_DESC_PER_SLOT;
	q->done[slot] = true;
	q->used_len[slot] = e.len;
	return (int)slot;
}

int vud_wait(struct vud *d, unsigned qi, int timeout_ms)
{
	struct vud_queue *q = &d->q[qi];
	for (;;) {
		int s = reap(d, qi);
		if (s != -EAGAIN)
			return s;
		/* EVENT_IDX: ask for an interrupt at the next used entry, then look again before sleeping */
		if (d->features & (1ull << VIRTIO_RING_F_EVENT_IDX)) {
			__atomic_store_n(&q->avail->ring[q->size], q->last_used, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			s = reap(d, qi);
			if (s != -EAGAIN)
				return s;
		}
		struct pollfd p = { .fd = q->call, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		uint64_t v;
		(void)!read(q->call, &v, sizeof(v));
	}
}

const void *vud_reply(struct vud *d, unsigned qi, unsigned slot, uint32_t *ret_len)
{
	struct vud_queue *q = &d->q[qi];
	*ret_len = q->used_len[slot];
	return (const uint8_t *)vud_slot(d, qi, slot) + q->room_off[slot];
}

void vud_release(struct vud *d, unsigned qi, unsigned slot)
{
	d->q[qi].busy[slot] = false;
	d->q[qi].done[slot] = false;
}

int vud_call(struct vud *d, unsigned qi, const struct iovec *req, int req_cnt, void *reply, size_t reply_room,
	     unsigned flags, int timeout_ms)
{
	size_t req_len = 0;
	for (int i = 0; i < req_cnt; i++)
		req_len += req[i].iov_len;
	int slot = vud_submit(d, qi, req, req_cnt, reply_room, flags);
	if (slot < 0)
		return slot;
	vud_kick(d, qi);
	while (!d->q[qi].done[slot]) {
		int s = vud_wait(d, qi, timeout_ms);
		if (s < 0)
			return s; /* the slot stays busy: the back end may still write it */
	}
	uint32_t len = d->q[qi].used_len[slot];
	if (len > reply_room)
		len = (uint32_t)reply_room; /* a back end that claims more than the room: the caller checks */
	if (reply && len)
		memcpy(reply, (uint8_t *)vud_slot(d, qi, (unsigned)slot) + ALIGN_UP(req_len, 8), len);
	int ret = (int)d->q[qi].used_len[slot];
	vud_release(d, qi, (unsigned)slot);
	return ret;
}

int vud_restart_rings(struct vud *d)
{
	for (unsigned i = 0; i < d->o.nqueues; i++) {
		struct vud_queue *q = &d->q[i];
		struct vhost_vring_state st = { .index = i };
		struct vhost_user_msg rep;
		int r = vud_msg(d, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &rep, true, false);
		if (r < 0)
			return r;
		if (rep.hdr.size != sizeof(st) || rep.payload.state.index != i || rep.payload.state.num != q->avail_idx)
			return -EPROTO; /* the back end must have completed everything it took */
		/* the guest driver starts over with fresh rings */
		memset(q->desc, 0, 16u * q->size);
		memset(q->avail, 0, 4u + 2u * q->size + 2u);
		memset(q->used, 0, 4u + 8u * q->size + 2u);
		q->avail_idx = q->last_used = q->kicked_idx = 0;
		memset(q->busy, 0, sizeof(q->busy));
		memset(q->done, 0, sizeof(q->done));
	}
	return setup_vrings(d);
}
