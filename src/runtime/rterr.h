/* SPDX-License-Identifier: MIT */
/*
 * A caller-owned error record for the OCI runtime library: the failing thing, operation and reason, so the
 * CLI can say "config.json: linux.seccomp.syscalls[3].action: unknown action 'SCMP_ACT_FOO'" without the
 * library printing anything. Functions still return 0/-errno; the record only adds words.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "util/macros.h"

struct rt_err {
	char msg[768];
};

/* Fill err (may be NULL) and return -errnum (errnum > 0) so that "return rt_err_set(err, EINVAL, ...)" works. */
static inline _printf_(3, 4) int rt_err_set(struct rt_err *err, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return errnum > 0 ? -errnum : errnum;
}
