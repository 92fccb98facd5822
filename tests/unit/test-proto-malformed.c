/* SPDX-License-Identifier: MIT */
/*
 * test-proto, part two: every malformed request of the issue gets the right errno or is dropped, never a crash
 * or an access outside the buffers (run under ASan too); and the same requests through scattered iovecs (a
 * virtio descriptor chain) give the same replies as through one buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "proto-test.h"
#include "util/macros.h"

static void expect_err(struct proto_session *s, int want, const char *what)
{
	int err;
	ssize_t n = send_rq(s, &q, &err);
	if (err != want) {
		fprintf(stderr, "malformed %s: got %d (len %zd), want %d\n", what, err, n, want);
		failures++;
	}
}

void test_malformed(struct proto_session *s)
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
	CHECK_EQ(send_rq(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 0);
	bi.count = UINT32_MAX;
	rq_begin(&q, FUSE_BATCH_FORGET, 0);
	rq_add(&q, &bi, sizeof(bi));
	CHECK_EQ(send_rq(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 0);
	/* FORGET cut short: dropped */
	rq_begin(&q, FUSE_FORGET, 100);
	rq_add(&q, "\1", 1);
	CHECK_EQ(send_rq(s, &q, &err), 0);
	CHECK_EQ(m.forgets, 0);
	/* INTERRUPT is never answered */
	rq_begin(&q, FUSE_INTERRUPT, 0);
	rq_add(&q, "\1", 1);
	CHECK_EQ(send_rq(s, &q, &err), 0);

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
void test_scattered(struct proto_session *s)
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
