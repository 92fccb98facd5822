/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes and locks: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR, GETLK, SETLK, SETLKW (POSIX
 * record locks and, with FUSE_LK_FLOCK, flock(2) locks). A SETLKW may sleep for ever: it registers with the
 * interrupt registry (interrupt.c) so an INTERRUPT from the client can wake it.
 */
#include <string.h>
#include <sys/xattr.h>

#include "proto/session.h"
#include "util/macros.h"

/* An xattr name: NUL-terminated, 1..XATTR_NAME_MAX bytes (getxattr(2) says ERANGE otherwise). */
static int pull_xattr_name(struct proto_req *r, const char **ret)
{
	size_t len;
	const char *n = req_pull_str(r, &len);
	if (!n)
		return -EINVAL;
	if (len == 0 || len > PROTO_XATTR_NAME_MAX)
		return -ERANGE;
	*ret = n;
	return 0;
}

ssize_t op_setxattr(struct proto_req *r)
{
	struct fuse_setxattr_in in;
	/* the setxattr_flags field exists only when SETXATTR_EXT was negotiated */
	size_t insz = r->s->setxattr_ext ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE;
	memset(&in, 0, sizeof(in));
	if (req_get(r, &in, insz) < 0)
		return -EINVAL;
	const char *name;
	int k = pull_xattr_name(r, &name);
	if (k < 0)
		return k;
	if (in.size > PROTO_XATTR_SIZE_MAX)
		return -E2BIG;
	if (req_left(r) < in.size)
		return -EINVAL;
	if (in.flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (in.setxattr_flags & ~(uint32_t)FUSE_SETXATTR_ACL_KILL_SGID)
		return -EINVAL;
	uint32_t sf = (in.setxattr_flags & FUSE_SETXATTR_ACL_KILL_SGID) ? FS_SETXATTR_ACL_KILL_SGID : 0;
	const void *value = r->arg + r->arg_pos;
	k = FS_CALL(r->s->fs, setxattr, &r->ctx, r->h.nodeid, name, value, in.size, (int)in.flags, sf);
	return k < 0 ? k : reply_len(0);
}

/* GETXATTR and LISTXATTR: size 0 asks for the size needed, else the value itself. */
static ssize_t xattr_reply(struct proto_req *r, uint32_t want, const char *name)
{
	size_t got = 0;
	int k;
	if (want == 0) {
		if (!reply_fits(r, sizeof(struct fuse_getxattr_out)))
			return -EINVAL;
		k = name ? FS_CALL(r->s->fs, getxattr, &r->ctx, r->h.nodeid, name, NULL, 0, &got)
			 : FS_CALL(r->s->fs, listxattr, &r->ctx, r->h.nodeid, NULL, 0, &got);
		if (k < 0)
			return k;
		if (got > UINT32_MAX)
			return -E2BIG;
		struct fuse_getxattr_out o = { .size = (uint32_t)got };
		return reply_struct(r, &o, sizeof(o));
	}
	/* no value is larger than XATTR_SIZE_MAX: a smaller room is enough for any of them */
	size_t size = MIN((size_t)want, MIN(reply_payload_room(r), (size_t)PROTO_XATTR_SIZE_MAX));
	void *buf = reply_region(r, 0, size);
	bool scattered = !buf;
	if (scattered)
		buf = proto_scratch();
	k = name ? FS_CALL(r->s->fs, getxattr, &r->ctx, r->h.nodeid, name, buf, size, &got)
		 : FS_CALL(r->s->fs, listxattr, &r->ctx, r->h.nodeid, buf, size, &got);
	if (k < 0)
		return k;
	if (got > size)
		return -EIO;
	if (scattered)
		reply_put(r, 0, buf, got);
	return reply_len(got);
}

ssize_t op_getxattr(struct proto_req *r)
{
	struct fuse_getxattr_in in;
	const char *name;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	int k = pull_xattr_name(r, &name);
	if (k < 0)
		return k;
	return xattr_reply(r, in.size, name);
}

ssize_t op_listxattr(struct proto_req *r)
{
	struct fuse_getxattr_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	return xattr_reply(r, in.size, NULL);
}

ssize_t op_removexattr(struct proto_req *r)
{
	const char *name;
	int k = pull_xattr_name(r, &name);
	if (k < 0)
		return k;
	k = FS_CALL(r->s->fs, removexattr, &r->ctx, r->h.nodeid, name);
	return k < 0 ? k : reply_len(0);
}

/* The end of a lock range that reaches end of file, as the client encodes it (OFFSET_MAX). */
#define LK_EOF ((uint64_t)INT64_MAX)

static int lock_in(struct proto_req *r, struct fuse_lk_in *in, struct flock *fl)
{
	if (req_get(r, in, sizeof(*in)) < 0)
		return -EINVAL;
	if (in->lk.type != F_RDLCK && in->lk.type != F_WRLCK && in->lk.type != F_UNLCK)
		return -EINVAL;
	if (in->lk.start > LK_EOF || in->lk.end > LK_EOF || in->lk.start > in->lk.end)
		return -EINVAL;
	*fl = (struct flock){
		.l_type = (short)in->lk.type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)in->lk.start,
		.l_len = in->lk.end == LK_EOF ? 0 : (off_t)(in->lk.end - in->lk.start + 1),
		.l_pid = (pid_t)in->lk.pid,
	};
	return 0;
}

ssize_t op_getlk(struct proto_req *r)
{
	struct fuse_lk_in in;
	struct flock fl;
	int k = lock_in(r, &in, &fl);
	if (k < 0)
		return k;
	if (!reply_fits(r, sizeof(struct fuse_lk_out)))
		return -EINVAL;
	k = FS_CALL(r->s->fs, getlk, &r->ctx, r->h.nodeid, in.fh, in.owner, &fl);
	if (k < 0)
		return k;
	struct fuse_lk_out o = { 0 };
	o.lk.type = (uint32_t)fl.l_type;
	if (fl.l_type != F_UNLCK) {
		if (fl.l_start < 0 || fl.l_len < 0)
			return -EIO;
		o.lk.start = (uint64_t)fl.l_start;
		o.lk.end = fl.l_len == 0 ? LK_EOF : (uint64_t)fl.l_start + (uint64_t)fl.l_len - 1;
		/* a pid the client cannot map (an OFD lock's -1, a host process) makes it fail the call with EIO;
		 * only a positive pid is passed on */
		o.lk.pid = fl.l_pid > 0 ? (uint32_t)fl.l_pid : 0;
	}
	return reply_struct(r, &o, sizeof(o));
}

static ssize_t do_setlk(struct proto_req *r, bool sleep)
{
	struct fuse_lk_in in;
	struct flock fl;
	int k = lock_in(r, &in, &fl);
	if (k < 0)
		return k;
	bool is_flock = in.lk_flags & FUSE_LK_FLOCK;
	struct proto_block_slot *slot = NULL;
	if (sleep) {
		slot = proto_block_enter(r->s, r->h.unique);
		if (slot && proto_block_interrupted(slot)) {
			proto_block_leave(r->s, slot);
			return -EINTR;
		}
	}
	k = FS_CALL(r->s->fs, setlk, &r->ctx, r->h.nodeid, in.fh, in.owner, &fl, sleep, is_flock);
	if (slot)
		proto_block_leave(r->s, slot);
	return k < 0 ? k : reply_len(0);
}

ssize_t op_setlk(struct proto_req *r)
{
	return do_setlk(r, false);
}

ssize_t op_setlkw(struct proto_req *r)
{
	return do_setlk(r, true);
}
