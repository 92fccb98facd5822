/* SPDX-License-Identifier: MIT */
/*
 * CAP_FSETID, dropped lazily.
 *
 * The kernel does FUSE passthrough I/O with the credentials of the thread that registered the backing file,
 * and those must lack CAP_FSETID (see transport/devfuse-backing.c). Dropping it around every registration and
 * raising it again costs two capset(2) calls, each a new struct cred (and an RCU free of the old one):
 * measured at ~10 us of a ~40 us open+close on these machines (warm, 10k files). So a thread drops it at its
 * first registration and keeps it out, and the backend puts it back only before a host call whose result
 * depends on it (writes, truncation, chmod/chown, ACLs, creating a setgid file: fs/pt-*.c). Reads,
 * lookups, opens and releases never pay for it.
 *
 * The state is per thread, as credentials are. Only a drop made here is ever undone here: a thread that never
 * had CAP_FSETID effective never gets it. The kernel itself puts the file system capabilities back when a
 * thread's fsuid returns to 0 (pt-cred.c switches it for creates), so both read the set (capget, which makes
 * no new cred) before writing it.
 */
#include "util/fsetid.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/syscall.h"

#define FSETID_BIT (1u << CAP_FSETID) /* CAP_FSETID < 32: word 0 */

static _Thread_local bool dropped; /* this module took CAP_FSETID out of the effective set */

int thread_fsetid_drop(void)
{
	/* always read the set: a cred switch since the last drop may have put it back (see above) */
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	int r = sys_capget(&h, d);
	if (r < 0 || !(d[0].effective & FSETID_BIT))
		return r; /* out already: dropped here before (the flag says so), or never had */
	d[0].effective &= ~FSETID_BIT;
	if ((r = sys_capset(&h, d)) < 0)
		return r;
	dropped = true;
	return 0;
}

void thread_fsetid_restore(void)
{
	if (!dropped)
		return;
	dropped = false;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (sys_capget(&h, d) < 0 || (d[0].effective & FSETID_BIT) || !(d[0].permitted & FSETID_BIT))
		return; /* already back (fsuid went 0 -> n -> 0), or no longer permitted: nothing to raise */
	d[0].effective |= FSETID_BIT;
	(void)sys_capset(&h, d);
}
