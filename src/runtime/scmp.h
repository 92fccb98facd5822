/* SPDX-License-Identifier: MIT */
/* linux.seccomp of config.json -> a libseccomp filter context, built and validated in the runtime. */
#pragma once

#include <stdbool.h>

#include "runtime/rterr.h"

struct json_object;

/* Build the filter (a scmp_filter_ctx in *ret). no_new_privs tells libseccomp whether to set it on load:
 * it must follow process.noNewPrivileges, not libseccomp's default of always setting it. */
int scmp_profile_build(struct json_object *seccomp, bool no_new_privs, void **ret, struct rt_err *err);
/* The "seccomp" member of features' "linux" object. */
int scmp_features(struct json_object *lnx);
