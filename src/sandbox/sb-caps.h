/* SPDX-License-Identifier: MIT */
/* Capabilities of the confined server: which it keeps, and dropping the rest from every set. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * The capabilities a passthrough server needs, as a bit mask (bit n = capability n).
 * Always CAP_SETUID and CAP_SETGID (switch fsuid/fsgid to the caller's per request, e.g. FUSE_ACCESS), and a way
 * to read every client's files: CAP_DAC_READ_SEARCH when file_handles (open_by_handle_at needs it), else
 * CAP_DAC_OVERRIDE.
 * keep_chown (a writable share) adds CAP_DAC_OVERRIDE (write what root may write), CAP_CHOWN, CAP_FOWNER,
 * CAP_FSETID, CAP_MKNOD and CAP_SETFCAP. A read-only share's CAP_DAC_OVERRIDE writes nothing: its mounts in the
 * sandbox are read-only (sb-root.h).
 * sys_admin (`serve --passthrough`) adds CAP_SYS_ADMIN: the kernel checks it at each FUSE passthrough backing
 * file registration. The seccomp allowlist still refuses mount, unshare, setns, pivot_root and the rest.
 */
uint64_t sb_caps_wanted(bool keep_chown, bool file_handles, bool sys_admin);

/*
 * Keep only `keep` in the permitted and effective sets, clear the inheritable set and the ambient set, and drop
 * everything else from the bounding set (so nothing can come back, not even through execve of a file with
 * file capabilities). 0 or -errno. Needs CAP_SETPCAP on entry for the bounding set (root has it).
 */
int sb_caps_drop(uint64_t keep);
