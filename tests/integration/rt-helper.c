/* SPDX-License-Identifier: MIT */
/*
 * Test helper for the OCI runtime tests, playing the parts of a container engine's monitor (conmon):
 *
 *   rt-helper reap STATUSFILE -- CMD [ARG...]
 *       run CMD as a child subreaper: containers whose `create` exited are reparented to us, and the exit
 *       status of every reaped process other than CMD is appended to STATUSFILE as "PID STATUS" (STATUS is
 *       the exit code, or 128+signal). Exits with CMD's status once CMD and every orphan are gone.
 *   rt-helper console SOCKET OUTFILE [INPUT]
 *       listen on SOCKET, accept one connection, receive the pty master sent with SCM_RIGHTS, write INPUT to
 *       it, and copy everything the container writes to OUTFILE until the pty hangs up (30 s at most).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int reap(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: rt-helper reap STATUSFILE -- CMD [ARG...]\n");
		return 2;
	}
	FILE *out = fopen(argv[2], "a");
	if (!out) {
		perror(argv[2]);
		return 2;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	pid_t cmd = fork();
	if (cmd < 0) {
		perror("fork");
		return 2;
	}
	if (cmd == 0) {
		fclose(out);
		execvp(argv[4], argv + 4);
		perror(argv[4]);
		_exit(127);
	}
	int cmd_status = 1;
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing left */
		}
		int code = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
		if (p == cmd)
			cmd_status = code;
		else
			fprintf(out, "%d %d\n", (int)p, code);
	}
	fclose(out);
	return cmd_status;
}

static int console(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: rt-helper console SOCKET OUTFILE [INPUT]\n");
		return 2;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(argv[2]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "rt-helper: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[2]);
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0) {
		perror("rt-helper: listen");
		return 2;
	}
	struct pollfd p = { .fd = ls, .events = POLLIN };
	if (poll(&p, 1, 30000) != 1) {
		fprintf(stderr, "rt-helper: nobody connected\n");
		return 3;
	}
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		perror("rt-helper: accept");
		return 2;
	}
	char name[256] = "";
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = name, .iov_len = sizeof(name) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	if (recvmsg(c, &msg, MSG_CMSG_CLOEXEC) < 0) {
		perror("rt-helper: recvmsg");
		return 2;
	}
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "rt-helper: no fd received\n");
		return 3;
	}
	int master;
	memcpy(&master, CMSG_DATA(cm), sizeof(int));
	FILE *out = fopen(argv[3], "w");
	if (!out) {
		perror(argv[3]);
		return 2;
	}
	fprintf(out, "name=%s\n", name);
	fflush(out);
	if (argc > 4 && write(master, argv[4], strlen(argv[4])) < 0)
		perror("rt-helper: write to the pty");
	time_t end = time(NULL) + 30;
	for (;;) {
		struct pollfd m = { .fd = master, .events = POLLIN };
		int r = poll(&m, 1, 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (time(NULL) > end)
			break;
		if (r == 0)
			continue;
		char buf[4096];
		ssize_t n = read(master, buf, sizeof(buf));
		if (n <= 0)
			break; /* EIO once the last peer is closed: the container is done */
		fwrite(buf, 1, (size_t)n, out);
		fflush(out);
	}
	fclose(out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "reap") == 0)
		return reap(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "console") == 0)
		return console(argc, argv);
	fprintf(stderr, "usage: rt-helper reap|console ...\n");
	return 2;
}
