/* SPDX-License-Identifier: MIT */
/*
 * Backing files of kernel FUSE passthrough on a /dev/fuse connection: the two ioctls (Linux 6.9+). The kernel
 * checks CAP_SYS_ADMIN in the initial user namespace at each BACKING_OPEN (EPERM without it), accepts any fd of
 * a regular file (an O_PATH one too: it takes its own reference) and refuses files on a file system stacked
 * as deep as the max_stack_depth we gave at INIT (ELOOP).
 */
#pragma once

/* Register fd as a backing file of the connection of fuse_fd; the id (> 0) or -errno. */
int devfuse_backing_open(int fuse_fd, int fd);
/* Drop backing id id; 0 or -errno. Files already opened through it keep their backing file. */
int devfuse_backing_close(int fuse_fd, int id);
