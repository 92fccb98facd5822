/* SPDX-License-Identifier: MIT */
/* fsclient helpers: data patterns, full reads and writes, recursive removal, children, host-tree snapshots. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fsc.h"

void fsc_reason(struct fsc *c, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->reason, sizeof(c->reason), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(c->reason + n, sizeof(c->reason) - (size_t)n, fmt, ap);
	va_end(ap);
}

void fsc_fill(void *buf, size_t len, uint32_t seed, uint64_t off)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = fsc_pat(seed, off + i);
}

ssize_t fsc_verify(const void *buf, size_t len, uint32_t seed, uint64_t off)
{
	const uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		if (p[i] != fsc_pat(seed, off + i))
			return (ssize_t)i;
	return -1;
}

int fsc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t fsc_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fsc_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t fsc_pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fsc_put(int dirfd, const char *name, const char *text, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	int r = fsc_write_all(fd, text, strlen(text));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

ssize_t fsc_get(int dirfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = fsc_read_all(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

int fsc_rm_rf(int pfd, const char *name)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(pfd, name, 0) < 0 ? -errno : 0;
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int e = -errno;
		close(fd);
		return e;
	}
	int r = 0;
	/* Removing while listing may skip entries on some file systems: list again until a pass removes nothing. */
	for (bool again = true; again;) {
		again = false;
		rewinddir(dir);
		struct dirent *de;
		while ((de = readdir(dir))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			int k = fsc_rm_rf(dirfd(dir), de->d_name);
			if (k < 0) {
				if (!r)
					r = k;
			} else {
				again = true;
			}
		}
		if (r)
			break;
	}
	closedir(dir);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && !r)
		r = -errno;
	return r;
}

static _Atomic pid_t children[64];

pid_t fsc_fork(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		memset((void *)children, 0, sizeof(children)); /* a child has no children of its own yet */
		return 0;
	}
	if (pid > 0)
		for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
			pid_t z = 0;
			if (atomic_compare_exchange_strong(&children[i], &z, pid))
				break;
		}
	return pid;
}

int fsc_wait(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		pid_t p = pid;
		if (atomic_compare_exchange_strong(&children[i], &p, 0))
			break;
	}
	return st;
}

void fsc_kill_children(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		pid_t p = atomic_load(&children[i]);
		if (p > 0) {
			fsc_dump_stacks(p);
			kill(p, SIGKILL);
		}
	}
}

void fsc_dump_stacks(pid_t pid)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/task", (int)pid);
	DIR *d = opendir(p);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == (int)gettid()) /* not the watchdog's own */
			continue;
		char sp[320];
		snprintf(sp, sizeof(sp), "/proc/%d/task/%s/stack", (int)pid, de->d_name);
		FILE *f = fopen(sp, "re");
		if (!f)
			continue;
		printf("# stack of %d/%s:\n", (int)pid, de->d_name);
		while (fgets(line, sizeof(line), f))
			printf("#   %s", line);
		fclose(f);
	}
	if (d)
		closedir(d);
}

int fsc_in_child(int (*fn)(void *arg), void *arg)
{
	pid_t pid = fsc_fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		alarm(30); /* a child that hangs where a signal can reach it must not hang the suite */
		_exit(fn(arg) & 0xff);
	}
	int st = fsc_wait(pid);
	if (st < 0)
		return st;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

long fsc_count_entries(int dfd)
{
	int fd = dup(dfd);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	rewinddir(dir);
	long n = 0;
	errno = 0;
	while (readdir(dir))
		n++;
	long r = errno ? -errno : n;
	closedir(dir);
	return r;
}

void fsc_msleep(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- host-tree snapshots ---- */

struct snap_ent {
	char *path;
	struct stat st;
	uint64_t hash; /* content (regular files), target (symlinks) */
	char *xattrs;  /* "name=value;..." */
};
struct fsc_snap {
	struct snap_ent *e;
	size_t n, cap;
};

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static char *snap_xattrs(const char *path)
{
	char list[4096], val[4096];
	ssize_t n = llistxattr(path, list, sizeof(list));
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(list + i) + 1) {
		ssize_t v = lgetxattr(path, list + i, val, sizeof(val));
		fprintf(f, "%s=%zd:%016llx;", list + i, v,
			(unsigned long long)(v > 0 ? fnv(0xcbf29ce484222325ull, val, (size_t)v) : 0));
	}
	if (n < 0)
		fprintf(f, "list:%d", errno);
	fclose(f);
	return out;
}

static int snap_walk(struct fsc_snap *s, const char *base, int top, const char *rel)
{
	int fd = openat(top, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(dir)) && r == 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->e = realloc(s->e, s->cap * sizeof(*s->e));
		}
		struct snap_ent *e = &s->e[s->n++];
		memset(e, 0, sizeof(*e));
		if (asprintf(&e->path, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) < 0)
			abort();
		if (fstatat(dirfd(dir), de->d_name, &e->st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		e->hash = 0xcbf29ce484222325ull;
		if (S_ISREG(e->st.st_mode)) {
			int ffd = openat(dirfd(dir), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
			if (ffd >= 0) {
				char buf[65536];
				ssize_t k;
				while ((k = read(ffd, buf, sizeof(buf))) > 0)
					e->hash = fnv(e->hash, buf, (size_t)k);
				close(ffd);
			}
		} else if (S_ISLNK(e->st.st_mode)) {
			char buf[4096];
			ssize_t k = readlinkat(dirfd(dir), de->d_name, buf, sizeof(buf));
			if (k > 0)
				e->hash = fnv(e->hash, buf, (size_t)k);
		}
		char *full;
		if (asprintf(&full, "%s/%s", base, e->path) < 0)
			abort();
		e->xattrs = snap_xattrs(full);
		free(full);
		if (S_ISDIR(e->st.st_mode)) {
			char *sub = strdup(e->path);
			r = snap_walk(s, base, top, sub);
			free(sub);
		}
	}
	closedir(dir);
	return r;
}

int fsc_snap_take(const char *base, struct fsc_snap **ret)
{
	int dirfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	struct fsc_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = snap_walk(s, base, dirfd, "");
	close(dirfd);
	if (r < 0) {
		fsc_snap_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static int ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

const char *fsc_snap_diff(const struct fsc_snap *a, const struct fsc_snap *b)
{
	static char msg[512];
	if (a->n != b->n) {
		snprintf(msg, sizeof(msg), "%zu entries before, %zu after", a->n, b->n);
		return msg;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct snap_ent *x = &a->e[i], *y = &b->e[i];
		const char *what = NULL;
		if (strcmp(x->path, y->path))
			what = "name";
		else if (x->st.st_mode != y->st.st_mode)
			what = "mode";
		else if (x->st.st_uid != y->st.st_uid || x->st.st_gid != y->st.st_gid)
			what = "owner";
		else if (x->st.st_size != y->st.st_size || x->hash != y->hash)
			what = "content";
		else if (x->st.st_nlink != y->st.st_nlink)
			what = "link count";
		else if (!ts_eq(x->st.st_mtim, y->st.st_mtim))
			what = "mtime";
		else if (!ts_eq(x->st.st_ctim, y->st.st_ctim))
			what = "ctime";
		else if (strcmp(x->xattrs, y->xattrs))
			what = "xattrs";
		if (what) {
			snprintf(msg, sizeof(msg), "%s: %s changed", x->path, what);
			return msg;
		}
	}
	return NULL;
}

void fsc_snap_free(struct fsc_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].path);
		free(s->e[i].xattrs);
	}
	free(s->e);
	free(s);
}
