/* SPDX-License-Identifier: MIT */
/*
 * CAP_FSETID in the calling thread's effective set, dropped lazily (see fsetid.c).
 */
#ifndef BOXSHARE_UTIL_FSETID_H
#define BOXSHARE_UTIL_FSETID_H

/* Take CAP_FSETID out of this thread's effective set if it is there: 0 or -errno. A capget, and
 * a capset only if it is there. */
int thread_fsetid_drop(void);

/* Put CAP_FSETID back if thread_fsetid_drop() took it out (and nothing put it back since); else nothing. */
void thread_fsetid_restore(void);

#endif
