/* SPDX-License-Identifier: MIT */
/*
 * Running a virtqueue: the threads that sleep on the kick eventfd, take chains off the ring, hand them to the
 * backend (the FUSE protocol layer) straight in guest memory, put them on the used ring and signal the call
 * eventfd. With a thread pool, several threads serve one queue: popping and pushing are serialised by the
 * queue lock, the requests themselves run in parallel and complete in any order (split rings allow it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"
#include "virtio/vu-dev.h"

/* A request that may wait for ever (see vu_backend.may_block), served in a thread of its own. */
struct vu_blocker {
	struct vu_queue *q;
	struct vu_mem *mem;
	unsigned slot;
	pthread_t thread;
	struct vq_elem e; /* last: only nrd + nwr iovecs are allocated */
};

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("virtqueue: eventfd write: %m");
}

/* Under q->lock: use the newest memory table, translating the rings again if it changed. */
static int refresh_mem(struct vu_queue *q)
{
	struct vu_dev *d = q->dev;
	uint64_t gen = atomic_load_explicit(&d->mem_gen, memory_order_acquire);
	if (q->mem && gen == q->mem_gen)
		return 0;
	pthread_mutex_lock(&d->mem_lock);
	struct vu_mem *m = vu_mem_ref(d->mem);
	gen = atomic_load_explicit(&d->mem_gen, memory_order_relaxed);
	pthread_mutex_unlock(&d->mem_lock);
	int r = vq_map(&q->vq, m);
	if (r < 0) {
		vu_mem_unref(m);
		return r;
	}
	vu_mem_unref(q->mem);
	q->mem = m;
	q->mem_gen = gen;
	return 0;
}

/* Under q->lock: the guest broke the ring. Stop serving it and tell the front end (SET_VRING_ERR). */
static void queue_break(struct vu_queue *q, int err, const char *what)
{
	if (!q->broken)
		log_error("virtio-fs: queue %u stopped: %s: %s", q->index, what, strerror(-err));
	q->broken = true;
	signal_fd(q->err_fd);
}

/*
 * The request's session, read-locked (NULL, unlocked, if none can be made). Replaces a session that is done
 * (after DESTROY the next mount sends INIT again) or, with stale_gen != 0, the session of that generation (the
 * client started over without DESTROY). Generations, not pointers, name sessions: a new session may reuse the
 * address of the one just freed.
 */
static void *session_get(struct vu_dev *d, uint64_t stale_gen, uint64_t *ret_gen)
{
	pthread_rwlock_rdlock(&d->session_lock);
	if (d->session && d->session_gen != stale_gen && !d->be->session_done(d->session)) {
		*ret_gen = d->session_gen;
		return d->session;
	}
	pthread_rwlock_unlock(&d->session_lock);

	/* Lock waits of the old session hold it (read-locked) and would wait for ever: their client is gone. */
	while (pthread_rwlock_trywrlock(&d->session_lock) != 0) {
		for (unsigned i = 0; i < d->nvqs; i++) {
			struct vu_queue *o = d->q[i];
			pthread_mutex_lock(&o->lock);
			for (unsigned k = 0; k < VU_BLOCKERS; k++)
				if (o->blockers[k] && d->be->wake_signal > 0)
					pthread_kill(o->blockers[k]->thread, d->be->wake_signal);
			pthread_mutex_unlock(&o->lock);
		}
		usleep(1000);
	}
	if (!d->session || d->session_gen == stale_gen || d->be->session_done(d->session)) {
		if (d->session && d->session_gen == stale_gen)
			log_info("virtio-fs: the guest driver started over: new session");
		if (d->session)
			d->be->session_free(d->be->data, d->session);
		d->session = NULL;
		int r = d->be->session_new(d->be->data, &d->session);
		if (r < 0) {
			log_error("virtio-fs: cannot create a protocol session: %s", strerror(-r));
			d->session = NULL;
		}
		d->session_gen++;
	}
	pthread_rwlock_unlock(&d->session_lock);
	pthread_rwlock_rdlock(&d->session_lock);
	if (!d->session) {
		pthread_rwlock_unlock(&d->session_lock);
		return NULL;
	}
	*ret_gen = d->session_gen;
	return d->session;
}

/* Serve one popped chain (q->lock not held); returns the bytes written into the writable part. */
static uint32_t serve_elem(struct vu_queue *q, struct vq_elem *e)
{
	struct vu_dev *d = q->dev;
	uint64_t gen;
	void *s = session_get(d, 0, &gen);
	if (s && d->be->session_restarts && d->be->session_restarts(s, e->iov, (int)e->nrd)) {
		pthread_rwlock_unlock(&d->session_lock);
		s = session_get(d, gen, &gen);
	}
	if (!s)
		return 0;
	/* FORGET, BATCH_FORGET and INTERRUPT come without a writable part (the hiprio queue): the backend takes
	 * them without reply room and refuses (-ENOBUFS) any other request that has none. */
	bool no_room = e->nwr == 0;
	ssize_t n = d->be->handle(s, e->iov, (int)e->nrd, e->iov + e->nrd, (int)e->nwr);
	pthread_rwlock_unlock(&d->session_lock);
	if (n < 0) {
		log_debug("virtio-fs: queue %u: request dropped: %s", q->index, strerror((int)-n));
		return 0;
	}
	if (no_room) {
		if (n > 0)
			log_debug("virtio-fs: queue %u: a reply for a request without reply room dropped", q->index);
		return 0;
	}
	return (uint64_t)n > e->wr_len ? (uint32_t)e->wr_len : (uint32_t)n;
}

/* Take one chain (under q->lock). 1 popped (mem ref in *ret_mem), 0 empty, -errno broken. */
static int queue_pop(struct vu_queue *q, struct vq_elem *e, struct vu_mem **ret_mem)
{
	if (q->broken)
		return -EPIPE;
	int r = refresh_mem(q);
	if (r < 0) {
		queue_break(q, r, "rings outside guest memory");
		return r;
	}
	r = vq_pop(&q->vq, q->mem, e);
	if (r < 0) {
		queue_break(q, r, "bad descriptor chain");
		return r;
	}
	if (r > 0)
		*ret_mem = vu_mem_ref(q->mem);
	return r;
}

static void queue_complete(struct vu_queue *q, const struct vq_elem *e, uint32_t len)
{
	pthread_mutex_lock(&q->lock);
	vq_push(&q->vq, e->head, len);
	if (vq_need_notify(&q->vq))
		signal_fd(q->call_fd);
	pthread_mutex_unlock(&q->lock);
}


static void *blocker_main(void *arg)
{
	struct vu_blocker *b = arg;
	struct vu_queue *q = b->q;
	uint32_t len = serve_elem(q, &b->e);
	queue_complete(q, &b->e, len);
	vu_mem_unref(b->mem);
	pthread_mutex_lock(&q->lock);
	q->blockers[b->slot] = NULL;
	q->nblockers--;
	pthread_cond_broadcast(&q->blockers_done);
	pthread_mutex_unlock(&q->lock);
	free(b);
	return NULL;
}

/* Hand e (with its mem reference) to a thread of its own; false: serve it inline (no slot, no memory). */
static bool offload(struct vu_queue *q, const struct vq_elem *e, struct vu_mem *m)
{
	unsigned n = e->nrd + e->nwr;
	struct vu_blocker *b = malloc(offsetof(struct vu_blocker, e.iov) + n * sizeof(struct iovec));
	if (!b)
		return false;
	b->q = q;
	b->mem = m;
	b->e.head = e->head;
	b->e.nrd = e->nrd;
	b->e.nwr = e->nwr;
	b->e.rd_len = e->rd_len;
	b->e.wr_len = e->wr_len;
	memcpy(b->e.iov, e->iov, n * sizeof(struct iovec));

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	bool ok = false;
	pthread_mutex_lock(&q->lock);
	for (unsigned i = 0; i < VU_BLOCKERS && !ok; i++) {
		if (q->blockers[i])
			continue;
		b->slot = i;
		/* under the lock: the thread cannot clear its slot before we filled it */
		if (pthread_create(&b->thread, &attr, blocker_main, b) != 0)
			break;
		q->blockers[i] = b;
		q->nblockers++;
		ok = true;
	}
	pthread_mutex_unlock(&q->lock);
	pthread_attr_destroy(&attr);
	if (!ok)
		free(b);
	return ok;
}

void vu_queue_drain_blockers(struct vu_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->nblockers > 0) {
		/* A slot is cleared (under the lock) before its thread ends: every one we signal is alive. The
		 * signal may land before the thread starts waiting, so repeat until it is gone. */
		for (unsigned i = 0; i < VU_BLOCKERS; i++)
			if (q->blockers[i] && q->dev->be->wake_signal > 0)
				pthread_kill(q->blockers[i]->thread, q->dev->be->wake_signal);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&q->blockers_done, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
}

int vu_queue_process(struct vu_queue *q, struct vq_elem *e)
{
	for (;;) {
		struct vu_mem *m = NULL;
		pthread_mutex_lock(&q->lock);
		int r = queue_pop(q, e, &m);
		if (r == 0 && vq_enable_kick(&q->vq))
			r = queue_pop(q, e, &m);
		/* A kick wakes one thread of a pool (poll rechecks the eventfd after the first reader took the
		 * count): the thread that found work hands the rest to a sleeping one. */
		bool more = r > 0 && q->nthreads > 1 && atomic_load_explicit(&q->idle, memory_order_relaxed) > 0 &&
			    __atomic_load_n(&q->vq.avail->idx, __ATOMIC_ACQUIRE) != q->vq.last_avail;
		pthread_mutex_unlock(&q->lock);
		if (r <= 0)
			return r;
		if (more)
			signal_fd(q->work_fd);
		/* m keeps the mappings of this chain's buffers alive even if the table changes meanwhile */
		if (q->dev->be->may_block && q->dev->be->may_block(e->iov, (int)e->nrd) && offload(q, e, m))
			continue;
		uint32_t len = serve_elem(q, e);
		queue_complete(q, e, len);
		vu_mem_unref(m);
	}
}

static void *queue_thread(void *arg)
{
	struct vu_queue *q = arg;
	_cleanup_free_ struct vq_elem *e = malloc(sizeof(*e));
	if (!e) {
		log_error("virtio-fs: queue %u: out of memory", q->index);
		return NULL;
	}
	for (;;) {
		struct pollfd p[3] = { { .fd = q->stop_fd, .events = POLLIN },
				       { .fd = q->kick_fd, .events = POLLIN },
				       { .fd = q->work_fd, .events = POLLIN } };
		/* A broken queue only waits to be stopped. */
		if (vu_queue_process(q, e) < 0)
			p[1].fd = p[2].fd = -1;
		atomic_fetch_add_explicit(&q->idle, 1, memory_order_relaxed);
		int pr = poll(p, 3, -1);
		atomic_fetch_sub_explicit(&q->idle, 1, memory_order_relaxed);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			log_error("virtio-fs: queue %u: poll: %m", q->index);
			return NULL;
		}
		if (p[0].revents)
			return NULL;
		if (p[1].revents & POLLIN) {
			uint64_t v;
			/* non-blocking: with a pool, another thread may have taken the count already */
			(void)!read(q->kick_fd, &v, sizeof(v));
		}
		if (p[2].revents & POLLIN) {
			uint64_t v;
			(void)!read(q->work_fd, &v, sizeof(v));
		}
	}
}

int vu_queue_start(struct vu_queue *q)
{
	if (q->running)
		return 0;
	pthread_mutex_lock(&q->lock);
	int r = refresh_mem(q);
	if (r == 0) {
		/* The ring is authoritative for what was completed (after a stop, last_avail == used idx). */
		q->vq.used_idx = __atomic_load_n(&q->vq.used->idx, __ATOMIC_ACQUIRE);
		q->vq.signalled_used_valid = false;
		q->vq.event_idx = q->dev->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
		q->vq.indirect = q->dev->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	}
	pthread_mutex_unlock(&q->lock);
	if (r < 0)
		return r;
	if (q->dev->manual) {
		q->running = true;
		return 0;
	}

	int fl = fcntl(q->kick_fd, F_GETFL);
	if (fl < 0 || fcntl(q->kick_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	unsigned want = q->index == 0 || q->dev->thread_pool == 0 ? 1 : q->dev->thread_pool;
	q->nthreads = 0;
	for (unsigned i = 0; i < want; i++) {
		r = -pthread_create(&q->threads[i], NULL, queue_thread, q);
		if (r < 0)
			break;
		q->nthreads++;
	}
	q->running = true;
	if (r < 0) {
		vu_queue_stop(q);
		return r;
	}
	log_debug("virtio-fs: queue %u started (%u threads, size %u)", q->index, q->nthreads, q->vq.size);
	return 0;
}

void vu_queue_stop(struct vu_queue *q)
{
	if (!q->running)
		return;
	signal_fd(q->stop_fd);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	q->nthreads = 0;
	/* what the front end reads back (GET_VRING_BASE) must be complete: end the lock waits (EINTR) */
	vu_queue_drain_blockers(q);
	uint64_t v;
	(void)!read(q->stop_fd, &v, sizeof(v));
	while (read(q->work_fd, &v, sizeof(v)) > 0)
		;
	q->running = false;
	log_debug("virtio-fs: queue %u stopped at avail %u", q->index, q->vq.last_avail);
}

int vu_queue_update(struct vu_queue *q)
{
	bool want = q->kick_fd >= 0 && q->addr_set && q->enabled && q->vq.size > 0 && !q->broken;
	if (!want) {
		vu_queue_stop(q);
		return 0;
	}
	return vu_queue_start(q);
}
