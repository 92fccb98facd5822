/* SPDX-License-Identifier: MIT */
/*
 * The confined server's view of the host: an empty root, and the directory fds it already holds re-rooted so
 * that ".." from them stops at the directory they name.
 */
#pragma once

#include <stdbool.h>

/*
 * Namespace mode, in the child of sb_fork_supervised() (pid 1 of a new pid namespace):
 *  - every directory fd the process holds is replaced, under the same number and open flags, by one on a
 *    private bind mount (open_tree clone) of the same directory; a procfs root fd by one on a fresh procfs of
 *    the new pid namespace (subset=pid, hidepid=invisible), so "self/fd/N" reopens keep working and nothing of
 *    the host's processes is visible;
 *  - new mount, network, IPC and cgroup namespaces; the host's mount tree made rslave (host mounts still propagate
 *    in; nothing made inside propagates out);
 *  - pivot_root into an empty read-only tmpfs, the old root detached; the process root is an empty directory
 *    of it. The bind mounts behind the held fds hang under that tmpfs, out of reach of any path.
 * with_proc additionally mounts the fresh procfs at /proc of the new root (sanitizer builds: LeakSanitizer
 * reads /proc/self/task by path). readonly makes the bind mounts behind the held fds read-only (a read-only
 * export). 0 or -errno; on failure the caller must exit (half confined).
 */
int sb_root_namespace(bool with_proc, bool readonly);

/*
 * Chroot mode (no namespaces): the same fd replacement, best effort (a host that forbids unshare may forbid
 * open_tree and fsopen too; the fds are kept as they are then), the bind mounts stay detached (so mounts the
 * host makes later under a share are not seen), and chroot into an empty directory that is removed at once
 * (nothing can be created in it, and nothing is left behind on the host). 0 or -errno.
 */
int sb_root_chroot(bool readonly);
