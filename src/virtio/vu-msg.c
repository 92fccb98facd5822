/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user requests (QEMU docs/interop/vhost-user.rst), written from the specification. Every payload is
 * checked for its exact size, every queue index against the queues we offered, every fd count against what the
 * request carries; a refused request changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"
#include "virtio/vu-dev.h"

static void close_fds(int *fds, unsigned nfds)
{
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = safe_close(fds[i]);
}

int vu_dev_new(const struct vu_dev_opts *o, const struct vu_backend *be, struct vu_dev **ret)
{
	if (o->nqueues < 1 || o->nqueues + 1 > VU_MAX_QUEUES || o->thread_pool > 1024)
		return -EINVAL;
	if (o->tag && (strlen(o->tag) == 0 || strlen(o->tag) > VIRTIO_FS_TAG_LEN))
		return -EINVAL;
	struct vu_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->be = be;
	d->nvqs = o->nqueues + 1;
	d->thread_pool = o->thread_pool;
	d->manual = o->manual;
	if (o->tag)
		memcpy(d->config.tag, o->tag, strlen(o->tag)); /* not NUL-terminated when 36 bytes: as the spec says */
	d->config.num_request_queues = o->nqueues;
	pthread_mutex_init(&d->mem_lock, NULL);
	pthread_rwlock_init(&d->session_lock, NULL);
	atomic_init(&d->mem_gen, 1);
	int r = vu_mem_new(&d->mem);
	if (r < 0)
		goto fail;
	unsigned per_queue = MAX(1u, o->thread_pool);
	for (unsigned i = 0; i < d->nvqs; i++) {
		struct vu_queue *q = calloc(1, sizeof(*q) + per_queue * sizeof(pthread_t));
		if (!q) {
			r = -ENOMEM;
			goto fail;
		}
		d->q[i] = q;
		q->dev = d;
		q->index = i;
		q->kick_fd = q->call_fd = q->err_fd = q->stop_fd = q->work_fd = -1;
		pthread_mutex_init(&q->lock, NULL);
		pthread_cond_init(&q->blockers_done, NULL);
		q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->work_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
		if (q->stop_fd < 0 || q->work_fd < 0) {
			r = -errno;
			goto fail;
		}
	}
	*ret = d;
	return 0;
fail:
	vu_dev_free(d);
	return r;
}

static void queue_reset(struct vu_queue *q)
{
	vu_queue_stop(q);
	q->kick_fd = safe_close(q->kick_fd);
	q->call_fd = safe_close(q->call_fd);
	q->err_fd = safe_close(q->err_fd);
	vu_mem_unref(q->mem);
	q->mem = NULL;
	q->addr_set = q->enabled = q->broken = false;
	memset(&q->vq, 0, sizeof(q->vq));
}

static void session_drop(struct vu_dev *d)
{
	pthread_rwlock_wrlock(&d->session_lock);
	if (d->session)
		d->be->session_free(d->be->data, d->session);
	d->session = NULL;
	pthread_rwlock_unlock(&d->session_lock);
}

void vu_dev_free(struct vu_dev *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->nvqs; i++) {
		struct vu_queue *q = d->q[i];
		if (!q)
			continue;
		if (q->stop_fd >= 0)
			queue_reset(q);
		safe_close(q->stop_fd);
		safe_close(q->work_fd);
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->blockers_done);
		free(q);
	}
	session_drop(d);
	vu_mem_unref(d->mem);
	pthread_mutex_destroy(&d->mem_lock);
	pthread_rwlock_destroy(&d->session_lock);
	free(d);
}

/* Stop every queue and forget what the front end set up (RESET_OWNER, RESET_DEVICE). */
static void dev_reset(struct vu_dev *d)
{
	for (unsigned i = 0; i < d->nvqs; i++)
		queue_reset(d->q[i]);
	d->features = 0;
	session_drop(d);
}

static void set_mem(struct vu_dev *d, struct vu_mem *m)
{
	pthread_mutex_lock(&d->mem_lock);
	struct vu_mem *old = d->mem;
	d->mem = m;
	atomic_fetch_add_explicit(&d->mem_gen, 1, memory_order_release);
	pthread_mutex_unlock(&d->mem_lock);
	vu_mem_unref(old);
}

static int reply_u64(const struct vhost_user_msg *m, struct vhost_user_msg *reply, uint64_t v)
{
	reply->hdr.size = sizeof(uint64_t);
	reply->payload.u64 = v;
	return 1;
}

static int do_set_mem_table(struct vu_dev *d, const struct vhost_user_msg *m, int *fds, unsigned nfds)
{
	const struct vhost_user_memory *mem = &m->payload.memory;
	if (m->hdr.size < 8)
		return -EINVAL;
	uint32_t n = mem->nregions;
	if (n > VHOST_MEMORY_BASELINE_NREGIONS || m->hdr.size != 8 + n * sizeof(struct vhost_user_region) ||
	    nfds != n)
		return -EINVAL;
	struct vu_mem *t;
	int r = vu_mem_new(&t);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < n; i++) {
		struct vu_region *reg;
		struct vu_mem *t2;
		r = vu_region_new(&mem->regions[i], fds[i], &reg);
		if (r < 0)
			goto fail;
		r = vu_mem_add(t, reg, &t2);
		vu_region_unref(reg);
		if (r < 0)
			goto fail;
		vu_mem_unref(t);
		t = t2;
	}
	close_fds(fds, nfds); /* the mappings keep the memory; the fds are not needed */
	set_mem(d, t);
	return 0;
fail:
	vu_mem_unref(t);
	return r;
}

static int do_add_mem_reg(struct vu_dev *d, const struct vhost_user_msg *m, int *fds, unsigned nfds)
{
	if (!(d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)))
		return -EPROTO;
	if (m->hdr.size != sizeof(struct vhost_user_mem_reg) || nfds != 1)
		return -EINVAL;
	struct vu_region *reg;
	int r = vu_region_new(&m->payload.mem_reg.region, fds[0], &reg);
	if (r < 0)
		return r;
	struct vu_mem *t;
	pthread_mutex_lock(&d->mem_lock);
	r = vu_mem_add(d->mem, reg, &t);
	pthread_mutex_unlock(&d->mem_lock);
	vu_region_unref(reg);
	if (r < 0)
		return r;
	set_mem(d, t);
	return 0;
}

static int do_rem_mem_reg(struct vu_dev *d, const struct vhost_user_msg *m, unsigned nfds)
{
	/* The spec says no fd; older front ends send the region's fd, which we must close unused. */
	if (!(d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS)))
		return -EPROTO;
	if (m->hdr.size != sizeof(struct vhost_user_mem_reg) || nfds > 1)
		return -EINVAL;
	const struct vhost_user_region *reg = &m->payload.mem_reg.region;
	struct vu_mem *t;
	pthread_mutex_lock(&d->mem_lock);
	int r = vu_mem_remove(d->mem, reg->guest_phys_addr, reg->memory_size, reg->userspace_addr, &t);
	pthread_mutex_unlock(&d->mem_lock);
	if (r < 0)
		return r;
	set_mem(d, t);
	return 0;
}

/* The queue a vring_state / vring_addr names; NULL if out of range. */
static struct vu_queue *queue_at(struct vu_dev *d, uint32_t index)
{
	return index < d->nvqs ? d->q[index] : NULL;
}

static int do_vring_fd(struct vu_dev *d, const struct vhost_user_msg *m, int *fds, unsigned nfds)
{
	if (m->hdr.size != sizeof(uint64_t))
		return -EINVAL;
	uint64_t v = m->payload.u64;
	if (v & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
		return -EINVAL;
	struct vu_queue *q = queue_at(d, v & VHOST_USER_VRING_IDX_MASK);
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
	if (!q || nfds != (nofd ? 0u : 1u))
		return -EINVAL;
	int fd = nofd ? -1 : fds[0];

	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_KICK:
		/* Polling a ring without a kick fd would burn a CPU per queue: refused. */
		if (nofd)
			return -EOPNOTSUPP;
		vu_queue_stop(q);
		safe_close(q->kick_fd);
		q->kick_fd = fd;
		fds[0] = -1;
		/* Without PROTOCOL_FEATURES, a ring is enabled as soon as it starts. */
		if (!(d->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
			q->enabled = true;
		return vu_queue_update(q);
	case VHOST_USER_SET_VRING_CALL:
		/* Changed at run time (QEMU masks and unmasks interrupts this way): swap under the queue lock. */
		pthread_mutex_lock(&q->lock);
		safe_close(q->call_fd);
		q->call_fd = fd;
		pthread_mutex_unlock(&q->lock);
		break;
	default: /* VHOST_USER_SET_VRING_ERR */
		pthread_mutex_lock(&q->lock);
		safe_close(q->err_fd);
		q->err_fd = fd;
		pthread_mutex_unlock(&q->lock);
		break;
	}
	if (fd >= 0)
		fds[0] = -1;
	return 0;
}

static int do_set_vring_addr(struct vu_dev *d, const struct vhost_user_msg *m)
{
	const struct vhost_vring_addr *a = &m->payload.addr;
	if (m->hdr.size != sizeof(*a))
		return -EINVAL;
	struct vu_queue *q = queue_at(d, a->index);
	if (!q || q->running)
		return -EINVAL;
	if (a->flags != 0) /* bit 0 asks for used-ring logging: we offer no logging (no LOG_ALL) */
		return -EOPNOTSUPP;
	struct vq t = q->vq;
	t.desc_uva = a->desc_user_addr;
	t.avail_uva = a->avail_user_addr;
	t.used_uva = a->used_user_addr;
	pthread_mutex_lock(&d->mem_lock);
	int r = vq_map(&t, d->mem);
	pthread_mutex_unlock(&d->mem_lock);
	if (r < 0)
		return r;
	q->vq.desc_uva = t.desc_uva;
	q->vq.avail_uva = t.avail_uva;
	q->vq.used_uva = t.used_uva;
	vu_mem_unref(q->mem); /* translate again at start */
	q->mem = NULL;
	q->addr_set = true;
	q->broken = false;
	return vu_queue_update(q);
}

static int do_vring_state(struct vu_dev *d, const struct vhost_user_msg *m, struct vhost_user_msg *reply)
{
	const struct vhost_vring_state *s = &m->payload.state;
	if (m->hdr.size != sizeof(*s))
		return -EINVAL;
	struct vu_queue *q = queue_at(d, s->index);
	if (!q)
		return -EINVAL;

	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_NUM:
		if (q->running || s->num == 0 || s->num > VIRTQ_MAX_SIZE || (s->num & (s->num - 1)))
			return -EINVAL;
		q->vq.size = (uint16_t)s->num; /* the addresses are checked against it again at start */
		return 0;
	case VHOST_USER_SET_VRING_BASE:
		if (q->running || s->num > UINT16_MAX)
			return -EINVAL;
		q->vq.last_avail = (uint16_t)s->num;
		q->vq.used_idx = (uint16_t)s->num;
		q->broken = false;
		return 0;
	case VHOST_USER_GET_VRING_BASE:
		/* Stops the ring; waits for the requests in flight, so that last_avail is all completed. */
		vu_queue_stop(q);
		reply->hdr.size = sizeof(reply->payload.state);
		reply->payload.state.index = s->index;
		reply->payload.state.num = q->vq.last_avail;
		q->kick_fd = safe_close(q->kick_fd);
		pthread_mutex_lock(&q->lock);
		q->call_fd = safe_close(q->call_fd);
		pthread_mutex_unlock(&q->lock);
		q->enabled = false;
		return 1;
	default: /* VHOST_USER_SET_VRING_ENABLE */
		if (s->num > 1)
			return -EINVAL;
		q->enabled = s->num == 1;
		return vu_queue_update(q);
	}
}

static int do_get_config(struct vu_dev *d, const struct vhost_user_msg *m, struct vhost_user_msg *reply)
{
	const struct vhost_user_config *c = &m->payload.config;
	if (m->hdr.size < VHOST_USER_CONFIG_HDR_SIZE || c->size > VHOST_USER_MAX_CONFIG_SIZE ||
	    m->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c->size || c->offset > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	reply->hdr.size = m->hdr.size;
	reply->payload.config.offset = c->offset;
	reply->payload.config.size = c->size;
	reply->payload.config.flags = c->flags;
	memset(reply->payload.config.region, 0, c->size);
	/* Bytes past the end of the virtio-fs config read as 0. */
	if (c->offset < sizeof(d->config))
		memcpy(reply->payload.config.region, (const uint8_t *)&d->config + c->offset,
		       MIN((size_t)c->size, sizeof(d->config) - c->offset));
	return 1;
}

int vu_dev_handle_msg(struct vu_dev *d, const struct vhost_user_msg *m, int *fds, unsigned nfds,
		      struct vhost_user_msg *reply)
{
	int r;
	memset(&reply->hdr, 0, sizeof(reply->hdr));
	reply->hdr.request = m->hdr.request;
	reply->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;

	/* Requests that carry fds are handled by their own function; everyone else gets none. */
	switch (m->hdr.request) {
	case VHOST_USER_SET_MEM_TABLE:
		r = do_set_mem_table(d, m, fds, nfds);
		break;
	case VHOST_USER_ADD_MEM_REG:
		r = do_add_mem_reg(d, m, fds, nfds);
		break;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		r = do_vring_fd(d, m, fds, nfds);
		break;
	case VHOST_USER_REM_MEM_REG:
		r = do_rem_mem_reg(d, m, nfds);
		break;
	default:
		if (nfds > 0) {
			r = -EINVAL;
			break;
		}
		switch (m->hdr.request) {
		case VHOST_USER_GET_FEATURES:
			r = m->hdr.size == 0 ? reply_u64(m, reply, VU_FEATURES) : -EINVAL;
			break;
		case VHOST_USER_SET_FEATURES:
			if (m->hdr.size != sizeof(uint64_t) || (m->payload.u64 & ~VU_FEATURES)) {
				r = -EINVAL;
				break;
			}
			d->features = m->payload.u64;
			r = 0;
			break;
		case VHOST_USER_GET_PROTOCOL_FEATURES:
			r = m->hdr.size == 0 ? reply_u64(m, reply, VU_PROTOCOL_FEATURES) : -EINVAL;
			break;
		case VHOST_USER_SET_PROTOCOL_FEATURES:
			if (m->hdr.size != sizeof(uint64_t) || (m->payload.u64 & ~VU_PROTOCOL_FEATURES)) {
				r = -EINVAL;
				break;
			}
			d->protocol_features = m->payload.u64;
			r = 0;
			break;
		case VHOST_USER_GET_QUEUE_NUM:
			r = m->hdr.size == 0 ? reply_u64(m, reply, d->nvqs) : -EINVAL;
			break;
		case VHOST_USER_GET_MAX_MEM_SLOTS:
			r = m->hdr.size == 0 ? reply_u64(m, reply, VU_MAX_MEM_SLOTS) : -EINVAL;
			break;
		case VHOST_USER_SET_OWNER:
			d->owner = true;
			r = 0;
			break;
		case VHOST_USER_RESET_OWNER:
			dev_reset(d);
			d->owner = false;
			r = 0;
			break;
		case VHOST_USER_RESET_DEVICE:
			if (!(d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE))) {
				r = -EPROTO;
				break;
			}
			dev_reset(d);
			r = 0;
			break;
		case VHOST_USER_SET_VRING_ADDR:
			r = do_set_vring_addr(d, m);
			break;
		case VHOST_USER_SET_VRING_NUM:
		case VHOST_USER_SET_VRING_BASE:
		case VHOST_USER_GET_VRING_BASE:
		case VHOST_USER_SET_VRING_ENABLE:
			r = do_vring_state(d, m, reply);
			break;
		case VHOST_USER_GET_CONFIG:
			if (!(d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_CONFIG))) {
				r = -EPROTO;
				break;
			}
			r = do_get_config(d, m, reply);
			break;
		case VHOST_USER_SET_CONFIG:
			r = -EPERM; /* the virtio-fs config space is read-only */
			break;
		default:
			log_debug("vhost-user: request %u not supported", m->hdr.request);
			r = -EOPNOTSUPP;
			break;
		}
	}
	close_fds(fds, nfds);
	return r;
}
