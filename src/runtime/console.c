/* SPDX-License-Identifier: MIT */
/* The container's terminal: a pty allocated inside the container, its master handed over a unix socket. */
#include "runtime/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/macros.h"

int console_socket_connect(const char *path, struct rt_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa.sun_path))
		return rt_err_set(err, ENAMETOOLONG, "console socket '%.200s': path is empty or longer than %zu bytes",
				  path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, n);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rt_err_set(err, errno, "console socket: socket: %m");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return rt_err_set(err, errno, "console socket '%.200s': connect: %m", path);
	return TAKE_FD(fd);
}

int console_send_fd(int sock, int fd, const char *name)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = {};
	struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) ?: 1 };
	if (!name[0])
		iov.iov_base = (void *)"\0";
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	for (;;) {
		ssize_t r = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (r >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int console_recv_fd(int sock, char *name, size_t name_size)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u = {};
	char data[256];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	int fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int x;
			memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = x;
			else
				close(x); /* we asked for one; never leak extras */
		}
	}
	if (fd < 0)
		return -EBADMSG;
	if (msg.msg_flags & MSG_CTRUNC) {
		close(fd);
		return -EBADMSG;
	}
	if (name && name_size) {
		size_t k = MIN((size_t)n, name_size - 1);
		memcpy(name, data, k);
		name[k] = 0;
	}
	return fd;
}

int console_setup_init(int sock, unsigned short rows, unsigned short cols, struct rt_err *err)
{
	/* the container's own /dev/ptmx (its devpts instance), so the pty belongs to the container */
	_cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return rt_err_set(err, errno, "terminal: opening /dev/ptmx in the container: %m");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		return rt_err_set(err, errno, "terminal: unlocking the pty: %m");
	/* TIOCGPTPEER opens the peer through the master, not by a path another mount could shadow */
	_cleanup_close_ int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		return rt_err_set(err, errno, "terminal: opening the pty's peer: %m");
	if (rows && cols) {
		struct winsize ws = { .ws_row = rows, .ws_col = cols };
		if (ioctl(peer, TIOCSWINSZ, &ws) < 0)
			return rt_err_set(err, errno, "terminal: setting the console size: %m");
	}
	int ptn = 0;
	char name[64] = "/dev/pts/?";
	if (ioctl(master, TIOCGPTN, &ptn) == 0)
		snprintf(name, sizeof(name), "/dev/pts/%d", ptn);
	int r = console_send_fd(sock, master, name);
	if (r < 0)
		return rt_err_set(err, r, "terminal: sending the pty master over the console socket: %s", strerror(-r));
	/* a new session whose controlling terminal is the pty; EPERM means we lead one already */
	if (setsid() < 0 && errno != EPERM)
		return rt_err_set(err, errno, "terminal: setsid: %m");
	if (ioctl(peer, TIOCSCTTY, 0) < 0)
		return rt_err_set(err, errno, "terminal: making the pty the controlling terminal: %m");
	for (int i = 0; i < 3; i++)
		if (dup2(peer, i) < 0)
			return rt_err_set(err, errno, "terminal: dup2 onto fd %d: %m", i);
	return 0;
}
