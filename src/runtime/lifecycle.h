/* SPDX-License-Identifier: MIT */
/*
 * The OCI runtime lifecycle on top of container.h: create (init left blocked on ROOT/ID/exec.fifo), start,
 * state, kill, delete, list, ps. exec lives in exec.c. Every operation takes the container's flock; create
 * records the init's pid before anything else can fail, so a runtime killed at any point leaves a state dir
 * that delete --force cleans (the init, its cgroup, the dir).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/rterr.h"
#include "runtime/state.h"

struct lc_create_opts {
	const char *root;
	const char *id;
	const char *bundle;         /* NULL = the current directory */
	const char *pid_file;       /* NULL = none */
	const char *console_socket; /* NULL = none */
	bool no_pivot;
	int preserve_fds;           /* fds 3 .. 3+N-1 are passed to the container's process (LISTEN_FDS) */
	bool no_cgroups;            /* --cgroup-manager disabled: linux.cgroupsPath is not used */
};

int lc_create(const struct lc_create_opts *o, struct rt_err *err);
int lc_start(const char *root, const char *id, struct rt_err *err);
/* The state JSON (malloc'd) of one container. */
int lc_state(const char *root, const char *id, char **ret_json, struct rt_err *err);
int lc_kill(const char *root, const char *id, int sig, bool all, struct rt_err *err);
int lc_delete(const char *root, const char *id, bool force, struct rt_err *err);

/* Every container under root, with its live status; ids that cannot be read are reported as stopped. */
struct lc_entry {
	struct rts s;
	enum rts_status status;
};
int lc_list(const char *root, struct lc_entry **ret, size_t *ret_n, struct rt_err *err);
void lc_list_free(struct lc_entry *v, size_t n);

/* The pids of the container's processes (its cgroup, else its pid namespace). */
int lc_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n, struct rt_err *err);

/* Write "PID" to path atomically (temp file + rename), as runc and conmon expect. */
int lc_write_pid_file(const char *path, pid_t pid);

/*
 * For `boxshare run` (cmd-run.c, in-process create + start): check spec as create does (members nobody
 * implements are refused) and arm the init's process-security hook (capabilities, rlimits, seccomp,
 * oomScoreAdj) for the next container_create(). Hooks, cgroups and terminals are create's business and
 * are refused here with a message saying so. Free after container_start(). */
struct oci_spec;
struct lc_run_ctx;
int lc_run_prepare(const struct oci_spec *spec, struct lc_run_ctx **ret, struct rt_err *err);
void lc_run_free(struct lc_run_ctx *c);

/* "TERM", "SIGTERM", "15" -> 15; -EINVAL otherwise. */
int lc_signal_parse(const char *s);
