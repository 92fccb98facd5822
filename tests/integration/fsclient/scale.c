/* SPDX-License-Identifier: MIT */
/* fsclient: sizes and concurrency: a 10k-entry directory, a depth-200 tree, concurrent readers and writers. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsc.h"

static int check_bigdir(struct fsc *c)
{
	const int n = 10000 / (int)c->scale;
	char name[64];
	MUST(mkdirat(c->d, "big", 0755));
	int dfd = MUST(openat(c->d, "big", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "file-with-a-reasonably-long-name-%06d", i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			close(dfd);
			FAIL("create entry %d: %s", i, strerror(errno));
		}
		if (i % 100 == 0 && write(fd, name, strlen(name)) < 0) {
			close(fd);
			close(dfd);
			FAIL("write to entry %d: %s", i, strerror(errno));
		}
		close(fd);
	}
	/* list: every name exactly once (readdir across many READDIR(PLUS) requests) */
	char *seen = calloc((size_t)n, 1);
	int lfd = dup(dfd);
	DIR *dir = lfd >= 0 ? fdopendir(lfd) : NULL;
	long total = 0, bad = 0;
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		int i;
		total++;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (sscanf(de->d_name, "file-with-a-reasonably-long-name-%d", &i) != 1 || i < 0 || i >= n || seen[i]++)
			bad++;
	}
	if (dir)
		closedir(dir);
	long missing = 0;
	for (int i = 0; i < n; i++)
		missing += !seen[i];
	free(seen);
	if (total != n + 2 || bad || missing) {
		close(dfd);
		FAIL("listing: %ld entries (expected %d), %ld unexpected or repeated, %ld missing", total, n + 2, bad,
		     missing);
	}
	/* stat a sample, then remove them all */
	for (int i = 0; i < n; i += 97) {
		struct stat st;
		snprintf(name, sizeof(name), "file-with-a-reasonably-long-name-%06d", i);
		if (fstatat(dfd, name, &st, 0) < 0 || st.st_size != (i % 100 == 0 ? (off_t)strlen(name) : 0)) {
			close(dfd);
			FAIL("stat of entry %d", i);
		}
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "file-with-a-reasonably-long-name-%06d", i);
		if (unlinkat(dfd, name, 0) < 0) {
			close(dfd);
			FAIL("unlink entry %d: %s", i, strerror(errno));
		}
	}
	long left = fsc_count_entries(dfd);
	close(dfd);
	CHECK(left == 2, "%ld entries left after deleting all", left);
	if (c->hd >= 0) {
		int hfd = MUST(openat(c->hd, "big", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		left = fsc_count_entries(hfd);
		close(hfd);
		CHECK(left == 2, "%ld entries left on the host", left);
	}
	MUST(unlinkat(c->d, "big", AT_REMOVEDIR));
	return 0;
}

static int check_deep(struct fsc *c)
{
	const int depth = 200;
	/* 20-byte names: the full path (>4 KiB) is longer than PATH_MAX, so only relative walks reach the bottom */
	static const char comp[] = "deep-directory-level";
	int fds[201];
	int r = -1, have = 0;
	fds[0] = dup(c->d);
	have = 1;
	for (int i = 1; i <= depth; i++) {
		if (mkdirat(fds[i - 1], comp, 0755) < 0) {
			fsc_reason(c, __LINE__, "mkdir at depth %d: %s", i, strerror(errno));
			goto out;
		}
		fds[i] = openat(fds[i - 1], comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[i] < 0) {
			fsc_reason(c, __LINE__, "open at depth %d: %s", i, strerror(errno));
			goto out;
		}
		have = i + 1;
	}
	if (fsc_put(fds[depth], "bottom", "at the bottom", 0644) < 0) {
		fsc_reason(c, __LINE__, "create at the bottom: %s", strerror(errno));
		goto out;
	}
	/* walk down again by relative paths of 10 levels at a time, and up with ".." */
	int cur = dup(c->d);
	char path[512];
	for (int i = 0; i < depth / 10; i++) {
		path[0] = 0;
		for (int k = 0; k < 10; k++)
			strcat(strcat(path, comp), k < 9 ? "/" : "");
		int nx = openat(cur, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(cur);
		if (nx < 0) {
			fsc_reason(c, __LINE__, "walk down at step %d: %s", i, strerror(errno));
			goto out;
		}
		cur = nx;
	}
	char buf[64];
	ssize_t n = fsc_get(cur, "bottom", buf, sizeof(buf));
	struct stat a, b;
	int up = openat(cur, "../../..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(cur);
	if (n < 0 || strcmp(buf, "at the bottom")) {
		fsc_reason(c, __LINE__, "read at the bottom: %zd", n);
		if (up >= 0)
			close(up);
		goto out;
	}
	if (up < 0 || fstat(up, &a) < 0 || fstat(fds[depth - 3], &b) < 0 || a.st_ino != b.st_ino) {
		fsc_reason(c, __LINE__, "'../../..' from the bottom is not depth %d", depth - 3);
		if (up >= 0)
			close(up);
		goto out;
	}
	close(up);
	if (c->hd >= 0) { /* the host holds the same tree */
		int h = dup(c->hd);
		for (int i = 1; i <= depth && h >= 0; i++) {
			int nx = openat(h, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			close(h);
			h = nx;
		}
		n = h >= 0 ? fsc_get(h, "bottom", buf, sizeof(buf)) : -1;
		if (h >= 0)
			close(h);
		if (n < 0 || strcmp(buf, "at the bottom")) {
			fsc_reason(c, __LINE__, "the host tree lacks the bottom file");
			goto out;
		}
	}
	/* remove bottom-up */
	if (unlinkat(fds[depth], "bottom", 0) < 0) {
		fsc_reason(c, __LINE__, "unlink at the bottom: %s", strerror(errno));
		goto out;
	}
	for (int i = depth; i >= 1; i--)
		if (unlinkat(fds[i - 1], comp, AT_REMOVEDIR) < 0) {
			fsc_reason(c, __LINE__, "rmdir at depth %d: %s", i, strerror(errno));
			goto out;
		}
	r = 0;
out:
	for (int i = 0; i < have; i++)
		close(fds[i]);
	return r;
}

/* ---- concurrency ---- */

enum { NWRITERS = 4, NREADERS = 4, FILE_SZ = 4 << 20, CHUNK = 64 << 10 };

struct worker {
	struct fsc *c;
	int idx;
	char err[256];
	volatile int *stop;
};

/* Writers fill their own file in a shuffled chunk order; readers re-read finished files and verify them. */
static void *writer(void *arg)
{
	struct worker *w = arg;
	char name[32];
	uint8_t *buf = malloc(CHUNK);
	snprintf(name, sizeof(name), "w%d", w->idx);
	int fd = openat(w->c->d, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || !buf) {
		snprintf(w->err, sizeof(w->err), "writer %d: open: %s", w->idx, strerror(errno));
		free(buf);
		return NULL;
	}
	const int nchunks = FILE_SZ / CHUNK;
	for (int k = 0; k < nchunks; k++) {
		int ch = (k * 37 + w->idx) % nchunks; /* 37 is prime to 64: a permutation */
		fsc_fill(buf, CHUNK, 100 + (uint32_t)w->idx, (uint64_t)ch * CHUNK);
		int r = fsc_pwrite_all(fd, buf, CHUNK, (off_t)ch * CHUNK);
		if (r < 0) {
			snprintf(w->err, sizeof(w->err), "writer %d: pwrite chunk %d: %s", w->idx, ch, strerror(-r));
			break;
		}
	}
	close(fd);
	free(buf);
	return NULL;
}

static void *reader(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = malloc(CHUNK);
	int rounds = 0;
	while (!*w->stop || rounds < 2) {
		int fd = openat(w->c->d, "ref", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(w->err, sizeof(w->err), "reader %d: open ref: %s", w->idx, strerror(errno));
			break;
		}
		for (off_t o = 0; o < FILE_SZ; o += CHUNK) {
			off_t at = (o + (off_t)w->idx * 3 * CHUNK) % FILE_SZ;
			ssize_t n = fsc_pread_all(fd, buf, CHUNK, at);
			ssize_t bad = n == CHUNK ? fsc_verify(buf, CHUNK, 99, (uint64_t)at) : 0;
			if (n != CHUNK || bad >= 0) {
				snprintf(w->err, sizeof(w->err), "reader %d: at %lld read %zd bytes, first bad %zd",
					 w->idx, (long long)at, n, bad);
				close(fd);
				free(buf);
				return NULL;
			}
		}
		close(fd);
		rounds++;
	}
	free(buf);
	return NULL;
}

/* Threads creating, renaming and removing names in one directory while another lists it. */
static void *churner(void *arg)
{
	struct worker *w = arg;
	char a[32], b[32];
	for (int i = 0; i < 300; i++) {
		snprintf(a, sizeof(a), "churn/t%d-%d", w->idx, i);
		snprintf(b, sizeof(b), "churn/t%d-%d.r", w->idx, i);
		if (fsc_put(w->c->d, a, a, 0644) < 0 || renameat(w->c->d, a, w->c->d, b) < 0 ||
		    (i % 2 == 0 && unlinkat(w->c->d, b, 0) < 0)) {
			snprintf(w->err, sizeof(w->err), "churner %d step %d: %s", w->idx, i, strerror(errno));
			break;
		}
	}
	return NULL;
}

static int check_concurrent(struct fsc *c)
{
	uint8_t *buf = malloc(FILE_SZ);
	CHECK(buf, "malloc");
	fsc_fill(buf, FILE_SZ, 99, 0);
	int fd = openat(c->d, "ref", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int wr = fd >= 0 ? fsc_write_all(fd, buf, FILE_SZ) : -errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	CHECK(wr == 0, "writing the reference file: %s", strerror(-wr));
	MUST(mkdirat(c->d, "churn", 0755));

	volatile int stop = 0;
	struct worker ws[NWRITERS + NREADERS + 4];
	pthread_t th[NWRITERS + NREADERS + 4];
	int nth = 0;
	for (int i = 0; i < NWRITERS + NREADERS + 4; i++) {
		ws[i] = (struct worker){ .c = c, .idx = i, .stop = &stop };
		void *(*fn)(void *) = i < NWRITERS ? writer : i < NWRITERS + NREADERS ? reader : churner;
		if (pthread_create(&th[i], NULL, fn, &ws[i]) != 0)
			break;
		nth++;
	}
	/* a lister walks the churning directory meanwhile: it must never fail or see garbage */
	int lerr = 0;
	for (int round = 0; round < 20 && !lerr; round++) {
		int dfd = openat(c->d, "churn", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
		if (!dir) {
			lerr = errno ? errno : EIO;
			break;
		}
		struct dirent *de;
		errno = 0;
		while ((de = readdir(dir)))
			if (de->d_name[0] != '.' && de->d_name[0] != 't')
				lerr = EBADMSG;
		if (errno)
			lerr = errno;
		closedir(dir);
	}
	for (int i = 0; i < NWRITERS; i++)
		if (i < nth)
			pthread_join(th[i], NULL);
	stop = 1;
	for (int i = NWRITERS; i < nth; i++)
		pthread_join(th[i], NULL);
	CHECK(nth == NWRITERS + NREADERS + 4, "pthread_create failed");
	for (int i = 0; i < nth; i++)
		CHECK(!ws[i].err[0], "%s", ws[i].err);
	CHECK(!lerr, "listing the churning directory: %s", strerror(lerr));
	/* every writer's file holds exactly its pattern */
	buf = malloc(FILE_SZ);
	for (int i = 0; i < NWRITERS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "w%d", i);
		fd = openat(c->d, name, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? fsc_read_all(fd, buf, FILE_SZ) : -1;
		ssize_t bad = n == FILE_SZ ? fsc_verify(buf, FILE_SZ, 100 + (uint32_t)i, 0) : 0;
		if (fd >= 0)
			close(fd);
		if (n != FILE_SZ || bad >= 0) {
			free(buf);
			FAIL("%s: read %zd bytes, first bad byte at %zd", name, n, bad);
		}
	}
	free(buf);
	int cfd = MUST(openat(c->d, "churn", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	long left = fsc_count_entries(cfd);
	close(cfd);
	CHECK(left == 2 + 4 * 150, "the churned directory holds %ld entries, expected %d", left, 2 + 4 * 150);
	return 0;
}

/* Processes (not threads: separate FUSE owners and pids) write interleaved blocks of one shared file. */
static int check_multiprocess(struct fsc *c)
{
	enum { NPROC = 4, BLK = 4096, NBLK = 512 };
	int fd = MUST(openat(c->d, "shared", O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	MUST(ftruncate(fd, (off_t)BLK * NBLK));
	pid_t pids[NPROC];
	for (int p = 0; p < NPROC; p++) {
		pids[p] = fsc_fork();
		if (pids[p] < 0)
			FAIL("fork: %s", strerror(errno));
		if (pids[p] == 0) {
			alarm(60);
			/* each child opens on its own, and half of them with O_APPEND-free O_DIRECT-free O_SYNC */
			int cfd = openat(c->d, "shared", (p % 2 ? O_RDWR | O_SYNC : O_RDWR) | O_CLOEXEC);
			uint8_t b[BLK];
			for (int k = p; k < NBLK && cfd >= 0; k += NPROC) {
				fsc_fill(b, BLK, 500, (uint64_t)k * BLK);
				if (fsc_pwrite_all(cfd, b, BLK, (off_t)k * BLK) < 0)
					_exit(2);
			}
			_exit(cfd < 0 ? 1 : 0);
		}
	}
	int failed = 0;
	for (int p = 0; p < NPROC; p++) {
		int st = fsc_wait(pids[p]);
		failed += st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	CHECK(!failed, "%d writer processes failed", failed);
	uint8_t *buf = malloc((size_t)BLK * NBLK);
	ssize_t n = fsc_pread_all(fd, buf, (size_t)BLK * NBLK, 0);
	ssize_t bad = n == BLK * NBLK ? fsc_verify(buf, (size_t)BLK * NBLK, 500, 0) : 0;
	close(fd);
	if (n == BLK * NBLK && bad < 0 && c->hd >= 0) { /* and the host holds the same */
		int hfd = openat(c->hd, "shared", O_RDONLY | O_CLOEXEC);
		n = hfd >= 0 ? fsc_pread_all(hfd, buf, (size_t)BLK * NBLK, 0) : -1;
		bad = n == BLK * NBLK ? fsc_verify(buf, (size_t)BLK * NBLK, 500, 0) : 0;
		if (hfd >= 0)
			close(hfd);
	}
	free(buf);
	CHECK(n == BLK * NBLK && bad < 0, "shared file: %zd bytes, first bad byte at %zd", n, bad);
	return 0;
}

const struct fsc_check fsc_scale_checks[] = {
	{ "scale", "dir-10k-entries", check_bigdir },
	{ "scale", "tree-depth-200", check_deep },
	{ "scale", "threads-readers-writers", check_concurrent },
	{ "scale", "processes-shared-file", check_multiprocess },
	{},
};
