/* SPDX-License-Identifier: MIT */
/*
 * Namespace and attribute requests: LOOKUP, FORGET, BATCH_FORGET, GETATTR, SETATTR, READLINK, SYMLINK, MKNOD,
 * MKDIR, UNLINK, RMDIR, RENAME, RENAME2, LINK, STATFS, ACCESS, SYNCFS. Every length and name is checked
 * here before the fs sees it; the reply room is checked before an op that takes a lookup is called.
 */
#include <stdio.h>
#include <string.h>

#include "proto/session.h"
#include "proto/wire.h"
#include "util/log.h"
#include "util/macros.h"

static ssize_t reply_entry_result(struct proto_req *r, int k, const struct fs_entry *e)
{
	if (k < 0)
		return k;
	int c = check_entry(r, e);
	if (c < 0)
		return c;
	size_t n = proto_entry_out_size(r->s);
	reply_entry(r, 0, e);
	return reply_len(n);
}

ssize_t op_lookup(struct proto_req *r)
{
	const char *name;
	int k = req_pull_name(r, false, &name);
	if (k < 0)
		return k;
	if (!reply_fits(r, proto_entry_out_size(r->s)))
		return -EINVAL;
	struct fs_entry e = { 0 };
	k = FS_CALL(r->s->fs, lookup, &r->ctx, r->h.nodeid, name, &e);
	if (k < 0)
		return k;
	if (e.ino == 0 && r->s->minor < 4) /* no negative entries before 7.4 */
		return -ENOENT;
	reply_entry(r, 0, &e);
	return reply_len(proto_entry_out_size(r->s));
}

ssize_t op_forget(struct proto_req *r)
{
	struct fuse_forget_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return 0;
	FS_CALL_VOID(r->s->fs, forget, r->h.nodeid, in.nlookup);
	return 0;
}

ssize_t op_batch_forget(struct proto_req *r)
{
	struct fuse_batch_forget_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return 0;
	/* a count the buffer does not hold is a lie about all of it: drop the whole request */
	if ((uint64_t)in.count * sizeof(struct fuse_forget_one) > req_left(r)) {
		log_debug("proto: BATCH_FORGET of %u entries in %zu bytes dropped", in.count, req_left(r));
		return 0;
	}
	for (uint32_t i = 0; i < in.count; i++) {
		struct fuse_forget_one one;
		(void)req_get(r, &one, sizeof(one));
		FS_CALL_VOID(r->s->fs, forget, one.nodeid, one.nlookup);
	}
	return 0;
}

static ssize_t reply_attr(struct proto_req *r, const struct stat *st, double timeout)
{
	struct fuse_attr_out ao = { 0 };
	wire_timeout(timeout, &ao.attr_valid, &ao.attr_valid_nsec);
	wire_attr(&ao.attr, st, 0, r->s->submounts);
	size_t n = proto_attr_out_size(r->s);
	return reply_struct(r, &ao, n);
}

ssize_t op_getattr(struct proto_req *r)
{
	struct fuse_getattr_in in = { 0 };
	if (r->s->minor >= 9 && req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	struct stat st;
	double timeout = 0;
	bool has_fh = in.getattr_flags & FUSE_GETATTR_FH;
	int k = FS_CALL(r->s->fs, getattr, &r->ctx, r->h.nodeid, in.fh, has_fh, &st, &timeout);
	if (k < 0)
		return k;
	return reply_attr(r, &st, timeout);
}

#define FATTR_KNOWN                                                                                              \
	(FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME | FATTR_FH |                 \
	 FATTR_ATIME_NOW | FATTR_MTIME_NOW | FATTR_LOCKOWNER | FATTR_CTIME | FATTR_KILL_SUIDGID)

ssize_t op_setattr(struct proto_req *r)
{
	struct fuse_setattr_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	/* a bit we do not know is a change we would silently not make */
	if (in.valid & ~FATTR_KNOWN)
		return -EINVAL;
	static const struct {
		uint32_t fattr, fs;
	} map[] = {
		{ FATTR_MODE, FS_SET_MODE },	       { FATTR_UID, FS_SET_UID },
		{ FATTR_GID, FS_SET_GID },	       { FATTR_SIZE, FS_SET_SIZE },
		{ FATTR_ATIME, FS_SET_ATIME },	       { FATTR_MTIME, FS_SET_MTIME },
		{ FATTR_FH, FS_SET_FH },	       { FATTR_ATIME_NOW, FS_SET_ATIME_NOW },
		{ FATTR_MTIME_NOW, FS_SET_MTIME_NOW }, { FATTR_LOCKOWNER, FS_SET_LOCKOWNER },
		{ FATTR_CTIME, FS_SET_CTIME },	       { FATTR_KILL_SUIDGID, FS_SET_KILL_SUIDGID },
	};
	uint32_t to_set = 0;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (in.valid & map[i].fattr)
			to_set |= map[i].fs;
	struct stat st = { 0 };
	if (to_set & FS_SET_MODE)
		st.st_mode = in.mode;
	if (to_set & FS_SET_UID)
		st.st_uid = in.uid;
	if (to_set & FS_SET_GID)
		st.st_gid = in.gid;
	if (to_set & FS_SET_SIZE) {
		if (!off_ok(in.size))
			return -EINVAL;
		st.st_size = (off_t)in.size;
	}
	if ((to_set & FS_SET_ATIME) && !(to_set & FS_SET_ATIME_NOW)) {
		if (in.atimensec >= 1000000000u)
			return -EINVAL;
		st.st_atim.tv_sec = (time_t)in.atime;
		st.st_atim.tv_nsec = in.atimensec;
	}
	if ((to_set & FS_SET_MTIME) && !(to_set & FS_SET_MTIME_NOW)) {
		if (in.mtimensec >= 1000000000u)
			return -EINVAL;
		st.st_mtim.tv_sec = (time_t)in.mtime;
		st.st_mtim.tv_nsec = in.mtimensec;
	}
	if (to_set & FS_SET_CTIME) {
		if (in.ctimensec >= 1000000000u)
			return -EINVAL;
		st.st_ctim.tv_sec = (time_t)in.ctime;
		st.st_ctim.tv_nsec = in.ctimensec;
	}
	if (!reply_fits(r, proto_attr_out_size(r->s)))
		return -EINVAL;
	struct stat out;
	double timeout = 0;
	int k = FS_CALL(r->s->fs, setattr, &r->ctx, r->h.nodeid, &st, to_set, in.fh, &out, &timeout);
	if (k < 0)
		return k;
	return reply_attr(r, &out, timeout);
}

ssize_t op_readlink(struct proto_req *r)
{
	size_t size = MIN(reply_payload_room(r), (size_t)PROTO_SYMLINK_MAX + 1);
	char *buf = reply_region(r, 0, size);
	bool scattered = !buf;
	if (scattered)
		buf = proto_scratch();
	size_t len = 0;
	int k = FS_CALL(r->s->fs, readlink, &r->ctx, r->h.nodeid, buf, size, &len);
	if (k < 0)
		return k;
	if (len > size)
		return -EIO;
	if (scattered)
		reply_put(r, 0, buf, len);
	return reply_len(len);
}

static mode_t req_umask(const struct proto_req *r, uint32_t umask)
{
	return r->s->dont_mask ? (mode_t)(umask & 07777) : 0;
}

ssize_t op_symlink(struct proto_req *r)
{
	const char *name, *target;
	size_t tlen;
	int k = req_pull_name(r, true, &name);
	if (k < 0)
		return k;
	target = req_pull_str(r, &tlen);
	if (!target)
		return -EINVAL;
	if (tlen == 0)
		return -ENOENT; /* symlink(2) on an empty target */
	if (tlen > PROTO_SYMLINK_MAX)
		return -ENAMETOOLONG;
	if (!reply_fits(r, proto_entry_out_size(r->s)))
		return -EINVAL;
	struct fs_entry e = { 0 };
	k = FS_CALL(r->s->fs, symlink, &r->ctx, r->h.nodeid, name, target, &e);
	return reply_entry_result(r, k, &e);
}

ssize_t op_mknod(struct proto_req *r)
{
	struct fuse_mknod_in in;
	const char *name;
	/* before 7.12 there was no umask field */
	size_t min = r->s->minor < 12 ? FUSE_COMPAT_MKNOD_IN_SIZE : sizeof(in);
	if (req_get_compat(r, &in, min, min) < 0)
		return -EINVAL;
	if (min < sizeof(in))
		in.umask = in.padding = 0;
	int k = req_pull_name(r, true, &name);
	if (k < 0)
		return k;
	if (!reply_fits(r, proto_entry_out_size(r->s)))
		return -EINVAL;
	r->ctx.umask = req_umask(r, in.umask);
	struct fs_entry e = { 0 };
	k = FS_CALL(r->s->fs, mknod, &r->ctx, r->h.nodeid, name, (mode_t)in.mode, (dev_t)in.rdev, &e);
	return reply_entry_result(r, k, &e);
}

ssize_t op_mkdir(struct proto_req *r)
{
	struct fuse_mkdir_in in;
	const char *name;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	int k = req_pull_name(r, true, &name);
	if (k < 0)
		return k;
	if (!reply_fits(r, proto_entry_out_size(r->s)))
		return -EINVAL;
	r->ctx.umask = req_umask(r, in.umask);
	struct fs_entry e = { 0 };
	k = FS_CALL(r->s->fs, mkdir, &r->ctx, r->h.nodeid, name, (mode_t)in.mode, &e);
	return reply_entry_result(r, k, &e);
}

ssize_t op_unlink(struct proto_req *r)
{
	const char *name;
	int k = req_pull_name(r, true, &name);
	if (k < 0)
		return k;
	k = FS_CALL(r->s->fs, unlink, &r->ctx, r->h.nodeid, name);
	return k < 0 ? k : reply_len(0);
}

ssize_t op_rmdir(struct proto_req *r)
{
	const char *name;
	int k = req_pull_name(r, true, &name);
	if (k < 0)
		return k;
	k = FS_CALL(r->s->fs, rmdir, &r->ctx, r->h.nodeid, name);
	return k < 0 ? k : reply_len(0);
}

static ssize_t do_rename(struct proto_req *r, uint64_t newdir, unsigned flags)
{
	const char *oldname, *newname;
	int k = req_pull_name(r, true, &oldname);
	if (k < 0)
		return k;
	k = req_pull_name(r, true, &newname);
	if (k < 0)
		return k;
	k = FS_CALL(r->s->fs, rename, &r->ctx, r->h.nodeid, oldname, newdir, newname, flags);
	return k < 0 ? k : reply_len(0);
}

ssize_t op_rename(struct proto_req *r)
{
	struct fuse_rename_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	return do_rename(r, in.newdir, 0);
}

ssize_t op_rename2(struct proto_req *r)
{
	struct fuse_rename2_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (in.flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	/* renameat2(2): EXCHANGE excludes the other two */
	if ((in.flags & RENAME_EXCHANGE) && (in.flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)))
		return -EINVAL;
	return do_rename(r, in.newdir, in.flags);
}

ssize_t op_link(struct proto_req *r)
{
	struct fuse_link_in in;
	const char *name;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	int k = req_pull_name(r, true, &name);
	if (k < 0)
		return k;
	if (!reply_fits(r, proto_entry_out_size(r->s)))
		return -EINVAL;
	struct fs_entry e = { 0 };
	k = FS_CALL(r->s->fs, link, &r->ctx, in.oldnodeid, r->h.nodeid, name, &e);
	return reply_entry_result(r, k, &e);
}

ssize_t op_statfs(struct proto_req *r)
{
	struct statvfs sv;
	int k = FS_CALL(r->s->fs, statfs, &r->ctx, r->h.nodeid, &sv);
	if (k < 0)
		return k;
	struct fuse_statfs_out o = { 0 };
	o.st.blocks = sv.f_blocks;
	o.st.bfree = sv.f_bfree;
	o.st.bavail = sv.f_bavail;
	o.st.files = sv.f_files;
	o.st.ffree = sv.f_ffree;
	o.st.bsize = (uint32_t)sv.f_bsize;
	o.st.namelen = (uint32_t)sv.f_namemax;
	o.st.frsize = (uint32_t)sv.f_frsize;
	return reply_struct(r, &o, r->s->minor < 4 ? FUSE_COMPAT_STATFS_SIZE : sizeof(o));
}

ssize_t op_access(struct proto_req *r)
{
	struct fuse_access_in in;
	if (req_get(r, &in, sizeof(in)) < 0)
		return -EINVAL;
	if (in.mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	int k = FS_CALL(r->s->fs, access, &r->ctx, r->h.nodeid, (int)in.mask);
	return k < 0 ? k : reply_len(0);
}

ssize_t op_syncfs(struct proto_req *r)
{
	struct fuse_syncfs_in in;
	if (req_get_compat(r, &in, sizeof(in), 0) < 0)
		return -EINVAL;
	int k = FS_CALL(r->s->fs, syncfs, &r->ctx, r->h.nodeid);
	return k < 0 ? k : reply_len(0);
}
