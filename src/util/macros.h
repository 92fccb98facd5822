/* SPDX-License-Identifier: MIT */
/* Small language helpers: cleanup attributes, ownership transfer, container_of, error-return helpers. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership on: returns the value and leaves the variable empty so its cleanup does nothing. */
#define TAKE_FD(fd)                                                                                              \
	({                                                                                                       \
		int _fd_ = (fd);                                                                                 \
		(fd) = -1;                                                                                       \
		_fd_;                                                                                            \
	})
#define TAKE_PTR(p)                                                                                              \
	({                                                                                                       \
		__typeof__(p) _p_ = (p);                                                                         \
		(p) = NULL;                                                                                      \
		_p_;                                                                                             \
	})

/* Turn a libc "-1 and errno" result into 0/-errno (or the non-negative value). */
#define RET_NERRNO(expr)                                                                                         \
	({                                                                                                       \
		__typeof__(expr) _r_ = (expr);                                                                   \
		_r_ < 0 ? -errno : _r_;                                                                          \
	})

/* Close an fd without clobbering errno; returns -1 for "fd = safe_close(fd)". */
static inline int safe_close(int fd)
{
	closep(&fd);
	return -1;
}
