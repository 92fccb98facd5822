/* SPDX-License-Identifier: MIT */
/*
 * The protocol session: creation, the dispatch table, the request entry point (header checks, argument copy,
 * state machine) and DESTROY. Op handlers live in ops-*.c, INIT in init.c.
 *
 * Concurrency: no lock on the request path. The session state is an atomic; an in-flight counter lets DESTROY
 * wait until every other request has left the fs before it calls fs->destroy (a hostile virtio guest may send
 * DESTROY while other requests run; the kernel does not).
 */
#include "proto/backing.h"
#include "proto/session.h"
#include "proto/wire.h"

#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/macros.h"

/* Per-thread copies of the request arguments: no malloc per request, and the client cannot change what we
 * validated (virtio requests live in guest RAM). */
static __thread _Alignas(16) uint8_t arg_buf[PROTO_ARG_COPY_MAX];

static ssize_t op_destroy(struct proto_req *r);
static ssize_t op_enosys(struct proto_req *r);

static const struct {
	proto_op_fn fn;
	const char *name;
} ops[] = {
	[FUSE_LOOKUP] = { op_lookup, "LOOKUP" },
	[FUSE_FORGET] = { op_forget, "FORGET" },
	[FUSE_GETATTR] = { op_getattr, "GETATTR" },
	[FUSE_SETATTR] = { op_setattr, "SETATTR" },
	[FUSE_READLINK] = { op_readlink, "READLINK" },
	[FUSE_SYMLINK] = { op_symlink, "SYMLINK" },
	[FUSE_MKNOD] = { op_mknod, "MKNOD" },
	[FUSE_MKDIR] = { op_mkdir, "MKDIR" },
	[FUSE_UNLINK] = { op_unlink, "UNLINK" },
	[FUSE_RMDIR] = { op_rmdir, "RMDIR" },
	[FUSE_RENAME] = { op_rename, "RENAME" },
	[FUSE_LINK] = { op_link, "LINK" },
	[FUSE_OPEN] = { op_open, "OPEN" },
	[FUSE_READ] = { op_read, "READ" },
	[FUSE_WRITE] = { op_write, "WRITE" },
	[FUSE_STATFS] = { op_statfs, "STATFS" },
	[FUSE_RELEASE] = { op_release, "RELEASE" },
	[FUSE_FSYNC] = { op_fsync, "FSYNC" },
	[FUSE_SETXATTR] = { op_setxattr, "SETXATTR" },
	[FUSE_GETXATTR] = { op_getxattr, "GETXATTR" },
	[FUSE_LISTXATTR] = { op_listxattr, "LISTXATTR" },
	[FUSE_REMOVEXATTR] = { op_removexattr, "REMOVEXATTR" },
	[FUSE_FLUSH] = { op_flush, "FLUSH" },
	[FUSE_INIT] = { proto_do_init, "INIT" },
	[FUSE_OPENDIR] = { op_opendir, "OPENDIR" },
	[FUSE_READDIR] = { op_readdir, "READDIR" },
	[FUSE_RELEASEDIR] = { op_releasedir, "RELEASEDIR" },
	[FUSE_FSYNCDIR] = { op_fsyncdir, "FSYNCDIR" },
	[FUSE_GETLK] = { op_getlk, "GETLK" },
	[FUSE_SETLK] = { op_setlk, "SETLK" },
	[FUSE_SETLKW] = { op_setlkw, "SETLKW" },
	[FUSE_ACCESS] = { op_access, "ACCESS" },
	[FUSE_CREATE] = { op_create, "CREATE" },
	[FUSE_INTERRUPT] = { proto_do_interrupt, "INTERRUPT" },
	[FUSE_BMAP] = { op_enosys, "BMAP" },
	[FUSE_DESTROY] = { op_destroy, "DESTROY" },
	[FUSE_IOCTL] = { op_enosys, "IOCTL" },
	[FUSE_POLL] = { op_enosys, "POLL" },
	[FUSE_BATCH_FORGET] = { op_batch_forget, "BATCH_FORGET" },
	[FUSE_FALLOCATE] = { op_fallocate, "FALLOCATE" },
	[FUSE_READDIRPLUS] = { op_readdirplus, "READDIRPLUS" },
	[FUSE_RENAME2] = { op_rename2, "RENAME2" },
	[FUSE_LSEEK] = { op_lseek, "LSEEK" },
	[FUSE_COPY_FILE_RANGE] = { op_copy_file_range, "COPY_FILE_RANGE" },
	[FUSE_SETUPMAPPING] = { op_enosys, "SETUPMAPPING" },
	[FUSE_REMOVEMAPPING] = { op_enosys, "REMOVEMAPPING" },
	[FUSE_SYNCFS] = { op_syncfs, "SYNCFS" },
	[FUSE_TMPFILE] = { op_tmpfile, "TMPFILE" },
};

/* Requests that never get a reply, whatever happens to them. */
static bool no_reply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT;
}

int proto_session_new(struct fs *fs, const struct proto_opts *opts, const struct proto_transport *t,
		      struct proto_session **ret)
{
	if (!fs || !opts || !ret)
		return -EINVAL;
	struct proto_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fs = fs;
	s->opts = *opts;
	if (s->opts.max_write == 0)
		s->opts.max_write = PROTO_DEFAULT_MAX_WRITE;
	/* the kernel caps a request at 256 pages; a larger max_write could never be used */
	if (s->opts.max_write > PROTO_MAX_MAX_WRITE)
		s->opts.max_write = PROTO_MAX_MAX_WRITE;
	if (s->opts.max_write < 4096)
		s->opts.max_write = 4096;
	if (t)
		s->t = *t;
	atomic_init(&s->state, PS_NEW);
	atomic_init(&s->inflight, 0);
	s->max_write = s->opts.max_write;
	if (s->opts.passthrough && s->t.backing_open && s->t.backing_close && !s->opts.virtio) {
		int r = proto_backing_new(&s->backing);
		if (r < 0) {
			free(s);
			return r;
		}
	}
	proto_block_init(s);
	proto_notifier_init(s);
	*ret = s;
	return 0;
}

void proto_session_free(struct proto_session *s)
{
	if (!s)
		return;
	/* a client that went away without DESTROY (virtio disconnect, /dev/fuse abort): release what it held */
	int st = atomic_load(&s->state);
	if ((st == PS_READY || st == PS_DESTROYING) && s->fs->ops->destroy)
		s->fs->ops->destroy(s->fs);
	proto_backing_free(s, s->backing);
	proto_block_fini(s);
	if (!s->opts.borrow_fs)
		fs_free(s->fs);
	free(s);
}

size_t proto_reply_room(const struct proto_session *s)
{
	/* a READ of max_write bytes (the kernel never asks for more than max_pages pages, and max_pages is
	 * derived from max_write), a full xattr value, a link target, a directory buffer of the same size */
	size_t payload = MAX((size_t)s->opts.max_write, (size_t)PROTO_XATTR_SIZE_MAX + 8);
	return sizeof(struct fuse_out_header) + payload;
}

size_t proto_request_room(const struct proto_session *s)
{
	/* /dev/fuse refuses a read buffer smaller than this (fs/fuse/dev.c: FUSE_MIN_READ_BUFFER and
	 * header + fuse_write_in + max_write) */
	size_t w = sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in) + s->opts.max_write;
	size_t a = sizeof(struct fuse_in_header) + PROTO_ARG_COPY_MAX;
	return MAX(MAX(w, a), (size_t)FUSE_MIN_READ_BUFFER);
}

bool proto_session_done(const struct proto_session *s)
{
	return atomic_load(&((struct proto_session *)s)->state) == PS_DONE;
}

bool proto_session_ready(const struct proto_session *s)
{
	return atomic_load(&((struct proto_session *)s)->state) == PS_READY;
}

bool proto_session_uring(const struct proto_session *s)
{
	return proto_session_ready(s) && s->uring;
}

static size_t iov_total(const struct iovec *v, int cnt, bool *overflow)
{
	size_t t = 0;
	*overflow = false;
	for (int i = 0; i < cnt; i++) {
		if (v[i].iov_len > SIZE_MAX - t) {
			*overflow = true;
			return 0;
		}
		t += v[i].iov_len;
	}
	return t;
}

/* Copy len bytes starting at byte off of the iovecs; the caller checked the total. */
static void iov_copy_from(const struct iovec *v, int cnt, size_t off, void *dst, size_t len)
{
	uint8_t *d = dst;
	for (int i = 0; i < cnt && len; i++) {
		if (off >= v[i].iov_len) {
			off -= v[i].iov_len;
			continue;
		}
		size_t n = MIN(len, v[i].iov_len - off);
		memcpy(d, (const uint8_t *)v[i].iov_base + off, n);
		d += n;
		len -= n;
		off = 0;
	}
}

static void put_header(struct proto_req *r, size_t len, int error)
{
	struct fuse_out_header oh = { .len = (uint32_t)len, .error = error, .unique = r->h.unique };
	/* the header goes at payload offset -16: reply_put works on payload offsets, so write it directly */
	const struct iovec *v = r->out;
	size_t left = sizeof(oh), off = 0;
	const uint8_t *src = (const uint8_t *)&oh;
	for (int i = 0; i < r->out_cnt && left; i++) {
		size_t n = MIN(left, v[i].iov_len);
		memcpy(v[i].iov_base, src + off, n);
		off += n;
		left -= n;
	}
}

/* Map the handler's result to a wire error: only -1..-4095 are errnos; anything else is a bug, sent as EIO. */
static int wire_error(ssize_t r)
{
	if (r < 0 && r > -4096)
		return (int)r;
	return -EIO;
}

ssize_t proto_handle(struct proto_session *s, const struct iovec *in, int in_cnt, const struct iovec *out,
		     int out_cnt)
{
	bool ovf_in, ovf_out;
	if (in_cnt < 0 || out_cnt < 0)
		return -EINVAL;
	size_t in_total = iov_total(in, in_cnt, &ovf_in);
	size_t out_total = iov_total(out, out_cnt, &ovf_out);
	/* FORGET, BATCH_FORGET and INTERRUPT take no reply, so they may come without reply room (virtio-fs's
	 * hiprio queue gives them none); every other request needs room for at least an error header. */
	bool room = !ovf_out && out_total >= sizeof(struct fuse_out_header);
	if (!room)
		out_total = 0;

	struct proto_req r = {
		.s = s,
		.in = in,
		.in_cnt = in_cnt,
		.out = out,
		.out_cnt = out_cnt,
		.out_room = out_total,
	};
	/* Without a whole header there is no unique to answer to: drop it (the transport logs and recycles). */
	if (ovf_in || in_total < sizeof(struct fuse_in_header)) {
		log_debug("proto: dropped a request of %zu bytes (shorter than the header)", in_total);
		return 0;
	}
	iov_copy_from(in, in_cnt, 0, &r.h, sizeof(r.h));
	uint32_t op = r.h.opcode;
	ssize_t res;
	if (!room && !no_reply(op))
		return -ENOBUFS;

	if (r.h.len != in_total) {
		log_debug("proto: request %" PRIu64 " says %u bytes, the buffer holds %zu", (uint64_t)r.h.unique,
			  r.h.len, in_total);
		res = -EINVAL;
		goto reply;
	}
	/* Extensions (security context, supplementary groups) follow the arguments; we negotiate none of them,
	 * so they are skipped, but they must fit. */
	size_t extlen = (size_t)r.h.total_extlen * 8;
	if (extlen > in_total - sizeof(r.h)) {
		res = -EINVAL;
		goto reply;
	}
	r.arg_len = in_total - sizeof(r.h) - extlen;

	int st = atomic_load(&s->state);
	if (op == FUSE_INIT) {
		if (st != PS_NEW) {
			/* a second INIT is a protocol error, as in libfuse */
			res = -EIO;
			goto reply;
		}
	} else if (st != PS_READY) {
		res = -EIO;
		goto reply;
	}
	if (op >= ARRAY_SIZE(ops) || !ops[op].fn) {
		log_debug("proto: unknown opcode %u", op);
		res = -ENOSYS;
		goto reply;
	}

	/* Copy the arguments; a WRITE's payload stays where it is and is read once, by the fs. */
	size_t copy = r.arg_len;
	if (op == FUSE_WRITE) {
		size_t win = s->minor < 9 ? FUSE_COMPAT_WRITE_IN_SIZE : sizeof(struct fuse_write_in);
		copy = MIN(copy, win);
		r.payload_off = sizeof(r.h) + copy;
		r.payload_len = r.arg_len - copy;
	} else if (copy > sizeof(arg_buf)) {
		res = -EINVAL;
		goto reply;
	}
	iov_copy_from(in, in_cnt, sizeof(r.h), arg_buf, copy);
	r.arg = arg_buf;
	r.arg_len = copy;
	r.ctx = (struct fs_ctx){ .uid = r.h.uid, .gid = r.h.gid, .pid = (pid_t)r.h.pid };

	if (op == FUSE_INIT) {
		res = proto_do_init(&r);
		goto reply;
	}
	/* Dekker with DESTROY: count ourselves in, then re-check the state (both seq_cst). */
	atomic_fetch_add(&s->inflight, 1);
	if (atomic_load(&s->state) != PS_READY)
		res = -EIO;
	else
		res = ops[op].fn(&r);
	atomic_fetch_sub(&s->inflight, 1);

reply:
	if (no_reply(op) && op < ARRAY_SIZE(ops)) /* also when malformed or early: the client waits for none */
		return 0;
	if (res == 0)
		return 0;
	if (res > 0) {
		put_header(&r, (size_t)res, 0);
		return res;
	}
	put_header(&r, sizeof(struct fuse_out_header), wire_error(res));
	return sizeof(struct fuse_out_header);
}

static ssize_t op_enosys(struct proto_req *r)
{
	return -ENOSYS;
}

static ssize_t op_destroy(struct proto_req *r)
{
	struct proto_session *s = r->s;
	int expect = PS_READY;
	if (!atomic_compare_exchange_strong(&s->state, &expect, PS_DESTROYING))
		return -EIO;
	/* Wait for every other request to leave the fs; wake those sleeping on a lock. We are in flight too. */
	for (unsigned i = 0; atomic_load(&s->inflight) > 1; i++) {
		if (i % 64 == 0)
			proto_block_wake_all(s);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (s->fs->ops->destroy)
		s->fs->ops->destroy(s->fs);
	atomic_store(&s->state, PS_DONE);
	return reply_len(0);
}

/* ---- argument pulling ---- */

int req_get(struct proto_req *r, void *dst, size_t size)
{
	if (req_left(r) < size)
		return -EINVAL;
	memcpy(dst, r->arg + r->arg_pos, size);
	r->arg_pos += size;
	return 0;
}

int req_get_compat(struct proto_req *r, void *dst, size_t size, size_t min)
{
	size_t n = MIN(size, req_left(r));
	if (n < min)
		return -EINVAL;
	memset(dst, 0, size);
	memcpy(dst, r->arg + r->arg_pos, n);
	r->arg_pos += n;
	return 0;
}

const char *req_pull_str(struct proto_req *r, size_t *ret_len)
{
	const char *p = (const char *)r->arg + r->arg_pos;
	const char *nul = memchr(p, 0, req_left(r));
	if (!nul)
		return NULL;
	*ret_len = (size_t)(nul - p);
	r->arg_pos += *ret_len + 1;
	return p;
}

int req_pull_name(struct proto_req *r, bool new_entry, const char **ret)
{
	size_t len;
	const char *n = req_pull_str(r, &len);
	if (!n || len == 0 || memchr(n, '/', len))
		return -EINVAL;
	if (len > PROTO_NAME_MAX)
		return -ENAMETOOLONG;
	if (new_entry && (strcmp(n, ".") == 0 || strcmp(n, "..") == 0))
		return -EINVAL;
	*ret = n;
	return 0;
}

/* ---- reply building ---- */

size_t reply_payload_room(const struct proto_req *r)
{
	return r->out_room - sizeof(struct fuse_out_header);
}

void reply_put(struct proto_req *r, size_t off, const void *data, size_t len)
{
	off += sizeof(struct fuse_out_header);
	const uint8_t *src = data;
	for (int i = 0; i < r->out_cnt && len; i++) {
		if (off >= r->out[i].iov_len) {
			off -= r->out[i].iov_len;
			continue;
		}
		size_t n = MIN(len, r->out[i].iov_len - off);
		memcpy((uint8_t *)r->out[i].iov_base + off, src, n);
		src += n;
		len -= n;
		off = 0;
	}
}

void *reply_region(struct proto_req *r, size_t off, size_t len)
{
	off += sizeof(struct fuse_out_header);
	for (int i = 0; i < r->out_cnt; i++) {
		if (off >= r->out[i].iov_len) {
			off -= r->out[i].iov_len;
			continue;
		}
		if (r->out[i].iov_len - off >= len)
			return (uint8_t *)r->out[i].iov_base + off;
		return NULL;
	}
	return NULL;
}

int reply_iov(struct proto_req *r, size_t off, size_t len, struct iovec *iov, int max)
{
	int n = 0;
	off += sizeof(struct fuse_out_header);
	for (int i = 0; i < r->out_cnt && len; i++) {
		if (off >= r->out[i].iov_len) {
			off -= r->out[i].iov_len;
			continue;
		}
		if (n == max)
			return -EINVAL;
		size_t k = MIN(len, r->out[i].iov_len - off);
		iov[n].iov_base = (uint8_t *)r->out[i].iov_base + off;
		iov[n].iov_len = k;
		n++;
		len -= k;
		off = 0;
	}
	return n;
}

void *proto_scratch(void)
{
	static __thread _Alignas(16) uint8_t scratch[PROTO_SCRATCH];
	return scratch;
}

ssize_t reply_struct(struct proto_req *r, const void *data, size_t len)
{
	if (!reply_fits(r, len))
		return -EINVAL;
	reply_put(r, 0, data, len);
	return reply_len(len);
}

size_t proto_entry_out_size(const struct proto_session *s)
{
	return s->minor < 9 ? FUSE_COMPAT_ENTRY_OUT_SIZE : sizeof(struct fuse_entry_out);
}

size_t proto_attr_out_size(const struct proto_session *s)
{
	return s->minor < 9 ? FUSE_COMPAT_ATTR_OUT_SIZE : sizeof(struct fuse_attr_out);
}

void reply_entry(struct proto_req *r, size_t off, const struct fs_entry *e)
{
	struct fuse_entry_out eo;
	wire_entry(&eo, e, r->s->submounts);
	reply_put(r, off, &eo, proto_entry_out_size(r->s));
}

int check_entry(struct proto_req *r, const struct fs_entry *e)
{
	if (e->ino == 0) {
		log_debug("proto: %s returned an entry without a node id", r->s->fs->kind);
		return -EIO;
	}
	return 0;
}
