/* SPDX-License-Identifier: MIT */
/*
 * The passthrough open-file table: the fh values handed to the client for open files and directories.
 *
 * An fh is (generation << 32 | slot index) and is checked on every use, so a stale, forged or reused fh from
 * the client is -EBADF and never reaches another file's fd (or one of the server's own fds). A slot is
 * reference-counted: a release racing with a read of the same fh closes the fd only after the read is done.
 */
#pragma once

#include <stdint.h>

struct pt;
struct pt_inode;
struct pt_dir;

enum pt_fh_kind {
	PT_FH_ANY = 0, /* for pt_fh_get only */
	PT_FH_FILE = 1,
	PT_FH_DIR = 2,
};

struct pt_fh {
	_Atomic uint64_t state; /* generation << 32 | PT_FH_LIVE | references */
	int fd;
	int flags; /* the open(2) flags the fd was opened with */
	enum pt_fh_kind kind;
	struct pt_inode *inode; /* a reference */
	struct pt_dir *dir;     /* PT_FH_DIR: listing state */
	uint32_t next_free;
};

int pt_fh_init(struct pt *pt);
void pt_fh_fini(struct pt *pt);
/* Count one more open-file fd against the ceiling (before opening it); -EMFILE when full. */
int pt_open_reserve(struct pt *pt);
void pt_open_unreserve(struct pt *pt);
/* Register fd (reserved with pt_open_reserve; taken, closed on failure) with a new reference on inode. */
int pt_fh_new(struct pt *pt, enum pt_fh_kind kind, int fd, int flags, struct pt_inode *inode, struct pt_dir *dir,
	      uint64_t *ret_fh);
/* The live slot fh names, with a reference; NULL if fh is not a live handle of that kind. */
struct pt_fh *pt_fh_get(struct pt *pt, uint64_t fh, enum pt_fh_kind kind);
void pt_fh_put(struct pt *pt, struct pt_fh *f);
/* End fh: closed once its last user is done. -EBADF if fh is not live. */
int pt_fh_release(struct pt *pt, uint64_t fh, enum pt_fh_kind kind);
void pt_fh_release_all(struct pt *pt);
