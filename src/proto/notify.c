/* SPDX-License-Identifier: MIT */
/*
 * Notifications to the client (struct fs_notifier): FUSE_NOTIFY_INVAL_ENTRY and FUSE_NOTIFY_INVAL_INODE,
 * encoded here and handed to the transport's send_notify (unique 0, the code in the error field).
 * A note for callers: the client handles INVAL_ENTRY under the parent directory's lock, so an fs must not
 * send it for a directory while it is serving a request that holds that lock (a lookup in it), or both wait.
 */
#include <string.h>

#include "proto/session.h"
#include "util/macros.h"

static struct proto_session *notifier_session(const struct fs_notifier *n)
{
	return n->data;
}

static int send(struct proto_session *s, const struct iovec *iov, int cnt)
{
	if (!s->t.send_notify || s->opts.virtio)
		return -ENOSYS;
	if (atomic_load(&s->state) != PS_READY)
		return -ENOTCONN;
	return s->t.send_notify(s->t.data, iov, cnt);
}

static int inval_entry(const struct fs_notifier *n, uint64_t parent, const char *name, size_t namelen)
{
	struct proto_session *s = notifier_session(n);
	if (!name || namelen == 0 || namelen > PROTO_NAME_MAX || memchr(name, '/', namelen) || memchr(name, 0, namelen))
		return -EINVAL;
	struct fuse_notify_inval_entry_out o = { .parent = parent, .namelen = (uint32_t)namelen };
	static const char nul = 0;
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + sizeof(o) + namelen + 1),
		.error = FUSE_NOTIFY_INVAL_ENTRY,
		.unique = 0,
	};
	struct iovec iov[] = {
		{ &oh, sizeof(oh) },
		{ &o, sizeof(o) },
		{ (void *)name, namelen },
		{ (void *)&nul, 1 },
	};
	return send(s, iov, 4);
}

static int inval_inode(const struct fs_notifier *n, uint64_t ino, int64_t off, int64_t len)
{
	struct proto_session *s = notifier_session(n);
	struct fuse_notify_inval_inode_out o = { .ino = ino, .off = off, .len = len };
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + sizeof(o)),
		.error = FUSE_NOTIFY_INVAL_INODE,
		.unique = 0,
	};
	struct iovec iov[] = { { &oh, sizeof(oh) }, { &o, sizeof(o) } };
	return send(s, iov, 2);
}

void proto_notifier_init(struct proto_session *s)
{
	s->notifier = (struct fs_notifier){ .inval_entry = inval_entry, .inval_inode = inval_inode, .data = s };
}
