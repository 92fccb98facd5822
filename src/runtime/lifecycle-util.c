/* SPDX-License-Identifier: MIT */
/* Helpers of the lifecycle commands: see lifecycle-util.h. */
#include "runtime/lifecycle-util.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "util/macros.h"
#include "util/syscall.h"

int lc_open_root(const char *root, struct rt_err *err)
{
	int fd = rts_root_open(root);
	if (fd < 0)
		return rt_err_set(err, fd, "state directory '%.200s': %s", root, strerror(-fd));
	return fd;
}

int lc_open_container(int rootfd, const char *id, int op, int timeout_ms, struct rt_err *err)
{
	if (!rts_id_valid(id))
		return rt_err_set(err, EINVAL, "container id '%.200s': invalid (allowed: letters, digits, _ + - .)", id);
	int fd = rts_dir_open(rootfd, id, op, timeout_ms);
	if (fd == -ENOENT)
		return rt_err_set(err, ENOENT, "container '%s' does not exist", id);
	if (fd == -EWOULDBLOCK)
		return rt_err_set(err, EBUSY,
				  "container '%s': locked by another runtime process (a create still running, or one "
				  "that was killed: delete --force cleans that up)",
				  id);
	if (fd < 0)
		return rt_err_set(err, fd, "container '%s': opening its state: %s", id, strerror(-fd));
	return fd;
}

int lc_load(int dirfd, const char *id, struct rts *s, struct rt_err *err)
{
	int r = rts_load(dirfd, id, s);
	if (r == -ENOENT)
		return rt_err_set(err, ENOENT,
				  "container '%s': no state yet (being created, or left by a runtime that crashed: "
				  "delete --force removes it)",
				  id);
	if (r < 0)
		return rt_err_set(err, r, "container '%s': reading state.json: %s", id, strerror(-r));
	return 0;
}

int lc_pidfd_of(const struct rts *s)
{
	if (s->pid <= 0)
		return -ESRCH;
	int fd = sys_pidfd_open(s->pid, 0);
	if (fd < 0)
		return fd;
	if (!rts_pid_alive(s)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int lc_wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}
