/* SPDX-License-Identifier: MIT */
/*
 * The control socket. One connection at a time, each with a receive timeout, so a stuck client cannot hold
 * the allowlist; peer credentials are checked at accept (only the server's own uid, or root). A request is a
 * JSON object on one line (at most CTL_MAX_LINE bytes); a file descriptor sent with it (SCM_RIGHTS) belongs
 * to that line. Every reply is one JSON object on one line.
 */
#include "tree/control.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tree/config.h"
#include "util/log.h"
#include "util/macros.h"

#define CTL_MAX_LINE (256u << 10)
#define CTL_TIMEOUT_S 10

struct control {
	struct tree *tree;
	int fd;
	pthread_t thread;
	char *path;  /* where it was bound, and what was bound there: control_unlink() removes only that */
	dev_t dev;
	ino_t ino;
};

static char *reply_error(int err, const char *fmt, const char *arg)
{
	struct json_object *o = json_object_new_object();
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "errno", json_object_new_int(err));
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static char *reply_ok(struct json_object *extra_key_val, const char *key)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (extra_key_val)
		json_object_object_add(o, key, extra_key_val);
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static void list_cb(void *data, const char *path, const char *kind)
{
	struct json_object *e = json_object_new_object();
	json_object_object_add(e, "path", json_object_new_string(path));
	json_object_object_add(e, "kind", json_object_new_string(kind));
	json_object_array_add(data, e);
}

/* A request's fields, checked like the config file's (unknown keys refused). */
static int get_str(struct json_object *o, const char *key, const char **ret, size_t *ret_len)
{
	struct json_object *v;
	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	*ret = json_object_get_string(v);
	*ret_len = (size_t)json_object_get_string_len(v);
	return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *ret)
{
	struct json_object *v;
	*ret = false;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -EINVAL;
	*ret = json_object_get_boolean(v);
	return 0;
}

static int get_id(struct json_object *o, const char *key, unsigned *ret)
{
	struct json_object *v;
	*ret = 0;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	int64_t x = json_object_get_int64(v);
	if (x < 0 || x >= 0xffffffffLL)
		return -EINVAL;
	*ret = (unsigned)x;
	return 0;
}

static char *handle_obj(struct tree *t, struct json_object *req, int *fdp)
{
	static const char *const keys[] = { "op", "path", "readonly", "text", "mode", "uid", "gid", "oneshot", NULL };
	json_object_object_foreach(req, key, val)
	{
		(void)val;
		bool ok = false;
		for (const char *const *k = keys; *k; k++)
			ok |= strcmp(key, *k) == 0;
		if (!ok)
			return reply_error(EINVAL, "unknown field '%s'", key);
	}
	const char *op, *path_in, *text, *mode_s;
	size_t op_len = 0, path_len = 0, text_len = 0, mode_len = 0;
	bool ro, oneshot;
	unsigned uid, gid;
	if (get_str(req, "op", &op, &op_len) < 0 || !op)
		return reply_error(EINVAL, "%s", "\"op\" must be a string");
	if (get_str(req, "path", &path_in, &path_len) < 0 || get_str(req, "text", &text, &text_len) < 0 ||
	    get_str(req, "mode", &mode_s, &mode_len) < 0)
		return reply_error(EINVAL, "%s", "\"path\", \"text\" and \"mode\" must be strings");
	if (get_bool(req, "readonly", &ro) < 0 || get_bool(req, "oneshot", &oneshot) < 0)
		return reply_error(EINVAL, "%s", "\"readonly\" and \"oneshot\" must be true or false");
	if (get_id(req, "uid", &uid) < 0 || get_id(req, "gid", &gid) < 0)
		return reply_error(EINVAL, "%s", "\"uid\" and \"gid\" must be ids");

	if (strcmp(op, "list") == 0) {
		struct json_object *arr = json_object_new_array();
		ovl_list(tree_fs(t), list_cb, arr);
		return reply_ok(arr, "entries");
	}
	if (!path_in)
		return reply_error(EINVAL, "%s: \"path\" is required", op);
	_cleanup_free_ char *path = NULL;
	const char *why;
	int r = tree_path_normalize(path_in, path_len, &path, &why);
	if (r < 0)
		return reply_error(-r, "path %s", r == -EINVAL ? why : strerror(-r));

	if (strcmp(op, "remove") == 0) {
		r = tree_remove(t, path);
		if (r < 0)
			return reply_error(-r, "remove: %s", strerror(-r));
		log_debug("control: removed %s", path);
		return reply_ok(NULL, NULL);
	}
	bool share = strcmp(op, "add-share") == 0, file = strcmp(op, "add-file") == 0;
	if (share || file) {
		if (*fdp < 0)
			return reply_error(EBADF, "%s: send the host path's fd with the request (SCM_RIGHTS)", op);
		struct stat st;
		if (fstat(*fdp, &st) < 0)
			return reply_error(errno, "%s: fstat of the fd", op);
		if (share && !S_ISDIR(st.st_mode))
			return reply_error(ENOTDIR, "%s: the fd is not a directory", op);
		if (file && !S_ISREG(st.st_mode))
			return reply_error(EINVAL, "%s: the fd is not a regular file", op);
		r = tree_add_host(t, TAKE_FD(*fdp), share ? TREE_DIR : TREE_FILE, path, ro);
		if (r < 0)
			return reply_error(-r, "add: %s", strerror(-r));
		log_debug("control: added %s %s (%s)", share ? "share" : "file", path, ro ? "ro" : "rw");
		return reply_ok(NULL, NULL);
	}
	if (strcmp(op, "add-virtual") == 0) {
		struct ovl_attr a = { .uid = uid, .gid = gid, .oneshot = oneshot };
		if (mode_s && (memchr(mode_s, '\0', mode_len) || tree_mode_parse(mode_s, &a.mode) < 0))
			return reply_error(EINVAL, "\"mode\" '%s' is not an octal mode up to 07777", mode_s);
		if ((text != NULL) == (*fdp >= 0))
			return reply_error(EINVAL, "%s", "add-virtual: give \"text\" or send a readable fd, not both");
		if (text)
			r = ovl_add_buffer(tree_fs(t), path, text, text_len, &a);
		else
			r = ovl_add_fd(tree_fs(t), path, *fdp, &a);
		if (r < 0)
			return reply_error(-r, "add-virtual: %s", strerror(-r));
		log_debug("control: added virtual %s", path);
		return reply_ok(NULL, NULL);
	}
	return reply_error(EINVAL, "unknown op '%s' (add-share, add-file, add-virtual, remove, list)", op);
}

char *control_handle(struct tree *t, const char *line, size_t len, int fd)
{
	_cleanup_close_ int owned = fd;
	if (len > CTL_MAX_LINE || len > INT32_MAX)
		return reply_error(E2BIG, "%s", "request too long");
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return NULL;
	struct json_object *req = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	/* one object a line: anything after it but blanks (a second object, a NUL and more) is refused, so what
	 * the server acts on is exactly what a reader of the line sees */
	bool trailing = false;
	for (size_t i = end; req && i < len && !trailing; i++)
		trailing = !(line[i] == ' ' || line[i] == '\t' || line[i] == '\r');
	char *reply;
	if (!req || jerr != json_tokener_success)
		reply = reply_error(EINVAL, "not valid JSON: %s",
				    jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
	else if (trailing)
		reply = reply_error(EINVAL, "%s", "one JSON object a line: bytes follow the object");
	else if (!json_object_is_type(req, json_type_object))
		reply = reply_error(EINVAL, "%s", "a request is a JSON object");
	else
		reply = handle_obj(t, req, &owned);
	json_object_put(req);
	return reply;
}

/* -- the socket -- */

static bool peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	return cr.uid == geteuid() || cr.uid == 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events, until deadline (CLOCK_MONOTONIC ms; poll, not SO_RCVTIMEO: the sandbox's
 * seccomp filter allows no setsockopt). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int r = poll(&p, 1, (int)MIN(left, (int64_t)CTL_TIMEOUT_S * 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue; /* the loop re-checks the deadline */
		return 0;
	}
}

static int send_all(int fd, const char *buf, size_t len)
{
	int64_t deadline = now_ms() + CTL_TIMEOUT_S * 1000;
	while (len > 0) {
		ssize_t k = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			int r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (k < 0)
			return -errno;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

static void serve_conn(struct control *c, int fd)
{
	_cleanup_free_ char *buf = malloc(CTL_MAX_LINE + 1);
	size_t len = 0;
	int pending = -1; /* the fd of the line being received */
	/* a request must arrive whole within CTL_TIMEOUT_S of the previous reply (or of the connection): a
	 * client trickling one byte at a time cannot hold the allowlist either */
	int64_t deadline = now_ms() + CTL_TIMEOUT_S * 1000;
	if (!buf)
		return;
	for (;;) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int) * 4)];
		} cm;
		if (wait_fd(fd, POLLIN, deadline) < 0)
			break; /* a client that does not finish its request in CTL_TIMEOUT_S loses its turn */
		struct iovec iov = { buf + len, CTL_MAX_LINE - len };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
				      .msg_controllen = sizeof(cm.b) };
		ssize_t k = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (k < 0 && errno == EAGAIN)
			continue;
		if (k < 0 && errno == EINTR)
			continue;
		bool bad_fds = false;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
			if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
				/* nothing else is asked for (no SO_PASSCRED); SCM_CREDENTIALS carries no fd */
				continue;
			}
			if (h->cmsg_len < CMSG_LEN(0))
				continue;
			size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n; i++) {
				int got;
				memcpy(&got, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
				/* one fd a request, sent with the first byte of its line (buf holds no complete
				 * line between receives, so len == 0 is a line's start): anything else is an
				 * error, and every fd of the message is closed */
				if (pending < 0 && !bad_fds && k > 0 && len == 0) {
					pending = got;
				} else {
					close(got);
					bad_fds = true;
				}
			}
		}
		if (k <= 0 || (msg.msg_flags & MSG_CTRUNC) || bad_fds) {
			if (k > 0) {
				char *r = reply_error(EINVAL, "%s",
						      "one fd per request, sent with the first byte of its line");
				if (r)
					send_all(fd, r, strlen(r)), send_all(fd, "\n", 1);
				free(r);
			}
			break;
		}
		len += (size_t)k;
		char *nl;
		while ((nl = memchr(buf, '\n', len))) {
			size_t ll = (size_t)(nl - buf);
			char *r = control_handle(c->tree, buf, ll, pending);
			pending = -1;
			if (!r || send_all(fd, r, strlen(r)) < 0 || send_all(fd, "\n", 1) < 0) {
				free(r);
				goto out;
			}
			free(r);
			memmove(buf, nl + 1, len - ll - 1);
			len -= ll + 1;
			deadline = now_ms() + CTL_TIMEOUT_S * 1000;
		}
		if (len == CTL_MAX_LINE) {
			char *r = reply_error(E2BIG, "%s", "request line too long");
			if (r)
				send_all(fd, r, strlen(r)), send_all(fd, "\n", 1);
			free(r);
			break;
		}
	}
out:
	safe_close(pending);
}

static void *control_thread(void *data)
{
	struct control *c = data;
	for (;;) {
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			log_debug("control: accept: %s; the control socket stops", strerror(errno));
			return NULL;
		}
		if (!peer_allowed(fd)) {
			log_debug("control: refused a client that is neither root nor the server's user");
			close(fd);
			continue;
		}
		serve_conn(c, fd);
		close(fd);
	}
}

static int fail_msg(char **ret_err, const char *what, int err)
{
	if (ret_err && asprintf(ret_err, "%s: %s", what, strerror(err)) < 0)
		*ret_err = NULL;
	return -err;
}

int control_new(struct tree *t, const char *path, struct control **ret, char **ret_err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail_msg(ret_err, "the socket path is too long", ENAMETOOLONG);
	strcpy(sa.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fail_msg(ret_err, "exists and is not a socket", EEXIST);
		if (unlink(path) < 0)
			return fail_msg(ret_err, "removing the old socket", errno);
	}
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_msg(ret_err, "socket", errno);
	/* created 0600 from the start: no window where another user could connect */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (r < 0)
		return fail_msg(ret_err, "bind", e);
	if (listen(fd, 8) < 0)
		return fail_msg(ret_err, "listen", errno);
	struct stat bound;
	if (lstat(path, &bound) < 0)
		return fail_msg(ret_err, "stat of the bound socket", errno);
	struct control *c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return -ENOMEM;
	}
	c->tree = t;
	c->fd = TAKE_FD(fd);
	c->dev = bound.st_dev;
	c->ino = bound.st_ino;
	*ret = c;
	return 0;
}

int control_unlink(struct control *c)
{
	struct stat st;
	if (!c || !c->path)
		return 0;
	if (lstat(c->path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	/* a later server may have replaced it at the same path: that one is not ours to remove */
	if (!S_ISSOCK(st.st_mode) || st.st_dev != c->dev || st.st_ino != c->ino)
		return 0;
	return unlink(c->path) < 0 && errno != ENOENT ? -errno : 0;
}

int control_start(struct control *c)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&c->thread, &a, control_thread, c);
	pthread_attr_destroy(&a);
	return -r;
}
