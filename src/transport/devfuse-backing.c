/* SPDX-License-Identifier: MIT */
/* The FUSE_DEV_IOC_BACKING_OPEN/CLOSE ioctls (see devfuse-backing.h). */
#include "transport/devfuse-backing.h"

#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "proto/fuse-compat.h"

int devfuse_backing_open(int fuse_fd, int fd)
{
	struct proto_backing_map map = { .fd = fd };
	int id = ioctl(fuse_fd, FUSE_DEV_IOC_BACKING_OPEN, &map);
	if (id < 0)
		return -errno;
	return id > 0 ? id : -EIO; /* 0 is never an id: the client would refuse it */
}

int devfuse_backing_close(int fuse_fd, int id)
{
	uint32_t v = (uint32_t)id;
	return ioctl(fuse_fd, FUSE_DEV_IOC_BACKING_CLOSE, &v) < 0 ? -errno : 0;
}
