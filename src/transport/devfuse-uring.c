/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring: the queue threads of the /dev/fuse transport (see devfuse-uring.h).
 *
 * Each queue thread owns one ring and the entries it registered. An entry is in the kernel (waiting for a
 * request: REGISTER or COMMIT_AND_FETCH submitted), with the thread (a request arrived as the completion of
 * that command: the thread serves it and commits the reply, which fetches the next), parked (a SETLKW handed
 * to a lock job: the thread registers a spare entry so it keeps serving, and the job hands the entry back
 * through the thread's done list and eventfd; the thread commits it, after which both entries serve), or spare
 * (allocated, not in the kernel). Entries are never unregistered (the protocol has no such command): a thread
 * has one entry plus one per lock wait it ever parked at once.
 *
 * The ring is the thread's alone: only it submits (a command's completion work runs on the task that
 * submitted it, and the kernel copies requests into the entry's buffers from there), so a lock job never
 * touches the ring, only the done list.
 *
 * Stopping: unmounting aborts the connection and the kernel completes every waiting command with ENOTCONN
 * (or ECONNABORTED); a thread stops on the first such completion. devfuse_uring_stop() also wakes each thread
 * through its eventfd (d->stop is set then). A thread that exits with commands in the kernel has them
 * cancelled by io_uring; entry memory lives until devfuse_uring_free().
 */
#include "transport/devfuse-uring.h"
#include "transport/devfuse-int.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "proto/fuse-compat.h"
#include "util/log.h"
#include "util/macros.h"

/* an entry per queue served + one per parked lock wait (at most DEVFUSE_LOCK_THREADS) + the eventfd */
#define URING_SQ_ENTRIES 512
#define URING_EV_TAG 1u      /* user_data of the eventfd READ (entries are pointers: never 1) */
#define URING_REGISTER_TRIES 200

struct uring_thr;

struct devfuse_uring_ent {
	struct proto_uring_req_header hdr; /* the kernel writes the request here and reads the reply header */
	struct uring_thr *t;
	uint8_t *payload;
	struct iovec reg[2];
	struct devfuse_uring_ent *next;      /* every entry of the thread, for devfuse_uring_free */
	struct devfuse_uring_ent *link;      /* the done list, or the spare list */
	atomic_uint *rel;                    /* the RELEASE stripe counted for the request at hand */
	uint64_t commit_id;                  /* of a parked request */
	ssize_t done_len;                    /* a lock job's proto_handle() result */
	unsigned tries;                      /* REGISTER attempts that got EAGAIN */
	uint16_t qid;                        /* the queue the entry serves */
};

struct uring_thr {
	struct devfuse *d;
	unsigned qid;    /* its CPU's queue, and the CPU it runs on */
	unsigned *extra; /* queues of CPUs we may not run on (offline, outside our cpuset), served from here */
	unsigned n_extra;
	struct io_uring ring;
	bool ring_ok;
	int evfd;
	uint64_t evval;
	bool ev_armed;
	pthread_t thread;
	bool started;
	atomic_bool exited;
	/* release-before-lock ordering, as a reader's in_read and gen (devfuse.c) */
	atomic_bool in_wait;
	atomic_ulong gen;
	pthread_mutex_t mu;
	struct devfuse_uring_ent *done; /* under mu: parked entries whose lock job answered */
	struct devfuse_uring_ent *ents;
	struct devfuse_uring_ent *spare;
	unsigned live;   /* entries with a command in the kernel */
	unsigned parked; /* entries with a lock job */
};

struct devfuse_uring {
	unsigned nq, ncpu, per_q, n; /* queues; CPUs we run on; threads on each; threads */
	struct uring_thr *thr;
	atomic_bool started;
	size_t payload_len;
};

/* ---- set-up, before the sandbox ---- */

#define ENABLE_URING_PARAM "/sys/module/fuse/parameters/enable_uring"

int devfuse_uring_enable(void)
{
	char c = 0;
	int fd = open(ENABLE_URING_PARAM, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, &c, 1);
	close(fd);
	if (n == 1 && (c == 'Y' || c == '1'))
		return 0;
	fd = open(ENABLE_URING_PARAM, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, "Y", 1);
	int err = errno;
	close(fd);
	if (n != 1)
		return -err;
	log_info("devfuse: turned on %s (lets FUSE servers that ask for it use io_uring)", ENABLE_URING_PARAM);
	return 0;
}

/* The kernel's num_possible_cpus(): one queue each. */
static unsigned devfuse_uring_queues(void)
{
	char buf[256];
	unsigned count = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			char *p = buf;
			while (*p && *p != '\n') {
				char *end;
				unsigned long a = strtoul(p, &end, 10), b = a;
				if (end == p)
					break;
				if (*end == '-') {
					p = end + 1;
					b = strtoul(p, &end, 10);
				}
				if (b >= a)
					count += (unsigned)(b - a + 1);
				p = *end == ',' ? end + 1 : end;
			}
		}
		fclose(f);
	}
	if (count == 0) {
		int k = get_nprocs_conf();
		count = k > 0 ? (unsigned)k : 1;
	}
	return count;
}

static int ring_new(struct uring_thr *t)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 | IORING_SETUP_R_DISABLED };
	int r = io_uring_queue_init_params(URING_SQ_ENTRIES, &t->ring, &p);
	if (r < 0)
		return r;
	t->ring_ok = true;
	/* the only operations this ring will ever carry */
	struct io_uring_restriction res[2] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_URING_CMD },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READ },
	};
	/* (Debian's liburing 2.3 declares io_uring_register_restrictions and io_uring_enable_rings but does not
	 * export them: the raw register call) */
	if ((r = io_uring_register(t->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, 2)) < 0)
		return r;
	if ((r = io_uring_register(t->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0)) < 0)
		return r;
	t->evfd = eventfd(0, EFD_CLOEXEC);
	return t->evfd < 0 ? -errno : 0;
}

int devfuse_uring_prepare(struct devfuse *d, unsigned threads)
{
	struct devfuse_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->nq = devfuse_uring_queues();
	/* Threads only on the CPUs we may run on; the queues of the others (possible but offline, or outside our
	 * cpuset: a VM with hotplug slots may have many) are served by those threads too, one entry each. */
	cpu_set_t allowed;
	unsigned *home = calloc(u->nq, sizeof(*home));
	if (!home) {
		free(u);
		return -ENOMEM;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		for (unsigned q = 0; q < u->nq && q < CPU_SETSIZE; q++)
			if (CPU_ISSET(q, &allowed))
				home[u->ncpu++] = q;
	if (u->ncpu == 0)
		home[u->ncpu++] = 0;
	u->per_q = MAX(1u, (threads + u->ncpu - 1) / u->ncpu);
	u->n = u->ncpu * u->per_q;
	u->thr = calloc(u->n, sizeof(*u->thr));
	if (!u->thr) {
		free(home);
		free(u);
		return -ENOMEM;
	}
	atomic_init(&u->started, false);
	int r = 0;
	for (unsigned i = 0; i < u->n; i++) {
		struct uring_thr *t = &u->thr[i];
		t->d = d;
		t->qid = home[i / u->per_q];
		t->evfd = -1;
		atomic_init(&t->exited, false);
		atomic_init(&t->in_wait, false);
		atomic_init(&t->gen, 0);
		pthread_mutex_init(&t->mu, NULL);
		if (r == 0)
			r = ring_new(t);
	}
	/* the other queues, round-robin over the first thread of each CPU */
	unsigned k = 0;
	for (unsigned q = 0; q < u->nq && r == 0; q++) {
		bool is_home = false;
		for (unsigned c = 0; c < u->ncpu; c++)
			is_home = is_home || home[c] == q;
		if (is_home)
			continue;
		struct uring_thr *t = &u->thr[(k++ % u->ncpu) * u->per_q];
		unsigned *x = realloc(t->extra, (t->n_extra + 1) * sizeof(*x));
		if (!x) {
			r = -ENOMEM;
			break;
		}
		t->extra = x;
		t->extra[t->n_extra++] = q;
	}
	free(home);
	if (r < 0) {
		devfuse_uring_free(u);
		return r;
	}
	d->uring = u;
	return 0;
}

void devfuse_uring_free(struct devfuse_uring *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < u->n; i++) {
		struct uring_thr *t = &u->thr[i];
		if (t->ring_ok)
			io_uring_queue_exit(&t->ring);
		safe_close(t->evfd);
		for (struct devfuse_uring_ent *e = t->ents, *next; e; e = next) {
			next = e->next;
			free(e->payload);
			free(e);
		}
		pthread_mutex_destroy(&t->mu);
		free(t->extra);
	}
	free(u->thr);
	free(u);
}

/* ---- the queue threads ---- */

static struct devfuse_uring_ent *ent_get(struct uring_thr *t)
{
	struct devfuse_uring_ent *e = t->spare;
	if (e) {
		t->spare = e->link;
		e->link = NULL;
		return e;
	}
	size_t len = t->d->uring->payload_len;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if (posix_memalign((void **)&e->payload, 4096, len) != 0) {
		free(e);
		return NULL;
	}
	e->t = t;
	e->reg[0] = (struct iovec){ &e->hdr, sizeof(e->hdr) };
	e->reg[1] = (struct iovec){ e->payload, len };
	e->next = t->ents;
	t->ents = e;
	return e;
}

static struct io_uring_sqe *sqe_get(struct uring_thr *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	if (!sqe) { /* full: hand what is queued to the kernel, which frees the slots at once */
		io_uring_submit(&t->ring);
		sqe = io_uring_get_sqe(&t->ring);
	}
	return sqe;
}

static int submit_cmd(struct uring_thr *t, struct devfuse_uring_ent *e, uint32_t op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = sqe_get(t);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 128); /* SQE128: the command area is the second half */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = t->d->fd;
	sqe->cmd_op = op;
	if (op == PROTO_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->reg;
		sqe->len = 2;
	}
	struct proto_uring_cmd_req *c = (struct proto_uring_cmd_req *)sqe->cmd;
	c->qid = e->qid;
	c->commit_id = commit_id;
	io_uring_sqe_set_data(sqe, e);
	t->live++;
	return 0;
}

static void ev_arm(struct uring_thr *t)
{
	if (t->ev_armed)
		return;
	struct io_uring_sqe *sqe = sqe_get(t);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, t->evfd, &t->evval, sizeof(t->evval), 0);
	io_uring_sqe_set_data64(sqe, URING_EV_TAG);
	t->ev_armed = true;
}

/* Hand the reply in e's buffers (proto_handle() result len) back, which also asks for the next request. */
static int commit(struct uring_thr *t, struct devfuse_uring_ent *e, uint64_t commit_id, ssize_t len)
{
	if (len < (ssize_t)sizeof(struct fuse_out_header)) {
		/* no reply made (a request proto drops, or no room): the kernel still waits for one */
		if (len < 0)
			log_debug("devfuse: io_uring: proto_handle: %s", strerror((int)-len));
		struct fuse_out_header oh = { .len = sizeof(oh), .error = -EIO, .unique = commit_id };
		memcpy(e->hdr.in_out, &oh, sizeof(oh));
		len = sizeof(oh);
	}
	e->hdr.ring_ent_in_out.payload_sz = (uint32_t)((size_t)len - sizeof(struct fuse_out_header));
	return submit_cmd(t, e, PROTO_URING_CMD_COMMIT_AND_FETCH, commit_id);
}

void devfuse_uring_reply_room(struct devfuse_uring_ent *e, struct iovec out[2])
{
	out[0] = (struct iovec){ e->hdr.in_out, sizeof(struct fuse_out_header) };
	out[1] = (struct iovec){ e->payload, e->t->d->uring->payload_len };
}

static void poke(struct uring_thr *t)
{
	uint64_t one = 1;
	if (write(t->evfd, &one, sizeof(one)) < 0) {
		/* cannot overflow; the thread looks at its done list at every wake-up anyway */
	}
}

void devfuse_uring_lock_done(struct devfuse_uring_ent *e, ssize_t len)
{
	struct uring_thr *t = e->t;
	e->done_len = len;
	pthread_mutex_lock(&t->mu);
	e->link = t->done;
	t->done = e;
	pthread_mutex_unlock(&t->mu);
	poke(t);
}

static void drain_done(struct uring_thr *t)
{
	pthread_mutex_lock(&t->mu);
	struct devfuse_uring_ent *e = t->done;
	t->done = NULL;
	pthread_mutex_unlock(&t->mu);
	for (struct devfuse_uring_ent *next; e; e = next) {
		next = e->link;
		e->link = NULL;
		t->parked--;
		if (commit(t, e, e->commit_id, e->done_len) < 0)
			log_warn("devfuse: io_uring: queue %u: the submission queue is full; a lock reply is lost", e->qid);
	}
}

/* Park e's SETLKW with a lock job and put a spare entry in the kernel instead. True if parked. */
static bool park_lock(struct uring_thr *t, struct devfuse_uring_ent *e, const struct iovec in[3], uint64_t commit_id)
{
	uint8_t req[sizeof(struct fuse_in_header) + PROTO_URING_OP_IN_OUT_SZ + 64];
	size_t len = in[0].iov_len + in[1].iov_len + in[2].iov_len;
	if (len > sizeof(req))
		return false;
	memcpy(req, in[0].iov_base, in[0].iov_len);
	memcpy(req + in[0].iov_len, in[1].iov_base, in[1].iov_len);
	memcpy(req + in[0].iov_len + in[1].iov_len, in[2].iov_base, in[2].iov_len);
	struct devfuse_uring_ent *spare = ent_get(t);
	if (!spare)
		return false;
	e->commit_id = commit_id;
	if (!devfuse_offload_lock(t->d, -1, e, req, len)) {
		spare->link = t->spare;
		t->spare = spare;
		return false;
	}
	t->parked++;
	spare->tries = 0;
	spare->qid = e->qid;
	if (submit_cmd(t, spare, PROTO_URING_CMD_REGISTER, 0) < 0)
		log_warn("devfuse: io_uring: queue %u: cannot register a spare entry", e->qid);
	return true;
}

static void serve(struct uring_thr *t, struct devfuse_uring_ent *e)
{
	struct devfuse *d = t->d;
	struct fuse_in_header h;
	memcpy(&h, e->hdr.in_out, sizeof(h));
	struct proto_uring_ent_in_out io = e->hdr.ring_ent_in_out;
	atomic_uint *rel = e->rel;
	e->rel = NULL;
	size_t hl = sizeof(h);
	if (io.payload_sz > d->uring->payload_len || h.len < hl + io.payload_sz ||
	    h.len - hl - io.payload_sz > PROTO_URING_OP_IN_OUT_SZ) {
		log_debug("devfuse: io_uring: a request of opcode %u with inconsistent sizes", h.opcode);
		commit(t, e, io.commit_id, -EINVAL);
		goto out;
	}
	struct iovec in[3] = {
		{ e->hdr.in_out, hl },
		{ e->hdr.op_in, h.len - hl - io.payload_sz },
		{ e->payload, io.payload_sz },
	};
	if (devfuse_is_lock(h.opcode))
		devfuse_lock_barrier(d, t, h.nodeid);
	if (h.opcode == FUSE_SETLKW && park_lock(t, e, in, io.commit_id))
		goto out;
	struct iovec out[2];
	devfuse_uring_reply_room(e, out);
	if (commit(t, e, io.commit_id, proto_handle(d->s, in, 3, out, 2)) < 0)
		log_warn("devfuse: io_uring: queue %u: the submission queue is full; a reply is lost", e->qid);
out:
	if (rel)
		atomic_fetch_sub(rel, 1);
}

static bool connection_gone(int res)
{
	return res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED || res == -ENODEV;
}

/* One completion. False when the thread should stop. */
static bool handle_cqe(struct uring_thr *t, const struct io_uring_cqe *cqe)
{
	if (cqe->user_data == URING_EV_TAG) {
		t->ev_armed = false;
		return true;
	}
	struct devfuse_uring_ent *e = io_uring_cqe_get_data(cqe);
	t->live--;
	if (cqe->res == -EAGAIN && e->tries < URING_REGISTER_TRIES) {
		/* registered before the kernel took INIT's reply in: again, a little later */
		e->tries++;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		return submit_cmd(t, e, PROTO_URING_CMD_REGISTER, 0) == 0 || t->live > 0 || t->parked > 0;
	}
	if (cqe->res < 0) {
		if (connection_gone(cqe->res))
			return false;
		log_warn("devfuse: io_uring: queue %u: %s; its requests go through /dev/fuse if the kernel allows",
			 e->qid, strerror(-cqe->res));
		/* that entry is out of the kernel: a spare now; the thread goes on while it has others */
		e->link = t->spare;
		t->spare = e;
		return t->live > 0 || t->parked > 0;
	}
	serve(t, e);
	return true;
}

static void pin(struct uring_thr *t)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(t->qid, &set);
	int k = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (k != 0)
		log_debug("devfuse: io_uring: queue %u: cannot pin to CPU %u (%s); running unpinned", t->qid, t->qid,
			  strerror(k));
}

static void *thr_main(void *arg)
{
	struct uring_thr *t = arg;
	struct devfuse *d = t->d;
	pin(t);
	for (unsigned i = 0; i <= t->n_extra; i++) {
		struct devfuse_uring_ent *e = ent_get(t);
		if (!e) {
			log_warn("devfuse: io_uring: queue %u: out of memory", i ? t->extra[i - 1] : t->qid);
			goto out;
		}
		e->qid = (uint16_t)(i ? t->extra[i - 1] : t->qid);
		if (submit_cmd(t, e, PROTO_URING_CMD_REGISTER, 0) < 0)
			goto out;
	}
	bool go = true;
	while (go && !atomic_load(&d->stop)) {
		ev_arm(t);
		atomic_store(&t->in_wait, true);
		int k = io_uring_submit_and_wait(&t->ring, 1);
		/* announce the RELEASEs among what arrived before gen moves (see devfuse_lock_barrier) */
		unsigned head, n = 0;
		struct io_uring_cqe *cqe;
		io_uring_for_each_cqe(&t->ring, head, cqe)
		{
			if (cqe->user_data == URING_EV_TAG || cqe->res < 0)
				continue;
			struct devfuse_uring_ent *r = io_uring_cqe_get_data(cqe);
			const struct fuse_in_header *h = (const struct fuse_in_header *)r->hdr.in_out;
			if (devfuse_is_release(h->opcode)) {
				r->rel = &d->rel_pending[devfuse_rel_stripe(h->nodeid)];
				atomic_fetch_add(r->rel, 1);
			}
		}
		atomic_fetch_add(&t->gen, 1);
		atomic_store(&t->in_wait, false);
		/* every completion is handled, even after one says stop: each announced RELEASE is served (and
		 * uncounted), each request answered (a commit on a dead connection fails harmlessly) */
		io_uring_for_each_cqe(&t->ring, head, cqe)
		{
			n++;
			go = handle_cqe(t, cqe) && go;
		}
		io_uring_cq_advance(&t->ring, n);
		drain_done(t);
		if (k < 0 && k != -EINTR && k != -EAGAIN && k != -EBUSY && k != -ETIME) {
			log_warn("devfuse: io_uring: queue %u: io_uring_enter: %s", t->qid, strerror(-k));
			break;
		}
	}
out:
	atomic_store(&t->exited, true);
	return NULL;
}

void devfuse_uring_start(struct devfuse *d)
{
	struct devfuse_uring *u = d->uring;
	bool expect = false;
	if (!u || !atomic_compare_exchange_strong(&u->started, &expect, true))
		return;
	/* a request's arguments or a READ reply of max size, whichever is larger */
	size_t room = MAX(proto_reply_room(d->s), proto_request_room(d->s));
	room = MAX(room, (size_t)PROTO_MAX_MAX_WRITE + 4096);
	u->payload_len = (room + 4095) & ~(size_t)4095;
	unsigned ok = 0;
	for (unsigned i = 0; i < u->n; i++) {
		struct uring_thr *t = &u->thr[i];
		int k = pthread_create(&t->thread, NULL, thr_main, t);
		if (k != 0) {
			log_warn("devfuse: io_uring: queue %u: starting a thread: %s", t->qid, strerror(k));
			continue;
		}
		t->started = true;
		ok++;
	}
	log_info("devfuse: FUSE over io_uring: %u queues; %u threads on each of %u CPUs (%u started)", u->nq, u->per_q,
		 u->ncpu, ok);
}

void devfuse_uring_barrier(struct devfuse *d, const void *self)
{
	struct devfuse_uring *u = d->uring;
	if (!u || !atomic_load(&u->started))
		return;
	for (unsigned i = 0; i < u->n; i++) {
		struct uring_thr *t = &u->thr[i];
		if ((const void *)t == self || !t->started || atomic_load(&t->exited) || !atomic_load(&t->in_wait))
			continue;
		unsigned long g = atomic_load(&t->gen);
		poke(t);
		for (unsigned round = 0; atomic_load(&t->in_wait) && atomic_load(&t->gen) == g &&
					 !atomic_load(&t->exited) && !atomic_load(&d->stop);
		     round++)
			devfuse_short_wait(round);
	}
}

void devfuse_uring_stop(struct devfuse *d)
{
	struct devfuse_uring *u = d->uring;
	if (!u || !atomic_load(&u->started))
		return;
	for (int round = 0; round < 2000; round++) { /* 2 s, as for the readers */
		bool all = true;
		for (unsigned i = 0; i < u->n; i++) {
			struct uring_thr *t = &u->thr[i];
			if (t->started && !atomic_load(&t->exited)) {
				all = false;
				poke(t);
				pthread_kill(t->thread, PROTO_INTR_SIGNAL);
			}
		}
		if (all)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	for (unsigned i = 0; i < u->n; i++)
		if (u->thr[i].started) {
			pthread_join(u->thr[i].thread, NULL);
			u->thr[i].started = false;
		}
}
