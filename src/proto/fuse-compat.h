/* SPDX-License-Identifier: MIT */
/*
 * FUSE protocol bits newer than the linux/fuse.h we build against (Debian 12: 7.38), in one place. The values
 * are fixed by the protocol (include/uapi/linux/fuse.h of later kernels); a newer header that has them wins.
 * Used by proto (INIT, open replies), the /dev/fuse transport (the backing-file ioctls) and the sandbox's
 * seccomp allowlist (the same ioctl numbers).
 */
#pragma once

#include <linux/fuse.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* 7.39: MAP_SHARED on FOPEN_DIRECT_IO files (flags2 bit 4 of the 64-bit init flags) */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

/* 7.40: kernel passthrough to backing files (flags2 bit 5; fuse_init_out.max_stack_depth) */
#ifndef FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH (1ULL << 37)
#endif
#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1 << 7)
#endif

/*
 * struct fuse_backing_map of 7.40 (16 bytes): the argument of FUSE_DEV_IOC_BACKING_OPEN. flags and padding
 * must be 0. The ioctl returns the backing id (> 0).
 */
struct proto_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
_Static_assert(sizeof(struct proto_backing_map) == 16, "fuse_backing_map is 16 bytes");

#ifndef FUSE_DEV_IOC_BACKING_OPEN
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct proto_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif

/* fuse_open_out of 7.40: its padding became backing_id, read by the client only with FOPEN_PASSTHROUGH. */
struct proto_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};
_Static_assert(sizeof(struct proto_open_out) == sizeof(struct fuse_open_out), "fuse_open_out layout");

/* fuse_init_out of 7.40 names unused[0] max_stack_depth. */
#define PROTO_INIT_OUT_MAX_STACK_DEPTH(out) ((out)->unused[0])
