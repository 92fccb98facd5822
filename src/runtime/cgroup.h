/* SPDX-License-Identifier: MIT */
/*
 * Resource limits through cgroups, for linux.cgroupsPath and linux.resources.
 *
 * Layouts: pure v2 (/sys/fs/cgroup is cgroup2), hybrid (v1 controllers plus a cgroup2 mount, usually
 * /sys/fs/cgroup/unified, with few or no controllers), and pure v1. The hierarchies are found in
 * /proc/self/mountinfo, not guessed. Each limit goes to the hierarchy its controller is attached to: the v2
 * file when the controller is enabled on cgroup2, the v1 file otherwise (memory.max or
 * memory.limit_in_bytes, pids.max, cpu.max or cpu.cfs_quota_us/cpu.cfs_period_us, cpu.weight or cpu.shares,
 * v1 devices.allow/deny). The container's cgroup is created in the cgroup2 hierarchy too whenever there is
 * one, since that is where its processes are listed and killed as a group (cgroup.kill).
 *
 * A relative cgroupsPath is taken under the runtime's own cgroup (of each hierarchy); an absolute one under
 * the hierarchy's root, as runc does. A limit whose controller is attached nowhere is a clear error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/rterr.h"

struct json_object;

struct cg_dev_rule {
	bool allow;
	char type;          /* 'a', 'c' or 'b' */
	int64_t major, minor; /* -1 = any */
	char access[4];     /* subset of "rwm" */
};

struct cg_limits {
	bool has_memory, has_swap, has_pids, has_cpu_quota, has_cpu_period, has_cpu_shares;
	int64_t memory_limit;  /* bytes, -1 = unlimited */
	int64_t memory_swap;   /* memory + swap, bytes, -1 = unlimited */
	int64_t pids_limit;    /* -1 (or 0, per the spec) = unlimited */
	int64_t cpu_quota;     /* microseconds per period, -1 = unlimited */
	uint64_t cpu_period;   /* microseconds */
	uint64_t cpu_shares;
	struct cg_dev_rule *devices;
	size_t n_devices;
};

/* Parse linux.resources (NULL = none). Members we cannot honour are refused with err naming them. */
int cg_limits_parse(struct json_object *resources, struct cg_limits *ret, struct rt_err *err);
void cg_limits_free(struct cg_limits *l);
/* Does l ask for anything a cgroup is needed for? */
bool cg_limits_any(const struct cg_limits *l);

/* Create the container's cgroup for cgroups_path in every mounted hierarchy we use, apply the limits and
 * move pid into it. *ret_record (malloc'd) names the cgroup in each hierarchy; keep it in the state and give
 * it to cg_enter, cg_pids and cg_destroy, which then work from any process, whatever its own cgroup. */
int cg_setup(const char *cgroups_path, const struct cg_limits *l, pid_t pid, char **ret_record,
	     struct rt_err *err);
/* Move pid into the container's cgroup (exec). */
int cg_enter(const char *record, pid_t pid, struct rt_err *err);
/* The pids in the container's cgroup; *ret is malloc'd. */
int cg_pids(const char *record, pid_t **ret, size_t *ret_n);
/* Kill whatever is left in the cgroup, then remove the container's directory from every hierarchy. */
int cg_destroy(const char *record);

/* The "cgroup" member of features' "linux" object, as this machine can honour it. */
int cg_features(struct json_object *lnx);
