/* SPDX-License-Identifier: MIT */
/* `boxshare serve --socket-path/--fd`: the listening socket, one connection at a time, the glue to proto. */
#include "virtio/vu-serve.h"

#include <stdatomic.h>
#include <sys/socket.h>

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"
#include "virtio/vu-conn.h"
#include "virtio/vu-dev.h"

int vu_listen(const char *socket_path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(socket_path);
	if (len == 0 || len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, socket_path, len);

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from an earlier run is replaced (as virtiofsd does); anything that is not a socket is
	 * left alone. No connect() probe for a live server: to a server of ours that would be a front end that
	 * came and went, and it would exit. */
	struct stat st;
	if (lstat(socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(socket_path) < 0)
			return -errno;
	}
	/* The socket is created 0600: only its owner (the VMM's user, usually root) may connect. */
	mode_t old = umask(0177);
	int r = RET_NERRNO(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	umask(old);
	if (r < 0)
		return r;
	if (listen(fd, 1) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

struct proto_glue {
	vu_session_factory make;
	void *data;
};

static int glue_new(void *data, void **ret)
{
	struct proto_glue *g = data;
	struct proto_session *s;
	int r = g->make(g->data, &s);
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}
static void glue_free(void *data, void *s)
{
	proto_session_free(s);
}
static ssize_t glue_handle(void *s, const struct iovec *in, int in_cnt, const struct iovec *out, int out_cnt)
{
	return proto_handle(s, in, in_cnt, out, out_cnt);
}
static bool glue_done(void *s)
{
	return proto_session_done(s);
}

/*
 * A guest that reboots (or whose driver is reloaded) without unmounting keeps the vhost-user connection and
 * sends FUSE_INIT again; proto answers a second INIT on a live session with an error, so the transport hands it
 * a fresh session. This is the one place outside proto that reads a FUSE header field: the opcode, copied out
 * of guest memory (only a hint for scheduling: proto validates the request again).
 */
static uint32_t peek_opcode(const struct iovec *in, int in_cnt)
{
	struct fuse_in_header h;
	size_t got = 0;
	for (int i = 0; i < in_cnt && got < sizeof(h); i++) {
		size_t k = MIN(in[i].iov_len, sizeof(h) - got);
		memcpy((uint8_t *)&h + got, in[i].iov_base, k);
		got += k;
	}
	return got == sizeof(h) ? h.opcode : 0;
}

static bool glue_restarts(void *s, const struct iovec *in, int in_cnt)
{
	return peek_opcode(in, in_cnt) == FUSE_INIT && proto_session_ready(s);
}

/* A lock wait ends only when another request of the client unlocks: it must not hold a queue thread (with
 * one thread per queue, the unlock would wait behind it for ever). proto ends it with EINTR on our signal. */
static bool glue_may_block(const struct iovec *in, int in_cnt)
{
	return peek_opcode(in, in_cnt) == FUSE_SETLKW;
}

/* What vu_serve_stop() shuts down: the socket being served and the listening one (-1: none). */
static atomic_int cur_conn = -1, cur_listen = -1;
static atomic_bool stopping;

void vu_serve_stop(void)
{
	atomic_store(&stopping, true);
	int fd = atomic_load(&cur_conn);
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RDWR);
	fd = atomic_load(&cur_listen);
	if (fd >= 0)
		(void)shutdown(fd, SHUT_RDWR);
}

static int serve_one(int conn, const struct vu_serve_opts *o, const struct vu_backend *be)
{
	struct vu_dev_opts dopts = {
		.nqueues = o->nqueues ? o->nqueues : 1,
		.thread_pool = o->thread_pool,
		.tag = o->tag,
	};
	struct vu_dev *d;
	int r = vu_dev_new(&dopts, be, &d);
	if (r < 0)
		return r;
	atomic_store(&cur_conn, conn);
	if (atomic_load(&stopping)) /* a stop that came before the connection did */
		(void)shutdown(conn, SHUT_RDWR);
	r = vu_conn_serve(conn, d);
	atomic_store(&cur_conn, -1);
	vu_dev_free(d);
	return atomic_load(&stopping) ? 0 : r;
}

int vu_serve(int sock_fd, const struct vu_serve_opts *o, vu_session_factory make_session, void *data)
{
	struct proto_glue g = { .make = make_session, .data = data };
	const struct vu_backend be = {
		.session_new = glue_new,
		.session_free = glue_free,
		.handle = glue_handle,
		.session_done = glue_done,
		.session_restarts = glue_restarts,
		.may_block = glue_may_block,
		.wake_signal = PROTO_INTR_SIGNAL,
		.data = &g,
	};
	int listening = 0;
	socklen_t sl = sizeof(listening);
	if (getsockopt(sock_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) < 0)
		return -errno;
	if (!listening)
		return serve_one(sock_fd, o, &be);

	atomic_store(&cur_listen, sock_fd);
	for (;;) {
		if (atomic_load(&stopping))
			return 0;
		_cleanup_close_ int conn = accept4(sock_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (atomic_load(&stopping))
				return 0;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		log_info("vhost-user: front end connected");
		int r = serve_one(conn, o, &be);
		log_info("vhost-user: front end disconnected%s%s", r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		if (!o->wait_reconnect)
			return r;
	}
}
