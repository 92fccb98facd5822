/* SPDX-License-Identifier: MIT */
/*
 * util/fsetid: the calling thread's CAP_FSETID, dropped lazily. Checked against the kernel's own view of the
 * thread (capget): a drop takes it out once, a restore puts it back only after a drop of ours, a thread that
 * never had it never gets it, and a cred switch that brings it back (fsuid 0 -> n -> 0) is noticed by the next
 * drop. Needs CAP_FSETID in the permitted set (root): skipped otherwise.
 */
#include "util/fsetid.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/fsuid.h>

#include "check.h"
#include "util/syscall.h"

static struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];

static void get_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	if (sys_capget(&h, caps) < 0) {
		perror("capget");
		caps[0].effective = caps[0].permitted = 0;
	}
}

static void set_effective(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	get_caps();
	if (on)
		caps[0].effective |= 1u << CAP_FSETID;
	else
		caps[0].effective &= ~(1u << CAP_FSETID);
	if (sys_capset(&h, caps) < 0)
		perror("capset");
}

static bool effective(void)
{
	get_caps();
	return caps[0].effective & (1u << CAP_FSETID);
}

static void *fresh_thread(void *arg)
{
	/* a new thread starts with its creator's credentials, and with no drop of its own to undo */
	bool *ok = arg;
	thread_fsetid_restore();
	*ok = !effective();
	return NULL;
}

int main(void)
{
	get_caps();
	if (!(caps[0].permitted & (1u << CAP_FSETID))) {
		printf("SKIP: CAP_FSETID is not permitted here\n");
		return 77;
	}
	set_effective(true);

	CHECK(thread_fsetid_drop() == 0, "drop");
	CHECK(!effective(), "CAP_FSETID still effective after a drop");
	CHECK(thread_fsetid_drop() == 0 && !effective(), "a second drop");
	thread_fsetid_restore();
	CHECK(effective(), "CAP_FSETID not back after a restore");
	thread_fsetid_restore();
	CHECK(effective(), "a second restore took it away");

	/* the kernel raises the file system capabilities again when fsuid returns to 0: a drop sees that */
	CHECK(thread_fsetid_drop() == 0 && !effective(), "drop before the fsuid switch");
	setfsuid(65534);
	setfsuid(0);
	CHECK(effective(), "the kernel did not raise CAP_FSETID with fsuid 0 (the premise of fsetid.c)");
	CHECK(thread_fsetid_drop() == 0 && !effective(), "a drop after fsuid went back to 0 left CAP_FSETID in");
	thread_fsetid_restore();
	CHECK(effective(), "restore after the re-drop");

	/* never ours to raise: a thread without it, and no drop of ours */
	set_effective(false);
	thread_fsetid_restore();
	CHECK(!effective(), "restore raised a capability this module had not dropped");
	CHECK(thread_fsetid_drop() == 0 && !effective(), "drop of an absent capability");
	thread_fsetid_restore(); /* the drop found nothing: nothing to undo */
	CHECK(!effective(), "restore after a no-op drop raised it");

	/* per thread: this thread's drop is not another thread's to undo */
	set_effective(true);
	CHECK(thread_fsetid_drop() == 0, "drop before the thread");
	bool ok = false;
	pthread_t t;
	CHECK(pthread_create(&t, NULL, fresh_thread, &ok) == 0 && pthread_join(t, NULL) == 0 && ok,
	      "a new thread raised what its creator dropped");
	thread_fsetid_restore();
	CHECK(effective(), "restore on the dropping thread");

	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	else
		printf("fsetid: all checks passed\n");
	return failures ? 1 : 0;
}
