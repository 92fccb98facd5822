/* SPDX-License-Identifier: MIT */
/* Private to src/mount: the context, the error-record helpers and the per-path (new API / mount(2)) ops. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "boxshare/mount.h"

struct bxm_ctx {
	unsigned flags;   /* BXM_* */
	bool new_api;     /* fsopen & co. usable and not forced off */
	bool setattr;     /* mount_setattr usable and not forced off */
	int proc_fd;      /* private procfs instance (a directory fd) */
	int root_fd;      /* the container root once bxm_root_prepare ran (then "/" after bxm_pivot) */
	int bundle_fd;    /* relative bind sources; AT_FDCWD by default */
	int userns_fd;    /* for idmapped mounts; -1 */
	bool pivoted;
};

/* Fill e (if any) and return -err. what/path may be NULL (kept as they are). */
int bxm_fail(struct bxm_error *e, int err, const char *syscall, const char *what, const char *path);
/* Set the operation/path of e before the steps that may fail. */
void bxm_err_begin(struct bxm_error *e, const char *what, const char *path);
/* Add a detail to e (printf-style). */
void bxm_err_detail(struct bxm_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "thread-self/fd/N": the path mount(2) and friends take while cwd is the private procfs. */
#define BXM_FDPATH_MAX 40
void bxm_fdpath(int fd, char buf[BXM_FDPATH_MAX]);

/* mount(2) with fd-named source (src_fd >= 0) and target, resolved through the private procfs so no path
 * string of the rootfs is ever walked. src used when src_fd < 0. 0/-errno. */
int bxm_legacy_mount(struct bxm_ctx *ctx, int src_fd, const char *src, int tgt_fd, const char *type,
		     unsigned long flags, const char *data);
/* Bind-remount the mount that fd is the root of with (current flags - clear) | set, keeping locked flags. */
int bxm_legacy_remount(struct bxm_ctx *ctx, int fd, unsigned long set, unsigned long clear);
/* Apply MOUNT_ATTR_* set/clear to the mount at fd and (recursive) every mount below it with mount(2) only,
 * walking the private procfs's mountinfo. */
int bxm_legacy_setattr(struct bxm_ctx *ctx, int fd, uint64_t attr_set, uint64_t attr_clr, bool recursive);

/* Set MOUNT_ATTR_* on the mount at fd (recursive: the tree), by mount_setattr or the mount(2) walk. */
int bxm_setattr(struct bxm_ctx *ctx, int fd, uint64_t set, uint64_t clr, bool recursive, struct bxm_error *e);
/* Propagation of the mount at fd. */
int bxm_propagate_fd(struct bxm_ctx *ctx, int fd, unsigned long prop, bool recursive, struct bxm_error *e);

/* Open the source of a bind (absolute host path, or relative to the bundle) as O_PATH. */
int bxm_open_source(struct bxm_ctx *ctx, const char *source, bool nofollow, int *ret_fd);

/* The mount operations, one per API. Both attach to tgt_fd and return the new mount's root fd (O_PATH) in
 * *ret_mnt_fd so later steps (attrs, propagation) address the new mount, not what is under it. */
int bxm_api_bind(struct bxm_ctx *ctx, const struct bxm_mount *m, int src_fd, int tgt_fd, int *ret_mnt_fd,
		 struct bxm_error *e);
int bxm_api_fs(struct bxm_ctx *ctx, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e);
int bxm_legacy_bind(struct bxm_ctx *ctx, const struct bxm_mount *m, int src_fd, int tgt_fd, int *ret_mnt_fd,
		    struct bxm_error *e);
int bxm_legacy_fs(struct bxm_ctx *ctx, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e);

/* MOUNT_ATTR_* <-> MS_* */
unsigned long bxm_attr_to_ms(uint64_t attr);
uint64_t bxm_ms_to_attr(unsigned long ms);
/* A mount_setattr change (set, clear) as the MS_* flags a bind remount sets and clears; the atime mode is
 * one value, so clearing MOUNT_ATTR__ATIME clears every MS_ atime flag and sets the new one. */
void bxm_attr_change_to_ms(uint64_t attr_set, uint64_t attr_clr, unsigned long *ret_set, unsigned long *ret_clear);

/* Make a bind (bind: src_fd onto tgt_fd) or a new filesystem (fs) on tgt_fd with whichever API the context
 * uses. The new mount's root comes back in *ret_mnt_fd. */
int bxm_bind_at(struct bxm_ctx *ctx, const struct bxm_mount *m, int src_fd, int tgt_fd, int *ret_mnt_fd,
		struct bxm_error *e);
int bxm_fs_at(struct bxm_ctx *ctx, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e);
/* A "cgroup" (v1) mount: on a host with v1 hierarchies, a tmpfs holding one mount per hierarchy the process
 * is in (cgroup.c); on a pure v2 host, cgroup2. Before pivot_root only. */
int bxm_cgroup_at(struct bxm_ctx *ctx, const struct bxm_mount *m, int tgt_fd, int *ret_mnt_fd, struct bxm_error *e);
