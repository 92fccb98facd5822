/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the vhost-user transport, in process: guest-memory translation, then a real vhost-user
 * conversation over a socketpair between the test driver (front end + guest driver) and vu_conn_serve() with a
 * mock request backend. Covers the handshake, direct/indirect/split chains, chains spanning memory regions,
 * EVENT_IDX, several queues and a thread pool, runtime memory changes, ring stop/restart, refused messages, and
 * guest chains that must stop a queue without harming the server.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../integration/vu/driver.h"
#include "util/log.h"
#include "virtio/vu-conn.h"
#include "virtio/vu-dev.h"
#include "virtio/vu-mem.h"

static int failures;
#define CHECK(cond, ...)                                                                                         \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                                            \
			fputc('\n', stderr);                                                                     \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)
#define REQUIRE(cond, ...)                                                                                       \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			CHECK(cond, __VA_ARGS__);                                                                \
			exit(1);                                                                                 \
		}                                                                                                \
	} while (0)

/* ---- the mock backend: replies with the request's bytes inverted; 'S' sleeps, 'D' ends the session ---- */
static atomic_int sessions_made, sessions_freed, in_parallel, max_parallel, forgets;
static int block_pipe[2];
struct mock_session {
	atomic_bool done;
	atomic_int served;
};
static int mock_new(void *data, void **ret)
{
	struct mock_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_fetch_add(&sessions_made, 1);
	*ret = s;
	return 0;
}
static void mock_free(void *data, void *s)
{
	atomic_fetch_add(&sessions_freed, 1);
	free(s);
}
static bool mock_done(void *s)
{
	return atomic_load(&((struct mock_session *)s)->done);
}
static ssize_t mock_handle(void *sp, const struct iovec *in, int in_cnt, const struct iovec *out, int out_cnt)
{
	struct mock_session *s = sp;
	uint8_t buf[1 << 16];
	size_t n = 0, room = 0;
	for (int i = 0; i < out_cnt; i++)
		room += out[i].iov_len;
	for (int i = 0; i < in_cnt; i++) {
		size_t k = in[i].iov_len < sizeof(buf) - n ? in[i].iov_len : sizeof(buf) - n;
		memcpy(buf + n, in[i].iov_base, k);
		n += k;
	}
	/* as proto_handle(): a request without reply ('F'orget) may come with no room; any other needs some */
	if (room == 0 && !(n > 0 && buf[0] == 'F'))
		return -ENOBUFS;
	if (n > 0 && buf[0] == 'S') {
		int now = atomic_fetch_add(&in_parallel, 1) + 1;
		int m = atomic_load(&max_parallel);
		while (now > m && !atomic_compare_exchange_weak(&max_parallel, &m, now))
			;
		usleep(100 * 1000);
		atomic_fetch_sub(&in_parallel, 1);
	}
	if (n > 0 && buf[0] == 'D')
		atomic_store(&s->done, true);
	if (n > 0 && buf[0] == 'B') {
		/* a lock wait: until a 'U' request comes, or a signal ends the wait */
		struct pollfd p = { .fd = block_pipe[0], .events = POLLIN };
		int r = poll(&p, 1, 10000);
		uint8_t c;
		buf[0] = r == 1 && read(block_pipe[0], &c, 1) == 1 ? 'b' : 'i';
	}
	if (n > 0 && buf[0] == 'U')
		(void)!write(block_pipe[1], "u", 1);
	if (n > 0 && buf[0] == 'F') {
		atomic_fetch_add(&forgets, 1);
		return 0; /* no reply, as FORGET */
	}
	atomic_fetch_add(&s->served, 1);
	size_t w = 0;
	for (int i = 0; i < out_cnt && w < n; i++) {
		uint8_t *o = out[i].iov_base;
		for (size_t j = 0; j < out[i].iov_len && w < n; j++)
			o[j] = (uint8_t)~buf[w++];
	}
	return (ssize_t)w;
}
/* 'I' (an INIT) on a session that already served requests starts the client over */
static bool mock_restarts(void *sp, const struct iovec *in, int in_cnt)
{
	struct mock_session *s = sp;
	return in_cnt > 0 && in[0].iov_len > 0 && *(const uint8_t *)in[0].iov_base == 'I' && atomic_load(&s->served) > 0;
}
static bool mock_may_block(const struct iovec *in, int in_cnt)
{
	return in_cnt > 0 && in[0].iov_len > 0 && *(const uint8_t *)in[0].iov_base == 'B';
}
static void empty_handler(int sig)
{
}
static const struct vu_backend mock_be = {
	.session_new = mock_new, .session_free = mock_free, .handle = mock_handle, .session_done = mock_done,
	.session_restarts = mock_restarts, .may_block = mock_may_block, .wake_signal = SIGURG,
};

/* ---- a server thread on one end of a socketpair ---- */
struct server {
	int sv[2];
	struct vu_dev *dev;
	pthread_t th;
	int ret;
};
static void *server_main(void *arg)
{
	struct server *s = arg;
	s->ret = vu_conn_serve(s->sv[1], s->dev);
	return NULL;
}
static void server_start(struct server *s, unsigned nqueues, unsigned pool)
{
	struct vu_dev_opts o = { .nqueues = nqueues, .thread_pool = pool, .tag = "testtag" };
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->sv) == 0, "socketpair");
	REQUIRE(vu_dev_new(&o, &mock_be, &s->dev) == 0, "vu_dev_new");
	REQUIRE(pthread_create(&s->th, NULL, server_main, s) == 0, "pthread_create");
}
/* Hang up as the front end and return what the server returned. */
static int server_stop(struct server *s)
{
	close(s->sv[0]);
	pthread_join(s->th, NULL);
	vu_dev_free(s->dev);
	close(s->sv[1]);
	return s->ret;
}

static struct vud *driver(struct server *s, struct vud_opts o)
{
	struct vud_xport x;
	struct vud *d;
	vud_xport_socket(s->sv[0], &x);
	REQUIRE(vud_new(&x, &o, &d) == 0, "vud_new");
	int r = vud_setup(d);
	REQUIRE(r == 0, "vud_setup: %s", strerror(-r));
	return d;
}

static const struct vud_opts default_opts = {
	.nqueues = 2, .slots = 8, .slot_bytes = 3 * 4096, .event_idx = true, .indirect = true,
};

static int echo(struct vud *d, unsigned q, size_t len, unsigned flags)
{
	uint8_t req[8192], rep[8192];
	for (size_t i = 0; i < len; i++)
		req[i] = (uint8_t)(i * 7 + 1);
	req[0] = 'E';
	struct iovec iov = { req, len };
	int n = vud_call(d, q, &iov, 1, rep, len, flags, 2000);
	if (n != (int)len)
		return n < 0 ? n : -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if (rep[i] + req[i] != 0xff)
			return -EBADMSG;
	return 0;
}

static unsigned count_fds(void)
{
	unsigned n = 0;
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/* ---- tests ---- */

static void test_mem(void)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	REQUIRE(fd >= 0 && ftruncate(fd, 3 * 4096) == 0, "memfd");
	struct vu_region *a, *b, *c;
	struct vhost_user_region ra = { .guest_phys_addr = 0x1000, .memory_size = 4096, .userspace_addr = 0x7000,
					.mmap_offset = 0 };
	struct vhost_user_region rb = { .guest_phys_addr = 0x2000, .memory_size = 8192, .userspace_addr = 0x9000,
					.mmap_offset = 4096 };
	CHECK(vu_region_new(&ra, fd, &a) == 0, "region a");
	CHECK(vu_region_new(&rb, fd, &b) == 0, "region b");
	struct vhost_user_region bad = rb;
	bad.memory_size = 0;
	CHECK(vu_region_new(&bad, fd, &c) == -EINVAL, "size 0");
	bad = rb;
	bad.mmap_offset = 8192; /* past the end of the file: would SIGBUS */
	CHECK(vu_region_new(&bad, fd, &c) == -EINVAL, "beyond file");
	bad = rb;
	bad.guest_phys_addr = UINT64_MAX - 100;
	CHECK(vu_region_new(&bad, fd, &c) == -EINVAL, "gpa overflow");
	bad = rb;
	bad.mmap_offset = UINT64_MAX - 10;
	CHECK(vu_region_new(&bad, fd, &c) == -EINVAL, "offset overflow");
	CHECK(vu_region_new(&ra, -1, &c) == -EBADF, "no fd");

	struct vu_mem *m0, *m1, *m2, *m3;
	REQUIRE(vu_mem_new(&m0) == 0, "mem");
	REQUIRE(vu_mem_add(m0, a, &m1) == 0, "add a");
	REQUIRE(vu_mem_add(m1, b, &m2) == 0, "add b");
	CHECK(vu_mem_add(m2, a, &m3) == -EEXIST, "overlap refused");
	vu_region_unref(a);
	vu_region_unref(b);

	uint64_t got;
	uint8_t *p = vu_mem_gpa(m2, 0x1ff0, 0x20, &got);
	CHECK(p && got == 0x10, "gpa at region end: %llu", (unsigned long long)got);
	CHECK(vu_mem_gpa(m2, 0xfff, 1, &got) == NULL, "below");
	CHECK(vu_mem_gpa(m2, 0x4000, 1, &got) == NULL, "above");
	struct iovec iov[4];
	unsigned cnt = 0;
	CHECK(vu_mem_iov(m2, 0x1ff0, 0x20, iov, &cnt, 4) == 0 && cnt == 2, "spanning iov: %u", cnt);
	cnt = 0;
	CHECK(vu_mem_iov(m2, 0x1ff0, 0x20, iov, &cnt, 1) == -E2BIG, "spanning iov over max");
	cnt = 0;
	CHECK(vu_mem_iov(m2, 0x3ff0, 0x20, iov, &cnt, 4) == -EFAULT, "runs off the end");
	cnt = 0;
	CHECK(vu_mem_iov(m2, UINT64_MAX - 4, 16, iov, &cnt, 4) == -EFAULT, "wraps");
	CHECK(vu_mem_uva(m2, 0x9000, 8192) != NULL, "uva whole region");
	CHECK(vu_mem_uva(m2, 0x9001, 8192) == NULL, "uva past region");
	CHECK(vu_mem_uva(m2, 0x8fff, 2) == NULL, "uva across a gap");
	/* writes through region a are seen through the file: the mapping is shared */
	memset(vu_mem_gpa(m2, 0x1000, 1, &got), 0x5a, 1);
	uint8_t byte = 0;
	CHECK(pread(fd, &byte, 1, 0) == 1 && byte == 0x5a, "shared mapping");
	uint8_t rd[32];
	CHECK(vu_mem_read(m2, 0x1ff0, rd, sizeof(rd)) == 0, "read spanning");
	CHECK(vu_mem_remove(m2, 0x2000, 8192, 0x9000, &m3) == 0 && vu_mem_count(m3) == 1, "remove");
	CHECK(vu_mem_gpa(m3, 0x2000, 1, &got) == NULL, "removed region gone");
	struct vu_mem *m4;
	CHECK(vu_mem_remove(m3, 0x2000, 8192, 0x9000, &m4) == -ENOENT, "remove twice");
	vu_mem_unref(m0);
	vu_mem_unref(m1);
	vu_mem_unref(m2);
	vu_mem_unref(m3);
	close(fd);
}

static void test_echo(bool event_idx, bool mem_slots, unsigned pool)
{
	struct server s;
	server_start(&s, 2, pool);
	struct vud_opts o = default_opts;
	o.nqueues = 3;
	o.event_idx = event_idx;
	o.mem_slots = mem_slots;
	struct vud *d = driver(&s, o);
	for (unsigned q = 0; q < 3; q++) {
		CHECK(echo(d, q, 100, 0) == 0, "direct q%u", q);
		CHECK(echo(d, q, 100, VUD_INDIRECT) == 0, "indirect q%u", q);
		CHECK(echo(d, q, 5000, VUD_SPLIT) == 0, "split q%u", q);
		CHECK(echo(d, q, 6000, VUD_SPLIT | VUD_INDIRECT) == 0, "split indirect q%u", q);
	}
	/* a request without a writable part (FORGET on the hiprio queue) still reaches the backend */
	uint8_t fr[8] = "Forget";
	struct iovec fiov = { fr, sizeof(fr) };
	int f0 = atomic_load(&forgets);
	CHECK(vud_call(d, 0, &fiov, 1, NULL, 0, 0, 2000) == 0, "forget completes with length 0");
	CHECK(atomic_load(&forgets) == f0 + 1, "forget reached the backend");
	/* queue 1, slot 0 straddles the two regions: a 6000-byte request and reply span them */
	CHECK(echo(d, 1, 6000, 0) == 0, "spanning regions");
	/* many round trips: ring indexes wrap past the queue size and 16-bit index arithmetic holds */
	int bad = 0;
	for (int i = 0; i < 300; i++)
		bad += echo(d, 1, 64, i % 3 == 0 ? VUD_INDIRECT : 0) != 0;
	CHECK(bad == 0, "%d of 300 round trips failed", bad);
	/* several in flight at once, completed in any order */
	uint8_t req[16] = "Ehello";
	struct iovec iov = { req, sizeof(req) };
	for (int i = 0; i < 6; i++)
		CHECK(vud_submit(d, 2, &iov, 1, 16, 0) >= 0, "submit %d", i);
	vud_kick(d, 2);
	int done = 0;
	while (done < 6) {
		int slot = vud_wait(d, 2, 2000);
		if (slot < 0)
			break;
		uint32_t len;
		const uint8_t *rep = vud_reply(d, 2, (unsigned)slot, &len);
		CHECK(len == 16 && rep[0] == (uint8_t)~'E', "pipelined reply");
		vud_release(d, 2, (unsigned)slot);
		done++;
	}
	CHECK(done == 6, "pipelined: %d of 6", done);

	struct vhost_user_config cfg = { .offset = 0, .size = sizeof(struct virtio_fs_config) };
	struct vhost_user_msg rep;
	int r = vud_msg(d, VHOST_USER_GET_CONFIG, &cfg, VHOST_USER_CONFIG_HDR_SIZE + cfg.size, NULL, 0, &rep, true,
			false);
	CHECK(r == 0 && memcmp(rep.payload.config.region, "testtag", 8) == 0, "config tag");
	struct virtio_fs_config fc;
	memcpy(&fc, rep.payload.config.region, sizeof(fc));
	CHECK(fc.num_request_queues == 2, "config num_request_queues %u", fc.num_request_queues);
	vud_free(d);
	CHECK(server_stop(&s) == 0, "clean disconnect");
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_pool(void)
{
	struct server s;
	server_start(&s, 1, 4);
	struct vud *d = driver(&s, default_opts);
	uint8_t req[8] = "Sleep";
	struct iovec iov = { req, sizeof(req) };
	atomic_store(&max_parallel, 0);
	double t0 = now_ms();
	for (int i = 0; i < 8; i++)
		CHECK(vud_submit(d, 1, &iov, 1, 8, 0) >= 0, "submit");
	vud_kick(d, 1);
	int done = 0;
	while (done < 8) {
		int slot = vud_wait(d, 1, 3000);
		if (slot < 0)
			break;
		vud_release(d, 1, (unsigned)slot);
		done++;
	}
	double dt = now_ms() - t0;
	CHECK(done == 8, "pool: %d of 8 done", done);
	CHECK(atomic_load(&max_parallel) >= 2, "pool ran %d requests at once", atomic_load(&max_parallel));
	CHECK(dt < 700, "8 x 100 ms with 4 threads took %.0f ms", dt);
	vud_free(d);
	CHECK(server_stop(&s) == 0, "clean disconnect");
}

static void test_session_and_ring_restart(void)
{
	struct server s;
	server_start(&s, 1, 0);
	struct vud *d = driver(&s, default_opts);
	int made = atomic_load(&sessions_made);
	CHECK(echo(d, 1, 32, 0) == 0, "first");
	CHECK(atomic_load(&sessions_made) == made + 1, "session made at the first request");
	uint8_t req[8] = "Done";
	struct iovec iov = { req, sizeof(req) };
	CHECK(vud_call(d, 1, &iov, 1, NULL, 8, 0, 2000) == 8, "done request");
	CHECK(echo(d, 1, 32, 0) == 0, "after done");
	CHECK(atomic_load(&sessions_made) == made + 2, "a done session is replaced");
	uint8_t init[8] = "Init";
	iov = (struct iovec){ init, sizeof(init) };
	CHECK(vud_call(d, 1, &iov, 1, NULL, 8, 0, 2000) == 8, "restart request");
	CHECK(atomic_load(&sessions_made) == made + 3, "a restarting request gets a new session");
	CHECK(vud_call(d, 1, &iov, 1, NULL, 8, 0, 2000) == 8, "restart request");
	CHECK(atomic_load(&sessions_made) == made + 4, "and again");

	/* stop the ring, read where it stood, restart it from there */
	struct vhost_vring_state st = { .index = 1 };
	struct vhost_user_msg rep;
	CHECK(vud_msg(d, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &rep, true, false) == 0 &&
		      rep.payload.state.num == 5,
	      "vring base %u", rep.payload.state.num);
	/* (5 requests so far on this ring) */
	st.num = rep.payload.state.num;
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0, NULL, false, true) == 0, "set base");
	uint64_t idx = 1;
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_CALL, &idx, 8, &d->q[1].call, 1, NULL, false, true) == 0, "call");
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_KICK, &idx, 8, &d->q[1].kick, 1, NULL, false, true) == 0, "kick");
	st.num = 1;
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, NULL, false, true) == 0, "enable");
	CHECK(echo(d, 1, 32, 0) == 0, "after restart");

	/* memory changes at run time: add a third region, use it through the rings' table, remove it */
	int fd = memfd_create("extra", MFD_CLOEXEC);
	REQUIRE(fd >= 0 && ftruncate(fd, 4096) == 0, "memfd");
	struct vhost_user_mem_reg mr = { .region = { .guest_phys_addr = 0x10000000, .memory_size = 4096,
						     .userspace_addr = 0x10000000, .mmap_offset = 0 } };
	/* ADD_MEM_REG without CONFIGURE_MEM_SLOTS negotiated is refused */
	CHECK(vud_msg(d, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fd, 1, NULL, false, true) == -EIO, "add w/o slots");
	close(fd);
	CHECK(echo(d, 1, 32, 0) == 0, "still works");
	vud_free(d);
	CHECK(server_stop(&s) == 0, "clean disconnect");
	CHECK(atomic_load(&sessions_freed) == atomic_load(&sessions_made), "every session freed");
}

static void test_mem_slots_runtime(void)
{
	struct server s;
	server_start(&s, 1, 0);
	struct vud_opts o = default_opts;
	o.mem_slots = true;
	struct vud *d = driver(&s, o);
	CHECK(echo(d, 1, 6000, 0) == 0, "with ADD_MEM_REG");
	/* a region added while the queues run */
	int fd = memfd_create("extra", MFD_CLOEXEC);
	REQUIRE(fd >= 0 && ftruncate(fd, 4096) == 0, "memfd");
	uint8_t *extra = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(extra != MAP_FAILED, "mmap");
	struct vhost_user_mem_reg mr = { .region = { .guest_phys_addr = 0x10000000, .memory_size = 4096,
						     .userspace_addr = (uintptr_t)extra, .mmap_offset = 0 } };
	CHECK(vud_msg(d, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fd, 1, NULL, false, true) == 0, "add");
	/* overlapping the first one is refused */
	CHECK(vud_msg(d, VHOST_USER_ADD_MEM_REG, &mr, sizeof(mr), &fd, 1, NULL, false, true) == -EIO, "overlap");
	/* a chain whose reply room is in the new region */
	memcpy(extra, "Eabc", 4);
	uint16_t base = 7 * VUD_DESC_PER_SLOT; /* a slot the driver does not use now */
	vud_raw_desc(d, 1, base, 0x10000000, 4, VIRTQ_DESC_F_NEXT, (uint16_t)(base + 1));
	vud_raw_desc(d, 1, (uint16_t)(base + 1), 0x10000000 + 100, 4, VIRTQ_DESC_F_WRITE, 0);
	d->q[1].busy[7] = true;
	vud_raw_publish(d, 1, base);
	vud_kick(d, 1);
	int slot = vud_wait(d, 1, 2000);
	CHECK(slot == 7 && extra[100] == (uint8_t)~'E' && extra[103] == (uint8_t)~'c', "reply in added region");
	if (slot >= 0)
		vud_release(d, 1, (unsigned)slot);
	CHECK(vud_msg(d, VHOST_USER_REM_MEM_REG, &mr, sizeof(mr), NULL, 0, NULL, false, true) == 0, "remove");
	CHECK(vud_msg(d, VHOST_USER_REM_MEM_REG, &mr, sizeof(mr), NULL, 0, NULL, false, true) == -EIO,
	      "remove twice");
	CHECK(echo(d, 1, 6000, 0) == 0, "after remove");
	munmap(extra, 4096);
	close(fd);
	vud_free(d);
	CHECK(server_stop(&s) == 0, "clean disconnect");
}

/* A request that waits for another one (a lock wait and its unlock) on a queue with one thread: the wait gets a
 * thread of its own, the unlock gets through; and a stop of the ring ends a wait that nothing else would. */
static void test_blocking(void)
{
	struct server s;
	server_start(&s, 1, 0);
	struct vud *d = driver(&s, default_opts);
	uint8_t b[8] = "Block", u[8] = "Unlock";
	struct iovec bi = { b, sizeof(b) }, ui = { u, sizeof(u) };
	int slot = vud_submit(d, 1, &bi, 1, 8, 0);
	vud_kick(d, 1);
	usleep(50 * 1000);
	uint8_t rep[8];
	CHECK(vud_call(d, 1, &ui, 1, rep, 8, 0, 3000) == 8, "the unlock got through while the wait waits");
	while (slot >= 0 && !d->q[1].done[slot])
		if (vud_wait(d, 1, 3000) < 0)
			break;
	uint32_t len = 0;
	const uint8_t *r = slot >= 0 ? vud_reply(d, 1, (unsigned)slot, &len) : NULL;
	CHECK(r && len == 8 && r[0] == (uint8_t)~'b', "the wait ended by the unlock");
	if (slot >= 0)
		vud_release(d, 1, (unsigned)slot);

	/* a wait nobody ends: stopping the ring wakes it (EINTR) and reports it completed */
	slot = vud_submit(d, 1, &bi, 1, 8, 0);
	vud_kick(d, 1);
	usleep(100 * 1000);
	struct vhost_vring_state st = { .index = 1 };
	struct vhost_user_msg m;
	double t0 = now_ms();
	CHECK(vud_msg(d, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &m, true, false) == 0 &&
		      m.payload.state.num == d->q[1].avail_idx,
	      "stop with a wait in flight");
	CHECK(now_ms() - t0 < 2000, "the stop took %.0f ms", now_ms() - t0);
	r = vud_reply(d, 1, (unsigned)slot, &len);
	CHECK(vud_wait(d, 1, 0) == slot && len == 8 && r[0] == (uint8_t)~'i', "the wait was interrupted");
	vud_free(d);
	CHECK(server_stop(&s) == 0, "clean disconnect");
}

/* Refused messages: with REPLY_ACK the front end hears of it and the connection goes on. */
static void test_refused_messages(void)
{
	struct server s;
	server_start(&s, 1, 0);
	struct vud *d = driver(&s, default_opts);
	struct vhost_vring_state st = { .index = 9, .num = 64 };
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, false, true) == -EIO, "index");
	st.index = 1;
	st.num = 3;
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, false, true) == -EIO, "not pow2");
	st.num = 64; /* the ring runs */
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, false, true) == -EIO, "running");
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_NUM, &st, 4, NULL, 0, NULL, false, true) == -EIO, "short payload");
	uint64_t f = 1ull << 63;
	CHECK(vud_msg(d, VHOST_USER_SET_FEATURES, &f, 8, NULL, 0, NULL, false, true) == -EIO, "unknown feature");
	struct vhost_user_memory mt = { .nregions = 2 };
	int fd = d->memfd;
	CHECK(vud_msg(d, VHOST_USER_SET_MEM_TABLE, &mt, 8 + 64, &fd, 1, NULL, false, true) == -EIO,
	      "fd count mismatch");
	mt.nregions = 9;
	CHECK(vud_msg(d, VHOST_USER_SET_MEM_TABLE, &mt, 8, NULL, 0, NULL, false, true) == -EIO, "9 regions");
	uint64_t v = 1 | (1ull << 20);
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_CALL, &v, 8, &fd, 1, NULL, false, true) == -EIO, "stray bits");
	v = 1 | VHOST_USER_VRING_NOFD_MASK;
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_CALL, &v, 8, &fd, 1, NULL, false, true) == -EIO, "nofd with fd");
	struct vhost_vring_addr a = { .index = 1, .desc_user_addr = 0x1234 };
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, false, true) == -EIO, "addr running");
	int fds[3] = { fd, fd, fd };
	CHECK(vud_msg(d, VHOST_USER_SET_OWNER, NULL, 0, fds, 3, NULL, false, true) == -EIO, "fds on SET_OWNER");
	CHECK(vud_msg(d, VHOST_USER_SET_CONFIG, &v, 8, NULL, 0, NULL, false, true) == -EIO, "SET_CONFIG");
	CHECK(vud_msg(d, 200, NULL, 0, NULL, 0, NULL, false, true) == -EIO, "unknown request");
	CHECK(echo(d, 1, 100, 0) == 0, "still serving after refusals");
	/* without an ack requested, a refused request ends the connection: the front end must not go on
	 * believing it worked */
	CHECK(vud_msg(d, 200, NULL, 0, NULL, 0, NULL, false, false) == 0, "send");
	pthread_join(s.th, NULL);
	CHECK(s.ret == -EOPNOTSUPP, "serve returned %d", s.ret);
	vu_dev_free(s.dev);
	close(s.sv[0]);
	close(s.sv[1]);
	vud_free(d);
}

/* Broken framing: a payload larger than any request, a wrong version: the connection ends with an error. */
static void test_bad_framing(void)
{
	struct {
		struct vhost_user_hdr h;
		uint8_t pad[8];
	} __attribute__((packed)) m = { .h = { .request = VHOST_USER_GET_FEATURES, .flags = 1, .size = 4096 } };
	struct server s;
	server_start(&s, 1, 0);
	CHECK(write(s.sv[0], &m, sizeof(m)) == (ssize_t)sizeof(m), "write");
	pthread_join(s.th, NULL);
	CHECK(s.ret == -EMSGSIZE, "oversized: %d", s.ret);
	vu_dev_free(s.dev);
	close(s.sv[0]);
	close(s.sv[1]);

	server_start(&s, 1, 0);
	m.h.flags = 2;
	m.h.size = 0;
	CHECK(write(s.sv[0], &m, sizeof(m.h)) == (ssize_t)sizeof(m.h), "write");
	pthread_join(s.th, NULL);
	CHECK(s.ret == -EPROTO, "bad version: %d", s.ret);
	vu_dev_free(s.dev);
	close(s.sv[0]);
	close(s.sv[1]);

	/* a hang-up in the middle of a message */
	server_start(&s, 1, 0);
	m.h.flags = 1;
	m.h.size = 8;
	m.h.request = VHOST_USER_SET_FEATURES;
	CHECK(write(s.sv[0], &m, sizeof(m.h) + 2) == (ssize_t)sizeof(m.h) + 2, "write");
	CHECK(server_stop(&s) == -EPIPE, "truncated");
}

/* A broken chain stops its queue (and signals the error eventfd); the other queues and the server go on. */
enum bad_kind { BAD_LOOP, BAD_NEXT, BAD_ADDR, BAD_ORDER, BAD_INDIRECT_NEXT, BAD_NESTED, BAD_INDIRECT_LEN,
		BAD_HEAD, BAD_AVAIL_JUMP, BAD_WRAP, BAD_INDIRECT_LOOP, BAD_NOT_NEGOTIATED, BAD_COUNT };
static const char *bad_names[] = { "loop", "next out of range", "address outside memory", "readable after writable",
				   "indirect with next", "nested indirect", "indirect length", "head out of range",
				   "avail idx jump", "address wraps", "indirect loop", "indirect not negotiated" };

static void test_bad_chain(enum bad_kind kind)
{
	struct server s;
	server_start(&s, 2, 0);
	struct vud_opts o = default_opts;
	o.nqueues = 3;
	o.indirect = kind != BAD_NOT_NEGOTIATED;
	struct vud *d = driver(&s, o);
	int err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t idx = 1;
	CHECK(vud_msg(d, VHOST_USER_SET_VRING_ERR, &idx, 8, &err, 1, NULL, false, true) == 0, "set err");
	CHECK(echo(d, 1, 64, 0) == 0, "before");

	struct vud_queue *q = &d->q[1];
	uint8_t *buf = vud_slot(d, 1, 3);
	uint64_t g = vud_gpa(d, buf);
	uint16_t b = 3 * VUD_DESC_PER_SLOT;
	struct virtq_desc *tbl = (struct virtq_desc *)(buf + 2048);
	uint16_t head = b;
	switch (kind) {
	case BAD_LOOP:
		vud_raw_desc(d, 1, b, g, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(b + 1));
		vud_raw_desc(d, 1, (uint16_t)(b + 1), g, 16, VIRTQ_DESC_F_NEXT, b);
		break;
	case BAD_NEXT:
		vud_raw_desc(d, 1, b, g, 16, VIRTQ_DESC_F_NEXT, 60000);
		break;
	case BAD_ADDR:
		vud_raw_desc(d, 1, b, VUD_GPA_BASE + d->mem_size - 8, 16, 0, 0);
		break;
	case BAD_ORDER:
		vud_raw_desc(d, 1, b, g, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, (uint16_t)(b + 1));
		vud_raw_desc(d, 1, (uint16_t)(b + 1), g + 16, 16, 0, 0);
		break;
	case BAD_INDIRECT_NEXT:
		tbl[0] = (struct virtq_desc){ .addr = g, .len = 16 };
		vud_raw_desc(d, 1, b, vud_gpa(d, tbl), 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, (uint16_t)(b + 1));
		vud_raw_desc(d, 1, (uint16_t)(b + 1), g, 16, 0, 0);
		break;
	case BAD_NESTED:
		tbl[0] = (struct virtq_desc){ .addr = vud_gpa(d, tbl), .len = 16, .flags = VIRTQ_DESC_F_INDIRECT };
		vud_raw_desc(d, 1, b, vud_gpa(d, tbl), 16, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case BAD_INDIRECT_LEN:
		vud_raw_desc(d, 1, b, vud_gpa(d, tbl), 17, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case BAD_HEAD:
		head = 4000;
		break;
	case BAD_AVAIL_JUMP:
		/* the guest claims more new entries than the ring holds */
		q->avail_idx = (uint16_t)(q->avail_idx + q->size + 5);
		__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
		vud_kick(d, 1);
		goto published;
	case BAD_WRAP:
		vud_raw_desc(d, 1, b, UINT64_MAX - 8, 16, 0, 0);
		break;
	case BAD_INDIRECT_LOOP:
		tbl[0] = (struct virtq_desc){ .addr = g, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 1 };
		tbl[1] = (struct virtq_desc){ .addr = g, .len = 16, .flags = VIRTQ_DESC_F_NEXT, .next = 0 };
		vud_raw_desc(d, 1, b, vud_gpa(d, tbl), 32, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	case BAD_NOT_NEGOTIATED:
		tbl[0] = (struct virtq_desc){ .addr = g, .len = 16 };
		vud_raw_desc(d, 1, b, vud_gpa(d, tbl), 16, VIRTQ_DESC_F_INDIRECT, 0);
		break;
	default:
		break;
	}
	vud_raw_publish(d, 1, head);
	vud_kick(d, 1);
published:;
	/* no completion on the broken queue */
	CHECK(vud_wait(d, 1, 300) == -ETIMEDOUT, "%s: the queue answered", bad_names[kind]);
	struct pollfd p = { .fd = err, .events = POLLIN };
	CHECK(poll(&p, 1, 1000) == 1, "%s: error eventfd not signalled", bad_names[kind]);
	/* the other request queue and the connection still work */
	CHECK(echo(d, 2, 64, 0) == 0, "%s: other queue", bad_names[kind]);
	uint64_t v;
	CHECK(vud_msg_u64(d, VHOST_USER_GET_QUEUE_NUM, &v) == 0 && v == 3, "%s: connection", bad_names[kind]);
	/* the front end resets the ring (as QEMU does on a device reset) and it serves again */
	struct vhost_vring_state st = { .index = 1 };
	struct vhost_user_msg rep;
	CHECK(vud_msg(d, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &rep, true, false) == 0, "get base");
	close(err);
	vud_free(d);
	CHECK(server_stop(&s) == 0, "%s: clean disconnect", bad_names[kind]);
}

int main(void)
{
	/* the queue-stop errors the bad-chain tests provoke are expected: show them only when asked */
	log_set_level(getenv("VU_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	unsigned fds0 = count_fds();
	test_mem();
	test_echo(true, false, 0);
	test_echo(false, false, 0);
	test_echo(true, true, 2);
	test_pool();
	/* as proto does for its lock waits: an empty handler without SA_RESTART, so the signal ends a wait */
	struct sigaction sa = { .sa_handler = empty_handler };
	sigaction(SIGURG, &sa, NULL);
	REQUIRE(pipe2(block_pipe, O_CLOEXEC | O_NONBLOCK) == 0, "pipe");
	test_blocking();
	test_session_and_ring_restart();
	test_mem_slots_runtime();
	test_refused_messages();
	test_bad_framing();
	for (int k = 0; k < BAD_COUNT; k++)
		test_bad_chain((enum bad_kind)k);
	close(block_pipe[0]);
	close(block_pipe[1]);
	unsigned fds1 = count_fds();
	CHECK(fds0 == fds1, "fd leak: %u open before, %u after", fds0, fds1);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("test-virtio: all passed\n");
	return 0;
}
