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

/*
 * 7.42: FUSE over io_uring (flags2 bit 9). After INIT the server registers ring entries on /dev/fuse with
 * IORING_OP_URING_CMD SQEs (128-byte SQEs: struct proto_uring_cmd_req in the command area): each entry is a
 * header buffer (struct proto_uring_req_header) and a payload buffer of at least max(8 KiB, max_write,
 * max_pages pages). A request arrives as the completion of the entry's last command: fuse_in_header in
 * in_out, the opcode's fixed argument (in_args[0], at most 128 bytes) in op_in, the rest in the payload,
 * and ring_ent_in_out says the payload size and the commit id. The reply goes back in the same entry
 * (fuse_out_header in in_out, the reply body in the payload, its size in ring_ent_in_out.payload_sz) with a
 * COMMIT_AND_FETCH command, which also hands the entry back for the next request. FORGET and INTERRUPT still
 * come through read(2) of /dev/fuse.
 */
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif
#define PROTO_URING_IN_OUT_HEADER_SZ 128
#define PROTO_URING_OP_IN_OUT_SZ 128
#define PROTO_URING_CMD_REGISTER 1u
#define PROTO_URING_CMD_COMMIT_AND_FETCH 2u

struct proto_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* the request's unique: what COMMIT_AND_FETCH names */
	uint32_t payload_sz; /* bytes of the payload buffer in use, in either direction */
	uint32_t padding;
	uint64_t reserved;
};

struct proto_uring_req_header {
	uint8_t in_out[PROTO_URING_IN_OUT_HEADER_SZ]; /* fuse_in_header in, fuse_out_header back */
	uint8_t op_in[PROTO_URING_OP_IN_OUT_SZ];      /* the opcode's fixed argument */
	struct proto_uring_ent_in_out ring_ent_in_out;
};
_Static_assert(sizeof(struct proto_uring_req_header) == 288, "fuse_uring_req_header is 288 bytes");

/* In the 80-byte command area of a 128-byte SQE. */
struct proto_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
