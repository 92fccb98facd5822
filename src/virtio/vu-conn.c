/* SPDX-License-Identifier: MIT */
/* The vhost-user socket: framing, SCM_RIGHTS fds with count checks, replies and REPLY_ACK. */
#include "virtio/vu-conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = recv(fd, p, len, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE; /* hang-up inside a message */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vu_conn_recv(int fd, struct vhost_user_msg *m, int *fds, unsigned *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl) };
	ssize_t n;
	int r = 0;

	*nfds = 0;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -errno;
	if (n == 0)
		return 0;

	/* Take every fd the kernel gave us before deciding anything, so that none leaks on an error. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < VHOST_USER_MAX_FDS)
				fds[(*nfds)++] = f;
			else {
				close(f);
				r = -E2BIG;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		r = -E2BIG;
	if (r == 0 && (size_t)n < sizeof(m->hdr))
		r = read_full(fd, (uint8_t *)&m->hdr + n, sizeof(m->hdr) - (size_t)n);
	if (r == 0 && ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
		       (m->hdr.flags & VHOST_USER_REPLY_MASK)))
		r = -EPROTO;
	if (r == 0 && m->hdr.size > sizeof(m->payload))
		r = -EMSGSIZE;
	if (r == 0 && m->hdr.size > 0)
		r = read_full(fd, &m->payload, m->hdr.size);
	if (r < 0) {
		for (unsigned i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return r;
	}
	return 1;
}

int vu_conn_send(int fd, const struct vhost_user_msg *m)
{
	size_t len = sizeof(m->hdr) + m->hdr.size;
	const uint8_t *p = (const uint8_t *)m;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vu_conn_serve(int fd, struct vu_dev *d)
{
	struct vhost_user_msg m, reply;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;

	for (;;) {
		int r = vu_conn_recv(fd, &m, fds, &nfds);
		if (r <= 0) {
			if (r < 0)
				log_error("vhost-user: bad message from the front end: %s", strerror(-r));
			return r;
		}
		/* Zero what the sender did not fill: a handler never reads bytes left from an earlier message. */
		memset((uint8_t *)&m.payload + m.hdr.size, 0, sizeof(m.payload) - m.hdr.size);
		log_debug("vhost-user: request %u size %u fds %u", m.hdr.request, m.hdr.size, nfds);
		r = vu_dev_handle_msg(d, &m, fds, nfds, &reply);
		if (r > 0) {
			r = vu_conn_send(fd, &reply);
			if (r < 0)
				return r;
			continue;
		}
		bool ack = (m.hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
			   (d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
		if (!ack) {
			if (r < 0) {
				log_error("vhost-user: request %u refused: %s", m.hdr.request, strerror(-r));
				return r;
			}
			continue;
		}
		/* the front end hears of the failure itself */
		if (r < 0)
			log_debug("vhost-user: request %u refused: %s", m.hdr.request, strerror(-r));
		reply.hdr.size = sizeof(uint64_t);
		reply.payload.u64 = r < 0 ? (uint64_t)-r : 0;
		r = vu_conn_send(fd, &reply);
		if (r < 0)
			return r;
	}
}
