/* SPDX-License-Identifier: MIT */
/*
 * The /dev/fuse transport: mount a FUSE filesystem with the new mount API (mount(2) when the kernel lacks it),
 * then serve it from a pool of threads, each reading requests from its own clone of the session fd
 * (FUSE_DEV_IOC_CLONE) into its own buffers and writing each reply with one writev.
 *
 * With devfuse_uring_prepare() (devfuse-uring.h) the requests come through io_uring queues once INIT is answered;
 * the readers then carry INIT, FORGET and INTERRUPT.
 *
 * Order of use: devfuse_mount() and devfuse_new() (and devfuse_uring_prepare()) while the host's /dev and mount
 * point are visible, then the sandbox, then devfuse_run().
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "proto/proto.h"

struct devfuse_mount_opts {
	const char *mountpoint;
	const char *source;       /* shown as the mount's source in /proc/self/mountinfo ("boxshare") */
	const char *subtype;      /* fuse.<subtype> ("boxshare"), or NULL */
	mode_t rootmode;          /* S_IFDIR (or S_IFREG for one file) plus mode bits of the root */
	uid_t user_id;            /* owner of the mount: who may unmount it and see its errors */
	gid_t group_id;
	bool allow_other;         /* other users (the sandbox's processes) may use the mount */
	bool default_permissions; /* the client checks mode bits itself (the server runs privileged) */
	bool readonly;
	bool nosuid_nodev;        /* mount nosuid,nodev (the default of `boxshare serve`) */
};

/*
 * Open /dev/fuse (O_CLOEXEC) and mount it on o->mountpoint. *ret_fd is the session fd.
 * On failure returns -errno and, if ret_step is not NULL, names the step that failed ("open /dev/fuse",
 * "fsopen", "fsconfig rootmode", "fsmount", "move_mount", "mount"...). Nothing stays mounted or open then.
 */
int devfuse_mount(const struct devfuse_mount_opts *o, int *ret_fd, const char **ret_step);
/* Lazily unmount path; 0 also when nothing is mounted there any more. */
int devfuse_unmount(const char *path);

struct devfuse;

/* Take fuse_fd and prepare `threads` readers (threads - 1 clones of it; sharing fuse_fd where the kernel
 * cannot clone). Opens /dev/fuse: call before the sandbox. */
int devfuse_new(int fuse_fd, unsigned threads, struct devfuse **ret);
void devfuse_free(struct devfuse *d);
/* The hooks for proto_session_new: notifications (writes to the session fd) and passthrough backing files
 * (devfuse-backing.h). */
void devfuse_transport(struct devfuse *d, struct proto_transport *ret);

/*
 * Serve s until the client goes away (unmount: the readers see ENODEV; DESTROY) or SIGINT, SIGTERM or SIGHUP
 * arrives. Those signals are blocked in the calling thread (and stay blocked on return) and in the readers. On a
 * signal, on_signal(data) runs first (it should unmount lazily; NULL: nothing), the readers get a moment to
 * see ENODEV, and then are stopped; closing the fds (devfuse_free) aborts whatever the client still holds.
 * *ret_signal is the signal that stopped us, or 0. Returns 0, or -errno on a transport failure.
 */
int devfuse_run(struct devfuse *d, struct proto_session *s, void (*on_signal)(void *data), void *data,
		int *ret_signal);
/* After devfuse_run: a request thread would not stop (a lock wait the fs does not end on interruption). The
 * session and d are still in use then: free neither, and exit the process (its threads go with it). */
bool devfuse_stuck(const struct devfuse *d);
