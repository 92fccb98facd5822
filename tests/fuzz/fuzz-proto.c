/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: raw request bytes -> proto_handle() -> the real passthrough backend on a scratch
 * directory. Each input is a fresh session (INIT done first, so the bytes reach dispatch), then the input is
 * cut into requests by their own header lengths (so one input can look up, open and read), and the rest is
 * fed whole, malformed or not. The reply must stay inside the room given; the session is freed after each
 * input (fs->destroy releases every lookup and open, so inputs do not pile up resources).
 *
 * Node ids and file handles are not guessable (the backend hashes them), so the harness remembers the ones
 * this input got back (entries, opens) and lets the input name them as 0x100 + i: the header's nodeid, and
 * the fh that starts most file requests' arguments.
 *
 * Two requests are adjusted so the run stays bounded, not to hide anything from the decoder: a SETLKW becomes
 * a SETLK (one thread: a wait for our own other lock would never end), and FALLOCATE/COPY_FILE_RANGE lengths
 * are capped at 1 MiB (they would fill the disk).
 */
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/passthrough.h"
#include "proto/proto.h"
#include "util/macros.h"

static char root_path[] = "/tmp/fuzz-proto-XXXXXX";
static struct fs *pt_fs;
static struct fs_inomap *map;
static uint8_t *out;
static size_t out_room;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p) < 0 ? 0 : 0;
}

static void cleanup(void)
{
	/* the fs goes first: it holds fds below the directory */
	fs_free(pt_fs);
	fs_inomap_unref(map);
	free(out);
	nftw(root_path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void populate(int dfd)
{
	int fd = openat(dfd, "file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, "hello, fuzz\n", 12) < 0) {
		}
		close(fd);
	}
	mkdirat(dfd, "dir", 0755);
	fd = openat(dfd, "dir/inner", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	if (symlinkat("/etc/passwd", dfd, "escape") < 0) {
	}
	if (symlinkat("file", dfd, "link") < 0) {
	}
	mkfifoat(dfd, "fifo", 0644);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(root_path)) {
		perror("mkdtemp");
		exit(1);
	}
	int dfd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rfd = open(root_path, O_DIRECTORY | O_CLOEXEC);
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || rfd < 0 || proc < 0) {
		perror("open");
		exit(1);
	}
	populate(rfd);
	close(rfd);
	map = fs_inomap_new();
	struct pt_opts o;
	pt_opts_default(&o);
	o.max_fds = 256;
	int r = pt_new(dfd, proc, &o, map, &pt_fs);
	close(proc);
	if (r < 0) {
		fprintf(stderr, "pt_new: %s\n", strerror(-r));
		exit(1);
	}
	atexit(cleanup);
	return 0;
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

#define SEEN_MAX 64
static uint64_t seen_ino[SEEN_MAX], seen_fh[SEEN_MAX];
static unsigned n_ino, n_fh;

static uint64_t remap(uint64_t v, const uint64_t *seen, unsigned n)
{
	if (v >= 0x100 && v < 0x200 && n)
		return seen[(v - 0x100) % n];
	return v;
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

/* Remember what a successful reply handed out. */
static void learn(uint32_t op, const uint8_t *reply, ssize_t len)
{
	const uint8_t *p = reply + sizeof(struct fuse_out_header);
	size_t plen = (size_t)len - sizeof(struct fuse_out_header);
	uint64_t v;
	switch (op) {
	case FUSE_LOOKUP:
	case FUSE_MKDIR:
	case FUSE_MKNOD:
	case FUSE_SYMLINK:
	case FUSE_LINK:
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		if (plen >= sizeof(struct fuse_entry_out)) {
			memcpy(&v, p, 8);
			if (v && n_ino < SEEN_MAX)
				seen_ino[n_ino++] = v;
		}
		if ((op == FUSE_CREATE || op == FUSE_TMPFILE) &&
		    plen >= sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)) {
			memcpy(&v, p + sizeof(struct fuse_entry_out), 8);
			if (n_fh < SEEN_MAX)
				seen_fh[n_fh++] = v;
		}
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		if (plen >= sizeof(struct fuse_open_out)) {
			memcpy(&v, p, 8);
			if (n_fh < SEEN_MAX)
				seen_fh[n_fh++] = v;
		}
		break;
	}
}

static void tame(uint8_t *req, size_t len)
{
	struct fuse_in_header h;
	if (len < sizeof(h))
		return;
	memcpy(&h, req, sizeof(h));
	h.nodeid = remap(h.nodeid, seen_ino, n_ino);
	memcpy(req, &h, sizeof(h));
	if (fh_first(h.opcode) && len >= sizeof(h) + 8) {
		uint64_t fh;
		memcpy(&fh, req + sizeof(h), 8);
		fh = remap(fh, seen_fh, n_fh);
		memcpy(req + sizeof(h), &fh, 8);
	}
	if (h.opcode == FUSE_SETLKW) {
		h.opcode = FUSE_SETLK;
		memcpy(req, &h, sizeof(h));
	}
	const uint64_t cap = 1 << 20;
	if (h.opcode == FUSE_FALLOCATE && len >= sizeof(h) + sizeof(struct fuse_fallocate_in)) {
		struct fuse_fallocate_in f;
		memcpy(&f, req + sizeof(h), sizeof(f));
		f.length = MIN(f.length, cap);
		f.offset = MIN(f.offset, cap);
		memcpy(req + sizeof(h), &f, sizeof(f));
	}
	if (h.opcode == FUSE_COPY_FILE_RANGE && len >= sizeof(h) + sizeof(struct fuse_copy_file_range_in)) {
		struct fuse_copy_file_range_in c;
		memcpy(&c, req + sizeof(h), sizeof(c));
		c.len = MIN(c.len, cap);
		memcpy(req + sizeof(h), &c, sizeof(c));
	}
	/* a size that makes a sparse file is fine; keep writes from growing files far out */
	if (h.opcode == FUSE_WRITE && len >= sizeof(h) + sizeof(struct fuse_write_in)) {
		struct fuse_write_in w;
		memcpy(&w, req + sizeof(h), sizeof(w));
		w.offset = MIN(w.offset, cap);
		memcpy(req + sizeof(h), &w, sizeof(w));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_session *s;
	struct proto_opts po = { .max_write = 1 << 17, .borrow_fs = true };
	if (proto_session_new(pt_fs, &po, NULL, &s) < 0)
		abort();
	if (!out) {
		out_room = proto_reply_room(s);
		out = malloc(out_room);
	}
	init_session(s);
	n_ino = n_fh = 0;

	size_t pos = 0;
	while (pos < size) {
		size_t left = size - pos, n = left;
		if (left >= sizeof(struct fuse_in_header)) {
			uint32_t l;
			memcpy(&l, data + pos, 4);
			if (l >= sizeof(struct fuse_in_header) && l <= left)
				n = l;
		}
		/* an exact-size copy: ASan sees any read past the request */
		uint8_t *req = malloc(n ? n : 1);
		memcpy(req, data + pos, n);
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
				learn(h.opcode, out, r);
			}
		}
		free(req);
		pos += n;
		if (proto_session_done(s))
			break;
	}
	proto_session_free(s);
	return 0;
}
