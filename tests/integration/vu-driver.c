/* SPDX-License-Identifier: MIT */
/*
 * vu-driver: plays a VMM and its guest's virtio-fs driver against a vhost-user back end (`boxshare serve
 * --socket-path` or QEMU's virtiofsd) over a real unix socket.
 *
 *   vu-driver ops SOCKET HOSTDIR         every FUSE op of the core list once, each checked on the reply and,
 *                                         where it changes files, on the host directory the server shares
 *   (--reference first: the server is QEMU's C virtiofsd, see no_straddle in vu/driver.h)
 *   vu-driver badchain SOCKET HOSTDIR    a guest that loops a descriptor chain: only that queue stops
 *   SOCKET '-': run the server given after "--" on a socketpair (its fd 3, as with virtiofsd's --fd);
 *   SOCKET '@PATH': the same with a socket listening at PATH as its fd 3 (what libvirt passes)
 *   vu-driver bench SOCKET HOSTDIR SECS  load generator: LOOKUP/GETATTR requests/s, 4 KiB and 1 MiB READ and
 *                                         WRITE MiB/s, one line each: "<name> <value> <unit>"
 * Exit status: 0 all checks passed, 1 a check failed, 77 the server could not be reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "vu/driver.h"
#include "vu/fuse.h"

static int failures;
#define CHECK(cond, ...)                                                                                         \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #cond);                                  \
			fprintf(stderr, __VA_ARGS__);                                                            \
			fputc('\n', stderr);                                                                     \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(50 * 1000);
	}
	return -ECONNREFUSED;
}

/* ---- small FUSE helpers ---- */
static struct fc C;

static int lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int n = fc_call(&C, 1, FUSE_LOOKUP, parent, name, strlen(name) + 1, NULL, 0, NULL, 0, sizeof(*e), 0);
	if (n >= 0) {
		if ((size_t)n < sizeof(*e))
			return -EPROTO;
		memcpy(e, C.buf, sizeof(*e));
	}
	return n < 0 ? n : 0;
}

static int open_(uint32_t op, uint64_t ino, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	int n = fc_call(&C, 1, op, ino, &in, sizeof(in), NULL, 0, NULL, 0, sizeof(struct fuse_open_out), 0);
	if (n < 0)
		return n;
	struct fuse_open_out out;
	memcpy(&out, C.buf, sizeof(out));
	*fh = out.fh;
	return 0;
}

static int release(uint32_t op, uint64_t ino, uint64_t fh)
{
	struct fuse_release_in in = { .fh = fh };
	int n = fc_call(&C, 1, op, ino, &in, sizeof(in), NULL, 0, NULL, 0, 0, 0);
	return n < 0 ? n : 0;
}

static int read_(uint64_t ino, uint64_t fh, uint64_t off, uint32_t size, unsigned flags)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	return fc_call(&C, 1, FUSE_READ, ino, &in, sizeof(in), NULL, 0, NULL, 0, size, flags);
}

static int write_(uint64_t ino, uint64_t fh, uint64_t off, const void *data, uint32_t size, unsigned flags)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = size };
	int n = fc_call(&C, 1, FUSE_WRITE, ino, &in, sizeof(in), data, size, NULL, 0, sizeof(struct fuse_write_out),
			flags);
	if (n < 0)
		return n;
	struct fuse_write_out out;
	memcpy(&out, C.buf, sizeof(out));
	return (int)out.size;
}

static bool dir_has(const uint8_t *buf, int n, const char *name, bool plus)
{
	size_t off = 0;
	while (off < (size_t)n) {
		const struct fuse_dirent *de;
		size_t rec;
		if (plus) {
			const struct fuse_direntplus *dp = (const void *)(buf + off);
			de = &dp->dirent;
			rec = FUSE_DIRENTPLUS_SIZE(dp);
		} else {
			de = (const void *)(buf + off);
			rec = FUSE_DIRENT_SIZE(de);
		}
		if (de->namelen == strlen(name) && memcmp(de->name, name, de->namelen) == 0)
			return true;
		off += rec;
	}
	return false;
}

static uint32_t cksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* ---- the battery ---- */
static bool reference;

static void ops(int hostdir)
{
	struct fuse_entry_out e, e2;
	uint64_t fh;
	int n;

	/* set-up on the host */
	int f = openat(hostdir, "hello", O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(f >= 0 && write(f, "hello world\n", 12) == 12, "host file");
	close(f);
	mkdirat(hostdir, "sub", 0755);

	CHECK(lookup(FUSE_ROOT_ID, "hello", &e) == 0 && e.attr.size == 12 && e.nodeid != 0, "LOOKUP hello");
	uint64_t hello = e.nodeid;
	CHECK(lookup(FUSE_ROOT_ID, "missing", &e2) == -ENOENT || (e2.nodeid == 0), "LOOKUP missing");
	CHECK(lookup(hello, "x", &e2) == -ENOTDIR, "LOOKUP in a file");

	struct fuse_getattr_in ga = { 0 };
	n = fc_call(&C, 1, FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0, NULL, 0, sizeof(struct fuse_attr_out), 0);
	CHECK(n >= (int)sizeof(struct fuse_attr_out) && S_ISDIR(((struct fuse_attr_out *)C.buf)->attr.mode),
	      "GETATTR root: %d", n);

	CHECK(open_(FUSE_OPEN, hello, O_RDONLY, &fh) == 0, "OPEN");
	n = read_(hello, fh, 0, 4096, 0);
	CHECK(n == 12 && memcmp(C.buf, "hello world\n", 12) == 0, "READ: %d", n);
	n = read_(hello, fh, 6, 4096, VUD_INDIRECT | VUD_SPLIT);
	CHECK(n == 6 && memcmp(C.buf, "world\n", 6) == 0, "READ indirect split: %d", n);
	CHECK(fc_call(&C, 1, FUSE_FLUSH, hello, &(struct fuse_flush_in){ .fh = fh }, sizeof(struct fuse_flush_in),
		      NULL, 0, NULL, 0, 0, 0) == 0, "FLUSH");
	CHECK(release(FUSE_RELEASE, hello, fh) == 0, "RELEASE");

	/* CREATE, big WRITE (spanning the driver's two memory regions), READ back, checksum on the host */
	struct fuse_create_in ci = { .flags = O_RDWR, .mode = S_IFREG | 0644, .umask = 022 };
	n = fc_call(&C, 1, FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "new", 4, NULL, 0,
		    sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), 0);
	CHECK(n >= (int)(sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)), "CREATE: %d", n);
	uint64_t newino = 0;
	if (n > 0) {
		memcpy(&e, C.buf, sizeof(e));
		newino = e.nodeid;
		struct fuse_open_out oo;
		memcpy(&oo, C.buf + sizeof(e), sizeof(oo));
		fh = oo.fh;
	}
	size_t big = 1u << 20;
	uint8_t *pat = malloc(big);
	for (size_t i = 0; i < big; i++)
		pat[i] = (uint8_t)(i * 131 + (i >> 12));
	size_t chunk = C.max_write < big ? C.max_write : big, done = 0;
	while (done < big) {
		size_t k = big - done < chunk ? big - done : chunk;
		n = write_(newino, fh, done, pat + done, (uint32_t)k, done % 2 ? VUD_SPLIT : 0);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	CHECK(done == big, "WRITE 1 MiB: %zu written (max_write %u)", done, C.max_write);
	CHECK(fc_call(&C, 1, FUSE_FSYNC, newino, &(struct fuse_fsync_in){ .fh = fh }, sizeof(struct fuse_fsync_in),
		      NULL, 0, NULL, 0, 0, 0) == 0, "FSYNC");
	n = read_(newino, fh, 0, (uint32_t)big, 0);
	CHECK(n == (int)big && cksum(C.buf, big) == cksum(pat, big), "READ 1 MiB back: %d", n);
	struct stat st;
	f = openat(hostdir, "new", O_RDONLY | O_CLOEXEC);
	uint8_t *hb = malloc(big);
	CHECK(f >= 0 && pread(f, hb, big, 0) == (ssize_t)big && cksum(hb, big) == cksum(pat, big), "host sees the write");
	close(f);
	free(hb);
	free(pat);

	/* SETATTR: size and mode */
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE | FATTR_FH, .size = 1000, .fh = fh };
	n = fc_call(&C, 1, FUSE_SETATTR, newino, &sa, sizeof(sa), NULL, 0, NULL, 0, sizeof(struct fuse_attr_out), 0);
	CHECK(n >= 0 && fstatat(hostdir, "new", &st, 0) == 0 && st.st_size == 1000, "SETATTR size: %d", n);
	sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = S_IFREG | 0600 };
	n = fc_call(&C, 1, FUSE_SETATTR, newino, &sa, sizeof(sa), NULL, 0, NULL, 0, sizeof(struct fuse_attr_out), 0);
	CHECK(n >= 0 && fstatat(hostdir, "new", &st, 0) == 0 && (st.st_mode & 07777) == 0600, "SETATTR mode: %d", n);

	/* FALLOCATE, LSEEK, COPY_FILE_RANGE */
	struct fuse_fallocate_in fa = { .fh = fh, .offset = 0, .length = 8192 };
	n = fc_call(&C, 1, FUSE_FALLOCATE, newino, &fa, sizeof(fa), NULL, 0, NULL, 0, 0, 0);
	CHECK(n == 0 && fstatat(hostdir, "new", &st, 0) == 0 && st.st_size == 8192, "FALLOCATE: %d", n);
	struct fuse_lseek_in li = { .fh = fh, .offset = 0, .whence = SEEK_DATA };
	n = fc_call(&C, 1, FUSE_LSEEK, newino, &li, sizeof(li), NULL, 0, NULL, 0, sizeof(struct fuse_lseek_out), 0);
	CHECK(n == (int)sizeof(struct fuse_lseek_out) && ((struct fuse_lseek_out *)C.buf)->offset == 0, "LSEEK: %d", n);
	struct fuse_copy_file_range_in cr = { .fh_in = fh, .off_in = 0, .nodeid_out = newino, .fh_out = fh,
					      .off_out = 8192, .len = 100 };
	n = fc_call(&C, 1, FUSE_COPY_FILE_RANGE, newino, &cr, sizeof(cr), NULL, 0, NULL, 0,
		    sizeof(struct fuse_write_out), 0);
	CHECK(n >= 0 && ((struct fuse_write_out *)C.buf)->size == 100, "COPY_FILE_RANGE: %d", n);

	/* locks: a write lock by owner 1 conflicts for owner 2 */
	struct fuse_lk_in lk = { .fh = fh, .owner = 1, .lk = { .start = 0, .end = 99, .type = F_WRLCK, .pid = 1 } };
	n = fc_call(&C, 1, FUSE_SETLK, newino, &lk, sizeof(lk), NULL, 0, NULL, 0, 0, 0);
	CHECK(n == 0, "SETLK: %d", n);
	lk.owner = 2;
	lk.lk.pid = 0; /* QEMU's virtiofsd answers F_OFD_GETLK's EINVAL otherwise */
	n = fc_call(&C, 1, FUSE_GETLK, newino, &lk, sizeof(lk), NULL, 0, NULL, 0, sizeof(struct fuse_lk_out), 0);
	CHECK(n >= (int)sizeof(struct fuse_lk_out) && ((struct fuse_lk_out *)C.buf)->lk.type == F_WRLCK,
	      "GETLK sees the conflict: %d type %u", n, n > 0 ? ((struct fuse_lk_out *)C.buf)->lk.type : 99);
	lk.owner = 1;
	lk.lk.type = F_UNLCK;
	CHECK(fc_call(&C, 1, FUSE_SETLK, newino, &lk, sizeof(lk), NULL, 0, NULL, 0, 0, 0) == 0, "unlock");
	lk = (struct fuse_lk_in){ .fh = fh, .owner = 3, .lk_flags = FUSE_LK_FLOCK, .lk = { .type = F_WRLCK } };
	CHECK(fc_call(&C, 1, FUSE_SETLK, newino, &lk, sizeof(lk), NULL, 0, NULL, 0, 0, 0) == 0, "flock");
	lk.lk.type = F_UNLCK;
	CHECK(fc_call(&C, 1, FUSE_SETLK, newino, &lk, sizeof(lk), NULL, 0, NULL, 0, 0, 0) == 0, "flock unlock");
	CHECK(release(FUSE_RELEASE, newino, fh) == 0, "RELEASE new");

	/* MKDIR, MKNOD, SYMLINK, READLINK, LINK */
	struct fuse_mkdir_in mi = { .mode = 0755, .umask = 022 };
	n = fc_call(&C, 1, FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "d1", 3, NULL, 0, sizeof(e), 0);
	CHECK(n >= 0 && fstatat(hostdir, "d1", &st, 0) == 0 && S_ISDIR(st.st_mode), "MKDIR: %d", n);
	uint64_t d1 = n >= 0 ? ((struct fuse_entry_out *)C.buf)->nodeid : 0;
	struct fuse_mknod_in mk = { .mode = S_IFIFO | 0644, .umask = 022 };
	n = fc_call(&C, 1, FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "p", 2, NULL, 0, sizeof(e), 0);
	CHECK(n >= 0 && fstatat(hostdir, "p", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISFIFO(st.st_mode), "MKNOD: %d", n);
	n = fc_call(&C, 1, FUSE_SYMLINK, FUSE_ROOT_ID, "sl", 3, "hello", 6, NULL, 0, sizeof(e), 0);
	CHECK(n >= 0, "SYMLINK: %d", n);
	uint64_t sl = n >= 0 ? ((struct fuse_entry_out *)C.buf)->nodeid : 0;
	n = fc_call(&C, 1, FUSE_READLINK, sl, NULL, 0, NULL, 0, NULL, 0, 4096, 0);
	CHECK(n == 5 && memcmp(C.buf, "hello", 5) == 0, "READLINK: %d", n);
	struct fuse_link_in ln = { .oldnodeid = hello };
	n = fc_call(&C, 1, FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "hl", 3, NULL, 0, sizeof(e), 0);
	CHECK(n >= 0 && fstatat(hostdir, "hello", &st, 0) == 0 && st.st_nlink == 2, "LINK: %d", n);

	/* RENAME into d1, and RENAME2 with NOREPLACE onto an existing name */
	struct fuse_rename2_in rn = { .newdir = d1 };
	n = fc_call(&C, 1, FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "new", 4, "moved", 6, 0, 0);
	CHECK(n == 0 && fstatat(hostdir, "d1/moved", &st, 0) == 0 && faccessat(hostdir, "new", F_OK, 0) < 0,
	      "RENAME2: %d", n);
	rn = (struct fuse_rename2_in){ .newdir = FUSE_ROOT_ID, .flags = RENAME_NOREPLACE };
	n = fc_call(&C, 1, FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "hl", 3, "hello", 6, 0, 0);
	CHECK(n == -EEXIST, "RENAME2 NOREPLACE: %d", n);
	struct fuse_rename_in ro = { .newdir = FUSE_ROOT_ID };
	n = fc_call(&C, 1, FUSE_RENAME, FUSE_ROOT_ID, &ro, sizeof(ro), "hl", 3, "hl2", 4, 0, 0);
	CHECK(n == 0 && faccessat(hostdir, "hl2", F_OK, 0) == 0, "RENAME: %d", n);

	/* directories */
	CHECK(open_(FUSE_OPENDIR, FUSE_ROOT_ID, O_RDONLY, &fh) == 0, "OPENDIR");
	struct fuse_read_in rd = { .fh = fh, .size = 8192 };
	n = fc_call(&C, 1, FUSE_READDIR, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, 0, NULL, 0, 8192, 0);
	CHECK(n > 0 && dir_has(C.buf, n, "hello", false) && dir_has(C.buf, n, "d1", false), "READDIR: %d", n);
	n = fc_call(&C, 1, FUSE_READDIRPLUS, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, 0, NULL, 0, 8192, 0);
	CHECK(n > 0 && dir_has(C.buf, n, "sub", true), "READDIRPLUS: %d", n);
	CHECK(fc_call(&C, 1, FUSE_FSYNCDIR, FUSE_ROOT_ID, &(struct fuse_fsync_in){ .fh = fh },
		      sizeof(struct fuse_fsync_in), NULL, 0, NULL, 0, 0, 0) == 0, "FSYNCDIR");
	CHECK(release(FUSE_RELEASEDIR, FUSE_ROOT_ID, fh) == 0, "RELEASEDIR");

	n = fc_call(&C, 1, FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL, 0, sizeof(struct fuse_statfs_out), 0);
	CHECK(n >= (int)sizeof(struct fuse_statfs_out) && ((struct fuse_statfs_out *)C.buf)->st.bsize > 0, "STATFS: %d", n);
	struct fuse_access_in ac = { .mask = R_OK };
	n = fc_call(&C, 1, FUSE_ACCESS, FUSE_ROOT_ID, &ac, sizeof(ac), NULL, 0, NULL, 0, 0, 0);
	CHECK(n == 0 || n == -ENOSYS, "ACCESS: %d", n);

	/* xattrs */
	struct fuse_setxattr_in sx = { .size = 3 };
	n = fc_call(&C, 1, FUSE_SETXATTR, hello, &sx, offsetof(struct fuse_setxattr_in, setxattr_flags), "user.t", 7,
		    "abc", 3, 0, 0);
	char xv[8] = { 0 };
	CHECK(n == 0 && fgetxattr(openat(hostdir, "hello", O_RDONLY | O_CLOEXEC), "user.t", xv, sizeof(xv)) == 3 &&
		      memcmp(xv, "abc", 3) == 0,
	      "SETXATTR: %d", n);
	struct fuse_getxattr_in gx = { .size = 0 };
	n = fc_call(&C, 1, FUSE_GETXATTR, hello, &gx, sizeof(gx), "user.t", 7, NULL, 0, sizeof(struct fuse_getxattr_out), 0);
	CHECK(n >= (int)sizeof(struct fuse_getxattr_out) && ((struct fuse_getxattr_out *)C.buf)->size == 3,
	      "GETXATTR size: %d", n);
	gx.size = 64;
	n = fc_call(&C, 1, FUSE_GETXATTR, hello, &gx, sizeof(gx), "user.t", 7, NULL, 0, 64, 0);
	CHECK(n == 3 && memcmp(C.buf, "abc", 3) == 0, "GETXATTR value: %d", n);
	n = fc_call(&C, 1, FUSE_LISTXATTR, hello, &gx, sizeof(gx), NULL, 0, NULL, 0, 64, 0);
	CHECK(n >= 7 && memmem(C.buf, (size_t)n, "user.t", 7) != NULL, "LISTXATTR: %d", n);
	n = fc_call(&C, 1, FUSE_REMOVEXATTR, hello, "user.t", 7, NULL, 0, NULL, 0, 0, 0);
	CHECK(n == 0, "REMOVEXATTR: %d", n);
	gx.size = 64;
	n = fc_call(&C, 1, FUSE_GETXATTR, hello, &gx, sizeof(gx), "user.t", 7, NULL, 0, 64, 0);
	CHECK(n == -ENODATA, "GETXATTR after remove: %d", n);

	/* UNLINK, RMDIR */
	CHECK(fc_call(&C, 1, FUSE_UNLINK, d1, "moved", 6, NULL, 0, NULL, 0, 0, 0) == 0, "UNLINK");
	CHECK(fc_call(&C, 1, FUSE_UNLINK, FUSE_ROOT_ID, "p", 2, NULL, 0, NULL, 0, 0, 0) == 0, "UNLINK fifo");
	CHECK(fc_call(&C, 1, FUSE_UNLINK, FUSE_ROOT_ID, "sl", 3, NULL, 0, NULL, 0, 0, 0) == 0, "UNLINK symlink");
	CHECK(fc_call(&C, 1, FUSE_UNLINK, FUSE_ROOT_ID, "hl2", 4, NULL, 0, NULL, 0, 0, 0) == 0, "UNLINK link");
	n = fc_call(&C, 1, FUSE_RMDIR, FUSE_ROOT_ID, "d1", 3, NULL, 0, NULL, 0, 0, 0);
	CHECK(n == 0 && faccessat(hostdir, "d1", F_OK, AT_SYMLINK_NOFOLLOW) < 0, "RMDIR: %d", n);
	CHECK(fc_call(&C, 1, FUSE_RMDIR, FUSE_ROOT_ID, "sub", 4, NULL, 0, NULL, 0, 0, 0) == 0, "RMDIR sub");

	/* the hiprio queue: FORGET, BATCH_FORGET, INTERRUPT take no reply */
	struct fuse_forget_in fo = { .nlookup = 1 };
	CHECK(fc_call(&C, 0, FUSE_FORGET, sl, &fo, sizeof(fo), NULL, 0, NULL, 0, 0, 0) == -ENODATA, "FORGET");
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one one[2];
	} bf = { { .count = 2 }, { { .nodeid = d1, .nlookup = 1 }, { .nodeid = newino, .nlookup = 1 } } };
	CHECK(fc_call(&C, 0, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0, NULL, 0, 0, 0) == -ENODATA,
	      "BATCH_FORGET");
	struct fuse_interrupt_in ir = { .unique = 999999 };
	/* QEMU's C virtiofsd (libfuse) answers an INTERRUPT of an unknown request later with EAGAIN under the
	 * next request's slot, and then dies: not run against it */
	if (!reference)
		CHECK(fc_call(&C, 0, FUSE_INTERRUPT, 0, &ir, sizeof(ir), NULL, 0, NULL, 0, 0, 0) == -ENODATA, "INTERRUPT");
	/* an unknown opcode is refused, not served */
	n = fc_call(&C, 1, 4000, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL, 0, 64, 0);
	CHECK(n == -ENOSYS, "unknown opcode: %d", n);
	/* the server still answers after all that */
	CHECK(lookup(FUSE_ROOT_ID, "hello", &e) == 0, "LOOKUP at the end");

	/* DESTROY ends the session; a new INIT starts another on the same connection (a remount) */
	n = fc_call(&C, 1, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL, 0, 0, 0);
	CHECK(n == 0, "DESTROY: %d", n);
	CHECK(fc_handshake(&C) == 0, "INIT after DESTROY");
	CHECK(lookup(FUSE_ROOT_ID, "hello", &e) == 0, "LOOKUP after re-INIT");

	/* a guest reboot: the VMM stops and restarts the rings, the new guest driver sends INIT without any
	 * DESTROY before it; the server must serve it as a new client */
	n = vud_restart_rings(C.d);
	CHECK(n == 0, "ring restart: %s", strerror(-n));
	CHECK((n = fc_handshake(&C)) == 0, "INIT after a reboot: %d", n);
	CHECK(lookup(FUSE_ROOT_ID, "hello", &e) == 0, "LOOKUP after a reboot");
	unlinkat(hostdir, "hello", 0);
	unlinkat(hostdir, "new", 0);
}

/* ---- load generator ---- */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keep `depth` requests in flight on queue 1 for secs seconds; returns completed requests. */
static double pump(double secs, unsigned depth, uint32_t op, uint64_t nodeid, const void *a1, size_t l1,
		   const void *a2, size_t l2, size_t room, long *ret_done)
{
	struct vud *d = C.d;
	long done = 0;
	unsigned inflight = 0;
	double t0 = now_s(), t1 = t0;
	for (;;) {
		bool stop = (t1 = now_s()) - t0 >= secs;
		while (!stop && inflight < depth) {
			struct fuse_in_header h = { .len = (uint32_t)(sizeof(h) + l1 + l2), .opcode = op,
						    .unique = C.unique++, .nodeid = nodeid };
			struct iovec iov[3] = { { &h, sizeof(h) }, { (void *)a1, l1 }, { (void *)a2, l2 } };
			if (vud_submit(d, 1, iov, 3, sizeof(struct fuse_out_header) + room, 0) < 0)
				break;
			inflight++;
		}
		vud_kick(d, 1);
		if (inflight == 0)
			break;
		int s = vud_wait(d, 1, 10000);
		if (s < 0) {
			fprintf(stderr, "bench: wait: %s\n", strerror(-s));
			exit(1);
		}
		uint32_t len;
		const struct fuse_out_header *oh = vud_reply(d, 1, (unsigned)s, &len);
		if (len < sizeof(*oh) || oh->error) {
			fprintf(stderr, "bench: op %u failed: %d\n", op, len < sizeof(*oh) ? -EPROTO : oh->error);
			exit(1);
		}
		vud_release(d, 1, (unsigned)s);
		inflight--;
		done++;
	}
	*ret_done = done;
	return t1 - t0;
}

static void bench(int hostdir, double secs)
{
	struct fuse_entry_out e;
	uint64_t fh;
	int f = openat(hostdir, "bench.dat", O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
	if (f < 0 || ftruncate(f, 64 << 20) < 0) {
		fprintf(stderr, "bench: cannot create bench.dat\n");
		exit(1);
	}
	close(f);
	if (lookup(FUSE_ROOT_ID, "bench.dat", &e) < 0 || open_(FUSE_OPEN, e.nodeid, O_RDWR, &fh) < 0) {
		fprintf(stderr, "bench: cannot open bench.dat over FUSE\n");
		exit(1);
	}
	long done;
	double t;
	/* requests in flight (VU_BENCH_DEPTH, 1..16): 1 measures latency, 8 throughput */
	unsigned depth = getenv("VU_BENCH_DEPTH") ? (unsigned)atoi(getenv("VU_BENCH_DEPTH")) : 8;
	if (depth < 1 || depth > 16)
		depth = 8;
	t = pump(secs, depth, FUSE_LOOKUP, FUSE_ROOT_ID, "bench.dat", 10, NULL, 0, sizeof(e), &done);
	printf("lookup %.0f req/s\n", done / t);
	struct fuse_getattr_in ga = { 0 };
	t = pump(secs, depth, FUSE_GETATTR, e.nodeid, &ga, sizeof(ga), NULL, 0, sizeof(struct fuse_attr_out), &done);
	printf("getattr %.0f req/s\n", done / t);
	static uint8_t wbuf[1 << 20];
	memset(wbuf, 0x5a, sizeof(wbuf));
	uint32_t sizes[2] = { 4096, 1 << 20 };
	for (int i = 0; i < 2; i++) {
		uint32_t sz = sizes[i] < C.max_write ? sizes[i] : C.max_write;
		struct fuse_read_in ri = { .fh = fh, .offset = 0, .size = sz };
		t = pump(secs, depth, FUSE_READ, e.nodeid, &ri, sizeof(ri), NULL, 0, sz, &done);
		printf("read-%s %.1f MiB/s\n", i ? "1m" : "4k", done * (double)sz / t / 1048576.0);
		struct fuse_write_in wi = { .fh = fh, .offset = 0, .size = sz };
		t = pump(secs, depth, FUSE_WRITE, e.nodeid, &wi, sizeof(wi), wbuf, sz, sizeof(struct fuse_write_out),
			 &done);
		printf("write-%s %.1f MiB/s\n", i ? "1m" : "4k", done * (double)sz / t / 1048576.0);
	}
	release(FUSE_RELEASE, e.nodeid, fh);
	unlinkat(hostdir, "bench.dat", 0);
}

/* A guest that breaks its ring: a looping chain on request queue 1. The server must stop that queue only:
 * the hiprio queue still completes requests, and a hang-up afterwards is still a clean exit. */
static void badchain(void)
{
	struct vud *d = C.d;
	uint8_t *buf = vud_slot(d, 1, 5);
	uint16_t b = 5 * VUD_DESC_PER_SLOT;
	vud_raw_desc(d, 1, b, vud_gpa(d, buf), 64, VIRTQ_DESC_F_NEXT, (uint16_t)(b + 1));
	vud_raw_desc(d, 1, (uint16_t)(b + 1), vud_gpa(d, buf), 64, VIRTQ_DESC_F_NEXT, b);
	d->q[1].busy[5] = true;
	vud_raw_publish(d, 1, b);
	vud_kick(d, 1);
	CHECK(vud_wait(d, 1, 500) == -ETIMEDOUT, "the looping chain was completed");
	struct fuse_interrupt_in ir = { .unique = 424242 };
	CHECK(fc_call(&C, 0, FUSE_INTERRUPT, 0, &ir, sizeof(ir), NULL, 0, NULL, 0, 0, 0) == -ENODATA,
	      "the hiprio queue stopped too");
}

/*
 * Run the server ourselves with its fd 3 set up as a VMM or libvirt does for virtiofsd's --fd: a connected
 * socketpair (listen_path NULL), or a listening socket at listen_path that we then connect to.
 */
static int spawn(char **cmd, const char *listen_path, pid_t *ret_pid)
{
	int sv[2];
	if (listen_path) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(listen_path) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		strcpy(sa.sun_path, listen_path);
		sv[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (sv[1] < 0 || bind(sv[1], (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(sv[1], 1) < 0)
			return -errno;
		sv[0] = -1;
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (dup2(sv[1], 3) < 0) /* dup2 clears O_CLOEXEC on the copy */
			_exit(127);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	close(sv[1]);
	*ret_pid = pid;
	return listen_path ? connect_to(listen_path) : sv[0];
}

int main(int argc, char **argv)
{
	reference = argc > 1 && strcmp(argv[1], "--reference") == 0;
	if (reference) {
		argv++;
		argc--;
	}
	char **cmd = NULL;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			cmd = argv + i + 1;
			argc = i;
			break;
		}
	if (argc < 4 || (strcmp(argv[1], "ops") && strcmp(argv[1], "bench") && strcmp(argv[1], "badchain")) ||
	    ((strcmp(argv[2], "-") == 0 || argv[2][0] == '@') && (!cmd || !cmd[0]))) {
		fprintf(stderr, "usage: vu-driver [--reference] ops|badchain SOCKET HOSTDIR [-- SERVER ARGS]\n"
				"       vu-driver [--reference] bench SOCKET HOSTDIR SECONDS\n"
				"SOCKET '-': run SERVER ARGS with the other end of a socketpair as its fd 3;\n"
				"SOCKET '@PATH': ... with a socket listening at PATH as its fd 3. The server must\n"
				"then exit 0 after the hang-up\n");
		return 2;
	}
	const char *mode = argv[1];
	int hostdir = open(argv[3], O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (hostdir < 0) {
		fprintf(stderr, "vu-driver: %s: %m\n", argv[3]);
		return 2;
	}
	pid_t child = -1;
	int fd;
	if (strcmp(argv[2], "-") == 0)
		fd = spawn(cmd, NULL, &child);
	else if (argv[2][0] == '@')
		fd = spawn(cmd, argv[2] + 1, &child);
	else
		fd = connect_to(argv[2]);
	if (fd < 0) {
		fprintf(stderr, "vu-driver: connect %s: %s\n", argv[2], strerror(-fd));
		return 77;
	}
	struct vud_xport x;
	struct vud *d;
	struct vud_opts o = { .nqueues = 2, .slots = 16, .slot_bytes = (1u << 20) + 16384, .event_idx = true,
			      .indirect = true, .no_straddle = reference };
	vud_xport_socket(fd, &x);
	int r = vud_new(&x, &o, &d);
	if (r == 0)
		r = vud_setup(d);
	if (r < 0) {
		fprintf(stderr, "vu-driver: vhost-user set-up: %s\n", strerror(-r));
		return 1;
	}
	if (fc_init(&C, d) < 0 || (r = fc_handshake(&C)) < 0) {
		fprintf(stderr, "vu-driver: FUSE_INIT: %s\n", strerror(-r));
		return 1;
	}
	if (!strcmp(mode, "bench"))
		bench(hostdir, argc > 4 && atof(argv[4]) > 0 ? atof(argv[4]) : 2.0);
	else if (!strcmp(mode, "badchain"))
		badchain();
	else
		ops(hostdir);
	fc_done(&C);
	vud_free(d);
	close(fd);
	close(hostdir);
	if (child > 0) {
		int st;
		if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "vu-driver: the server did not exit 0 after the hang-up (status 0x%x)\n", st);
			failures++;
		}
	}
	if (failures) {
		fprintf(stderr, "vu-driver: %d check(s) failed\n", failures);
		return 1;
	}
	printf("vu-driver: %s passed\n", mode);
	return 0;
}
