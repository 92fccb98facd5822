/* SPDX-License-Identifier: MIT */
/*
 * Reading back what an inner fs wrote into a directory buffer. Layers that merge listings (the overlay) need
 * the inner's entries as values, and layers that renumber st_ino need to patch them. fs.h offers only the
 * writing side of struct fs_dirbuf, so this file is the one place outside src/proto that decodes the buffer's
 * layout (struct fuse_dirent / fuse_direntplus, through proto/wire.h).
 */
#pragma once

#include <boxshare/fs.h>

struct ds_ent {
	const char *name; /* not NUL-terminated */
	size_t namelen;
	uint64_t st_ino;
	unsigned type;     /* DT_* */
	uint64_t next_off; /* the inner's cookie after this entry */
};

/* A scratch listing: the inner's plain readdir of (ino, fh) from cookie off, at most size bytes of it. */
struct ds_scan {
	void *mem;
	size_t len, pos;
};
int ds_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, void *mem,
	    size_t size, struct ds_scan *ret);
/* Next entry of the scan; false at its end (or at a malformed entry, which ends it). */
bool ds_next(struct ds_scan *s, struct ds_ent *ret);

/* Bytes used in b so far (to patch only what an inner call appended). */
size_t ds_len(const struct fs_dirbuf *b);
/* Rewrite st_ino (and, for readdirplus, attr.ino) of the entries appended to b since byte from. */
void ds_patch_ino(struct fs_dirbuf *b, size_t from, uint64_t (*map)(uint64_t ino, uint32_t tag), uint32_t tag);
