/* SPDX-License-Identifier: MIT */
/*
 * `boxshare ctl`: the client of a running server's control socket (docs/control-protocol.md). It opens host
 * paths itself and passes them as fds, because the server, confined in its sandbox, cannot open them by name.
 */
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/macros.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: boxshare ctl --socket PATH COMMAND [ARGS...]\n\n"
		   "Commands:\n"
		   "  add-share HOST_DIR PATH [--ro]     add a host directory at PATH in the share\n"
		   "  add-file HOST_FILE PATH [--ro]     add a single host file at PATH\n"
		   "  add-virtual PATH --text TEXT | --host HOST_FILE [--mode 0644] [--oneshot] [--uid N] [--gid N]\n"
		   "                                     add a virtual file (a host file is read once, now)\n"
		   "  remove PATH                        remove an entry or virtual file (new lookups: ENOENT)\n"
		   "  list                               print the entries: KIND PATH a line\n");
}

/* Send one request line with fd (or -1) and read the one-line reply into *ret (malloc()ed). */
static int roundtrip(const char *sock, const char *line, int fd, char **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		cli_error("--socket %s: the path is too long", sock);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, sock);
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		cli_error("--socket %s: connect: %s (is 'boxshare serve --control %s' running?)", sock, strerror(e),
			  sock);
		return -e;
	}
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	memset(&cm, 0, sizeof(cm));
	struct iovec iov = { (void *)line, strlen(line) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof(cm.b);
		struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(int));
	}
	/* the line goes in one message so the fd arrives with its first byte */
	ssize_t k = sendmsg(s, &msg, MSG_NOSIGNAL);
	if (k < 0 || (size_t)k != iov.iov_len) {
		int e = k < 0 ? errno : EIO;
		cli_error("--socket %s: send: %s", sock, strerror(e));
		return -e;
	}
	shutdown(s, SHUT_WR);
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 == cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				cli_error("--socket %s: reply too long", sock);
				return -E2BIG;
			}
			buf = nb;
			cap *= 2;
		}
		k = read(s, buf + len, cap - 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	char *nl = strchr(buf, '\n');
	if (!nl) {
		free(buf);
		cli_error("--socket %s: the server closed the connection without a reply", sock);
		return -EPROTO;
	}
	*nl = '\0';
	*ret = buf;
	return 0;
}

static int run(const char *sock, const char *what, struct json_object *req, int fd, bool list)
{
	const char *line0 = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *line = NULL;
	if (asprintf(&line, "%s\n", line0) < 0)
		return CLI_EXIT_FAIL;
	_cleanup_free_ char *reply = NULL;
	if (roundtrip(sock, line, fd, &reply) < 0)
		return CLI_EXIT_FAIL;
	struct json_object *o = json_tokener_parse(reply);
	struct json_object *ok = NULL, *err = NULL, *entries = NULL;
	if (!o || !json_object_object_get_ex(o, "ok", &ok)) {
		cli_error("%s: malformed reply from the server: %s", what, reply);
		json_object_put(o);
		return CLI_EXIT_FAIL;
	}
	if (!json_object_get_boolean(ok)) {
		json_object_object_get_ex(o, "error", &err);
		cli_error("%s: %s", what, err ? json_object_get_string(err) : "failed");
		json_object_put(o);
		return CLI_EXIT_FAIL;
	}
	if (list && json_object_object_get_ex(o, "entries", &entries) &&
	    json_object_is_type(entries, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(entries); i++) {
			struct json_object *e = json_object_array_get_idx(entries, i), *p, *k;
			if (json_object_object_get_ex(e, "path", &p) && json_object_object_get_ex(e, "kind", &k))
				printf("%s %s\n", json_object_get_string(k), json_object_get_string(p));
		}
	}
	json_object_put(o);
	return 0;
}

int cmd_ctl(const struct cli_global *g, int argc, char **argv)
{
	enum { OPT_SOCKET = 256, OPT_RO, OPT_TEXT, OPT_HOST, OPT_MODE, OPT_ONESHOT, OPT_UID, OPT_GID, OPT_HELP };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET }, { "ro", no_argument, NULL, OPT_RO },
		{ "readonly", no_argument, NULL, OPT_RO },	   { "text", required_argument, NULL, OPT_TEXT },
		{ "host", required_argument, NULL, OPT_HOST },	   { "mode", required_argument, NULL, OPT_MODE },
		{ "oneshot", no_argument, NULL, OPT_ONESHOT },	   { "uid", required_argument, NULL, OPT_UID },
		{ "gid", required_argument, NULL, OPT_GID },	   { "help", no_argument, NULL, OPT_HELP },
		{}
	};
	const char *sock = NULL, *text = NULL, *host = NULL, *mode = NULL;
	bool ro = false, oneshot = false;
	long uid = -1, gid = -1;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case OPT_SOCKET:
			sock = optarg;
			break;
		case OPT_RO:
			ro = true;
			break;
		case OPT_TEXT:
			text = optarg;
			break;
		case OPT_HOST:
			host = optarg;
			break;
		case OPT_MODE:
			mode = optarg;
			break;
		case OPT_ONESHOT:
			oneshot = true;
			break;
		case OPT_UID:
		case OPT_GID: {
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *end || v < 0 || v >= 0xffffffffL) {
				cli_error("ctl: --%s '%s' is not a numeric id", c == OPT_UID ? "uid" : "gid", optarg);
				return CLI_EXIT_USAGE;
			}
			*(c == OPT_UID ? &uid : &gid) = v;
			break;
		}
		case OPT_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (!sock) {
		cli_error("ctl: --socket PATH is required (the server's --control PATH)");
		return CLI_EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	char **args = argv + optind + 1;
	int nargs = argc - optind - 1;
	struct json_object *req = json_object_new_object();
	_cleanup_close_ int fd = -1;
	int status = CLI_EXIT_USAGE;
	bool list = false;
	json_object_object_add(req, "op", json_object_new_string(cmd));
	if (strcmp(cmd, "add-share") == 0 || strcmp(cmd, "add-file") == 0) {
		bool share = cmd[4] == 's';
		if (nargs != 2) {
			cli_error("ctl %s: expected %s PATH", cmd, share ? "HOST_DIR" : "HOST_FILE");
			goto out;
		}
		fd = open(args[0], O_PATH | O_CLOEXEC | (share ? O_DIRECTORY : 0));
		if (fd < 0) {
			cli_error("ctl %s: open %s: %s", cmd, args[0], strerror(errno));
			status = CLI_EXIT_FAIL;
			goto out;
		}
		json_object_object_add(req, "path", json_object_new_string(args[1]));
		json_object_object_add(req, "readonly", json_object_new_boolean(ro));
	} else if (strcmp(cmd, "add-virtual") == 0) {
		if (nargs != 1 || !text == !host) {
			cli_error("ctl add-virtual: expected PATH and one of --text TEXT or --host HOST_FILE");
			goto out;
		}
		if (host && (fd = open(host, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
			cli_error("ctl add-virtual: open %s: %s", host, strerror(errno));
			status = CLI_EXIT_FAIL;
			goto out;
		}
		json_object_object_add(req, "path", json_object_new_string(args[0]));
		if (text)
			json_object_object_add(req, "text", json_object_new_string(text));
		if (mode)
			json_object_object_add(req, "mode", json_object_new_string(mode));
		if (oneshot)
			json_object_object_add(req, "oneshot", json_object_new_boolean(1));
		if (uid >= 0)
			json_object_object_add(req, "uid", json_object_new_int64(uid));
		if (gid >= 0)
			json_object_object_add(req, "gid", json_object_new_int64(gid));
	} else if (strcmp(cmd, "remove") == 0) {
		if (nargs != 1) {
			cli_error("ctl remove: expected PATH");
			goto out;
		}
		json_object_object_add(req, "path", json_object_new_string(args[0]));
	} else if (strcmp(cmd, "list") == 0) {
		if (nargs != 0) {
			cli_error("ctl list: takes no arguments");
			goto out;
		}
		list = true;
	} else {
		cli_error("ctl: unknown command '%s' (add-share, add-file, add-virtual, remove, list)", cmd);
		goto out;
	}
	char what[512];
	snprintf(what, sizeof(what), "ctl %s%s%s", cmd, nargs ? " " : "", nargs ? args[nargs - 1] : "");
	status = run(sock, what, req, fd, list);
out:
	json_object_put(req);
	return status;
}
