/* SPDX-License-Identifier: MIT */
/* The passthrough backend: a struct fs over one host directory (or one host file) held as an fd. */
#pragma once

#include <boxshare/fs.h>

enum pt_handles {
	PT_HANDLES_NEVER,     /* every known inode holds an O_PATH fd */
	PT_HANDLES_PREFER,    /* keep a file handle; an idle inode's fd may be closed and reopened by handle */
	PT_HANDLES_MANDATORY, /* as prefer, and a file system without handles is an error at lookup */
};

enum pt_cache {
	PT_CACHE_NEVER,  /* no entry/attr caching, direct I/O */
	PT_CACHE_AUTO,   /* short timeouts (1 s), page cache kept while attrs match */
	PT_CACHE_ALWAYS, /* long timeouts (24 h), keep cache, cached directory listings */
};

struct pt_opts {
	enum pt_handles handles;
	unsigned max_fds;         /* ceiling on inode fds held at once (0: derived from RLIMIT_NOFILE) */
	enum pt_cache cache;
	bool writeback;           /* the client may use the writeback cache (affects open flags we pass on) */
	bool xattr;               /* serve xattrs (default on) */
	bool announce_submounts;  /* mark roots of host submounts FS_ATTR_SUBMOUNT */
};

void pt_opts_default(struct pt_opts *o);
int pt_cache_parse(const char *s, enum pt_cache *ret);
int pt_handles_parse(const char *s, enum pt_handles *ret);

/*
 * root_fd: an O_PATH (or any) fd of a directory or a regular file; taken (closed on failure too).
 * The fs takes a space in map for its node ids; fs->root is its root's id in that space.
 * proc_fd: an fd of a procfs directory (/proc), used for reopens as "self/fd/N"; duplicated, not taken.
 */
int pt_new(int root_fd, int proc_fd, const struct pt_opts *o, struct fs_inomap *map, struct fs **ret);
