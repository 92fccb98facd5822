/* SPDX-License-Identifier: MIT */
/* Passthrough directory listing: opendir/readdir(plus)/releasedir/fsyncdir (struct fs_ops slots). */
#pragma once

#include <boxshare/fs.h>

struct pt_dir;
void pt_dir_free(struct pt_dir *d);

int pt_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret);
int pt_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off,
	       struct fs_dirbuf *buf);
void pt_releasedir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh);
int pt_fsyncdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync);
