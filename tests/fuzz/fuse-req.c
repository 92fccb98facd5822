/* SPDX-License-Identifier: MIT */
/* The FUSE client side of the proto fuzz targets: see fuse-req.h. */
#include "fuse-req.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "proto/proto.h"
#include "util/macros.h"

static uint8_t *out;
static size_t out_room;

#define SEEN_MAX 64
static uint64_t seen_ino[SEEN_MAX], seen_fh[SEEN_MAX];
static unsigned n_ino, n_fh;

void fuzz_req_cleanup(void)
{
	free(out);
	out = NULL;
}

static void init_session(struct proto_session *s)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} req = {
		.h = { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 1 },
		.i = { .major = 7, .minor = 38, .max_readahead = 65536, .flags = 0xffffffffu & ~FUSE_INIT_EXT },
	};
	struct iovec in = { &req, sizeof(req) }, ov = { out, out_room };
	proto_handle(s, &in, 1, &ov, 1);
}

static uint64_t remap(uint64_t v, const uint64_t *seen, unsigned n)
{
	return v >= 0x100 && v < 0x200 && n ? seen[(v - 0x100) % n] : v;
}

static void remap_at(uint8_t *req, size_t len, size_t off, const uint64_t *seen, unsigned n)
{
	uint64_t v;
	if (len < off + sizeof(v))
		return;
	memcpy(&v, req + off, sizeof(v));
	v = remap(v, seen, n);
	memcpy(req + off, &v, sizeof(v));
}

static bool fh_first(uint32_t op)
{
	switch (op) {
	case FUSE_READ:
	case FUSE_WRITE:
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
	case FUSE_LSEEK:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW:
		return true;
	}
	return false;
}

static void seen_add(uint64_t *seen, unsigned *n, uint64_t v)
{
	if (*n < SEEN_MAX)
		seen[(*n)++] = v;
}

/* Remember what a successful reply to op handed out. */
static void learn(uint32_t op, const uint8_t *reply, size_t len)
{
	const uint8_t *p = reply + sizeof(struct fuse_out_header);
	size_t plen = len - sizeof(struct fuse_out_header);
	uint64_t v;
	switch (op) {
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		if (plen >= sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)) {
			memcpy(&v, p + sizeof(struct fuse_entry_out), sizeof(v));
			seen_add(seen_fh, &n_fh, v);
		}
		/* fall through: the entry */
	case FUSE_LOOKUP:
	case FUSE_MKDIR:
	case FUSE_MKNOD:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		if (plen >= sizeof(struct fuse_entry_out)) {
			memcpy(&v, p, sizeof(v));
			if (v)
				seen_add(seen_ino, &n_ino, v);
		}
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		if (plen >= sizeof(struct fuse_open_out)) {
			memcpy(&v, p, sizeof(v));
			seen_add(seen_fh, &n_fh, v);
		}
		break;
	case FUSE_READDIRPLUS:
		for (size_t pos = 0; plen - pos >= FUSE_NAME_OFFSET_DIRENTPLUS;) {
			struct fuse_direntplus d;
			memcpy(&d, p + pos, sizeof(d));
			if (d.entry_out.nodeid)
				seen_add(seen_ino, &n_ino, d.entry_out.nodeid);
			size_t step = FUSE_DIRENTPLUS_SIZE(&d);
			if (!d.dirent.namelen || step > plen - pos)
				break;
			pos += step;
		}
		break;
	}
}

/* Cap the u64 at off, where the request has it, at 1 MiB. */
static void cap_at(uint8_t *req, size_t len, size_t off)
{
	uint64_t v;
	if (len < off + sizeof(v))
		return;
	memcpy(&v, req + off, sizeof(v));
	v = MIN(v, (uint64_t)1 << 20);
	memcpy(req + off, &v, sizeof(v));
}

/* Name what this input got back, and keep the run bounded (see fuse-req.h). */
static void tame(uint8_t *req, size_t len)
{
	struct fuse_in_header h;
	if (len < sizeof(h))
		return;
	memcpy(&h, req, sizeof(h));
	h.nodeid = remap(h.nodeid, seen_ino, n_ino);
	if (h.opcode == FUSE_SETLKW)
		h.opcode = FUSE_SETLK;
	memcpy(req, &h, sizeof(h));
	const size_t a = sizeof(h); /* where the arguments start */
	if (fh_first(h.opcode))
		remap_at(req, len, a, seen_fh, n_fh);
	switch (h.opcode) {
	case FUSE_LINK: /* oldnodeid */
	case FUSE_RENAME: /* newdir */
	case FUSE_RENAME2:
		remap_at(req, len, a, seen_ino, n_ino);
		break;
	case FUSE_COPY_FILE_RANGE:
		remap_at(req, len, a + offsetof(struct fuse_copy_file_range_in, nodeid_out), seen_ino, n_ino);
		remap_at(req, len, a + offsetof(struct fuse_copy_file_range_in, fh_out), seen_fh, n_fh);
		cap_at(req, len, a + offsetof(struct fuse_copy_file_range_in, len));
		break;
	case FUSE_FALLOCATE:
		cap_at(req, len, a + offsetof(struct fuse_fallocate_in, offset));
		cap_at(req, len, a + offsetof(struct fuse_fallocate_in, length));
		break;
	case FUSE_WRITE: /* a size that makes a sparse file is fine; keep writes from growing files far out */
		cap_at(req, len, a + offsetof(struct fuse_write_in, offset));
		break;
	}
}

/* One request of n bytes: through proto, then the reply checked and learnt from. */
static void handle_one(struct proto_session *s, const uint8_t *data, size_t n)
{
	/* an exact-size copy: ASan sees any read past the request */
	uint8_t *req = malloc(n ? n : 1);
	if (!req)
		abort();
	memcpy(req, data, n);
	tame(req, n);
	struct iovec in = { req, n }, ov = { out, out_room };
	ssize_t r = proto_handle(s, &in, 1, &ov, 1);
	if (r > (ssize_t)out_room)
		abort();
	if (r >= (ssize_t)sizeof(struct fuse_out_header)) {
		struct fuse_out_header oh;
		memcpy(&oh, out, sizeof(oh));
		if (oh.len != (uint32_t)r || oh.error > 0 || oh.error < -4095 || (oh.error && r != 16))
			abort();
		if (oh.error == 0 && n >= sizeof(struct fuse_in_header)) {
			struct fuse_in_header h;
			memcpy(&h, req, sizeof(h));
			learn(h.opcode, out, (size_t)r);
		}
	}
	free(req);
}

void fuzz_req_run(struct fs *fs, const uint8_t *data, size_t size, fuzz_req_hook hook)
{
	struct proto_session *s;
	struct proto_opts po = { .max_write = 1 << 17, .borrow_fs = true };
	if (proto_session_new(fs, &po, NULL, &s) < 0)
		abort();
	if (!out) {
		out_room = proto_reply_room(s);
		out = malloc(out_room);
		if (!out)
			abort();
	}
	init_session(s);
	n_ino = n_fh = 0;
	size_t pos = 0;
	while (pos < size) {
		/* a request is as long as its header says when that fits what is left; else the rest, whole */
		size_t left = size - pos, n = left;
		struct fuse_in_header h;
		if (left >= sizeof(h)) {
			memcpy(&h, data + pos, sizeof(h));
			if (h.len >= sizeof(h) && h.len <= left)
				n = h.len;
		}
		if (!(hook && n >= sizeof(h) && hook(&h)))
			handle_one(s, data + pos, n);
		pos += n;
		if (proto_session_done(s))
			break;
	}
	proto_session_free(s);
}
