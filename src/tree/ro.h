/* SPDX-License-Identifier: MIT */
/* The read-only layer: wraps any struct fs and refuses every request that could change it (fails closed). */
#pragma once

#include <boxshare/fs.h>
#include <stddef.h>

/* Wrap inner (taken, also on failure). The layer has no node ids of its own: ids pass through unchanged. */
int ro_new(struct fs *inner, struct fs **ret);

/* What the layer does with one slot of struct fs_ops. Exposed so the unit test can walk the table. */
enum ro_decision {
	RO_FORWARD, /* read-only op: passed to the inner fs as is */
	RO_REFUSE,  /* mutating op: -EROFS without reaching the inner fs */
	RO_FILTER,  /* inspected: refused when it asks for a change (open for write, access W_OK), else forwarded */
};
struct ro_slot {
	size_t offset; /* offsetof(struct fs_ops, slot) */
	const char *name;
	enum ro_decision decision;
};
/* One row per slot of struct fs_ops, in table order; ro_slots_n == FS_OPS_NSLOTS (checked at compile time). */
extern const struct ro_slot ro_slots[];
extern const size_t ro_slots_n;
/* The ops table of the layer (for the test's walk). */
extern const struct fs_ops ro_ops;
