/* SPDX-License-Identifier: MIT */
/* One front-end connection: reading vhost-user messages (and their fds) off the socket, replying. */
#pragma once

#include "virtio/vu-dev.h"

/*
 * Serve the connected socket fd with device d until the front end hangs up. Returns 0 on a clean hang-up (at
 * a message boundary), -errno when the front end broke the protocol or a request it did not ask to be
 * acknowledged failed (then we cannot tell it, and must not go on as if it had worked).
 */
int vu_conn_serve(int fd, struct vu_dev *d);

/* Read one message: 1 and *m, fds filled; 0 on a clean EOF; -errno. On error no fd stays open. */
int vu_conn_recv(int fd, struct vhost_user_msg *m, int *fds, unsigned *nfds);
/* Send a message (header + hdr.size bytes of payload) without fds. */
int vu_conn_send(int fd, const struct vhost_user_msg *m);
