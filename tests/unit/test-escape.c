/* SPDX-License-Identifier: MIT */
/*
 * Escape attempts as raw FUSE requests, fed to proto_handle() in-process over a passthrough of a temp dir.
 * The kernel filters many of these before they reach a /dev/fuse server; a hostile guest on virtio-fs does
 * not. Every attempt must be refused (an error reply, or dropped where the protocol says so), and nothing
 * outside the share may change: a sentinel directory beside the share is compared before and after.
 *
 * Layout of the temp dir T:  T/share (served)  T/outside/{sentinel,dir}  (must never change)
 * The share holds links out (absolute and climbing), a fifo, a unix socket and, as root, device nodes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boxshare/fs.h>
#include "fs/passthrough.h"
#include "proto/proto.h"
#include "util/macros.h"

static int tap_n, tap_failed;
static void tap(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;
	printf("%s %d - ", ok ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok)
		tap_failed++;
}

static char T[64], share[128], outside[128], sentinel[160];
static struct proto_session *sess;
static uint8_t *reply;
static size_t reply_room;
static uint64_t next_unique = 1;

/* ---- requests ---- */

struct rep {
	ssize_t len;   /* proto_handle's return: 0 = no reply (dropped or FORGET) */
	int error;     /* the reply's error (0 or -errno) */
	void *payload; /* after the out header */
	size_t plen;
};

/* Send header + args (+ extra bytes) with the header's len field set to len_override if non-zero. */
static struct rep send_raw(uint32_t opcode, uint64_t nodeid, const void *args, size_t args_len, uint32_t len_override)
{
	size_t total = sizeof(struct fuse_in_header) + args_len;
	uint8_t *buf = calloc(1, total);
	struct fuse_in_header h = {
		.len = len_override ? len_override : (uint32_t)total,
		.opcode = opcode,
		.unique = next_unique++,
		.nodeid = nodeid,
		.uid = 0,
		.gid = 0,
		.pid = (uint32_t)getpid(),
	};
	memcpy(buf, &h, sizeof(h));
	if (args_len)
		memcpy(buf + sizeof(h), args, args_len);
	struct iovec in = { buf, total }, out = { reply, reply_room };
	memset(reply, 0xa5, sizeof(struct fuse_out_header));
	struct rep r = { .len = proto_handle(sess, &in, 1, &out, 1) };
	free(buf);
	if (r.len >= (ssize_t)sizeof(struct fuse_out_header)) {
		struct fuse_out_header oh;
		memcpy(&oh, reply, sizeof(oh));
		r.error = oh.error;
		r.payload = reply + sizeof(oh);
		r.plen = (size_t)r.len - sizeof(oh);
		if (oh.len != (uint32_t)r.len || oh.unique != h.unique) {
			tap(false, "reply header of opcode %u: len %u (returned %zd), unique %llu (sent %llu)", opcode,
			    oh.len, r.len, (unsigned long long)oh.unique, (unsigned long long)h.unique);
			r.error = -EPROTO;
		}
		if ((size_t)r.len > reply_room)
			tap(false, "reply of opcode %u is %zd bytes, the room was %zu", opcode, r.len, reply_room);
	} else if (r.len < 0) {
		r.error = (int)r.len;
	}
	return r;
}

static struct rep send_req(uint32_t opcode, uint64_t nodeid, const void *args, size_t args_len)
{
	return send_raw(opcode, nodeid, args, args_len, 0);
}

/* An argument struct followed by one or two NUL-terminated names (nul=false: the last name without its NUL). */
static struct rep send_named(uint32_t opcode, uint64_t nodeid, const void *st, size_t st_len, const char *n1,
			     size_t n1len, const char *n2, size_t n2len)
{
	size_t len = st_len + n1len + (n2 ? n2len : 0);
	uint8_t *b = calloc(1, len + 1);
	if (st_len)
		memcpy(b, st, st_len);
	memcpy(b + st_len, n1, n1len);
	if (n2)
		memcpy(b + st_len + n1len, n2, n2len);
	struct rep r = send_req(opcode, nodeid, b, len);
	free(b);
	return r;
}
#define NAME(s) (s), sizeof(s) /* a literal with its NUL */

static bool refused(struct rep r)
{
	return r.len == 0 || r.error < 0;
}

static uint64_t lookup(uint64_t parent, const char *name, struct fuse_entry_out *ret)
{
	struct rep r = send_named(FUSE_LOOKUP, parent, NULL, 0, name, strlen(name) + 1, NULL, 0);
	if (r.error || r.plen < sizeof(struct fuse_entry_out))
		return 0;
	struct fuse_entry_out e;
	memcpy(&e, r.payload, sizeof(e));
	if (ret)
		*ret = e;
	return e.nodeid;
}

/* ---- the sentinel: everything in T except the share, with stat, content and xattrs ---- */

static char *describe_outside(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	static const char *const names[] = { "", "/sentinel", "/dir" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char p[256], v[64], c[64] = "";
		struct stat st;
		snprintf(p, sizeof(p), "%s%s", outside, names[i]);
		if (lstat(p, &st) < 0) {
			fprintf(f, "%s: missing\n", p);
			continue;
		}
		ssize_t n = lgetxattr(p, "user.sentinel", v, sizeof(v));
		if (S_ISREG(st.st_mode)) {
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				ssize_t k = read(fd, c, sizeof(c) - 1);
				c[k > 0 ? k : 0] = 0;
				close(fd);
			}
		}
		fprintf(f, "%s: mode %o uid %u gid %u size %lld nlink %lu mtime %lld.%ld ctime %lld.%ld xattr %zd '%s'\n",
			p, st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size, (unsigned long)st.st_nlink,
			(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
			st.st_ctim.tv_nsec, n, c);
	}
	/* and what T holds: nothing but share and outside */
	DIR *d = opendir(T);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "share") &&
		    strcmp(de->d_name, "outside"))
			fprintf(f, "T holds a new entry '%s'\n", de->d_name);
	if (d)
		closedir(d);
	d = opendir(outside);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "sentinel") &&
		    strcmp(de->d_name, "dir"))
			fprintf(f, "outside holds a new entry '%s'\n", de->d_name);
	if (d)
		closedir(d);
	fclose(f);
	return out;
}

static int setup_dirs(void)
{
	snprintf(T, sizeof(T), "/tmp/test-escape.XXXXXX");
	if (!mkdtemp(T))
		return -errno;
	snprintf(share, sizeof(share), "%s/share", T);
	snprintf(outside, sizeof(outside), "%s/outside", T);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", outside);
	char p[256];
	if (mkdir(share, 0755) < 0 || mkdir(outside, 0755) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/dir", outside);
	if (mkdir(p, 0755) < 0)
		return -errno;
	int fd = open(sentinel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (write(fd, "sentinel", 8) != 8) {
		close(fd);
		return -EIO;
	}
	fsetxattr(fd, "user.sentinel", "orig", 4, 0); /* best effort: tmpfs without user xattrs is fine */
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	futimens(fd, ts);
	close(fd);

	/* inside the share */
	snprintf(p, sizeof(p), "%s/f", share);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "0123456789", 10) != 10)
		return -EIO;
	close(fd);
	snprintf(p, sizeof(p), "%s/d", share);
	if (mkdir(p, 0755) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/out", share);
	if (symlink(sentinel, p) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/outdir", share);
	if (symlink(outside, p) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/up", share);
	if (symlink("../outside", p) < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/fifo", share);
	if (mkfifo(p, 0666) < 0)
		return -errno;
	if (geteuid() == 0) {
		struct stat root;
		stat("/", &root);
		snprintf(p, sizeof(p), "%s/null", share);
		if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) < 0)
			return -errno;
		snprintf(p, sizeof(p), "%s/disk", share);
		if (mknod(p, S_IFBLK | 0600, root.st_dev) < 0)
			return -errno;
	}
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "sock" };
	int r = (cwd >= 0 && s >= 0 && chdir(share) == 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) ? 0
														 : -errno;
	if (cwd >= 0) {
		if (fchdir(cwd) < 0 && r == 0)
			r = -errno;
		close(cwd);
	}
	if (s >= 0)
		close(s);
	return r;
}

static void rm_tree(const char *path)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "test-escape: could not remove %s\n", path);
}

/* ---- the checks ---- */

static void test_init(void)
{
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 1 << 20,
		.flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT |
			 FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_FLOCK_LOCKS | FUSE_DO_READDIRPLUS |
			 FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_INIT_EXT,
	};
	struct rep r = send_req(FUSE_LOOKUP, FS_ROOT_ID, "f", 2);
	tap(refused(r), "a request before INIT is refused (error %d)", r.error);
	r = send_req(FUSE_INIT, 0, &in, sizeof(in));
	tap(r.error == 0 && r.plen >= FUSE_COMPAT_22_INIT_OUT_SIZE, "INIT answered (error %d, %zu bytes)", r.error,
	    r.plen);
	r = send_req(FUSE_INIT, 0, &in, sizeof(in));
	tap(refused(r), "a second INIT is refused (error %d)", r.error);
}

static void test_names(uint64_t d)
{
	static const char *const bad[] = { "a/b", "../escape", "..", ".", "/", "x/", "/abs", "../outside/new" };
	struct fuse_mkdir_in mk = { .mode = 0755, .umask = 0 };
	struct fuse_mknod_in mn = { .mode = S_IFREG | 0644 };
	struct fuse_create_in cr = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *n = bad[i];
		size_t nl = strlen(n) + 1;
		for (int k = 0; k < 2; k++) {
			uint64_t parent = k ? d : FS_ROOT_ID;
			struct rep r = send_named(FUSE_MKDIR, parent, &mk, sizeof(mk), n, nl, NULL, 0);
			tap(refused(r), "MKDIR '%s' in %s refused (error %d)", n, k ? "a subdir" : "the root", r.error);
			r = send_named(FUSE_MKNOD, parent, &mn, sizeof(mn), n, nl, NULL, 0);
			tap(refused(r), "MKNOD '%s' refused (error %d)", n, r.error);
			r = send_named(FUSE_CREATE, parent, &cr, sizeof(cr), n, nl, NULL, 0);
			tap(refused(r), "CREATE '%s' refused (error %d)", n, r.error);
			r = send_named(FUSE_SYMLINK, parent, NULL, 0, n, nl, "target", 7);
			tap(refused(r), "SYMLINK named '%s' refused (error %d)", n, r.error);
			uint64_t f = lookup(FS_ROOT_ID, "f", NULL);
			struct fuse_link_in li = { .oldnodeid = f };
			r = send_named(FUSE_LINK, parent, &li, sizeof(li), n, nl, NULL, 0);
			tap(refused(r), "LINK to '%s' refused (error %d)", n, r.error);
			struct fuse_forget_in fg = { .nlookup = 1 };
			send_req(FUSE_FORGET, f, &fg, sizeof(fg));
			struct fuse_rename2_in rn = { .newdir = parent };
			r = send_named(FUSE_RENAME2, FS_ROOT_ID, &rn, sizeof(rn), NAME("f"), n, nl);
			tap(refused(r), "RENAME2 f -> '%s' refused (error %d)", n, r.error);
			struct fuse_rename_in ro = { .newdir = FS_ROOT_ID };
			r = send_named(FUSE_RENAME, parent, &ro, sizeof(ro), n, nl, NAME("stolen"));
			tap(refused(r), "RENAME '%s' -> stolen refused (error %d)", n, r.error);
		}
		if (strcmp(n, ".") && strcmp(n, "..")) {
			struct rep r = send_named(FUSE_LOOKUP, FS_ROOT_ID, NULL, 0, n, nl, NULL, 0);
			tap(refused(r), "LOOKUP '%s' refused (error %d)", n, r.error);
			r = send_named(FUSE_UNLINK, FS_ROOT_ID, NULL, 0, n, nl, NULL, 0);
			tap(refused(r), "UNLINK '%s' refused (error %d)", n, r.error);
			r = send_named(FUSE_RMDIR, FS_ROOT_ID, NULL, 0, n, nl, NULL, 0);
			tap(refused(r), "RMDIR '%s' refused (error %d)", n, r.error);
		}
	}
	/* a name without its NUL, an empty name, a name over NAME_MAX */
	struct rep r = send_named(FUSE_MKDIR, FS_ROOT_ID, &mk, sizeof(mk), "nonul", 5, NULL, 0);
	tap(refused(r), "MKDIR with a name lacking its NUL refused (error %d)", r.error);
	r = send_named(FUSE_LOOKUP, FS_ROOT_ID, NULL, 0, "f", 1, NULL, 0);
	tap(refused(r), "LOOKUP with a name lacking its NUL refused (error %d)", r.error);
	r = send_named(FUSE_MKDIR, FS_ROOT_ID, &mk, sizeof(mk), "", 1, NULL, 0);
	tap(refused(r), "MKDIR of an empty name refused (error %d)", r.error);
	char longn[300];
	memset(longn, 'n', 256);
	longn[256] = 0;
	r = send_named(FUSE_MKDIR, FS_ROOT_ID, &mk, sizeof(mk), longn, 257, NULL, 0);
	tap(r.error == -ENAMETOOLONG, "MKDIR of a 256-byte name: ENAMETOOLONG (error %d)", r.error);
	r = send_named(FUSE_SYMLINK, FS_ROOT_ID, NULL, 0, NAME("nonulsym"), "target-without-nul", 18);
	tap(refused(r), "SYMLINK whose target lacks its NUL refused (error %d)", r.error);
	/* an embedded NUL: "a\0/b" is the name "a" followed by junk, which must not become a path */
	r = send_named(FUSE_MKDIR, FS_ROOT_ID, &mk, sizeof(mk), "ok\0../x", 8, NULL, 0);
	struct stat st;
	char p[256];
	snprintf(p, sizeof(p), "%s/x", T);
	tap(lstat(p, &st) < 0, "MKDIR with junk after the name's NUL created nothing outside (error %d)", r.error);
}

static void test_dotdot(uint64_t d)
{
	struct stat share_st, t_st;
	stat(share, &share_st);
	stat(T, &t_st);
	struct fuse_entry_out e;
	struct rep r = send_named(FUSE_LOOKUP, FS_ROOT_ID, NULL, 0, NAME(".."), NULL, 0);
	if (r.error == 0 && r.plen >= sizeof(e)) {
		memcpy(&e, r.payload, sizeof(e));
		tap(e.attr.ino == share_st.st_ino && e.attr.ino != t_st.st_ino,
		    "LOOKUP '..' of the root is the root (ino %llu, share %llu, its parent %llu)",
		    (unsigned long long)e.attr.ino, (unsigned long long)share_st.st_ino,
		    (unsigned long long)t_st.st_ino);
		struct fuse_forget_in fg = { .nlookup = 1 };
		send_req(FUSE_FORGET, e.nodeid, &fg, sizeof(fg));
		/* and going on from it: its "outside" must not exist */
		uint64_t up = e.nodeid;
		uint64_t o = lookup(up, "outside", NULL);
		tap(o == 0, "LOOKUP 'outside' in the root's '..' finds nothing");
	} else {
		tap(refused(r), "LOOKUP '..' of the root refused (error %d)", r.error);
	}
	/* '..' of a subdirectory is the root, and its '..' again the root */
	r = send_named(FUSE_LOOKUP, d, NULL, 0, NAME(".."), NULL, 0);
	if (r.error == 0 && r.plen >= sizeof(e)) {
		memcpy(&e, r.payload, sizeof(e));
		tap(e.attr.ino == share_st.st_ino, "LOOKUP '..' of a subdirectory is the root");
		struct fuse_forget_in fg = { .nlookup = 1 };
		send_req(FUSE_FORGET, e.nodeid, &fg, sizeof(fg));
	} else {
		tap(refused(r), "LOOKUP '..' of a subdirectory refused (error %d)", r.error);
	}
}

static void test_links(void)
{
	struct fuse_entry_out e;
	uint64_t out = lookup(FS_ROOT_ID, "out", &e);
	uint64_t outdir = lookup(FS_ROOT_ID, "outdir", NULL);
	uint64_t up = lookup(FS_ROOT_ID, "up", NULL);
	tap(out && outdir && up && S_ISLNK(e.attr.mode), "LOOKUP of the links out gives symlinks");
	/* a symlink's node used as a directory: never followed */
	uint64_t links[] = { outdir, up };
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		struct fuse_mkdir_in mk = { .mode = 0755 };
		struct rep r = send_named(FUSE_MKDIR, links[i], &mk, sizeof(mk), NAME("planted"), NULL, 0);
		tap(refused(r), "MKDIR under a symlink's node refused (error %d)", r.error);
		r = send_named(FUSE_LOOKUP, links[i], NULL, 0, NAME("sentinel"), NULL, 0);
		tap(refused(r), "LOOKUP under a symlink's node refused (error %d)", r.error);
		struct fuse_create_in cr = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
		r = send_named(FUSE_CREATE, links[i], &cr, sizeof(cr), NAME("planted"), NULL, 0);
		tap(refused(r), "CREATE under a symlink's node refused (error %d)", r.error);
		struct fuse_open_in op = { .flags = O_RDONLY | O_DIRECTORY };
		r = send_req(FUSE_OPENDIR, links[i], &op, sizeof(op));
		tap(refused(r), "OPENDIR of a symlink's node refused (error %d)", r.error);
		r = send_named(FUSE_UNLINK, links[i], NULL, 0, NAME("sentinel"), NULL, 0);
		tap(refused(r), "UNLINK under a symlink's node refused (error %d)", r.error);
	}
	/* opening the link to the outside file, even with O_TRUNC, never reaches the target */
	static const int oflags[] = { O_RDONLY, O_RDWR, O_WRONLY | O_TRUNC, O_RDWR | O_APPEND };
	for (size_t i = 0; i < ARRAY_SIZE(oflags); i++) {
		struct fuse_open_in op = { .flags = (uint32_t)oflags[i] };
		struct rep r = send_req(FUSE_OPEN, out, &op, sizeof(op));
		tap(refused(r), "OPEN (flags %o) of a symlink's node refused (error %d)", oflags[i], r.error);
	}
	/* SETATTR of the link: size never truncates the target; owner and times land on the link */
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	struct rep r = send_req(FUSE_SETATTR, out, &sa, sizeof(sa));
	tap(refused(r), "SETATTR size of a symlink's node refused (error %d)", r.error);
	/* mode: refused or applied to the link; the target is compared at the end */
	sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = S_IFLNK | 0600 };
	send_req(FUSE_SETATTR, out, &sa, sizeof(sa));
	if (geteuid() == 0) {
		sa = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID, .uid = 4321, .gid = 4322 };
		r = send_req(FUSE_SETATTR, out, &sa, sizeof(sa));
		struct stat st;
		char p[256];
		snprintf(p, sizeof(p), "%s/out", share);
		lstat(p, &st);
		tap(r.error == 0 && st.st_uid == 4321, "SETATTR owner of a symlink changes the link (error %d, uid %u)",
		    r.error, st.st_uid);
		sa = (struct fuse_setattr_in){ .valid = FATTR_ATIME | FATTR_MTIME, .atime = 5, .mtime = 6 };
		r = send_req(FUSE_SETATTR, out, &sa, sizeof(sa));
		lstat(p, &st);
		tap(r.error == 0 && st.st_mtim.tv_sec == 6, "SETATTR times of a symlink change the link (error %d)",
		    r.error);
		/* an xattr set on the link's node lands on the link or is refused, never on the target */
		struct fuse_setxattr_in sx = { .size = 4 };
		uint8_t b[sizeof(sx) + 32];
		memcpy(b, &sx, sizeof(sx));
		memcpy(b + sizeof(sx), "trusted.bx\0link", 15);
		send_req(FUSE_SETXATTR, out, b, sizeof(sx) + 15); /* the target is compared at the end */
		memcpy(b + sizeof(sx), "user.sentinel\0evil", 18);
		r = send_req(FUSE_SETXATTR, out, b, sizeof(sx) + 18);
		tap(refused(r), "SETXATTR user.* on a symlink's node refused (error %d)", r.error);
	}
	struct fuse_getxattr_in gx = { .size = 64 };
	uint8_t b[sizeof(gx) + 32];
	memcpy(b, &gx, sizeof(gx));
	memcpy(b + sizeof(gx), "user.sentinel", 14);
	r = send_req(FUSE_GETXATTR, out, b, sizeof(gx) + 14);
	tap(refused(r), "GETXATTR of the target's xattr through the link's node refused (error %d)", r.error);
	r = send_req(FUSE_READLINK, out, NULL, 0);
	tap(r.error == 0 && r.plen == strlen(sentinel) && !memcmp(r.payload, sentinel, r.plen),
	    "READLINK gives the target verbatim (error %d)", r.error);
}

static void test_special_files(void)
{
	static const char *const names[] = { "fifo", "sock", "null", "disk" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct fuse_entry_out e;
		uint64_t n = lookup(FS_ROOT_ID, names[i], &e);
		if (!n) {
			if (i >= 2 && geteuid() != 0)
				tap(true, "LOOKUP %s # SKIP device nodes need root", names[i]);
			else
				tap(false, "LOOKUP of the %s failed", names[i]);
			continue;
		}
		static const int oflags[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_NONBLOCK, O_WRONLY | O_NONBLOCK };
		for (size_t k = 0; k < ARRAY_SIZE(oflags); k++) {
			struct fuse_open_in op = { .flags = (uint32_t)oflags[k] };
			struct rep r = send_req(FUSE_OPEN, n, &op, sizeof(op));
			tap(refused(r), "OPEN (flags %o) of the %s refused (error %d)", oflags[k], names[i], r.error);
			if (!refused(r) && r.plen >= sizeof(struct fuse_open_out)) {
				struct fuse_open_out oo;
				memcpy(&oo, r.payload, sizeof(oo));
				struct fuse_release_in rl = { .fh = oo.fh };
				send_req(FUSE_RELEASE, n, &rl, sizeof(rl));
			}
		}
		struct fuse_open_in op = { .flags = O_RDONLY };
		struct rep r = send_req(FUSE_OPENDIR, n, &op, sizeof(op));
		tap(refused(r), "OPENDIR of the %s refused (error %d)", names[i], r.error);
		/* as the parent of a new entry */
		struct fuse_mkdir_in mk = { .mode = 0755 };
		r = send_named(FUSE_MKDIR, n, &mk, sizeof(mk), NAME("x"), NULL, 0);
		tap(refused(r), "MKDIR under the %s refused (error %d)", names[i], r.error);
		struct fuse_forget_in fg = { .nlookup = 1 };
		send_req(FUSE_FORGET, n, &fg, sizeof(fg));
	}
	/* CREATE of a special file with O_TRUNC over the fifo: the fifo's node is not reopened */
	struct fuse_create_in cr = { .flags = O_WRONLY | O_CREAT | O_TRUNC, .mode = 0644 };
	struct rep r = send_named(FUSE_CREATE, FS_ROOT_ID, &cr, sizeof(cr), NAME("fifo"), NULL, 0);
	tap(refused(r), "CREATE over the existing fifo refused (error %d)", r.error);
	/* MKNOD of a device node, as the client may ask: allowed or not, it cannot then be opened */
	struct fuse_mknod_in mn = { .mode = S_IFCHR | 0666, .rdev = makedev(1, 3) };
	r = send_named(FUSE_MKNOD, FS_ROOT_ID, &mn, sizeof(mn), NAME("newnull"), NULL, 0);
	if (r.error == 0 && r.plen >= sizeof(struct fuse_entry_out)) {
		struct fuse_entry_out e;
		memcpy(&e, r.payload, sizeof(e));
		struct fuse_open_in op = { .flags = O_RDWR };
		struct rep o = send_req(FUSE_OPEN, e.nodeid, &op, sizeof(op));
		tap(refused(o), "OPEN of a device node made by MKNOD refused (error %d)", o.error);
	} else {
		tap(refused(r), "MKNOD of a device node refused (error %d)", r.error);
	}
}

static void test_bad_ids(void)
{
	static const uint64_t ids[] = { 0, 2, 3, 12345, (1ull << 40) | 1, (2ull << 40) | 7, (1ull << 63) | 1,
					UINT64_MAX, UINT64_MAX - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		struct fuse_getattr_in ga = { 0 };
		struct rep r = send_req(FUSE_GETATTR, ids[i], &ga, sizeof(ga));
		tap(refused(r), "GETATTR of node id %#llx never handed out refused (error %d)",
		    (unsigned long long)ids[i], r.error);
		r = send_named(FUSE_LOOKUP, ids[i], NULL, 0, NAME("f"), NULL, 0);
		tap(refused(r), "LOOKUP in node id %#llx refused (error %d)", (unsigned long long)ids[i], r.error);
		struct fuse_open_in op = { .flags = O_RDWR };
		r = send_req(FUSE_OPEN, ids[i], &op, sizeof(op));
		tap(refused(r), "OPEN of node id %#llx refused (error %d)", (unsigned long long)ids[i], r.error);
		struct fuse_mkdir_in mk = { .mode = 0755 };
		r = send_named(FUSE_MKDIR, ids[i], &mk, sizeof(mk), NAME("x"), NULL, 0);
		tap(refused(r), "MKDIR in node id %#llx refused (error %d)", (unsigned long long)ids[i], r.error);
		/* FORGET of it: no reply, nothing breaks */
		struct fuse_forget_in fg = { .nlookup = UINT64_MAX };
		r = send_req(FUSE_FORGET, ids[i], &fg, sizeof(fg));
		tap(r.len == 0, "FORGET of unknown node id %#llx takes no reply", (unsigned long long)ids[i]);
	}
	/* BATCH_FORGET: unknown ids, and a count larger than the payload */
	struct {
		struct fuse_batch_forget_in b;
		struct fuse_forget_one one[3];
	} bf = { .b = { .count = 3 }, .one = { { 12345, 1 }, { UINT64_MAX, 5 }, { 0, 1 } } };
	struct rep r = send_req(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	tap(r.len == 0, "BATCH_FORGET of unknown ids takes no reply");
	bf.b.count = 1000000;
	r = send_req(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf));
	tap(r.len == 0, "BATCH_FORGET whose count exceeds its payload is dropped");
	/* FORGET of the root and over-forgetting a real node: the root lives on, the node can be found again */
	struct fuse_forget_in fg = { .nlookup = 1000 };
	send_req(FUSE_FORGET, FS_ROOT_ID, &fg, sizeof(fg));
	uint64_t f = lookup(FS_ROOT_ID, "f", NULL);
	send_req(FUSE_FORGET, f, &fg, sizeof(fg));
	struct fuse_getattr_in ga = { 0 };
	r = send_req(FUSE_GETATTR, FS_ROOT_ID, &ga, sizeof(ga));
	tap(r.error == 0, "the root survives FORGET (error %d)", r.error);
	r = send_req(FUSE_GETATTR, f, &ga, sizeof(ga));
	tap(r.error == 0 || refused(r), "GETATTR of an over-forgotten node answers (error %d)", r.error);
	f = lookup(FS_ROOT_ID, "f", NULL);
	tap(f != 0, "LOOKUP finds the over-forgotten file again");
	/* file handles never handed out */
	struct fuse_read_in rd = { .fh = 0xdeadbeef, .offset = 0, .size = 10 };
	r = send_req(FUSE_READ, f, &rd, sizeof(rd));
	tap(refused(r), "READ with a file handle never handed out refused (error %d)", r.error);
	struct {
		struct fuse_write_in w;
		char data[4];
	} wr = { .w = { .fh = 0xdeadbeef, .size = 4 }, .data = "evil" };
	r = send_req(FUSE_WRITE, f, &wr, sizeof(wr));
	tap(refused(r), "WRITE with a file handle never handed out refused (error %d)", r.error);
	struct fuse_release_in rl = { .fh = 0xdeadbeef };
	send_req(FUSE_RELEASE, f, &rl, sizeof(rl));
	struct fuse_open_in op = { .flags = O_RDONLY };
	r = send_req(FUSE_OPENDIR, FS_ROOT_ID, &op, sizeof(op));
	tap(r.error == 0, "OPENDIR of the root (error %d)", r.error);
	struct fuse_read_in rdd = { .fh = 0xfeedface, .size = 4096 };
	r = send_req(FUSE_READDIR, FS_ROOT_ID, &rdd, sizeof(rdd));
	tap(refused(r), "READDIR with a directory handle never handed out refused (error %d)", r.error);
	if (f) {
		fg.nlookup = 1;
		send_req(FUSE_FORGET, f, &fg, sizeof(fg));
	}
}

static uint64_t open_f(uint64_t *ret_node, int flags)
{
	uint64_t f = lookup(FS_ROOT_ID, "f", NULL);
	struct fuse_open_in op = { .flags = (uint32_t)flags };
	struct rep r = send_req(FUSE_OPEN, f, &op, sizeof(op));
	struct fuse_open_out oo = { 0 };
	if (r.error == 0 && r.plen >= sizeof(oo))
		memcpy(&oo, r.payload, sizeof(oo));
	*ret_node = f;
	return oo.fh;
}

static void test_sizes(void)
{
	uint64_t f;
	uint64_t fh = open_f(&f, O_RDWR);
	tap(f != 0, "OPEN of f for the size checks");
	/* READ sizes and offsets at the limits */
	static const struct {
		uint64_t off;
		uint32_t size;
	} rds[] = { { 0, UINT32_MAX }, { 0, (1u << 31) }, { UINT64_MAX, 10 }, { 1ull << 63, 4096 },
		    { INT64_MAX, 1 }, { UINT64_MAX - 5, UINT32_MAX } };
	for (size_t i = 0; i < ARRAY_SIZE(rds); i++) {
		struct fuse_read_in rd = { .fh = fh, .offset = rds[i].off, .size = rds[i].size };
		struct rep r = send_req(FUSE_READ, f, &rd, sizeof(rd));
		tap(r.len >= 0 && (size_t)r.len <= reply_room && (r.error < 0 || r.plen <= 10 || rds[i].off == 0),
		    "READ off %#llx size %#x: error %d, %zu bytes, within the reply room",
		    (unsigned long long)rds[i].off, rds[i].size, r.error, r.plen);
	}
	/* WRITE at offsets beyond any file */
	static const uint64_t offs[] = { UINT64_MAX - 1, 1ull << 63, INT64_MAX };
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
		struct {
			struct fuse_write_in w;
			char data[4];
		} wr = { .w = { .fh = fh, .offset = offs[i], .size = 4 }, .data = "huge" };
		struct rep r = send_req(FUSE_WRITE, f, &wr, sizeof(wr));
		tap(refused(r), "WRITE at offset %#llx refused (error %d)", (unsigned long long)offs[i], r.error);
	}
	/* SETATTR sizes */
	static const uint64_t sizes[] = { UINT64_MAX, 1ull << 63, (1ull << 62) };
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = sizes[i] };
		struct rep r = send_req(FUSE_SETATTR, f, &sa, sizeof(sa));
		tap(refused(r), "SETATTR size %#llx refused (error %d)", (unsigned long long)sizes[i], r.error);
	}
	/* FALLOCATE with overflowing ranges, LSEEK with huge offsets */
	struct fuse_fallocate_in fa = { .fh = fh, .offset = UINT64_MAX - 10, .length = 100 };
	struct rep r = send_req(FUSE_FALLOCATE, f, &fa, sizeof(fa));
	tap(refused(r), "FALLOCATE whose range overflows refused (error %d)", r.error);
	fa = (struct fuse_fallocate_in){ .fh = fh, .offset = 0, .length = UINT64_MAX };
	r = send_req(FUSE_FALLOCATE, f, &fa, sizeof(fa));
	tap(refused(r), "FALLOCATE of 2^64-1 bytes refused (error %d)", r.error);
	struct fuse_lseek_in ls = { .fh = fh, .offset = UINT64_MAX, .whence = SEEK_DATA };
	r = send_req(FUSE_LSEEK, f, &ls, sizeof(ls));
	tap(refused(r), "LSEEK SEEK_DATA from 2^64-1 refused (error %d)", r.error);
	ls = (struct fuse_lseek_in){ .fh = fh, .offset = 0, .whence = 77 };
	r = send_req(FUSE_LSEEK, f, &ls, sizeof(ls));
	tap(refused(r), "LSEEK with whence 77 refused (error %d)", r.error);
	struct fuse_copy_file_range_in cf = { .fh_in = fh, .off_in = UINT64_MAX - 1, .nodeid_out = f, .fh_out = fh,
					      .off_out = 0, .len = UINT64_MAX };
	r = send_req(FUSE_COPY_FILE_RANGE, f, &cf, sizeof(cf));
	tap(r.len >= 0, "COPY_FILE_RANGE of 2^64-1 bytes from 2^64-2 answers (error %d)", r.error);
	/* xattr sizes: a huge size asks for no huge allocation; a value shorter than its size is refused */
	struct fuse_getxattr_in gx = { .size = UINT32_MAX };
	uint8_t b[sizeof(struct fuse_setxattr_in) + 64];
	memcpy(b, &gx, sizeof(gx));
	memcpy(b + sizeof(gx), "user.x", 7);
	r = send_req(FUSE_GETXATTR, f, b, sizeof(gx) + 7);
	tap(r.len > 0 && (size_t)r.len <= reply_room, "GETXATTR with size 2^32-1 answers within the room (error %d)",
	    r.error);
	r = send_req(FUSE_LISTXATTR, f, &gx, sizeof(gx));
	tap(r.len > 0 && (size_t)r.len <= reply_room, "LISTXATTR with size 2^32-1 answers within the room (error %d)",
	    r.error);
	struct fuse_setxattr_in sx = { .size = 1000 };
	memcpy(b, &sx, sizeof(sx));
	memcpy(b + sizeof(sx), "user.x\0abc", 10);
	r = send_req(FUSE_SETXATTR, f, b, sizeof(sx) + 10);
	tap(refused(r), "SETXATTR whose value is shorter than its size refused (error %d)", r.error);
	sx.size = UINT32_MAX;
	memcpy(b, &sx, sizeof(sx));
	r = send_req(FUSE_SETXATTR, f, b, sizeof(sx) + 10);
	tap(refused(r), "SETXATTR with size 2^32-1 refused (error %d)", r.error);
	/* READDIR of 2^32-1 bytes and from a huge cookie */
	struct fuse_open_in op = { .flags = O_RDONLY };
	r = send_req(FUSE_OPENDIR, FS_ROOT_ID, &op, sizeof(op));
	struct fuse_open_out oo = { 0 };
	if (r.error == 0 && r.plen >= sizeof(oo))
		memcpy(&oo, r.payload, sizeof(oo));
	struct fuse_read_in rd = { .fh = oo.fh, .offset = 0, .size = UINT32_MAX };
	r = send_req(FUSE_READDIR, FS_ROOT_ID, &rd, sizeof(rd));
	tap(r.len > 0 && (size_t)r.len <= reply_room, "READDIR of 2^32-1 bytes answers within the room (error %d)",
	    r.error);
	rd.offset = UINT64_MAX;
	rd.size = 4096;
	r = send_req(FUSE_READDIRPLUS, FS_ROOT_ID, &rd, sizeof(rd));
	tap(r.len > 0, "READDIRPLUS from cookie 2^64-1 answers (error %d, %zu bytes)", r.error, r.plen);
	struct fuse_release_in rl = { .fh = oo.fh };
	send_req(FUSE_RELEASEDIR, FS_ROOT_ID, &rl, sizeof(rl));
	rl.fh = fh;
	send_req(FUSE_RELEASE, f, &rl, sizeof(rl));
	struct fuse_forget_in fg = { .nlookup = 1 };
	send_req(FUSE_FORGET, f, &fg, sizeof(fg));
}

static void test_write_lengths(void)
{
	uint64_t f;
	uint64_t fh = open_f(&f, O_RDWR);
	char p[256], c[64];
	snprintf(p, sizeof(p), "%s/f", share);
	/* the payload is shorter than write_in.size */
	struct {
		struct fuse_write_in w;
		char data[10];
	} wr = { .w = { .fh = fh, .offset = 0, .size = 100 }, .data = "XXXXXXXXXX" };
	struct rep r = send_req(FUSE_WRITE, f, &wr, sizeof(wr));
	tap(refused(r), "WRITE whose size (100) exceeds its payload (10) refused (error %d)", r.error);
	/* the payload is longer than write_in.size: only size bytes, or refused; never the extra */
	wr.w.size = 2;
	r = send_req(FUSE_WRITE, f, &wr, sizeof(wr));
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, c, sizeof(c) - 1) : -1;
	if (fd >= 0)
		close(fd);
	c[n > 0 ? n : 0] = 0;
	tap(n == 10 && (!strcmp(c, "0123456789") || !strcmp(c, "XX23456789")),
	    "WRITE whose payload (10) exceeds its size (2): file is '%s' (error %d)", c, r.error);
	/* the header's len disagrees with the buffer, both ways */
	wr.w.size = 10;
	r = send_raw(FUSE_WRITE, f, &wr, sizeof(wr), (uint32_t)(sizeof(struct fuse_in_header) + sizeof(wr) + 4096));
	tap(refused(r), "WRITE whose header len exceeds the buffer refused (error %d)", r.error);
	r = send_raw(FUSE_WRITE, f, &wr, sizeof(wr), (uint32_t)(sizeof(struct fuse_in_header) + sizeof(wr) - 5));
	tap(refused(r), "WRITE whose header len is short of the buffer refused (error %d)", r.error);
	r = send_raw(FUSE_WRITE, f, &wr, sizeof(wr), 8);
	tap(refused(r), "WRITE whose header len is shorter than a header refused (error %d)", r.error);
	/* a WRITE shorter than its fuse_write_in */
	r = send_req(FUSE_WRITE, f, &wr, 20);
	tap(refused(r), "WRITE cut inside fuse_write_in refused (error %d)", r.error);
	/* a request shorter than the header is dropped without a reply */
	struct iovec in = { &wr, 10 }, out = { reply, reply_room };
	ssize_t k = proto_handle(sess, &in, 1, &out, 1);
	tap(k == 0, "a 10-byte request is dropped (returned %zd)", k);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, c, sizeof(c) - 1) : -1;
	if (fd >= 0)
		close(fd);
	c[n > 0 ? n : 0] = 0;
	tap(n == 10 && (!strcmp(c, "0123456789") || !strcmp(c, "XX23456789")), "f holds '%s' after the bad writes",
	    c);
	struct fuse_release_in rl = { .fh = fh };
	send_req(FUSE_RELEASE, f, &rl, sizeof(rl));
	struct fuse_forget_in fg = { .nlookup = 1 };
	send_req(FUSE_FORGET, f, &fg, sizeof(fg));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int r = setup_dirs();
	if (r < 0) {
		fprintf(stderr, "test-escape: setting up %s: %s\n", T, strerror(-r));
		if (T[0])
			rm_tree(T);
		return 77;
	}
	char *before = describe_outside();

	struct fs_inomap *map = fs_inomap_new();
	int rootfd = open(share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct pt_opts po;
	pt_opts_default(&po);
	struct fs *fs = NULL;
	r = map && rootfd >= 0 && procfd >= 0 ? pt_new(rootfd, procfd, &po, map, &fs) : -EIO;
	if (r < 0) {
		fprintf(stderr, "test-escape: pt_new: %s\n", strerror(-r));
		rm_tree(T);
		return 1;
	}
	struct proto_opts opts = { .max_write = 1 << 20, .virtio = true };
	r = proto_session_new(fs, &opts, NULL, &sess);
	if (r < 0) {
		fprintf(stderr, "test-escape: proto_session_new: %s\n", strerror(-r));
		rm_tree(T);
		return 1;
	}
	reply_room = proto_reply_room(sess);
	reply = malloc(reply_room);

	test_init();
	uint64_t d = lookup(FS_ROOT_ID, "d", NULL);
	tap(d != 0, "LOOKUP of the subdirectory d");
	test_names(d);
	test_dotdot(d);
	test_links();
	test_special_files();
	test_bad_ids();
	test_sizes();
	test_write_lengths();

	struct rep rd = send_req(FUSE_DESTROY, 0, NULL, 0);
	tap(rd.error == 0, "DESTROY (error %d)", rd.error);
	proto_session_free(sess);
	fs_inomap_unref(map);
	close(procfd);
	free(reply);

	char *after = describe_outside();
	bool same = !strcmp(before, after);
	tap(same, "nothing outside the share changed");
	if (!same)
		printf("# before:\n%s# after:\n%s", before, after);
	/* and inside the share, no entry with a name that was refused */
	static const char *const planted[] = { "planted", "stolen", "nonul", "escape", "x", "abs" };
	for (size_t i = 0; i < ARRAY_SIZE(planted); i++) {
		char p[256];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", share, planted[i]);
		tap(lstat(p, &st) < 0, "the share holds no '%s'", planted[i]);
	}
	free(before);
	free(after);
	rm_tree(T);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
