/* SPDX-License-Identifier: MIT */
/* Decoding and patching a struct fs_dirbuf (see dirscan.h for why this lives here). */
#include "tree/dirscan.h"

#include <string.h>

#include "proto/wire.h"

int ds_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, void *mem,
	    size_t size, struct ds_scan *ret)
{
	struct fs_dirbuf b;
	wire_dirbuf_init(&b, mem, size, false, false);
	int r = FS_CALL(fs, readdir, ctx, ino, fh, off, &b);
	*ret = (struct ds_scan){ .mem = mem, .len = r < 0 ? 0 : b.len, .pos = 0 };
	return r < 0 ? r : 0;
}

bool ds_next(struct ds_scan *s, struct ds_ent *ret)
{
	if (s->len - s->pos < FUSE_NAME_OFFSET)
		return false;
	struct fuse_dirent d;
	memcpy(&d, (char *)s->mem + s->pos, FUSE_NAME_OFFSET);
	size_t total = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + (size_t)d.namelen);
	if (d.namelen == 0 || d.namelen > 1024 || total > s->len - s->pos)
		return false;
	*ret = (struct ds_ent){
		.name = (char *)s->mem + s->pos + FUSE_NAME_OFFSET,
		.namelen = d.namelen,
		.st_ino = d.ino,
		.type = d.type,
		.next_off = d.off,
	};
	s->pos += total;
	return true;
}

size_t ds_len(const struct fs_dirbuf *b)
{
	return b->len;
}

void ds_patch_ino(struct fs_dirbuf *b, size_t from, uint64_t (*map)(uint64_t ino, uint32_t tag), uint32_t tag)
{
	size_t pos = from;
	size_t head = b->plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	while (pos < b->len && b->len - pos >= head) {
		char *p = b->mem + pos;
		struct fuse_dirent d;
		size_t doff = b->plus ? offsetof(struct fuse_direntplus, dirent) : 0;
		memcpy(&d, p + doff, FUSE_NAME_OFFSET);
		size_t total = FUSE_DIRENT_ALIGN(head + (size_t)d.namelen);
		if (total > b->len - pos)
			break;
		d.ino = map(d.ino, tag);
		memcpy(p + doff, &d, FUSE_NAME_OFFSET);
		if (b->plus) {
			struct fuse_entry_out eo;
			memcpy(&eo, p, sizeof(eo));
			eo.attr.ino = map(eo.attr.ino, tag);
			memcpy(p, &eo, sizeof(eo));
		}
		pos += total;
	}
}
