/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: raw FUSE request bytes -> proto_handle() -> a share tree: a null root with rw and ro
 * directory entries, ro and rw single-file entries, a nested entry, a read-only passthrough entry of a scratch
 * directory, virtual files (text, nested, one-shot, the live status file) and a virtual directory merged over
 * an entry's real directory.
 *
 * Each input is a fresh session (INIT first), cut into requests by their own header lengths; node ids and fhs
 * the replies handed out can be named again, so one input can look up, open, list and read (fuse-req.h). The
 * reply must fit the room given and be a well-formed header; the session's end (fs->destroy) releases every
 * lookup and open.
 *
 * A request with opcode CTL_OPCODE (no FUSE opcode) is the control socket instead: it removes, or adds back,
 * one of a few entries (selected by its nodeid), so removal while the client holds nodes and handles of an
 * entry, and the entry's freeing when the last of them goes, are fuzzed too. Every input ends with the tree
 * as it began.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/memfs.h"
#include "fs/passthrough.h"
#include "fuse-req.h"
#include "tree/tree.h"
#include "util/macros.h"

static char scratch[] = "/tmp/fuzz-tree-XXXXXX";
static struct fs_inomap *map;
static struct tree *tree;
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
	fuzz_req_cleanup();
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

/* A request with CTL_OPCODE is the control socket's: toggle the entry its nodeid selects. */
static bool ctl_request(const struct fuse_in_header *h)
{
	if (h->opcode != CTL_OPCODE)
		return false;
	churn_toggle(h->nodeid % ARRAY_SIZE(churn));
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_req_run(tree_fs(tree), data, size, ctl_request);
	for (size_t i = 0; i < ARRAY_SIZE(churn); i++)
		if (churn_removed[i])
			churn_toggle(i);
	return 0;
}
