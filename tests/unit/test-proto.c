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

#include "proto/proto.h"
#include "util/macros.h"

static int failures;
#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)
#define CHECK_EQ(a, b)                                                                                           \
	do {                                                                                                     \
		long long _a = (long long)(a), _b = (long long)(b);                                              \
		if (_a != _b) {                                                                                  \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a,  \
				#b, _b);                                                                         \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

/* ---- the mock fs: records the last call ---- */

static struct {
	char op[32];
	uint64_t ino, ino2, fh, off, nlookup_total;
	char name[512], name2[512];
	size_t size;
	int flags, mask;
	mode_t mode, umask;
	uint32_t to_set, write_flags, sflags;
	struct stat attr;
	struct flock lk;
	bool sleep_lock, is_flock, destroyed, has_fh;
	int forgets;
	int ret;               /* what the next op returns (0 or -errno) */
	bool entry_without_ino;
	int readdir_entries;   /* how many entries readdir offers */
	const struct fs_notifier *notifier;
	uint64_t want_in, capable_in;
	char wbuf[8192];
	size_t wlen;
} m;

static void rec(const char *op)
{
	snprintf(m.op, sizeof(m.op), "%s", op);
}

static void fill_entry(struct fs_entry *e, uint64_t ino)
{
	memset(e, 0, sizeof(*e));
	e->ino = m.entry_without_ino ? 0 : ino;
	e->generation = 7;
	e->attr.st_ino = ino + 1000;
	e->attr.st_mode = S_IFREG | 0644;
	e->attr.st_nlink = 1;
	e->attr.st_size = 42;
	e->entry_timeout = 1.5;
	e->attr_timeout = 2.25;
}

static int mk_init(struct fs *fs, struct fs_conn *c)
{
	rec("init");
	m.notifier = c->notifier;
	m.want_in = c->want;
	m.capable_in = c->capable;
	return m.ret;
}
static void mk_destroy(struct fs *fs)
{
	m.destroyed = true;
}
static int mk_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, struct fs_entry *ret)
{
	rec("lookup");
	m.ino = parent;
	snprintf(m.name, sizeof(m.name), "%s", name);
	if (m.ret)
		return m.ret;
	fill_entry(ret, 100);
	if (strcmp(name, "negative") == 0)
		ret->ino = 0;
	return 0;
}
static void mk_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
	m.forgets++;
	m.ino = ino;
	m.nlookup_total += n;
}
static int mk_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
		      struct stat *st, double *t)
{
	rec("getattr");
	m.ino = ino;
	m.fh = fh;
	m.has_fh = has_fh;
	memset(st, 0, sizeof(*st));
	st->st_ino = 4242;
	st->st_mode = S_IFDIR | 0755;
	st->st_mtim.tv_nsec = 5;
	*t = 3;
	return m.ret;
}
static int mk_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *a, uint32_t to_set,
		      uint64_t fh, struct stat *st, double *t)
{
	rec("setattr");
	m.ino = ino;
	m.to_set = to_set;
	m.attr = *a;
	m.fh = fh;
	memset(st, 0, sizeof(*st));
	st->st_size = a->st_size;
	*t = 1;
	return m.ret;
}
static int mk_readlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size, size_t *len)
{
	rec("readlink");
	m.size = size;
	const char *t = "../target";
	if (strlen(t) > size)
		return -ENAMETOOLONG;
	memcpy(buf, t, strlen(t));
	*len = strlen(t);
	return m.ret;
}
static int mk_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    dev_t rdev, struct fs_entry *ret)
{
	rec("mknod");
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.mode = mode;
	m.umask = ctx->umask;
	fill_entry(ret, 101);
	return m.ret;
}
static int mk_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		    struct fs_entry *ret)
{
	rec("mkdir");
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.mode = mode;
	m.umask = ctx->umask;
	fill_entry(ret, 102);
	return m.ret;
}
static int mk_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, const char *target,
		      struct fs_entry *ret)
{
	rec("symlink");
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.name2, sizeof(m.name2), "%s", target);
	fill_entry(ret, 103);
	return m.ret;
}
static int mk_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t np, const char *nn,
		   struct fs_entry *ret)
{
	rec("link");
	m.ino = ino;
	m.ino2 = np;
	snprintf(m.name, sizeof(m.name), "%s", nn);
	fill_entry(ret, ino);
	return m.ret;
}
static int mk_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	rec("unlink");
	snprintf(m.name, sizeof(m.name), "%s", name);
	return m.ret;
}
static int mk_rmdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name)
{
	rec("rmdir");
	snprintf(m.name, sizeof(m.name), "%s", name);
	return m.ret;
}
static int mk_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n, uint64_t np, const char *nn,
		     unsigned flags)
{
	rec("rename");
	m.ino = p;
	m.ino2 = np;
	snprintf(m.name, sizeof(m.name), "%s", n);
	snprintf(m.name2, sizeof(m.name2), "%s", nn);
	m.flags = (int)flags;
	return m.ret;
}
static int mk_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	rec("open");
	m.flags = flags;
	ret->fh = 77;
	ret->flags = FS_OPEN_KEEP_CACHE | FS_OPEN_DIRECT_IO;
	return m.ret;
}
static int mk_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
		     int flags, struct fs_entry *e, struct fs_open *o)
{
	rec("create");
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.mode = mode;
	m.flags = flags;
	m.umask = ctx->umask;
	fill_entry(e, 104);
	o->fh = 78;
	return m.ret;
}
static int mk_tmpfile(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, mode_t mode, int flags,
		      struct fs_entry *e, struct fs_open *o)
{
	rec("tmpfile");
	m.mode = mode;
	fill_entry(e, 105);
	o->fh = 79;
	return m.ret;
}
static int mk_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		   const struct iovec *dst, int cnt, size_t *len)
{
	rec("read");
	m.fh = fh;
	m.off = off;
	m.size = size;
	size_t done = 0;
	for (int i = 0; i < cnt; i++)
		for (size_t j = 0; j < dst[i].iov_len; j++)
			((uint8_t *)dst[i].iov_base)[j] = (uint8_t)(done++ & 0xff);
	*len = done;
	return m.ret;
}
static int mk_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		    const struct iovec *src, int cnt, uint32_t wf, size_t *len)
{
	rec("write");
	m.off = off;
	m.write_flags = wf;
	m.wlen = 0;
	for (int i = 0; i < cnt; i++) {
		size_t n = src[i].iov_len;
		if (m.wlen + n <= sizeof(m.wbuf))
			memcpy(m.wbuf + m.wlen, src[i].iov_base, n);
		m.wlen += n;
	}
	*len = size;
	return m.ret;
}
static int mk_flush(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner)
{
	rec("flush");
	m.fh = fh;
	return m.ret;
}
static void mk_release(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int flags, uint64_t owner,
		       bool fl)
{
	rec("release");
	m.fh = fh;
	m.is_flock = fl;
}
static int mk_fsync(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool ds)
{
	rec("fsync");
	m.flags = ds;
	return m.ret;
}
static int mk_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret)
{
	rec("opendir");
	ret->fh = 88;
	ret->flags = FS_OPEN_CACHE_DIR;
	return m.ret;
}
static int mk_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
		      struct fs_dirbuf *b)
{
	rec(fs_dirbuf_is_plus(b) ? "readdirplus" : "readdir");
	m.off = off;
	for (int i = (int)off; i < m.readdir_entries; i++) {
		char name[64];
		int n = snprintf(name, sizeof(name), "entry-%d", i);
		if (fs_dirbuf_is_plus(b)) {
			struct fs_entry e;
			fill_entry(&e, 200 + (uint64_t)i);
			if (fs_dirbuf_add_plus(b, name, (size_t)n, &e, (uint64_t)i + 1) < 0)
				break;
		} else if (fs_dirbuf_add(b, name, (size_t)n, 300 + (uint64_t)i, DT_REG, (uint64_t)i + 1) < 0) {
			break;
		}
	}
	return m.ret;
}
static void mk_releasedir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh)
{
	rec("releasedir");
	m.fh = fh;
}
static int mk_fsyncdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool ds)
{
	rec("fsyncdir");
	return m.ret;
}
static int mk_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *ret)
{
	rec("statfs");
	memset(ret, 0, sizeof(*ret));
	ret->f_blocks = 1000;
	ret->f_namemax = 255;
	ret->f_bsize = 4096;
	return m.ret;
}
static int mk_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
		       size_t size, int flags, uint32_t sflags)
{
	rec("setxattr");
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.size = size;
	m.flags = flags;
	m.sflags = sflags;
	memcpy(m.wbuf, value, MIN(size, sizeof(m.wbuf)));
	return m.ret;
}
static int mk_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf, size_t size,
		       size_t *ret)
{
	rec("getxattr");
	snprintf(m.name, sizeof(m.name), "%s", name);
	*ret = 5;
	if (size == 0)
		return m.ret;
	if (size < 5)
		return -ERANGE;
	memcpy(buf, "value", 5);
	return m.ret;
}
static int mk_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size, size_t *ret)
{
	rec("listxattr");
	*ret = 8;
	if (size == 0)
		return m.ret;
	if (size < 8)
		return -ERANGE;
	memcpy(buf, "user.a\0b", 8);
	return m.ret;
}
static int mk_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name)
{
	rec("removexattr");
	snprintf(m.name, sizeof(m.name), "%s", name);
	return m.ret;
}
static int mk_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask)
{
	rec("access");
	m.mask = mask;
	return m.ret;
}
static int mk_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		    struct flock *lk)
{
	rec("getlk");
	m.lk = *lk;
	lk->l_type = F_WRLCK;
	lk->l_start = 10;
	lk->l_len = 0;
	lk->l_pid = -1;
	return m.ret;
}
static int mk_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		    const struct flock *lk, bool sleep, bool is_flock)
{
	rec("setlk");
	m.lk = *lk;
	m.sleep_lock = sleep;
	m.is_flock = is_flock;
	if (sleep && lk->l_start == 999) {
		/* a lock that never comes: wait like fcntl(F_SETLKW) until a signal interrupts us */
		if (poll(NULL, 0, 10000) < 0 && errno == EINTR)
			return -EINTR;
		return -ETIMEDOUT;
	}
	return m.ret;
}
static int mk_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off,
			off_t len)
{
	rec("fallocate");
	m.off = (uint64_t)off;
	m.size = (size_t)len;
	return m.ret;
}
static int mk_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
		    off_t *ret)
{
	rec("lseek");
	*ret = off + 1;
	return m.ret;
}
static int mk_cfr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino_in, uint64_t fh_in, off_t off_in,
		  uint64_t ino_out, uint64_t fh_out, off_t off_out, size_t len, unsigned flags, size_t *ret)
{
	rec("copy_file_range");
	m.ino = ino_in;
	m.ino2 = ino_out;
	*ret = len;
	return m.ret;
}
static int mk_syncfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino)
{
	rec("syncfs");
	return m.ret;
}

static const struct fs_ops mock_ops = {
	.init = mk_init,
	.destroy = mk_destroy,
	.lookup = mk_lookup,
	.forget = mk_forget,
	.getattr = mk_getattr,
	.setattr = mk_setattr,
	.readlink = mk_readlink,
	.mknod = mk_mknod,
	.mkdir = mk_mkdir,
	.symlink = mk_symlink,
	.link = mk_link,
	.unlink = mk_unlink,
	.rmdir = mk_rmdir,
	.rename = mk_rename,
	.open = mk_open,
	.create = mk_create,
	.tmpfile = mk_tmpfile,
	.read = mk_read,
	.write = mk_write,
	.flush = mk_flush,
	.release = mk_release,
	.fsync = mk_fsync,
	.opendir = mk_opendir,
	.readdir = mk_readdir,
	.releasedir = mk_releasedir,
	.fsyncdir = mk_fsyncdir,
	.statfs = mk_statfs,
	.setxattr = mk_setxattr,
	.getxattr = mk_getxattr,
	.listxattr = mk_listxattr,
	.removexattr = mk_removexattr,
	.access = mk_access,
	.getlk = mk_getlk,
	.setlk = mk_setlk,
	.fallocate = mk_fallocate,
	.lseek = mk_lseek,
	.copy_file_range = mk_cfr,
	.syncfs = mk_syncfs,
};

static struct fs mock_fs = { .ops = &mock_ops, .kind = "mock", .root = FS_ROOT_ID };

/* ---- request building ---- */

struct rq {
	uint8_t b[1 << 17];
	size_t len;
};

static uint64_t next_unique = 1;

static void rq_begin(struct rq *q, uint32_t opcode, uint64_t nodeid)
{
	memset(q->b, 0, sizeof(struct fuse_in_header));
	struct fuse_in_header h = { .opcode = opcode, .unique = next_unique++, .nodeid = nodeid, .uid = 1000,
				    .gid = 1000, .pid = 4321 };
	memcpy(q->b, &h, sizeof(h));
	q->len = sizeof(h);
}
static void rq_add(struct rq *q, const void *p, size_t n)
{
	memcpy(q->b + q->len, p, n);
	q->len += n;
}
static void rq_str(struct rq *q, const char *s)
{
	rq_add(q, s, strlen(s) + 1);
}
static void rq_end(struct rq *q)
{
	uint32_t l = (uint32_t)q->len;
	memcpy(q->b, &l, 4);
}
static uint64_t rq_unique(const struct rq *q)
{
	struct fuse_in_header h;
	memcpy(&h, q->b, sizeof(h));
	return h.unique;
}

static uint8_t outbuf[(1 << 20) + 4096 + 65536];

/* Send q (as one iovec) and return the reply length; *err gets the error field. */
static ssize_t send_room(struct proto_session *s, struct rq *q, size_t room, int *err)
{
	rq_end(q);
	struct iovec in = { q->b, q->len };
	struct iovec out = { outbuf, room };
	memset(outbuf, 0xa5, sizeof(outbuf));
	ssize_t n = proto_handle(s, &in, 1, &out, 1);
	if (n >= (ssize_t)sizeof(struct fuse_out_header)) {
		struct fuse_out_header oh;
		memcpy(&oh, outbuf, sizeof(oh));
		CHECK_EQ(oh.len, n);
		CHECK_EQ(oh.unique, rq_unique(q));
		*err = oh.error;
	} else {
		*err = 1; /* no reply */
	}
	return n;
}
static ssize_t send(struct proto_session *s, struct rq *q, int *err)
{
	return send_room(s, q, sizeof(outbuf), err);
}
static const void *payload(void)
{
	return outbuf + sizeof(struct fuse_out_header);
}

static struct rq q;

static struct {
	uint8_t buf[4096];
	size_t len;
	int calls;
} notes;

static int capture_notify(void *data, const struct iovec *iov, int cnt)
{
	notes.len = 0;
	for (int i = 0; i < cnt; i++) {
		memcpy(notes.buf + notes.len, iov[i].iov_base, iov[i].iov_len);
		notes.len += iov[i].iov_len;
	}
	notes.calls++;
	return 0;
}

static struct proto_session *new_session(const struct proto_opts *o)
{
	struct proto_session *s;
	struct proto_opts def = { .max_write = 1 << 20, .borrow_fs = true };
	struct proto_transport t = { .send_notify = capture_notify };
	CHECK_EQ(proto_session_new(&mock_fs, o ? o : &def, &t, &s), 0);
	return s;
}

#define ALL_FLAGS                                                                                                \
	(FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES |       \
	 FUSE_DONT_MASK | FUSE_FLOCK_LOCKS | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO |        \
	 FUSE_WRITEBACK_CACHE | FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV_V2 | FUSE_POSIX_ACL |                  \
	 FUSE_CACHE_SYMLINKS | FUSE_SETXATTR_EXT | FUSE_SUBMOUNTS | FUSE_MAX_PAGES | FUSE_INIT_EXT)

static ssize_t do_init(struct proto_session *s, uint32_t major, uint32_t minor, uint32_t flags, int *err)
{
	struct fuse_init_in in = { .major = major, .minor = minor, .max_readahead = 131072, .flags = flags };
	rq_begin(&q, FUSE_INIT, 0);
	rq_add(&q, &in, sizeof(in));
	return send(s, &q, err);
}

static struct proto_session *ready_session(void)
{
	int err;
	struct proto_session *s = new_session(NULL);
	m.ret = 0;
	CHECK_EQ(do_init(s, 7, 38, ALL_FLAGS, &err), sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out));
	CHECK_EQ(err, 0);
	CHECK(proto_session_ready(s));
	return s;
}

/* ---- tests ---- */

static void test_init(void)
{
	int err;
	struct proto_session *s = new_session(NULL);
	CHECK(!proto_session_ready(s));
	/* a request before INIT */
	rq_begin(&q, FUSE_GETATTR, 1);
	struct fuse_getattr_in gi = { 0 };
	rq_add(&q, &gi, sizeof(gi));
	send(s, &q, &err);
	CHECK_EQ(err, -EIO);
	/* FORGET before INIT: no reply, no call */
	m.forgets = 0;
	rq_begin(&q, FUSE_FORGET, 5);
	struct fuse_forget_in fi = { 1 };
	rq_add(&q, &fi, sizeof(fi));
	CHECK_EQ(send(s, &q, &err), 0);
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
	CHECK_EQ(send(s, &q, &err), sizeof(struct fuse_out_header) + FUSE_COMPAT_ENTRY_OUT_SIZE);
	rq_begin(&q, FUSE_GETATTR, 1); /* no getattr_in before 7.9 */
	CHECK_EQ(send(s, &q, &err), sizeof(struct fuse_out_header) + FUSE_COMPAT_ATTR_OUT_SIZE);
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
	send(s, &q, &err);
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
	n = send(s, &q, &err);
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
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	/* negative entry */
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "negative");
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	memcpy(&eo, payload(), sizeof(eo));
	CHECK_EQ(eo.nodeid, 0);
	/* an error from the fs */
	m.ret = -ENOENT;
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "nope");
	CHECK_EQ(send(s, &q, &err), sizeof(struct fuse_out_header));
	CHECK_EQ(err, -ENOENT);
	/* a bogus error from the fs is sent as EIO */
	m.ret = -5000;
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "nope");
	send(s, &q, &err);
	CHECK_EQ(err, -EIO);
	m.ret = 0;

	/* FORGET / BATCH_FORGET: no replies */
	m.forgets = 0;
	m.nlookup_total = 0;
	rq_begin(&q, FUSE_FORGET, 100);
	struct fuse_forget_in fi = { 3 };
	rq_add(&q, &fi, sizeof(fi));
	CHECK_EQ(send(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 1);
	CHECK_EQ(m.nlookup_total, 3);
	rq_begin(&q, FUSE_BATCH_FORGET, 0);
	struct fuse_batch_forget_in bi = { .count = 2 };
	struct fuse_forget_one one[2] = { { 100, 1 }, { 101, 2 } };
	rq_add(&q, &bi, sizeof(bi));
	rq_add(&q, one, sizeof(one));
	CHECK_EQ(send(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 3);
	CHECK_EQ(m.nlookup_total, 6);

	/* GETATTR with and without fh */
	rq_begin(&q, FUSE_GETATTR, 100);
	struct fuse_getattr_in gi = { .getattr_flags = FUSE_GETATTR_FH, .fh = 9 };
	rq_add(&q, &gi, sizeof(gi));
	n = send(s, &q, &err);
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
	send(s, &q, &err);
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
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.to_set, FS_SET_ATIME | FS_SET_MTIME | FS_SET_ATIME_NOW | FS_SET_MTIME_NOW);

	/* READLINK */
	rq_begin(&q, FUSE_READLINK, 103);
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 9);
	CHECK(memcmp(payload(), "../target", 9) == 0);

	/* SYMLINK: name then target */
	rq_begin(&q, FUSE_SYMLINK, 1);
	rq_str(&q, "link");
	rq_str(&q, "/etc/passwd");
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "symlink") == 0 && strcmp(m.name, "link") == 0 && strcmp(m.name2, "/etc/passwd") == 0);

	/* MKNOD / MKDIR with umask (DONT_MASK granted) */
	struct fuse_mknod_in mi = { .mode = S_IFIFO | 0666, .rdev = 0, .umask = 022 };
	rq_begin(&q, FUSE_MKNOD, 1);
	rq_add(&q, &mi, sizeof(mi));
	rq_str(&q, "fifo");
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "mknod") == 0);
	CHECK_EQ(m.mode, S_IFIFO | 0666);
	CHECK_EQ(m.umask, 022);
	struct fuse_mkdir_in di = { .mode = 0777, .umask = 027 };
	rq_begin(&q, FUSE_MKDIR, 1);
	rq_add(&q, &di, sizeof(di));
	rq_str(&q, "dir");
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.umask, 027);
	memcpy(&eo, payload(), sizeof(eo));
	CHECK_EQ(eo.nodeid, 102);
	/* an fs that returns success without a node: EIO, never nodeid 0 as a created entry */
	m.entry_without_ino = true;
	rq_begin(&q, FUSE_MKDIR, 1);
	rq_add(&q, &di, sizeof(di));
	rq_str(&q, "dir2");
	send(s, &q, &err);
	CHECK_EQ(err, -EIO);
	m.entry_without_ino = false;

	/* UNLINK, RMDIR */
	rq_begin(&q, FUSE_UNLINK, 1);
	rq_str(&q, "f");
	CHECK_EQ(send(s, &q, &err), sizeof(struct fuse_out_header));
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "unlink") == 0);
	rq_begin(&q, FUSE_RMDIR, 1);
	rq_str(&q, "d");
	send(s, &q, &err);
	CHECK(strcmp(m.op, "rmdir") == 0 && err == 0);

	/* RENAME, RENAME2 */
	struct fuse_rename_in ri = { .newdir = 55 };
	rq_begin(&q, FUSE_RENAME, 1);
	rq_add(&q, &ri, sizeof(ri));
	rq_str(&q, "a");
	rq_str(&q, "b");
	send(s, &q, &err);
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
		send(s, &q, &err);
		CHECK_EQ(err, 0);
		CHECK_EQ(m.flags, (int)rflags[i]);
	}

	/* LINK */
	struct fuse_link_in li = { .oldnodeid = 100 };
	rq_begin(&q, FUSE_LINK, 1);
	rq_add(&q, &li, sizeof(li));
	rq_str(&q, "hard");
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.ino, 100);
	CHECK_EQ(m.ino2, 1);

	/* STATFS */
	rq_begin(&q, FUSE_STATFS, 1);
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_statfs_out));
	struct fuse_statfs_out so;
	memcpy(&so, payload(), sizeof(so));
	CHECK_EQ(so.st.blocks, 1000);
	CHECK_EQ(so.st.namelen, 255);

	/* ACCESS */
	struct fuse_access_in ai = { .mask = R_OK | X_OK };
	rq_begin(&q, FUSE_ACCESS, 1);
	rq_add(&q, &ai, sizeof(ai));
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(m.mask, R_OK | X_OK);

	/* SYNCFS */
	struct fuse_syncfs_in sy = { 0 };
	rq_begin(&q, FUSE_SYNCFS, 1);
	rq_add(&q, &sy, sizeof(sy));
	send(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "syncfs") == 0);
}

static void test_file_ops(struct proto_session *s)
{
	int err;
	ssize_t n;

	struct fuse_open_in oi = { .flags = O_RDWR | O_CREAT | O_EXCL | O_NOCTTY };
	rq_begin(&q, FUSE_OPEN, 100);
	rq_add(&q, &oi, sizeof(oi));
	n = send(s, &q, &err);
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
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.op, "setattr") == 0);
	CHECK_EQ(m.to_set, FS_SET_KILL_SUIDGID | FS_SET_FH);

	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0666, .umask = 022 };
	rq_begin(&q, FUSE_CREATE, 1);
	rq_add(&q, &ci, sizeof(ci));
	rq_str(&q, "new");
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
	CHECK_EQ(m.umask, 022);
	CHECK(strcmp(m.name, "new") == 0);
	memcpy(&oo, (const uint8_t *)payload() + sizeof(struct fuse_entry_out), sizeof(oo));
	CHECK_EQ(oo.fh, 78);

	rq_begin(&q, FUSE_TMPFILE, 1);
	rq_add(&q, &ci, sizeof(ci));
	rq_str(&q, "/");
	send(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "tmpfile") == 0);

	/* READ straight into the reply */
	struct fuse_read_in rd = { .fh = 77, .offset = 4096, .size = 10000 };
	rq_begin(&q, FUSE_READ, 100);
	rq_add(&q, &rd, sizeof(rd));
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 10000);
	CHECK_EQ(m.off, 4096);
	CHECK_EQ(((const uint8_t *)payload())[9999], 9999 & 0xff);

	/* WRITE: payload handed over in place */
	struct fuse_write_in wi = { .fh = 77, .offset = 10, .size = 6, .write_flags = FUSE_WRITE_KILL_SUIDGID };
	rq_begin(&q, FUSE_WRITE, 100);
	rq_add(&q, &wi, sizeof(wi));
	rq_add(&q, "abcdef", 6);
	n = send(s, &q, &err);
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
	send(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "flush") == 0);

	struct fuse_fsync_in fs = { .fh = 77, .fsync_flags = FUSE_FSYNC_FDATASYNC };
	rq_begin(&q, FUSE_FSYNC, 100);
	rq_add(&q, &fs, sizeof(fs));
	send(s, &q, &err);
	CHECK(err == 0 && m.flags == 1);

	struct fuse_fallocate_in fa = { .fh = 77, .offset = 100, .length = 200, .mode = 0 };
	rq_begin(&q, FUSE_FALLOCATE, 100);
	rq_add(&q, &fa, sizeof(fa));
	send(s, &q, &err);
	CHECK(err == 0 && m.off == 100 && m.size == 200);

	struct fuse_lseek_in ls = { .fh = 77, .offset = 5, .whence = SEEK_DATA };
	rq_begin(&q, FUSE_LSEEK, 100);
	rq_add(&q, &ls, sizeof(ls));
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_lseek_out));
	struct fuse_lseek_out lo;
	memcpy(&lo, payload(), sizeof(lo));
	CHECK_EQ(lo.offset, 6);

	struct fuse_copy_file_range_in cf = { .fh_in = 77, .off_in = 0, .nodeid_out = 101, .fh_out = 78,
					      .off_out = 0, .len = 5000 };
	rq_begin(&q, FUSE_COPY_FILE_RANGE, 100);
	rq_add(&q, &cf, sizeof(cf));
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	memcpy(&wo, payload(), sizeof(wo));
	CHECK_EQ(wo.size, 5000);
	CHECK(m.ino == 100 && m.ino2 == 101);

	struct fuse_release_in rl = { .fh = 77, .release_flags = FUSE_RELEASE_FLOCK_UNLOCK };
	rq_begin(&q, FUSE_RELEASE, 100);
	rq_add(&q, &rl, sizeof(rl));
	send(s, &q, &err);
	CHECK(err == 0 && m.fh == 77 && m.is_flock);
}

static void test_dir_ops(struct proto_session *s)
{
	int err;
	ssize_t n;
	struct fuse_open_in oi = { .flags = O_RDONLY | O_DIRECTORY };
	rq_begin(&q, FUSE_OPENDIR, 1);
	rq_add(&q, &oi, sizeof(oi));
	send(s, &q, &err);
	struct fuse_open_out oo;
	memcpy(&oo, payload(), sizeof(oo));
	CHECK(err == 0 && oo.fh == 88 && oo.open_flags == FOPEN_CACHE_DIR);

	m.readdir_entries = 1000;
	struct fuse_read_in rd = { .fh = 88, .offset = 0, .size = 4096 };
	rq_begin(&q, FUSE_READDIR, 1);
	rq_add(&q, &rd, sizeof(rd));
	n = send(s, &q, &err);
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
	n = send(s, &q, &err);
	CHECK(strcmp(m.op, "readdirplus") == 0 && m.off == 3);
	struct fuse_direntplus dp;
	memcpy(&dp, payload(), sizeof(dp));
	CHECK_EQ(dp.entry_out.nodeid, 203);
	CHECK_EQ(dp.dirent.off, 4);
	/* an error after some entries: the entries are returned (their lookups were taken) */
	m.ret = -EIO;
	rq_begin(&q, FUSE_READDIRPLUS, 1);
	rq_add(&q, &rd, sizeof(rd));
	n = send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(n > (ssize_t)sizeof(struct fuse_out_header));
	m.readdir_entries = 0;
	rq_begin(&q, FUSE_READDIRPLUS, 1);
	rq_add(&q, &rd, sizeof(rd));
	send(s, &q, &err);
	CHECK_EQ(err, -EIO);
	m.ret = 0;

	struct fuse_fsync_in fs = { .fh = 88 };
	rq_begin(&q, FUSE_FSYNCDIR, 1);
	rq_add(&q, &fs, sizeof(fs));
	send(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "fsyncdir") == 0);
	struct fuse_release_in rl = { .fh = 88 };
	rq_begin(&q, FUSE_RELEASEDIR, 1);
	rq_add(&q, &rl, sizeof(rl));
	send(s, &q, &err);
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
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.name, "user.x") == 0 && m.size == 3 && memcmp(m.wbuf, "v\0w", 3) == 0);
	CHECK_EQ(m.flags, XATTR_CREATE);
	CHECK_EQ(m.sflags, FS_SETXATTR_ACL_KILL_SGID);

	struct fuse_getxattr_in gx = { .size = 0 };
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, "user.x");
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + sizeof(struct fuse_getxattr_out));
	struct fuse_getxattr_out go;
	memcpy(&go, payload(), sizeof(go));
	CHECK_EQ(go.size, 5);
	gx.size = 100;
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, "user.x");
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 5);
	CHECK(memcmp(payload(), "value", 5) == 0);
	gx.size = 2;
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, "user.x");
	send(s, &q, &err);
	CHECK_EQ(err, -ERANGE);

	gx.size = 100;
	rq_begin(&q, FUSE_LISTXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	n = send(s, &q, &err);
	CHECK_EQ(n, sizeof(struct fuse_out_header) + 8);

	rq_begin(&q, FUSE_REMOVEXATTR, 100);
	rq_str(&q, "user.x");
	send(s, &q, &err);
	CHECK(err == 0 && strcmp(m.op, "removexattr") == 0);

	struct fuse_lk_in lk = { .fh = 77, .owner = 1, .lk = { .start = 0, .end = INT64_MAX, .type = F_WRLCK } };
	rq_begin(&q, FUSE_GETLK, 100);
	rq_add(&q, &lk, sizeof(lk));
	n = send(s, &q, &err);
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
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(!m.sleep_lock && !m.is_flock);
	CHECK_EQ(m.lk.l_start, 5);
	CHECK_EQ(m.lk.l_len, 10);
	lk.lk_flags = FUSE_LK_FLOCK;
	rq_begin(&q, FUSE_SETLKW, 100);
	rq_add(&q, &lk, sizeof(lk));
	send(s, &q, &err);
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
		CHECK_EQ(send(s, &q, &err), sizeof(struct fuse_out_header));
		CHECK_EQ(err, -ENOSYS);
	}
}

static void expect_err(struct proto_session *s, int want, const char *what)
{
	int err;
	ssize_t n = send(s, &q, &err);
	if (err != want) {
		fprintf(stderr, "malformed %s: got %d (len %zd), want %d\n", what, err, n, want);
		failures++;
	}
}

static void test_malformed(struct proto_session *s)
{
	int err;
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;

	/* shorter than a header: dropped */
	for (size_t len = 0; len < sizeof(struct fuse_in_header); len += 7) {
		uint8_t b[sizeof(struct fuse_in_header)] = { 0 };
		struct iovec in = { b, len }, out = { outbuf, 4096 };
		CHECK_EQ(proto_handle(s, &in, 1, &out, 1), 0);
	}
	/* header length larger / smaller than the buffer */
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "x");
	rq_end(&q);
	uint32_t bad = (uint32_t)q.len + 100;
	memcpy(q.b, &bad, 4);
	{
		struct iovec in = { q.b, q.len }, out = { outbuf, 4096 };
		CHECK_EQ(proto_handle(s, &in, 1, &out, 1), sizeof(struct fuse_out_header));
		struct fuse_out_header oh;
		memcpy(&oh, outbuf, sizeof(oh));
		CHECK_EQ(oh.error, -EINVAL);
		bad = (uint32_t)q.len - 1;
		memcpy(q.b, &bad, 4);
		CHECK_EQ(proto_handle(s, &in, 1, &out, 1), sizeof(struct fuse_out_header));
		memcpy(&oh, outbuf, sizeof(oh));
		CHECK_EQ(oh.error, -EINVAL);
	}
	/* extension length beyond the request */
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "x");
	q.b[offsetof(struct fuse_in_header, total_extlen)] = 200;
	expect_err(s, -EINVAL, "total_extlen");
	/* a name without its NUL */
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_add(&q, "abc", 3);
	expect_err(s, -EINVAL, "name without NUL");
	rq_begin(&q, FUSE_LOOKUP, 1);
	expect_err(s, -EINVAL, "no name at all");
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "");
	expect_err(s, -EINVAL, "empty name");
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "a/b");
	expect_err(s, -EINVAL, "name with /");
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, longname);
	expect_err(s, -ENAMETOOLONG, "long name");
	/* '.' and '..' as a new entry */
	const char *dots[] = { ".", ".." };
	for (int i = 0; i < 2; i++) {
		struct fuse_mkdir_in di = { .mode = 0755 };
		rq_begin(&q, FUSE_MKDIR, 1);
		rq_add(&q, &di, sizeof(di));
		rq_str(&q, dots[i]);
		expect_err(s, -EINVAL, "mkdir dot");
		struct fuse_create_in ci = { .flags = O_CREAT, .mode = 0644 };
		rq_begin(&q, FUSE_CREATE, 1);
		rq_add(&q, &ci, sizeof(ci));
		rq_str(&q, dots[i]);
		expect_err(s, -EINVAL, "create dot");
		rq_begin(&q, FUSE_SYMLINK, 1);
		rq_str(&q, dots[i]);
		rq_str(&q, "t");
		expect_err(s, -EINVAL, "symlink dot");
		rq_begin(&q, FUSE_UNLINK, 1);
		rq_str(&q, dots[i]);
		expect_err(s, -EINVAL, "unlink dot");
		struct fuse_rename_in ri = { .newdir = 1 };
		rq_begin(&q, FUSE_RENAME, 1);
		rq_add(&q, &ri, sizeof(ri));
		rq_str(&q, "a");
		rq_str(&q, dots[i]);
		expect_err(s, -EINVAL, "rename to dot");
		struct fuse_link_in li = { .oldnodeid = 100 };
		rq_begin(&q, FUSE_LINK, 1);
		rq_add(&q, &li, sizeof(li));
		rq_str(&q, dots[i]);
		expect_err(s, -EINVAL, "link dot");
		struct fuse_mknod_in mi = { .mode = S_IFREG };
		rq_begin(&q, FUSE_MKNOD, 1);
		rq_add(&q, &mi, sizeof(mi));
		rq_str(&q, dots[i]);
		expect_err(s, -EINVAL, "mknod dot");
	}
	/* RENAME whose second name is missing its NUL */
	{
		struct fuse_rename_in ri = { .newdir = 1 };
		rq_begin(&q, FUSE_RENAME, 1);
		rq_add(&q, &ri, sizeof(ri));
		rq_str(&q, "a");
		rq_add(&q, "b", 1);
		expect_err(s, -EINVAL, "rename newname without NUL");
		struct fuse_rename2_in r2 = { .newdir = 1, .flags = RENAME_EXCHANGE | RENAME_NOREPLACE };
		rq_begin(&q, FUSE_RENAME2, 1);
		rq_add(&q, &r2, sizeof(r2));
		rq_str(&q, "a");
		rq_str(&q, "b");
		expect_err(s, -EINVAL, "rename2 exchange+noreplace");
		r2.flags = 1u << 7;
		rq_begin(&q, FUSE_RENAME2, 1);
		rq_add(&q, &r2, sizeof(r2));
		rq_str(&q, "a");
		rq_str(&q, "b");
		expect_err(s, -EINVAL, "rename2 unknown flag");
	}
	/* SYMLINK without a target */
	rq_begin(&q, FUSE_SYMLINK, 1);
	rq_str(&q, "l");
	expect_err(s, -EINVAL, "symlink without target");
	/* structs cut short */
	uint32_t needs_struct[] = { FUSE_SETATTR, FUSE_OPEN, FUSE_READ, FUSE_WRITE, FUSE_FLUSH, FUSE_RELEASE, FUSE_FSYNC,
				    FUSE_GETXATTR, FUSE_LISTXATTR, FUSE_GETLK, FUSE_SETLK, FUSE_SETLKW, FUSE_ACCESS,
				    FUSE_CREATE, FUSE_OPENDIR, FUSE_READDIR, FUSE_READDIRPLUS, FUSE_FSYNCDIR,
				    FUSE_FALLOCATE, FUSE_LSEEK, FUSE_COPY_FILE_RANGE, FUSE_RENAME, FUSE_RENAME2,
				    FUSE_LINK, FUSE_MKNOD, FUSE_MKDIR, FUSE_SETXATTR, FUSE_TMPFILE, FUSE_GETATTR,
				    FUSE_RELEASEDIR };
	for (size_t i = 0; i < sizeof(needs_struct) / sizeof(needs_struct[0]); i++) {
		rq_begin(&q, needs_struct[i], 100);
		rq_add(&q, "\1\2\3", 3);
		expect_err(s, -EINVAL, "short struct");
	}
	/* SETATTR: unknown valid bit, huge size, bad nsec */
	struct fuse_setattr_in si = { .valid = 1u << 20 };
	rq_begin(&q, FUSE_SETATTR, 100);
	rq_add(&q, &si, sizeof(si));
	expect_err(s, -EINVAL, "setattr unknown bit");
	si = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = UINT64_MAX };
	rq_begin(&q, FUSE_SETATTR, 100);
	rq_add(&q, &si, sizeof(si));
	expect_err(s, -EINVAL, "setattr huge size");
	si = (struct fuse_setattr_in){ .valid = FATTR_MTIME, .mtimensec = 1000000000u };
	rq_begin(&q, FUSE_SETATTR, 100);
	rq_add(&q, &si, sizeof(si));
	expect_err(s, -EINVAL, "setattr bad nsec");
	/* READ: huge offset, larger than the reply room */
	struct fuse_read_in rd = { .offset = UINT64_MAX - 5, .size = 10 };
	rq_begin(&q, FUSE_READ, 100);
	rq_add(&q, &rd, sizeof(rd));
	expect_err(s, -EINVAL, "read huge offset");
	rd = (struct fuse_read_in){ .offset = 0, .size = 8192 };
	rq_begin(&q, FUSE_READ, 100);
	rq_add(&q, &rd, sizeof(rd));
	rq_end(&q);
	{
		struct iovec in = { q.b, q.len }, out = { outbuf, 4096 + sizeof(struct fuse_out_header) };
		strcpy(m.op, "-");
		CHECK_EQ(proto_handle(s, &in, 1, &out, 1), sizeof(struct fuse_out_header));
		struct fuse_out_header oh;
		memcpy(&oh, outbuf, sizeof(oh));
		CHECK_EQ(oh.error, -EINVAL);
		CHECK(strcmp(m.op, "-") == 0); /* the fs never saw it */
	}
	rd.size = UINT32_MAX;
	rq_begin(&q, FUSE_READ, 100);
	rq_add(&q, &rd, sizeof(rd));
	expect_err(s, -EINVAL, "read of 4 GiB");
	/* WRITE: size disagrees with the payload, too large, offset overflow */
	struct fuse_write_in wi = { .size = 100 };
	rq_begin(&q, FUSE_WRITE, 100);
	rq_add(&q, &wi, sizeof(wi));
	rq_add(&q, "abc", 3);
	expect_err(s, -EINVAL, "write size mismatch");
	wi = (struct fuse_write_in){ .size = 3, .offset = (uint64_t)INT64_MAX - 1 };
	rq_begin(&q, FUSE_WRITE, 100);
	rq_add(&q, &wi, sizeof(wi));
	rq_add(&q, "abc", 3);
	expect_err(s, -EFBIG, "write offset overflow");
	wi = (struct fuse_write_in){ .size = 3, .offset = UINT64_MAX };
	rq_begin(&q, FUSE_WRITE, 100);
	rq_add(&q, &wi, sizeof(wi));
	rq_add(&q, "abc", 3);
	expect_err(s, -EINVAL, "write huge offset");
	/* FALLOCATE / COPY_FILE_RANGE / LSEEK out of range */
	struct fuse_fallocate_in fa = { .offset = (uint64_t)INT64_MAX, .length = 10 };
	rq_begin(&q, FUSE_FALLOCATE, 100);
	rq_add(&q, &fa, sizeof(fa));
	expect_err(s, -EFBIG, "fallocate overflow");
	fa = (struct fuse_fallocate_in){ .offset = 0, .length = UINT64_MAX };
	rq_begin(&q, FUSE_FALLOCATE, 100);
	rq_add(&q, &fa, sizeof(fa));
	expect_err(s, -EINVAL, "fallocate huge length");
	struct fuse_copy_file_range_in cf = { .off_in = UINT64_MAX, .len = 1 };
	rq_begin(&q, FUSE_COPY_FILE_RANGE, 100);
	rq_add(&q, &cf, sizeof(cf));
	expect_err(s, -EINVAL, "copy_file_range huge offset");
	cf = (struct fuse_copy_file_range_in){ .flags = 1, .len = 1 };
	rq_begin(&q, FUSE_COPY_FILE_RANGE, 100);
	rq_add(&q, &cf, sizeof(cf));
	expect_err(s, -EINVAL, "copy_file_range flags");
	struct fuse_lseek_in ls = { .whence = 17 };
	rq_begin(&q, FUSE_LSEEK, 100);
	rq_add(&q, &ls, sizeof(ls));
	expect_err(s, -EINVAL, "lseek whence");
	/* locks: bad type, start after end */
	struct fuse_lk_in lk = { .lk = { .start = 10, .end = 5, .type = F_RDLCK } };
	rq_begin(&q, FUSE_SETLK, 100);
	rq_add(&q, &lk, sizeof(lk));
	expect_err(s, -EINVAL, "lock start > end");
	lk.lk = (struct fuse_file_lock){ .start = 0, .end = 5, .type = 9 };
	rq_begin(&q, FUSE_SETLK, 100);
	rq_add(&q, &lk, sizeof(lk));
	expect_err(s, -EINVAL, "lock type");
	lk.lk = (struct fuse_file_lock){ .start = 0, .end = UINT64_MAX, .type = F_RDLCK };
	rq_begin(&q, FUSE_GETLK, 100);
	rq_add(&q, &lk, sizeof(lk));
	expect_err(s, -EINVAL, "lock end beyond OFFSET_MAX");
	/* ACCESS with unknown bits */
	struct fuse_access_in ai = { .mask = 0x100 };
	rq_begin(&q, FUSE_ACCESS, 1);
	rq_add(&q, &ai, sizeof(ai));
	expect_err(s, -EINVAL, "access mask");
	/* xattrs: value shorter than its size, too large, bad flags, empty / long names */
	struct fuse_setxattr_in sx = { .size = 100 };
	rq_begin(&q, FUSE_SETXATTR, 100);
	rq_add(&q, &sx, sizeof(sx));
	rq_str(&q, "user.x");
	rq_add(&q, "abc", 3);
	expect_err(s, -EINVAL, "setxattr short value");
	sx = (struct fuse_setxattr_in){ .size = 70000 };
	rq_begin(&q, FUSE_SETXATTR, 100);
	rq_add(&q, &sx, sizeof(sx));
	rq_str(&q, "user.x");
	expect_err(s, -E2BIG, "setxattr huge");
	sx = (struct fuse_setxattr_in){ .size = 1, .flags = 0x40 };
	rq_begin(&q, FUSE_SETXATTR, 100);
	rq_add(&q, &sx, sizeof(sx));
	rq_str(&q, "user.x");
	rq_add(&q, "a", 1);
	expect_err(s, -EINVAL, "setxattr flags");
	sx = (struct fuse_setxattr_in){ .size = 1, .setxattr_flags = 0x80 };
	rq_begin(&q, FUSE_SETXATTR, 100);
	rq_add(&q, &sx, sizeof(sx));
	rq_str(&q, "user.x");
	rq_add(&q, "a", 1);
	expect_err(s, -EINVAL, "setxattr_flags");
	struct fuse_getxattr_in gx = { .size = 10 };
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, "");
	expect_err(s, -ERANGE, "getxattr empty name");
	rq_begin(&q, FUSE_GETXATTR, 100);
	rq_add(&q, &gx, sizeof(gx));
	rq_str(&q, longname);
	expect_err(s, -ERANGE, "getxattr long name");
	rq_begin(&q, FUSE_REMOVEXATTR, 100);
	rq_add(&q, "user.x", 6);
	expect_err(s, -EINVAL, "removexattr without NUL");

	/* BATCH_FORGET claiming more entries than it carries: dropped whole, no reply */
	m.forgets = 0;
	struct fuse_batch_forget_in bi = { .count = 0x10000000 };
	struct fuse_forget_one one = { 100, 1 };
	rq_begin(&q, FUSE_BATCH_FORGET, 0);
	rq_add(&q, &bi, sizeof(bi));
	rq_add(&q, &one, sizeof(one));
	CHECK_EQ(send(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 0);
	bi.count = UINT32_MAX;
	rq_begin(&q, FUSE_BATCH_FORGET, 0);
	rq_add(&q, &bi, sizeof(bi));
	CHECK_EQ(send(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 0);
	/* FORGET cut short: dropped */
	rq_begin(&q, FUSE_FORGET, 100);
	rq_add(&q, "\1", 1);
	CHECK_EQ(send(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 0);
	/* INTERRUPT is never answered */
	rq_begin(&q, FUSE_INTERRUPT, 0);
	rq_add(&q, "\1", 1);
	CHECK_EQ(send(s, &q, &err), 0);

	/* reply room too small for an entry: refused before the fs takes a lookup */
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "x");
	rq_end(&q);
	{
		struct iovec in = { q.b, q.len }, out = { outbuf, 20 };
		strcpy(m.op, "-");
		CHECK_EQ(proto_handle(s, &in, 1, &out, 1), sizeof(struct fuse_out_header));
		struct fuse_out_header oh;
		memcpy(&oh, outbuf, sizeof(oh));
		CHECK_EQ(oh.error, -EINVAL);
		CHECK(strcmp(m.op, "-") == 0);
		/* no room even for a header: the transport's bug, reported, nothing written */
		memset(outbuf, 0x5a, 16);
		out.iov_len = 15;
		CHECK_EQ(proto_handle(s, &in, 1, &out, 1), -ENOBUFS);
		CHECK_EQ(outbuf[0], 0x5a);
	}
}

/* The same requests through scattered iovecs (a virtio descriptor chain): same replies. */
static void test_scattered(struct proto_session *s)
{
	static uint8_t o1[16], o2[7], o3[100000];
	uint8_t flat[100000 + 23];
	struct fuse_read_in rd = { .fh = 1, .offset = 0, .size = 50000 };
	struct fuse_read_in rdd = { .fh = 88, .offset = 0, .size = 8192 };
	struct fuse_getxattr_in gx = { .size = 100 };
	for (int t = 0; t < 5; t++) {
		m.readdir_entries = 500;
		if (t == 0) {
			rq_begin(&q, FUSE_READ, 100);
			rq_add(&q, &rd, sizeof(rd));
		} else if (t == 1) {
			rq_begin(&q, FUSE_READDIRPLUS, 1);
			rq_add(&q, &rdd, sizeof(rdd));
		} else if (t == 2) {
			rq_begin(&q, FUSE_GETATTR, 1);
			struct fuse_getattr_in gi = { 0 };
			rq_add(&q, &gi, sizeof(gi));
		} else if (t == 3) {
			rq_begin(&q, FUSE_GETXATTR, 1);
			rq_add(&q, &gx, sizeof(gx));
			rq_str(&q, "user.y");
		} else {
			rq_begin(&q, FUSE_READLINK, 1);
		}
		rq_end(&q);
		/* contiguous first */
		struct iovec in1 = { q.b, q.len }, out1 = { flat, sizeof(flat) };
		ssize_t n1 = proto_handle(s, &in1, 1, &out1, 1);
		/* then the request in 3 pieces (one cutting the header), the reply in 3 */
		struct iovec in3[3] = { { q.b, 5 }, { q.b + 5, 30 }, { q.b + 35, q.len - 35 } };
		struct iovec out3[3] = { { o1, sizeof(o1) }, { o2, sizeof(o2) }, { o3, sizeof(o3) } };
		ssize_t n3 = proto_handle(s, in3, 3, out3, 3);
		CHECK_EQ(n1, n3);
		CHECK(n1 > 16);
		uint8_t *joined = malloc((size_t)n3);
		size_t a = MIN((size_t)n3, sizeof(o1));
		memcpy(joined, o1, a);
		size_t b = MIN((size_t)n3 - a, sizeof(o2));
		memcpy(joined + a, o2, b);
		memcpy(joined + a + b, o3, (size_t)n3 - a - b);
		/* the unique differs (same request twice): compare past it */
		CHECK(memcmp(joined, flat, 8) == 0);
		CHECK(memcmp(joined + 16, flat + 16, (size_t)n3 - 16) == 0);
		free(joined);
	}
	/* WRITE payload split over iovecs */
	struct fuse_write_in wi = { .fh = 1, .offset = 0, .size = 10 };
	rq_begin(&q, FUSE_WRITE, 100);
	rq_add(&q, &wi, sizeof(wi));
	rq_add(&q, "0123456789", 10);
	rq_end(&q);
	size_t hl = sizeof(struct fuse_in_header) + sizeof(wi);
	struct iovec in4[4] = { { q.b, hl - 3 }, { q.b + hl - 3, 5 }, { q.b + hl + 2, 4 }, { q.b + hl + 6, 4 } };
	struct iovec out = { outbuf, 4096 };
	CHECK_EQ(proto_handle(s, in4, 4, &out, 1), sizeof(struct fuse_out_header) + sizeof(struct fuse_write_out));
	CHECK_EQ(m.wlen, 10);
	CHECK(memcmp(m.wbuf, "0123456789", 10) == 0);
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
	CHECK_EQ(send(s, &q, &err), 0); /* never answered */
	pthread_join(th, NULL);
	CHECK_EQ(t.err, -EINTR);

	/* the interrupt that arrives before its request is registered */
	rq_begin(&q, FUSE_INTERRUPT, 0);
	ii.unique = 0x6666;
	rq_add(&q, &ii, sizeof(ii));
	CHECK_EQ(send(s, &q, &err), 0);
	h.unique = 0x6666;
	memcpy(t.rq.b, &h, sizeof(h));
	rq_end(&t.rq);
	lock_main(&t);
	CHECK_EQ(t.err, -EINTR);
	/* an interrupt for nobody: dropped, harmless */
	rq_begin(&q, FUSE_INTERRUPT, 0);
	ii.unique = 0x7777;
	rq_add(&q, &ii, sizeof(ii));
	CHECK_EQ(send(s, &q, &err), 0);
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
	CHECK_EQ(send(s, &q, &err), sizeof(struct fuse_out_header));
	CHECK_EQ(err, 0);
	CHECK(m.destroyed);
	CHECK(proto_session_done(s));
	rq_begin(&q, FUSE_LOOKUP, 1);
	rq_str(&q, "x");
	send(s, &q, &err);
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
	send(s, &q, &err);
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
	send(s, &q, &err);
	CHECK_EQ(err, 0);
	CHECK(strcmp(m.name, "user.q") == 0 && m.size == 2);
	/* without killpriv v2 no setattr follows an O_TRUNC open */
	struct fuse_open_in oi = { .flags = O_WRONLY | O_TRUNC, .open_flags = FUSE_OPEN_KILL_SUIDGID };
	rq_begin(&q, FUSE_OPEN, 100);
	rq_add(&q, &oi, sizeof(oi));
	send(s, &q, &err);
	CHECK(strcmp(m.op, "open") == 0);
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
	if (failures) {
		fprintf(stderr, "test-proto: %d failures\n", failures);
		return 1;
	}
	printf("test-proto: all passed\n");
	return 0;
}
