/* SPDX-License-Identifier: MIT */
/* The mock struct fs of test-proto (it records the last call and answers as told) and request building. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto-test.h"
#include "util/macros.h"

int failures;

/* ---- the mock fs: records the last call ---- */

struct mock_state m;

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

struct fs mock_fs = { .ops = &mock_ops, .kind = "mock", .root = FS_ROOT_ID };

/* ---- request building ---- */



static uint64_t next_unique = 1;

void rq_begin(struct rq *q, uint32_t opcode, uint64_t nodeid)
{
	memset(q->b, 0, sizeof(struct fuse_in_header));
	struct fuse_in_header h = { .opcode = opcode, .unique = next_unique++, .nodeid = nodeid, .uid = 1000,
				    .gid = 1000, .pid = 4321 };
	memcpy(q->b, &h, sizeof(h));
	q->len = sizeof(h);
}
void rq_add(struct rq *q, const void *p, size_t n)
{
	memcpy(q->b + q->len, p, n);
	q->len += n;
}
void rq_str(struct rq *q, const char *s)
{
	rq_add(q, s, strlen(s) + 1);
}
void rq_end(struct rq *q)
{
	uint32_t l = (uint32_t)q->len;
	memcpy(q->b, &l, 4);
}
uint64_t rq_unique(const struct rq *q)
{
	struct fuse_in_header h;
	memcpy(&h, q->b, sizeof(h));
	return h.unique;
}

uint8_t outbuf[(1 << 20) + 4096 + 65536];

/* Send q (as one iovec) and return the reply length; *err gets the error field. */
ssize_t send_room(struct proto_session *s, struct rq *q, size_t room, int *err)
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
ssize_t send_rq(struct proto_session *s, struct rq *q, int *err)
{
	return send_room(s, q, sizeof(outbuf), err);
}
const void *payload(void)
{
	return outbuf + sizeof(struct fuse_out_header);
}

struct rq q;

struct notes notes;

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

struct proto_session *new_session(const struct proto_opts *o)
{
	struct proto_session *s;
	struct proto_opts def = { .max_write = 1 << 20, .borrow_fs = true };
	struct proto_transport t = { .send_notify = capture_notify };
	CHECK_EQ(proto_session_new(&mock_fs, o ? o : &def, &t, &s), 0);
	return s;
}

ssize_t do_init(struct proto_session *s, uint32_t major, uint32_t minor, uint32_t flags, int *err)
{
	struct fuse_init_in in = { .major = major, .minor = minor, .max_readahead = 131072, .flags = flags };
	rq_begin(&q, FUSE_INIT, 0);
	rq_add(&q, &in, sizeof(in));
	return send_rq(s, &q, err);
}

struct proto_session *ready_session(void)
{
	int err;
	struct proto_session *s = new_session(NULL);
	m.ret = 0;
	CHECK_EQ(do_init(s, 7, 38, ALL_FLAGS, &err), sizeof(struct fuse_out_header) + sizeof(struct fuse_init_out));
	CHECK_EQ(err, 0);
	CHECK(proto_session_ready(s));
	return s;
}
