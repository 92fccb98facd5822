/* SPDX-License-Identifier: MIT */
/* Encoding of attrs, entries and directory entries into FUSE wire structs. */
#include "proto/wire.h"

#include <math.h>
#include <string.h>

void wire_timeout(double secs, uint64_t *ret_sec, uint32_t *ret_nsec)
{
	if (!(secs > 0)) { /* also NaN */
		*ret_sec = 0;
		*ret_nsec = 0;
		return;
	}
	if (secs >= 18446744073709551615.0) {
		*ret_sec = UINT64_MAX;
		*ret_nsec = 999999999;
		return;
	}
	double whole = floor(secs);
	*ret_sec = (uint64_t)whole;
	uint64_t ns = (uint64_t)((secs - whole) * 1e9);
	*ret_nsec = ns > 999999999 ? 999999999 : (uint32_t)ns;
}

void wire_attr(struct fuse_attr *a, const struct stat *st, uint32_t attr_flags, bool submounts)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
	if (submounts && (attr_flags & FS_ATTR_SUBMOUNT))
		a->flags |= FUSE_ATTR_SUBMOUNT;
}

void wire_entry(struct fuse_entry_out *o, const struct fs_entry *e, bool submounts)
{
	memset(o, 0, sizeof(*o));
	o->nodeid = e->ino;
	o->generation = e->generation;
	wire_timeout(e->entry_timeout, &o->entry_valid, &o->entry_valid_nsec);
	wire_timeout(e->attr_timeout, &o->attr_valid, &o->attr_valid_nsec);
	wire_attr(&o->attr, &e->attr, e->attr_flags, submounts);
}

void wire_dirbuf_init(struct fs_dirbuf *b, void *mem, size_t size, bool plus, bool submounts)
{
	*b = (struct fs_dirbuf){ .mem = mem, .size = size, .plus = plus, .submounts = submounts };
}

static size_t dirent_size(const struct fs_dirbuf *b, size_t namelen)
{
	size_t off = b->plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	return FUSE_DIRENT_ALIGN(off + namelen);
}

bool fs_dirbuf_is_plus(const struct fs_dirbuf *b)
{
	return b->plus;
}

bool fs_dirbuf_fits(const struct fs_dirbuf *b, size_t namelen)
{
	if (b->filter)
		return namelen > 0 && namelen <= 1024 && b->filter->fits(b->filter->data, namelen);
	return namelen > 0 && namelen <= 1024 && dirent_size(b, namelen) <= b->size - b->len;
}

/* Writes the fuse_dirent part at p; the caller checked the room. Padding is zeroed: no stale bytes leak. */
static void put_dirent(char *p, const char *name, size_t namelen, uint64_t st_ino, unsigned type,
		       uint64_t next_off, size_t total)
{
	struct fuse_dirent d = {
		.ino = st_ino,
		.off = next_off,
		.namelen = (uint32_t)namelen,
		.type = type,
	};
	memcpy(p, &d, FUSE_NAME_OFFSET);
	memcpy(p + FUSE_NAME_OFFSET, name, namelen);
	memset(p + FUSE_NAME_OFFSET + namelen, 0, total - FUSE_NAME_OFFSET - namelen);
}

int fs_dirbuf_add(struct fs_dirbuf *b, const char *name, size_t namelen, uint64_t st_ino, unsigned type,
		  uint64_t next_off)
{
	if (!fs_dirbuf_fits(b, namelen))
		return -ENOSPC;
	if (b->filter)
		return b->filter->add(b->filter->data, name, namelen, st_ino, type, NULL, next_off);
	size_t total = dirent_size(b, namelen);
	char *p = b->mem + b->len;
	if (b->plus) {
		/* a plus buffer holding a name-only entry: nodeid 0 tells the client to look it up itself */
		memset(p, 0, sizeof(struct fuse_entry_out));
		struct fuse_entry_out *eo = (struct fuse_entry_out *)p;
		eo->attr.mode = (uint32_t)type << 12;
		eo->attr.ino = st_ino;
		p += sizeof(struct fuse_entry_out);
		total -= sizeof(struct fuse_entry_out);
	}
	put_dirent(p, name, namelen, st_ino, type, next_off, total);
	b->len += dirent_size(b, namelen);
	return 0;
}

int fs_dirbuf_add_plus(struct fs_dirbuf *b, const char *name, size_t namelen, const struct fs_entry *e,
		       uint64_t next_off)
{
	if (!b->plus)
		return fs_dirbuf_add(b, name, namelen, e->attr.st_ino, (e->attr.st_mode & S_IFMT) >> 12, next_off);
	if (!fs_dirbuf_fits(b, namelen))
		return -ENOSPC;
	if (b->filter)
		return b->filter->add(b->filter->data, name, namelen, e->attr.st_ino,
				      (e->attr.st_mode & S_IFMT) >> 12, e, next_off);
	size_t total = dirent_size(b, namelen);
	char *p = b->mem + b->len;
	struct fuse_entry_out eo;
	wire_entry(&eo, e, b->submounts);
	memcpy(p, &eo, sizeof(eo));
	put_dirent(p + sizeof(eo), name, namelen, e->attr.st_ino, (e->attr.st_mode & S_IFMT) >> 12, next_off,
		   total - sizeof(eo));
	b->len += total;
	return 0;
}
