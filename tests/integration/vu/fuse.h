/* SPDX-License-Identifier: MIT */
/* FUSE requests over the test driver's queues: build, send, check the reply header. */
#pragma once

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"

struct fc {
	struct vud *d;
	uint64_t unique;
	uint32_t max_write;
	int timeout_ms;
	uint8_t *buf; /* reply buffer of FC_MAX_REPLY bytes */
};
#define FC_MAX_REPLY ((1u << 20) + 4096)

int fc_init(struct fc *c, struct vud *d);
void fc_done(struct fc *c);

/*
 * Send opcode for nodeid with up to three argument parts on queue q (1: the first request queue, 0: hiprio),
 * with out_room bytes of reply payload room. Returns the reply payload length (its bytes in c->buf), a negative
 * errno the server answered, -ENODATA when the server sent no reply (FORGET...), or -EPROTO for a malformed
 * reply (wrong unique, length). flags: VUD_* chain shape.
 */
int fc_call(struct fc *c, unsigned q, uint32_t opcode, uint64_t nodeid, const void *a1, size_t l1, const void *a2,
	    size_t l2, const void *a3, size_t l3, size_t out_room, unsigned flags);
/* FUSE_INIT; 0 or -errno. */
int fc_handshake(struct fc *c);
