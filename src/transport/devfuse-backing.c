/* SPDX-License-Identifier: MIT */
/*
 * The FUSE_DEV_IOC_BACKING_OPEN/CLOSE ioctls (see devfuse-backing.h).
 *
 * The kernel does passthrough I/O on a backing file with the credentials of the thread that registered it
 * (fuse_backing_open keeps prepare_creds()). A write through it then clears setuid/setgid only if those
 * credentials lack CAP_FSETID, and no WRITE reaches us to do it (with FUSE_HANDLE_KILLPRIV_V2 the client
 * leaves that to the server). So the registering thread has CAP_FSETID out of its effective set at the ioctl:
 * a write through the mount then kills the bits on the host as a write by an unprivileged user does (a root
 * client's write clears them too, which a native file system would not: the safe side). It is dropped lazily
 * and stays out until the backend needs it back (util/fsetid.c): a capset per open cost ~10 us.
 */
#include "transport/devfuse-backing.h"

#include <errno.h>
#include <sys/ioctl.h>

#include "proto/fuse-compat.h"
#include "util/fsetid.h"

int devfuse_backing_open(int fuse_fd, int fd)
{
	int r = thread_fsetid_drop();
	if (r < 0)
		return r;
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
