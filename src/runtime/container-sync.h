/* SPDX-License-Identifier: MIT */
/* Private to the container code: the messages between the runtime and the container init on the sync socket
 * (SOCK_SEQPACKET, so one message is one record). Both sides are the same binary (a clone without exec), so
 * the layout is shared; strings are still checked for termination on receipt. */
#pragma once

#include <stdint.h>

#include "runtime/container.h"

enum sync_type {
	SYNC_GO = 1,         /* runtime -> init: maps written, idmapped trees passed, prepare() done: set up */
	SYNC_READY,          /* init -> runtime: set up, waiting for start */
	SYNC_START,          /* runtime -> init: exec now */
	SYNC_ERROR,          /* init -> runtime: set-up or exec failed; the init exits */
	SYNC_MOUNT_FD,       /* runtime -> init: err = mount index, SCM_RIGHTS = an idmapped detached tree */
	SYNC_PTY,            /* init -> runtime: SCM_RIGHTS = the master of the container's terminal */
	/* Appended, so the values above keep their meaning. Only with opts.pre_pivot: */
	SYNC_PRE_PIVOT,      /* init -> runtime: the spec's mounts are done, / is not pivoted yet: waiting */
	SYNC_RESUME,         /* runtime -> init: pre_pivot() returned 0, go on to pivot_root */
};

struct sync_msg {
	uint32_t type;
	int32_t err;
	char stage[64];
	char syscall[32];
	char what[256];
	char path[512];
	char detail[128];
	char msg[512];
};

struct container_init_args {
	const struct oci_spec *spec;
	const struct container_opts *opts;
	int sync_fd;     /* the init's end */
	bool new_userns; /* the runtime writes the maps */
};

/* The init's body, in the clone child: never returns. */
_Noreturn void container_init_main(const struct container_init_args *a);
