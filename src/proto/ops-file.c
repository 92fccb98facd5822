/* SPDX-License-Identifier: MIT */
/*
 * File requests: OPEN, CREATE, TMPFILE, READ, WRITE, FLUSH, RELEASE, FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE.
 * READ hands the fs the reply room itself as iovecs, so the data is read straight into what the transport
 * sends (one copy, by the kernel). WRITE hands the fs the request's own iovecs: the payload is read once.
 * With kernel passthrough (backing.h) OPEN/CREATE/TMPFILE replies may name a backing file; READ and WRITE of
 * such opens never come here.
 */
#include <limits.h>
#include <string.h>

#include "proto/backing.h"
#include "proto/fuse-compat.h"
#include "proto/session.h"
#include "proto/wire.h"
#include "util/log.h"
#include "util/macros.h"

/* How many iovecs a READ or WRITE payload may span (a virtio descriptor chain): UIO_MAXIOV. */
#define PROTO_MAX_IOV 1024

/* open(2) flags the client must not pass through OPEN: they create files or change what is opened. */
#define OPEN_STRIP (O_CREAT | O_EXCL | O_NOCTTY | (O_TMPFILE & ~O_DIRECTORY) | O_PATH)

/*
 * With HANDLE_KILLPRIV_V2 the client asks us to clear suid/sgid when an unprivileged caller truncates at open
 * (FUSE_OPEN_KILL_SUIDGID). The fs interface has no open flag for it, so proto asks for it as a setattr
 * right after the open; the server's own CAP_FSETID would otherwise keep the bits.
 */
static int kill_suidgid_after_open(struct proto_req *r, uint64_t ino, uint64_t fh)
{
	struct stat st = { 0 }, out;
	double t;
	return FS_CALL(r->s->fs, setattr, &r->ctx, ino, &st, FS_SET_KILL_SUIDGID | FS_SET_FH, fh, &out, &t);
}

static bool wants_kill(const struct proto_req *r, uint32_t flags, uint32_t open_flags)
{
	return r->s->killpriv_v2 && (open_flags & FUSE_OPEN_KILL_SUIDGID) && (flags & O_TRUNC);
}

/*
 * The open reply. With a backing id the client does read/write/splice/mmap on the backing file itself; it
 * accepts only FOPEN_DIRECT_IO, FOPEN_PARALLEL_DIRECT_WRITES and FOPEN_NOFLUSH besides FOPEN_PASSTHROUGH
 * (FOPEN_PASSTHROUGH_MASK) and fails the open with EIO otherwise. Of those we keep only NOFLUSH: KEEP_CACHE
 * and DIRECT_IO are about the client's page cache, which passthrough does not use (the host's page cache is
 * the only cache, also the most coherent one).
 *
 * FOPEN_NOFLUSH: a FLUSH (a synchronous round trip at every close(2)) tells the server that a lock owner closed
 * the file, so it drops the owner's POSIX locks. With POSIX locks left to the client kernel it has nothing to
 * tell, and the client's own work before it (writing back dirty pages of a shared mapping, the writeback
 * cache) is not needed either when the open is a passthrough one (mappings go to the backing file) or
 * read-only (another, writable open's close writes them back); a writable open served through us keeps it.
 */
static bool wants_noflush(const struct proto_session *s, int flags, int backing_id)
{
	if (s->caps & (FS_CAP_POSIX_LOCKS | FS_CAP_WRITEBACK_CACHE))
		return false;
	return backing_id > 0 || (flags & O_ACCMODE) == O_RDONLY;
}

static void put_open(struct proto_req *r, size_t off, const struct fs_open *o, int flags, int backing_id)
{
	struct proto_open_out oo = { .fh = o->fh, .open_flags = proto_fopen_flags(o->flags) };
	if (wants_noflush(r->s, flags, backing_id))
		oo.open_flags |= FOPEN_NOFLUSH;
	if (backing_id > 0) {
		oo.open_flags = (oo.open_flags & FOPEN_NOFLUSH) | FOPEN_PASSTHROUGH;
		oo.backing_id = backing_id;
	}
	reply_put(r, off, &oo, sizeof(oo));
}

ssize_t op_open(struct proto_req *r)
{
	struct fuse_open_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!reply_fits(r, sizeof(struct fuse_open_out)))
		return -EINVAL;
	int flags = (int)in.flags & ~OPEN_STRIP;
	struct fs_open o = { .backing_fd = -1 };
	int k = FS_CALL(r->s->fs, open, &r->ctx, r->h.nodeid, flags, &o);
	if (k < 0)
		return k;
	if (wants_kill(r, in.flags, in.open_flags)) {
		k = kill_suidgid_after_open(r, r->h.nodeid, o.fh);
		if (k < 0) {
			FS_CALL_VOID(r->s->fs, release, &r->ctx, r->h.nodeid, o.fh, flags, 0, false);
			return k;
		}
	}
	/* last: nothing fails after it, so a counted open is always replied (and later RELEASEd) */
	int id = proto_backing_open(r->s, r->h.nodeid, o.backing_fd, (flags & O_DIRECT) != 0);
	if (id < 0) {
		FS_CALL_VOID(r->s->fs, release, &r->ctx, r->h.nodeid, o.fh, flags, 0, false);
		return id;
	}
	put_open(r, 0, &o, flags, id);
	return reply_len(sizeof(struct fuse_open_out));
}

/* CREATE and TMPFILE reply an entry followed by an open. */
static ssize_t reply_created(struct proto_req *r, int k, const struct fs_entry *e, const struct fs_open *o,
			     int flags, uint32_t open_flags)
{
	if (k < 0)
		return k;
	if (check_entry(r, e) < 0) {
		FS_CALL_VOID(r->s->fs, release, &r->ctx, e->ino, o->fh, flags, 0, false);
		return -EIO;
	}
	if (wants_kill(r, (uint32_t)flags, open_flags)) {
		int c = kill_suidgid_after_open(r, e->ino, o->fh);
		if (c < 0) {
			FS_CALL_VOID(r->s->fs, release, &r->ctx, e->ino, o->fh, flags, 0, false);
			FS_CALL_VOID(r->s->fs, forget, e->ino, 1);
			return c;
		}
	}
	int id = proto_backing_open(r->s, e->ino, o->backing_fd, (flags & O_DIRECT) != 0);
	if (id < 0) {
		FS_CALL_VOID(r->s->fs, release, &r->ctx, e->ino, o->fh, flags, 0, false);
		FS_CALL_VOID(r->s->fs, forget, e->ino, 1);
		return id;
	}
	size_t n = proto_entry_out_size(r->s);
	reply_entry(r, 0, e);
	put_open(r, n, o, flags, id);
	return reply_len(n + sizeof(struct fuse_open_out));
}

ssize_t op_create(struct proto_req *r)
{
	struct fuse_create_in in = { 0 };
	/* before 7.12 CREATE carried a fuse_open_in (flags only, no mode/umask split) */
	if (r->s->minor < 12) {
		struct fuse_open_in oi;
		if (req_get(r, &oi, sizeof(oi)) < 0)
			return -EINVAL;
		in.flags = oi.flags;
		in.mode = oi.open_flags;
	} else if (req_get(r, &in, sizeof(in)) < 0) {
		return -EINVAL;
	}
	const char *name;
	int k = req_pull_name(r, true, &name);
	if (k < 0)
		return k;
	if (!reply_fits(r, proto_entry_out_size(r->s) + sizeof(struct fuse_open_out)))
		return -EINVAL;
	r->ctx.umask = r->s->dont_mask ? (mode_t)(in.umask & 07777) : 0;
	int flags = (int)in.flags & ~(O_NOCTTY | (O_TMPFILE & ~O_DIRECTORY) | O_PATH);
	struct fs_entry e = { 0 };
	struct fs_open o = { .backing_fd = -1 };
	k = FS_CALL(r->s->fs, create, &r->ctx, r->h.nodeid, name, (mode_t)in.mode, flags, &e, &o);
	return reply_created(r, k, &e, &o, flags, in.open_flags);
}

ssize_t op_tmpfile(struct proto_req *r)
{
	struct fuse_create_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	/* the client appends its placeholder dentry name; it means nothing to us */
	if (!reply_fits(r, proto_entry_out_size(r->s) + sizeof(struct fuse_open_out)))
		return -EINVAL;
	r->ctx.umask = r->s->dont_mask ? (mode_t)(in.umask & 07777) : 0;
	int flags = (int)in.flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TMPFILE | O_PATH);
	struct fs_entry e = { 0 };
	struct fs_open o = { .backing_fd = -1 };
	int k = FS_CALL(r->s->fs, tmpfile, &r->ctx, r->h.nodeid, (mode_t)in.mode, flags, &e, &o);
	return reply_created(r, k, &e, &o, flags, in.open_flags);
}

ssize_t op_read(struct proto_req *r)
{
	struct fuse_read_in in;
	/* 7.9 added lock_owner, flags and padding */
	if (req_get_compat(r, &in, sizeof(in), 24) < 0)
		return -EINVAL;
	if (!off_ok(in.offset))
		return -EINVAL;
	/* a READ the reply room cannot hold: never shorten it silently (the client would see end of file) */
	if (in.size > reply_payload_room(r))
		return -EINVAL;
	struct iovec iov[PROTO_MAX_IOV];
	int n = reply_iov(r, 0, in.size, iov, PROTO_MAX_IOV);
	if (n < 0)
		return n;
	size_t len = 0;
	int k = FS_CALL(r->s->fs, read, &r->ctx, r->h.nodeid, in.fh, in.offset, in.size, iov, n, &len);
	if (k < 0)
		return k;
	if (len > in.size)
		return -EIO;
	return reply_len(len);
}

/* The payload bytes [off, off+len) of the request as iovecs. */
static int payload_iov(const struct proto_req *r, struct iovec *iov, int max)
{
	size_t off = r->payload_off, len = r->payload_len;
	int n = 0;
	for (int i = 0; i < r->in_cnt && len; i++) {
		if (off >= r->in[i].iov_len) {
			off -= r->in[i].iov_len;
			continue;
		}
		if (n == max)
			return -EINVAL;
		size_t k = MIN(len, r->in[i].iov_len - off);
		iov[n].iov_base = (uint8_t *)r->in[i].iov_base + off;
		iov[n].iov_len = k;
		n++;
		len -= k;
		off = 0;
	}
	return n;
}

ssize_t op_write(struct proto_req *r)
{
	struct fuse_write_in in;
	if (req_get_compat(r, &in, sizeof(in), FUSE_COMPAT_WRITE_IN_SIZE) < 0)
		return -EINVAL;
	if (in.size != r->payload_len || in.size > r->s->max_write)
		return -EINVAL;
	if (!off_ok(in.offset))
		return -EINVAL;
	if (in.offset > (uint64_t)INT64_MAX - in.size)
		return -EFBIG;
	if (!reply_fits(r, sizeof(struct fuse_write_out)))
		return -EINVAL;
	struct iovec iov[PROTO_MAX_IOV];
	int n = payload_iov(r, iov, PROTO_MAX_IOV);
	if (n < 0)
		return n;
	uint32_t wf = 0;
	if (in.write_flags & FUSE_WRITE_CACHE)
		wf |= FS_WRITE_CACHE;
	if (in.write_flags & FUSE_WRITE_KILL_SUIDGID)
		wf |= FS_WRITE_KILL_SUIDGID;
	size_t len = 0;
	int k = FS_CALL(r->s->fs, write, &r->ctx, r->h.nodeid, in.fh, in.offset, in.size, iov, n, wf, &len);
	if (k < 0)
		return k;
	if (len > in.size)
		return -EIO;
	struct fuse_write_out wo = { .size = (uint32_t)len };
	return reply_struct(r, &wo, sizeof(wo));
}

ssize_t op_flush(struct proto_req *r)
{
	struct fuse_flush_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	int k = FS_CALL(r->s->fs, flush, &r->ctx, r->h.nodeid, in.fh, in.lock_owner);
	return k < 0 ? k : reply_len(0);
}

ssize_t op_release(struct proto_req *r)
{
	struct fuse_release_in in;
	/* lock_owner came with 7.8 */
	if (req_get_compat(r, &in, sizeof(in), 16) < 0)
		return -EINVAL;
	FS_CALL_VOID(r->s->fs, release, &r->ctx, r->h.nodeid, in.fh, (int)in.flags, in.lock_owner,
		     (in.release_flags & FUSE_RELEASE_FLOCK_UNLOCK) != 0);
	/* after the fs: the backing id may hold the released fh's host file, the kernel its own reference */
	proto_backing_release(r->s, r->h.nodeid);
	return reply_len(0);
}

ssize_t op_fsync(struct proto_req *r)
{
	struct fuse_fsync_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	int k = FS_CALL(r->s->fs, fsync, &r->ctx, r->h.nodeid, in.fh, (in.fsync_flags & FUSE_FSYNC_FDATASYNC) != 0);
	return k < 0 ? k : reply_len(0);
}

ssize_t op_fallocate(struct proto_req *r)
{
	struct fuse_fallocate_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!off_ok(in.offset) || !off_ok(in.length) || in.length == 0)
		return -EINVAL;
	if (in.offset > (uint64_t)INT64_MAX - in.length)
		return -EFBIG;
	int k = FS_CALL(r->s->fs, fallocate, &r->ctx, r->h.nodeid, in.fh, (int)in.mode, (off_t)in.offset,
			(off_t)in.length);
	return k < 0 ? k : reply_len(0);
}

ssize_t op_lseek(struct proto_req *r)
{
	struct fuse_lseek_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	switch (in.whence) {
	case SEEK_SET:
	case SEEK_CUR:
	case SEEK_END:
	case SEEK_DATA:
	case SEEK_HOLE:
		break;
	default:
		return -EINVAL;
	}
	if (!reply_fits(r, sizeof(struct fuse_lseek_out)))
		return -EINVAL;
	off_t off = 0;
	int k = FS_CALL(r->s->fs, lseek, &r->ctx, r->h.nodeid, in.fh, (off_t)in.offset, (int)in.whence, &off);
	if (k < 0)
		return k;
	struct fuse_lseek_out o = { .offset = (uint64_t)off };
	return reply_struct(r, &o, sizeof(o));
}

ssize_t op_copy_file_range(struct proto_req *r)
{
	struct fuse_copy_file_range_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (in.flags != 0 || !off_ok(in.off_in) || !off_ok(in.off_out))
		return -EINVAL;
	/* the reply counts in 32 bits; a short copy is allowed, the client loops */
	size_t len = (size_t)MIN(in.len, (uint64_t)(1u << 30));
	if (in.off_in > (uint64_t)INT64_MAX - len || in.off_out > (uint64_t)INT64_MAX - len)
		return -EFBIG;
	if (!reply_fits(r, sizeof(struct fuse_write_out)))
		return -EINVAL;
	size_t done = 0;
	int k = FS_CALL(r->s->fs, copy_file_range, &r->ctx, r->h.nodeid, in.fh_in, (off_t)in.off_in, in.nodeid_out,
			in.fh_out, (off_t)in.off_out, len, 0, &done);
	if (k < 0)
		return k;
	if (done > len)
		return -EIO;
	struct fuse_write_out o = { .size = (uint32_t)done };
	return reply_struct(r, &o, sizeof(o));
}
