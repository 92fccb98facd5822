/* SPDX-License-Identifier: MIT */
/* Passthrough attributes (struct fs_ops slots): getattr, setattr, readlink, xattrs, access, statfs, syncfs. */
#pragma once

#include <boxshare/fs.h>

int pt_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool has_fh,
	       struct stat *ret_attr, double *ret_timeout);
int pt_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *attr, uint32_t to_set,
	       uint64_t fh, struct stat *ret_attr, double *ret_timeout);
int pt_readlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size, size_t *ret_len);
int pt_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, const void *value,
		size_t size, int xattr_flags, uint32_t setxattr_flags);
int pt_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name, void *buf, size_t size,
		size_t *ret_size);
int pt_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *buf, size_t size, size_t *ret_size);
int pt_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *name);
int pt_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int mask);
int pt_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *ret);
int pt_syncfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino);
