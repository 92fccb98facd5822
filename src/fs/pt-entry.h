/* SPDX-License-Identifier: MIT */
/* Passthrough name operations (struct fs_ops slots): see include/boxshare/fs.h for their contracts. */
#pragma once

#include <boxshare/fs.h>

int pt_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, struct fs_entry *ret);
int pt_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode, dev_t rdev,
	     struct fs_entry *ret);
int pt_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode,
	     struct fs_entry *ret);
int pt_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, const char *target,
	       struct fs_entry *ret);
int pt_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t newparent, const char *newname,
	    struct fs_entry *ret);
int pt_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name);
int pt_rmdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name);
int pt_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, uint64_t newparent,
	      const char *newname, unsigned flags);
