/* SPDX-License-Identifier: MIT */
/* config.json "process": args, env, cwd, user, noNewPrivileges; rlimits and capabilities for the lifecycle. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"
#include "util/macros.h"

static const struct {
	const char *name;
	int res;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },         { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },     { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },   { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits(struct json_object *v, struct oci_process *p, struct oci_err *pe)
{
	int r = oci_expect(v, json_type_array, "process.rlimits", pe);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(v);
	if (n > 64)
		return oci_fail(pe, "process.rlimits", "more than 64 entries");
	p->rlimits = calloc(n ? n : 1, sizeof(*p->rlimits));
	if (!p->rlimits)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i), *x;
		struct oci_rlimit *rl = &p->rlimits[i];
		char f[64];
		_cleanup_free_ char *type = NULL;
		snprintf(f, sizeof(f), "process.rlimits[%zu]", i);
		if ((r = oci_expect(e, json_type_object, f, pe)) < 0)
			return r;
		snprintf(f, sizeof(f), "process.rlimits[%zu].type", i);
		if (!(x = oci_member(e, "type")))
			return oci_fail(pe, f, "required");
		if ((r = oci_get_string(x, f, 32, &type, pe)) < 0)
			return r;
		rl->resource = -1;
		for (size_t k = 0; k < ARRAY_SIZE(rlimits); k++)
			if (strcmp(rlimits[k].name, type) == 0)
				rl->resource = rlimits[k].res;
		if (rl->resource < 0)
			return oci_fail(pe, f, "unknown resource \"%.32s\"", type);
		snprintf(f, sizeof(f), "process.rlimits[%zu].soft", i);
		if (!(x = oci_member(e, "soft")))
			return oci_fail(pe, f, "required");
		if ((r = oci_get_u64(x, f, &rl->soft, pe)) < 0)
			return r;
		snprintf(f, sizeof(f), "process.rlimits[%zu].hard", i);
		if (!(x = oci_member(e, "hard")))
			return oci_fail(pe, f, "required");
		if ((r = oci_get_u64(x, f, &rl->hard, pe)) < 0)
			return r;
		if (rl->soft > rl->hard)
			return oci_fail(pe, f, "smaller than soft");
		p->n_rlimits = i + 1;
	}
	return 0;
}

static int parse_user(struct json_object *u, struct oci_process *p, struct oci_err *pe)
{
	struct json_object *x;
	int r = oci_expect(u, json_type_object, "process.user", pe);
	if (r < 0)
		return r;
	if ((x = oci_member(u, "uid")) && (r = oci_get_u32(x, "process.user.uid", &p->uid, pe)) < 0)
		return r;
	if ((x = oci_member(u, "gid")) && (r = oci_get_u32(x, "process.user.gid", &p->gid, pe)) < 0)
		return r;
	if ((x = oci_member(u, "umask"))) {
		if ((r = oci_get_u32(x, "process.user.umask", &p->umask, pe)) < 0)
			return r;
		if (p->umask > 0777)
			return oci_fail(pe, "process.user.umask", "more than 0777");
		p->has_umask = true;
	}
	if ((x = oci_member(u, "additionalGids"))) {
		if ((r = oci_expect(x, json_type_array, "process.user.additionalGids", pe)) < 0)
			return r;
		size_t n = json_object_array_length(x);
		if (n > NGROUPS_MAX)
			return oci_fail(pe, "process.user.additionalGids", "more than %d groups", NGROUPS_MAX);
		p->additional_gids = calloc(n ? n : 1, sizeof(gid_t));
		if (!p->additional_gids)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			char f[64];
			uint32_t g;
			snprintf(f, sizeof(f), "process.user.additionalGids[%zu]", i);
			if ((r = oci_get_u32(json_object_array_get_idx(x, i), f, &g, pe)) < 0)
				return r;
			p->additional_gids[i] = g;
		}
		p->n_additional_gids = n;
	}
	return 0;
}

int oci_parse_process(struct json_object *v, struct oci_process *p, struct oci_err *pe)
{
	struct json_object *x;
	int r = oci_expect(v, json_type_object, "process", pe);
	if (r < 0)
		return r;
	if ((x = oci_member(v, "terminal")) && (r = oci_get_bool(x, "process.terminal", &p->terminal, pe)) < 0)
		return r;
	if (!(x = oci_member(v, "args")))
		return oci_fail(pe, "process.args", "required");
	if ((r = oci_get_strv(x, "process.args", 128 * 1024, &p->args, &p->n_args, pe)) < 0)
		return r;
	if (p->n_args == 0 || !p->args[0][0])
		return oci_fail(pe, "process.args", "needs at least the program to run");
	if ((x = oci_member(v, "env"))) {
		if ((r = oci_get_strv(x, "process.env", 128 * 1024, &p->env, &p->n_env, pe)) < 0)
			return r;
		for (size_t i = 0; i < p->n_env; i++) {
			const char *eq = strchr(p->env[i], '=');
			if (!eq || eq == p->env[i]) {
				char f[64];
				snprintf(f, sizeof(f), "process.env[%zu]", i);
				return oci_fail(pe, f, "not of the form NAME=value");
			}
		}
	}
	if (!(x = oci_member(v, "cwd")))
		return oci_fail(pe, "process.cwd", "required");
	if ((r = oci_get_path(x, "process.cwd", true, &p->cwd, pe)) < 0)
		return r;
	if ((x = oci_member(v, "user")) && (r = parse_user(x, p, pe)) < 0)
		return r;
	if ((x = oci_member(v, "noNewPrivileges")) &&
	    (r = oci_get_bool(x, "process.noNewPrivileges", &p->no_new_privileges, pe)) < 0)
		return r;
	if ((x = oci_member(v, "rlimits")) && (r = parse_rlimits(x, p, pe)) < 0)
		return r;
	if ((x = oci_member(v, "capabilities"))) {
		if ((r = oci_expect(x, json_type_object, "process.capabilities", pe)) < 0)
			return r;
		p->capabilities = x;
	}
	return 0;
}

void oci_process_done(struct oci_process *p)
{
	oci_strv_free(p->args);
	oci_strv_free(p->env);
	free(p->cwd);
	free(p->additional_gids);
	free(p->rlimits);
}
