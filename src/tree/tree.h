/* SPDX-License-Identifier: MIT */
/*
 * The share tree: one exported namespace composed of entries HOST_PATH -> /path/in/share (a host directory or
 * a single host file, each ro or rw), virtual files and directories, over a null root (or a base fs).
 *
 * Each entry is its own struct fs (a passthrough on the fd opened when the entry was added, wrapped read-only
 * when ro), grafted into the overlay at its path: intermediate directories are virtual and read-only, rename
 * and link across entries answer EXDEV, a file entry exposes nothing but that file, and every entry is a
 * submount for clients that support them (distinct st_dev); for the others (/dev/fuse) st_ino is renumbered per
 * entry so numbers never collide. See docs/share-tree.md.
 */
#pragma once

#include <boxshare/fs.h>
#include <stdbool.h>

#include "tree/overlay.h"

/* Make the fs of one entry from its host fd (taken, also on failure): pt_new() in the server. */
typedef int (*tree_open_fn)(void *data, int host_fd, struct fs_inomap *map, struct fs **ret);

struct tree_opts {
	tree_open_fn open_entry;
	void *data;
	bool force_ro; /* --readonly: every entry is read-only whatever it asks */
};

struct tree;

/*
 * base: the fs at the root (taken; NULL: a null root, 0555 owned by the server's user). The tree's fs is
 * tree_fs(); it belongs to the caller (usually handed to the protocol session), the struct tree only keeps a
 * pointer to it for adding and removing entries, and must not outlive it.
 */
int tree_new(struct fs_inomap *map, struct fs *base, const struct tree_opts *o, struct tree **ret);
struct fs *tree_fs(struct tree *t);
void tree_free(struct tree *t);

enum tree_kind {
	TREE_DIR,  /* host_fd must be a directory */
	TREE_FILE, /* host_fd must be a regular file */
};
/* Add an entry at path; host_fd (any fd of the object, O_PATH is fine) is taken, also on failure. -ENOTDIR,
 * -EISDIR or -EINVAL when its type does not match kind. */
int tree_add_host(struct tree *t, int host_fd, enum tree_kind kind, const char *path, bool ro);
/* Add an entry made by the caller (taken). */
int tree_add_fs(struct tree *t, struct fs *f, const char *path, bool ro);
/* Remove an entry or a virtual entry: see ovl_remove(). */
int tree_remove(struct tree *t, const char *path);

/* The live status file at path (a callback file: its bytes are made at each open). */
int tree_add_status(struct tree *t, const char *path);
