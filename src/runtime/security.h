/* SPDX-License-Identifier: MIT */
/*
 * Process security of a container's process: capabilities (bounding, effective, permitted, inheritable,
 * ambient), rlimits, no_new_privs and a seccomp filter (libseccomp), parsed from config.json's "process"
 * and "linux.seccomp" and applied in the container's init around the switch to process.user, in runc's order
 * (the part before the first arrow up to PR_SET_KEEPCAPS as root, before setresuid; the rest after it):
 *
 *   rlimits -> [no_new_privs] -> seccomp if !no_new_privs (loading it then still needs CAP_SYS_ADMIN)
 *           -> bounding set -> PR_SET_KEEPCAPS -> (setresuid) -> capset (permitted/effective/inheritable) -> ambient
 *           -> seccomp if no_new_privs (as late as possible: fewest syscalls run under it)
 *
 * Everything is validated and the seccomp filter is built in the runtime (sec_config_parse), so a bad
 * profile is refused with a clear message before any process exists; the init only loads what was built.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "runtime/rterr.h"

struct json_object;
struct hook_list;

struct sec_rlimit {
	int resource;
	struct rlimit lim;
};

struct sec_config {
	bool has_caps; /* apply the sets below: always for a process object (absent capabilities = all empty) */
	uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
	struct sec_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privs;
	bool has_oom_score_adj;
	int oom_score_adj;
	void *seccomp; /* scmp_filter_ctx, NULL without linux.seccomp */
};

/* Parse process.capabilities, process.rlimits, process.noNewPrivileges, process.oomScoreAdj and, when
 * `linux` is non-NULL, linux.seccomp. `process` is config.json's "process" object (or an exec --process
 * file). Returns 0 or -errno with err naming the field. */
int sec_config_parse(struct json_object *process, struct json_object *lnx, struct sec_config *ret,
		     struct rt_err *err);
void sec_config_free(struct sec_config *c);

/* In the container's init (or an exec'd process), right before execve. On failure the caller must not exec.
 * sec_apply_pre_user runs as root before setgroups/setgid/setuid (rlimits, oomScoreAdj, no_new_privs,
 * seccomp without no_new_privs, bounding set, PR_SET_KEEPCAPS); sec_apply_post_user after it (capability
 * sets, ambient, seccomp with no_new_privs). sec_apply is both, for a caller whose user is already set. */
int sec_apply_pre_user(const struct sec_config *c, struct rt_err *err);
int sec_apply_post_user(const struct sec_config *c, struct rt_err *err);
int sec_apply(const struct sec_config *c, struct rt_err *err);

/* The "linux.capabilities" and "linux.seccomp" members of the features JSON. */
int sec_features(struct json_object *lnx);

/*
 * The calls container-init.c makes: security_apply_init_pre_user() before the user switch, and
 * security_apply_init() right before exec, which does, in the init, what the OCI runtime commands prepared
 * before container_create(): the startContainer hooks, then the rest of the process security.
 * A caller that prepared nothing gets 0. (The terminal is container.c's: opts.terminal, see container.h.)
 */
struct sec_init_ctx {
	const struct sec_config *sec;
	const struct hook_list *start_hooks; /* startContainer hooks, or NULL */
	int state_fd;            /* read end of a pipe holding the state JSON for those hooks, or -1 */
	int state_wfd;           /* its write end: the init's inherited copy is closed, or reading never ends */
	int report_fd;           /* where to write why the process could not be started, or -1 */
	const char *exe;         /* process.args[0]: looked up before exec, so a typo is an error of start */
	char *const *env;        /* process.env, for the PATH of that lookup */
};
void security_set_init_ctx(const struct sec_init_ctx *ctx);
/* In the init, as root, before setgroups/setresgid/setresuid: sec_apply_pre_user() of the context's config
 * (rlimits, oomScoreAdj, no_new_privs, seccomp without no_new_privs, bounding set, PR_SET_KEEPCAPS), runc's
 * order in finalizeNamespace. security_apply_init() then applies only the rest (capability sets, ambient,
 * seccomp with no_new_privs), so a non-root process.user keeps the capabilities the spec gives it. */
int security_apply_init_pre_user(struct rt_err *err);
int security_apply_init(void);
