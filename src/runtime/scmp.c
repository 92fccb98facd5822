/* SPDX-License-Identifier: MIT */
/*
 * The OCI seccomp profile (linux.seccomp) through libseccomp. Unknown actions, operators, architectures and
 * flags are refused; a notify listener (listenerPath) is refused since we have no agent to hand it to.
 * Syscall names this libseccomp does not know are skipped (a profile names syscalls of every kernel and
 * architecture; one that does not exist here cannot be called here either), as runc and crun do.
 */
#include "runtime/scmp.h"

#include <ctype.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <string.h>

#include "util/log.h"

#define SCMP_MAX_ERRNO 4095

static const struct {
	const char *name;
	uint32_t act; /* the errno/trace data is or'ed in later */
	bool has_ret;
} actions[] = {
	{ "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false },
	{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
	{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
	{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
	{ "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
	{ "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
	{ "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
	{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
};

static const struct {
	const char *name;
	enum scmp_compare op;
} operators[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static const struct {
	const char *name;
	enum scmp_filter_attr attr;
} flags[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC },
	{ "SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB },
};

static const char *const archs[] = {
	"SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",     "SCMP_ARCH_ARM",
	"SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",      "SCMP_ARCH_MIPS64",  "SCMP_ARCH_MIPS64N32",
	"SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
	"SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",    "SCMP_ARCH_S390X",
	"SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",
};

static int parse_action(json_object *name, json_object *errno_ret, const char *where, uint32_t *ret,
			struct rt_err *err)
{
	if (!json_object_is_type(name, json_type_string))
		return rt_err_set(err, EINVAL, "linux.seccomp.%s: not a string", where);
	const char *s = json_object_get_string(name);
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (strcmp(s, actions[i].name) != 0)
			continue;
		uint32_t data = actions[i].act == SCMP_ACT_ERRNO(0) ? EPERM : 0;
		if (errno_ret && actions[i].has_ret) {
			int64_t v = json_object_get_int64(errno_ret);
			if (!json_object_is_type(errno_ret, json_type_int) || v < 0 || v > SCMP_MAX_ERRNO)
				return rt_err_set(err, EINVAL, "linux.seccomp.%s: errnoRet is not in [0, %d]", where,
						  SCMP_MAX_ERRNO);
			data = (uint32_t)v;
		}
		*ret = actions[i].act | (actions[i].has_ret ? data : 0);
		return 0;
	}
	if (strcmp(s, "SCMP_ACT_NOTIFY") == 0)
		return rt_err_set(err, EOPNOTSUPP, "linux.seccomp.%s: SCMP_ACT_NOTIFY is not supported (no listener)",
				  where);
	return rt_err_set(err, EINVAL, "linux.seccomp.%s: unknown action '%.64s'", where, s);
}

static int parse_arch(const char *name, uint32_t *ret)
{
	if (strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name) > 40)
		return -EINVAL;
	char lower[32];
	size_t k = 0;
	for (const char *p = name + 10; *p; p++)
		lower[k++] = (char)tolower((unsigned char)*p);
	lower[k] = 0;
	uint32_t a = seccomp_arch_resolve_name(lower);
	if (a == 0)
		return -EINVAL;
	*ret = a;
	return 0;
}

static int parse_args(json_object *args, size_t idx, struct scmp_arg_cmp *cmp, size_t *n, bool *dup_index,
		      struct rt_err *err)
{
	size_t count = json_object_array_length(args);
	if (count > 6 * 8)
		return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args: too many conditions", idx);
	unsigned seen = 0;
	*dup_index = false;
	for (size_t i = 0; i < count; i++) {
		json_object *a = json_object_array_get_idx(args, i), *index, *value, *value2 = NULL, *op;
		if (!json_object_is_type(a, json_type_object) || !json_object_object_get_ex(a, "index", &index) ||
		    !json_object_object_get_ex(a, "value", &value) || !json_object_object_get_ex(a, "op", &op) ||
		    !json_object_is_type(index, json_type_int) || !json_object_is_type(value, json_type_int) ||
		    !json_object_is_type(op, json_type_string))
			return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu]: needs index, value and op",
					  idx, i);
		int64_t ix = json_object_get_int64(index);
		if (ix < 0 || ix > 5)
			return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu]: index not in [0, 5]", idx, i);
		if (json_object_object_get_ex(a, "valueTwo", &value2) && value2 &&
		    !json_object_is_type(value2, json_type_int))
			return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu]: valueTwo not a number", idx,
					  i);
		const char *ops = json_object_get_string(op);
		int o = -1;
		for (size_t k = 0; k < ARRAY_SIZE(operators); k++)
			if (strcmp(ops, operators[k].name) == 0)
				o = (int)operators[k].op;
		if (o < 0)
			return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu]: unknown op '%.64s'", idx, i,
					  ops);
		if (seen & (1u << ix))
			*dup_index = true;
		seen |= 1u << ix;
		cmp[i] = (struct scmp_arg_cmp){
			.arg = (unsigned)ix,
			.op = (enum scmp_compare)o,
			.datum_a = json_object_get_uint64(value),
			.datum_b = value2 ? json_object_get_uint64(value2) : 0,
		};
	}
	*n = count;
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, json_object *entry, size_t idx, uint32_t def_action,
		     struct rt_err *err)
{
	json_object *names, *action, *errno_ret = NULL, *args = NULL;
	char where[64];
	snprintf(where, sizeof(where), "syscalls[%zu].action", idx);
	if (!json_object_is_type(entry, json_type_object) || !json_object_object_get_ex(entry, "names", &names) ||
	    !json_object_is_type(names, json_type_array) || !json_object_object_get_ex(entry, "action", &action))
		return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu]: needs names (an array) and action", idx);
	json_object_object_get_ex(entry, "errnoRet", &errno_ret);
	uint32_t act;
	int r = parse_action(action, errno_ret, where, &act, err);
	if (r < 0)
		return r;
	struct scmp_arg_cmp cmp[48];
	size_t ncmp = 0;
	bool dup = false;
	if (json_object_object_get_ex(entry, "args", &args) && args) {
		if (!json_object_is_type(args, json_type_array))
			return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args: not an array", idx);
		r = parse_args(args, idx, cmp, &ncmp, &dup, err);
		if (r < 0)
			return r;
	}
	if (act == def_action)
		return 0; /* libseccomp refuses a rule that repeats the default; it would change nothing */
	size_t n = json_object_array_length(names);
	for (size_t i = 0; i < n; i++) {
		json_object *nm = json_object_array_get_idx(names, i);
		if (!json_object_is_type(nm, json_type_string))
			return rt_err_set(err, EINVAL, "linux.seccomp.syscalls[%zu].names[%zu]: not a string", idx, i);
		const char *name = json_object_get_string(nm);
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR) {
			log_debug("seccomp: syscall '%s' unknown to libseccomp %u.%u, skipped", name,
				  seccomp_version()->major, seccomp_version()->minor);
			continue;
		}
		/* libseccomp ANDs the conditions of one rule, and allows one per argument: conditions on the same
		 * argument become one rule each (OR), as in runc */
		if (dup) {
			for (size_t k = 0; k < ncmp && r == 0; k++)
				r = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[k]);
		} else {
			r = seccomp_rule_add_array(ctx, act, nr, (unsigned)ncmp, cmp);
		}
		if (r < 0)
			return rt_err_set(err, r, "linux.seccomp.syscalls[%zu]: adding a rule for %.64s: %s", idx, name,
					  strerror(-r));
	}
	return 0;
}

int scmp_profile_build(json_object *sc, bool no_new_privs, void **ret, struct rt_err *err)
{
	*ret = NULL;
	if (!json_object_is_type(sc, json_type_object))
		return rt_err_set(err, EINVAL, "linux.seccomp: not an object");
	json_object *v, *def, *def_ret = NULL;
	if (json_object_object_get_ex(sc, "listenerPath", &v))
		return rt_err_set(err, EOPNOTSUPP, "linux.seccomp.listenerPath: seccomp notify is not supported");
	json_object_object_foreach(sc, key, val)
	{
		(void)val;
		if (strcmp(key, "defaultAction") && strcmp(key, "defaultErrnoRet") && strcmp(key, "architectures") &&
		    strcmp(key, "flags") && strcmp(key, "syscalls") && strcmp(key, "listenerMetadata"))
			return rt_err_set(err, EOPNOTSUPP, "linux.seccomp.%.64s: not supported", key);
	}
	if (!json_object_object_get_ex(sc, "defaultAction", &def))
		return rt_err_set(err, EINVAL, "linux.seccomp.defaultAction: missing");
	json_object_object_get_ex(sc, "defaultErrnoRet", &def_ret);
	uint32_t def_action;
	int r = parse_action(def, def_ret, "defaultAction", &def_action, err);
	if (r < 0)
		return r;
	scmp_filter_ctx ctx = seccomp_init(def_action);
	if (!ctx)
		return rt_err_set(err, ENOMEM, "linux.seccomp: seccomp_init failed");
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, no_new_privs ? 1 : 0);
	if (r < 0) {
		rt_err_set(err, r, "linux.seccomp: setting the no_new_privs attribute: %s", strerror(-r));
		goto fail;
	}
	if (json_object_object_get_ex(sc, "architectures", &v) && v) {
		if (!json_object_is_type(v, json_type_array)) {
			r = rt_err_set(err, EINVAL, "linux.seccomp.architectures: not an array");
			goto fail;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *a = json_object_array_get_idx(v, i);
			uint32_t arch;
			if (!json_object_is_type(a, json_type_string) || parse_arch(json_object_get_string(a), &arch) < 0) {
				r = rt_err_set(err, EINVAL, "linux.seccomp.architectures[%zu]: unknown architecture '%.64s'",
					       i, json_object_get_string(a));
				goto fail;
			}
			r = seccomp_arch_add(ctx, arch);
			if (r < 0 && r != -EEXIST) {
				rt_err_set(err, r, "linux.seccomp.architectures[%zu]: %s", i, strerror(-r));
				goto fail;
			}
		}
	}
	if (json_object_object_get_ex(sc, "flags", &v) && v) {
		if (!json_object_is_type(v, json_type_array)) {
			r = rt_err_set(err, EINVAL, "linux.seccomp.flags: not an array");
			goto fail;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *f = json_object_get_string(json_object_array_get_idx(v, i));
			int attr = -1;
			for (size_t k = 0; f && k < ARRAY_SIZE(flags); k++)
				if (strcmp(f, flags[k].name) == 0)
					attr = (int)flags[k].attr;
			if (attr < 0) {
				r = rt_err_set(err, EOPNOTSUPP, "linux.seccomp.flags[%zu]: '%.64s' is not supported", i,
					       f ? f : "");
				goto fail;
			}
			r = seccomp_attr_set(ctx, (enum scmp_filter_attr)attr, 1);
			if (r < 0) {
				rt_err_set(err, r, "linux.seccomp.flags[%zu]: %s: %s", i, f, strerror(-r));
				goto fail;
			}
		}
	}
	if (json_object_object_get_ex(sc, "syscalls", &v) && v) {
		if (!json_object_is_type(v, json_type_array)) {
			r = rt_err_set(err, EINVAL, "linux.seccomp.syscalls: not an array");
			goto fail;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			r = add_rules(ctx, json_object_array_get_idx(v, i), i, def_action, err);
			if (r < 0)
				goto fail;
		}
	}
	*ret = ctx;
	return 0;
fail:
	seccomp_release(ctx);
	return r < 0 ? r : -EINVAL;
}

static json_object *string_array(const char *const *names, size_t stride, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < n; i++) {
		const char *s = *(const char *const *)((const char *)names + i * stride);
		json_object *v = json_object_new_string(s);
		if (!v || json_object_array_add(a, v) < 0) {
			json_object_put(v);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

int scmp_features(json_object *lnx)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "enabled", json_object_new_boolean(1));
	json_object_object_add(o, "actions", string_array(&actions[0].name, sizeof(actions[0]), ARRAY_SIZE(actions)));
	json_object_object_add(o, "operators",
			       string_array(&operators[0].name, sizeof(operators[0]), ARRAY_SIZE(operators)));
	json_object_object_add(o, "archs", string_array(archs, sizeof(archs[0]), ARRAY_SIZE(archs)));
	json_object_object_add(o, "knownFlags", string_array(&flags[0].name, sizeof(flags[0]), ARRAY_SIZE(flags)));
	json_object_object_add(o, "supportedFlags",
			       string_array(&flags[0].name, sizeof(flags[0]), ARRAY_SIZE(flags)));
	json_object_object_add(lnx, "seccomp", o);
	return 0;
}
