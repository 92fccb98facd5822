/* SPDX-License-Identifier: MIT */
/* The runtime's state directory: per-container dirs, atomic state.json, flock, liveness of the init. */
#include "runtime/state.h"

#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/syscall.h"

/* State files are small; anything bigger is not ours. */
#define RTS_STATE_MAX (1u << 20)

bool rts_id_valid(const char *id)
{
	size_t n = strnlen(id, RTS_ID_MAX + 1);
	if (n == 0 || n > RTS_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '+' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int rts_root_open(const char *root)
{
	if (!root || root[0] != '/')
		return -EINVAL;
	/* mkdir -p, one component at a time, relative to the previous one */
	_cleanup_free_ char *copy = strdup(root);
	if (!copy)
		return -ENOMEM;
	_cleanup_close_ int fd = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (mkdirat(fd, c, 0700) < 0 && errno != EEXIST)
			return -errno;
		struct open_how how = { .flags = O_DIRECTORY | O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS };
		int nfd = sys_openat2(fd, c, &how);
		if (nfd < 0)
			return nfd;
		close(fd);
		fd = nfd;
	}
	/* reopen as a real directory so readdir works on it */
	int r = openat(fd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static int open_child_dir(int rootfd, const char *id)
{
	struct open_how how = {
		.flags = O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	return sys_openat2(rootfd, id, &how);
}

static int lock_fd(int fd, int op, int timeout_ms)
{
	if (timeout_ms < 0)
		return RET_NERRNO(flock(fd, op)) < 0 ? -errno : 0;
	/* flock has no timeout: poll with a short sleep; a lock holder is either fast or dead */
	for (int waited = 0;; waited += 10) {
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= timeout_ms)
			return -EWOULDBLOCK;
		poll(NULL, 0, 10);
	}
}

int rts_dir_create(int rootfd, const char *id)
{
	if (!rts_id_valid(id))
		return -EINVAL;
	if (mkdirat(rootfd, id, 0700) < 0)
		return -errno;
	_cleanup_close_ int fd = open_child_dir(rootfd, id);
	if (fd < 0)
		return fd;
	/* nobody else can hold it yet except a racing delete --force, which would find no state and wait */
	int r = lock_fd(fd, LOCK_EX, -1);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int rts_dir_open(int rootfd, const char *id, int lock_op, int timeout_ms)
{
	if (!rts_id_valid(id))
		return -EINVAL;
	_cleanup_close_ int fd = open_child_dir(rootfd, id);
	if (fd < 0)
		return fd == -ENOTDIR || fd == -ELOOP ? -ENOENT : fd;
	if (lock_op == 0)
		return TAKE_FD(fd);
	int r = lock_fd(fd, lock_op, timeout_ms);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

static int add_str(json_object *o, const char *key, const char *v)
{
	json_object *s = json_object_new_string(v);
	if (!s || json_object_object_add(o, key, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_int(json_object *o, const char *key, int64_t v)
{
	json_object *s = json_object_new_int64(v);
	if (!s || json_object_object_add(o, key, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_annotations(json_object *o, const char *text)
{
	json_object *a = json_tokener_parse(text ? text : "{}");
	if (!a || !json_object_is_type(a, json_type_object)) {
		json_object_put(a);
		a = json_object_new_object();
	}
	if (!a || json_object_object_add(o, "annotations", a) < 0) {
		json_object_put(a);
		return -ENOMEM;
	}
	return 0;
}

int rts_save(int dirfd, const struct rts *s)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	int r = 0;
	r = r ?: add_str(o, "id", s->id);
	r = r ?: add_str(o, "bundle", s->bundle ? s->bundle : "");
	r = r ?: add_annotations(o, s->annotations);
	r = r ?: add_str(o, "cgroup", s->cgroup ? s->cgroup : "");
	r = r ?: add_int(o, "pid", s->pid);
	r = r ?: add_int(o, "startTime", (int64_t)s->start_time);
	r = r ?: add_int(o, "created", s->created);
	r = r ?: add_int(o, "started", s->started);
	r = r ?: add_str(o, "status", rts_status_name(s->saved));
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	char tmp[] = ".state.json.XXXXXX";
	/* mkstemp only knows paths: build the name here and create it relative to dirfd */
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20);
	_cleanup_close_ int fd = -1;
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		for (size_t i = sizeof(tmp) - 7; i < sizeof(tmp) - 1; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			tmp[i] = chars[(seed >> 33) % (sizeof(chars) - 1)];
		}
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
	}
	if (fd < 0) {
		json_object_put(o);
		return r ?: -EEXIST;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	json_object_put(o);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, RTS_STATE_FILE) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dirfd, tmp, 0);
	return r;
}

void rts_clear(struct rts *s)
{
	free(s->id);
	free(s->bundle);
	free(s->annotations);
	free(s->cgroup);
	*s = (struct rts){};
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool get_int(json_object *o, const char *key, int64_t *ret)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

int rts_load(int dirfd, const char *id, struct rts *ret)
{
	*ret = (struct rts){};
	_cleanup_close_ int fd = openat(dirfd, RTS_STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > RTS_STATE_MAX)
		return -EBADMSG;
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t len = 0;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	bool complete = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	if (!o || !complete || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EBADMSG;
	}
	int r = -EBADMSG;
	const char *sid = get_str(o, "id"), *bundle = get_str(o, "bundle"), *cg = get_str(o, "cgroup");
	const char *status = get_str(o, "status");
	int64_t pid = 0, start = 0, created = 0, started = 0;
	json_object *ann = NULL;
	if (!sid || strcmp(sid, id) != 0 || !bundle || !cg || !status || !get_int(o, "pid", &pid) ||
	    !get_int(o, "startTime", &start) || !get_int(o, "created", &created) ||
	    !get_int(o, "started", &started) || pid < 0 || pid > INT32_MAX ||
	    start < 0 || !json_object_object_get_ex(o, "annotations", &ann) ||
	    !json_object_is_type(ann, json_type_object))
		goto out;
	ret->saved = RTS_STOPPED;
	for (int i = RTS_CREATING; i <= RTS_STOPPED; i++)
		if (strcmp(status, rts_status_name(i)) == 0)
			ret->saved = i;
	ret->id = strdup(sid);
	ret->bundle = strdup(bundle);
	ret->annotations = strdup(json_object_to_json_string_ext(ann, JSON_C_TO_STRING_PLAIN));
	ret->cgroup = cg[0] ? strdup(cg) : NULL;
	ret->pid = (pid_t)pid;
	ret->start_time = (uint64_t)start;
	ret->created = created;
	ret->started = started != 0;
	r = ret->id && ret->bundle && ret->annotations && (!cg[0] || ret->cgroup) ? 0 : -ENOMEM;
	if (r < 0)
		rts_clear(ret);
out:
	json_object_put(o);
	return r;
}

/* Field 3 (state) and field 22 (starttime) of /proc/PID/stat; comm (field 2) may hold spaces and ')'. */
static int read_stat(pid_t pid, char *ret_state, uint64_t *ret_start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EBADMSG;
	p += 2;
	*ret_state = *p;
	/* p is at field 3; skip to field 22 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EBADMSG;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EBADMSG;
	*ret_start = v;
	return 0;
}

int rts_pid_start_time(pid_t pid, uint64_t *ret)
{
	char st;
	return read_stat(pid, &st, ret);
}

bool rts_pid_alive(const struct rts *s)
{
	if (s->pid <= 0)
		return false;
	char st;
	uint64_t start;
	if (read_stat(s->pid, &st, &start) < 0)
		return false;
	return start == s->start_time && st != 'Z' && st != 'X';
}

enum rts_status rts_status(int dirfd, const struct rts *s)
{
	if (!rts_pid_alive(s))
		return s->saved == RTS_CREATING && s->pid == 0 ? RTS_CREATING : RTS_STOPPED;
	if (s->saved == RTS_CREATING)
		return RTS_CREATING;
	/* the init blocks on the fifo until start consumes it; start removes it */
	if (!s->started && faccessat(dirfd, RTS_FIFO_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return RTS_CREATED;
	return RTS_RUNNING;
}

const char *rts_status_name(enum rts_status st)
{
	switch (st) {
	case RTS_CREATING:
		return "creating";
	case RTS_CREATED:
		return "created";
	case RTS_RUNNING:
		return "running";
	case RTS_STOPPED:
		break;
	}
	return "stopped";
}

char *rts_to_oci_json(const struct rts *s, enum rts_status st)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	int r = 0;
	r = r ?: add_str(o, "ociVersion", OCI_SPEC_VERSION);
	r = r ?: add_str(o, "id", s->id);
	r = r ?: add_str(o, "status", rts_status_name(st));
	/* the spec: pid is REQUIRED when status is created or running; hooks of "creating" want it too */
	if (st == RTS_CREATED || st == RTS_RUNNING || (st == RTS_CREATING && s->pid > 0))
		r = r ?: add_int(o, "pid", s->pid);
	r = r ?: add_str(o, "bundle", s->bundle ? s->bundle : "");
	r = r ?: add_annotations(o, s->annotations);
	if (s->created > 0) {
		char ts[64];
		struct tm tm;
		time_t t = (time_t)s->created;
		if (gmtime_r(&t, &tm) && strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
			r = r ?: add_str(o, "created", ts);
	}
	char *text = r == 0 ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
										   JSON_C_TO_STRING_NOSLASHESCAPE))
			    : NULL;
	json_object_put(o);
	return text;
}

int rts_dir_remove(int rootfd, const char *id)
{
	if (!rts_id_valid(id))
		return -EINVAL;
	int fd = open_child_dir(rootfd, id);
	if (fd < 0)
		return fd;
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
			unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	return RET_NERRNO(unlinkat(rootfd, id, AT_REMOVEDIR)) < 0 ? -errno : 0;
}
