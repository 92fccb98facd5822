/* SPDX-License-Identifier: MIT */
/*
 * The share tree at the vtable: a single-file entry exposes no sibling (lookup, readdir, "..", link, rename),
 * rename and link across entries answer EXDEV, synthetic directories are read-only, ro entries refuse writes,
 * node ids and st_ino never collide over many entries, submount marking, removal while ids are in use.
 */
#include "tree/tree.h"

#include "fs/passthrough.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "memfs.h"
#include "tree/nullroot.h"
#include "tree-test.h"

/* tree_add_host's factory: a memfs per host fd, a file root for regular files (the fd's type decides) */
static int open_entry(void *data, int fd, struct fs_inomap *map, struct fs **ret)
{
	struct stat st;
	fstat(fd, &st);
	close(fd);
	static uint64_t n;
	*ret = &memfs_new(map, S_ISREG(st.st_mode), 1000 * ++n)->base;
	return 0;
}

static struct tree *setup(struct fs_inomap *map, bool submounts, struct memfs **a, struct memfs **b,
			  struct memfs **file, struct memfs **ro)
{
	struct tree *t;
	struct tree_opts opts = { .open_entry = open_entry };
	CHECK(tree_new(map, NULL, &opts, &t) == 0, "tree_new");
	/* every memfs numbers its inodes from 2: the same st_ino in every entry, as on separate host fs */
	*a = memfs_new(map, false, 0);
	*b = memfs_new(map, false, 0);
	*file = memfs_new(map, true, 0);
	*ro = memfs_new(map, false, 0);
	memfs_mk(*a, 1, "fa", S_IFREG | 0644, "in a");
	memfs_mk(*b, 1, "fb", S_IFREG | 0644, "in b");
	memfs_mk(*ro, 1, "fro", S_IFREG | 0644, "in ro");
	CHECK(tree_add_fs(t, &(*a)->base, "/data", false) == 0, "add a");
	CHECK(tree_add_fs(t, &(*b)->base, "/other", false) == 0, "add b");
	CHECK(tree_add_fs(t, &(*file)->base, "/etc/conf", true) == 0, "add file");
	CHECK(tree_add_fs(t, &(*ro)->base, "/srv/x", true) == 0, "add ro");
	struct fs_conn conn = { .capable = ~0ull, .want = FS_CAP_READDIRPLUS | (submounts ? FS_CAP_SUBMOUNTS : 0),
				.max_write = 1 << 20 };
	CHECK(FS_CALL(tree_fs(t), init, &conn) == 0, "init");
	return t;
}

static void test_isolation(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct memfs *a, *b, *file, *ro;
	struct tree *t = setup(map, false, &a, &b, &file, &ro);
	struct fs *fs = tree_fs(t);
	struct fs_entry e, conf, data, other, ne;
	struct fs_open fo;
	char buf[64];

	struct listing l;
	CHECK(list_dir(fs, FS_ROOT_ID, false, 4096, &l) == 0, "list root");
	CHECK(l.n == 6 && listing_count(&l, "data") && listing_count(&l, "other") && listing_count(&l, "etc") &&
		      listing_count(&l, "srv"),
	      "root lists %zu", l.n);
	CHECK(lookup_path(fs, "etc", &e) == 0, "etc");
	CHECK(list_dir(fs, e.ino, true, 4096, &l) == 0 && l.n == 3 && listing_count(&l, "conf") == 1,
	      "etc lists only conf (%zu)", l.n);
	for (size_t i = 0; i < l.n; i++)
		if (l.ino[i])
			fs->ops->forget(fs, l.ino[i], 1);

	/* the file entry: its bytes, and nothing beside or below it */
	CHECK(lookup_path(fs, "etc/conf", &conf) == 0 && S_ISREG(conf.attr.st_mode), "conf");
	CHECK(read_all(fs, conf.ino, buf, sizeof(buf)) > 0 && strcmp(buf, "file-entry-bytes\n") == 0, "conf read");
	unsigned before = file->calls;
	CHECK(FS_CALL(fs, lookup, &uctx, conf.ino, "..", &e) == -ENOTDIR, "'..' of a file entry");
	CHECK(FS_CALL(fs, lookup, &uctx, conf.ino, "sibling", &e) == -ENOTDIR, "lookup below a file entry");
	CHECK(FS_CALL(fs, opendir, &uctx, conf.ino, O_RDONLY, &fo) < 0, "opendir of a file entry");
	CHECK(file->calls == before, "a name lookup reached the file entry's fs");
	CHECK(lookup_path(fs, "etc/..", &e) == 0 && e.ino == FS_ROOT_ID, "'..' of a synthetic dir is the root");
	CHECK(lookup_path(fs, "data/..", &e) == 0 && e.ino == FS_ROOT_ID, "'..' of an entry root is the tree's");

	/* EXDEV across entries; link and rename cannot carry the file entry anywhere */
	CHECK(lookup_path(fs, "data", &data) == 0 && lookup_path(fs, "other", &other) == 0, "entry roots");
	CHECK(FS_CALL(fs, rename, &uctx, data.ino, "fa", other.ino, "fa", 0) == -EXDEV, "rename across entries");
	CHECK(lookup_path(fs, "data/fa", &e) == 0, "fa");
	CHECK(FS_CALL(fs, link, &uctx, e.ino, other.ino, "fa-link", &ne) == -EXDEV, "link across entries");
	CHECK(FS_CALL(fs, link, &uctx, conf.ino, data.ino, "conf-link", &ne) == -EXDEV, "link of the file entry");
	CHECK(FS_CALL(fs, link, &uctx, e.ino, data.ino, "fa2", &ne) == 0, "link inside one entry");
	CHECK(FS_CALL(fs, rename, &uctx, FS_ROOT_ID, "etc", data.ino, "etc", 0) == -EROFS, "rename synthetic dir");
	CHECK(lookup_path(fs, "etc", &e) == 0, "etc");
	CHECK(FS_CALL(fs, rename, &uctx, e.ino, "conf", data.ino, "conf", 0) == -EBUSY, "rename of a file entry");
	CHECK(FS_CALL(fs, unlink, &uctx, e.ino, "conf") == -EBUSY, "unlink of a file entry");
	CHECK(FS_CALL(fs, rmdir, &uctx, FS_ROOT_ID, "data") == -EBUSY, "rmdir of an entry root");
	CHECK(FS_CALL(fs, rename, &uctx, data.ino, "fa2", FS_ROOT_ID, "fa2", 0) == -EXDEV, "rename into the root");

	/* synthetic directories are read-only; ro entries too; rw entries write */
	CHECK(FS_CALL(fs, mkdir, &uctx, FS_ROOT_ID, "new", 0755, &ne) == -EROFS, "mkdir in root");
	CHECK(FS_CALL(fs, mkdir, &uctx, e.ino, "new", 0755, &ne) == -EROFS, "mkdir in etc");
	CHECK(FS_CALL(fs, create, &uctx, FS_ROOT_ID, "new", 0644, O_RDWR, &ne, &fo) == -EROFS, "create in root");
	CHECK(FS_CALL(fs, open, &uctx, conf.ino, O_RDWR, &fo) == -EROFS, "ro file entry opened rw");
	CHECK(lookup_path(fs, "srv/x", &e) == 0, "srv/x");
	CHECK(FS_CALL(fs, create, &uctx, e.ino, "new", 0644, O_RDWR, &ne, &fo) == -EROFS, "create in ro entry");
	CHECK(FS_CALL(fs, mkdir, &uctx, data.ino, "newdir", 0755, &ne) == 0, "mkdir in rw entry");

	/* st_ino: every memfs numbers fa/fb/fro alike; the tree keeps them apart (no submounts here) */
	struct fs_entry fa, fb, fro;
	CHECK(lookup_path(fs, "data/fa", &fa) == 0 && lookup_path(fs, "other/fb", &fb) == 0 &&
		      lookup_path(fs, "srv/x/fro", &fro) == 0,
	      "files");
	CHECK(fa.attr.st_ino != fb.attr.st_ino && fb.attr.st_ino != fro.attr.st_ino &&
		      fa.attr.st_ino != fro.attr.st_ino,
	      "st_ino collide: %llx %llx %llx", (unsigned long long)fa.attr.st_ino,
	      (unsigned long long)fb.attr.st_ino, (unsigned long long)fro.attr.st_ino);
	CHECK(data.attr.st_ino != other.attr.st_ino, "entry roots share st_ino");
	CHECK(list_dir(fs, data.ino, false, 4096, &l) == 0, "list data");
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.names[i], "fa") == 0)
			CHECK(l.st_ino[i] == fa.attr.st_ino, "readdir st_ino %llx != stat %llx",
			      (unsigned long long)l.st_ino[i], (unsigned long long)fa.attr.st_ino);

	/* removal: new lookups fail, ids in use keep working */
	CHECK(tree_remove(t, "/data") == 0, "remove data");
	CHECK(lookup_path(fs, "data", &e) == -ENOENT, "removed entry found");
	CHECK(read_all(fs, fa.ino, buf, sizeof(buf)) > 0 && strcmp(buf, "in a") == 0, "open ids broke on removal");
	CHECK(list_dir(fs, FS_ROOT_ID, false, 4096, &l) == 0 && listing_count(&l, "data") == 0, "removed listed");

	fs_free(fs);
	tree_free(t);
	fs_inomap_unref(map);
}

static void test_submounts_and_many(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct memfs *a, *b, *file, *ro;
	struct tree *t = setup(map, true, &a, &b, &file, &ro);
	struct fs *fs = tree_fs(t);
	struct fs_entry data, fa;
	CHECK(lookup_path(fs, "data", &data) == 0 && (data.attr_flags & FS_ATTR_SUBMOUNT), "no submount flag");
	CHECK(lookup_path(fs, "data/fa", &fa) == 0 && fa.attr.st_ino == 2, "submount renumbered st_ino %llx",
	      (unsigned long long)fa.attr.st_ino);
	struct listing l;
	CHECK(list_dir(fs, FS_ROOT_ID, true, 4096, &l) == 0, "plus list");
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.names[i], "data") == 0)
			CHECK(l.flags[i] & FUSE_ATTR_SUBMOUNT, "readdirplus lacks the submount flag");
		if (l.ino[i])
			fs->ops->forget(fs, l.ino[i], 1);
	}

	/* many entries: node ids and st_ino never collide */
	enum { N = 300 };
	static uint64_t ids[N * 2], inos[N * 2];
	size_t k = 0;
	char path[64];
	for (int i = 0; i < N; i++) {
		struct memfs *m = memfs_new(map, false, 0);
		memfs_mk(m, 1, "f", S_IFREG | 0644, "x");
		snprintf(path, sizeof(path), "/many/%d/e", i);
		CHECK(tree_add_fs(t, &m->base, path, i % 2) == 0, "add %s", path);
	}
	for (int i = 0; i < N; i++) {
		struct fs_entry e, f;
		snprintf(path, sizeof(path), "many/%d/e", i);
		CHECK(lookup_path(fs, path, &e) == 0, "lookup %s", path);
		snprintf(path, sizeof(path), "many/%d/e/f", i);
		CHECK(lookup_path(fs, path, &f) == 0, "lookup %s", path);
		ids[k] = e.ino;
		inos[k++] = e.attr.st_ino;
		ids[k] = f.ino;
		inos[k++] = f.attr.st_ino;
	}
	size_t dup_ids = 0;
	for (size_t i = 0; i < k; i++)
		for (size_t j = i + 1; j < k; j++)
			dup_ids += ids[i] == ids[j];
	CHECK(dup_ids == 0, "%zu node ids collide", dup_ids);
	/* with submounts, directory entries keep their own numbers (own st_dev); without, all differ */
	fs_free(fs);
	tree_free(t);
	fs_inomap_unref(map);

	map = fs_inomap_new();
	t = setup(map, false, &a, &b, &file, &ro);
	fs = tree_fs(t);
	k = 0;
	for (int i = 0; i < N; i++) {
		struct memfs *m = memfs_new(map, i % 3 == 0, 0);
		if (i % 3)
			memfs_mk(m, 1, "f", S_IFREG | 0644, "x");
		snprintf(path, sizeof(path), "/many/%d", i);
		CHECK(tree_add_fs(t, &m->base, path, false) == 0, "add %s", path);
		struct fs_entry e;
		CHECK(lookup_path(fs, path, &e) == 0, "lookup");
		inos[k++] = e.attr.st_ino;
		if (i % 3) {
			snprintf(path, sizeof(path), "/many/%d/f", i);
			CHECK(lookup_path(fs, path, &e) == 0, "lookup");
			inos[k++] = e.attr.st_ino;
		}
	}
	size_t dup_inos = 0;
	for (size_t i = 0; i < k; i++)
		for (size_t j = i + 1; j < k; j++)
			dup_inos += inos[i] == inos[j];
	CHECK(dup_inos == 0, "%zu st_ino collide over %zu nodes without submounts", dup_inos, k);
	fs_free(fs);
	tree_free(t);
	fs_inomap_unref(map);
}

static void test_host(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct tree *t;
	struct tree_opts opts = { .open_entry = open_entry };
	CHECK(tree_new(map, NULL, &opts, &t) == 0, "tree_new");
	int dfd = open("/tmp", O_PATH | O_CLOEXEC);
	CHECK(tree_add_host(t, dfd, TREE_FILE, "/x", false) == -EISDIR, "dir as file entry");
	dfd = open("/dev/null", O_PATH | O_CLOEXEC);
	CHECK(tree_add_host(t, dfd, TREE_FILE, "/x", false) == -EINVAL, "device as file entry");
	dfd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	CHECK(tree_add_host(t, dfd, TREE_DIR, "/x", false) == -ENOTDIR, "file as dir entry");
	dfd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	CHECK(tree_add_host(t, dfd, TREE_FILE, "/x", false) == 0, "file entry");
	dfd = open("/tmp", O_PATH | O_CLOEXEC);
	CHECK(tree_add_host(t, dfd, TREE_DIR, "/x", false) == -EEXIST, "duplicate path");
	dfd = open("/tmp", O_PATH | O_CLOEXEC);
	CHECK(tree_add_host(t, dfd, TREE_DIR, "/x/y", false) == -ENOTDIR, "entry below a file entry");
	CHECK(tree_add_status(t, "/.boxshare/status") == 0, "status");
	struct fs_entry e;
	char buf[512];
	CHECK(lookup_path(tree_fs(t), ".boxshare/status", &e) == 0 && read_all(tree_fs(t), e.ino, buf, sizeof(buf)) > 0 &&
		      strstr(buf, "entries: 1\n"),
	      "status: %s", buf);
	/* nesting: an entry inside an entry, merged with the outer entry's real names */
	struct memfs *outer = memfs_new(map, false, 0), *inner = memfs_new(map, false, 0);
	memfs_mk(outer, 1, "real", S_IFREG | 0644, "outer");
	memfs_mk(outer, 1, "x", S_IFREG | 0644, "hidden");
	memfs_mk(inner, 1, "in", S_IFREG | 0644, "inner");
	CHECK(tree_add_fs(t, &outer->base, "/n", false) == 0, "outer");
	CHECK(tree_add_fs(t, &inner->base, "/n/x", false) == 0, "inner inside outer");
	CHECK(lookup_path(tree_fs(t), "n/real", &e) == 0 && read_all(tree_fs(t), e.ino, buf, sizeof(buf)) > 0 &&
		      strcmp(buf, "outer") == 0,
	      "outer's real name");
	CHECK(lookup_path(tree_fs(t), "n/x/in", &e) == 0 && read_all(tree_fs(t), e.ino, buf, sizeof(buf)) > 0 &&
		      strcmp(buf, "inner") == 0,
	      "inner entry inside outer");
	struct listing l;
	CHECK(list_dir(tree_fs(t), FS_ROOT_ID, false, 4096, &l) == 0, "list");
	CHECK(lookup_path(tree_fs(t), "n", &e) == 0 && list_dir(tree_fs(t), e.ino, false, 4096, &l) == 0 &&
		      listing_count(&l, "x") == 1 && listing_count(&l, "real") == 1,
	      "outer lists x once");
	CHECK(tree_add_fs(t, &memfs_new(map, false, 0)->base, "/.boxshare", false) == -EEXIST,
	      "entry over a virtual dir");
	fs_free(tree_fs(t));
	tree_free(t);
	fs_inomap_unref(map);
}

/* The same isolation over the real passthrough backend, on a scratch directory. */
static int proc_fd = -1;
static int open_pt(void *data, int fd, struct fs_inomap *map, struct fs **ret)
{
	struct pt_opts o;
	pt_opts_default(&o);
	o.max_fds = 64;
	return pt_new(fd, proc_fd, &o, map, ret);
}

static void test_passthrough(void)
{
	char dir[] = "/tmp/test-tree-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	char p[256];
	int dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	mkdirat(dfd, "other", 0755);
	mkdirat(dfd, "rw", 0755);
	int fd = openat(dfd, "other/conf", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "conf\n", 5) == 5, "conf");
	close(fd);
	fd = openat(dfd, "other/sibling", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	close(fd);
	fd = openat(dfd, "rw/f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	close(fd);

	struct fs_inomap *map = fs_inomap_new();
	struct tree *t;
	struct tree_opts opts = { .open_entry = open_pt };
	CHECK(tree_new(map, NULL, &opts, &t) == 0, "tree_new");
	snprintf(p, sizeof(p), "%s/other/conf", dir);
	CHECK(tree_add_host(t, open(p, O_PATH | O_CLOEXEC), TREE_FILE, "/etc/conf", true) == 0, "file entry");
	snprintf(p, sizeof(p), "%s/rw", dir);
	CHECK(tree_add_host(t, open(p, O_PATH | O_DIRECTORY | O_CLOEXEC), TREE_DIR, "/rw", false) == 0, "rw entry");
	struct fs *fs = tree_fs(t);
	struct fs_conn conn = { .capable = ~0ull, .want = FS_CAP_READDIRPLUS, .max_write = 1 << 20 };
	CHECK(FS_CALL(fs, init, &conn) == 0, "init");
	/* renaming the host parent after the entry was added cannot redirect it */
	char p2[256];
	snprintf(p, sizeof(p), "%s/other", dir);
	snprintf(p2, sizeof(p2), "%s/moved", dir);
	CHECK(rename(p, p2) == 0, "rename host parent");
	mkdirat(dfd, "other", 0755);
	fd = openat(dfd, "other/conf", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "EVIL\n", 5) == 5, "decoy");
	close(fd);

	struct fs_entry conf, rw, f, e;
	char buf[64];
	CHECK(lookup_path(fs, "etc/conf", &conf) == 0 && read_all(fs, conf.ino, buf, sizeof(buf)) == 5 &&
		      strcmp(buf, "conf\n") == 0,
	      "file entry reads the held file: '%s'", buf);
	CHECK(FS_CALL(fs, lookup, &uctx, conf.ino, "..", &e) == -ENOTDIR, "'..' of the file entry");
	CHECK(FS_CALL(fs, lookup, &uctx, conf.ino, "sibling", &e) == -ENOTDIR, "sibling of the file entry");
	struct listing l;
	CHECK(lookup_path(fs, "etc", &e) == 0 && list_dir(fs, e.ino, true, 4096, &l) == 0 && l.n == 3 &&
		      listing_count(&l, "conf") == 1,
	      "etc lists %zu", l.n);
	for (size_t i = 0; i < l.n; i++)
		if (l.ino[i])
			fs->ops->forget(fs, l.ino[i], 1);
	CHECK(lookup_path(fs, "rw", &rw) == 0 && lookup_path(fs, "rw/f", &f) == 0, "rw entry");
	/* an fh of a merged directory (an entry's root) is the overlay's: flock(2) through it reaches the real
	 * directory with the real fs's own fh, never with ours */
	struct fs_open dop;
	CHECK(FS_CALL(fs, opendir, &uctx, rw.ino, O_RDONLY, &dop) == 0, "opendir rw");
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	CHECK(FS_CALL(fs, setlk, &uctx, rw.ino, dop.fh, 1, &lk, false, true) == 0, "flock on an entry's root");
	lk.l_type = F_UNLCK;
	CHECK(FS_CALL(fs, setlk, &uctx, rw.ino, dop.fh, 1, &lk, false, true) == 0, "unlock");
	CHECK(FS_CALL(fs, setlk, &uctx, rw.ino, dop.fh + 12345, 1, &lk, false, true) == -EBADF, "forged dir fh");
	fs->ops->releasedir(fs, &uctx, rw.ino, dop.fh);
	CHECK(FS_CALL(fs, link, &uctx, conf.ino, rw.ino, "hl", &e) == -EXDEV, "hard link of the file entry");
	CHECK(FS_CALL(fs, lookup, &uctx, rw.ino, "..", &e) == 0 && e.ino == FS_ROOT_ID, "'..' of the rw entry");
	CHECK(FS_CALL(fs, symlink, &uctx, rw.ino, "pl", "../other/sibling", &e) == 0, "plant a symlink");
	char target[64];
	size_t tl = 0;
	CHECK(FS_CALL(fs, readlink, &uctx, e.ino, target, sizeof(target), &tl) == 0 && tl == 16, "readlink");
	CHECK(lookup_path(fs, "other", &e) == -ENOENT, "the symlink's target does not exist in the share");
	CHECK(f.attr.st_ino >> 48 != 0 && conf.attr.st_ino >> 48 != 0 && f.attr.st_ino >> 48 != conf.attr.st_ino >> 48,
	      "entries share an st_ino range: %llx %llx", (unsigned long long)f.attr.st_ino,
	      (unsigned long long)conf.attr.st_ino);
	if (fs->ops->destroy)
		fs->ops->destroy(fs);
	fs_free(fs);
	tree_free(t);
	fs_inomap_unref(map);
	close(proc_fd);
	close(dfd);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

/* memfs entries that count their frees */
static int frees;
static void counted_free(struct fs *fs)
{
	frees++;
	memfs_free(fs);
}
static struct memfs *counted_memfs(struct fs_inomap *map)
{
	struct memfs *m = memfs_new(map, false, 0);
	m->base.free = counted_free;
	return m;
}

static uint64_t alive(struct fs *fs)
{
	struct ovl_stats st;
	ovl_get_stats(fs, &st);
	return st.entries_alive;
}

static void forget_listing(struct fs *fs, const struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ino[i])
			fs->ops->forget(fs, l->ino[i], 1);
}

/* A removed entry is freed once the client holds nothing of it, and not before; its tag is reused. */
static void test_entry_lifetime(void)
{
	struct fs_inomap *map = fs_inomap_new();
	struct tree *t;
	struct tree_opts opts = { .open_entry = open_entry };
	CHECK(tree_new(map, NULL, &opts, &t) == 0, "tree_new");
	struct fs *fs = tree_fs(t);
	struct fs_conn conn = { .capable = ~0ull, .want = FS_CAP_READDIRPLUS, .max_write = 1 << 20 };
	CHECK(FS_CALL(fs, init, &conn) == 0, "init");
	frees = 0;

	struct memfs *m = counted_memfs(map);
	int64_t f_local = memfs_mk(m, 1, "f", S_IFREG | 0644, "0123456789");
	int64_t d_local = memfs_mk(m, 1, "d", S_IFDIR | 0755, NULL);
	memfs_mk(m, (uint64_t)d_local, "g", S_IFREG | 0644, "g");
	CHECK(tree_add_fs(t, &m->base, "/e", false) == 0, "add /e");
	CHECK(alive(fs) == 1, "one entry alive");

	/* the client takes: the entry root, f (and opens it), d's readdirplus entries, a created file */
	struct fs_entry root, f, d, c;
	struct fs_open fo, co;
	struct listing l;
	CHECK(lookup_path(fs, "e", &root) == 0 && lookup_path(fs, "e/f", &f) == 0 && lookup_path(fs, "e/d", &d) == 0,
	      "lookups");
	CHECK(FS_CALL(fs, open, &uctx, f.ino, O_RDONLY, &fo) == 0, "open f");
	CHECK(list_dir(fs, d.ino, true, 4096, &l) == 0 && listing_count(&l, "g") == 1, "list d (plus)");
	struct listing lroot;
	CHECK(list_dir(fs, root.ino, true, 4096, &lroot) == 0 && listing_count(&lroot, "f") == 1, "list e (plus)");
	CHECK(FS_CALL(fs, create, &uctx, root.ino, "c", 0644, O_RDWR, &c, &co) == 0, "create c");

	CHECK(tree_remove(t, "/e") == 0, "remove /e");
	struct fs_entry x;
	CHECK(FS_CALL(fs, lookup, &uctx, FS_ROOT_ID, "e", &x) == -ENOENT, "removed: ENOENT");
	CHECK(alive(fs) == 1 && frees == 0, "held entry kept (alive %llu)", (unsigned long long)alive(fs));

	/* give everything back but the open file: still there */
	forget_listing(fs, &l);
	forget_listing(fs, &lroot);
	fs->ops->forget(fs, root.ino, 2); /* lookup_path took "e" twice on the way (e, then e/f, e/d: 3) */
	fs->ops->forget(fs, root.ino, 1);
	fs->ops->forget(fs, d.ino, 1);
	fs->ops->forget(fs, c.ino, 1);
	fs->ops->release(fs, &uctx, c.ino, co.fh, O_RDWR, 0, false);
	fs->ops->forget(fs, f.ino, 1);
	CHECK(alive(fs) == 1 && frees == 0, "entry with an open file kept");
	char buf[16] = "";
	struct iovec iov = { buf, sizeof(buf) - 1 };
	size_t got = 0;
	CHECK(FS_CALL(fs, read, &uctx, f.ino, fo.fh, 0, sizeof(buf) - 1, &iov, 1, &got) == 0 && got == 10 &&
		      memcmp(buf, "0123456789", 10) == 0,
	      "an open file of a removed entry reads to the end (%zu)", got);
	CHECK(m->nodes[f_local].nlookup == 0 && m->nodes[d_local].nlookup == 0, "the fs got every forget");
	fs->ops->release(fs, &uctx, f.ino, fo.fh, O_RDONLY, 0, false);
	CHECK(alive(fs) == 0 && frees == 1, "freed once nothing is held (alive %llu, frees %d)",
	      (unsigned long long)alive(fs), frees);
	struct stat st;
	double to;
	CHECK(FS_CALL(fs, getattr, &uctx, f.ino, 0, false, &st, &to) == -ESTALE, "a stale id answers ESTALE");
	fs->ops->forget(fs, f.ino, 5); /* a forget for a freed entry is ignored */

	/* shadowed readdirplus entries give their lookup back to the real fs */
	m = counted_memfs(map);
	int64_t s_local = memfs_mk(m, 1, "s", S_IFREG | 0644, "real");
	memfs_mk(m, 1, "r", S_IFREG | 0644, "real");
	CHECK(tree_add_fs(t, &m->base, "/e2", false) == 0, "add /e2");
	CHECK(ovl_add_buffer(fs, "/e2/s", "virtual", 7, NULL) == 0, "shadow s");
	CHECK(lookup_path(fs, "e2", &root) == 0, "e2");
	CHECK(list_dir(fs, root.ino, true, 200, &l) == 0 && listing_count(&l, "s") == 1 && listing_count(&l, "r") == 1,
	      "merged listing: s once, r once");
	CHECK(m->nodes[s_local].nlookup == 0, "the shadowed real s holds %llu lookups",
	      (unsigned long long)m->nodes[s_local].nlookup);
	forget_listing(fs, &l);
	/* seekdir back, then forward again: every cookie handed out stays valid */
	for (int i = 0; i < 6; i++) {
		char name[8];
		snprintf(name, sizeof(name), "m%d", i);
		memfs_mk(m, 1, name, S_IFREG | 0644, "m");
	}
	struct listing all;
	CHECK(list_dir(fs, root.ino, false, 64, &all) == 0 && all.n >= 9, "merged listing, one entry a call: %zu",
	      all.n);
	{
		struct fs_open dop;
		char mem[512];
		CHECK(FS_CALL(fs, opendir, &uctx, root.ino, O_RDONLY, &dop) == 0, "opendir");
		uint64_t offs[16] = { 0 };
		size_t n = 0;
		for (uint64_t off = 0; n < 16;) { /* read it all, one entry a call */
			struct fs_dirbuf b;
			wire_dirbuf_init(&b, mem, 40, false, false);
			if (FS_CALL(fs, readdir, &uctx, root.ino, dop.fh, off, &b) < 0 || b.len == 0)
				break;
			struct listing one = { 0 };
			listing_decode(&one, mem, b.len, false, &off);
			offs[n++] = off;
		}
		CHECK(n >= 9, "%zu entries read", n);
		struct fs_dirbuf b;
		wire_dirbuf_init(&b, mem, 40, false, false);
		CHECK(FS_CALL(fs, readdir, &uctx, root.ino, dop.fh, offs[n - 6], &b) == 0 && b.len > 0, "seek back");
		wire_dirbuf_init(&b, mem, 40, false, false);
		CHECK(FS_CALL(fs, readdir, &uctx, root.ino, dop.fh, offs[n - 2], &b) == 0 && b.len > 0,
		      "seek forward to a cookie handed out before the seek back");
		fs->ops->releasedir(fs, &uctx, root.ino, dop.fh);
	}
	fs->ops->forget(fs, root.ino, 1);
	CHECK(tree_remove(t, "/e2") == 0 && alive(fs) == 0 && frees == 2, "e2 freed at removal (alive %llu)",
	      (unsigned long long)alive(fs));

	/* a client that forgets more than it holds only makes its own ids stale */
	m = counted_memfs(map);
	memfs_mk(m, 1, "f", S_IFREG | 0644, "x");
	CHECK(tree_add_fs(t, &m->base, "/e3", false) == 0, "add /e3");
	CHECK(lookup_path(fs, "e3/f", &f) == 0, "e3/f");
	fs->ops->forget(fs, f.ino, 1000);
	fs->ops->forget(fs, f.ino, 1000);
	CHECK(alive(fs) == 1, "attached entry stays whatever the client forgets");
	CHECK(lookup_path(fs, "e3/f", &f) == 0, "e3/f again");
	CHECK(tree_remove(t, "/e3") == 0, "remove e3");
	fs->ops->forget(fs, f.ino, UINT64_MAX);
	CHECK(alive(fs) == 1, "the graft node's lookups still hold e3");
	CHECK(FS_CALL(fs, lookup, &uctx, FS_ROOT_ID, "e3", &x) == -ENOENT, "e3 gone");

	/* tags are reused: far more add/remove cycles than 65535 (the old life-time cap) */
	int fails = 0;
	for (int i = 0; i < 70000 && fails < 5; i++) {
		struct fs *nr;
		if (nullroot_new(map, 0555, 0, 0, &nr) < 0 || tree_add_fs(t, nr, "/cycle", i % 2) < 0) {
			fails++;
			continue;
		}
		if (lookup_path(fs, "cycle", &x) < 0)
			fails++;
		fs->ops->forget(fs, x.ino, 1);
		if (tree_remove(t, "/cycle") < 0)
			fails++;
	}
	CHECK(fails == 0, "%d add/remove cycles failed", fails);
	CHECK(alive(fs) == 1, "cycles leave nothing alive but e3 (alive %llu)", (unsigned long long)alive(fs));
	fs->ops->destroy(fs);
	CHECK(alive(fs) == 0, "destroy drops what the client held");
	fs_free(fs);
	tree_free(t);
	fs_inomap_unref(map);
}

/*
 * Requests in flight on worker threads while the control thread adds and removes the entry they use: nothing
 * crashes or leaks (run it under ASan and TSan), every lookup the workers got back is counted, and the entry
 * is freed once the last worker let go.
 */
struct churn_arg {
	struct fs *fs;
	atomic_bool stop;
	atomic_uint reads;
};

static void *churn_worker(void *data)
{
	struct churn_arg *a = data;
	struct fs *fs = a->fs;
	char mem[4096];
	while (!atomic_load(&a->stop)) {
		struct fs_entry d, f;
		if (FS_CALL(fs, lookup, &uctx, FS_ROOT_ID, "live", &d) < 0)
			continue;
		if (FS_CALL(fs, lookup, &uctx, d.ino, "f", &f) == 0) {
			struct fs_open fo;
			if (FS_CALL(fs, open, &uctx, f.ino, O_RDONLY, &fo) == 0) {
				char buf[8];
				struct iovec iov = { buf, sizeof(buf) };
				size_t got = 0;
				if (FS_CALL(fs, read, &uctx, f.ino, fo.fh, 0, sizeof(buf), &iov, 1, &got) == 0 && got == 5)
					atomic_fetch_add(&a->reads, 1);
				fs->ops->release(fs, &uctx, f.ino, fo.fh, O_RDONLY, 0, false);
			}
			fs->ops->forget(fs, f.ino, 1);
		}
		struct fs_open dop;
		if (FS_CALL(fs, opendir, &uctx, d.ino, O_RDONLY, &dop) == 0) {
			struct fs_dirbuf b;
			wire_dirbuf_init(&b, mem, sizeof(mem), true, false);
			if (FS_CALL(fs, readdir, &uctx, d.ino, dop.fh, 0, &b) == 0) {
				struct listing l = { 0 };
				uint64_t last;
				listing_decode(&l, mem, b.len, true, &last);
				forget_listing(fs, &l);
			}
			fs->ops->releasedir(fs, &uctx, d.ino, dop.fh);
		}
		struct stat st;
		double to;
		FS_CALL(fs, getattr, &uctx, d.ino, 0, false, &st, &to);
		fs->ops->forget(fs, d.ino, 1);
	}
	return NULL;
}

static void test_churn_threads(void)
{
	char dir[] = "/tmp/test-tree-churn-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	int dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = openat(dfd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "data\n", 5) == 5, "f");
	close(fd);
	mkdirat(dfd, "sub", 0755);

	struct fs_inomap *map = fs_inomap_new();
	struct tree *t;
	struct tree_opts opts = { .open_entry = open_pt };
	CHECK(tree_new(map, NULL, &opts, &t) == 0, "tree_new");
	struct fs *fs = tree_fs(t);
	struct fs_conn conn = { .capable = ~0ull, .want = FS_CAP_READDIRPLUS, .max_write = 1 << 20 };
	CHECK(FS_CALL(fs, init, &conn) == 0, "init");
	struct churn_arg a = { .fs = fs };
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, churn_worker, &a);
	int fails = 0;
	for (int i = 0; i < 300; i++) {
		if (tree_add_host(t, open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), TREE_DIR, "/live", i % 2) < 0)
			fails++;
		usleep(200);
		if (i % 3 == 0 && ovl_add_buffer(fs, "/live/v", "virtual", 7, NULL) < 0) /* merged over the entry */
			fails++;
		usleep(200);
		if (tree_remove(t, "/live") < 0)
			fails++;
	}
	atomic_store(&a.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK(fails == 0, "%d add/remove calls failed", fails);
	CHECK(atomic_load(&a.reads) > 0, "the workers never read through the entry");
	CHECK(alive(fs) == 0, "%llu entries alive after the workers let go", (unsigned long long)alive(fs));
	fs->ops->destroy(fs);
	fs_free(fs);
	tree_free(t);
	fs_inomap_unref(map);
	close(proc_fd);
	proc_fd = -1;
	unlinkat(dfd, "f", 0);
	unlinkat(dfd, "sub", AT_REMOVEDIR);
	close(dfd);
	rmdir(dir);
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

/*
 * Every way the client can get a node or a handle of a real entry (the passthrough) is counted: lookup,
 * create, tmpfile, link, mkdir, symlink, readdirplus entries, open, opendir. The removed entry lives while
 * any of them is held and is freed when the last goes: the process is back at its fd count.
 */
static void test_counts_passthrough(void)
{
	char dir[] = "/tmp/test-tree-counts-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	int dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	int fd = openat(dfd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, "data\n", 5) == 5, "f");
	close(fd);
	proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int base = count_fds();
	struct fs_inomap *map = fs_inomap_new();
	struct tree *t;
	struct tree_opts opts = { .open_entry = open_pt };
	CHECK(tree_new(map, NULL, &opts, &t) == 0, "tree_new");
	struct fs *fs = tree_fs(t);
	struct fs_conn conn = { .capable = ~0ull, .want = FS_CAP_READDIRPLUS, .max_write = 1 << 20 };
	CHECK(FS_CALL(fs, init, &conn) == 0, "init");
	CHECK(tree_add_host(t, open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), TREE_DIR, "/p", false) == 0, "add");

	struct fs_entry p, f, e_create, e_tmp, e_link, e_mkdir, e_sym;
	struct fs_open o_create, o_tmp, o_f;
	CHECK(lookup_path(fs, "p", &p) == 0 && lookup_path(fs, "p/f", &f) == 0, "lookups");
	CHECK(FS_CALL(fs, create, &uctx, p.ino, "c", 0644, O_RDWR, &e_create, &o_create) == 0, "create");
	int tr = FS_CALL(fs, tmpfile, &uctx, p.ino, 0600, O_RDWR, &e_tmp, &o_tmp);
	CHECK(tr == 0 || tr == -EOPNOTSUPP, "tmpfile: %d", tr);
	CHECK(FS_CALL(fs, link, &uctx, f.ino, p.ino, "hl", &e_link) == 0, "link");
	CHECK(FS_CALL(fs, mkdir, &uctx, p.ino, "d", 0755, &e_mkdir) == 0, "mkdir");
	CHECK(FS_CALL(fs, symlink, &uctx, p.ino, "s", "f", &e_sym) == 0, "symlink");
	CHECK(FS_CALL(fs, open, &uctx, f.ino, O_RDONLY, &o_f) == 0, "open");
	struct listing l;
	CHECK(list_dir(fs, p.ino, true, 4096, &l) == 0 && listing_count(&l, "c") == 1 && listing_count(&l, "d") == 1,
	      "readdirplus");
	size_t plus = 0;
	for (size_t i = 0; i < l.n; i++)
		plus += l.ino[i] != 0;
	CHECK(plus >= 5, "readdirplus handed out %zu nodes", plus);
	CHECK(tree_remove(t, "/p") == 0, "remove");

	/* give back one thing at a time: the entry stays until the last */
	forget_listing(fs, &l);
	fs->ops->forget(fs, e_mkdir.ino, 1);
	fs->ops->forget(fs, e_sym.ino, 1);
	fs->ops->forget(fs, e_link.ino, 1);
	fs->ops->forget(fs, e_create.ino, 1);
	fs->ops->release(fs, &uctx, e_create.ino, o_create.fh, O_RDWR, 0, false);
	if (tr == 0) {
		CHECK(alive(fs) == 1, "tmpfile holds the entry");
		fs->ops->release(fs, &uctx, e_tmp.ino, o_tmp.fh, O_RDWR, 0, false);
		fs->ops->forget(fs, e_tmp.ino, 1);
	}
	fs->ops->forget(fs, p.ino, 2);
	CHECK(alive(fs) == 1, "open file and its lookup hold the entry");
	fs->ops->forget(fs, f.ino, 1);
	CHECK(alive(fs) == 1, "open file holds the entry");
	fs->ops->release(fs, &uctx, f.ino, o_f.fh, O_RDONLY, 0, false);
	CHECK(alive(fs) == 0, "entry freed after the last release (alive %llu)", (unsigned long long)alive(fs));
	CHECK(count_fds() == base, "fds: %d, before the entry %d", count_fds(), base);
	fs->ops->destroy(fs);
	fs_free(fs);
	tree_free(t);
	fs_inomap_unref(map);
	close(proc_fd);
	proc_fd = -1;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "cleanup");
	close(dfd);
}

int main(void)
{
	test_entry_lifetime();
	test_counts_passthrough();
	test_churn_threads();
	test_isolation();
	test_passthrough();
	test_submounts_and_many();
	test_host();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
