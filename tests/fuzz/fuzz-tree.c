/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: raw FUSE request bytes -> proto_handle() -> a share tree: a null root with rw and ro
 * directory entries, ro and rw single-file entries, a nested entry, a read-only passthrough entry of a scratch
 * directory, virtual files (text, nested, one-shot, the live status file) and a virtual directory merged over
 * an entry's real directory.
 *
 * Each input is a fresh session (INIT first), cut into requests by their own header lengths. Node ids and fhs
 * the replies handed out are remembered and the input names them as 0x100 + i (nodeid, and the fh that
 * starts most file requests), so one input can look up, open, list and read. The reply must fit the room
 * given and be a well-formed header; the session's end (fs->destroy) releases every lookup and open.
 *
 * A request with opcode CTL_OPCODE (no FUSE opcode) is the control socket instead: it removes, or adds back,
 * one of a few entries (selected by its nodeid), so removal while the client holds nodes and handles of an
 * entry, and the entry's freeing when the last of them goes, are fuzzed too. Every input ends with the tree
 * as it began.
 */
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/memfs.h"
#include "fs/passthrough.h"
#include "proto/proto.h"
#include "tree/tree.h"
#include "util/macros.h"

static char scratch[] = "/tmp/fuzz-tree-XXXXXX";
static struct fs_inomap *map;
static struct tree *tree;
static uint8_t *out;
static size_t out_room;
static int proc_fd = -1;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	remove(p);
	return 0;
}

static void cleanup(void)
{
	if (tree)
		fs_free(tree_fs(tree));
	tree_free(tree);
	fs_inomap_unref(map);
	free(out);
	if (proc_fd >= 0)
		close(proc_fd);
	nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int open_pt(void *data, int fd, struct fs_inomap *m, struct fs **ret)
{
	struct pt_opts o;
	pt_opts_default(&o);
	o.max_fds = 128;
	return pt_new(fd, proc_fd, &o, m, ret);
}

static struct fs *mem_dir(const char *file, const char *data)
{
	struct memfs *m = memfs_new(map, false, 0);
	int64_t d = memfs_mk(m, 1, "sub", S_IFDIR | 0755, NULL);
	memfs_mk(m, 1, file, S_IFREG | 0644, data);
	memfs_mk(m, (uint64_t)d, "inner", S_IFREG | 0600, "inner");
	memfs_mk(m, 1, "link", S_IFLNK | 0777, "../etc/conf");
	return &m->base;
}

#define CTL_OPCODE 7000
enum churn_kind { CH_DIR, CH_FILE, CH_VIRTUAL };
static const struct {
	const char *path;
	enum churn_kind kind;
	bool ro;
} churn[] = {
	{ "/ro", CH_DIR, true },
	{ "/etc/conf", CH_FILE, true },
	{ "/srv/deep/x", CH_DIR, false },
	{ "/etc/hostname", CH_VIRTUAL, false },
};
static bool churn_removed[ARRAY_SIZE(churn)];

static int churn_add(size_t i)
{
	switch (churn[i].kind) {
	case CH_DIR:
		return tree_add_fs(tree, mem_dir("file", "churned\n"), churn[i].path, churn[i].ro);
	case CH_FILE:
		return tree_add_fs(tree, &memfs_new(map, true, 0)->base, churn[i].path, churn[i].ro);
	case CH_VIRTUAL:
		return ovl_add_buffer(tree_fs(tree), churn[i].path, "box\n", 4, NULL);
	}
	return -EINVAL;
}

static void churn_toggle(size_t i)
{
	if (churn_removed[i]) {
		if (churn_add(i) < 0)
			abort();
	} else if (tree_remove(tree, churn[i].path) < 0) {
		abort();
	}
	churn_removed[i] = !churn_removed[i];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		exit(1);
	}
	int rfd = open(scratch, O_DIRECTORY | O_CLOEXEC);
	proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0 || proc_fd < 0) {
		perror("open");
		exit(1);
	}
	int fd = openat(rfd, "hostfile", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, "host bytes\n", 11) < 0) {
		}
		close(fd);
	}
	mkdirat(rfd, "hostdir", 0755);
	if (symlinkat("/etc/passwd", rfd, "escape") < 0) {
	}
	close(rfd);
	atexit(cleanup);

	map = fs_inomap_new();
	struct tree_opts to = { .open_entry = open_pt };
	if (tree_new(map, NULL, &to, &tree) < 0)
		abort();
	int r = 0;
	r |= tree_add_fs(tree, mem_dir("file", "rw data\n"), "/data", false);
	r |= tree_add_fs(tree, &memfs_new(map, true, 0)->base, "/etc/rwfile", false);
	r |= tree_add_host(tree, open(scratch, O_PATH | O_DIRECTORY | O_CLOEXEC), TREE_DIR, "/host", true);
	r |= ovl_add_buffer(tree_fs(tree), "/v/w/x", "nested", 6, &(struct ovl_attr){ .mode = 0640, .uid = 5 });
	r |= ovl_add_buffer(tree_fs(tree), "/data/sub/virtual", "merged", 6, NULL);
	r |= ovl_add_buffer(tree_fs(tree), "/data/file", "shadow", 6, NULL);
	r |= tree_add_status(tree, "/.status");
	for (size_t i = 0; i < ARRAY_SIZE(churn); i++)
		r |= churn_add(i);
	if (r) {
		fprintf(stderr, "fuzz-tree: setting up the tree failed\n");
		exit(1);
	}
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
	return v >= 0x100 && v < 0x200 && n ? seen[(v - 0x100) % n] : v;
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

static void learn(uint32_t op, const uint8_t *reply, ssize_t len)
{
	const uint8_t *p = reply + sizeof(struct fuse_out_header);
	size_t plen = (size_t)len - sizeof(struct fuse_out_header);
	uint64_t v;
	if ((op == FUSE_LOOKUP || op == FUSE_MKDIR || op == FUSE_MKNOD || op == FUSE_SYMLINK || op == FUSE_LINK ||
	     op == FUSE_CREATE || op == FUSE_TMPFILE) &&
	    plen >= sizeof(struct fuse_entry_out)) {
		memcpy(&v, p, 8);
		if (v && n_ino < SEEN_MAX)
			seen_ino[n_ino++] = v;
		if ((op == FUSE_CREATE || op == FUSE_TMPFILE) &&
		    plen >= sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out) && n_fh < SEEN_MAX) {
			memcpy(&v, p + sizeof(struct fuse_entry_out), 8);
			seen_fh[n_fh++] = v;
		}
	}
	if ((op == FUSE_OPEN || op == FUSE_OPENDIR) && plen >= sizeof(struct fuse_open_out) && n_fh < SEEN_MAX) {
		memcpy(&v, p, 8);
		seen_fh[n_fh++] = v;
	}
	/* readdirplus hands out node ids too */
	if (op == FUSE_READDIRPLUS) {
		size_t pos = 0;
		while (plen - pos >= FUSE_NAME_OFFSET_DIRENTPLUS) {
			struct fuse_direntplus d;
			memcpy(&d, p + pos, sizeof(d));
			if (d.entry_out.nodeid && n_ino < SEEN_MAX)
				seen_ino[n_ino++] = d.entry_out.nodeid;
			size_t step = FUSE_DIRENTPLUS_SIZE(&d);
			if (!d.dirent.namelen || step > plen - pos)
				break;
			pos += step;
		}
	}
}

static void tame(uint8_t *req, size_t len)
{
	struct fuse_in_header h;
	if (len < sizeof(h))
		return;
	memcpy(&h, req, sizeof(h));
	h.nodeid = remap(h.nodeid, seen_ino, n_ino);
	if (h.opcode == FUSE_SETLKW) /* one thread: a wait for our own lock would never end */
		h.opcode = FUSE_SETLK;
	memcpy(req, &h, sizeof(h));
	if (fh_first(h.opcode) && len >= sizeof(h) + 8) {
		uint64_t fh;
		memcpy(&fh, req + sizeof(h), 8);
		fh = remap(fh, seen_fh, n_fh);
		memcpy(req + sizeof(h), &fh, 8);
	}
	/* the node id argument of LINK and the second file of COPY_FILE_RANGE / RENAME's newdir */
	if (h.opcode == FUSE_LINK && len >= sizeof(h) + 8) {
		uint64_t v;
		memcpy(&v, req + sizeof(h), 8);
		v = remap(v, seen_ino, n_ino);
		memcpy(req + sizeof(h), &v, 8);
	}
	if ((h.opcode == FUSE_RENAME || h.opcode == FUSE_RENAME2) && len >= sizeof(h) + 8) {
		uint64_t v;
		memcpy(&v, req + sizeof(h), 8);
		v = remap(v, seen_ino, n_ino);
		memcpy(req + sizeof(h), &v, 8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_session *s;
	struct proto_opts po = { .max_write = 1 << 17, .borrow_fs = true };
	if (proto_session_new(tree_fs(tree), &po, NULL, &s) < 0)
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
		if (n >= sizeof(struct fuse_in_header)) {
			struct fuse_in_header h;
			memcpy(&h, data + pos, sizeof(h));
			if (h.opcode == CTL_OPCODE) {
				churn_toggle(h.nodeid % ARRAY_SIZE(churn));
				pos += n;
				continue;
			}
		}
		uint8_t *req = malloc(n ? n : 1); /* exact size: ASan sees any read past the request */
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
	for (size_t i = 0; i < ARRAY_SIZE(churn); i++)
		if (churn_removed[i])
			churn_toggle(i);
	return 0;
}
