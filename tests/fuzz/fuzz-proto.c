/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: raw request bytes -> proto_handle() -> the real passthrough backend on a scratch
 * directory. Each input is a fresh session (INIT done first, so the bytes reach dispatch), then the input is
 * cut into requests by their own header lengths (so one input can look up, open and read), and the rest is
 * fed whole, malformed or not. The reply must stay inside the room given; the session is freed after each
 * input (fs->destroy releases every lookup and open, so inputs do not pile up resources). How requests are
 * cut, checked, and may name the node ids and fhs replies handed out: fuse-req.h.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/passthrough.h"
#include "fuse-req.h"

static char root_path[] = "/tmp/fuzz-proto-XXXXXX";
static struct fs *pt_fs;
static struct fs_inomap *map;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p) < 0 ? 0 : 0;
}

static void cleanup(void)
{
	/* the fs goes first: it holds fds below the directory */
	fs_free(pt_fs);
	fs_inomap_unref(map);
	fuzz_req_cleanup();
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_req_run(pt_fs, data, size, NULL);
	return 0;
}
