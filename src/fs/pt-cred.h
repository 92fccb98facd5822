/* SPDX-License-Identifier: MIT */
/* Acting as the caller for the duration of one create: per-thread fsuid/fsgid and umask. */
#pragma once

#include <boxshare/fs.h>
#include <stdbool.h>

struct pt_cred {
	bool switched;
	uid_t old_uid;
	gid_t old_gid;
};

/*
 * Make this thread create files as ctx (owner ctx->uid:ctx->gid) and apply ctx->umask (0 when the client
 * already applied it). switch_ids: whether to change fsuid/fsgid at all (only a root server can). Always pair
 * with pt_cred_leave(), even on failure.
 */
int pt_cred_enter(const struct fs_ctx *ctx, bool switch_ids, struct pt_cred *c);
void pt_cred_leave(struct pt_cred *c);
/* Give this thread its own fs_struct (cwd, umask), once; false if the kernel refused. */
bool pt_thread_fs_private(void);
