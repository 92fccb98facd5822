/* SPDX-License-Identifier: MIT */
/* Passthrough locks: POSIX record locks as OFD locks, one open file description per lock owner; flock(2). */
#pragma once

#include <boxshare/fs.h>

struct pt;
struct pt_inode;

void pt_lock_init(struct pt *pt);
void pt_lock_fini(struct pt *pt);
int pt_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner, struct flock *lk);
int pt_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
	     const struct flock *lk, bool sleep, bool is_flock);
/* The owner closed a file: its POSIX locks on the inode go, as close(2) drops them. */
void pt_lock_drop_owner(struct pt *pt, struct pt_inode *inode, uint64_t owner);
/* The client's open file fh of the inode is released: the locks taken through it go (OFD locks). */
void pt_lock_drop_fh(struct pt *pt, struct pt_inode *inode, uint64_t fh);
/* The inode is being freed (no op in flight). */
void pt_lock_free_all(struct pt *pt, struct pt_inode *inode);
