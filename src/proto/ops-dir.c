/* SPDX-License-Identifier: MIT */
/*
 * Directory requests: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR. The fs fills a struct fs_dirbuf
 * (wire.c) laid over the reply room when one out iovec holds it (always for /dev/fuse), else over the
 * per-thread scratch area, scattered afterwards.
 */
#include <string.h>

#include "proto/session.h"
#include "proto/wire.h"
#include "util/macros.h"

ssize_t op_opendir(struct proto_req *r)
{
	struct fuse_open_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (!reply_fits(r, sizeof(struct fuse_open_out)))
		return -EINVAL;
	struct fs_open o = { .backing_fd = -1 };
	int k = FS_CALL(r->s->fs, opendir, &r->ctx, r->h.nodeid, (int)in.flags, &o);
	if (k < 0)
		return k;
	struct fuse_open_out oo = { .fh = o.fh, .open_flags = proto_fopen_flags(o.flags) };
	return reply_struct(r, &oo, sizeof(oo));
}

static ssize_t do_readdir(struct proto_req *r, bool plus)
{
	struct fuse_read_in in;
	if (req_get_compat(r, &in, sizeof(in), 24) < 0)
		return -EINVAL;
	size_t size = MIN((size_t)in.size, reply_payload_room(r));
	if (size == 0)
		return reply_len(0);
	void *mem = reply_region(r, 0, size);
	bool scattered = !mem;
	if (scattered) {
		/* a shorter listing is always allowed: the client asks again from the last offset */
		size = MIN(size, (size_t)PROTO_SCRATCH);
		mem = proto_scratch();
	}
	struct fs_dirbuf b;
	wire_dirbuf_init(&b, mem, size, plus, r->s->submounts);
	int k = FS_CALL(r->s->fs, readdir, &r->ctx, r->h.nodeid, in.fh, in.offset, &b);
	/* entries already added (and, for readdirplus, the lookups they carry) must reach the client */
	if (k < 0 && b.len == 0)
		return k;
	if (scattered)
		reply_put(r, 0, mem, b.len);
	return reply_len(b.len);
}

ssize_t op_readdir(struct proto_req *r)
{
	return do_readdir(r, false);
}

ssize_t op_readdirplus(struct proto_req *r)
{
	return do_readdir(r, true);
}

ssize_t op_releasedir(struct proto_req *r)
{
	struct fuse_release_in in;
	if (req_get_compat(r, &in, sizeof(in), 16) < 0)
		return -EINVAL;
	FS_CALL_VOID(r->s->fs, releasedir, &r->ctx, r->h.nodeid, in.fh);
	return reply_len(0);
}

ssize_t op_fsyncdir(struct proto_req *r)
{
	struct fuse_fsync_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	int k = FS_CALL(r->s->fs, fsyncdir, &r->ctx, r->h.nodeid, in.fh, (in.fsync_flags & FUSE_FSYNC_FDATASYNC) != 0);
	return k < 0 ? k : reply_len(0);
}
