/* SPDX-License-Identifier: MIT */
/*
 * The mount-setup library: what an OCI runtime does to build a container's mount tree, as a library.
 *
 * It prefers the new mount API (fsopen/fsconfig/fsmount, open_tree(OPEN_TREE_CLONE), move_mount,
 * mount_setattr) and falls back to mount(2) when the kernel answers ENOSYS, or when the caller forces it with
 * BXM_LEGACY. Every target is created and resolved inside the container's root with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink in the rootfs never sends a mount, a mkdir
 * or a masked path outside it; paths handed to mount(2) are "thread-self/fd/N" under a private procfs
 * instance, never strings built from the rootfs path.
 *
 * Every function returns 0 or -errno. When the caller passes a struct bxm_error, a failure also fills it
 * (which operation, which path, which syscall, which errno), so the caller can say
 * "mount proc on /proc: fsconfig: Invalid argument" without a malloc per error. The library never prints.
 *
 * Typical use, in a process that is already in its own mount namespace:
 *
 *     bxm_ctx_new(flags, &ctx, &err);
 *     bxm_root_prepare(ctx, "/path/to/rootfs", MS_PRIVATE | MS_REC, &err);
 *     for each mount: bxm_mount(ctx, &m, &err);    (bxm_dev_setup() when the spec has no /dev)
 *     bxm_pivot(ctx, &err);
 *     bxm_set_propagation(ctx, "/", MS_PRIVATE | MS_REC, &err);
 *     bxm_mask_path(), bxm_readonly_path(), bxm_root_readonly();
 *     bxm_ctx_free(ctx);
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- errors ---- */

/* Filled on failure; all strings NUL-terminated and truncated to fit. err is a positive errno. */
struct bxm_error {
	const char *syscall; /* "fsconfig", "open_tree", "mount", "openat2"...: a static string, or NULL */
	char what[256];      /* the operation: "mount proc", "bind /srv/data", "mask", "pivot_root" */
	char path[512];      /* the target, as the container sees it ("/proc") */
	char detail[128];    /* optional: "new root is not a mount point", the option the kernel refused */
	int err;
};

/* "mount proc on /proc: fsconfig: Invalid argument (detail)". Returns buf. NULL e gives "". */
const char *bxm_error_format(const struct bxm_error *e, char *buf, size_t size);
/* Map a syscall name received from another process to the library's static copy (or "syscall"). */
const char *bxm_syscall_name(const char *name);

/* ---- mount options (OCI "options" arrays) ---- */

/* Parsed form of one mount's options. Flags of mount(2) and MOUNT_ATTR_* of mount_setattr are both kept so
 * either path can apply them. "Recursive" fields come from the r-prefixed options (rro, rnosuid...) and are
 * applied with AT_RECURSIVE; the others apply to the top mount only, as mount(2) does. */
struct bxm_options {
	unsigned long ms_set;    /* MS_RDONLY, MS_NOSUID, ... for mount(2) and bind remounts */
	unsigned long ms_clear;  /* flags explicitly cleared (rw, suid, dev, exec...) */
	uint64_t attr_set;       /* MOUNT_ATTR_* for the top mount */
	uint64_t attr_clr;
	uint64_t rattr_set;      /* MOUNT_ATTR_* for the whole tree (rro, rnosuid, ratime family...) */
	uint64_t rattr_clr;
	unsigned long propagation; /* 0, or one of MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE */
	bool prop_recursive;       /* the r-form was given (rshared...) */
	bool bind;                 /* bind or rbind */
	bool rbind;                /* rbind: carry submounts */
	bool idmap;                /* idmap or ridmap: MOUNT_ATTR_IDMAP with the container's user namespace */
	bool ridmap;
	bool src_nofollow;         /* do not follow a symlink in the last component of the source */
	bool atime_set;            /* an atime option was given: attr fields carry MOUNT_ATTR__ATIME */
	bool ratime_set;
	char *data;                /* filesystem options joined with ',' ("size=64m,mode=755"), or NULL */
};

/* Parse opts[0..n) for a mount of the given type (NULL or "" = unknown, options passed through). Known
 * filesystems (tmpfs, proc, sysfs, devpts, mqueue, cgroup2, overlay, bind) only accept their own keys and
 * values of the right form. On error returns -EINVAL, sets *ret_bad to the offending index and writes a
 * reason ("unknown option \"rbindx\"") to reason[reason_size]. ret is cleared first; free with
 * bxm_options_done(). */
int bxm_options_parse(const char *type, const char *const *opts, size_t n, struct bxm_options *ret,
		      size_t *ret_bad, char *reason, size_t reason_size);
void bxm_options_done(struct bxm_options *o);

/* "private", "rshared"... to MS_* (and whether recursive). -EINVAL if unknown. Used for rootfsPropagation. */
int bxm_propagation_parse(const char *s, unsigned long *ret_flag, bool *ret_recursive);

/* ---- the mount context ---- */

#define BXM_LEGACY (1u << 0)     /* use mount(2) even when the new mount API is there */
#define BXM_USERNS (1u << 1)     /* running in a new user namespace: bind device nodes, keep locked flags */

struct bxm_ctx;

/* One mount of the spec. source is a host path for binds (absolute, or relative to bundle_fd given to
 * bxm_ctx_set_bundle), otherwise the fs "source" string. */
struct bxm_mount {
	const char *type;        /* "bind", "tmpfs", "proc"...; NULL with a bind option = bind */
	const char *source;
	const char *target;      /* path inside the container root */
	const struct bxm_options *opts;
	/* A detached tree (from bxm_idmap_tree() in a more privileged process) to attach instead of making the
	 * bind here: an idmapped mount must be made by someone privileged over the source's filesystem, which
	 * the container's init in its own user namespace is not. Needs the new mount API. */
	bool use_tree_fd;
	int tree_fd;
};

/* In the runtime (the host's namespaces): clone source (absolute, or relative to dirfd) as a detached tree
 * (recursive with rbind) and idmap it through userns_fd (ridmap: the whole tree). prop is the root
 * propagation given to bxm_root_prepare() (MS_* | MS_REC; 0 = rprivate): with MS_REC the tree gets it too,
 * as the container's copies of the host's mounts do, so it leaves the host's peer groups unless that is
 * asked for. The caller sends the fd to the container's init, which attaches it with bxm_mount(use_tree_fd). */
int bxm_idmap_tree(int dirfd, const char *source, const struct bxm_options *opts, int userns_fd, unsigned long prop,
		   int *ret_fd, struct bxm_error *err);

/* Open the context: probes the API (BXM_LEGACY forces mount(2)) and makes a private procfs instance that is
 * used for every fd-relative path (so a spec without /proc works): a detached fsmount() with the new API;
 * with mount(2), which cannot make a detached mount, bxm_root_prepare() mounts it briefly on the new root
 * and detaches it. Must run in the container's mount and pid namespaces. */
int bxm_ctx_new(unsigned flags, struct bxm_ctx **ret, struct bxm_error *err);
void bxm_ctx_free(struct bxm_ctx *ctx);
/* Directory that relative bind sources are resolved against (default: the current directory). Duplicated. */
int bxm_ctx_set_bundle(struct bxm_ctx *ctx, int bundle_fd);
/* The user namespace idmapped mounts map through (an fd of /proc/PID/ns/user). Duplicated. */
int bxm_ctx_set_userns(struct bxm_ctx *ctx, int userns_fd);
/* Whether the new mount API is in use (false: mount(2) fallback). */
bool bxm_ctx_new_api(const struct bxm_ctx *ctx);
/* The private procfs instance (valid until bxm_ctx_free; -1 before bxm_root_prepare with mount(2)). */
int bxm_ctx_proc_fd(const struct bxm_ctx *ctx);

/* Kernel feature probes (cached). */
bool bxm_have_new_api(void);
bool bxm_have_mount_setattr(void);
/* open_tree(OPEN_TREE_NAMESPACE) (Linux 7.0): clones a tree into a new mount namespace. Probed and logged;
 * not used yet (see docs: it needs every bind source cloned before the namespace switch). */
bool bxm_have_open_tree_namespace(void);

/* Make "/" of the current mount namespace `prop` (so nothing set up later reaches the host; "unbindable"
 * is applied as "private" here, since it would forbid binding any source, and is the root's alone once
 * bxm_set_propagation() runs after the pivot), make the mount holding rootfs private whatever prop is (a
 * slave with MS_SLAVE: pivot_root refuses a shared parent, and the bind below would propagate to the host's
 * peers), and bind rootfs onto itself recursively: that bind is the container's root from now on. */
int bxm_root_prepare(struct bxm_ctx *ctx, const char *rootfs, unsigned long prop, struct bxm_error *err);

/* Mount one spec entry under the root: creates the target (a directory, or an empty file for a bind of a
 * file) inside the root. */
int bxm_mount(struct bxm_ctx *ctx, const struct bxm_mount *m, struct bxm_error *err);

/* Bind what src_fd is open on (a pty, a file the caller opened) onto target under the root, creating it as
 * an empty file (or a directory for a directory). Used for /dev/console. */
int bxm_bind_fd(struct bxm_ctx *ctx, int src_fd, const char *target, struct bxm_error *err);

/* The default /dev: the nodes null, zero, full, tty, random, urandom (bind mounted from the host with
 * BXM_USERNS, where mknod is not allowed) and the symlinks ptmx, fd, stdin, stdout, stderr are always made;
 * the mounts are made as asked (BXM_DEV_TMPFS when the spec has no /dev; PTS and SHM when it lacks those). */
#define BXM_DEV_TMPFS (1u << 0)
#define BXM_DEV_PTS (1u << 1)
#define BXM_DEV_SHM (1u << 2)
int bxm_dev_setup(struct bxm_ctx *ctx, unsigned what, struct bxm_error *err);

/* pivot_root(".", ".") into the root, make the old root rslave (so its unmount does not propagate to the
 * host) and detach it. */
int bxm_pivot(struct bxm_ctx *ctx, struct bxm_error *err);

/* After bxm_pivot: set the propagation of the mount at path. */
int bxm_set_propagation(struct bxm_ctx *ctx, const char *path, unsigned long prop, bool recursive,
			struct bxm_error *err);
/* After bxm_pivot: hide path (a missing path is not an error): a directory gets an empty read-only tmpfs,
 * anything else /dev/null bound over it. */
int bxm_mask_path(struct bxm_ctx *ctx, const char *path, struct bxm_error *err);
/* After bxm_pivot: make path recursively read-only, keeping its other flags. A missing path is skipped. */
int bxm_readonly_path(struct bxm_ctx *ctx, const char *path, struct bxm_error *err);
/* After bxm_pivot: the root mount read-only (root.readonly). */
int bxm_root_readonly(struct bxm_ctx *ctx, struct bxm_error *err);

/* ---- lower-level helpers, public for the VM guest and for tests ---- */

/* Open (O_PATH) path inside root_fd, creating missing directories with mode 0755; with make_file the last
 * component is created as an empty regular file if missing. Resolution is RESOLVE_IN_ROOT, so ".." and
 * absolute symlinks stay inside root_fd. */
int bxm_mkpath_in_root(int root_fd, const char *path, bool make_file, int *ret_fd);

/* pivot_root with explicit arguments, for tests and callers that keep the old root: new_root and put_old are
 * paths (put_old NULL = "." trick and detach, as bxm_pivot). On EINVAL, err->detail says which rule the
 * kernel enforced: not a mount point, put_old not under new root, or a shared parent. */
int bxm_pivot_root(const char *new_root, const char *put_old, struct bxm_error *err);
