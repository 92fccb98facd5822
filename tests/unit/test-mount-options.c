/* SPDX-License-Identifier: MIT */
/* Unit test of the OCI mount option parser (src/mount/options.c) and the error record formatting. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/mount.h>

#include "boxshare/mount.h"

static int failures;
#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                 \
			failures++;                                                                              \
		}                                                                                                \
	} while (0)

static int parse(const char *type, const char *const *v, size_t n, struct bxm_options *o, size_t *bad, char *why)
{
	return bxm_options_parse(type, v, n, o, bad, why, 128);
}

static void test_flags(void)
{
	struct bxm_options o;
	size_t bad = 99;
	char why[128] = "";
	const char *v[] = { "nosuid", "nodev", "noexec", "ro", "relatime", "rbind", "rprivate" };
	CHECK(parse("bind", v, 7, &o, &bad, why) == 0);
	CHECK(o.ms_set == (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_RELATIME));
	CHECK(o.attr_set == (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_RDONLY));
	CHECK(o.attr_clr & MOUNT_ATTR__ATIME);
	CHECK(o.bind && o.rbind);
	CHECK(o.propagation == MS_PRIVATE && o.prop_recursive);
	CHECK(o.data == NULL);
	bxm_options_done(&o);

	/* later options win: ro then rw leaves rw */
	const char *w[] = { "ro", "rw", "noatime", "strictatime" };
	CHECK(parse("tmpfs", w, 4, &o, &bad, why) == 0);
	CHECK(!(o.ms_set & MS_RDONLY) && (o.ms_clear & MS_RDONLY));
	CHECK(!(o.attr_set & MOUNT_ATTR_RDONLY) && (o.attr_clr & MOUNT_ATTR_RDONLY));
	CHECK((o.attr_set & MOUNT_ATTR__ATIME) == MOUNT_ATTR_STRICTATIME);
	CHECK((o.ms_set & MS_STRICTATIME) && !(o.ms_set & MS_NOATIME));
	bxm_options_done(&o);

	/* recursive forms go to the recursive fields only */
	const char *r[] = { "rro", "rnosuid", "rnoatime", "rbind" };
	CHECK(parse("bind", r, 4, &o, &bad, why) == 0);
	CHECK(o.rattr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME));
	CHECK(o.rattr_clr == MOUNT_ATTR__ATIME);
	CHECK(o.attr_set == 0 && o.ms_set == 0);
	bxm_options_done(&o);

	const char *id[] = { "bind", "idmap", "src-nofollow" };
	CHECK(parse(NULL, id, 3, &o, &bad, why) == 0);
	CHECK(o.idmap && !o.ridmap && o.src_nofollow && o.bind && !o.rbind);
	bxm_options_done(&o);
}

static void test_data(void)
{
	struct bxm_options o;
	size_t bad = 99;
	char why[128] = "";
	const char *t[] = { "nosuid", "size=64m", "mode=1777", "nr_inodes=1k", "uid=0", "gid=5" };
	CHECK(parse("tmpfs", t, 6, &o, &bad, why) == 0);
	CHECK(o.data && strcmp(o.data, "size=64m,mode=1777,nr_inodes=1k,uid=0,gid=5") == 0);
	bxm_options_done(&o);

	const char *d[] = { "newinstance", "ptmxmode=0666", "mode=620", "gid=5" };
	CHECK(parse("devpts", d, 4, &o, &bad, why) == 0);
	CHECK(o.data && strcmp(o.data, "newinstance,ptmxmode=0666,mode=620,gid=5") == 0);
	bxm_options_done(&o);

	const char *ov[] = { "lowerdir=/a:/b", "upperdir=/u", "workdir=/w" };
	CHECK(parse("overlay", ov, 3, &o, &bad, why) == 0);
	bxm_options_done(&o);

	/* an unknown filesystem takes any data */
	const char *x[] = { "vers=4.2", "whatever" };
	CHECK(parse("nfs", x, 2, &o, &bad, why) == 0);
	CHECK(o.data && strcmp(o.data, "vers=4.2,whatever") == 0);
	bxm_options_done(&o);
}

static void expect_bad(const char *type, const char *const *v, size_t n, size_t want_bad, const char *want_why)
{
	struct bxm_options o;
	size_t bad = 99;
	char why[128] = "";
	int r = parse(type, v, n, &o, &bad, why);
	CHECK(r == -EINVAL);
	CHECK(bad == want_bad);
	if (!strstr(why, want_why)) {
		fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", why, want_why);
		failures++;
	}
	CHECK(o.data == NULL); /* nothing leaks on error */
}

static void test_errors(void)
{
	const char *a[] = { "rbind", "rbindx" };
	expect_bad("bind", a, 2, 1, "unknown option \"rbindx\"");
	const char *b[] = { "size=64m", "mode=999" };
	expect_bad("tmpfs", b, 2, 1, "bad value for mode");
	const char *c[] = { "size=12q" };
	expect_bad("tmpfs", c, 1, 0, "bad value for size");
	const char *d[] = { "newinstance=1" };
	expect_bad("devpts", d, 1, 0, "takes no value");
	const char *e[] = { "size=1m,uid=0" };
	expect_bad("tmpfs", e, 1, 0, "contains ','");
	const char *f[] = { "" };
	expect_bad("tmpfs", f, 1, 0, "empty option");
	const char *g[] = { "shared", "private" };
	expect_bad("bind", g, 2, 1, "conflicts");
	const char *h[] = { "bind", "mode=755" };
	expect_bad(NULL, h, 2, 1, "bind mounts take no filesystem options");
	expect_bad("bind", h, 2, 1, "unknown option \"mode=755\"");
	const char *i[] = { "uid=99999999999" };
	expect_bad("tmpfs", i, 1, 0, "bad value for uid");
	const char *j[] = { "mode=\x01" };
	expect_bad("tmpfs", j, 1, 0, "control character");
	const char *l[] = { "lowerdir=/a:b", "upperdir=/u" };
	expect_bad("overlay", l, 2, 0, "bad value for lowerdir");
	const char *m[] = { "lowerdir=/a", "workdir=w" };
	expect_bad("overlay", m, 2, 1, "bad value for workdir");
	const char *k[] = { "nodev", "hidepid" };
	expect_bad("proc", k, 2, 1, "bad value for hidepid");
}

static void test_propagation(void)
{
	unsigned long f;
	bool rec;
	CHECK(bxm_propagation_parse("rslave", &f, &rec) == 0 && f == MS_SLAVE && rec);
	CHECK(bxm_propagation_parse("shared", &f, &rec) == 0 && f == MS_SHARED && !rec);
	CHECK(bxm_propagation_parse("runbindable", &f, &rec) == 0 && f == MS_UNBINDABLE && rec);
	CHECK(bxm_propagation_parse("ro", &f, &rec) == -EINVAL);
	CHECK(bxm_propagation_parse("sharedx", &f, &rec) == -EINVAL);
}

static void test_error_format(void)
{
	struct bxm_error e = { .syscall = "fsconfig", .what = "mount proc", .path = "/proc", .err = EINVAL };
	char buf[512];
	CHECK(strcmp(bxm_error_format(&e, buf, sizeof(buf)), "mount proc on /proc: fsconfig: invalid argument") == 0);
	strcpy(e.detail, "option size=1x");
	CHECK(strcmp(bxm_error_format(&e, buf, sizeof(buf)),
		     "mount proc on /proc: fsconfig: invalid argument (option size=1x)") == 0);
	/* truncation never overruns */
	char tiny[8];
	bxm_error_format(&e, tiny, sizeof(tiny));
	CHECK(strlen(tiny) == 7);
	CHECK(bxm_syscall_name("open_tree") != NULL && strcmp(bxm_syscall_name("open_tree"), "open_tree") == 0);
	CHECK(strcmp(bxm_syscall_name("nonsense"), "syscall") == 0);
}

int main(void)
{
	test_flags();
	test_data();
	test_errors();
	test_propagation();
	test_error_format();
	if (failures) {
		fprintf(stderr, "test-mount-options: %d failures\n", failures);
		return 1;
	}
	printf("test-mount-options: ok\n");
	return 0;
}
