/* SPDX-License-Identifier: MIT */
/*
 * The virtual overlay: wraps a base struct fs and adds entries the server holds itself, anywhere in the
 * namespace:
 *   - virtual files: bytes from a buffer (or a host file read once), or from a callback run at each open;
 *   - virtual directories, created for every missing component of a path; a virtual directory over a real
 *     directory of the same name is merged with it (listing and lookups fall through to the real one);
 *   - grafts: the root of another struct fs (a share-tree entry) at a path, marked as a submount.
 * A virtual entry shadows a real entry of the same name. Node ids: the overlay takes a space of the shared
 * map for its own nodes; every other id is routed to the fs whose space holds it (a graft), else to the base.
 * Thread-safe: requests, and additions/removals from another thread (the control socket), run concurrently.
 */
#pragma once

#include <boxshare/fs.h>
#include <stdbool.h>
#include <time.h>

/* Mode, owner and time of a virtual entry. mode 0: 0444 for files, 0555 for directories. mtime 0: now. */
struct ovl_attr {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	time_t mtime;
	bool oneshot; /* files: gone after the first successful open */
};

/* Produce the file's bytes for one open: *ret_buf is malloc()ed (the overlay frees it). 0 or -errno. */
typedef int (*ovl_produce_fn)(void *data, char **ret_buf, size_t *ret_len);

/* Wrap base (taken, also on failure). */
int ovl_new(struct fs *base, struct fs_inomap *map, struct fs **ret);

/*
 * Paths are "/"-separated, relative to the overlay's root, a leading "/" allowed; every component non-empty,
 * not "." or "..", at most 255 bytes. Missing directories on the way are created as virtual directories
 * (mode 0555, owner 0:0). -EEXIST if the final name is already a virtual entry, -EINVAL for a bad path,
 * -ENOTDIR if a component on the way is a virtual file or a file graft.
 */
int ovl_add_buffer(struct fs *ovl, const char *path, const void *buf, size_t len, const struct ovl_attr *a);
/* Read a host file once, now, through an open fd (not taken). Regular files only, at most 64 MiB. */
int ovl_add_fd(struct fs *ovl, const char *path, int fd, const struct ovl_attr *a);
int ovl_add_callback(struct fs *ovl, const char *path, ovl_produce_fn fn, void *data, const struct ovl_attr *a);
int ovl_add_dir(struct fs *ovl, const char *path, const struct ovl_attr *a);
/*
 * Put the root of g (taken, also on failure) at path. renumber: give the st_ino that g reports a range of its
 * own (tag << 48, the tag free again once the entry is freed), for clients that see every entry on one st_dev;
 * see docs/share-tree.md. -ENOSPC when 65535 renumbered entries are alive at once.
 */
int ovl_add_graft(struct fs *ovl, const char *path, struct fs *g, bool renumber);
/*
 * Remove the entry at path (a virtual entry, a virtual directory with everything under it, or a graft). New
 * lookups answer ENOENT at once; the client's cached name is dropped through the notifier when it has one;
 * files already open keep working until closed. A removed graft's fs is destroyed and freed (its held fd
 * closed) once the client holds nothing of it: no lookup of any of its nodes, no open handle.
 */
int ovl_remove(struct fs *ovl, const char *path);

/* The ready-made callback of a live status file: uptime, request counts, entries. data: the overlay. */
int ovl_status_produce(void *data, char **ret_buf, size_t *ret_len);

/* Counters for the status file and tests. */
struct ovl_stats {
	uint64_t requests;  /* ops that reached the overlay */
	uint64_t vnodes;    /* virtual nodes alive */
	uint64_t grafts;    /* grafts attached (live) */
	uint64_t opens;     /* opens of virtual files */
	uint64_t entries_alive; /* graft fs not freed yet: attached, or removed but still held by the client */
};
void ovl_get_stats(struct fs *ovl, struct ovl_stats *ret);

/* Visit every live entry added by path (not the directories created on the way): kind is "share" or "file"
 * (grafts whose root is a directory or not), "virtual" (a virtual file) or "dir" (a virtual directory). */
typedef void (*ovl_visit_fn)(void *data, const char *path, const char *kind);
void ovl_list(struct fs *ovl, ovl_visit_fn fn, void *data);
