/* SPDX-License-Identifier: MIT */
/* FUSE requests over the test driver (see fuse.h). */
#include "fuse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fc_init(struct fc *c, struct vud *d)
{
	memset(c, 0, sizeof(*c));
	c->d = d;
	c->unique = 1;
	c->timeout_ms = 10000;
	c->buf = malloc(FC_MAX_REPLY);
	return c->buf ? 0 : -ENOMEM;
}

void fc_done(struct fc *c)
{
	free(c->buf);
	c->buf = NULL;
}

int fc_call(struct fc *c, unsigned q, uint32_t opcode, uint64_t nodeid, const void *a1, size_t l1, const void *a2,
	    size_t l2, const void *a3, size_t l3, size_t out_room, unsigned flags)
{
	struct fuse_in_header h = {
		.len = (uint32_t)(sizeof(h) + l1 + l2 + l3),
		.opcode = opcode,
		.unique = c->unique++,
		.nodeid = nodeid,
		.uid = getuid(),
		.gid = getgid(),
		.pid = (uint32_t)getpid(),
	};
	struct iovec iov[4] = { { &h, sizeof(h) }, { (void *)a1, l1 }, { (void *)a2, l2 }, { (void *)a3, l3 } };
	size_t room = out_room ? sizeof(struct fuse_out_header) + out_room : 0;
	if (room > FC_MAX_REPLY)
		return -EMSGSIZE;
	/* FORGET and friends get no writable part: the device must not need one */
	if (opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT)
		room = 0;
	else if (room == 0)
		room = sizeof(struct fuse_out_header);
	int n = vud_call(c->d, q, iov, 4, c->buf, room, flags, c->timeout_ms);
	if (n < 0)
		return n;
	if (n == 0)
		return -ENODATA;
	struct fuse_out_header oh;
	if ((size_t)n < sizeof(oh) || (size_t)n > room)
		return -EPROTO;
	memcpy(&oh, c->buf, sizeof(oh));
	if (oh.unique != h.unique || oh.len != (uint32_t)n)
		return -EPROTO;
	if (oh.error > 0 || oh.error < -4095)
		return -EPROTO;
	if (oh.error < 0) {
		if ((size_t)n != sizeof(oh))
			return -EPROTO;
		return oh.error;
	}
	memmove(c->buf, c->buf + sizeof(oh), (size_t)n - sizeof(oh));
	return n - (int)sizeof(oh);
}

int fc_handshake(struct fc *c)
{
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 1 << 20,
		.flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT |
			 FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_FLOCK_LOCKS | FUSE_DO_READDIRPLUS |
			 FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES |
			 FUSE_SUBMOUNTS | FUSE_INIT_EXT,
	};
	int n = fc_call(c, 1, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0, sizeof(struct fuse_init_out), 0);
	if (n < 0)
		return n;
	struct fuse_init_out out = { 0 };
	memcpy(&out, c->buf, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out));
	if (out.major != FUSE_KERNEL_VERSION)
		return -EPROTO;
	c->max_write = out.max_write ? out.max_write : 4096;
	return 0;
}
