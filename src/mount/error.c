/* SPDX-License-Identifier: MIT */
/* The caller-owned error record: filling it without allocating, and formatting it for a user. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "util/macros.h"

/* The syscalls the library reports. A name that crossed a process boundary (the container init sends its
 * error record to the runtime) is mapped back to one of these so the record keeps a static pointer. */
static const char *const syscalls[] = {
	"fsopen", "fsconfig", "fsmount", "open_tree", "move_mount", "mount_setattr", "mount", "umount2",
	"openat2", "openat", "mkdirat", "mknodat", "symlinkat", "pivot_root", "fchdir", "statx", "read",
	"fstatvfs", "unshare", "setns", "clone", "execve", "chdir", "setresuid", "setresgid", "setgroups",
	"sethostname", "prctl", "ioctl", "socket", "write", "fstat",
};

const char *bxm_syscall_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(syscalls); i++)
		if (strcmp(syscalls[i], name) == 0)
			return syscalls[i];
	return "syscall";
}

static void copy(char *dst, size_t size, const char *src)
{
	if (!src)
		return;
	size_t n = strnlen(src, size - 1);
	memmove(dst, src, n);
	dst[n] = '\0';
}

void bxm_err_begin(struct bxm_error *e, const char *what, const char *path)
{
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
	copy(e->what, sizeof(e->what), what);
	copy(e->path, sizeof(e->path), path);
}

void bxm_err_detail(struct bxm_error *e, const char *fmt, ...)
{
	if (!e)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
}

int bxm_fail(struct bxm_error *e, int err, const char *syscall, const char *what, const char *path)
{
	if (err < 0)
		err = -err;
	if (e) {
		e->err = err;
		e->syscall = syscall;
		copy(e->what, sizeof(e->what), what);
		copy(e->path, sizeof(e->path), path);
	}
	return -err;
}

const char *bxm_error_format(const struct bxm_error *e, char *buf, size_t size)
{
	if (!buf || size == 0)
		return buf;
	buf[0] = '\0';
	if (!e)
		return buf;
	/* strerror() capitalises; in the middle of a message the reason reads better in lower case */
	char reason[128];
	copy(reason, sizeof(reason), strerror(e->err ? e->err : EIO));
	if (reason[0] >= 'A' && reason[0] <= 'Z' && !(reason[1] >= 'A' && reason[1] <= 'Z'))
		reason[0] = (char)(reason[0] - 'A' + 'a');
	/* Every part is optional; join what is there with the punctuation a reader expects. */
	int n = snprintf(buf, size, "%s%s%s%s%s%s%s", e->what, e->what[0] && e->path[0] ? " on " : "",
			 e->path, e->what[0] || e->path[0] ? ": " : "", e->syscall ? e->syscall : "",
			 e->syscall ? ": " : "", reason);
	if (n >= 0 && (size_t)n < size && e->detail[0])
		snprintf(buf + n, size - (size_t)n, " (%s)", e->detail);
	return buf;
}

void bxm_fdpath(int fd, char buf[BXM_FDPATH_MAX])
{
	snprintf(buf, BXM_FDPATH_MAX, "thread-self/fd/%d", fd);
}
