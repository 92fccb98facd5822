/* SPDX-License-Identifier: MIT */
/* Passthrough file I/O (struct fs_ops slots): see include/boxshare/fs.h for their contracts. */
#pragma once

#include <boxshare/fs.h>

int pt_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int flags, struct fs_open *ret);
int pt_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, const char *name, mode_t mode, int flags,
	      struct fs_entry *ret_entry, struct fs_open *ret_open);
int pt_tmpfile(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent, mode_t mode, int flags,
	       struct fs_entry *ret_entry, struct fs_open *ret_open);
int pt_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
	    const struct iovec *dst, int dst_cnt, size_t *ret_len);
int pt_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
	     const struct iovec *src, int src_cnt, uint32_t write_flags, size_t *ret_len);
int pt_flush(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t lock_owner);
void pt_release(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int flags, uint64_t lock_owner,
		bool flock_release);
int pt_fsync(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync);
int pt_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off,
		 off_t len);
int pt_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
	     off_t *ret_off);
int pt_copy_file_range(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino_in, uint64_t fh_in, off_t off_in,
		       uint64_t ino_out, uint64_t fh_out, off_t off_out, size_t len, unsigned flags,
		       size_t *ret_len);
