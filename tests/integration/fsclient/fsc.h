/* SPDX-License-Identifier: MIT */
/*
 * fsclient: the core's integration checks as a client of a mounted share sees them.
 *
 * Every check is a function that runs in a fresh directory of its own (c->d inside the target, c->hd the same
 * directory seen from the host when the host side is known) and returns 0 (ok), 1 (skip, reason in c->reason)
 * or -1 (failure, reason in c->reason). The runner prints TAP. The same program runs over a native directory
 * (--oracle): every check must pass there too, which is how we know the expectations are the kernel's and not
 * our own guesses. Checks whose expectation only holds through the share (a nodev mount, a bridge-free fifo)
 * skip under --oracle.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

struct fsc {
	int rootfd;          /* the target's root (the mount point, or the native oracle directory) */
	int d;               /* this check's own directory inside the target */
	int hd;              /* the same directory seen from the host, or -1 */
	int outsidefd;       /* a host directory outside the share (escape checks), or -1 */
	const char *root_path;
	const char *host_path;
	const char *outside_path;
	const char *dir_rel; /* this check's directory, relative to the root (and to the host dir) */
	bool oracle;         /* the target is a native directory, not the share */
	unsigned scale;      /* 1: the full sizes of the issue (10k entries, depth 200); tests may lower it */
	char reason[1024];
};

typedef int (*fsc_check_fn)(struct fsc *c);
struct fsc_check {
	const char *group;
	const char *name;
	fsc_check_fn fn;
};

/* Each check file exports its table, terminated by a NULL name. */
extern const struct fsc_check fsc_meta_checks[];
extern const struct fsc_check fsc_io_checks[];
extern const struct fsc_check fsc_xattr_checks[];
extern const struct fsc_check fsc_lock_checks[];
extern const struct fsc_check fsc_scale_checks[];
extern const struct fsc_check fsc_escape_checks[];
extern const struct fsc_check fsc_lockwait_checks[];

/* escape.c: made in --outside before its snapshot is taken, and removed after the comparison. */
int fsc_escape_prepare(struct fsc *c);
void fsc_escape_cleanup(struct fsc *c);

/* Failure and skip helpers: record the reason (with the line) and leave the check. */
#define FAIL(...)                                                                                                \
	do {                                                                                                     \
		fsc_reason(c, __LINE__, __VA_ARGS__);                                                            \
		return -1;                                                                                       \
	} while (0)
#define SKIP(...)                                                                                                \
	do {                                                                                                     \
		fsc_reason(c, __LINE__, __VA_ARGS__);                                                            \
		return 1;                                                                                        \
	} while (0)
#define CHECK(cond, ...)                                                                                         \
	do {                                                                                                     \
		if (!(cond))                                                                                     \
			FAIL(__VA_ARGS__);                                                                       \
	} while (0)
/* A libc call that must succeed (returns -1 and errno on failure). Evaluates to its result. */
#define MUST(expr)                                                                                               \
	({                                                                                                       \
		__typeof__(expr) _m_ = (expr);                                                                   \
		if (_m_ < 0) {                                                                                   \
			int _e_ = errno;                                                                         \
			fsc_reason(c, __LINE__, "%s: %s", #expr, strerror(_e_));                                 \
			return -1;                                                                               \
		}                                                                                                \
		_m_;                                                                                             \
	})
/* A libc call that must fail with errno e (or with one of e and e2). */
#define MUST_FAIL2(expr, e, e2)                                                                                  \
	do {                                                                                                     \
		errno = 0;                                                                                       \
		long _r_ = (long)(expr);                                                                         \
		int _e_ = errno;                                                                                 \
		if (_r_ >= 0)                                                                                    \
			FAIL("%s: succeeded, expected %s", #expr, strerrorname_np(e));                           \
		if (_e_ != (e) && _e_ != (e2))                                                                   \
			FAIL("%s: %s, expected %s", #expr, strerrorname_np(_e_) ?: "?", strerrorname_np(e));     \
	} while (0)
#define MUST_FAIL(expr, e) MUST_FAIL2(expr, e, e)

void fsc_reason(struct fsc *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* util.c */
/* The byte at position off of stream seed: a cheap, position-dependent pattern so a misplaced block shows. */
static inline uint8_t fsc_pat(uint32_t seed, uint64_t off)
{
	uint64_t x = (off >> 3) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 32 | seed);
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 32;
	return (uint8_t)(x >> ((off & 7) * 8));
}
void fsc_fill(void *buf, size_t len, uint32_t seed, uint64_t off);
/* Offset of the first byte that differs from the pattern, or -1. */
ssize_t fsc_verify(const void *buf, size_t len, uint32_t seed, uint64_t off);
int fsc_write_all(int fd, const void *buf, size_t len);      /* 0 or -errno */
ssize_t fsc_read_all(int fd, void *buf, size_t len);         /* bytes read (short only at EOF) or -errno */
int fsc_pwrite_all(int fd, const void *buf, size_t len, off_t off);
ssize_t fsc_pread_all(int fd, void *buf, size_t len, off_t off);
/* Create (or truncate) dirfd/name holding len bytes of text; 0 or -errno. */
int fsc_put(int dirfd, const char *name, const char *text, mode_t mode);
/* Read dirfd/name into buf (NUL-terminated); length or -errno. */
ssize_t fsc_get(int dirfd, const char *name, char *buf, size_t size);
/* Remove dirfd/name and everything below it; 0 or -errno (first error). */
int fsc_rm_rf(int dirfd, const char *name);
/* Run fn(arg) in a forked child; returns its exit status (0..255), or -errno. The child never returns. */
int fsc_in_child(int (*fn)(void *arg), void *arg);
/* fork() for a check: the child's SIGALRM is the default (fatal) one and the watchdog knows the pid. */
pid_t fsc_fork(void);
/* Reap a child of fsc_fork(); its wait status, or -errno. */
int fsc_wait(pid_t pid);
/* The watchdog's last acts: SIGKILL every live child; print the kernel stacks of pid's threads as comments. */
void fsc_kill_children(void);
void fsc_dump_stacks(pid_t pid);
/* Count the entries of an open directory fd (rewinds it), including "." and ".."; -errno on error. */
long fsc_count_entries(int dirfd);
/* Sleep for ms milliseconds. */
void fsc_msleep(unsigned ms);

/* A snapshot of a host tree (names, types, modes, owners, sizes, times, xattrs, content hashes) to prove later
 * that nothing in it changed. */
struct fsc_snap;
int fsc_snap_take(const char *base, struct fsc_snap **ret);
/* NULL when equal, else a description of the first difference (static buffer). */
const char *fsc_snap_diff(const struct fsc_snap *a, const struct fsc_snap *b);
void fsc_snap_free(struct fsc_snap *s);
