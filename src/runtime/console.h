/* SPDX-License-Identifier: MIT */
/*
 * process.terminal with --console-socket, as runc does it: the runtime connects to the caller's unix socket
 * (a path of the runtime's mount namespace); the init, inside the container, opens a new pty from the
 * container's /dev/ptmx, makes the peer its controlling terminal and stdio, and sends the master over the
 * socket with SCM_RIGHTS. The caller (conmon, a shim, our test helper) owns the master from then on.
 */
#pragma once

#include "runtime/rterr.h"

/* Runtime side: a connected SOCK_STREAM socket to path (O_CLOEXEC), or -errno with err filled. */
int console_socket_connect(const char *path, struct rt_err *err);

/* Init side: new pty, size rows x cols (0 = leave), peer becomes stdin/stdout/stderr and the controlling
 * terminal of a new session, master sent over sock (then closed here). */
int console_setup_init(int sock, unsigned short rows, unsigned short cols, struct rt_err *err);

/* Send fd over a unix socket with SCM_RIGHTS and a short name as the payload (runc sends the pty's name). */
int console_send_fd(int sock, int fd, const char *name);
/* Receive one fd sent by console_send_fd; the payload is copied to name (NUL-terminated). */
int console_recv_fd(int sock, char *name, size_t name_size);
