/* SPDX-License-Identifier: MIT */
/*
 * INIT: version and feature negotiation. We speak 7.38 (Debian 12's linux/fuse.h); a newer client is answered
 * at 7.38 and adapts, an older one gets the reply sizes and argument layouts of its minor (the compat sizes
 * of fs/fuse and libfuse). Features: the FS_CAP_* the client offers, restricted by what proto wants by default
 * and then by the fs's init(); writeback, POSIX ACLs, submounts and passthrough only when proto_opts asks for
 * them; POSIX and flock locks unless proto_opts leaves them to the client kernel.
 *
 * FUSE_PASSTHROUGH is a 7.40 flag, but the client reads it (and max_stack_depth) from any 7.36+ reply with
 * FUSE_INIT_EXT: it does not look at our minor. It is granted only when asked for, when the transport can
 * register backing files, when the client offers it and when the writeback cache is not granted (the client
 * turns passthrough off then; proto prefers writeback, which the command line refuses to combine anyway).
 */
#include <unistd.h>

#include "proto/fuse-compat.h"
#include "proto/session.h"
#include "util/log.h"
#include "util/macros.h"

static const struct {
	uint64_t fuse;
	uint64_t cap;
} capmap[] = {
	{ FUSE_ASYNC_READ, FS_CAP_ASYNC_READ },
	{ FUSE_POSIX_LOCKS, FS_CAP_POSIX_LOCKS },
	{ FUSE_ATOMIC_O_TRUNC, FS_CAP_ATOMIC_O_TRUNC },
	{ FUSE_EXPORT_SUPPORT, FS_CAP_EXPORT_SUPPORT },
	{ FUSE_BIG_WRITES, FS_CAP_BIG_WRITES },
	{ FUSE_DONT_MASK, FS_CAP_DONT_MASK },
	{ FUSE_FLOCK_LOCKS, FS_CAP_FLOCK_LOCKS },
	{ FUSE_DO_READDIRPLUS, FS_CAP_READDIRPLUS },
	{ FUSE_READDIRPLUS_AUTO, FS_CAP_READDIRPLUS_AUTO },
	{ FUSE_ASYNC_DIO, FS_CAP_ASYNC_DIO },
	{ FUSE_WRITEBACK_CACHE, FS_CAP_WRITEBACK_CACHE },
	{ FUSE_PARALLEL_DIROPS, FS_CAP_PARALLEL_DIROPS },
	{ FUSE_HANDLE_KILLPRIV_V2, FS_CAP_HANDLE_KILLPRIV_V2 },
	{ FUSE_POSIX_ACL, FS_CAP_POSIX_ACL },
	{ FUSE_CACHE_SYMLINKS, FS_CAP_CACHE_SYMLINKS },
	{ FUSE_SETXATTR_EXT, FS_CAP_SETXATTR_EXT },
	{ FUSE_SUBMOUNTS, FS_CAP_SUBMOUNTS },
	{ FUSE_PASSTHROUGH, FS_CAP_PASSTHROUGH },
};

/*
 * FUSE_DIRECT_IO_ALLOW_MMAP (7.39, Linux 6.6): without it the client refuses MAP_SHARED on a file opened with
 * FOPEN_DIRECT_IO (ENODEV), so `--cache never` would break every program that maps a file shared. Granting
 * it only lets the client use its page cache for such mappings (it invalidates them on open and on direct
 * writes); nothing changes for files without FOPEN_DIRECT_IO. (The define: fuse-compat.h.)
 */

/*
 * The stacking depth of the file systems backing files may live on, plus one: 1 accepts backing files on
 * ordinary file systems (ext4, xfs, btrfs, tmpfs) and makes our mount count as stacked once, so it can still
 * be an overlayfs lower layer (overlayfs allows a depth of 2). A backing file on overlayfs itself is refused
 * by the kernel (ELOOP) and that file is served through us instead.
 */
#define PROTO_MAX_STACK_DEPTH 1

/* What a passthrough server wants when the client offers it (see the list). */
#define PROTO_WANT_DEFAULT                                                                                       \
	(FS_CAP_ASYNC_READ | FS_CAP_POSIX_LOCKS | FS_CAP_ATOMIC_O_TRUNC | FS_CAP_EXPORT_SUPPORT |                 \
	 FS_CAP_BIG_WRITES | FS_CAP_DONT_MASK | FS_CAP_FLOCK_LOCKS | FS_CAP_READDIRPLUS |                          \
	 FS_CAP_READDIRPLUS_AUTO | FS_CAP_ASYNC_DIO | FS_CAP_PARALLEL_DIROPS | FS_CAP_HANDLE_KILLPRIV_V2 |          \
	 FS_CAP_CACHE_SYMLINKS | FS_CAP_SETXATTR_EXT)

uint32_t proto_fopen_flags(uint32_t f)
{
	uint32_t o = 0;
	if (f & FS_OPEN_DIRECT_IO)
		o |= FOPEN_DIRECT_IO;
	if (f & FS_OPEN_KEEP_CACHE)
		o |= FOPEN_KEEP_CACHE;
	if (f & FS_OPEN_NONSEEKABLE)
		o |= FOPEN_NONSEEKABLE;
	if (f & FS_OPEN_CACHE_DIR)
		o |= FOPEN_CACHE_DIR;
	if (f & FS_OPEN_NOFLUSH)
		o |= FOPEN_NOFLUSH;
	if (f & FS_OPEN_PARALLEL_DIRECT_WRITES)
		o |= FOPEN_PARALLEL_DIRECT_WRITES;
	return o;
}

static size_t init_out_size(uint32_t minor)
{
	if (minor < 5)
		return FUSE_COMPAT_INIT_OUT_SIZE;
	if (minor < 23)
		return FUSE_COMPAT_22_INIT_OUT_SIZE;
	return sizeof(struct fuse_init_out);
}

ssize_t proto_do_init(struct proto_req *r)
{
	struct proto_session *s = r->s;
	struct fuse_init_in in;
	/* 7.0-7.5 sent major and minor only */
	if (req_get_compat(r, &in, sizeof(in), 8) < 0)
		return -EINVAL;

	int expect = PS_NEW;
	if (!atomic_compare_exchange_strong(&s->state, &expect, PS_INITIALIZING))
		return -EIO;

	struct fuse_init_out out = { .major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION };
	if (in.major > FUSE_KERNEL_VERSION) {
		/* a newer major: tell the client ours; it sends INIT again (fs/fuse and libfuse do this) */
		atomic_store(&s->state, PS_NEW);
		return reply_struct(r, &out, FUSE_COMPAT_INIT_OUT_SIZE);
	}
	if (in.major < FUSE_KERNEL_VERSION) {
		log_debug("proto: INIT of unsupported version %u.%u", in.major, in.minor);
		atomic_store(&s->state, PS_DONE);
		return -EPROTO;
	}
	uint32_t minor = MIN(in.minor, (uint32_t)FUSE_KERNEL_MINOR_VERSION);
	size_t out_size = init_out_size(minor);
	if (!reply_fits(r, out_size)) {
		atomic_store(&s->state, PS_NEW);
		return -EINVAL;
	}
	uint64_t offered = minor >= 6 ? in.flags : 0;
	if (minor >= 36 && (offered & FUSE_INIT_EXT))
		offered |= (uint64_t)in.flags2 << 32;

	uint64_t capable = 0;
	for (size_t i = 0; i < ARRAY_SIZE(capmap); i++)
		if (offered & capmap[i].fuse)
			capable |= capmap[i].cap;
	/* grants only the command line may give */
	uint64_t allowed = ~(uint64_t)(FS_CAP_WRITEBACK_CACHE | FS_CAP_POSIX_ACL | FS_CAP_SUBMOUNTS | FS_CAP_PASSTHROUGH);
	if (s->opts.writeback)
		allowed |= FS_CAP_WRITEBACK_CACHE;
	if (s->opts.posix_acl)
		allowed |= FS_CAP_POSIX_ACL;
	if (s->opts.announce_submounts)
		allowed |= FS_CAP_SUBMOUNTS;
	if (s->backing) /* asked for, and the transport registers backing files (proto_session_new) */
		allowed |= FS_CAP_PASSTHROUGH;
	/* locks the command line leaves to the client kernel: it then keeps them among its own processes */
	if (s->opts.local_posix_locks)
		allowed &= ~(uint64_t)FS_CAP_POSIX_LOCKS;
	if (s->opts.local_flock)
		allowed &= ~(uint64_t)FS_CAP_FLOCK_LOCKS;

	struct fs_conn conn = {
		.capable = capable & allowed,
		.want = (PROTO_WANT_DEFAULT | (allowed & (FS_CAP_WRITEBACK_CACHE | FS_CAP_POSIX_ACL | FS_CAP_SUBMOUNTS |
							  FS_CAP_PASSTHROUGH))) &
			capable & allowed,
		.max_write = s->opts.max_write,
		.max_readahead = minor >= 6 ? in.max_readahead : 0,
		.notifier = (s->t.send_notify && !s->opts.virtio) ? &s->notifier : NULL,
	};
	int k = FS_CALL(s->fs, init, &conn);
	if (k < 0 && k != -ENOSYS) {
		log_debug("proto: %s init failed: %d", s->fs->kind, k);
		atomic_store(&s->state, PS_DONE);
		return k;
	}
	uint64_t caps = conn.want & capable & allowed;
	if (caps & FS_CAP_WRITEBACK_CACHE)
		caps &= ~FS_CAP_PASSTHROUGH;

	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		page = 4096;
	uint32_t max_write = MIN(conn.max_write, s->opts.max_write);
	max_write = MAX(max_write, (uint32_t)4096);
	uint32_t max_pages = s->opts.max_pages ? s->opts.max_pages : (uint32_t)((max_write + page - 1) / page);
	max_pages = MIN(MAX(max_pages, 1u), 256u);
	/* without FUSE_MAX_PAGES the client sends at most 32 pages whatever max_write says */
	if (!(offered & FUSE_MAX_PAGES))
		max_pages = 32;
	max_write = MIN(max_write, max_pages * (uint32_t)page);

	uint64_t flags = 0;
	for (size_t i = 0; i < ARRAY_SIZE(capmap); i++)
		if (caps & capmap[i].cap)
			flags |= capmap[i].fuse;
	if (offered & FUSE_MAX_PAGES)
		flags |= FUSE_MAX_PAGES;
	if (offered & FUSE_INIT_EXT)
		flags |= FUSE_INIT_EXT;
	if (offered & FUSE_DIRECT_IO_ALLOW_MMAP)
		flags |= FUSE_DIRECT_IO_ALLOW_MMAP;
	/* a transport matter, not the fs's: the requests keep their format, only the channel changes */
	bool uring = s->opts.io_uring && !s->opts.virtio && (offered & FUSE_OVER_IO_URING);
	if (uring)
		flags |= FUSE_OVER_IO_URING;

	out.minor = minor;
	out.max_readahead = MIN(conn.max_readahead, minor >= 6 ? in.max_readahead : 0);
	out.flags = (uint32_t)flags;
	out.flags2 = (offered & FUSE_INIT_EXT) ? (uint32_t)(flags >> 32) : 0;
	out.max_write = max_write;
	out.time_gran = 1;
	out.max_pages = (uint16_t)((offered & FUSE_MAX_PAGES) ? max_pages : 0);
	if (caps & FS_CAP_PASSTHROUGH)
		PROTO_INIT_OUT_MAX_STACK_DEPTH(&out) = PROTO_MAX_STACK_DEPTH;
	if (s->opts.passthrough)
		log_info("proto: FUSE passthrough %s", (caps & FS_CAP_PASSTHROUGH) ? "on"
						       : !s->backing		       ? "off: the transport has no backing files"
						       : !(offered & FUSE_PASSTHROUGH) ? "off: the kernel does not offer it"
										       : "off: the writeback cache is on, or the fs declined");

	s->minor = minor;
	s->caps = caps;
	s->max_write = max_write;
	s->max_pages = max_pages;
	s->max_readahead = out.max_readahead;
	s->setxattr_ext = caps & FS_CAP_SETXATTR_EXT;
	s->submounts = caps & FS_CAP_SUBMOUNTS;
	s->dont_mask = caps & FS_CAP_DONT_MASK;
	s->killpriv_v2 = caps & FS_CAP_HANDLE_KILLPRIV_V2;
	s->uring = uring;
	log_info("proto: locks held by the %s (POSIX) and the %s (flock)",
		 (caps & FS_CAP_POSIX_LOCKS) ? "server" : "client", (caps & FS_CAP_FLOCK_LOCKS) ? "server" : "client");
	if (s->opts.io_uring)
		log_info("proto: FUSE over io_uring %s", uring ? "on" : "off: the kernel does not offer it (Linux 6.14+, "
								   "fuse module parameter enable_uring)");
	log_debug("proto: INIT %u.%u: caps %#llx max_write %u max_pages %u", in.major, in.minor,
		  (unsigned long long)caps, max_write, max_pages);

	reply_put(r, 0, &out, out_size);
	/* publish the negotiated values before anyone sees READY */
	atomic_store(&s->state, PS_READY);
	return reply_len(out_size);
}
