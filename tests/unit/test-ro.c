/* SPDX-License-Identifier: MIT */
/*
 * The read-only layer: walks every slot of struct fs_ops (FS_OPS_NSLOTS of them) and proves each one is
 * either forwarded to the inner fs, refused with EROFS without reaching it, or filtered as documented. A slot
 * added to fs.h later without a decision fails here twice: no row in ro_slots, and no behaviour check below.
 */
#include "tree/ro.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "check.h"
#include "util/macros.h"

/* -- the inner mock: every op counts its calls and succeeds -- */
static unsigned calls[64];
#define SLOTNO(n) (offsetof(struct fs_ops, n) / sizeof(void (*)(void)))
#define HIT(n) (calls[SLOTNO(n)]++)

static int m_init(struct fs *fs, struct fs_conn *c) { HIT(init); return 0; }
static void m_destroy(struct fs *fs) { HIT(destroy); }
static int m_lookup(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n, struct fs_entry *e) { HIT(lookup); return 0; }
static void m_forget(struct fs *fs, uint64_t ino, uint64_t n) { HIT(forget); }
static int m_getattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool h, struct stat *st, double *t) { HIT(getattr); return 0; }
static int m_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const struct stat *a, uint32_t s, uint64_t fh, struct stat *st, double *t) { HIT(setattr); return 0; }
static int m_readlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *b, size_t s, size_t *l) { HIT(readlink); return 0; }
static int m_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n, mode_t m, dev_t d, struct fs_entry *e) { HIT(mknod); return 0; }
static int m_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n, mode_t m, struct fs_entry *e) { HIT(mkdir); return 0; }
static int m_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n, const char *t, struct fs_entry *e) { HIT(symlink); return 0; }
static int m_link(struct fs *fs, const struct fs_ctx *ctx, uint64_t i, uint64_t p, const char *n, struct fs_entry *e) { HIT(link); return 0; }
static int m_unlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n) { HIT(unlink); return 0; }
static int m_rmdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n) { HIT(rmdir); return 0; }
static int m_rename(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n, uint64_t np, const char *nn, unsigned f) { HIT(rename); return 0; }
static int m_open(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int f, struct fs_open *o) { HIT(open); return 0; }
static int m_create(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, const char *n, mode_t m, int f, struct fs_entry *e, struct fs_open *o) { HIT(create); return 0; }
static int m_tmpfile(struct fs *fs, const struct fs_ctx *ctx, uint64_t p, mode_t m, int f, struct fs_entry *e, struct fs_open *o) { HIT(tmpfile); return 0; }
static int m_read(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t s, const struct iovec *d, int dc, size_t *l) { HIT(read); return 0; }
static int m_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, size_t s, const struct iovec *d, int dc, uint32_t wf, size_t *l) { HIT(write); return 0; }
static int m_flush(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t lo) { HIT(flush); return 0; }
static void m_release(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int f, uint64_t lo, bool fr) { HIT(release); }
static int m_fsync(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool d) { HIT(fsync); return 0; }
static int m_opendir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int f, struct fs_open *o) { HIT(opendir); return 0; }
static int m_readdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t off, struct fs_dirbuf *b) { HIT(readdir); return 0; }
static void m_releasedir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh) { HIT(releasedir); }
static int m_fsyncdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, bool d) { HIT(fsyncdir); return 0; }
static int m_statfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, struct statvfs *s) { HIT(statfs); memset(s, 0, sizeof(*s)); return 0; }
static int m_setxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *n, const void *v, size_t s, int xf, uint32_t sf) { HIT(setxattr); return 0; }
static int m_getxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *n, void *b, size_t s, size_t *rs) { HIT(getxattr); return 0; }
static int m_listxattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, char *b, size_t s, size_t *rs) { HIT(listxattr); return 0; }
static int m_removexattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, const char *n) { HIT(removexattr); return 0; }
static int m_access(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, int m) { HIT(access); return 0; }
static int m_getlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t o, struct flock *l) { HIT(getlk); return 0; }
static int m_setlk(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, uint64_t o, const struct flock *l, bool s, bool f) { HIT(setlk); return 0; }
static int m_fallocate(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, int m, off_t o, off_t l) { HIT(fallocate); return 0; }
static int m_lseek(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino, uint64_t fh, off_t o, int w, off_t *r) { HIT(lseek); return 0; }
static int m_copy_file_range(struct fs *fs, const struct fs_ctx *ctx, uint64_t a, uint64_t b, off_t c, uint64_t d, uint64_t e, off_t f, size_t g, unsigned h, size_t *l) { HIT(copy_file_range); return 0; }
static int m_syncfs(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino) { HIT(syncfs); return 0; }

static const struct fs_ops mock_ops = {
	m_init, m_destroy, m_lookup, m_forget, m_getattr, m_setattr, m_readlink, m_mknod, m_mkdir, m_symlink,
	m_link, m_unlink, m_rmdir, m_rename, m_open, m_create, m_tmpfile, m_read, m_write, m_flush, m_release,
	m_fsync, m_opendir, m_readdir, m_releasedir, m_fsyncdir, m_statfs, m_setxattr, m_getxattr, m_listxattr,
	m_removexattr, m_access, m_getlk, m_setlk, m_fallocate, m_lseek, m_copy_file_range, m_syncfs,
};
static int mock_freed;
static void mock_free(struct fs *fs) { mock_freed++; }
static struct fs mock = { .ops = &mock_ops, .kind = "mock", .root = FS_ROOT_ID, .free = mock_free };

/*
 * One behaviour check per slot, by name: calls the slot through the ro layer with typical (read-only) arguments
 * and returns the result. A slot without an invoker here fails the walk.
 */
static const struct fs_ctx ctx = { 1000, 1000, 1, 022 };
static char buf[64];
static struct iovec iov = { buf, sizeof(buf) };

static int invoke(struct fs *ro, const char *slot)
{
	struct fs_entry e;
	struct fs_open o;
	struct stat st = { 0 };
	struct statvfs sv;
	double t;
	size_t len;
	off_t off;
	struct flock lk = { .l_type = F_RDLCK };
	struct fs_conn conn = { .capable = ~0ull, .want = ~0ull };
#define IS(n) (strcmp(slot, #n) == 0)
	if (IS(init))
		return FS_CALL(ro, init, &conn);
	if (IS(destroy)) {
		ro->ops->destroy(ro);
		return 0;
	}
	if (IS(lookup))
		return FS_CALL(ro, lookup, &ctx, 1, "a", &e);
	if (IS(forget)) {
		FS_CALL_VOID(ro, forget, 5, 1);
		return 0;
	}
	if (IS(getattr))
		return FS_CALL(ro, getattr, &ctx, 1, 0, false, &st, &t);
	if (IS(setattr))
		return FS_CALL(ro, setattr, &ctx, 1, &st, FS_SET_MODE, 0, &st, &t);
	if (IS(readlink))
		return FS_CALL(ro, readlink, &ctx, 1, buf, sizeof(buf), &len);
	if (IS(mknod))
		return FS_CALL(ro, mknod, &ctx, 1, "a", S_IFIFO | 0644, 0, &e);
	if (IS(mkdir))
		return FS_CALL(ro, mkdir, &ctx, 1, "a", 0755, &e);
	if (IS(symlink))
		return FS_CALL(ro, symlink, &ctx, 1, "a", "b", &e);
	if (IS(link))
		return FS_CALL(ro, link, &ctx, 2, 1, "a", &e);
	if (IS(unlink))
		return FS_CALL(ro, unlink, &ctx, 1, "a");
	if (IS(rmdir))
		return FS_CALL(ro, rmdir, &ctx, 1, "a");
	if (IS(rename))
		return FS_CALL(ro, rename, &ctx, 1, "a", 1, "b", 0);
	if (IS(open))
		return FS_CALL(ro, open, &ctx, 2, O_RDONLY, &o);
	if (IS(create))
		return FS_CALL(ro, create, &ctx, 1, "a", 0644, O_RDONLY, &e, &o);
	if (IS(tmpfile))
		return FS_CALL(ro, tmpfile, &ctx, 1, 0644, O_RDWR, &e, &o);
	if (IS(read))
		return FS_CALL(ro, read, &ctx, 2, 0, 0, sizeof(buf), &iov, 1, &len);
	if (IS(write))
		return FS_CALL(ro, write, &ctx, 2, 0, 0, sizeof(buf), &iov, 1, 0, &len);
	if (IS(flush))
		return FS_CALL(ro, flush, &ctx, 2, 0, 0);
	if (IS(release)) {
		FS_CALL_VOID(ro, release, &ctx, 2, 0, O_RDONLY, 0, false);
		return 0;
	}
	if (IS(fsync))
		return FS_CALL(ro, fsync, &ctx, 2, 0, false);
	if (IS(opendir))
		return FS_CALL(ro, opendir, &ctx, 1, O_RDONLY | O_DIRECTORY, &o);
	if (IS(readdir))
		return FS_CALL(ro, readdir, &ctx, 1, 0, 0, NULL);
	if (IS(releasedir)) {
		FS_CALL_VOID(ro, releasedir, &ctx, 1, 0);
		return 0;
	}
	if (IS(fsyncdir))
		return FS_CALL(ro, fsyncdir, &ctx, 1, 0, false);
	if (IS(statfs))
		return FS_CALL(ro, statfs, &ctx, 1, &sv);
	if (IS(setxattr))
		return FS_CALL(ro, setxattr, &ctx, 1, "user.a", "b", 1, 0, 0);
	if (IS(getxattr))
		return FS_CALL(ro, getxattr, &ctx, 1, "user.a", buf, sizeof(buf), &len);
	if (IS(listxattr))
		return FS_CALL(ro, listxattr, &ctx, 1, buf, sizeof(buf), &len);
	if (IS(removexattr))
		return FS_CALL(ro, removexattr, &ctx, 1, "user.a");
	if (IS(access))
		return FS_CALL(ro, access, &ctx, 1, R_OK | X_OK);
	if (IS(getlk))
		return FS_CALL(ro, getlk, &ctx, 2, 0, 7, &lk);
	if (IS(setlk))
		return FS_CALL(ro, setlk, &ctx, 2, 0, 7, &lk, false, false);
	if (IS(fallocate))
		return FS_CALL(ro, fallocate, &ctx, 2, 0, 0, 0, 4096);
	if (IS(lseek))
		return FS_CALL(ro, lseek, &ctx, 2, 0, 0, SEEK_DATA, &off);
	if (IS(copy_file_range))
		return FS_CALL(ro, copy_file_range, &ctx, 2, 0, 0, 3, 0, 0, 10, 0, &len);
	if (IS(syncfs))
		return FS_CALL(ro, syncfs, &ctx, 1);
#undef IS
	return -999; /* no behaviour check for this slot */
}

static unsigned total_calls(void)
{
	unsigned n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(calls); i++)
		n += calls[i];
	return n;
}

static void test_table_walk(struct fs *ro)
{
	CHECK(ro_slots_n == FS_OPS_NSLOTS, "decision table has %zu rows for %zu slots", ro_slots_n,
	      (size_t)FS_OPS_NSLOTS);
	CHECK(FS_OPS_NSLOTS < ARRAY_SIZE(calls), "mock too small");
	/* every slot of the table has exactly one row, in order, and a non-NULL function in ro_ops */
	void (*const *slots)(void) = (void (*const *)(void))&ro_ops;
	for (size_t i = 0; i < FS_OPS_NSLOTS; i++) {
		size_t rows = 0;
		const struct ro_slot *row = NULL;
		for (size_t j = 0; j < ro_slots_n; j++)
			if (ro_slots[j].offset == i * sizeof(void (*)(void))) {
				rows++;
				row = &ro_slots[j];
			}
		CHECK(rows == 1, "slot %zu has %zu decisions", i, rows);
		CHECK(slots[i] != NULL, "slot %zu is NULL in ro_ops (not named explicitly)", i);
		if (!row)
			continue;
		memset(calls, 0, sizeof(calls));
		int r = invoke(ro, row->name);
		CHECK(r != -999, "slot %s has no behaviour check in this test", row->name);
		unsigned inner = calls[i];
		switch (row->decision) {
		case RO_FORWARD:
		case RO_FILTER: /* with read-only arguments a filter forwards */
			CHECK(r == 0, "%s: forwarded op returned %d", row->name, r);
			CHECK(inner == 1 && total_calls() == 1, "%s: inner called %u times (%u calls in all)",
			      row->name, inner, total_calls());
			break;
		case RO_REFUSE:
			CHECK(r == -EROFS, "%s: refused op returned %d, not -EROFS", row->name, r);
			CHECK(total_calls() == 0, "%s: refused op reached the inner fs", row->name);
			break;
		}
	}
}

static void test_filters(struct fs *ro)
{
	struct fs_open o;
	static const int bad[] = { O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDWR | O_APPEND, O_TMPFILE | O_RDWR,
				   O_WRONLY | O_TRUNC | O_NOFOLLOW };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(calls, 0, sizeof(calls));
		CHECK(FS_CALL(ro, open, &ctx, 2, bad[i], &o) == -EROFS, "open flags %#x not refused", bad[i]);
		CHECK(total_calls() == 0, "open flags %#x reached the inner fs", bad[i]);
		CHECK(FS_CALL(ro, opendir, &ctx, 2, bad[i], &o) == -EROFS, "opendir flags %#x not refused", bad[i]);
	}
	memset(calls, 0, sizeof(calls));
	CHECK(FS_CALL(ro, open, &ctx, 2, O_RDONLY | O_NOATIME | O_NONBLOCK | O_APPEND, &o) == 0,
	      "harmless open flags refused");
	CHECK(FS_CALL(ro, access, &ctx, 2, W_OK) == -EROFS, "access W_OK not refused");
	CHECK(FS_CALL(ro, access, &ctx, 2, R_OK | W_OK | X_OK) == -EROFS, "access RWX not refused");
	CHECK(FS_CALL(ro, access, &ctx, 2, F_OK) == 0, "access F_OK refused");

	struct statvfs sv;
	CHECK(FS_CALL(ro, statfs, &ctx, 1, &sv) == 0 && (sv.f_flag & ST_RDONLY), "statfs lacks ST_RDONLY");

	struct fs_conn conn = { .capable = ~0ull, .want = FS_CAP_WRITEBACK_CACHE | FS_CAP_READDIRPLUS };
	CHECK(FS_CALL(ro, init, &conn) == 0, "init failed");
	CHECK(!(conn.want & FS_CAP_WRITEBACK_CACHE), "init kept the writeback cache");
	CHECK(conn.want & FS_CAP_READDIRPLUS, "init dropped an unrelated capability");
}

int main(void)
{
	struct fs *ro;
	if (ro_new(&mock, &ro) < 0) {
		fprintf(stderr, "ro_new failed\n");
		return 1;
	}
	CHECK(ro->root == mock.root, "root id not passed through");
	test_table_walk(ro);
	test_filters(ro);
	fs_free(ro);
	CHECK(mock_freed == 1, "inner not freed with the layer");
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok: %zu slots walked\n", (size_t)FS_OPS_NSLOTS);
	return 0;
}
