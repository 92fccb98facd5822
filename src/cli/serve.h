/* SPDX-License-Identifier: MIT */
/* `boxshare serve`: its options (parsed in cmd-serve.c) and the builder of the exported fs (serve-fs.c). */
#pragma once

#include <boxshare/fs.h>
#include <stdbool.h>

#include "fs/passthrough.h"
#include "sandbox/sandbox.h"

/* A share-tree flag as given on the command line, kept in order: --share, --file, --virtual. */
struct serve_tree_arg {
	const char *flag;  /* "share", "file", "virtual" */
	const char *value; /* e.g. "/srv/data:/data:ro" */
};

struct serve_opts {
	/* what to export */
	const char *source;        /* --source DIR / --shared-dir DIR: one host directory at the root */
	bool readonly;             /* --readonly: the whole export is read-only */
	struct serve_tree_arg *tree_args;
	size_t n_tree_args;
	const char *config_path;   /* --config FILE (JSON) */
	const char *control_path;  /* --control PATH */
	/* passthrough behaviour */
	struct pt_opts pt;
	/* transport */
	const char *mountpoint;    /* --mount MNT: /dev/fuse */
	const char *socket_path;   /* --socket-path PATH: vhost-user */
	int vu_fd;                 /* --fd N: an inherited vhost-user socket (-1: none) */
	const char *tag;           /* --tag (virtiofsd compatibility; the tag itself is set by the VMM) */
	unsigned threads;          /* --threads / --thread-pool-size */
	bool passthrough;          /* --passthrough / -o passthrough: kernel FUSE passthrough (/dev/fuse only) */
	bool io_uring; /* --io-uring: /dev/fuse requests through io_uring queues (FUSE over io_uring) */
	bool wait_reconnect;
	/* --locks client, -o no_posix_lock / no_flock: the client kernel keeps these locks among its own processes
	 * (not seen on the host); by default the server takes them on the host files */
	bool local_posix_locks;
	bool local_flock;
	/* confinement */
	struct sandbox_opts sandbox;
};

/*
 * Build the fs to export from o (share-tree owner's serve-fs.c): a passthrough of o->source, or the share tree
 * of the tree flags and config file, wrapped read-only where asked. Opens every host path now (before the
 * sandbox) and binds the control socket if o->control_path. On failure *ret_err is a message naming the flag
 * or config field and the reason (caller frees) and the return is -errno.
 */
int serve_build_fs(const struct serve_opts *o, int proc_fd, struct fs_inomap *map, struct fs **ret,
		   char **ret_err);

/* After the sandbox: start serving the control socket, if any (a thread). 0 or -errno. */
int serve_control_start(char **ret_err);

/* Remove the control socket's path if it is still the socket this server bound (safe to call anywhere, any
 * number of times; the sandboxed server cannot reach the path, so the supervisor calls it at exit too). */
void serve_control_cleanup(void);
