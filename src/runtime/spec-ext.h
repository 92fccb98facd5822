/* SPDX-License-Identifier: MIT */
/*
 * What of config.json the runtime as a whole honours, and the parts of it that the lifecycle owns.
 *
 * The spec parser (src/oci) ignores unknown fields, as the runtime spec allows; but a container engine
 * passes security and resource settings on every container, and a runtime that drops one silently lies.
 * spec_ext_check() walks the document and refuses every member that nobody in boxshare implements, naming
 * it. The same tables produce the `features` output, so the two cannot disagree.
 */
#pragma once

#include <stdbool.h>

#include "runtime/cgroup.h"
#include "runtime/hooks.h"
#include "runtime/rterr.h"
#include "runtime/security.h"
#include "runtime/sysctl.h"

struct json_object;

struct spec_ext {
	struct sec_config sec;
	struct rt_hooks hooks;
	struct cg_limits limits;
	struct sysctl_list sysctl;
	const char *cgroups_path; /* borrowed from the document; NULL or "" = none */
	bool terminal;
	unsigned short cons_rows, cons_cols;
	const char *exe;          /* process.args[0], borrowed */
	char **env;               /* process.env as a NULL-terminated array (malloc'd array, borrowed strings) */
};

/* Refuse members nobody implements, then parse the lifecycle's parts. doc is the whole config.json. */
int spec_ext_parse(struct json_object *doc, struct spec_ext *ret, struct rt_err *err);
void spec_ext_free(struct spec_ext *x);

/* Check and parse a process object alone (exec --process); sec gets caps/rlimits/nnp, and seccomp from lnx
 * (the container's linux object, may be NULL). */
int spec_ext_check_process(struct json_object *process, struct rt_err *err);

/* Fill the features document (runc's and crun's `features` JSON). */
int spec_ext_features(struct json_object *doc);
