/* SPDX-License-Identifier: MIT */
/*
 * The container process, built for the OCI lifecycle.
 *
 * container_create() clones the container init into the spec's namespaces (the parent writes the uid/gid maps
 * of a new user namespace), and the init sets everything up: hostname, loopback, mounts (src/mount),
 * pivot_root, masked and readonly paths, user, groups, cwd, no_new_privs. It then reports "ready" and blocks
 * right before exec; container_create() returns once it is ready (or with the init's error), giving the
 * caller the init's pid. container_start() releases it and the exec happens.
 *
 * Two ways to release the init:
 *  - in-process (boxshare run): container_start() writes to the sync socket and waits for the exec;
 *  - across processes (boxshare create / boxshare start): the caller passes opts.exec_fifo_fd, an O_PATH fd
 *    of a FIFO (mkfifo in the state dir). The init opens it for writing, which blocks until someone opens it
 *    for reading, writes one byte, and execs. `boxshare start` does container_start_fifo().
 *
 * The init's mounts live in its own mount namespace, so nothing is left on the host when it exits (unless
 * the spec asks for shared propagation, which is the point of rshared).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "boxshare/mount.h"
#include "oci/spec.h"

struct container_error;

struct container_opts {
	int bundle_fd;        /* the bundle dir: root.path and relative bind sources are resolved against it */
	unsigned mount_flags; /* BXM_LEGACY to force mount(2) */
	int exec_fifo_fd;     /* -1, or an O_PATH fd of a FIFO; see above. Not closed. */
	/* Fds the init keeps besides 0, 1, 2 (e.g. a console socket, LISTEN_FDS); the caller owns them. Every
	 * other fd is closed at exec; these are left as they are (one opened O_CLOEXEC still closes then). */
	const int *keep_fds;
	size_t n_keep_fds;
	/* Optional: called in the runtime once the init exists (uid/gid maps written) and before it sets up
	 * anything, e.g. to put it into its cgroup: the init makes its cgroup namespace only after this, so
	 * that namespace and a cgroup2 mount of the spec are rooted at the container's own cgroup. A negative
	 * return aborts the create (the init is killed); fill e->msg to say why. */
	int (*prepare)(pid_t pid, void *userdata, struct container_error *e);
	void *userdata;
	/* process.terminal for an in-process caller (boxshare run): once the root is set up, the init opens a
	 * pty from the container's own /dev/ptmx, binds its peer onto /dev/console, makes it the controlling
	 * terminal of a new session and its stdin, stdout and stderr, and hands the master back:
	 * container_pty(). (create/start hand it to a --console-socket instead, see runtime/console.h.) */
	bool terminal;
	/* Optional: called in the runtime while the init waits after the spec's mounts and the default devices
	 * and before pivot_root (and before the terminal, masked and read-only paths): the point of the OCI
	 * createContainer hooks, which run in the init's mount namespace with the host's / still its root.
	 * A negative return aborts the create (the init is killed); fill e->msg to say why. */
	int (*pre_pivot)(pid_t pid, void *userdata, struct container_error *e);
};

/* Why container_create() or container_start() failed, for the CLI's message. */
struct container_error {
	char stage[64];          /* "mount", "pivot_root", "uid_map", "exec", "clone"... */
	struct bxm_error mount;  /* filled when the mount library failed */
	char msg[512];           /* a complete sentence when the failure was not a mount one */
	int err;                 /* positive errno */
};

/* "<msg or formatted mount error>". Returns buf. */
const char *container_error_format(const struct container_error *e, char *buf, size_t size);

struct container;

/* Clone the init and wait until it is ready to exec. *ret owns the sync socket and a pidfd. On failure the
 * init has exited and been reaped, and e says why. */
int container_create(const struct oci_spec *spec, const struct container_opts *opts, struct container **ret,
		     struct container_error *e);
/* With opts.terminal: the pty master (owned by c, O_CLOEXEC, valid until container_free); -1 otherwise. */
int container_pty(const struct container *c);
/* The init's pid in the caller's pid namespace. */
pid_t container_pid(const struct container *c);
/* A pidfd of the init (owned by c; valid until container_free). */
int container_pidfd(const struct container *c);
/* In-process release: let the init exec and wait until the exec happened (or report why it failed). */
int container_start(struct container *c, struct container_error *e);
/* Cross-process release (boxshare start): open the FIFO for reading and read the init's byte. */
int container_start_fifo(int fifo_dirfd, const char *fifo_name);
/* Reap the init (blocking) and give its wait status. */
int container_wait(struct container *c, int *ret_status);
/* Closes the fds; does not kill or reap a live init. NULL is fine. */
void container_free(struct container *c);

/* 128+signal for a killed process, the exit code otherwise (what a shell reports). */
int container_exit_code(int wait_status);
