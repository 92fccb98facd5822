/* SPDX-License-Identifier: MIT */
/*
 * The virtual overlay over an in-memory fs: virtual files (buffer, host fd, callback), nested and merged
 * directories, shadowing, one-shot files, merged READDIR/READDIRPLUS listings without duplicates across many
 * small reply buffers while entries come and go, removal semantics, read-only virtual entries, stale handles,
 * and which fh the ops on open files forward (a merged directory's own fh never goes down).
 */
#include "tree/overlay.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "memfs.h"
#include "tree-test.h"
#include "tree/nullroot.h"

static int counter;
static int produce_counter(void *data, char **ret, size_t *len)
{
	counter++;
	if (asprintf(ret, "open number %d\n", counter) < 0)
		return -ENOMEM;
	*len = strlen(*ret);
	return 0;
}

static int notified;
static char notified_name[64];
static int note_entry(const struct fs_notifier *n, uint64_t parent, const char *name, size_t len)
{
	notified++;
	snprintf(notified_name, sizeof(notified_name), "%.*s", (int)len, name);
	return 0;
}
static const struct fs_notifier notifier = { .inval_entry = note_entry };

static void test_basic(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct memfs *m = memfs_new(map, false, 0);
	memfs_mk(m, 1, "a", S_IFREG | 0644, "real-a");
	memfs_mk(m, 1, "b", S_IFREG | 0644, "real-b");
	int64_t etc = memfs_mk(m, 1, "etc", S_IFDIR | 0755, NULL);
	memfs_mk(m, (uint64_t)etc, "passwd", S_IFREG | 0644, "root:x:0:0");
	struct fs *o;
	CHECK(ovl_new(&m->base, map, &o) == 0, "ovl_new");
	struct fs_conn conn = { .capable = ~0ull, .want = FS_CAP_READDIRPLUS, .max_write = 1 << 20,
				.notifier = &notifier };
	CHECK(FS_CALL(o, init, &conn) == 0, "init");

	CHECK(ovl_add_buffer(o, "/hello", "hi\n", 3, NULL) == 0, "add hello");
	CHECK(ovl_add_buffer(o, "etc/hostname", "box\n", 4, &(struct ovl_attr){ .mode = 0640, .uid = 7, .gid = 8,
									  .mtime = 1000000 }) == 0,
	      "add etc/hostname");
	CHECK(ovl_add_callback(o, "/status", produce_counter, NULL, NULL) == 0, "add status");
	CHECK(ovl_add_buffer(o, "/v/w/x", "deep", 4, NULL) == 0, "add nested");
	CHECK(ovl_add_buffer(o, "/a", "virtual-a", 9, NULL) == 0, "add shadow");
	CHECK(ovl_add_buffer(o, "/init", "#!", 2, &(struct ovl_attr){ .mode = 0755, .oneshot = true }) == 0,
	      "add oneshot");
	CHECK(ovl_add_buffer(o, "/hello", "x", 1, NULL) == -EEXIST, "duplicate accepted");
	CHECK(ovl_add_buffer(o, "/hello/x", "x", 1, NULL) == -ENOTDIR, "file as dir accepted");
	CHECK(ovl_add_buffer(o, "/../x", "x", 1, NULL) == -EINVAL, "'..' accepted");
	CHECK(ovl_add_buffer(o, "/q//./b", "x", 1, NULL) == -EINVAL, "'.' accepted");
	CHECK(ovl_add_buffer(o, "/", "x", 1, NULL) == -EEXIST, "root accepted");
	CHECK(notified >= 6, "additions not invalidated (%d)", notified);

	char buf[256];
	struct fs_entry e, e2;
	CHECK(lookup_path(o, "hello", &e) == 0 && read_all(o, e.ino, buf, sizeof(buf)) == 3 &&
		      strcmp(buf, "hi\n") == 0,
	      "virtual buffer read");
	CHECK(e.attr.st_size == 3 && S_ISREG(e.attr.st_mode) && (e.attr.st_mode & 07777) == 0444, "hello attrs");
	CHECK(lookup_path(o, "a", &e) == 0 && read_all(o, e.ino, buf, sizeof(buf)) > 0 &&
		      strcmp(buf, "virtual-a") == 0,
	      "shadowing: got '%s'", buf);
	CHECK(lookup_path(o, "b", &e) == 0 && read_all(o, e.ino, buf, sizeof(buf)) > 0 && strcmp(buf, "real-b") == 0,
	      "real file through overlay");
	CHECK(lookup_path(o, "etc/passwd", &e) == 0 && read_all(o, e.ino, buf, sizeof(buf)) > 0 &&
		      strcmp(buf, "root:x:0:0") == 0,
	      "real file in merged dir");
	CHECK(lookup_path(o, "etc/hostname", &e) == 0 && e.attr.st_uid == 7 && e.attr.st_gid == 8 &&
		      (e.attr.st_mode & 07777) == 0640 && e.attr.st_mtim.tv_sec == 1000000,
	      "mode/owner/time");
	CHECK(lookup_path(o, "v/w/x", &e) == 0 && read_all(o, e.ino, buf, sizeof(buf)) == 4, "nested virtual");
	CHECK(lookup_path(o, "v/w", &e) == 0 && S_ISDIR(e.attr.st_mode), "virtual dir attrs");
	CHECK(lookup_path(o, "v/nothing", &e) == -ENOENT, "missing name in virtual dir");

	/* callback: new bytes at each open */
	CHECK(lookup_path(o, "status", &e) == 0, "status lookup");
	read_all(o, e.ino, buf, sizeof(buf));
	CHECK(strcmp(buf, "open number 1\n") == 0, "callback first: '%s'", buf);
	read_all(o, e.ino, buf, sizeof(buf));
	CHECK(strcmp(buf, "open number 2\n") == 0, "callback second: '%s'", buf);
	CHECK(e.attr_timeout == 0, "callback attrs cached");

	/* one-shot */
	CHECK(lookup_path(o, "init", &e) == 0 && e.entry_timeout == 0, "oneshot lookup");
	struct fs_open fo;
	CHECK(FS_CALL(o, open, &uctx, e.ino, O_RDONLY, &fo) == 0, "oneshot open");
	CHECK(lookup_path(o, "init", &e2) == -ENOENT, "oneshot still there after open");
	struct fs_open fo2;
	CHECK(FS_CALL(o, open, &uctx, e.ino, O_RDONLY, &fo2) == -ENOENT, "oneshot opened twice");
	struct iovec iov = { buf, sizeof(buf) };
	size_t len = 0;
	CHECK(FS_CALL(o, read, &uctx, e.ino, fo.fh, 0, sizeof(buf), &iov, 1, &len) == 0 && len == 2,
	      "oneshot first open reads");
	o->ops->release(o, &uctx, e.ino, fo.fh, O_RDONLY, 0, false);
	o->ops->forget(o, e.ino, 1);

	/* read-only virtual entries */
	struct fs_entry ne;
	CHECK(lookup_path(o, "hello", &e) == 0, "lookup hello");
	CHECK(FS_CALL(o, open, &uctx, e.ino, O_RDWR, &fo) == -EROFS, "virtual open rw");
	CHECK(FS_CALL(o, unlink, &uctx, FS_ROOT_ID, "hello") == -EROFS, "unlink virtual");
	CHECK(FS_CALL(o, rename, &uctx, FS_ROOT_ID, "hello", FS_ROOT_ID, "hello2", 0) == -EROFS, "rename virtual");
	CHECK(FS_CALL(o, rename, &uctx, FS_ROOT_ID, "b", FS_ROOT_ID, "hello", 0) == -EROFS, "rename over virtual");
	CHECK(FS_CALL(o, access, &uctx, e.ino, W_OK) == -EROFS, "access W_OK virtual");
	CHECK(FS_CALL(o, access, &uctx, e.ino, R_OK) == 0, "access R_OK virtual");
	CHECK(lookup_path(o, "v", &e) == 0, "lookup v");
	CHECK(FS_CALL(o, mkdir, &uctx, e.ino, "new", 0755, &ne) == -EROFS, "mkdir in pure virtual dir");
	CHECK(lookup_path(o, "etc", &e) == 0, "lookup etc");
	CHECK(FS_CALL(o, mkdir, &uctx, e.ino, "hostname", 0755, &ne) == -EEXIST, "mkdir over virtual name");
	CHECK(FS_CALL(o, mkdir, &uctx, e.ino, "real-new", 0755, &ne) == 0, "mkdir in merged dir");
	CHECK(memfs_find(m, (uint64_t)etc, "real-new") >= 0, "merged mkdir did not reach the real dir");
	CHECK(FS_CALL(o, open, &uctx, 0x7777, O_RDONLY, &fo) < 0, "unknown id accepted");

	/* a forged fh on a virtual file */
	CHECK(lookup_path(o, "hello", &e) == 0, "lookup hello");
	CHECK(FS_CALL(o, read, &uctx, e.ino, 0xdeadbeef12345ULL, 0, 10, &iov, 1, &len) == -EBADF, "forged fh");

	/* the client goes away and a new one comes (vhost-user reconnect): merged directories still work */
	CHECK(FS_CALL(o, open, &uctx, e.ino, O_RDONLY, &fo) == 0, "open before destroy");
	o->ops->destroy(o);
	CHECK(FS_CALL(o, read, &uctx, e.ino, fo.fh, 0, 10, &iov, 1, &len) == -EBADF, "handle survived destroy");
	CHECK(FS_CALL(o, init, &conn) == 0, "init again");
	CHECK(lookup_path(o, "etc/passwd", &e) == 0 && read_all(o, e.ino, buf, sizeof(buf)) > 0 &&
		      strcmp(buf, "root:x:0:0") == 0,
	      "merged dir after a reconnect");

	fs_free(o);
	fs_inomap_unref(map);
}

static void test_listing(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct memfs *m = memfs_new(map, false, 0);
	char name[32];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "real%02d", i);
		memfs_mk(m, 1, name, S_IFREG | 0644, "r");
	}
	memfs_mk(m, 1, "dup", S_IFREG | 0644, "real");
	struct fs *o;
	CHECK(ovl_new(&m->base, map, &o) == 0, "ovl_new");
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "virt%02d", i);
		ovl_add_buffer(o, name, "v", 1, NULL);
	}
	ovl_add_buffer(o, "dup", "virtual", 7, NULL);

	for (int plus = 0; plus <= 1; plus++) {
		for (size_t bs = 200; bs <= 8192; bs *= 4) {
			struct listing l;
			CHECK(list_dir(o, FS_ROOT_ID, plus, bs, &l) == 0, "list");
			CHECK(l.n == 2 + 40 + 10 + 1, "plus %d buf %zu: %zu entries", plus, bs, l.n);
			CHECK(listing_count(&l, "dup") == 1, "dup listed %d times", listing_count(&l, "dup"));
			CHECK(listing_count(&l, ".") == 1 && listing_count(&l, "..") == 1, "dots");
			for (int i = 0; i < 40; i++) {
				snprintf(name, sizeof(name), "real%02d", i);
				CHECK(listing_count(&l, name) == 1, "%s missing/duplicated", name);
			}
			for (size_t i = 0; i < l.n; i++)
				CHECK(l.off[i] > 0 && l.off[i] < (1ULL << 63), "cookie out of range");
			if (plus) { /* every non-dot entry came with a lookup: give them back */
				for (size_t i = 0; i < l.n; i++)
					if (l.ino[i])
						o->ops->forget(o, l.ino[i], 1);
			}
		}
	}

	/* entries come and go while a listing is under way: resume from the cookies handed out */
	struct fs_open fo;
	CHECK(FS_CALL(o, opendir, &uctx, FS_ROOT_ID, O_RDONLY, &fo) == 0, "opendir");
	char mem[8192];
	struct listing l = { 0 };
	uint64_t off = 0;
	struct fs_dirbuf b;
	wire_dirbuf_init(&b, mem, 150, false, false);
	CHECK(FS_CALL(o, readdir, &uctx, FS_ROOT_ID, fo.fh, off, &b) == 0 && b.len > 0, "first part");
	listing_decode(&l, mem, b.len, false, &off);
	CHECK(ovl_remove(o, "virt05") == 0, "remove during listing");
	CHECK(ovl_add_buffer(o, "late", "l", 1, NULL) == 0, "add during listing");
	memfs_unlink(&m->base, &uctx, FS_ROOT_ID, "real10");
	for (int i = 0; i < 1000; i++) {
		wire_dirbuf_init(&b, mem, 150, false, false);
		if (FS_CALL(o, readdir, &uctx, FS_ROOT_ID, fo.fh, off, &b) < 0 || b.len == 0)
			break;
		listing_decode(&l, mem, b.len, false, &off);
	}
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = i + 1; j < l.n; j++)
			CHECK(strcmp(l.names[i], l.names[j]) != 0, "%s listed twice", l.names[i]);
	CHECK(listing_count(&l, "real39") == 1 && listing_count(&l, "real00") == 1, "real entries lost");
	/* a rewind takes the new names */
	struct listing l2;
	CHECK(list_dir(o, FS_ROOT_ID, false, 4096, &l2) == 0, "relist");
	CHECK(listing_count(&l2, "late") == 1 && listing_count(&l2, "virt05") == 0 &&
		      listing_count(&l2, "real10") == 0,
	      "rewind shows changes");
	/* a cookie this handle never gave out */
	wire_dirbuf_init(&b, mem, 4096, false, false);
	CHECK(FS_CALL(o, readdir, &uctx, FS_ROOT_ID, fo.fh, (1ULL << 32) + 99999, &b) == -EINVAL, "bogus cookie");
	o->ops->releasedir(o, &uctx, FS_ROOT_ID, fo.fh);

	fs_free(o);
	fs_inomap_unref(map);
}

static void test_remove(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct fs *nr, *o;
	CHECK(nullroot_new(map, 0555, 0, 0, &nr) == 0, "nullroot");
	CHECK(ovl_new(nr, map, &o) == 0, "ovl_new");
	struct fs_conn conn = { .capable = ~0ull, .want = 0, .notifier = &notifier };
	FS_CALL(o, init, &conn);
	ovl_add_buffer(o, "d/f", "data", 4, NULL);
	struct ovl_stats s0, s1;
	ovl_get_stats(o, &s0);
	struct fs_entry e;
	CHECK(lookup_path(o, "d/f", &e) == 0, "lookup");
	struct fs_open fo;
	CHECK(FS_CALL(o, open, &uctx, e.ino, O_RDONLY, &fo) == 0, "open");
	notified = 0;
	CHECK(ovl_remove(o, "/d") == 0, "remove");
	CHECK(notified == 1 && strcmp(notified_name, "d") == 0, "removal not invalidated");
	struct fs_entry e2;
	CHECK(lookup_path(o, "d/f", &e2) == -ENOENT, "removed entry still found");
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };
	size_t len = 0;
	CHECK(FS_CALL(o, read, &uctx, e.ino, fo.fh, 0, sizeof(buf), &iov, 1, &len) == 0 && len == 4,
	      "open file stopped working after removal");
	o->ops->release(o, &uctx, e.ino, fo.fh, O_RDONLY, 0, false);
	/* the client forgets d and f: the nodes go */
	struct fs_entry d;
	o->ops->forget(o, e.ino, 1);
	ovl_get_stats(o, &s1);
	CHECK(s1.vnodes < s0.vnodes, "forgotten nodes kept (%llu >= %llu)", (unsigned long long)s1.vnodes,
	      (unsigned long long)s0.vnodes);
	CHECK(lookup_path(o, "d", &d) == -ENOENT, "d found");
	CHECK(ovl_remove(o, "/d") == -ENOENT, "double remove");
	CHECK(ovl_remove(o, "/") == -EBUSY, "root removed");
	/* null root: empty listing, read-only */
	struct listing l;
	CHECK(list_dir(o, FS_ROOT_ID, false, 4096, &l) == 0 && l.n == 2, "null root lists %zu", l.n);
	CHECK(FS_CALL(o, mkdir, &uctx, FS_ROOT_ID, "x", 0755, &e) == -EROFS, "mkdir in null root");
	struct statvfs sv;
	CHECK(FS_CALL(o, statfs, &uctx, FS_ROOT_ID, &sv) == 0 && (sv.f_flag & ST_RDONLY), "null root statfs");
	/* host file read once */
	char tmpl[] = "/tmp/test-overlay-XXXXXX";
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0 && write(fd, "from-host", 9) == 9, "tmp file");
	CHECK(ovl_add_fd(o, "hostfile", fd, NULL) == 0, "add fd");
	CHECK(pwrite(fd, "CHANGED!!", 9, 0) == 9, "rewrite");
	close(fd);
	unlink(tmpl);
	CHECK(lookup_path(o, "hostfile", &e) == 0 && read_all(o, e.ino, buf, sizeof(buf)) == 9 &&
		      strcmp(buf, "from-host") == 0,
	      "host file not read once: '%s'", buf);
	fs_free(o);
	fs_inomap_unref(map);
}

/* Readers look up, read, list and forget while a writer adds and removes entries (run under ASan in CI). */
struct race {
	struct fs *o;
	atomic_bool stop;
	atomic_uint reads, lists;
};

static void *race_reader(void *data)
{
	struct race *rc = data;
	char buf[64], name[32];
	unsigned i = 0;
	while (!atomic_load(&rc->stop)) {
		struct fs_entry e;
		snprintf(name, sizeof(name), "d%u/f", i++ % 8);
		if (lookup_path(rc->o, name, &e) == 0) {
			if (read_all(rc->o, e.ino, buf, sizeof(buf)) >= 0)
				atomic_fetch_add(&rc->reads, 1);
			rc->o->ops->forget(rc->o, e.ino, 1);
		}
		struct listing l;
		if (list_dir(rc->o, FS_ROOT_ID, i % 2, 300, &l) == 0) {
			atomic_fetch_add(&rc->lists, 1);
			for (size_t k = 0; k < l.n; k++)
				if (l.ino[k])
					rc->o->ops->forget(rc->o, l.ino[k], 1);
		}
	}
	return NULL;
}

static void test_race(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct fs *nr;
	struct race rc = { 0 };
	CHECK(nullroot_new(map, 0555, 0, 0, &nr) == 0 && ovl_new(nr, map, &rc.o) == 0, "overlay");
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, race_reader, &rc);
	char path[32];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned changes = 0;
	do {
		for (unsigned i = 0; i < 8; i++) {
			snprintf(path, sizeof(path), "/d%u/f", i);
			if (ovl_add_buffer(rc.o, path, "content", 7, NULL) == 0)
				changes++;
			snprintf(path, sizeof(path), "/d%u", (i + 3) % 8);
			if (ovl_remove(rc.o, path) == 0)
				changes++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	atomic_store(&rc.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK(changes > 0 && atomic_load(&rc.lists) > 0, "race ran: %u changes, %u reads, %u lists", changes,
	      atomic_load(&rc.reads), atomic_load(&rc.lists));
	fs_free(rc.o);
	fs_inomap_unref(map);
}

/* ---- ops that go down with an fh: a recording fs under the overlay ---- */

static struct {
	const char *op;
	uint64_t ino, fh;
	unsigned n;
} rec;

static int rec_note(const char *op, uint64_t ino, uint64_t fh)
{
	rec.op = op;
	rec.ino = ino;
	rec.fh = fh;
	rec.n++;
	return 0;
}

static int rec_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		    const struct iovec *dst, int dst_cnt, size_t *ret_len)
{
	*ret_len = 0;
	return rec_note("read", ino, fh);
}

static int rec_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t size,
		     const struct iovec *src, int src_cnt, uint32_t write_flags, size_t *ret_len)
{
	*ret_len = size;
	return rec_note("write", ino, fh);
}

static int rec_flush(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	return rec_note("flush", ino, fh);
}

static int rec_fsync(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool datasync)
{
	return rec_note("fsync", ino, fh);
}

static int rec_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		     struct flock *lk)
{
	lk->l_type = F_WRLCK;
	return rec_note("getlk", ino, fh);
}

static int rec_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t owner,
		     const struct flock *lk, bool sleep, bool is_flock)
{
	return rec_note("setlk", ino, fh);
}

static int rec_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int mode, off_t off,
			 off_t len)
{
	return rec_note("fallocate", ino, fh);
}

static int rec_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t off, int whence,
		     off_t *ret_off)
{
	*ret_off = 42;
	return rec_note("lseek", ino, fh);
}

enum { FWD_OPS = 8 };

/* Call the i-th fh op through o. */
static int fwd_call(struct fs *o, int i, uint64_t ino, uint64_t fh)
{
	char b[4] = "abc";
	struct iovec iov = { b, 3 };
	size_t len = 0;
	struct flock lk = { .l_type = F_RDLCK };
	off_t at = 0;
	switch (i) {
	case 0:
		return FS_CALL(o, read, &uctx, ino, fh, 0, 3, &iov, 1, &len);
	case 1:
		return FS_CALL(o, write, &uctx, ino, fh, 0, 3, &iov, 1, 0, &len);
	case 2:
		return FS_CALL(o, flush, &uctx, ino, fh, 9);
	case 3:
		return FS_CALL(o, fsync, &uctx, ino, fh, false);
	case 4: {
		int r = FS_CALL(o, getlk, &uctx, ino, fh, 9, &lk);
		return r == 0 ? lk.l_type : r;
	}
	case 5:
		return FS_CALL(o, setlk, &uctx, ino, fh, 9, &lk, false, true);
	case 6:
		return FS_CALL(o, fallocate, &uctx, ino, fh, 0, 0, 10);
	default: {
		int r = FS_CALL(o, lseek, &uctx, ino, fh, 0, SEEK_DATA, &at);
		return r == 0 ? (int)at : r;
	}
	}
}

static const char *const fwd_names[FWD_OPS] = { "read", "write", "flush", "fsync",
						"getlk", "setlk", "fallocate", "lseek" };

/* Every fh op on (ino, fh) through o reaches the fs below with (want_ino, want_fh) and its answer comes back. */
static void expect_forwarded(struct fs *o, uint64_t ino, uint64_t fh, uint64_t want_ino, uint64_t want_fh,
			     const char *what)
{
	for (int i = 0; i < FWD_OPS; i++) {
		rec.op = NULL;
		int r = fwd_call(o, i, ino, fh);
		int want = i == 4 ? F_WRLCK : i == 7 ? 42 : 0;
		CHECK(r == want && rec.op == fwd_names[i] && rec.ino == want_ino && rec.fh == want_fh,
		      "%s: %s gave %d and reached %s (%#llx, fh %#llx), want %#llx, fh %#llx", what, fwd_names[i], r,
		      rec.op ? rec.op : "nothing", (unsigned long long)rec.ino, (unsigned long long)rec.fh,
		      (unsigned long long)want_ino, (unsigned long long)want_fh);
	}
}

static void test_fh_forwarding(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct memfs *m = memfs_new(map, false, 0);
	int64_t a = memfs_mk(m, 1, "a", S_IFREG | 0644, "real-a");
	int64_t etc = memfs_mk(m, 1, "etc", S_IFDIR | 0755, NULL);
	static struct fs_ops rec_ops;
	rec_ops = *m->base.ops;
	rec_ops.read = rec_read;
	rec_ops.write = rec_write;
	rec_ops.flush = rec_flush;
	rec_ops.fsync = rec_fsync;
	rec_ops.getlk = rec_getlk;
	rec_ops.setlk = rec_setlk;
	rec_ops.fallocate = rec_fallocate;
	rec_ops.lseek = rec_lseek;
	m->base.ops = &rec_ops;
	struct fs *o;
	CHECK(ovl_new(&m->base, map, &o) == 0, "ovl_new");
	struct fs_conn conn = { .capable = ~0ull, .max_write = 1 << 20 };
	CHECK(FS_CALL(o, init, &conn) == 0, "init");
	CHECK(ovl_add_buffer(o, "/etc/hostname", "box\n", 4, NULL) == 0, "add etc/hostname");
	CHECK(ovl_add_buffer(o, "/hello", "hi\n", 3, NULL) == 0, "add hello");

	/* a real file: its own fh goes down as it is */
	struct fs_entry e;
	struct fs_open fo;
	CHECK(lookup_path(o, "a", &e) == 0, "lookup a");
	CHECK(FS_CALL(o, open, &uctx, e.ino, O_RDWR, &fo) == 0, "open a");
	expect_forwarded(o, e.ino, fo.fh, e.ino, fo.fh, "real file");
	CHECK(fs_ino_local(e.ino) == (uint64_t)a, "a is the real node");

	/* a merged directory: our fh comes back from opendir, the real directory's own goes down */
	struct fs_entry de;
	struct fs_open dfo;
	CHECK(lookup_path(o, "etc", &de) == 0, "lookup etc");
	CHECK(FS_CALL(o, opendir, &uctx, de.ino, O_RDONLY, &dfo) == 0, "opendir etc");
	expect_forwarded(o, de.ino, dfo.fh, fs_ino_make(m->space, (uint64_t)etc), (uint64_t)etc, "merged directory");
	/* a directory fh we did not give out goes nowhere */
	unsigned before = rec.n;
	for (int i = 0; i < FWD_OPS; i++)
		CHECK(fwd_call(o, i, de.ino, dfo.fh ^ 0x5a5a0000) == -EBADF, "merged dir, forged fh: %s", fwd_names[i]);
	CHECK(rec.n == before, "a forged directory fh reached the fs below");
	FS_CALL_VOID(o, releasedir, &uctx, de.ino, dfo.fh);

	/* a virtual file: answered by the overlay, never forwarded */
	struct fs_entry ve;
	struct fs_open vfo;
	CHECK(lookup_path(o, "hello", &ve) == 0, "lookup hello");
	CHECK(FS_CALL(o, open, &uctx, ve.ino, O_RDONLY, &vfo) == 0, "open hello");
	static const int virt[FWD_OPS] = { 0, -EROFS, 0, 0, F_UNLCK, 0, -EROFS, 0 };
	for (int i = 0; i < FWD_OPS; i++)
		CHECK(fwd_call(o, i, ve.ino, vfo.fh) == virt[i], "virtual file: %s gave %d, want %d", fwd_names[i],
		      fwd_call(o, i, ve.ino, vfo.fh), virt[i]);
	CHECK(rec.n == before, "an op on a virtual file reached the fs below");
	FS_CALL_VOID(o, release, &uctx, ve.ino, vfo.fh, O_RDONLY, 0, false);
	FS_CALL_VOID(o, release, &uctx, e.ino, fo.fh, O_RDWR, 0, false);
	fs_free(o);
	fs_inomap_unref(map);
}

int main(void)
{
	test_race();
	test_basic();
	test_listing();
	test_remove();
	test_fh_forwarding();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
