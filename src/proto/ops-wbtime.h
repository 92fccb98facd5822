/* SPDX-License-Identifier: MIT */
/*
 * The writeback cache and mtime (ops-file.c's WRITE, ops-entry.c's SETATTR).
 *
 * With FUSE_WRITEBACK_CACHE the client owns a regular file's mtime: it stamps its own inode when a process writes
 * into the page cache, ignores the mtime of every attr reply from then on, and tells us its value with
 * SETATTR(FATTR_MTIME) when it writes the inode back (close, fsync, sync). The pages themselves come later, or
 * sooner, as WRITEs flagged FUSE_WRITE_CACHE, and each of those moves the host file's mtime to the time we apply
 * it, which the client never learns: the two disagree for good. It is worst when the client does not stamp at
 * all (its coarse clock has not passed the mtime the CREATE reply gave it), so no SETATTR ever comes. So a
 * write-back WRITE keeps the host mtime it found, and only a SETATTR moves it.
 *
 * The read, the write and the restore must not interleave with another write-back WRITE or a SETATTR of mtime
 * of the same node (the background flusher sends the SETATTR while the page WRITEs are in flight): both hold
 * the node's stripe lock. Stripes, not a lock per node: proto keeps no per-node state.
 */
#pragma once

#include <pthread.h>
#include <stdint.h>

#define PROTO_WBTIME_STRIPES 256

extern pthread_mutex_t proto_wbtime_mu[PROTO_WBTIME_STRIPES];

static inline pthread_mutex_t *proto_wbtime_lock(uint64_t nodeid)
{
	uint64_t h = nodeid * 0x9e3779b97f4a7c15ULL;
	return &proto_wbtime_mu[(h >> 56) & (PROTO_WBTIME_STRIPES - 1)];
}
