/* SPDX-License-Identifier: MIT */
/*
 * OCI hooks: prestart (deprecated), createRuntime, createContainer, startContainer, poststart, poststop.
 * Each hook gets the container's state JSON on stdin, its own args and env, and an optional timeout after
 * which it is killed and counted as failed. A failing hook fails the operation, except poststart and
 * poststop, whose failures the spec says are only logged (the caller decides).
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "runtime/rterr.h"

struct json_object;

struct hook {
	char *path;
	char **args; /* NULL-terminated; args[0] = path when the spec has none */
	char **env;  /* NULL-terminated, may be empty */
	int timeout; /* seconds, 0 = none */
};

struct hook_list {
	struct hook *v;
	size_t n;
};

struct rt_hooks {
	struct hook_list prestart, create_runtime, create_container, start_container, poststart, poststop;
};

/* Parse config.json's "hooks" object (NULL = none). */
int hooks_parse(struct json_object *hooks, struct rt_hooks *ret, struct rt_err *err);
void hooks_free(struct rt_hooks *h);

/* Run each hook in order, in the caller's namespaces; stop at the first failure. kind names the list in
 * errors ("createRuntime"). */
int hooks_run(const struct hook_list *l, const char *kind, const char *state_json, struct rt_err *err);
/* Same, but each hook's path is opened here (in the runtime's mount namespace) and the hook then executes in
 * the namespaces of process pid (the container): the spec's rule for createContainer hooks. */
int hooks_run_in(const struct hook_list *l, const char *kind, const char *state_json, pid_t pid,
		 struct rt_err *err);
