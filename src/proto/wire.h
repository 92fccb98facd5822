/* SPDX-License-Identifier: MIT */
/*
 * Encoding fs results into FUSE wire structs: attrs, entries, timeouts, and the directory buffer behind
 * struct fs_dirbuf. Part of the protocol layer (the only code that includes linux/fuse.h).
 */
#pragma once

#include <boxshare/fs.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>

/* Seconds as FUSE's (sec, nsec) pair: negative or NaN -> 0, huge -> the largest value. */
void wire_timeout(double secs, uint64_t *ret_sec, uint32_t *ret_nsec);
/* attr_flags: FS_ATTR_*; submounts: whether FUSE_ATTR_SUBMOUNT may be set on this connection. */
void wire_attr(struct fuse_attr *a, const struct stat *st, uint32_t attr_flags, bool submounts);
void wire_entry(struct fuse_entry_out *o, const struct fs_entry *e, bool submounts);

/* The directory buffer proto hands to fs->readdir (struct fs_dirbuf is in fs.h): mem is the reply payload
 * area (size bytes). */
void wire_dirbuf_init(struct fs_dirbuf *b, void *mem, size_t size, bool plus, bool submounts);
