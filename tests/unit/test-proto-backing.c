/* SPDX-License-Identifier: MIT */
/*
 * Kernel FUSE passthrough, the protocol side, with a fake transport hook that hands out backing ids and
 * counts the live ones: INIT grants FUSE_PASSTHROUGH only when every condition holds; open replies carry
 * FOPEN_PASSTHROUGH and the id with the open flags masked; one id per node across its opens, closed on the
 * last RELEASE; EPERM turns passthrough off for the session; a node with an open served without passthrough
 * never gets a passthrough open; ids the client left registered are closed with the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>

#include "proto/fuse-compat.h"
#include "proto/proto.h"

#include "proto-test.h"

int failures;

/* ---- the fake transport: ids 1, 2, 3... ---- */

#define MAX_IDS 64
static struct {
	int fail;         /* what backing_open returns instead of an id (0: succeed) */
	int fail_fd;      /* ... only for this fd (-1: for every fd) */
	int opens, closes; /* hook calls */
	int next;
	bool live[MAX_IDS];
	int fd_of[MAX_IDS];
	int bad_close;    /* closes of an id that was not live */
} tr;

static int live_ids(void)
{
	int n = 0;
	for (int i = 0; i < MAX_IDS; i++)
		n += tr.live[i];
	return n;
}

static int fake_open(void *data, int fd)
{
	tr.opens++;
	if (tr.fail && (tr.fail_fd < 0 || tr.fail_fd == fd))
		return tr.fail;
	int id = ++tr.next;
	if (id >= MAX_IDS)
		return -ENOSPC;
	tr.live[id] = true;
	tr.fd_of[id] = fd;
	return id;
}

static int fake_close(void *data, int id)
{
	tr.closes++;
	if (id <= 0 || id >= MAX_IDS || !tr.live[id]) {
		tr.bad_close++;
		return -EINVAL;
	}
	tr.live[id] = false;
	return 0;
}

/* ---- the fake fs: node n's backing fd is 100 + n; node 50 is virtual (no backing fd) ---- */

#define VIRTUAL_NODE 50
#define CREATED_NODE 60
static uint64_t next_fh = 1;
static int releases;
static uint64_t want_writeback; /* what init keeps of FS_CAP_WRITEBACK_CACHE */

static int f_init(struct fs *fs, struct fs_conn *c)
{
	c->want |= want_writeback & c->capable;
	return 0;
}
static int f_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	*ret = (struct fs_open){ .fh = next_fh++,
				 .flags = FS_OPEN_KEEP_CACHE | FS_OPEN_DIRECT_IO | FS_OPEN_NOFLUSH,
				 .backing_fd = ino == VIRTUAL_NODE ? -1 : (int)(100 + ino) };
	return 0;
}
static int f_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    int flags, struct fs_entry *e, struct fs_open *o)
{
	memset(e, 0, sizeof(*e));
	e->ino = CREATED_NODE;
	e->generation = 1;
	e->attr.st_mode = S_IFREG | 0644;
	e->attr.st_nlink = 1;
	return f_open(fs, ctx, CREATED_NODE, flags, o);
}
static void f_release(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int flags,
		      uint64_t lock_owner, bool flock_release)
{
	releases++;
}
static void f_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
}

static const struct fs_ops f_ops = {
	.init = f_init, .open = f_open, .create = f_create, .release = f_release, .forget = f_forget,
};
static struct fs f_fs = { .ops = &f_ops, .kind = "fake", .root = FS_ROOT_ID };

/* ---- requests ---- */

static uint8_t in[4096];
static uint8_t out[1 << 21];
static uint64_t unique = 1;

/* Send opcode on nodeid with arg; the reply's error (0 ok), payload at out + header. */
static int send_req(struct proto_session *s, uint32_t opcode, uint64_t nodeid, const void *arg, size_t len)
{
	struct fuse_in_header h = { .len = (uint32_t)(sizeof(h) + len), .opcode = opcode, .unique = unique++,
				    .nodeid = nodeid, .uid = 0, .gid = 0, .pid = 1 };
	memcpy(in, &h, sizeof(h));
	memcpy(in + sizeof(h), arg, len);
	struct iovec iv = { in, h.len }, ov = { out, sizeof(out) };
	ssize_t n = proto_handle(s, &iv, 1, &ov, 1);
	if (n < (ssize_t)sizeof(struct fuse_out_header))
		return 1;
	struct fuse_out_header oh;
	memcpy(&oh, out, sizeof(oh));
	return oh.error;
}

static struct proto_session *session(bool passthrough, bool writeback, bool hooks)
{
	struct proto_opts o = { .max_write = 1 << 20, .borrow_fs = true, .passthrough = passthrough,
				.writeback = writeback };
	struct proto_transport t = { 0 };
	if (hooks) {
		t.backing_open = fake_open;
		t.backing_close = fake_close;
	}
	struct proto_session *s = NULL;
	CHECK_EQ(proto_session_new(&f_fs, &o, &t, &s), 0);
	return s;
}

/* INIT offering everything (FUSE_PASSTHROUGH if offer_pt); the granted 64-bit flags, max_stack_depth. */
static uint64_t init(struct proto_session *s, bool offer_pt, uint32_t *ret_depth)
{
	uint64_t offer = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
			 FUSE_WRITEBACK_CACHE | FUSE_MAX_PAGES | FUSE_INIT_EXT | FUSE_DO_READDIRPLUS |
			 (offer_pt ? FUSE_PASSTHROUGH : 0);
	struct fuse_init_in ii = { .major = 7, .minor = 45, .max_readahead = 131072, .flags = (uint32_t)offer,
				   .flags2 = (uint32_t)(offer >> 32) };
	CHECK_EQ(send_req(s, FUSE_INIT, 0, &ii, sizeof(ii)), 0);
	struct fuse_init_out io;
	memcpy(&io, out + sizeof(struct fuse_out_header), sizeof(io));
	if (ret_depth)
		*ret_depth = PROTO_INIT_OUT_MAX_STACK_DEPTH(&io);
	return (uint64_t)io.flags | (uint64_t)io.flags2 << 32;
}

/* OPEN nodeid with open(2) flags: *ret_flags and the backing id of the reply (0 if not passthrough). */
static int do_open_flags(struct proto_session *s, uint64_t nodeid, uint32_t flags, uint32_t *ret_flags)
{
	struct fuse_open_in oi = { .flags = flags };
	CHECK_EQ(send_req(s, FUSE_OPEN, nodeid, &oi, sizeof(oi)), 0);
	struct proto_open_out oo;
	memcpy(&oo, out + sizeof(struct fuse_out_header), sizeof(oo));
	*ret_flags = oo.open_flags;
	if (oo.open_flags & FOPEN_PASSTHROUGH) {
		/* never an id that is not registered, and always registered for this node's file */
		CHECK(oo.backing_id > 0 && oo.backing_id < MAX_IDS && tr.live[oo.backing_id]);
		return oo.backing_id;
	}
	CHECK_EQ(oo.backing_id, 0);
	return 0;
}

static int do_open(struct proto_session *s, uint64_t nodeid, uint32_t *ret_flags)
{
	return do_open_flags(s, nodeid, O_RDWR, ret_flags);
}

static void do_release(struct proto_session *s, uint64_t nodeid)
{
	struct fuse_release_in ri = { .fh = 1 };
	CHECK_EQ(send_req(s, FUSE_RELEASE, nodeid, &ri, sizeof(ri)), 0);
}

static void reset(void)
{
	memset(&tr, 0, sizeof(tr));
	tr.fail_fd = -1;
	want_writeback = 0;
}

static void test_init(void)
{
	uint32_t depth = 0;
	struct proto_session *s;

	reset();
	s = session(true, false, true);
	CHECK(init(s, true, &depth) & FUSE_PASSTHROUGH);
	CHECK_EQ(depth, 1);
	proto_session_free(s);

	/* not asked for */
	s = session(false, false, true);
	CHECK(!(init(s, true, &depth) & FUSE_PASSTHROUGH));
	CHECK_EQ(depth, 0);
	proto_session_free(s);

	/* a transport without backing files (virtio-fs) */
	s = session(true, false, false);
	CHECK(!(init(s, true, &depth) & FUSE_PASSTHROUGH));
	CHECK_EQ(depth, 0);
	proto_session_free(s);

	/* a kernel that does not offer it */
	s = session(true, false, true);
	CHECK(!(init(s, false, &depth) & FUSE_PASSTHROUGH));
	CHECK_EQ(depth, 0);
	proto_session_free(s);

	/* never with the writeback cache: the writeback cache wins */
	want_writeback = FS_CAP_WRITEBACK_CACHE;
	s = session(true, true, true);
	uint64_t f = init(s, true, &depth);
	CHECK(f & FUSE_WRITEBACK_CACHE);
	CHECK(!(f & FUSE_PASSTHROUGH));
	CHECK_EQ(depth, 0);
	/* and no open of such a session is passthrough */
	uint32_t fl;
	CHECK_EQ(do_open(s, 2, &fl), 0);
	CHECK_EQ(tr.opens, 0);
	proto_session_free(s);
	CHECK_EQ(tr.opens, 0);
}

static void test_ids(void)
{
	reset();
	struct proto_session *s = session(true, false, true);
	init(s, true, NULL);
	uint32_t fl;

	/* one id per node, shared by its opens; flags masked to what the client allows with passthrough */
	int a = do_open(s, 2, &fl);
	CHECK(a > 0);
	CHECK_EQ(fl, FOPEN_PASSTHROUGH | FOPEN_NOFLUSH);
	CHECK_EQ(tr.fd_of[a > 0 ? a : 0], 102);
	CHECK_EQ(do_open(s, 2, &fl), a);
	CHECK_EQ(do_open(s, 2, &fl), a);
	CHECK_EQ(tr.opens, 1);
	int b = do_open(s, 3, &fl);
	CHECK(b > 0 && b != a);
	CHECK_EQ(live_ids(), 2);

	/* the last RELEASE of a node closes its id, not before */
	do_release(s, 2);
	do_release(s, 2);
	CHECK_EQ(live_ids(), 2);
	do_release(s, 2);
	CHECK_EQ(live_ids(), 1);
	CHECK(!tr.live[a]);
	/* a new open of the node registers afresh */
	int a2 = do_open(s, 2, &fl);
	CHECK(a2 > 0 && a2 != a);
	do_release(s, 2);
	do_release(s, 3);
	CHECK_EQ(live_ids(), 0);

	/* a virtual node (no backing fd): never passthrough, its flags as the fs said, RELEASE touches nothing */
	CHECK_EQ(do_open(s, VIRTUAL_NODE, &fl), 0);
	CHECK_EQ(fl, FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO | FOPEN_NOFLUSH);
	int calls = tr.opens;
	do_release(s, VIRTUAL_NODE);
	CHECK_EQ(tr.opens, calls);

	/* CREATE: entry, then the open with the id */
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644 };
	uint8_t arg[sizeof(ci) + 8];
	memcpy(arg, &ci, sizeof(ci));
	memcpy(arg + sizeof(ci), "newfile", 8);
	CHECK_EQ(send_req(s, FUSE_CREATE, 1, arg, sizeof(arg)), 0);
	struct proto_open_out oo;
	memcpy(&oo, out + sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out), sizeof(oo));
	CHECK(oo.open_flags & FOPEN_PASSTHROUGH);
	CHECK(oo.backing_id > 0 && oo.backing_id < MAX_IDS && tr.live[oo.backing_id]);
	CHECK_EQ(do_open(s, CREATED_NODE, &fl), oo.backing_id);
	do_release(s, CREATED_NODE);
	do_release(s, CREATED_NODE);
	CHECK_EQ(live_ids(), 0);

	/* ids the client left registered go with the session */
	CHECK(do_open(s, 7, &fl) > 0);
	CHECK(do_open(s, 8, &fl) > 0);
	CHECK_EQ(live_ids(), 2);
	proto_session_free(s);
	CHECK_EQ(live_ids(), 0);
	CHECK_EQ(tr.bad_close, 0);
}

static void test_failures(void)
{
	reset();
	struct proto_session *s = session(true, false, true);
	init(s, true, NULL);
	uint32_t fl;

	/* a per-file failure: that node is served through us while it has opens, even once registering works */
	tr.fail = -ELOOP;
	tr.fail_fd = 104;
	CHECK_EQ(do_open(s, 4, &fl), 0);
	CHECK_EQ(fl, FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO | FOPEN_NOFLUSH);
	CHECK(do_open(s, 5, &fl) > 0); /* other nodes still get passthrough */
	tr.fail = 0;
	CHECK_EQ(do_open(s, 4, &fl), 0);
	do_release(s, 4);
	CHECK_EQ(do_open(s, 4, &fl), 0);
	do_release(s, 4);
	do_release(s, 4);
	/* all its opens gone: the next one tries again */
	int id = do_open(s, 4, &fl);
	CHECK(id > 0);
	do_release(s, 4);
	do_release(s, 5);
	CHECK_EQ(live_ids(), 0);
	proto_session_free(s);

	/* EPERM: off for the session, asked once; a node that already has an id keeps it for new opens */
	reset();
	s = session(true, false, true);
	init(s, true, NULL);
	int keep = do_open(s, 9, &fl);
	CHECK(keep > 0);
	tr.fail = -EPERM;
	CHECK_EQ(do_open(s, 10, &fl), 0);
	CHECK_EQ(fl, FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO | FOPEN_NOFLUSH);
	CHECK_EQ(tr.opens, 2);
	CHECK_EQ(do_open(s, 11, &fl), 0);
	CHECK_EQ(do_open(s, 10, &fl), 0);
	CHECK_EQ(tr.opens, 2); /* not asked again */
	CHECK_EQ(do_open(s, 9, &fl), keep);
	do_release(s, 10);
	do_release(s, 10);
	do_release(s, 11);
	do_release(s, 9);
	CHECK_EQ(live_ids(), 1);
	do_release(s, 9);
	CHECK_EQ(live_ids(), 0);
	proto_session_free(s);
	CHECK_EQ(tr.bad_close, 0);
}

/* O_DIRECT opens are served through the server unless the node already has passthrough opens (backing.h) */
static void test_direct(void)
{
	reset();
	struct proto_session *s = session(true, false, true);
	init(s, true, NULL);
	uint32_t fl;

	/* first open O_DIRECT: no passthrough, nothing registered, and counted: a buffered open while it lasts is
	 * not passthrough either (the client would fail the mix with EIO) */
	CHECK_EQ(do_open_flags(s, 2, O_RDONLY | O_DIRECT, &fl), 0);
	CHECK(!(fl & FOPEN_PASSTHROUGH));
	CHECK_EQ(tr.opens, 0);
	CHECK_EQ(do_open(s, 2, &fl), 0);
	CHECK_EQ(tr.opens, 0);
	do_release(s, 2);
	do_release(s, 2);
	/* both gone: the next buffered open is passthrough */
	int a = do_open(s, 2, &fl);
	CHECK(a > 0);
	/* and an O_DIRECT open joining a passthrough open shares its id */
	CHECK_EQ(do_open_flags(s, 2, O_RDWR | O_DIRECT, &fl), a);
	CHECK(fl & FOPEN_PASSTHROUGH);
	do_release(s, 2);
	do_release(s, 2);
	CHECK_EQ(live_ids(), 0);
	proto_session_free(s);
	CHECK_EQ(tr.bad_close, 0);
}

int main(void)
{
	test_init();
	test_ids();
	test_failures();
	test_direct();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
