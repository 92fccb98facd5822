/* SPDX-License-Identifier: MIT */
/*
 * The FUSE_DEV_IOC_BACKING_OPEN/CLOSE ioctls (see devfuse-backing.h).
 *
 * The kernel does passthrough I/O on a backing file with the credentials of the thread that registered it
 * (fuse_backing_open keeps prepare_creds()). A write through it then clears setuid/setgid only if those
 * credentials lack CAP_FSETID, and no WRITE reaches us to do it (with FUSE_HANDLE_KILLPRIV_V2 the client
 * leaves that to the server). So the registering thread drops CAP_FSETID from its effective set around the
 * ioctl: a write through the mount then kills the bits on the host as a write by an unprivileged user does
 * (a root client's write clears them too, which a native file system would not: the safe side).
 */
#include "transport/devfuse-backing.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "proto/fuse-compat.h"
#include "util/log.h"
#include "util/syscall.h"

int devfuse_backing_open(int fuse_fd, int fd)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct saved[_LINUX_CAPABILITY_U32S_3], less[_LINUX_CAPABILITY_U32S_3];
	const uint32_t fsetid = 1u << CAP_FSETID; /* CAP_FSETID < 32: word 0 */
	int r = sys_capget(&h, saved);
	if (r < 0)
		return r;
	bool drop = saved[0].effective & fsetid;
	if (drop) {
		memcpy(less, saved, sizeof(less));
		less[0].effective &= ~fsetid;
		if ((r = sys_capset(&h, less)) < 0)
			return r;
	}
	struct proto_backing_map map = { .fd = fd };
	int id = ioctl(fuse_fd, FUSE_DEV_IOC_BACKING_OPEN, &map);
	int err = errno;
	if (drop && (r = sys_capset(&h, saved)) < 0)
		/* cannot happen: the capability is still permitted. The thread goes on without it. */
		log_warn("devfuse: restoring CAP_FSETID after registering a backing file: %s", strerror(-r));
	if (id < 0)
		return -err;
	return id > 0 ? id : -EIO; /* 0 is never an id: the client would refuse it */
}

int devfuse_backing_close(int fuse_fd, int id)
{
	uint32_t v = (uint32_t)id;
	return ioctl(fuse_fd, FUSE_DEV_IOC_BACKING_CLOSE, &v) < 0 ? -errno : 0;
}
