/* SPDX-License-Identifier: MIT */
/* Refuse what nobody implements; parse the lifecycle's parts of config.json; the features document. */
#include "runtime/spec-ext.h"

#include <json-c/json.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "boxshare/mount.h"
#include "config.h"
#include "runtime/cgroup.h"
#include "runtime/hooks.h"

/*
 * Members honoured somewhere in boxshare. "empty" members are accepted only when absent, null, "", [] or {}:
 * a value there would ask for something we do not do (apparmor, SELinux labels, sysctl...).
 */
enum accept { ACCEPT, ACCEPT_EMPTY };
struct member {
	const char *name;
	enum accept how;
};

static const struct member top_members[] = {
	{ "ociVersion", ACCEPT }, { "process", ACCEPT }, { "root", ACCEPT },	     { "hostname", ACCEPT },
	{ "mounts", ACCEPT },	  { "hooks", ACCEPT },	 { "annotations", ACCEPT }, { "linux", ACCEPT },
	{ "domainname", ACCEPT_EMPTY },
	{ NULL, ACCEPT },
};

static const struct member process_members[] = {
	{ "terminal", ACCEPT },		 { "consoleSize", ACCEPT },	 { "user", ACCEPT },
	{ "args", ACCEPT },		 { "env", ACCEPT },		 { "cwd", ACCEPT },
	{ "capabilities", ACCEPT },	 { "rlimits", ACCEPT },		 { "noNewPrivileges", ACCEPT },
	{ "oomScoreAdj", ACCEPT },	 { "apparmorProfile", ACCEPT_EMPTY }, { "selinuxLabel", ACCEPT_EMPTY },
	{ "ioPriority", ACCEPT_EMPTY },	 { "scheduler", ACCEPT_EMPTY },	 { "execCPUAffinity", ACCEPT_EMPTY },
	{ "commandLine", ACCEPT_EMPTY }, { NULL, ACCEPT },
};

static const struct member user_members[] = {
	{ "uid", ACCEPT }, { "gid", ACCEPT }, { "umask", ACCEPT }, { "additionalGids", ACCEPT },
	{ "username", ACCEPT_EMPTY }, { NULL, ACCEPT },
};

static const struct member linux_members[] = {
	{ "namespaces", ACCEPT },	{ "uidMappings", ACCEPT },	{ "gidMappings", ACCEPT },
	{ "rootfsPropagation", ACCEPT }, { "maskedPaths", ACCEPT },	{ "readonlyPaths", ACCEPT },
	{ "cgroupsPath", ACCEPT },	{ "resources", ACCEPT },	{ "seccomp", ACCEPT },
	{ "mountLabel", ACCEPT_EMPTY }, { "sysctl", ACCEPT },	{ "devices", ACCEPT_EMPTY },
	{ "intelRdt", ACCEPT_EMPTY },	{ "personality", ACCEPT_EMPTY }, { "timeOffsets", ACCEPT_EMPTY },
	{ "memoryPolicy", ACCEPT_EMPTY }, { "netDevices", ACCEPT_EMPTY }, { NULL, ACCEPT },
};

static bool is_empty(json_object *v)
{
	if (!v)
		return true;
	switch (json_object_get_type(v)) {
	case json_type_null:
		return true;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_array:
		return json_object_array_length(v) == 0;
	case json_type_object:
		return json_object_object_length(v) == 0;
	default:
		return false;
	}
}

static int check_members(json_object *o, const char *where, const struct member *m, struct rt_err *err)
{
	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return rt_err_set(err, EINVAL, "%s: not an object", where);
	json_object_object_foreach(o, key, val)
	{
		const struct member *k = m;
		while (k->name && strcmp(k->name, key) != 0)
			k++;
		if (!k->name)
			return rt_err_set(err, EOPNOTSUPP, "%s%s%.64s: not supported by boxshare (refused, not ignored)",
					  where, *where ? "." : "", key);
		if (k->how == ACCEPT_EMPTY && !is_empty(val))
			return rt_err_set(err, EOPNOTSUPP, "%s%s%s: not supported by boxshare (refused, not ignored)",
					  where, *where ? "." : "", key);
	}
	return 0;
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (o && json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, key, &v);
	return v;
}

/*
 * The namespaces the container makes for itself, as CLONE_NEW* flags: listed without a path. With a user
 * namespace joined by path the init makes them only after prepare(), too late for sysctls: none then.
 */
static int private_namespaces(json_object *lnx)
{
	static const struct {
		const char *type;
		int flag;
	} t[] = { { "network", CLONE_NEWNET }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS } };
	json_object *ns = member(lnx, "namespaces");
	int flags = 0;
	for (size_t i = 0; ns && json_object_is_type(ns, json_type_array) && i < json_object_array_length(ns); i++) {
		json_object *e = json_object_array_get_idx(ns, i), *type = member(e, "type"), *path = member(e, "path");
		const char *ty = type ? json_object_get_string(type) : "";
		bool joined = path && json_object_get_string_len(path) > 0;
		if (strcmp(ty, "user") == 0 && joined)
			return 0;
		for (size_t k = 0; k < ARRAY_SIZE(t); k++)
			if (strcmp(ty, t[k].type) == 0 && !joined)
				flags |= t[k].flag;
	}
	return flags;
}

int spec_ext_check_process(json_object *process, struct rt_err *err)
{
	int r = check_members(process, "process", process_members, err);
	if (r == 0)
		r = check_members(member(process, "user"), "process.user", user_members, err);
	return r;
}

int spec_ext_parse(json_object *doc, struct spec_ext *x, struct rt_err *err)
{
	*x = (struct spec_ext){};
	int r = check_members(doc, "", top_members, err);
	json_object *process = member(doc, "process"), *lnx = member(doc, "linux");
	r = r ?: spec_ext_check_process(process, err);
	r = r ?: check_members(lnx, "linux", linux_members, err);
	if (r < 0)
		return r;
	r = sec_config_parse(process, lnx, &x->sec, err);
	r = r ?: hooks_parse(member(doc, "hooks"), &x->hooks, err);
	r = r ?: cg_limits_parse(member(lnx, "resources"), &x->limits, err);
	r = r ?: sysctl_parse(member(lnx, "sysctl"), private_namespaces(lnx), &x->sysctl, err);
	if (r < 0)
		goto fail;
	json_object *v = member(lnx, "cgroupsPath");
	if (v && !json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_null)) {
		r = rt_err_set(err, EINVAL, "linux.cgroupsPath: not a string");
		goto fail;
	}
	x->cgroups_path = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	v = member(process, "terminal");
	x->terminal = v && json_object_get_boolean(v);
	if ((v = member(process, "consoleSize"))) {
		json_object *h = member(v, "height"), *w = member(v, "width");
		int64_t hh = json_object_get_int64(h), ww = json_object_get_int64(w);
		if (!h || !w || !json_object_is_type(h, json_type_int) || !json_object_is_type(w, json_type_int) ||
		    hh < 0 || hh > 65535 || ww < 0 || ww > 65535) {
			r = rt_err_set(err, EINVAL, "process.consoleSize: needs height and width in [0, 65535]");
			goto fail;
		}
		x->cons_rows = (unsigned short)hh;
		x->cons_cols = (unsigned short)ww;
	}
	json_object *args = member(process, "args"), *env = member(process, "env");
	if (args && json_object_is_type(args, json_type_array) && json_object_array_length(args) > 0)
		x->exe = json_object_get_string(json_object_array_get_idx(args, 0));
	size_t n = env && json_object_is_type(env, json_type_array) ? json_object_array_length(env) : 0;
	x->env = calloc(n + 1, sizeof(char *));
	if (!x->env) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(env, i);
		if (json_object_is_type(e, json_type_string))
			x->env[k++] = (char *)json_object_get_string(e);
	}
	return 0;
fail:
	spec_ext_free(x);
	return r;
}

void spec_ext_free(struct spec_ext *x)
{
	sec_config_free(&x->sec);
	hooks_free(&x->hooks);
	cg_limits_free(&x->limits);
	sysctl_free(&x->sysctl);
	free(x->env);
	*x = (struct spec_ext){};
}

/* --- features ------------------------------------------------------------------------------------------- */

/* Every option name of mount(8) and of runc's list; those our mount library accepts are listed. */
static const char *const mount_option_candidates[] = {
	"async",     "atime",	  "bind",      "defaults",   "dev",	     "diratime",   "dirsync",
	"exec",	     "iversion",  "lazytime",  "loud",	     "mand",	     "noatime",	   "nodev",
	"nodiratime", "noexec",	  "noiversion", "nolazytime", "nomand",	     "norelatime", "nostrictatime",
	"nosuid",    "nosymfollow", "private", "rprivate",   "shared",	     "rshared",	   "slave",
	"rslave",    "unbindable", "runbindable", "rbind",   "relatime",     "remount",	   "ro",
	"rw",	     "silent",	  "strictatime", "suid",     "sync",	     "symfollow",  "idmap",
	"ridmap",    "tmpcopyup", "rro",       "rrw",	     "rnosuid",	     "rsuid",	   "rnodev",
	"rdev",	     "rnoexec",	  "rexec",     "rnodiratime", "rdiratime",   "rrelatime",  "rnorelatime",
	"rnoatime",  "ratime",	  "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow", "copy-symlink",
	"src-nofollow",
};

static int add_str(json_object *arr, const char *s)
{
	json_object *v = json_object_new_string(s);
	if (!v || json_object_array_add(arr, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int spec_ext_features(json_object *doc)
{
	json_object_object_add(doc, "ociVersionMin", json_object_new_string("1.0.0"));
	json_object_object_add(doc, "ociVersionMax", json_object_new_string(OCI_SPEC_VERSION));
	json_object *hooks = json_object_new_array();
	static const char *const hook_names[] = { "prestart",	    "createRuntime", "createContainer",
						  "startContainer", "poststart",     "poststop" };
	for (size_t i = 0; hooks && i < ARRAY_SIZE(hook_names); i++)
		add_str(hooks, hook_names[i]);
	json_object_object_add(doc, "hooks", hooks);
	json_object *opts = json_object_new_array();
	bool idmap = false;
	for (size_t i = 0; opts && i < ARRAY_SIZE(mount_option_candidates); i++) {
		struct bxm_options o;
		char reason[128];
		const char *one[] = { mount_option_candidates[i] };
		/* "bind" covers the bind-only ones (rro, idmap...); the library knows which apply to which type */
		size_t bad;
		if (bxm_options_parse("bind", one, 1, &o, &bad, reason, sizeof(reason)) == 0) {
			add_str(opts, mount_option_candidates[i]);
			idmap |= strcmp(mount_option_candidates[i], "idmap") == 0;
			bxm_options_done(&o);
		}
	}
	json_object_object_add(doc, "mountOptions", opts);
	json_object *lnx = json_object_new_object();
	json_object *ns = json_object_new_array();
	static const char *const ns_names[] = { "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time" };
	for (size_t i = 0; ns && i < ARRAY_SIZE(ns_names); i++)
		add_str(ns, ns_names[i]);
	json_object_object_add(lnx, "namespaces", ns);
	int r = sec_features(lnx);
	r = r ?: cg_features(lnx);
	json_object *off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(0));
	json_object_object_add(lnx, "apparmor", off);
	off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(0));
	json_object_object_add(lnx, "selinux", off);
	off = json_object_new_object();
	json_object_object_add(off, "enabled", json_object_new_boolean(0));
	json_object_object_add(lnx, "intelRdt", off);
	json_object *ext = json_object_new_object(), *idmap_o = json_object_new_object();
	json_object_object_add(idmap_o, "enabled", json_object_new_boolean(idmap));
	json_object_object_add(ext, "idmap", idmap_o);
	json_object_object_add(lnx, "mountExtensions", ext);
	json_object_object_add(doc, "linux", lnx);
	json_object *ann = json_object_new_object();
	char ver[32];
	const struct scmp_version *sv = seccomp_version();
	snprintf(ver, sizeof(ver), "%u.%u.%u", sv->major, sv->minor, sv->micro);
	json_object_object_add(ann, "io.github.seccomp.libseccomp.version", json_object_new_string(ver));
	json_object_object_add(ann, "org.boxshare.version", json_object_new_string(BOXSHARE_VERSION));
	json_object_object_add(ann, "org.boxshare.resources",
			       json_object_new_string("memory.limit, memory.swap, pids.limit, cpu.quota, cpu.period, "
						      "cpu.shares, devices (cgroup v1 devices controller only)"));
	json_object_object_add(ann, "org.boxshare.refused",
			       json_object_new_string("apparmorProfile, selinuxLabel, ioPriority, scheduler, "
						      "execCPUAffinity, linux.sysctl keys that are not namespaced, linux.devices, linux.intelRdt, "
						      "linux.personality, linux.timeOffsets, linux.memoryPolicy, "
						      "linux.netDevices, seccomp notify (listenerPath)"));
	json_object_object_add(doc, "annotations", ann);
	return r;
}
