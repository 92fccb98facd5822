/* SPDX-License-Identifier: MIT */
/*
 * The share-tree configuration: flag and JSON syntax, and that every error names the flag or field and the
 * reason. Also the control protocol's request handling (control_handle) on bad input.
 */
#include "tree/config.h"
#include "tree/control.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tree-test.h"

/* flag value must fail, with every needle in the message */
static void flag_bad(const char *flag, const char *value, const char *n1, const char *n2)
{
	struct tree_cfg c = { 0 };
	char *err = NULL;
	int r = tree_cfg_add_flag(&c, flag, value, &err);
	CHECK(r == -EINVAL, "--%s '%s' accepted (%d)", flag, value, r);
	CHECK(err && strstr(err, n1) && (!n2 || strstr(err, n2)), "--%s '%s': message '%s' lacks '%s'/'%s'", flag,
	      value, err ? err : "(none)", n1, n2 ? n2 : "");
	CHECK(c.n == 0, "a bad flag left an item");
	free(err);
	tree_cfg_free(&c);
}

static void json_bad(const char *json, const char *n1, const char *n2)
{
	struct tree_cfg c = { 0 };
	char *err = NULL;
	int r = tree_cfg_add_json(&c, json, strlen(json), "cfg.json", &err);
	CHECK(r == -EINVAL, "json '%s' accepted (%d)", json, r);
	CHECK(err && strstr(err, "cfg.json") && strstr(err, n1) && (!n2 || strstr(err, n2)),
	      "json '%s': message '%s' lacks '%s'/'%s'", json, err ? err : "(none)", n1, n2 ? n2 : "");
	free(err);
	tree_cfg_free(&c);
}

static void test_flags(void)
{
	struct tree_cfg c = { 0 };
	char *err = NULL;
	CHECK(tree_cfg_add_flag(&c, "share", "/srv/a:b:/data:ro", &err) == 0, "host with a colon: %s", err);
	CHECK(c.n == 1 && strcmp(c.items[0].host, "/srv/a:b") == 0 && strcmp(c.items[0].path, "/data") == 0 &&
		      c.items[0].ro,
	      "split from the right");
	CHECK(tree_cfg_add_flag(&c, "file", "/etc/resolv.conf://etc//resolv.conf/", &err) == 0, "file");
	CHECK(strcmp(c.items[1].path, "/etc/resolv.conf") == 0 && !c.items[1].ro, "normalized: %s", c.items[1].path);
	CHECK(tree_cfg_add_flag(&c, "virtual", "/etc/hostname=box\\n:mode=0640:oneshot:uid=5:gid=6", &err) == 0,
	      "virtual: %s", err);
	struct tree_cfg_item *v = &c.items[2];
	CHECK(v->kind == TREE_CFG_VIRTUAL && strcmp(v->text, "box\n") == 0 && v->mode == 0640 && v->oneshot &&
		      v->uid == 5 && v->gid == 6,
	      "virtual fields");
	CHECK(tree_cfg_add_flag(&c, "virtual", "/x=a\\:oneshot", &err) == 0 && strcmp(c.items[3].text, "a:oneshot") == 0 &&
		      !c.items[3].oneshot,
	      "escaped colon: '%s'", c.items[3].text);
	CHECK(tree_cfg_add_flag(&c, "virtual", "/init=@/sbin/init:mode=0755", &err) == 0 &&
		      strcmp(c.items[4].host, "/sbin/init") == 0 && c.items[4].mode == 0755,
	      "virtual host file");
	CHECK(tree_cfg_add_flag(&c, "virtual", "/empty=", &err) == 0 && c.items[5].text_len == 0, "empty text");
	free(err);
	tree_cfg_free(&c);

	flag_bad("share", "/srv/data", "--share", "expected HOST_DIR:PATH");
	flag_bad("share", ":/data", "--share", "host path is empty");
	flag_bad("share", "srv:/data", "--share", "must be absolute");
	flag_bad("share", "/srv:data", "--share", "absolute path in the share");
	flag_bad("share", "/srv:/", "--share", "root");
	flag_bad("share", "/srv:/a/../b", "--share", "'..'");
	flag_bad("file", "/etc/x:/a/./b", "--file", "'.'");
	flag_bad("share", "/srv:/a\n", "--share", "control characters");
	char longc[400];
	memset(longc, 'x', sizeof(longc));
	longc[0] = '/';
	longc[399] = '\0';
	char val[512];
	snprintf(val, sizeof(val), "/srv:%s", longc);
	flag_bad("share", val, "--share", "longer than 255");
	flag_bad("virtual", "/x", "--virtual", "expected PATH=TEXT");
	flag_bad("virtual", "x=1", "--virtual", "absolute");
	flag_bad("virtual", "/x=1:mode=0999", "--virtual", "mode '0999'");
	flag_bad("virtual", "/x=1:mode=77777", "--virtual", "mode");
	flag_bad("virtual", "/x=1:uid=-1", "--virtual", "numeric id");
	flag_bad("virtual", "/x=1:uid=4294967295", "--virtual", "numeric id");
	flag_bad("virtual", "/x=@relative", "--virtual", "absolute");
	flag_bad("virtual", "/x=bad\\q", "--virtual", "escape");
	flag_bad("virtual", "/x=trailing\\", "--virtual", "escape");
	flag_bad("mystery", "/a:/b", "--mystery", "not a share-tree flag");
}

static void test_json(void)
{
	const char *good = "{\"shares\": [{\"host\": \"/srv\", \"path\": \"/data\", \"readonly\": true}],"
			   " \"files\": [{\"host\": \"/etc/hosts\", \"path\": \"/etc/hosts\"}],"
			   " \"virtual\": [{\"path\": \"/a\", \"text\": \"x\\u0000y\", \"mode\": \"0600\", \"uid\": 1,"
			   " \"gid\": 2, \"oneshot\": true}, {\"path\": \"/s\", \"status\": true},"
			   " {\"path\": \"/h\", \"host\": \"/etc/hostname\"}]}\n";
	struct tree_cfg c = { 0 };
	char *err = NULL;
	CHECK(tree_cfg_add_json(&c, good, strlen(good), "cfg.json", &err) == 0, "good json: %s", err);
	CHECK(c.n == 5, "items %zu", c.n);
	if (c.n == 5) {
		CHECK(c.items[0].kind == TREE_CFG_SHARE && c.items[0].ro, "share");
		CHECK(c.items[1].kind == TREE_CFG_FILE && !c.items[1].ro, "file");
		CHECK(c.items[2].text_len == 3 && memcmp(c.items[2].text, "x\0y", 3) == 0 && c.items[2].mode == 0600 &&
			      c.items[2].oneshot && c.items[2].uid == 1,
		      "virtual text with a NUL");
		CHECK(c.items[3].kind == TREE_CFG_STATUS, "status");
		CHECK(strstr(c.items[4].origin, "virtual[2]") != NULL, "origin '%s'", c.items[4].origin);
	}
	free(err);
	tree_cfg_free(&c);

	json_bad("", "not valid JSON", NULL);
	json_bad("{", "not valid JSON", NULL);
	json_bad("[]", "top level", NULL);
	json_bad("{} {}", "trailing data", NULL);
	json_bad("{\"share\": []}", "unknown field 'share'", NULL);
	json_bad("{\"shares\": {}}", "shares", "array");
	json_bad("{\"shares\": [1]}", "shares[0]", "object");
	json_bad("{\"shares\": [{\"host\": \"/a\"}]}", "shares[0].path", "missing");
	json_bad("{\"shares\": [{\"path\": \"/a\"}]}", "shares[0].host", "missing");
	json_bad("{\"shares\": [{\"host\": \"/a\", \"path\": \"/b\", \"read-only\": true}]}", "shares[0]",
		 "unknown field 'read-only'");
	json_bad("{\"shares\": [{\"host\": \"/a\", \"path\": \"/b\", \"readonly\": \"yes\"}]}", "shares[0].readonly",
		 "true or false");
	json_bad("{\"files\": [{\"host\": \"a\", \"path\": \"/b\"}]}", "files[0].host", "absolute");
	json_bad("{\"files\": [{\"host\": \"/a\\u0000b\", \"path\": \"/b\"}]}", "files[0].host", "NUL");
	json_bad("{\"files\": [{\"host\": \"/a\", \"path\": \"/b\\u0000c\"}]}", "files[0].path", "NUL");
	json_bad("{\"files\": [{\"host\": \"/a\", \"path\": 5}]}", "files[0].path", "string");
	json_bad("{\"virtual\": [{\"path\": \"/a\"}]}", "virtual[0]", "exactly one");
	json_bad("{\"virtual\": [{\"path\": \"/a\", \"text\": \"x\", \"host\": \"/b\"}]}", "virtual[0]", "exactly one");
	json_bad("{\"virtual\": [{\"path\": \"/a\", \"text\": \"x\", \"mode\": 493}]}", "virtual[0].mode", "string");
	json_bad("{\"virtual\": [{\"path\": \"/a\", \"text\": \"x\", \"mode\": \"8\"}]}", "virtual[0].mode", "octal");
	json_bad("{\"virtual\": [{\"path\": \"/a\", \"text\": \"x\", \"uid\": -3}]}", "virtual[0].uid", "valid id");
	json_bad("{\"virtual\": [{\"path\": \"/\", \"text\": \"x\"}]}", "virtual[0].path", "root");

	/* a missing config file names the flag */
	err = NULL;
	CHECK(tree_cfg_add_json_file(&c, "/nonexistent/cfg.json", &err) == -ENOENT && err &&
		      strstr(err, "--config /nonexistent/cfg.json"),
	      "missing file: %s", err ? err : "(none)");
	free(err);
	tree_cfg_free(&c);
}

static int no_open(void *data, int fd, struct fs_inomap *map, struct fs **ret)
{
	close(fd);
	return -ENOSYS;
}

static void test_apply_and_control(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct tree *t;
	struct tree_opts o = { .open_entry = no_open };
	CHECK(tree_new(map, NULL, &o, &t) == 0, "tree");
	struct tree_cfg c = { 0 };
	char *err = NULL;
	CHECK(tree_cfg_add_flag(&c, "share", "/nonexistent/dir:/data", &err) == 0, "parse");
	CHECK(tree_cfg_apply(&c, t, &err) == -ENOENT && err && strstr(err, "--share") &&
		      strstr(err, "/nonexistent/dir") && strstr(err, "opening the host path"),
	      "apply error: %s", err ? err : "(none)");
	tree_cfg_free(&c);
	CHECK(tree_cfg_add_flag(&c, "virtual", "/a=x", &err) == 0 && tree_cfg_add_flag(&c, "virtual", "/a=y", &err) == 0,
	      "parse");
	CHECK(tree_cfg_apply(&c, t, &err) == -EEXIST && err && strstr(err, "already taken"), "dup: %s",
	      err ? err : "(none)");
	free(err);
	tree_cfg_free(&c);

	static const struct {
		const char *req, *want;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "[1]", "a request is a JSON object" },
		{ "{\"op\": 3}", "\\\"op\\\" must be a string" },
		{ "{\"op\": \"explode\", \"path\": \"/x\"}", "unknown op 'explode'" },
		{ "{\"op\": \"remove\"}", "\\\"path\\\" is required" },
		{ "{\"op\": \"remove\", \"path\": \"rel\"}", "absolute" },
		{ "{\"op\": \"remove\", \"path\": \"/nothing\"}", "No such file" },
		{ "{\"op\": \"add-share\", \"path\": \"/d\"}", "send the host path's fd" },
		{ "{\"op\": \"add-virtual\", \"path\": \"/v\", \"text\": \"x\", \"mode\": \"999\"}", "mode" },
		{ "{\"op\": \"add-virtual\", \"path\": \"/v\", \"text\": \"x\", \"bogus\": 1}", "unknown field 'bogus'" },
		{ "{\"op\": \"add-virtual\", \"path\": \"/v\", \"text\": \"hello\"}", "{\"ok\":true}" },
		{ "{\"op\": \"add-virtual\", \"path\": \"/v\", \"text\": \"again\"}", "File exists" },
		{ "{\"op\": \"list\"}", "\"path\":\"\\/v\"" },
		{ "{\"op\": \"remove\", \"path\": \"/v\"}", "{\"ok\":true}" },
		{ "{\"op\": \"list\"} {\"op\": \"remove\", \"path\": \"/x\"}", "one JSON object a line" },
		{ "{\"op\": \"list\"}x", "one JSON object a line" },
		{ "{\"op\": \"list\"} \r", "{\"ok\":true" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = control_handle(t, cases[i].req, strlen(cases[i].req), -1);
		CHECK(r && strstr(r, cases[i].want), "control '%s': '%s' lacks '%s'", cases[i].req, r ? r : "(null)",
		      cases[i].want);
		free(r);
	}
	/* an fd of the wrong type */
	int fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	const char *req = "{\"op\": \"add-share\", \"path\": \"/d\"}";
	char *r = control_handle(t, req, strlen(req), fd);
	CHECK(r && strstr(r, "not a directory"), "file fd as share: %s", r);
	free(r);
	fd = open("/tmp", O_PATH | O_CLOEXEC);
	req = "{\"op\": \"add-file\", \"path\": \"/d\"}";
	r = control_handle(t, req, strlen(req), fd);
	CHECK(r && strstr(r, "not a regular file"), "dir fd as file: %s", r);
	free(r);
	fs_free(tree_fs(t));
	tree_free(t);
	fs_inomap_unref(map);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Send line with nfds copies of fd (SCM_RIGHTS) in one sendmsg. */
static int send_line(int s, const char *line, int fd, int nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 64)];
	} cm;
	struct iovec iov = { (void *)line, strlen(line) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		for (int i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(h) + i * sizeof(int), &fd, sizeof(int));
	}
	return sendmsg(s, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Read replies until EOF or 2 s; returns the bytes read. */
static size_t read_replies(int s, char *buf, size_t size)
{
	size_t len = 0;
	struct pollfd p = { .fd = s, .events = POLLIN };
	while (len + 1 < size && poll(&p, 1, 2000) == 1) {
		ssize_t k = read(s, buf + len, size - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	return len;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* The socket itself: fds travel one per request with the first byte of its line, every other fd is closed. */
static void test_socket(void)
{
	char dir[] = "/tmp/test-ctl-XXXXXX", path[64], buf[4096];
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	struct fs_inomap *map = fs_inomap_new();
	struct tree *t;
	struct tree_opts o = { .open_entry = no_open };
	CHECK(tree_new(map, NULL, &o, &t) == 0, "tree");
	struct control *c = NULL;
	char *err = NULL;
	CHECK(control_new(t, path, &c, &err) == 0 && control_start(c) == 0, "control: %s", err ? err : "");
	free(err);
	int vfd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	if (vfd < 0)
		vfd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int base = count_fds();

	/* the good case: one fd with its line; then two requests in one message */
	int s = connect_to(path);
	CHECK(s >= 0, "connect");
	CHECK(send_line(s, "{\"op\":\"add-virtual\",\"path\":\"/v\"}\n", vfd, 1) == 0, "send");
	CHECK(send_line(s, "{\"op\":\"list\"}\n{\"op\":\"remove\",\"path\":\"/v\"}\n", -1, 0) == 0, "send");
	shutdown(s, SHUT_WR);
	read_replies(s, buf, sizeof(buf));
	CHECK(strstr(buf, "{\"ok\":true}\n{\"ok\":true,\"entries\":[{\"path\":\"\\/v\"") &&
		      strstr(buf, "]}\n{\"ok\":true}\n"),
	      "replies: %s", buf);
	close(s);

	/* two fds with one line: refused, the connection closed, both fds closed in the server */
	s = connect_to(path);
	CHECK(send_line(s, "{\"op\":\"add-virtual\",\"path\":\"/w\"}\n", vfd, 2) == 0, "send 2 fds");
	read_replies(s, buf, sizeof(buf));
	CHECK(strstr(buf, "one fd per request") && !strstr(buf, "\"ok\":true"), "two fds: %s", buf);
	close(s);

	/* an fd sent in the middle of a line: refused */
	s = connect_to(path);
	CHECK(send_line(s, "{\"op\":\"add-virtual\",", -1, 0) == 0, "send part");
	usleep(100 * 1000);
	CHECK(send_line(s, "\"path\":\"/w\"}\n", vfd, 1) == 0, "send rest with fd");
	read_replies(s, buf, sizeof(buf));
	CHECK(strstr(buf, "one fd per request") && !strstr(buf, "\"ok\":true"), "fd mid-line: %s", buf);
	close(s);

	/* more fds than the server's control buffer takes (MSG_CTRUNC): refused, nothing leaked */
	s = connect_to(path);
	CHECK(send_line(s, "{\"op\":\"list\"}\n", vfd, 32) == 0, "send 32 fds");
	read_replies(s, buf, sizeof(buf));
	CHECK(strstr(buf, "one fd per request") && !strstr(buf, "\"ok\":true"), "32 fds: %s", buf);
	close(s);

	/* an fd with a request that takes none (and one with a bad request) is closed too */
	s = connect_to(path);
	CHECK(send_line(s, "{\"op\":\"list\"}\n", vfd, 1) == 0, "list with fd");
	CHECK(send_line(s, "{\"op\":\"nope\"}\n", vfd, 1) == 0, "bad op with fd");
	shutdown(s, SHUT_WR);
	read_replies(s, buf, sizeof(buf));
	CHECK(strstr(buf, "is required"), "bad op: %s", buf);
	close(s);

	usleep(100 * 1000);
	int now = count_fds();
	CHECK(now == base, "the server kept fds: %d before, %d after", base, now);
	close(vfd);
	/* control_unlink(): removes the socket it bound, and not one a later server bound at the same path */
	static struct control *c2; /* static: there is no control_free, the process keeps it */
	char path2[80];
	snprintf(path2, sizeof(path2), "%s/ctl2.sock", dir);
	CHECK(control_new(t, path2, &c2, NULL) == 0, "second socket");
	CHECK(control_unlink(c2) == 0 && access(path2, F_OK) < 0 && errno == ENOENT, "own socket removed");
	CHECK(control_unlink(c2) == 0, "already gone is fine");
	unlink(path);
	int later = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(later >= 0 && bind(later, (struct sockaddr *)&sa, sizeof(sa)) == 0, "a later server's socket");
	CHECK(control_unlink(c) == 0 && access(path, F_OK) == 0, "a later server's socket was removed");
	close(later);
	/* the control thread serves for the life of the process: the tree stays too */
	unlink(path);
	rmdir(dir);
	(void)map;
}

int main(void)
{
	test_socket();
	test_flags();
	test_json();
	test_apply_and_control();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
