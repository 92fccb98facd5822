/* SPDX-License-Identifier: MIT */
/*
 * Inode-number reuse with --inode-file-handles: a node whose O_PATH fd was evicted does not pin its host inode.
 * The file is deleted on the host while the client still holds the node, and the host gives its number to a
 * new file made through an entry op (create, mknod, mkdir, symlink, link) or found by lookup. The new name must
 * get a new node that works (setattr, open); the old node must stay valid for its forgets, answer ESTALE, and
 * never be found by key again. Before the fix, create matched the new file to the dead node by (dev, ino, mnt)
 * and its ops failed with ESTALE (tar: "Cannot utime: Stale file handle").
 *
 * Needs a file system that hands a freed inode number to the next new file at once (ext4 with a journal does;
 * tmpfs does not): the test tries a few times and exits 77 when the host never reuses the number.
 */
#include "pt-test.h"

#define NFILLER 40 /* lookups that push the node's fd out of a ring of max_fds */
#define MAX_FDS 16
#define TRIES 64

static struct fs *fs;
static struct fs_inomap *map;
static int sfd = -1; /* the share, on the host */
static bool reused_once;

static uint64_t filler[NFILLER];

/* Push every idle fd out: touch more nodes than max_fds (each reopen by handle evicts one the CLOCK hand finds
 * unused since its last turn). */
static void evict(void)
{
	char name[32];
	struct fs_entry e;
	struct stat st;
	double t;
	for (int i = 0; i < NFILLER; i++) {
		if (!filler[i]) { /* kept looked up (destroy drops the counts) */
			snprintf(name, sizeof(name), "filler%d", i);
			OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &e));
			filler[i] = e.ino;
		}
		OK(FS_CALL(fs, getattr, &root_ctx, filler[i], 0, false, &st, &t));
	}
}

static bool fd_evicted(uint64_t id)
{
	struct pt *pt = pt_of(fs);
	struct pt_inode *n = pt_inode_get(pt, id);
	CHECK(n, "node %llx gone", (unsigned long long)id);
	bool open = pt_inode_fd_open(pt, n);
	pt_inode_put(pt, n);
	return !open;
}

/* A node for "victim" (looked up, fd evicted, file deleted on the host); its host inode number. */
static ino_t dead_node(uint64_t *ret_id)
{
	int fd = openat(sfd, "victim", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0, "create victim: %m");
	struct stat st;
	CHECK(fstat(fd, &st) == 0, "fstat");
	close(fd);
	struct fs_entry e;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "victim", &e));
	evict();
	CHECK(fd_evicted(e.ino), "the victim's fd stayed open (max_fds %d)", MAX_FDS);
	CHECK(unlinkat(sfd, "victim", 0) == 0, "unlink victim: %m");
	*ret_id = e.ino;
	return st.st_ino;
}

static struct pt_inode *node_of(uint64_t id)
{
	struct pt_inode *n = pt_inode_get(pt_of(fs), id);
	CHECK(n, "node %llx gone", (unsigned long long)id);
	pt_inode_put(pt_of(fs), n); /* the test holds a lookup count: the node stays */
	return n;
}

/* A lookup takes no file handle (a syscall most nodes never need); the eviction of its fd takes it, while the
 * fd still pins the inode, and the node is reopened by it. */
static void test_lazy_handle(void)
{
	host_write(share, "lazy", "lazy data", 0644);
	struct fs_entry e;
	struct stat st;
	double t;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "lazy", &e));
	struct pt_inode *n = node_of(e.ino);
	CHECK(!pt_inode_handle(n), "a lookup took a file handle");
	evict();
	CHECK(fd_evicted(e.ino), "the node's fd stayed open (max_fds %d)", MAX_FDS);
	CHECK(pt_inode_handle(n), "evicted without a file handle");
	OK(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t));
	CHECK(st.st_size == 9 && st.st_ino == e.attr.st_ino, "reopened by handle: size %lld", (long long)st.st_size);

	/* deleted while the node's fd pinned it: the handle taken at eviction is still the inode's, which is gone
	 * once that fd is closed */
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "lazy", &e));
	FS_CALL_VOID(fs, forget, e.ino, 1);
	n = node_of(e.ino);
	evict();
	OK(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t)); /* reopened: its fd open again */
	CHECK(unlinkat(sfd, "lazy", 0) == 0, "unlink lazy: %m");
	evict();
	CHECK(fd_evicted(e.ino), "the deleted node's fd stayed open");
	ERR(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t), ESTALE);
	FS_CALL_VOID(fs, forget, e.ino, 1);
}

enum how { BY_CREATE, BY_MKNOD, BY_MKDIR, BY_SYMLINK, BY_LINK, BY_LOOKUP };
static const char *const how_name[] = { "create", "mknod", "mkdir", "symlink", "link", "lookup" };

/* Make "fresh" through the fs (or on the host, for BY_LOOKUP); its node in e, the host inode number back. */
static ino_t make_fresh(enum how how, uint64_t link_src, struct fs_entry *e, bool *is_dir)
{
	struct fs_open fo;
	*is_dir = false;
	switch (how) {
	case BY_CREATE:
		OK(FS_CALL(fs, create, &root_ctx, FS_ROOT_ID, "fresh", S_IFREG | 0600, O_RDWR, e, &fo));
		FS_CALL_VOID(fs, release, &root_ctx, e->ino, fo.fh, 0, 0, false);
		break;
	case BY_MKNOD:
		OK(FS_CALL(fs, mknod, &root_ctx, FS_ROOT_ID, "fresh", S_IFREG | 0600, 0, e));
		break;
	case BY_MKDIR:
		OK(FS_CALL(fs, mkdir, &root_ctx, FS_ROOT_ID, "fresh", 0700, e));
		*is_dir = true;
		break;
	case BY_SYMLINK:
		OK(FS_CALL(fs, symlink, &root_ctx, FS_ROOT_ID, "fresh", "target", e));
		break;
	case BY_LINK:
		OK(FS_CALL(fs, link, &root_ctx, link_src, FS_ROOT_ID, "fresh", e));
		break;
	case BY_LOOKUP: {
		int fd = openat(sfd, "fresh", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		CHECK(fd >= 0, "create fresh: %m");
		close(fd);
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "fresh", e));
		break;
	}
	}
	struct stat st;
	CHECK(fstatat(sfd, "fresh", &st, AT_SYMLINK_NOFOLLOW) == 0, "stat fresh: %m");
	return st.st_ino;
}

static void remove_fresh(uint64_t id, bool is_dir)
{
	OK(is_dir ? FS_CALL(fs, rmdir, &root_ctx, FS_ROOT_ID, "fresh") :
		    FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "fresh"));
	FS_CALL_VOID(fs, forget, id, 1);
}

static void check_reuse(enum how how)
{
	struct fs_entry src = { 0 };
	if (how == BY_LINK) { /* a file made on the host after the victim died: linking it makes no new inode */
		OK(FS_CALL(fs, mknod, &root_ctx, FS_ROOT_ID, "linksrc", S_IFREG | 0644, 0, &src));
	}
	for (int t = 0; t < TRIES; t++) {
		uint64_t dead;
		ino_t old_ino = dead_node(&dead);
		if (how == BY_LINK) {
			/* link names an existing inode: make the reused one first, on the host, by renaming */
			int fd = openat(sfd, "hostnew", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			CHECK(fd >= 0, "create hostnew: %m");
			close(fd);
			struct stat st;
			CHECK(fstatat(sfd, "hostnew", &st, 0) == 0, "stat hostnew");
			if (st.st_ino != old_ino) {
				CHECK(unlinkat(sfd, "hostnew", 0) == 0, "unlink hostnew");
				FS_CALL_VOID(fs, forget, dead, 1);
				continue;
			}
			FS_CALL_VOID(fs, forget, src.ino, 1);
			OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "hostnew", &src));
			CHECK(src.ino != dead, "link: lookup of a reused inode number got the dead node");
		}
		struct fs_entry e;
		bool is_dir;
		ino_t ino = make_fresh(how, src.ino, &e, &is_dir);
		if (ino != old_ino) {
			remove_fresh(e.ino, is_dir);
			if (how == BY_LINK)
				CHECK(unlinkat(sfd, "hostnew", 0) == 0, "unlink hostnew");
			FS_CALL_VOID(fs, forget, dead, 1);
			continue;
		}
		reused_once = true;
		CHECK(e.ino != dead, "%s: the new file got the dead node of its reused inode number", how_name[how]);
		/* the new node works: what tar does next (utime) */
		struct stat attr = { 0 }, st;
		double timeout;
		attr.st_mtim.tv_sec = 1000000000;
		if (how != BY_SYMLINK) {
			OK(FS_CALL(fs, setattr, &root_ctx, e.ino, &attr, FS_SET_MTIME, 0, &st, &timeout));
			CHECK(st.st_mtim.tv_sec == 1000000000, "%s: setattr mtime", how_name[how]);
		}
		if (how != BY_SYMLINK && !is_dir) {
			struct fs_open fo;
			OK(FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo));
			FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
		}
		/* and keeps working once its own fd is evicted (reopened by its own handle) */
		evict();
		OK(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &timeout));
		/* the dead node: valid for its forget, ESTALE for ops, never found again */
		ERR(FS_CALL(fs, getattr, &root_ctx, dead, 0, false, &st, &timeout), ESTALE);
		struct fs_entry again;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "fresh", &again));
		CHECK(again.ino == e.ino, "%s: a second lookup found another node", how_name[how]);
		FS_CALL_VOID(fs, forget, again.ino, 1);
		FS_CALL_VOID(fs, forget, dead, 1);
		ERR(FS_CALL(fs, getattr, &root_ctx, dead, 0, false, &st, &timeout), ESTALE);
		remove_fresh(e.ino, is_dir);
		if (how == BY_LINK) {
			OK(FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "hostnew"));
			FS_CALL_VOID(fs, forget, src.ino, 1);
			OK(FS_CALL(fs, unlink, &root_ctx, FS_ROOT_ID, "linksrc"));
		}
		return;
	}
	fprintf(stderr, "# %s: the host never reused the inode number in %d tries\n", how_name[how], TRIES);
	if (how == BY_LINK) {
		FS_CALL_VOID(fs, forget, src.ino, 1);
		unlinkat(sfd, "linksrc", 0);
	}
}

#define REUSE_TEST(h)                                                                                            \
	static void test_##h(void)                                                                               \
	{                                                                                                        \
		check_reuse(h);                                                                                  \
	}
REUSE_TEST(BY_CREATE)
REUSE_TEST(BY_MKNOD)
REUSE_TEST(BY_MKDIR)
REUSE_TEST(BY_SYMLINK)
REUSE_TEST(BY_LINK)
REUSE_TEST(BY_LOOKUP)

int main(void)
{
	int r = pt_test_setup("test-passthrough-reuse");
	if (r)
		return r;
	sfd = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(sfd >= 0, "open share");
	for (int i = 0; i < NFILLER; i++) {
		char name[32];
		snprintf(name, sizeof(name), "filler%d", i);
		host_write(share, name, "x", 0644);
	}
	struct pt_opts o;
	pt_opts_default(&o);
	o.handles = PT_HANDLES_PREFER;
	o.max_fds = MAX_FDS;
	fs = new_pt(share, &o, &map);
	if (!pt_of(fs)->use_handles) {
		fprintf(stderr, "test-passthrough-reuse: %s exports no file handles: nothing to test\n", share);
		free_pt(fs, map);
		close(sfd);
		return 77;
	}
	static const struct pt_test tests[] = {
		{ "create reuses a dead node's number", test_BY_CREATE },
		{ "mknod reuses a dead node's number", test_BY_MKNOD },
		{ "mkdir reuses a dead node's number", test_BY_MKDIR },
		{ "symlink reuses a dead node's number", test_BY_SYMLINK },
		{ "link of a reused number", test_BY_LINK },
		{ "lookup of a reused number", test_BY_LOOKUP },
		{ "file handles taken at eviction, not at lookup", test_lazy_handle },
	};
	r = pt_test_run(tests, ARRAY_SIZE(tests));
	free_pt(fs, map);
	close(sfd);
	if (r == 0 && !reused_once) {
		fprintf(stderr, "test-passthrough-reuse: the file system of %s never reused a freed inode number: "
				"skipped\n", share);
		return 77;
	}
	return r;
}
