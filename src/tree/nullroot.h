/* SPDX-License-Identifier: MIT */
/* The null root: an fs that is one empty, read-only directory. The base under a tree of virtual entries. */
#pragma once

#include <boxshare/fs.h>

/* A root directory with this mode (permission bits), owner and group; takes a space in map. */
int nullroot_new(struct fs_inomap *map, mode_t mode, uid_t uid, gid_t gid, struct fs **ret);
