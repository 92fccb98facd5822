/* SPDX-License-Identifier: MIT */
/* Shared by the test-proto sources: checks, the mock struct fs, and request building. */
#pragma once

#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "proto/proto.h"

extern int failures;
#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)
#define CHECK_EQ(a, b)                                                                                           \
	do {                                                                                                     \
		long long _a = (long long)(a), _b = (long long)(b);                                              \
		if (_a != _b) {                                                                                  \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, _a,  \
				#b, _b);                                                                         \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

/* What the mock fs saw last, and how it answers. */
struct mock_state {
	char op[32];
	uint64_t ino, ino2, fh, off, nlookup_total;
	char name[512], name2[512];
	size_t size;
	int flags, mask;
	mode_t mode, umask;
	uint32_t to_set, write_flags, sflags;
	struct stat attr;
	struct flock lk;
	bool sleep_lock, is_flock, destroyed, has_fh;
	int forgets;
	int ret;               /* what the next op returns (0 or -errno) */
	bool entry_without_ino;
	int readdir_entries;   /* how many entries readdir offers */
	const struct fs_notifier *notifier;
	uint64_t want_in, capable_in;
	char wbuf[8192];
	size_t wlen;
};
extern struct mock_state m;
extern struct fs mock_fs;

/* A request being built. */
struct rq {
	uint8_t b[1 << 17];
	size_t len;
};
extern struct rq q;
extern uint8_t outbuf[(1 << 20) + 4096 + 65536];
void rq_begin(struct rq *q, uint32_t opcode, uint64_t nodeid);
void rq_add(struct rq *q, const void *p, size_t n);
void rq_str(struct rq *q, const char *s);
void rq_end(struct rq *q);
uint64_t rq_unique(const struct rq *q);
/* Send q as one iovec into a reply room of room bytes; the reply length (0: none), *err its error field. */
ssize_t send_room(struct proto_session *s, struct rq *q, size_t room, int *err);
ssize_t send_rq(struct proto_session *s, struct rq *q, int *err);
const void *payload(void);

/* Notifications the mock transport captured. */
struct notes {
	uint8_t buf[4096];
	size_t len;
	int calls;
};
extern struct notes notes;

struct proto_session *new_session(const struct proto_opts *o);
ssize_t do_init(struct proto_session *s, uint32_t major, uint32_t minor, uint32_t flags, int *err);
/* A session past INIT with every flag offered. */
struct proto_session *ready_session(void);

#define ALL_FLAGS                                                                                                \
	(FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES |       \
	 FUSE_DONT_MASK | FUSE_FLOCK_LOCKS | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO |        \
	 FUSE_WRITEBACK_CACHE | FUSE_PARALLEL_DIROPS | FUSE_HANDLE_KILLPRIV_V2 | FUSE_POSIX_ACL |                  \
	 FUSE_CACHE_SYMLINKS | FUSE_SETXATTR_EXT | FUSE_SUBMOUNTS | FUSE_MAX_PAGES | FUSE_INIT_EXT)

/* The malformed-request and scattered-iovec tests (test-proto-malformed.c). */
void test_malformed(struct proto_session *s);
void test_scattered(struct proto_session *s);
