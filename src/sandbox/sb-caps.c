/* SPDX-License-Identifier: MIT */
/*
 * Capability dropping, through libcap: it speaks the versioned capset ABI (64-bit sets) and knows how many
 * capabilities the running kernel has (cap_max_bits), which a header constant cannot.
 */
#include "sb-caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "util/log.h"
#include "util/macros.h"

uint64_t sb_caps_wanted(bool keep_chown, bool file_handles, bool sys_admin)
{
	uint64_t m = (1ull << CAP_SETUID) | (1ull << CAP_SETGID);
	m |= file_handles ? 1ull << CAP_DAC_READ_SEARCH : 1ull << CAP_DAC_OVERRIDE;
	if (keep_chown)
		m |= (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_CHOWN) | (1ull << CAP_FOWNER) | (1ull << CAP_FSETID) |
		     (1ull << CAP_MKNOD) | (1ull << CAP_SETFCAP);
	if (sys_admin)
		m |= 1ull << CAP_SYS_ADMIN;
	return m;
}

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

int sb_caps_drop(uint64_t keep)
{
	cap_value_t last = cap_max_bits(); /* number of capabilities the kernel knows */
	if (last <= 0 || last > 64)
		return -EINVAL;

	/* An unprivileged server cannot keep what it never had: keep only what is permitted now. */
	_cleanup_(cap_freep) cap_t cur = cap_get_proc();
	if (!cur)
		return -errno;
	bool setpcap = false;
	for (cap_value_t c = 0; c < last; c++) {
		cap_flag_value_t v = CAP_CLEAR;
		if (cap_get_flag(cur, c, CAP_PERMITTED, &v) < 0 || v != CAP_SET)
			keep &= ~(1ull << c);
	}
	cap_flag_value_t v = CAP_CLEAR;
	if (cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET)
		setpcap = true;

	/*
	 * The bounding set first: dropping from it needs CAP_SETPCAP, which the next step takes away. Without
	 * CAP_SETPCAP (an unprivileged server) it stays as it is: no_new_privs, set by the caller, already
	 * keeps execve from granting anything.
	 */
	for (cap_value_t c = 0; setpcap && c < last; c++) {
		if (keep & (1ull << c))
			continue;
		if (cap_drop_bound(c) < 0) {
			int r = -errno;
			/* EINVAL: a capability this kernel does not have (cap_max_bits said it does: odd, but
			 * nothing to drop then) */
			if (r != -EINVAL) {
				log_debug("sandbox: dropping capability %d from the bounding set: %d", (int)c, r);
				return r;
			}
		}
	}

	/* Ambient capabilities would survive an execve; there must be none. */
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
		return -errno;

	_cleanup_(cap_freep) cap_t caps = cap_init(); /* all three sets empty */
	if (!caps)
		return -errno;
	cap_value_t list[64];
	int n = 0;
	for (cap_value_t c = 0; c < last; c++)
		if (keep & (1ull << c))
			list[n++] = c;
	if (n > 0 && (cap_set_flag(caps, CAP_PERMITTED, n, list, CAP_SET) < 0 ||
		      cap_set_flag(caps, CAP_EFFECTIVE, n, list, CAP_SET) < 0))
		return -errno;
	if (cap_set_proc(caps) < 0)
		return -errno;
	return 0;
}
