/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the vhost-user transport, built on the same test driver as the unit and integration
 * tests. The first input byte picks what the rest is:
 *   0: a byte stream on the vhost-user socket (framing, sizes, versions) into vu_conn_serve();
 *   1: after a normal set-up, a sequence of messages with fds handed straight to vu_dev_handle_msg();
 *   2: after a normal set-up, the guest's side of the rings and buffers: descriptor table, avail ring and
 *      indirect tables are overwritten with the input, then the queue is served.
 * The mock backend reads every byte of every readable iovec and writes every byte of every writable one, so
 * that a translation outside guest memory faults (or trips ASan) at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../integration/vu/driver.h"
#include "util/log.h"
#include "virtio/vu-conn.h"
#include "virtio/vu-dev.h"

static int fz_new(void *data, void **ret)
{
	*ret = malloc(1);
	return *ret ? 0 : -ENOMEM;
}
static void fz_free(void *data, void *s)
{
	free(s);
}
static bool fz_done(void *s)
{
	return false;
}
static volatile uint8_t sink;
static ssize_t fz_handle(void *s, const struct iovec *in, int in_cnt, const struct iovec *out, int out_cnt)
{
	uint8_t acc = 0;
	size_t n = 0;
	for (int i = 0; i < in_cnt; i++)
		for (size_t j = 0; j < in[i].iov_len; j++)
			acc ^= ((const uint8_t *)in[i].iov_base)[j];
	sink = acc;
	for (int i = 0; i < out_cnt; i++) {
		memset(out[i].iov_base, acc, out[i].iov_len);
		n += out[i].iov_len;
	}
	return (ssize_t)n;
}
static const struct vu_backend fz_be = {
	.session_new = fz_new, .session_free = fz_free, .handle = fz_handle, .session_done = fz_done,
};

/* In-process transport: the driver's messages go straight to the device. */
static int direct_xfer(void *ctx, const struct vhost_user_msg *m, const int *fds, unsigned nfds,
		       struct vhost_user_msg *reply, bool want_reply)
{
	struct vu_dev *d = ctx;
	int own[VHOST_USER_MAX_FDS];
	for (unsigned i = 0; i < nfds; i++)
		own[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
	struct vhost_user_msg mm = *m, rep;
	int r = vu_dev_handle_msg(d, &mm, own, nfds, &rep);
	if (r > 0) {
		*reply = rep;
		return 0;
	}
	if (want_reply) {
		reply->hdr = rep.hdr;
		reply->hdr.size = 8;
		reply->payload.u64 = r < 0 ? 1 : 0;
		return 0;
	}
	return r;
}

static const struct vud_opts fz_opts = {
	.nqueues = 2, .slots = 2, .slot_bytes = 2 * 4096, .event_idx = true, .indirect = true,
};

static void fuzz_stream(const uint8_t *data, size_t size)
{
	struct vu_dev_opts o = { .nqueues = 1, .manual = true, .tag = "fuzz" };
	struct vu_dev *d;
	int sv[2];
	if (size > 100000 || vu_dev_new(&o, &fz_be, &d) < 0)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		vu_dev_free(d);
		return;
	}
	int big = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (write(sv[0], data, size) == (ssize_t)size) {
		shutdown(sv[0], SHUT_WR);
		vu_conn_serve(sv[1], d);
	}
	close(sv[0]);
	close(sv[1]);
	vu_dev_free(d);
}

static void fuzz_after_setup(const uint8_t *data, size_t size, bool rings)
{
	struct vu_dev_opts o = { .nqueues = 1, .manual = true, .tag = "fuzz" };
	struct vu_dev *dev;
	struct vud *d;
	if (vu_dev_new(&o, &fz_be, &dev) < 0)
		return;
	struct vud_xport x = { .xfer = direct_xfer, .ctx = dev };
	struct vud_opts vo = fz_opts;
	vo.mem_slots = size > 0 && (data[0] & 1);
	if (vud_new(&x, &vo, &d) < 0) {
		vu_dev_free(dev);
		return;
	}
	if (vud_setup(d) < 0)
		abort(); /* a well-formed set-up must always work */
	struct vq_elem *e = malloc(sizeof(*e));
	if (!e)
		abort();

	if (rings) {
		/* The guest owns the rings: scribble the input over descriptors, avail ring and the first slot
		 * (where indirect tables may point), then let the device serve. */
		struct vud_queue *q = &d->q[1];
		size_t dl = 16u * q->size, n = size < dl ? size : dl;
		memcpy(q->desc, data, n);
		data += n;
		size -= n;
		if (size >= 2) {
			uint16_t idx;
			memcpy(&idx, data, 2);
			size_t ents = size - 2 < 2u * q->size ? (size - 2) / 2 : q->size;
			memcpy(q->avail->ring, data + 2, ents * 2);
			__atomic_store_n(&q->avail->idx, idx, __ATOMIC_RELEASE);
			data += 2 + ents * 2;
			size -= 2 + ents * 2;
		}
		uint8_t *slot = vud_slot(d, 1, 0);
		memcpy(slot, data, size < 4096 ? size : 4096);
		vu_queue_process(dev->q[1], e);
	} else {
		/* Messages: [request u8][flags u8][nfds u8][size u8][payload...] */
		int efd = eventfd(0, EFD_CLOEXEC);
		while (size >= 4) {
			struct vhost_user_msg m;
			memset(&m, 0, sizeof(m));
			m.hdr.request = data[0];
			m.hdr.flags = VHOST_USER_VERSION | (data[1] & VHOST_USER_NEED_REPLY_MASK);
			unsigned nfds = data[2] % 4;
			size_t len = data[3];
			data += 4;
			size -= 4;
			if (len > size)
				len = size;
			if (len > sizeof(m.payload))
				len = sizeof(m.payload);
			memcpy(&m.payload, data, len);
			m.hdr.size = (uint32_t)len;
			data += len;
			size -= len;
			int fds[4];
			for (unsigned i = 0; i < nfds; i++)
				fds[i] = fcntl(i % 2 ? efd : d->memfd, F_DUPFD_CLOEXEC, 3);
			struct vhost_user_msg rep;
			vu_dev_handle_msg(dev, &m, fds, nfds, &rep);
			for (unsigned i = 0; i < dev->nvqs; i++)
				if (dev->q[i]->running)
					vu_queue_process(dev->q[i], e);
		}
		close(efd);
	}
	free(e);
	vud_free(d);
	vu_dev_free(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The queue-stop errors this provokes on purpose would flood stderr: send them to syslog instead. */
	static bool once;
	if (!once && !getenv("VU_DEBUG"))
		log_use_syslog("fuzz-vhost-user");
	once = true;
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_stream(data + 1, size - 1);
		break;
	case 1:
		fuzz_after_setup(data + 1, size - 1, false);
		break;
	default:
		fuzz_after_setup(data + 1, size - 1, true);
		break;
	}
	return 0;
}
