/* SPDX-License-Identifier: MIT */
/*
 * The share tree at the vtable: a single-file entry exposes no sibling (lookup, readdir, "..", link, rename),
 * rename and link across entries answer EXDEV, synthetic directories are read-only, ro entries refuse writes,
 * node ids and st_ino never collide over many entries, submount marking, removal while ids are in use.
 */
#include "tree/tree.h"

#include "fs/passthrough.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "memfs.h"
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

int main(void)
{
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
