/* SPDX-License-Identifier: MIT */
/*
 * The OCI runtime's on-disk state: ROOT/ID/state.json (written atomically: temp file + rename), the exec
 * fifo the created init waits on, and a per-container flock so that any number of runtime processes can
 * create, list, start and delete containers at once.
 *
 * A crashed runtime leaves at most a directory whose state.json says "creating" (or no state.json at all);
 * rts_status() reports such a container as "stopped" once its pid is gone, and delete --force removes it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RTS_ID_MAX 1024
#define RTS_STATE_FILE "state.json"
#define RTS_FIFO_FILE "exec.fifo"

enum rts_status { RTS_CREATING, RTS_CREATED, RTS_RUNNING, RTS_STOPPED };

struct rts {
	char *id;
	char *bundle;          /* absolute path of the bundle */
	char *annotations;     /* JSON object text, "{}" when none */
	char *cgroup;          /* cg_setup()'s record of the container's cgroups, NULL if none */
	pid_t pid;             /* the container's init, 0 before it exists */
	uint64_t start_time;   /* /proc/PID/stat field 22, guards against pid reuse */
	int64_t created;       /* seconds since the epoch */
	bool started;          /* start was called (the fifo was consumed) */
	enum rts_status saved; /* the status recorded by the last writer */
};

/* Is id acceptable as a container id (and therefore as one path component)? runc's rule: [A-Za-z0-9_+.-]. */
bool rts_id_valid(const char *id);

/* Open (creating with mode 0700 if needed) the state root; returns an O_DIRECTORY fd or -errno. */
int rts_root_open(const char *root);

/* Create ROOT/ID exclusively (-EEXIST if it exists) and return its fd, locked LOCK_EX. */
int rts_dir_create(int rootfd, const char *id);
/* Open ROOT/ID (-ENOENT if unknown) and lock it (LOCK_EX or LOCK_SH; 0 = no lock). timeout_ms < 0 waits forever;
 * -EWOULDBLOCK when the lock could not be had in time. */
int rts_dir_open(int rootfd, const char *id, int lock_op, int timeout_ms);

/* Write state.json atomically inside dirfd. */
int rts_save(int dirfd, const struct rts *s);
/* Read state.json; -ENOENT if there is none (a create that crashed very early), -EBADMSG if malformed. */
int rts_load(int dirfd, const char *id, struct rts *ret);
void rts_clear(struct rts *s);

/* Is s->pid still the process we started (same start time) and not a zombie? */
bool rts_pid_alive(const struct rts *s);
/* The live status: created while the init waits on the fifo, running once started, stopped once gone. */
enum rts_status rts_status(int dirfd, const struct rts *s);
const char *rts_status_name(enum rts_status st);

/* The state JSON of the OCI runtime spec (ociVersion, id, status, pid, bundle, annotations), malloc'd. */
char *rts_to_oci_json(const struct rts *s, enum rts_status st);

/* Read /proc/PID/stat's start time; -errno (-ESRCH if gone). */
int rts_pid_start_time(pid_t pid, uint64_t *ret);

/* Remove ROOT/ID and everything in it (one level: the state dir has no subdirectories). */
int rts_dir_remove(int rootfd, const char *id);
