/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the protocol layer against a mock struct fs: INIT negotiation (current and old minors),
 * every opcode decoded and answered, every malformed request of the issue refused or dropped, replies into
 * scattered iovecs, interrupts of a sleeping SETLKW, notifications, DESTROY. Run under ASan too: a read or
 * write outside a buffer fails the test there.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "proto/fuse-compat.h"
#include "proto/proto.h"
#include "proto-test.h"
#include "util/macros.h"

/* ---- tests ---- */

/* INIT with 64-bit flags (flags2 too); the granted 64-bit flags. */
static uint64_t init64(struct proto_session *s, uint64_t offer)
{
	int err;
	struct fuse_init_in in = { .major = 7, .minor = 38, .max_readahead = 131072, .flags = (uint32_t)offer,
				   .flags2 = (uint32_t)(offer >> 32) };
	rq_begin(&q, FUSE_INIT, 0);
	rq_add(&q, &in, sizeof(in));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	struct fuse_init_out o;
	memcpy(&o, payload(), sizeof(o));
	return (uint64_t)o.flags | (uint64_t)o.flags2 << 32;
}

/*
 * FUSE over io_uring: granted only when asked for, offered, and not on virtio; and a request in the ring
 * entry's layout -- fuse_in_header, the opcode's fixed argument and the payload as three iovecs, the reply
 * into the same header (16 bytes) and payload -- is served like a contiguous one, although in and out share
 * the memory (proto copies the arguments before it writes a reply byte).
 */
static void test_uring(void)
{
	uint64_t offer = ALL_FLAGS | FUSE_OVER_IO_URING;
	struct proto_opts po = { .max_write = 1 << 20, .borrow_fs = true, .io_uring = true };
	struct proto_session *s = new_session(&po);
	CHECK(init64(s, offer) & FUSE_OVER_IO_URING);
	CHECK(proto_session_uring(s));
	proto_session_free(s);

	s = new_session(&po);
	CHECK(!(init64(s, ALL_FLAGS) & FUSE_OVER_IO_URING)); /* not offered */
	CHECK(!proto_session_uring(s));
	proto_session_free(s);
	s = new_session(NULL);
	CHECK(!(init64(s, offer) & FUSE_OVER_IO_URING)); /* not asked for */
	CHECK(!proto_session_uring(s));
	proto_session_free(s);
	po.virtio = true;
	s = new_session(&po);
	CHECK(!(init64(s, offer) & FUSE_OVER_IO_URING)); /* not a /dev/fuse channel */
	proto_session_free(s);
	po.virtio = false;

	s = new_session(&po);
	init64(s, offer);
	static struct proto_uring_req_header hdr;
	static uint8_t pay[(1 << 20) + 8192];
	struct fuse_out_header oh;

	/* LOOKUP: no fixed argument, the name in the payload */
	struct fuse_in_header h = { .len = sizeof(h) + 4, .opcode = FUSE_LOOKUP, .unique = 77, .nodeid = 1 };
	memcpy(hdr.in_out, &h, sizeof(h));
	memcpy(pay, "abc", 4);
	struct iovec in[3] = { { hdr.in_out, sizeof(h) }, { hdr.op_in, 0 }, { pay, 4 } };
	struct iovec out[2] = { { hdr.in_out, sizeof(oh) }, { pay, sizeof(pay) } };
	m.ret = 0;
	ssize_t n = proto_handle(s, in, 3, out, 2);
	CHECK_EQ(n, sizeof(oh) + sizeof(struct fuse_entry_out));
	memcpy(&oh, hdr.in_out, sizeof(oh));
	CHECK_EQ(oh.error, 0);
	CHECK_EQ(oh.unique, 77);
	CHECK_EQ(oh.len, n);
	CHECK(!strcmp(m.op, "lookup") && !strcmp(m.name, "abc"));

	/* WRITE: fuse_write_in in op_in, the data in the payload that the reply then overwrites */
	struct fuse_write_in wi = { .fh = 5, .offset = 100, .size = 6000 };
	h = (struct fuse_in_header){ .len = sizeof(h) + sizeof(wi) + 6000, .opcode = FUSE_WRITE, .unique = 78,
				     .nodeid = 2 };
	memcpy(hdr.in_out, &h, sizeof(h));
	memcpy(hdr.op_in, &wi, sizeof(wi));
	for (int i = 0; i < 6000; i++)
		pay[i] = (uint8_t)(i * 7);
	in[1].iov_len = sizeof(wi);
	in[2].iov_len = 6000;
	n = proto_handle(s, in, 3, out, 2);
	CHECK_EQ(n, sizeof(oh) + sizeof(struct fuse_write_out));
	memcpy(&oh, hdr.in_out, sizeof(oh));
	CHECK_EQ(oh.error, 0);
	CHECK_EQ(oh.unique, 78);
	struct fuse_write_out wo;
	memcpy(&wo, pay, sizeof(wo));
	CHECK_EQ(wo.size, 6000);
	CHECK(!strcmp(m.op, "write") && m.off == 100);
	CHECK_EQ(m.wlen, MIN((size_t)6000, sizeof(m.wbuf)));
	bool same = true;
	for (size_t i = 0; i < m.wlen; i++)
		same = same && m.wbuf[i] == (char)(uint8_t)(i * 7);
	CHECK(same);
	proto_session_free(s);
}

static void test_init(void)
{
	int err;
	struct proto_session *s = new_session(NULL);
	CHECK(!proto_session_ready(s));
	/* a request before INIT */
	rq_begin(&q, FUSE_GETATTR, 1);
	struct fuse_getattr_in gi = { 0 };
	rq_add(&q, &gi, sizeof(gi));
	send_rq(s, &q, &err);
	CHECK_EQ(err, -EIO);
	/* FORGET before INIT: no reply, no call */
	m.forgets = 0;
	rq_begin(&q, FUSE_FORGET, 5);
	struct fuse_forget_in fi = { 1 };
	rq_add(&q, &fi, sizeof(fi));
	CHECK_EQ(send_rq(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 0);

	CHECK_EQ(do_init(s, 7, 38, ALL_FLAGS, &err), sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out));
	CHECK_EQ(err, 0);
	struct fuse_init_out o;
	memcpy(&o, payload(), sizeof(o));
	CHECK_EQ(o.major, 7);
	CHECK_EQ(o.minor, 38);
	CHECK(o.flags & FUSE_ASYNC_READ);
	CHECK(o.flags & FUSE_DO_READDIRPLUS);
	CHECK(o.flags & FUSE_READDIRPLUS_AUTO);
	CHECK(o.flags & FUSE_HANDLE_KILLPRIV_V2);
	CHECK(o.flags & FUSE_SETXATTR_EXT);
	CHECK(o.flags & FUSE_FLOCK_LOCKS);
	CHECK(o.flags & FUSE_POSIX_LOCKS);
	CHECK(o.flags & FUSE_MAX_PAGES);
	CHECK(!(o.flags & FUSE_WRITEBACK_CACHE)); /* not asked for */
	CHECK(!(o.flags & FUSE_POSIX_ACL));
	CHECK(!(o.flags & FUSE_SUBMOUNTS));
	CHECK_EQ(o.max_write, 1 << 20);
	CHECK_EQ(o.max_pages, 256);
	CHECK_EQ(o.max_readahead, 131072);
	CHECK_EQ(o.time_gran, 1);
	CHECK(m.notifier != NULL);
	CHECK(proto_session_ready(s));
	/* a second INIT */
	do_init(s, 7, 38, ALL_FLAGS, &err);
	CHECK_EQ(err, -EIO);
	CHECK(proto_session_ready(s));
	proto_session_free(s);

	/* asked-for grants */
	struct proto_opts po = { .max_write = 65536, .writeback = true, .posix_acl = true, .announce_submounts = true,
				 .virtio = true, .borrow_fs = true };
	s = new_session(&po);
	do_init(s, 7, 38, ALL_FLAGS, &err);
	memcpy(&o, payload(), sizeof(o));
	CHECK(o.flags & FUSE_WRITEBACK_CACHE);
	CHECK(o.flags & FUSE_POSIX_ACL);
	CHECK(o.flags & FUSE_SUBMOUNTS);
	CHECK_EQ(o.max_write, 65536);
	CHECK_EQ(o.max_pages, 16);
	CHECK(m.notifier == NULL); /* virtio: no notifications */
	proto_session_free(s);

	/* not offered: not granted, even if asked for */
	s = new_session(&po);
	do_init(s, 7, 38, FUSE_ASYNC_READ, &err);
	memcpy(&o, payload(), sizeof(o));
	CHECK_EQ(o.flags, FUSE_ASYNC_READ);
	CHECK_EQ(o.max_pages, 0);
	CHECK_EQ(o.max_write, 65536);
	proto_session_free(s);

	/* old minors: the reply shrinks to what they know */
	s = new_session(NULL);
	CHECK_EQ(do_init(s, 7, 22, ALL_FLAGS, &err), sizeof(struct fuse_out_header) + FUSE_COMPAT_22_INIT_OUT_SIZE);
	CHECK_EQ(err, 0);
	proto_session_free(s);
	s = new_session(NULL);
	CHECK_EQ(do_init(s, 7, 4, 0, &err), sizeof(struct fuse_out_header) + FUSE_COMPAT_INIT_OUT_SIZE);
	proto_session_free(s);
	s = new_session(NULL);
	do_init(s, 7, 8, ALL_FLAGS, &err);
	CHECK_EQ(err, 0);
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "x");
	CHECK_EQ(send_rq(s, &q, &err), sizeof(struct fuse_out_header) + FUSE_COMPAT_ENTRY_OUT_SIZE);
	rq_begin(&q, FUSE_GETATTR, 1); /* no getattr_in before 7.9 */
	CHECK_EQ(send_rq(s, &q, &err), sizeof(struct fuse_out_header) + FUSE_COMPAT_ATTR_OUT_SIZE);
	CHECK_EQ(err, 0);
	proto_session_free(s);

	/* a newer major: answered with ours, INIT may come again */
	s = new_session(NULL);
	CHECK_EQ(do_init(s, 8, 0, 0, &err), sizeof(struct fuse_out_header) + FUSE_COMPAT_INIT_OUT_SIZE);
	CHECK_EQ(err, 0);
	memcpy(&o, payload(), 8);
	CHECK_EQ(o.major, 7);
	CHECK(!proto_session_ready(s));
	do_init(s, 7, 38, 0, &err);
	CHECK_EQ(err, 0);
	CHECK(proto_session_ready(s));
	proto_session_free(s);
	/* an older major */
	s = new_session(NULL);
	do_init(s, 6, 0, 0, &err);
	CHECK_EQ(err, -EPROTO);
	CHECK(proto_session_done(s));
	proto_session_free(s);
	/* a short INIT */
	s = new_session(NULL);
	rq_begin(&q, FUSE_INIT, 0);
	rq_add(&q, "\7\0\0", 3);
	send_rq(s, &q, &err);
	CHECK_EQ(err, -EINVAL);
	CHECK(!proto_session_ready(s));
	proto_session_free(s);
	/* the fs refuses init */
	s = new_session(NULL);
	m.ret = -EACCES;
	do_init(s, 7, 38, ALL_FLAGS, &err);
	m.ret = 0;
	CHECK_EQ(err, -EACCES);
	CHECK(proto_session_done(s));
	proto_session_free(s);
}

static void test_entry_ops(struct proto_session *s)
{
	int err;
	struct fuse_entry_out eo;
	ssize_t n;

	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "hello");
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(eo));
	CHECK_EQ(err, 0);
	memcpy(&eo, payload(), sizeof(eo));
	CHECK_EQ(eo.nodeid, 100);
	CHECK_EQ(eo.generation, 7);
	CHECK_EQ(eo.attr.ino, 1100);
	CHECK_EQ(eo.entry_valid, 1);
	CHECK_EQ(eo.entry_valid_nsec, 500000000);
	CHECK_EQ(eo.attr_valid, 2);
	CHECK_EQ(eo.attr.size, 42);
	CHECK(strcmp(m.name, "hello") == 0);
	/* lookup of ".." is allowed (export support) */
	rq_begin(&q, FUSE_LOOKUP, 100);
	rq_str(&q, "..");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	/* negative entry */
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "negative");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	memcpy(&eo, payload(), sizeof(eo));
	CHECK_EQ(eo.nodeid, 0);
	/* an error from the fs */
	m.ret = -ENOENT;
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "nope");
	CHECK_EQ(send_rq(s, &q, &err), sizeof(struct fuse_out_header));
	CHECK_EQ(err, -ENOENT);
	/* a bogus error from the fs is sent as EIO */
	m.ret = -5000;
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "nope");
	send_rq(s, &q, &err);
	CHECK_EQ(err, -EIO);
	m.ret = 0;

	/* FORGET / BATCH_FORGET: no replies */
	m.forgets = 0;
	m.nlookup_total = 0;
	rq_begin(&q, FUSE_FORGET, 100);
	struct fuse_forget_in fi = { 3 };
	rq_add(&q, &fi, sizeof(fi));
	CHECK_EQ(send_rq(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 1);
	CHECK_EQ(m.nlookup_total, 3);
	rq_begin(&q, FUSE_BATCH_FORGET, 0);
	struct fuse_batch_forget_in bi = { .count = 2 };
	struct fuse_forget_one one[2] = { { 100, 1 }, { 101, 2 } };
	rq_add(&q, &bi, sizeof(bi));
	rq_add(&q, one, sizeof(one));
	CHECK_EQ(send_rq(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 3);
	CHECK_EQ(m.nlookup_total, 6);
	/* virtio-fs's hiprio queue gives FORGET no reply room at all: it still reaches the fs */
	rq_begin(&q, FUSE_FORGET, 102);
	rq_add(&q, &fi, sizeof(fi));
	rq_end(&q);
	struct iovec fin = { q.b, q.len };
	CHECK_EQ(proto_handle(s, &fin, 1, NULL, 0), 0);
	CHECK_EQ(m.forgets, 4);
	/* ... while a request that takes a reply, without room for one, is refused before the fs sees it */
	m.op[0] = 0;
	rq_begin(&q, FUSE_GETATTR, 100);
	struct fuse_getattr_in gi0 = { 0 };
	rq_add(&q, &gi0, sizeof(gi0));
	rq_end(&q);
	struct iovec gin = { q.b, q.len };
	CHECK_EQ(proto_handle(s, &gin, 1, NULL, 0), -ENOBUFS);
	CHECK(m.op[0] == 0);

	/* GETATTR with and without fh */
	rq_begin(&q, FUSE_GETATTR, 100);
	struct fuse_getattr_in gi = { .getattr_flags = FUSE_GETATTR_FH, .fh = 9 };
	rq_add(&q, &gi, sizeof(gi));
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_attr_out));
	struct fuse_attr_out ao;
	memcpy(&ao, payload(), sizeof(ao));
	CHECK_EQ(ao.attr.ino, 4242);
	CHECK_EQ(ao.attr_valid, 3);
	CHECK_EQ(ao.attr.mtimensec, 5);
	CHECK(m.has_fh);
	CHECK_EQ(m.fh, 9);

	/* SETATTR: every valid bit */
	struct fuse_setattr_in si = {
		.valid = FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME | FATTR_FH |
			 FATTR_LOCKOWNER | FATTR_CTIME | FATTR_KILL_SUIDGID,
		.fh = 5,
		.size = 1234,
		.atime = 10,
		.atimensec = 11,
		.mtime = 12,
		.mtimensec = 13,
		.ctime = 14,
		.mode = 0600,
		.uid = 7,
		.gid = 8,
	};
	rq_begin(&q, FUSE_SETATTR, 100);
	rq_add(&q, &si, sizeof(si));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.to_set, FS_SET_MODE | FS_SET_UID | FS_SET_GID | FS_SET_SIZE | FS_SET_ATIME | FS_SET_MTIME |
				   FS_SET_FH | FS_SET_LOCKOWNER | FS_SET_CTIME | FS_SET_KILL_SUIDGID);
	CHECK_EQ(m.attr.st_size, 1234);
	CHECK_EQ(m.attr.st_atim.tv_sec, 10);
	CHECK_EQ(m.attr.st_mtim.tv_nsec, 13);
	CHECK_EQ(m.attr.st_mode, 0600);
	CHECK_EQ(m.attr.st_uid, 7);
	CHECK_EQ(m.fh, 5);
	si.valid = FATTR_ATIME_NOW | FATTR_MTIME_NOW | FATTR_ATIME | FATTR_MTIME;
	si.atimensec = 2000000000u; /* ignored with *_NOW */
	rq_begin(&q, FUSE_SETATTR, 100);
	rq_add(&q, &si, sizeof(si));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.to_set, FS_SET_ATIME | FS_SET_MTIME | FS_SET_ATIME_NOW | FS_SET_MTIME_NOW);

	/* READLINK */
	rq_begin(&q, FUSE_READLINK, 103);
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 9);
	CHECK(memcmp(payload(), "../target", 9) == 0);

	/* SYMLINK: name then target */
	rq_begin(&q, FUSE_SYMLINK, 1);
	rq_str(&q, "link");
	rq_str(&q, "/etc/passwd");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "symlink") == 0 && strcmp(m.name, "link") == 0 && strcmp(m.name2, "/etc/passwd") == 0);

	/* MKNOD / MKDIR with umask (DONT_MASK granted) */
	struct fuse_mknod_in mi = { .mode = S_IFIFO | 0666, .rdev = 0, .umask = 022 };
	rq_begin(&q, FUSE_MKNOD, 1);
	rq_add(&q, &mi, sizeof(mi));
	rq_str(&q, "fifo");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "mknod") == 0);
	CHECK_EQ(m.mode, S_IFIFO | 0666);
	CHECK_EQ(m.umask, 022);
	struct fuse_mkdir_in di = { .mode = 0777, .umask = 027 };
	rq_begin(&q, FUSE_MKDIR, 1);
	rq_add(&q, &di, sizeof(di));
	rq_str(&q, "dir");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.umask, 027);
	memcpy(&eo, payload(), sizeof(eo));
	CHECK_EQ(eo.nodeid, 102);
	/* an fs that returns success without a node: EIO, never nodeid 0 as a created entry */
	m.entry_without_ino = true;
	rq_begin(&q, FUSE_MKDIR, 1);
	rq_add(&q, &di, sizeof(di));
	rq_str(&q, "dir2");
	send_rq(s, &q, &err);
	CHECK_EQ(err, -EIO);
	m.entry_without_ino = false;

	/* UNLINK, RMDIR */
	rq_begin(&q, FUSE_UNLINK, 1);
	rq_str(&q, "f");
	CHECK_EQ(send_rq(s, &q, &err), sizeof(struct fuse_out_header));
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "unlink") == 0);
	rq_begin(&q, FUSE_RMDIR, 1);
	rq_str(&q, "d");
	send_rq(s, &q, &err);
	CHECK(strcmp(m.op, "rmdir") == 0 && err == 0);

	/* RENAME, RENAME2 */
	struct fuse_rename_in ri = { .newdir = 55 };
	rq_begin(&q, FUSE_RENAME, 1);
	rq_add(&q, &ri, sizeof(ri));
	rq_str(&q, "a");
	rq_str(&q, "b");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.name, "a") == 0 && strcmp(m.name2, "b") == 0);
	CHECK_EQ(m.ino2, 55);
	CHECK_EQ(m.flags, 0);
	unsigned rflags[] = { RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT };
	for (size_t i = 0; i < 3; i++) {
		struct fuse_rename2_in r2 = { .newdir = 56, .flags = rflags[i] };
		rq_begin(&q, FUSE_RENAME2, 1);
		rq_add(&q, &r2, sizeof(r2));
		rq_str(&q, "a");
		rq_str(&q, "b");
		send_rq(s, &q, &err);
		CHECK_EQ(err, 0);
		CHECK_EQ(m.flags, (int)rflags[i]);
	}

	/* LINK */
	struct fuse_link_in li = { .oldnodeid = 100 };
	rq_begin(&q, FUSE_LINK, 1);
	rq_add(&q, &li, sizeof(li));
	rq_str(&q, "hard");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.ino, 100);
	CHECK_EQ(m.ino2, 1);

	/* STATFS */
	rq_begin(&q, FUSE_STATFS, 1);
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_statfs_out));
	struct fuse_statfs_out so;
	memcpy(&so, payload(), sizeof(so));
	CHECK_EQ(so.st.blocks, 1000);
	CHECK_EQ(so.st.namelen, 255);

	/* ACCESS */
	struct fuse_access_in ai = { .mask = R_OK | X_OK };
	rq_begin(&q, FUSE_ACCESS, 1);
	rq_add(&q, &ai, sizeof(ai));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.mask, R_OK | X_OK);

	/* SYNCFS */
	struct fuse_syncfs_in sy = { 0 };
	rq_begin(&q, FUSE_SYNCFS, 1);
	rq_add(&q, &sy, sizeof(sy));
	send_rq(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "syncfs") == 0);
}

static void test_file_ops(struct proto_session *s)
{
	int err;
	ssize_t n;

	struct fuse_open_in oi = { .flags = O_RDWR | O_CREAT | O_EXCL | O_NOCTTY };
	rq_begin(&q, FUSE_OPEN, 100);
	rq_add(&q, &oi, sizeof(oi));
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_open_out));
	struct fuse_open_out oo;
	memcpy(&oo, payload(), sizeof(oo));
	CHECK_EQ(oo.fh, 77);
	CHECK_EQ(oo.open_flags, FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO);
	CHECK_EQ(m.flags, O_RDWR); /* creation flags never reach the fs through OPEN */

	/* OPEN with O_TRUNC by an unprivileged caller: suid/sgid cleared through setattr (killpriv v2) */
	oi = (struct fuse_open_in){ .flags = O_WRONLY | O_TRUNC, .open_flags = FUSE_OPEN_KILL_SUIDGID };
	rq_begin(&q, FUSE_OPEN, 100);
	rq_add(&q, &oi, sizeof(oi));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "setattr") == 0);
	CHECK_EQ(m.to_set, FS_SET_KILL_SUIDGID | FS_SET_FH);

	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0666, .umask = 022 };
	rq_begin(&q, FUSE_CREATE, 1);
	rq_add(&q, &ci, sizeof(ci));
	rq_str(&q, "new");
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
	CHECK_EQ(m.umask, 022);
	CHECK(strcmp(m.name, "new") == 0);
	memcpy(&oo, (const uint8_t *)payload() + sizeof(struct fuse_entry_out), sizeof(oo));
	CHECK_EQ(oo.fh, 78);

	rq_begin(&q, FUSE_TMPFILE, 1);
	rq_add(&q, &ci, sizeof(ci));
	rq_str(&q, "/");
	send_rq(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "tmpfile") == 0);

	/* READ straight into the reply */
	struct fuse_read_in rd = { .fh = 77, .offset = 4096, .size = 10000 };
	rq_begin(&q, FUSE_READ, 100);
	rq_add(&q, &rd, sizeof(rd));
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 10000);
	CHECK_EQ(m.off, 4096);
	CHECK_EQ(((const uint8_t *)payload())[9999], 9999 & 0xff);

	/* WRITE: payload handed over in place */
	struct fuse_write_in wi = { .fh = 77, .offset = 10, .size = 6, .write_flags = FUSE_WRITE_KILL_SUIDGID };
	rq_begin(&q, FUSE_WRITE, 100);
	rq_add(&q, &wi, sizeof(wi));
	rq_add(&q, "abcdef", 6);
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_write_out));
	CHECK_EQ(m.wlen, 6);
	CHECK(memcmp(m.wbuf, "abcdef", 6) == 0);
	CHECK_EQ(m.write_flags, FS_WRITE_KILL_SUIDGID);
	struct fuse_write_out wo;
	memcpy(&wo, payload(), sizeof(wo));
	CHECK_EQ(wo.size, 6);

	struct fuse_flush_in fl = { .fh = 77 };
	rq_begin(&q, FUSE_FLUSH, 100);
	rq_add(&q, &fl, sizeof(fl));
	send_rq(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "flush") == 0);

	struct fuse_fsync_in fs = { .fh = 77, .fsync_flags = FUSE_FSYNC_FDATASYNC };
	rq_begin(&q, FUSE_FSYNC, 100);
	rq_add(&q, &fs, sizeof(fs));
	send_rq(s, &q, &err);
	CHECK(err == 0 && m.flags == 1);

	struct fuse_fallocate_in fa = { .fh = 77, .offset = 100, .length = 200, .mode = 0 };
	rq_begin(&q, FUSE_FALLOCATE, 100);
	rq_add(&q, &fa, sizeof(fa));
	send_rq(s, &q, &err);
	CHECK(err == 0 && m.off == 100 && m.size == 200);

	struct fuse_lseek_in ls = { .fh = 77, .offset = 5, .whence = SEEK_DATA };
	rq_begin(&q, FUSE_LSEEK, 100);
	rq_add(&q, &ls, sizeof(ls));
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_lseek_out));
	struct fuse_lseek_out lo;
	memcpy(&lo, payload(), sizeof(lo));
	CHECK_EQ(lo.offset, 6);

	struct fuse_copy_file_range_in cf = { .fh_in = 77, .off_in = 0, .nodeid_out = 101, .fh_out = 78,
					      .off_out = 0, .len = 5000 };
	rq_begin(&q, FUSE_COPY_FILE_RANGE, 100);
	rq_add(&q, &cf, sizeof(cf));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	memcpy(&wo, payload(), sizeof(wo));
	CHECK_EQ(wo.size, 5000);
	CHECK(m.ino == 100 && m.ino2 == 101);

	struct fuse_release_in rl = { .fh = 77, .release_flags = FUSE_RELEASE_FLOCK_UNLOCK };
	rq_begin(&q, FUSE_RELEASE, 100);
	rq_add(&q, &rl, sizeof(rl));
	send_rq(s, &q, &err);
	CHECK(err == 0 && m.fh == 77 && m.is_flock);
}

static void test_dir_ops(struct proto_session *s)
{
	int err;
	ssize_t n;
	struct fuse_open_in oi = { .flags = O_RDONLY | O_DIRECTORY };
	rq_begin(&q, FUSE_OPENDIR, 1);
	rq_add(&q, &oi, sizeof(oi));
	send_rq(s, &q, &err);
	struct fuse_open_out oo;
	memcpy(&oo, payload(), sizeof(oo));
	CHECK(err == 0 && oo.fh == 88 && oo.open_flags == FOPEN_CACHE_DIR);

	m.readdir_entries = 1000;
	struct fuse_read_in rd = { .fh = 88, .offset = 0, .size = 4096 };
	rq_begin(&q, FUSE_READDIR, 1);
	rq_add(&q, &rd, sizeof(rd));
	n = send_rq(s, &q, &err);
	CHECK(n > (ssize_t)sizeof(struct fuse_out_header) && n <= (ssize_t)(sizeof(struct fuse_out_header) + 4096));
	/* walk the entries: names and offsets in order, everything inside the reply */
	size_t pos = 0, len = (size_t)n - sizeof(struct fuse_out_header);
	int count = 0;
	while (pos < len) {
		struct fuse_dirent d;
		memcpy(&d, (const uint8_t *)payload() + pos, sizeof(d));
		char want[64];
		snprintf(want, sizeof(want), "entry-%d", count);
		CHECK_EQ(d.namelen, strlen(want));
		CHECK(memcmp((const uint8_t *)payload() + pos + FUSE_NAME_OFFSET, want, d.namelen) == 0);
		CHECK_EQ(d.off, (uint64_t)count + 1);
		pos += FUSE_DIRENT_SIZE(&d);
		count++;
	}
	CHECK_EQ(pos, len);
	CHECK(count > 50);

	rq_begin(&q, FUSE_READDIRPLUS, 1);
	rd.offset = 3;
	rq_add(&q, &rd, sizeof(rd));
	n = send_rq(s, &q, &err);
	CHECK(strcmp(m.op, "readdirplus") == 0 && m.off == 3);
	struct fuse_direntplus dp;
	memcpy(&dp, payload(), sizeof(dp));
	CHECK_EQ(dp.entry_out.nodeid, 203);
	CHECK_EQ(dp.dirent.off, 4);
	/* an error after some entries: the entries are returned (their lookups were taken) */
	m.ret = -EIO;
	rq_begin(&q, FUSE_READDIRPLUS, 1);
	rq_add(&q, &rd, sizeof(rd));
	n = send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(n > (ssize_t)sizeof(struct fuse_out_header));
	m.readdir_entries = 0;
	rq_begin(&q, FUSE_READDIRPLUS, 1);
	rq_add(&q, &rd, sizeof(rd));
	send_rq(s, &q, &err);
	CHECK_EQ(err, -EIO);
	m.ret = 0;

	struct fuse_fsync_in fs = { .fh = 88 };
	rq_begin(&q, FUSE_FSYNCDIR, 1);
	rq_add(&q, &fs, sizeof(fs));
	send_rq(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "fsyncdir") == 0);
	struct fuse_release_in rl = { .fh = 88 };
	rq_begin(&q, FUSE_RELEASEDIR, 1);
	rq_add(&q, &rl, sizeof(rl));
	send_rq(s, &q, &err);
	CHECK(err == 0 && m.fh == 88 && strcmp(m.op, "releasedir") == 0);
}

static void test_xattr_lock_ops(struct proto_session *s)
{
	int err;
	ssize_t n;
	/* SETXATTR_EXT was negotiated: 16-byte in-struct */
	struct fuse_setxattr_in sx = { .size = 3, .flags = XATTR_CREATE, .setxattr_flags = FUSE_SETXATTR_ACL_KILL_SGID };
	rq_begin(&q, FUSE_SETXATTR, 100);
	rq_add(&q, &sx, sizeof(sx));
	rq_str(&q, "user.x");
	rq_add(&q, "v\0w", 3);
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.name, "user.x") == 0 && m.size == 3 && memcmp(m.wbuf, "v\0w", 3) == 0);
	CHECK_EQ(m.flags, XATTR_CREATE);
	CHECK_EQ(m.sflags, FS_SETXATTR_ACL_KILL_SGID);

	struct fuse_getxattr_in gx = { .size = 0 };
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, "user.x");
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_getxattr_out));
	struct fuse_getxattr_out go;
	memcpy(&go, payload(), sizeof(go));
	CHECK_EQ(go.size, 5);
	gx.size = 100;
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, "user.x");
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 5);
	CHECK(memcmp(payload(), "value", 5) == 0);
	gx.size = 2;
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, "user.x");
	send_rq(s, &q, &err);
	CHECK_EQ(err, -ERANGE);

	gx.size = 100;
	rq_begin(&q, FUSE_LISTXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 8);

	rq_begin(&q, FUSE_REMOVEXATTR, 100);
	rq_str(&q, "user.x");
	send_rq(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "removexattr") == 0);

	struct fuse_lk_in lk = { .fh = 77, .owner = 1, .lk = { .start = 0, .end = INT64_MAX, .type = F_WRLCK } };
	rq_begin(&q, FUSE_GETLK, 100);
	rq_add(&q, &lk, sizeof(lk));
	n = send_rq(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_lk_out));
	struct fuse_lk_out lo;
	memcpy(&lo, payload(), sizeof(lo));
	CHECK_EQ(lo.lk.type, F_WRLCK);
	CHECK_EQ(lo.lk.start, 10);
	CHECK_EQ(lo.lk.end, INT64_MAX);
	CHECK_EQ(lo.lk.pid, 0); /* an OFD lock's -1 is not a pid the client could map */
	CHECK_EQ(m.lk.l_len, 0);

	lk.lk = (struct fuse_file_lock){ .start = 5, .end = 14, .type = F_RDLCK };
	rq_begin(&q, FUSE_SETLK, 100);
	rq_add(&q, &lk, sizeof(lk));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(!m.sleep_lock && !m.is_flock);
	CHECK_EQ(m.lk.l_start, 5);
	CHECK_EQ(m.lk.l_len, 10);
	lk.lk_flags = FUSE_LK_FLOCK;
	rq_begin(&q, FUSE_SETLKW, 100);
	rq_add(&q, &lk, sizeof(lk));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(m.sleep_lock && m.is_flock);
}

static void test_refused(struct proto_session *s)
{
	int err;
	uint32_t ops[] = { FUSE_IOCTL, FUSE_POLL, FUSE_BMAP, FUSE_SETUPMAPPING, FUSE_REMOVEMAPPING, 0, 3000,
			   FUSE_NOTIFY_REPLY, CUSE_INIT, 0xffffffffu };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		rq_begin(&q, ops[i], 1);
		uint8_t zeros[64] = { 0 };
		rq_add(&q, zeros, sizeof(zeros));
		CHECK_EQ(send_rq(s, &q, &err), sizeof(struct fuse_out_header));
		CHECK_EQ(err, -ENOSYS);
	}
}

struct lock_thread {
	struct proto_session *s;
	struct rq rq;
	int err;
};

static void *lock_main(void *arg)
{
	struct lock_thread *t = arg;
	static uint8_t ob[4096];
	struct iovec in = { t->rq.b, t->rq.len }, out = { ob, sizeof(ob) };
	ssize_t n = proto_handle(t->s, &in, 1, &out, 1);
	struct fuse_out_header oh = { 0 };
	if (n >= 16)
		memcpy(&oh, ob, sizeof(oh));
	t->err = n >= 16 ? oh.error : 1;
	return NULL;
}

static void test_interrupt(struct proto_session *s)
{
	int err;
	/* a SETLKW that sleeps until interrupted */
	static struct lock_thread t;
	t.s = s;
	struct fuse_lk_in lk = { .fh = 1, .owner = 2, .lk = { .start = 999, .end = 1000, .type = F_WRLCK } };
	memset(t.rq.b, 0, sizeof(struct fuse_in_header));
	struct fuse_in_header h = { .opcode = FUSE_SETLKW, .unique = 0x5555, .nodeid = 100 };
	memcpy(t.rq.b, &h, sizeof(h));
	t.rq.len = sizeof(h);
	rq_add(&t.rq, &lk, sizeof(lk));
	rq_end(&t.rq);
	pthread_t th;
	pthread_create(&th, NULL, lock_main, &t);
	usleep(50000);
	rq_begin(&q, FUSE_INTERRUPT, 0);
	struct fuse_interrupt_in ii = { .unique = 0x5555 };
	rq_add(&q, &ii, sizeof(ii));
	CHECK_EQ(send_rq(s, &q, &err), 0); /* never answered */
	pthread_join(th, NULL);
	CHECK_EQ(t.err, -EINTR);

	/* the interrupt that arrives before its request is registered */
	rq_begin(&q, FUSE_INTERRUPT, 0);
	ii.unique = 0x6666;
	rq_add(&q, &ii, sizeof(ii));
	CHECK_EQ(send_rq(s, &q, &err), 0);
	h.unique = 0x6666;
	memcpy(t.rq.b, &h, sizeof(h));
	rq_end(&t.rq);
	lock_main(&t);
	CHECK_EQ(t.err, -EINTR);
	/* an interrupt for nobody: dropped, harmless */
	rq_begin(&q, FUSE_INTERRUPT, 0);
	ii.unique = 0x7777;
	rq_add(&q, &ii, sizeof(ii));
	CHECK_EQ(send_rq(s, &q, &err), 0);
}

static void test_notify(struct proto_session *s)
{
	CHECK(m.notifier != NULL);
	if (!m.notifier)
		return;
	notes.calls = 0;
	CHECK_EQ(m.notifier->inval_entry(m.notifier, 1, "abc", 3), 0);
	CHECK_EQ(notes.calls, 1);
	struct fuse_out_header oh;
	memcpy(&oh, notes.buf, sizeof(oh));
	CHECK_EQ(oh.len, notes.len);
	CHECK_EQ(oh.error, FUSE_NOTIFY_INVAL_ENTRY);
	CHECK_EQ(oh.unique, 0);
	struct fuse_notify_inval_entry_out eo;
	memcpy(&eo, notes.buf + sizeof(oh), sizeof(eo));
	CHECK_EQ(eo.parent, 1);
	CHECK_EQ(eo.namelen, 3);
	CHECK(memcmp(notes.buf + sizeof(oh) + sizeof(eo), "abc", 4) == 0);
	CHECK_EQ(m.notifier->inval_entry(m.notifier, 1, "a/b", 3), -EINVAL);
	CHECK_EQ(m.notifier->inval_entry(m.notifier, 1, "", 0), -EINVAL);
	CHECK_EQ(m.notifier->inval_inode(m.notifier, 100, 0, -1), 0);
	memcpy(&oh, notes.buf, sizeof(oh));
	CHECK_EQ(oh.error, FUSE_NOTIFY_INVAL_INODE);
	struct fuse_notify_inval_inode_out io;
	memcpy(&io, notes.buf + sizeof(oh), sizeof(io));
	CHECK_EQ(io.ino, 100);
	CHECK_EQ(io.len, -1);
}

static void test_destroy(void)
{
	int err;
	struct proto_session *s = ready_session();
	m.destroyed = false;
	rq_begin(&q, FUSE_DESTROY, 0);
	CHECK_EQ(send_rq(s, &q, &err), sizeof(struct fuse_out_header));
	CHECK_EQ(err, 0);
	CHECK(m.destroyed);
	CHECK(proto_session_done(s));
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "x");
	send_rq(s, &q, &err);
	CHECK_EQ(err, -EIO);
	m.destroyed = false;
	proto_session_free(s);
	CHECK(!m.destroyed); /* destroyed once */

	/* a client that goes away without DESTROY */
	s = ready_session();
	proto_session_free(s);
	CHECK(m.destroyed);
}

static void test_no_dont_mask(void)
{
	int err;
	struct proto_session *s = new_session(NULL);
	do_init(s, 7, 38, FUSE_ASYNC_READ, &err);
	struct fuse_mkdir_in di = { .mode = 0777, .umask = 027 };
	rq_begin(&q, FUSE_MKDIR, 1);
	rq_add(&q, &di, sizeof(di));
	rq_str(&q, "dir");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.umask, 0); /* the client applied the umask itself */
	/* without SETXATTR_EXT the in-struct is 8 bytes */
	struct {
		uint32_t size, flags;
	} sx = { 2, 0 };
	rq_begin(&q, FUSE_SETXATTR, 100);
	rq_add(&q, &sx, sizeof(sx));
	rq_str(&q, "user.q");
	rq_add(&q, "hi", 2);
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.name, "user.q") == 0 && m.size == 2);
	/* without killpriv v2 no setattr follows an O_TRUNC open */
	struct fuse_open_in oi = { .flags = O_WRONLY | O_TRUNC, .open_flags = FUSE_OPEN_KILL_SUIDGID };
	rq_begin(&q, FUSE_OPEN, 100);
	rq_add(&q, &oi, sizeof(oi));
	send_rq(s, &q, &err);
	CHECK(strcmp(m.op, "open") == 0);
	proto_session_free(s);
}

/* open_flags of the reply to an OPEN with flags (and of a CREATE's open part with flags | O_CREAT) */
static uint32_t open_reply_flags(struct proto_session *s, uint32_t flags, uint32_t *ret_create)
{
	int err;
	struct fuse_open_in oi = { .flags = flags };
	rq_begin(&q, FUSE_OPEN, 100);
	rq_add(&q, &oi, sizeof(oi));
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	struct fuse_open_out oo;
	memcpy(&oo, payload(), sizeof(oo));
	struct fuse_create_in ci = { .flags = flags | O_CREAT, .mode = S_IFREG | 0644 };
	rq_begin(&q, FUSE_CREATE, 1);
	rq_add(&q, &ci, sizeof(ci));
	rq_str(&q, "new");
	send_rq(s, &q, &err);
	CHECK_EQ(err, 0);
	struct fuse_open_out co;
	memcpy(&co, (const char *)payload() + sizeof(struct fuse_entry_out), sizeof(co));
	*ret_create = co.open_flags;
	return oo.open_flags;
}

/*
 * --locks client: POSIX and flock locks are not granted (each on its own), and an open that needs no FLUSH
 * (a read-only one here: the mock has no backing files) says so with FOPEN_NOFLUSH; a writable one keeps
 * FLUSH, and so does every open while the server holds POSIX locks or the writeback cache is on.
 */
static void test_local_locks(void)
{
	uint32_t c;
	struct proto_opts po = { .local_posix_locks = true, .local_flock = true };
	struct proto_session *s = new_session(&po);
	uint64_t granted = init64(s, ALL_FLAGS);
	CHECK(!(granted & FUSE_POSIX_LOCKS));
	CHECK(!(granted & FUSE_FLOCK_LOCKS));
	CHECK(granted & FUSE_ASYNC_READ); /* the rest as before */
	/* (the mock's open asks for KEEP_CACHE and DIRECT_IO, its create for nothing) */
	CHECK_EQ(open_reply_flags(s, O_RDONLY, &c), FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO | FOPEN_NOFLUSH);
	CHECK_EQ(c, FOPEN_NOFLUSH);
	CHECK_EQ(open_reply_flags(s, O_RDWR, &c), FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO);
	CHECK_EQ(c, 0);
	CHECK_EQ(open_reply_flags(s, O_WRONLY, &c), FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO);
	proto_session_free(s);

	/* one kind each */
	po = (struct proto_opts){ .local_flock = true };
	s = new_session(&po);
	granted = init64(s, ALL_FLAGS);
	CHECK(granted & FUSE_POSIX_LOCKS);
	CHECK(!(granted & FUSE_FLOCK_LOCKS));
	CHECK_EQ(open_reply_flags(s, O_RDONLY, &c), FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO); /* FLUSH drops POSIX locks */
	proto_session_free(s);
	po = (struct proto_opts){ .local_posix_locks = true };
	s = new_session(&po);
	granted = init64(s, ALL_FLAGS);
	CHECK(!(granted & FUSE_POSIX_LOCKS));
	CHECK(granted & FUSE_FLOCK_LOCKS);
	CHECK_EQ(open_reply_flags(s, O_RDONLY, &c), FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO | FOPEN_NOFLUSH);
	proto_session_free(s);

	/* with the writeback cache the client ignores NOFLUSH (it flushes its cache at close): not sent */
	po = (struct proto_opts){ .local_posix_locks = true, .local_flock = true, .writeback = true };
	s = new_session(&po);
	granted = init64(s, ALL_FLAGS);
	CHECK(granted & FUSE_WRITEBACK_CACHE);
	CHECK_EQ(open_reply_flags(s, O_RDONLY, &c), FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO);
	proto_session_free(s);

	/* the default: every open keeps FLUSH */
	s = new_session(NULL);
	granted = init64(s, ALL_FLAGS);
	CHECK(granted & FUSE_POSIX_LOCKS);
	CHECK(granted & FUSE_FLOCK_LOCKS);
	CHECK_EQ(open_reply_flags(s, O_RDONLY, &c), FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO);
	CHECK_EQ(c, 0);
	proto_session_free(s);
}

static void test_rooms(void)
{
	struct proto_session *s = new_session(NULL);
	CHECK(proto_request_room(s) >= sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in) + (1u << 20));
	CHECK(proto_request_room(s) >= 8192);
	CHECK(proto_reply_room(s) >= sizeof(struct fuse_out_header) + (1u << 20));
	proto_session_free(s);
}

int main(void)
{
	test_init();
	test_uring();
	test_rooms();
	struct proto_session *s = ready_session();
	test_entry_ops(s);
	test_file_ops(s);
	test_dir_ops(s);
	test_xattr_lock_ops(s);
	test_refused(s);
	test_malformed(s);
	test_scattered(s);
	test_interrupt(s);
	test_notify(s);
	proto_session_free(s);
	test_destroy();
	test_no_dont_mask();
	test_local_locks();
	if (failures) {
		fprintf(stderr, "test-proto: %d failures\n", failures);
		return 1;
	}
	printf("test-proto: all passed\n");
	return 0;
}
