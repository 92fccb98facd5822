/* SPDX-License-Identifier: MIT */
/*
 * Unit test of the passthrough backend at its limits: the fd ceiling with and without file handles (5,000
 * files under max_fds 16), export reconnects of forgotten nodes, handles=never under a seccomp filter without
 * open_by_handle_at, many threads at once, a hostile client's random requests, host submounts.
 * Exits 77 when not run as root (owners, devices, trusted xattrs and file handles need it).
 */
#include "pt-test.h"

/* ---- bounded fds ---- */

static void test_handles(void)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/many", base);
	CHECK(mkdir(dir, 0755) == 0, "mkdir");
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char name[32];
	enum { NFILES = 5000 };
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "%d", i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		CHECK(fd >= 0, "create");
		close(fd);
	}
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "sub%d", i);
		CHECK(mkdirat(dfd, name, 0755) == 0, "mkdir");
	}
	close(dfd);

	int fds0 = count_fds();
	struct pt_opts o;
	pt_opts_default(&o);
	o.handles = PT_HANDLES_PREFER;
	o.max_fds = 16;
	struct fs_inomap *map;
	struct fs *fs = new_pt(dir, &o, &map);
	if (!pt_of(fs)->use_handles) {
		fprintf(stderr, "# file handles unavailable on %s (its file system exports none): handles test "
				"skipped\n", dir);
		free_pt(fs, map);
		return;
	}
	static uint64_t ids[NFILES];
	int peak = 0;
	struct fs_entry e;
	struct stat st;
	double t;
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "%d", i);
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &e));
		ids[i] = e.ino;
		if (i % 250 == 0) {
			int n = count_fds() - fds0;
			peak = MAX(peak, n);
		}
	}
	/* every node still works: reopened by handle */
	for (int i = 0; i < NFILES; i += 3) {
		OK(FS_CALL(fs, getattr, &root_ctx, ids[i], 0, false, &st, &t));
		if (i % 300 == 0)
			peak = MAX(peak, count_fds() - fds0);
	}
	/* a node whose fd was closed does not pin its host inode: delete the file, and if the host gives the
	 * number to a new file of the same name, the name must get a new node, not the dead one's */
	{
		int dfd2 = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat old, new;
		CHECK(fstatat(dfd2, "0", &old, 0) == 0 && unlinkat(dfd2, "0", 0) == 0, "unlink 0");
		int fd = openat(dfd2, "0", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		CHECK(fd >= 0 && fstat(fd, &new) == 0, "recreate 0");
		close(fd);
		close(dfd2);
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "0", &e));
		if (new.st_ino == old.st_ino) {
			CHECK(e.ino != ids[0], "a reused inode number got the dead node");
			OK(FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t));
			CHECK((st.st_mode & 07777) == 0600, "the new file's attrs");
			ERR(FS_CALL(fs, getattr, &root_ctx, ids[0], 0, false, &st, &t), ESTALE);
		} else {
			fprintf(stderr, "# inode number not reused by the host: reuse check skipped\n");
		}
		FS_CALL_VOID(fs, forget, e.ino, 1);
	}
	/* directories too: lookups under reopened directory fds */
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "sub%d", i);
		struct fs_entry s, c;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &s));
		OK(FS_CALL(fs, mknod, &root_ctx, s.ino, "inner", S_IFREG | 0644, 0, &c));
		OK(FS_CALL(fs, lookup, &root_ctx, s.ino, "inner", &c));
	}
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "sub%d", i);
		struct fs_entry s, c;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &s));
		OK(FS_CALL(fs, lookup, &root_ctx, s.ino, "inner", &c));
		CHECK(c.attr.st_size == 0, "inner");
	}
	/* readdirplus over the whole directory stays under the ceiling too */
	struct fs_open fo;
	OK(FS_CALL(fs, opendir, &root_ctx, FS_ROOT_ID, O_RDONLY, &fo));
	static struct listing l;
	uint64_t off = 0;
	int total = 0;
	for (;;) {
		memset(&l, 0, sizeof(l));
		int n = readdir_once(fs, FS_ROOT_ID, fo.fh, off, true, 8192, &l);
		if (n == 0)
			break;
		for (int i = 0; i < l.n; i++)
			CHECK(l.ino[i] || l.names[i][0] == '.', "plus entry %s without a node", l.names[i]);
		total += n;
		off = l.last_off;
		peak = MAX(peak, count_fds() - fds0);
	}
	CHECK(total == NFILES + 20 + 2, "listed %d", total);
	FS_CALL_VOID(fs, releasedir, &root_ctx, FS_ROOT_ID, fo.fh);
	/* mount fds for open_by_handle_at (one per host mount) are outside the inode ceiling */
	/* above the baseline: the inode fds (ceiling 16), the proc fd, one mount fd for open_by_handle_at (outside
	 * the inode ceiling: one per host mount), and the listing's own open directory */
	CHECK(peak <= 16 + 3, "fds held peaked at %d (ceiling 16 + proc + mount + open dir)", peak);
	CHECK(atomic_load(&pt_of(fs)->nfds) <= 16, "inode fds %u", atomic_load(&pt_of(fs)->nfds));
	fprintf(stderr, "# handles: %d nodes, peak %d fds above baseline (max_fds 16)\n", NFILES + 40, peak);
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");

	/* without handles the ceiling is a clear EMFILE, and readdirplus still lists every name */
	o.handles = PT_HANDLES_NEVER;
	fs = new_pt(dir, &o, &map);
	int emfile = 0;
	uint64_t first[2] = { 0 };
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "%d", i);
		int r = FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, name, &e);
		CHECK(r == 0 || r == -EMFILE, "lookup: %s", strerror(-r));
		emfile += r == -EMFILE;
		if (i < 2)
			first[i] = e.ino;
	}
	CHECK(emfile == 100 - 15, "EMFILE at the ceiling (%d)", emfile);
	/* lookups of new names teach pt_lookup_at to open first; a known name must still be found at the
	 * ceiling (it needs no fd) */
	FS_CALL_VOID(fs, forget, first[0], 1);
	FS_CALL_VOID(fs, forget, first[1], 1);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "50", &e));
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "51", &e));
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "2", &e));
	ERR(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "52", &e), EMFILE);
	CHECK(count_fds() - fds0 <= 16 + 1, "never mode holds at most max_fds (+ the proc fd)");
	OK(FS_CALL(fs, opendir, &root_ctx, FS_ROOT_ID, O_RDONLY, &fo));
	off = 0;
	total = 0;
	for (;;) {
		memset(&l, 0, sizeof(l));
		int n = readdir_once(fs, FS_ROOT_ID, fo.fh, off, true, 8192, &l);
		if (n == 0)
			break;
		total += n;
		off = l.last_off;
	}
	CHECK(total == NFILES + 20 + 2, "no hole in the listing: %d", total);
	FS_CALL_VOID(fs, releasedir, &root_ctx, FS_ROOT_ID, fo.fh);
	free_pt(fs, map);

	/* mandatory: works the same where handles exist */
	o.handles = PT_HANDLES_MANDATORY;
	fs = new_pt(dir, &o, &map);
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "7", &e));
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");
}

/* ---- export support: a forgotten node named again through a file handle ---- */

static void test_export(void)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/exp", share);
	CHECK(mkdir(dir, 0755) == 0, "mkdir");
	host_write(dir, "f", "exported", 0644);
	int fds0 = count_fds();
	for (int handles = 0; handles < 2; handles++) {
		host_write(dir, "gone", "x", 0644);
		struct pt_opts o;
		pt_opts_default(&o);
		o.handles = handles ? PT_HANDLES_PREFER : PT_HANDLES_NEVER;
		struct fs_inomap *map;
		struct fs *fs = new_pt(share, &o, &map);
		struct fs_conn conn = { .capable = ~0ULL, .want = FS_CAP_EXPORT_SUPPORT };
		OK(FS_CALL(fs, init, &conn));
		struct fs_entry d, f, g, e;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "exp", &d));
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "f", &f));
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "gone", &g));
		/* "." of a file the client knows: itself */
		OK(FS_CALL(fs, lookup, &root_ctx, f.ino, ".", &e));
		CHECK(e.ino == f.ino, "'.' of a file");
		FS_CALL_VOID(fs, forget, f.ino, 2);
		FS_CALL_VOID(fs, forget, g.ino, 1);
		FS_CALL_VOID(fs, forget, d.ino, 1);
		struct stat st;
		double t;
		ERR(FS_CALL(fs, getattr, &root_ctx, f.ino, 0, false, &st, &t), ESTALE);
		if (!handles) {
			/* without file handles the server may not reopen by handle: a forgotten node is gone */
			ERR(FS_CALL(fs, lookup, &root_ctx, d.ino, ".", &e), ESTALE);
			char gp[300];
			snprintf(gp, sizeof(gp), "%s/gone", dir);
			CHECK(unlink(gp) == 0, "unlink");
			free_pt(fs, map);
			continue;
		}
		/* the kernel reconnects a handle with LOOKUP "." on the old id: the same node comes back */
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, ".", &e));
		CHECK(e.ino == d.ino && S_ISDIR(e.attr.st_mode), "directory back under its id");
		OK(FS_CALL(fs, lookup, &root_ctx, f.ino, ".", &e));
		CHECK(e.ino == f.ino && e.attr.st_size == 8, "file back under its id");
		OK(FS_CALL(fs, getattr, &root_ctx, f.ino, 0, false, &st, &t));
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "..", &e));
		CHECK(e.ino == fs->root, "'..' of the reconnected directory");
		/* a name looked up again meets the same node */
		OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "f", &e));
		CHECK(e.ino == f.ino, "lookup finds the reconnected node");
		/* a deleted file does not come back */
		char gp[300];
		snprintf(gp, sizeof(gp), "%s/gone", dir);
		CHECK(unlink(gp) == 0, "unlink");
		ERR(FS_CALL(fs, lookup, &root_ctx, g.ino, ".", &e), ESTALE);
		ERR(FS_CALL(fs, lookup, &root_ctx, fs_ino_make(pt_of(fs)->space, 999999), ".", &e), ESTALE);
		free_pt(fs, map);
	}
	/* without export support nothing is kept */
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_entry f, e;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "exp", &f));
	FS_CALL_VOID(fs, forget, f.ino, 1);
	ERR(FS_CALL(fs, lookup, &root_ctx, f.ino, ".", &e), ESTALE);
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");
}

/* handles=never under a seccomp filter that kills open_by_handle_at, as the sandbox's does: no op may use it */
static int never_mode_child(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open_by_handle_at, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(f), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return 77;
	struct fs_inomap *map;
	struct fs *fs = new_pt(share, NULL, &map);
	struct fs_conn conn = { .capable = ~0ULL, .want = FS_CAP_EXPORT_SUPPORT };
	OK(FS_CALL(fs, init, &conn));
	struct fs_entry d, e;
	OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "exp", &d));
	OK(FS_CALL(fs, lookup, &root_ctx, d.ino, "f", &e));
	FS_CALL_VOID(fs, forget, e.ino, 1);
	FS_CALL_VOID(fs, forget, d.ino, 1);
	ERR(FS_CALL(fs, lookup, &root_ctx, d.ino, ".", &e), ESTALE);
	OK(FS_CALL(fs, syncfs, &root_ctx, FS_ROOT_ID));
	free_pt(fs, map);
	return 0;
}

static void test_never_no_handles(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		in_child = true;
		_exit(never_mode_child());
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid, "wait");
	CHECK(!WIFSIGNALED(st), "handles=never used a syscall the sandbox forbids (signal %d)", WTERMSIG(st));
	CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 77), "child status %d", WEXITSTATUS(st));
}

/* ---- many workers at once ---- */

struct worker {
	struct fs *fs;
	uint64_t dir;
	int id;
	unsigned seed;
	int errors;
	unsigned max_nfds;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct fs *fs = w->fs;
	char name[32], buf[64];
	static char mem_plus[8][8192];
	for (int it = 0; it < 1500; it++) {
		int op = (int)(rand_r(&w->seed) % 5);
		int k = (int)(rand_r(&w->seed) % 64);
		snprintf(name, sizeof(name), "s%d", k);
		struct fs_entry e;
		struct fs_open fo;
		struct stat st;
		double t;
		size_t got;
		int r = 0;
		switch (op) {
		case 0: /* lookup, getattr, forget */
			r = FS_CALL(fs, lookup, &root_ctx, w->dir, name, &e);
			if (r == 0) {
				r = FS_CALL(fs, getattr, &root_ctx, e.ino, 0, false, &st, &t);
				FS_CALL_VOID(fs, forget, e.ino, 1);
			}
			break;
		case 1: /* open, read, release */
			r = FS_CALL(fs, lookup, &root_ctx, w->dir, name, &e);
			if (r == 0) {
				r = FS_CALL(fs, open, &root_ctx, e.ino, O_RDONLY, &fo);
				if (r == 0) {
					r = FS_CALL(fs, read, &root_ctx, e.ino, fo.fh, 0, sizeof(buf),
						    &(struct iovec){ buf, sizeof(buf) }, 1, &got);
					if (r == 0 && (got != 2 || buf[0] != 's'))
						r = -EIO;
					FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
				}
				FS_CALL_VOID(fs, forget, e.ino, 1);
			}
			break;
		case 2: { /* a private name, created as this worker's own user: create, write, unlink */
			snprintf(name, sizeof(name), "w%d-%d", w->id, k);
			struct fs_ctx me = { .uid = 2000 + (uid_t)w->id, .gid = 3000 + (gid_t)w->id, .umask = 022 };
			r = FS_CALL(fs, create, &me, w->dir, name, 0666, O_RDWR, &e, &fo);
			if (r == 0 && (e.attr.st_uid != me.uid || e.attr.st_gid != me.gid ||
				       (e.attr.st_mode & 07777) != 0644)) {
				fprintf(stderr, "worker %d: created as %u:%u mode %o\n", w->id, e.attr.st_uid,
					e.attr.st_gid, e.attr.st_mode & 07777);
				w->errors++;
			}
			if (r == 0) {
				r = FS_CALL(fs, write, &root_ctx, e.ino, fo.fh, 0, 3, &(struct iovec){ "abc", 3 }, 1, 0,
					    &got);
				FS_CALL_VOID(fs, release, &root_ctx, e.ino, fo.fh, 0, 0, false);
				FS_CALL_VOID(fs, forget, e.ino, 1);
				if (r == 0)
					r = FS_CALL(fs, unlink, &root_ctx, w->dir, name);
			}
			break;
		}
		case 3: { /* readdirplus the whole directory, forget every node */
			r = FS_CALL(fs, opendir, &root_ctx, w->dir, O_RDONLY, &fo);
			if (r < 0)
				break;
			uint64_t off = 0;
			for (;;) {
				struct fs_dirbuf b;
				char *mem = mem_plus[w->id];
				wire_dirbuf_init(&b, mem, sizeof(mem_plus[0]), true, false);
				r = FS_CALL(fs, readdir, &root_ctx, w->dir, fo.fh, off, &b);
				if (r < 0 || b.len == 0)
					break;
				for (size_t p = 0; p < b.len;) {
					const struct fuse_direntplus *dp = (const void *)(mem + p);
					if (dp->entry_out.nodeid)
						FS_CALL_VOID(fs, forget, dp->entry_out.nodeid, 1);
					off = dp->dirent.off;
					p += FUSE_DIRENTPLUS_SIZE(dp);
				}
			}
			FS_CALL_VOID(fs, releasedir, &root_ctx, w->dir, fo.fh);
			break;
		}
		case 4: /* a stale handle and a stale node from someone else: refused, never a crash */
			r = FS_CALL(fs, read, &root_ctx, w->dir, (uint64_t)rand_r(&w->seed) << 20 | 1, 0, 4,
				    &(struct iovec){ buf, 4 }, 1, &got);
			r = r == -EBADF ? 0 : -EIO;
			break;
		}
		/* ENOENT: another worker's readdir raced nothing here, but a name may vanish (w%d are private) */
		if (r < 0 && r != -ENOENT)
			w->errors++;
		unsigned n = atomic_load(&pt_of(fs)->nfds);
		if (n > w->max_nfds)
			w->max_nfds = n;
	}
	return NULL;
}

static void run_workers(enum pt_handles handles, unsigned max_fds)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/threads", base);
	mkdir(dir, 0777);
	chmod(dir, 0777);
	for (int k = 0; k < 64; k++) {
		char name[32];
		snprintf(name, sizeof(name), "s%d", k);
		host_write(dir, name, "s!", 0644);
	}
	int fds0 = count_fds();
	struct pt_opts o;
	pt_opts_default(&o);
	o.handles = handles;
	o.max_fds = max_fds;
	struct fs_inomap *map;
	struct fs *fs = new_pt(dir, &o, &map);
	enum { NW = 8 };
	pthread_t th[NW];
	struct worker w[NW];
	for (int i = 0; i < NW; i++) {
		w[i] = (struct worker){ .fs = fs, .dir = FS_ROOT_ID, .id = i, .seed = 1234u + (unsigned)i };
		CHECK(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0, "thread");
	}
	for (int i = 0; i < NW; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].errors == 0, "worker %d: %d errors", i, w[i].errors);
		CHECK(w[i].max_nfds <= max_fds, "inode fds %u over the ceiling %u", w[i].max_nfds, max_fds);
	}
	CHECK(atomic_load(&pt_of(fs)->nfds) == 1, "every node forgotten: only the root's fd (%u)",
	      atomic_load(&pt_of(fs)->nfds));
	free_pt(fs, map);
	CHECK(count_fds() == fds0, "all closed");
}

static void test_threads(void)
{
	run_workers(PT_HANDLES_NEVER, 4096);
	run_workers(PT_HANDLES_PREFER, 24);
}

/* ---- a hostile client: random requests, refused or served, never a crash, nothing outside touched ---- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void random_name(uint64_t *s, char *buf, size_t size)
{
	static const char *const fixed[] = { "", ".", "..", "/", "a/b", "../outside", "esc", "x", "y", "d", "nul" };
	uint64_t k = rnd(s) % 4;
	if (k == 0) {
		snprintf(buf, size, "%s", fixed[rnd(s) % ARRAY_SIZE(fixed)]);
		return;
	}
	size_t len = k == 1 ? 300 : 1 + rnd(s) % 6;
	if (len >= size)
		len = size - 1;
	for (size_t i = 0; i < len; i++) {
		char c = (char)(rnd(s) % 4 ? 'a' + rnd(s) % 3 : 1 + rnd(s) % 255);
		buf[i] = c ? c : 'z';
	}
	buf[len] = 0;
}

static void test_hostile(void)
{
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/hostile", share);
	CHECK(mkdir(dir, 0755) == 0, "mkdir");
	host_write(dir, "x", "data", 0644);
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(symlinkat("../../outside/secret", d, "esc") == 0, "symlink");
	CHECK(mkdirat(d, "d", 0755) == 0, "mkdir");
	close(d);
	struct snap before, after;
	snap(&before);
	int fds0 = count_fds();
	for (int mode = 0; mode < 2; mode++) {
		struct pt_opts o;
		pt_opts_default(&o);
		o.handles = mode ? PT_HANDLES_PREFER : PT_HANDLES_NEVER;
		o.max_fds = 32;
		struct fs_inomap *map;
		struct fs *fs = new_pt(dir, &o, &map);
		uint64_t seed = 0x9e3779b97f4a7c15ULL + (uint64_t)mode;
		uint64_t ids[64] = { FS_ROOT_ID, fs->root };
		uint64_t fhs[64] = { 0 };
		size_t nids = 2, nfhs = 0;
		static char mem[8192];
		int served = 0;
		for (int it = 0; it < 6000; it++) {
			char name[320], name2[320];
			random_name(&seed, name, sizeof(name));
			random_name(&seed, name2, sizeof(name2));
			uint64_t ino = rnd(&seed) % 8 ? ids[rnd(&seed) % nids] : rnd(&seed);
			uint64_t fh = nfhs && rnd(&seed) % 8 ? fhs[rnd(&seed) % nfhs] : rnd(&seed);
			struct fs_ctx ctx = { .uid = rnd(&seed) % 2 ? 0 : 1000, .gid = 0, .umask = 022 };
			struct fs_entry e = { 0 };
			struct fs_open fo = { 0 };
			struct stat st, a = { .st_mode = (mode_t)rnd(&seed), .st_size = (off_t)(rnd(&seed) % (1 << 20)) };
			double t;
			size_t got;
			char buf[256];
			struct iovec iov = { buf, sizeof(buf) };
			int r = -1;
			switch (rnd(&seed) % 22) {
			case 0: r = FS_CALL(fs, lookup, &ctx, ino, name, &e); break;
			case 1: r = FS_CALL(fs, mknod, &ctx, ino, name, (mode_t)(rnd(&seed) % 2 ? S_IFREG : S_IFIFO) | 0644, 0, &e); break;
			case 2: r = FS_CALL(fs, mkdir, &ctx, ino, name, 0755, &e); break;
			case 3: r = FS_CALL(fs, symlink, &ctx, ino, name, name2[0] ? name2 : "t", &e); break;
			case 4: r = FS_CALL(fs, link, &ctx, ino, ids[rnd(&seed) % nids], name, &e); break;
			case 5: r = FS_CALL(fs, unlink, &ctx, ino, name); break;
			case 6: r = FS_CALL(fs, rmdir, &ctx, ino, name); break;
			case 7: r = FS_CALL(fs, rename, &ctx, ino, name, ids[rnd(&seed) % nids], name2, (unsigned)(rnd(&seed) % 8)); break;
			case 8: r = FS_CALL(fs, open, &ctx, ino, (int)(rnd(&seed) % 3) | (int)(rnd(&seed) % 2 ? O_TRUNC : 0), &fo); break;
			case 9: r = FS_CALL(fs, create, &ctx, ino, name, 0644, O_RDWR, &e, &fo); break;
			case 10: {
				uint64_t off = rnd(&seed) % 2 ? rnd(&seed) : rnd(&seed) % 4096;
				r = FS_CALL(fs, read, &ctx, ino, fh, off, sizeof(buf), &iov, 1, &got);
				break;
			}
			case 11: r = FS_CALL(fs, write, &ctx, ino, fh, rnd(&seed) % 65536, 16, &iov, 1, 0, &got); break;
			case 12: {
				uint32_t set = (uint32_t)rnd(&seed) & 0x7ff & ~(uint32_t)FS_SET_UID;
				r = FS_CALL(fs, setattr, &ctx, ino, &a, set, fh, &st, &t);
				break;
			}
			case 13: r = FS_CALL(fs, getattr, &ctx, ino, fh, rnd(&seed) % 2, &st, &t); break;
			case 14: r = FS_CALL(fs, opendir, &ctx, ino, 0, &fo); break;
			case 15: {
				struct fs_dirbuf b;
				wire_dirbuf_init(&b, mem, sizeof(mem), rnd(&seed) % 2, false);
				r = FS_CALL(fs, readdir, &ctx, ino, fh, rnd(&seed) % 3 ? 0 : rnd(&seed), &b);
				if (r == 0 && b.plus)
					for (size_t p = 0; p < b.len;) {
						const struct fuse_direntplus *dp = (const void *)(mem + p);
						if (dp->entry_out.nodeid && nids < ARRAY_SIZE(ids))
							ids[nids++] = dp->entry_out.nodeid;
						p += FUSE_DIRENTPLUS_SIZE(dp);
					}
				break;
			}
			case 16: FS_CALL_VOID(fs, release, &ctx, ino, fh, 0, rnd(&seed), rnd(&seed) % 2); r = 0; break;
			case 17: FS_CALL_VOID(fs, releasedir, &ctx, ino, fh); r = 0; break;
			case 18: FS_CALL_VOID(fs, forget, ino, rnd(&seed) % 3); r = 0; break;
			case 19: {
				struct flock lk = { .l_type = (short)(rnd(&seed) % 4), .l_whence = SEEK_SET,
						    .l_start = (off_t)(rnd(&seed) % 100), .l_len = (off_t)(rnd(&seed) % 100) };
				r = FS_CALL(fs, setlk, &ctx, ino, fh, rnd(&seed) % 4, &lk, false, rnd(&seed) % 2);
				break;
			}
			case 20: {
				const char *xn = rnd(&seed) % 2 ? "user.h" : name;
				r = FS_CALL(fs, setxattr, &ctx, ino, xn, "v", 1, (int)(rnd(&seed) % 4), 0);
				break;
			}
			case 21: { /* small lengths: a fuzzed fallocate must not fill the disk */
				int fm = rnd(&seed) % 2 ? 0 : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
				off_t fo = (off_t)(rnd(&seed) % 65536), fl = (off_t)(1 + rnd(&seed) % 65536);
				r = FS_CALL(fs, fallocate, &ctx, ino, fh, fm, fo, fl);
				break;
			}
			}
			CHECK(r <= 0, "an op returned %d", r);
			served += r == 0;
			if (r == 0 && e.ino && nids < ARRAY_SIZE(ids))
				ids[nids++] = e.ino;
			if (r == 0 && fo.fh && nfhs < ARRAY_SIZE(fhs))
				fhs[nfhs++] = fo.fh;
		}
		fprintf(stderr, "# hostile (%s): %d of 6000 requests served, the rest refused\n",
			mode ? "handles" : "no handles", served);
		CHECK(served > 600, "too few requests served to mean anything");
		free_pt(fs, map);
	}
	CHECK(count_fds() == fds0, "everything closed after a hostile session (%d vs %d)", count_fds(), fds0);
	snap(&after);
	CHECK(after.st.st_mode == before.st.st_mode && after.st.st_uid == before.st.st_uid &&
		      after.st.st_size == before.st.st_size && after.st.st_mtim.tv_sec == before.st.st_mtim.tv_sec &&
		      after.xlen == before.xlen && memcmp(after.xattrs, before.xattrs, sizeof(after.xattrs)) == 0,
	      "the outside file is untouched");
	DIR *od = opendir(outside);
	int n = 0;
	for (struct dirent *de; (de = readdir(od));)
		n += de->d_name[0] != '.';
	closedir(od);
	CHECK(n == 1, "nothing new outside the share (%d entries)", n);
}

/* ---- submounts (a tmpfs mounted inside the share, in a private mount namespace) ---- */

static int submount_child(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	char sub[200];
	snprintf(sub, sizeof(sub), "%s/mnt", share);
	if (mkdir(sub, 0755) < 0 || mount("tmpfs", sub, "tmpfs", 0, "size=1m") < 0)
		return 77;
	host_write(sub, "inner", "i", 0644);
	struct stat host_inner;
	host_stat(sub, "inner", &host_inner);
	for (int announce = 0; announce < 2; announce++) {
		struct pt_opts o;
		pt_opts_default(&o);
		o.announce_submounts = announce;
		struct fs_inomap *map;
		struct fs *fs = new_pt(share, &o, &map);
		struct fs_entry m, i, i2;
		OK(FS_CALL(fs, lookup, &root_ctx, FS_ROOT_ID, "mnt", &m));
		OK(FS_CALL(fs, lookup, &root_ctx, m.ino, "inner", &i));
		if (announce) {
			CHECK(m.attr_flags & FS_ATTR_SUBMOUNT, "submount root flagged");
			CHECK(!(i.attr_flags & FS_ATTR_SUBMOUNT), "inside not flagged");
			CHECK(i.attr.st_ino == host_inner.st_ino, "host st_ino with announced submounts");
		} else {
			CHECK(!(m.attr_flags & FS_ATTR_SUBMOUNT), "not flagged");
			CHECK((i.attr.st_ino & PT_INO_FOREIGN) && (m.attr.st_ino & PT_INO_FOREIGN),
			      "foreign st_ino remapped");
			CHECK((i.attr.st_ino & ((1ULL << 40) - 1)) == host_inner.st_ino, "remap keeps the host number");
			FS_CALL_VOID(fs, forget, i.ino, 1);
			OK(FS_CALL(fs, lookup, &root_ctx, m.ino, "inner", &i2));
			CHECK(i2.attr.st_ino == i.attr.st_ino, "stable across forget");
			struct stat st;
			double t;
			OK(FS_CALL(fs, getattr, &root_ctx, i2.ino, 0, false, &st, &t));
			CHECK(st.st_ino == i.attr.st_ino, "getattr agrees");
			OK(FS_CALL(fs, lookup, &root_ctx, m.ino, "..", &i2));
			CHECK(i2.ino == fs->root, "'..' of the submount root");
		}
		OK(FS_CALL(fs, syncfs, &root_ctx, m.ino));
		free_pt(fs, map);
	}
	umount2(sub, MNT_DETACH);
	return 0;
}

static void test_submounts(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		in_child = true;
		_exit(submount_child());
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid, "wait");
	CHECK(WIFEXITED(status), "child crashed");
	if (WEXITSTATUS(status) == 77)
		fprintf(stderr, "# submounts: cannot mount here: skipped\n");
	else
		CHECK(WEXITSTATUS(status) == 0, "submount checks failed");
	char sub[200];
	snprintf(sub, sizeof(sub), "%s/mnt", share);
	rmdir(sub);
}


int main(void)
{
	int r = pt_test_setup("test-passthrough-scale");
	if (r)
		return r;
	static const struct pt_test tests[] = {
		{ "handles", test_handles },
		{ "export", test_export },
		{ "never mode without open_by_handle_at", test_never_no_handles },
		{ "threads", test_threads },
		{ "hostile", test_hostile },
		{ "submounts", test_submounts },
	};
	return pt_test_run(tests, ARRAY_SIZE(tests));
}
