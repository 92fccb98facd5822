/* SPDX-License-Identifier: MIT */
/* Capabilities, rlimits, no_new_privs and seccomp for a container's process: parse in the runtime, apply in
 * the init. The seccomp profile parser lives in seccomp.c. */
#include "runtime/security.h"

#include <ctype.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <unistd.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "runtime/hooks.h"
#include "runtime/scmp.h"
#include "util/log.h"

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS },		{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },		{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },		{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

static bool json_get(json_object *o, const char *key, json_type type, json_object **ret)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return false;
	if (ret)
		*ret = v;
	return json_object_is_type(v, type);
}

/* "CAP_SYS_ADMIN" -> its number; the kernel must know it too, or we could not honour it. */
static int cap_parse(const char *name, cap_value_t *ret)
{
	char lower[64];
	size_t n = strlen(name);
	if (n >= sizeof(lower) || strncasecmp(name, "CAP_", 4) != 0)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	cap_value_t v;
	if (cap_from_name(lower, &v) < 0)
		return -EINVAL;
	if (v < 0 || v >= 64 || v >= cap_max_bits())
		return -EOPNOTSUPP;
	*ret = v;
	return 0;
}

static int parse_cap_set(json_object *caps, const char *key, uint64_t *ret, struct rt_err *err)
{
	json_object *a;
	*ret = 0;
	if (!json_object_object_get_ex(caps, key, &a) || !a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return rt_err_set(err, EINVAL, "process.capabilities.%s: not an array", key);
	size_t n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(a, i);
		if (!json_object_is_type(s, json_type_string))
			return rt_err_set(err, EINVAL, "process.capabilities.%s[%zu]: not a string", key, i);
		cap_value_t v;
		int r = cap_parse(json_object_get_string(s), &v);
		if (r == -EOPNOTSUPP)
			return rt_err_set(err, EOPNOTSUPP, "process.capabilities.%s[%zu]: %s is not supported by this kernel",
					  key, i, json_object_get_string(s));
		if (r < 0)
			return rt_err_set(err, EINVAL, "process.capabilities.%s[%zu]: unknown capability '%.64s'", key, i,
					  json_object_get_string(s));
		*ret |= 1ULL << v;
	}
	return 0;
}

static int parse_u64(json_object *v, uint64_t *ret)
{
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	/* json-c keeps numbers above INT64_MAX as uint64 */
	errno = 0;
	uint64_t u = json_object_get_uint64(v);
	if (errno != 0 || (json_object_get_int64(v) < 0))
		return -ERANGE;
	*ret = u;
	return 0;
}

static int parse_rlimits(json_object *arr, struct sec_config *c, struct rt_err *err)
{
	if (!json_object_is_type(arr, json_type_array))
		return rt_err_set(err, EINVAL, "process.rlimits: not an array");
	size_t n = json_object_array_length(arr);
	if (n > 64)
		return rt_err_set(err, EINVAL, "process.rlimits: %zu entries, more than there are limits", n);
	c->rlimits = calloc(n ? n : 1, sizeof(*c->rlimits));
	if (!c->rlimits)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i), *t, *h, *s;
		if (!json_object_is_type(e, json_type_object) || !json_get(e, "type", json_type_string, &t) ||
		    !json_object_object_get_ex(e, "hard", &h) || !json_object_object_get_ex(e, "soft", &s))
			return rt_err_set(err, EINVAL, "process.rlimits[%zu]: needs type, soft and hard", i);
		const char *name = json_object_get_string(t);
		int res = -1;
		for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
			if (strcmp(name, rlimit_names[k].name) == 0)
				res = rlimit_names[k].resource;
		if (res < 0)
			return rt_err_set(err, EINVAL, "process.rlimits[%zu]: unknown type '%.64s'", i, name);
		for (size_t k = 0; k < c->n_rlimits; k++)
			if (c->rlimits[k].resource == res)
				return rt_err_set(err, EINVAL, "process.rlimits[%zu]: %s given twice", i, name);
		uint64_t hard, soft;
		if (parse_u64(h, &hard) < 0 || parse_u64(s, &soft) < 0)
			return rt_err_set(err, EINVAL, "process.rlimits[%zu]: soft and hard must be unsigned integers", i);
		if (soft > hard)
			return rt_err_set(err, EINVAL, "process.rlimits[%zu]: %s soft limit %llu above hard limit %llu", i,
					  name, (unsigned long long)soft, (unsigned long long)hard);
		c->rlimits[c->n_rlimits++] = (struct sec_rlimit){ res, { (rlim_t)soft, (rlim_t)hard } };
	}
	return 0;
}

int sec_config_parse(json_object *process, json_object *lnx, struct sec_config *c, struct rt_err *err)
{
	*c = (struct sec_config){};
	int r = 0;
	json_object *v;
	/* No process.capabilities means no capabilities at all, bounding set included: runc turns a missing
	 * object into an empty configs.Capabilities, and crun 1.8 here gives CapInh/Prm/Eff/Bnd/Amb all 0.
	 * Leaving root's full set would hand a spec that forgot the field every privilege. */
	c->has_caps = process != NULL;
	if (process && json_object_object_get_ex(process, "capabilities", &v) && v) {
		if (!json_object_is_type(v, json_type_object)) {
			r = rt_err_set(err, EINVAL, "process.capabilities: not an object");
			goto fail;
		}
		json_object_object_foreach(v, key, val)
		{
			(void)val;
			if (strcmp(key, "bounding") && strcmp(key, "effective") && strcmp(key, "permitted") &&
			    strcmp(key, "inheritable") && strcmp(key, "ambient")) {
				r = rt_err_set(err, EINVAL, "process.capabilities.%.64s: unknown capability set", key);
				goto fail;
			}
		}
		c->has_caps = true;
		if ((r = parse_cap_set(v, "bounding", &c->cap_bounding, err)) < 0 ||
		    (r = parse_cap_set(v, "effective", &c->cap_effective, err)) < 0 ||
		    (r = parse_cap_set(v, "permitted", &c->cap_permitted, err)) < 0 ||
		    (r = parse_cap_set(v, "inheritable", &c->cap_inheritable, err)) < 0 ||
		    (r = parse_cap_set(v, "ambient", &c->cap_ambient, err)) < 0)
			goto fail;
		/* the kernel would refuse these at capset/prctl time, in the init; refuse them here, clearly */
		if (c->cap_effective & ~c->cap_permitted) {
			r = rt_err_set(err, EINVAL, "process.capabilities: effective has capabilities not in permitted");
			goto fail;
		}
		if (c->cap_ambient & ~(c->cap_permitted & c->cap_inheritable)) {
			r = rt_err_set(err, EINVAL,
				       "process.capabilities: ambient has capabilities not in both permitted and inheritable");
			goto fail;
		}
	}
	if (process && json_object_object_get_ex(process, "rlimits", &v) && v && (r = parse_rlimits(v, c, err)) < 0)
		goto fail;
	if (process && json_object_object_get_ex(process, "noNewPrivileges", &v) && v) {
		if (!json_object_is_type(v, json_type_boolean)) {
			r = rt_err_set(err, EINVAL, "process.noNewPrivileges: not a boolean");
			goto fail;
		}
		c->no_new_privs = json_object_get_boolean(v);
	}
	if (process && json_object_object_get_ex(process, "oomScoreAdj", &v) && v) {
		int64_t o = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || o < -1000 || o > 1000) {
			r = rt_err_set(err, EINVAL, "process.oomScoreAdj: not an integer in [-1000, 1000]");
			goto fail;
		}
		c->has_oom_score_adj = true;
		c->oom_score_adj = (int)o;
	}
	if (lnx && json_object_object_get_ex(lnx, "seccomp", &v) && v &&
	    (r = scmp_profile_build(v, c->no_new_privs, &c->seccomp, err)) < 0)
		goto fail;
	return 0;
fail:
	sec_config_free(c);
	return r;
}

void sec_config_free(struct sec_config *c)
{
	free(c->rlimits);
	if (c->seccomp)
		seccomp_release(c->seccomp);
	*c = (struct sec_config){};
}

static int write_oom_score_adj(int v)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", v);
	_cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return write(fd, buf, (size_t)n) == n ? 0 : -errno;
}

static int apply_bounding(const struct sec_config *c, struct rt_err *err)
{
	int last = cap_max_bits();
	for (int i = 0; i < last && i < 64; i++) {
		if (c->cap_bounding & (1ULL << i))
			continue;
		if (cap_drop_bound(i) < 0 && errno != EINVAL)
			return rt_err_set(err, errno, "capabilities: dropping %d from the bounding set: %m%s", i,
					  errno == EPERM ? " (CAP_SETPCAP is gone: was the user switched first?)" : "");
	}
	return 0;
}

static int apply_sets(const struct sec_config *c, struct rt_err *err)
{
	int last = cap_max_bits();
	cap_t caps = cap_init();
	if (!caps)
		return -ENOMEM;
	int r = 0;
	for (int i = 0; i < last && i < 64 && r == 0; i++) {
		cap_value_t v = i;
		if (c->cap_effective & (1ULL << i))
			r = cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
		if (r == 0 && (c->cap_permitted & (1ULL << i)))
			r = cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
		if (r == 0 && (c->cap_inheritable & (1ULL << i)))
			r = cap_set_flag(caps, CAP_INHERITABLE, 1, &v, CAP_SET);
	}
	if (r < 0) {
		cap_free(caps);
		return rt_err_set(err, EINVAL, "capabilities: building the sets failed");
	}
	if (cap_set_proc(caps) < 0) {
		r = rt_err_set(err, errno, "capabilities: capset: %m");
		cap_free(caps);
		return r;
	}
	cap_free(caps);
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return rt_err_set(err, errno, "capabilities: clearing the ambient set: %m");
	for (int i = 0; i < last && i < 64; i++)
		if ((c->cap_ambient & (1ULL << i)) && cap_set_ambient(i, CAP_SET) < 0)
			return rt_err_set(err, errno, "capabilities: raising ambient capability %d: %m", i);
	return 0;
}

static int load_seccomp(const struct sec_config *c, struct rt_err *err)
{
	int r = seccomp_load(c->seccomp);
	if (r < 0)
		return rt_err_set(err, r, "linux.seccomp: loading the filter: %s", strerror(-r));
	return 0;
}

int sec_apply_pre_user(const struct sec_config *c, struct rt_err *err)
{
	for (size_t i = 0; i < c->n_rlimits; i++) {
		if (setrlimit(c->rlimits[i].resource, &c->rlimits[i].lim) < 0) {
			const char *name = "?";
			for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
				if (rlimit_names[k].resource == c->rlimits[i].resource)
					name = rlimit_names[k].name;
			return rt_err_set(err, errno, "process.rlimits: setrlimit %s to %llu:%llu: %m%s", name,
					  (unsigned long long)c->rlimits[i].lim.rlim_cur,
					  (unsigned long long)c->rlimits[i].lim.rlim_max,
					  errno == EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : "");
		}
	}
	if (c->has_oom_score_adj) {
		int r = write_oom_score_adj(c->oom_score_adj);
		if (r < 0)
			return rt_err_set(err, r, "process.oomScoreAdj: writing %d: %s", c->oom_score_adj, strerror(-r));
	}
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return rt_err_set(err, errno, "process.noNewPrivileges: prctl: %m");
	/* without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the user switch and cap drop */
	if (c->seccomp && !c->no_new_privs) {
		int r = load_seccomp(c, err);
		if (r < 0)
			return r;
	}
	if (c->has_caps) {
		int r = apply_bounding(c, err);
		if (r < 0)
			return r;
		/* keep the permitted set across setuid, so that apply_sets can still give what the spec asks */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return rt_err_set(err, errno, "capabilities: PR_SET_KEEPCAPS: %m");
	}
	return 0;
}

int sec_apply_post_user(const struct sec_config *c, struct rt_err *err)
{
	if (c->has_caps) {
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
		int r = apply_sets(c, err);
		if (r < 0)
			return r;
	}
	/* with no_new_privs, as late as possible: the fewest syscalls run under the filter */
	if (c->seccomp && c->no_new_privs)
		return load_seccomp(c, err);
	return 0;
}

int sec_apply(const struct sec_config *c, struct rt_err *err)
{
	int r = sec_apply_pre_user(c, err);
	return r < 0 ? r : sec_apply_post_user(c, err);
}

static int add_string(json_object *arr, const char *s)
{
	json_object *v = json_object_new_string(s);
	if (!v || json_object_array_add(arr, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int sec_features(json_object *lnx)
{
	json_object *caps = json_object_new_array();
	if (!caps)
		return -ENOMEM;
	int last = cap_max_bits();
	for (int i = 0; i < last && i < 64; i++) {
		char *name = cap_to_name(i);
		if (!name)
			continue;
		char upper[64];
		size_t k = 0;
		for (; name[k] && k < sizeof(upper) - 1; k++)
			upper[k] = (char)toupper((unsigned char)name[k]);
		upper[k] = 0;
		cap_free(name);
		if (add_string(caps, upper) < 0) {
			json_object_put(caps);
			return -ENOMEM;
		}
	}
	json_object_object_add(lnx, "capabilities", caps);
	return scmp_features(lnx);
}

/* --- the init's side ------------------------------------------------------------------------------------ */

static const struct sec_init_ctx *init_ctx;
/* set in the init once security_apply_init_pre_user() ran, so security_apply_init() does only the rest */
static bool init_pre_done;

void security_set_init_ctx(const struct sec_init_ctx *ctx)
{
	init_ctx = ctx;
	init_pre_done = false;
}

int security_apply_init_pre_user(struct rt_err *err)
{
	const struct sec_init_ctx *ctx = init_ctx;
	if (!ctx || !ctx->sec)
		return 0;
	int r = sec_apply_pre_user(ctx->sec, err);
	if (r < 0)
		return r;
	init_pre_done = true;
	return 0;
}

static void report(const struct sec_init_ctx *ctx, const struct rt_err *err)
{
	if (ctx->report_fd < 0)
		return;
	size_t n = strnlen(err->msg, sizeof(err->msg));
	/* one write, atomic for a fifo below PIPE_BUF: the runtime reads one message */
	if (write(ctx->report_fd, err->msg, MIN(n, (size_t)PIPE_BUF)) < 0)
		log_debug("init: reporting '%s' failed: %m", err->msg);
}

/* execvp's lookup, done ahead so that "not found" is a message of start rather than a silent exit 127. */
static int lookup_exe(const char *exe, char *const *env, struct rt_err *err)
{
	if (!exe || !*exe)
		return rt_err_set(err, EINVAL, "process.args: empty, nothing to execute");
	if (strchr(exe, '/')) {
		if (access(exe, X_OK) < 0)
			return rt_err_set(err, errno, "exec: '%.200s': %m", exe);
		return 0;
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	size_t elen = strlen(exe);
	for (const char *p = path;;) {
		size_t n = strcspn(p, ":");
		char buf[PATH_MAX];
		if (n + 1 + elen < sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s%s%s", (int)n, n ? p : ".", "/", exe);
			if (access(buf, X_OK) == 0)
				return 0;
		}
		if (!p[n])
			break;
		p += n + 1;
	}
	return rt_err_set(err, ENOENT, "exec: '%.200s': executable file not found in $PATH", exe);
}

static char *read_all(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 == cap) {
			if (cap >= (1u << 20))
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf)
		buf[len] = 0;
	return buf;
}

int security_apply_init(void)
{
	const struct sec_init_ctx *ctx = init_ctx;
	if (!ctx)
		return 0;
	struct rt_err err = { "" };
	int r = 0;
	/* whatever container.c did with them, none of our fds may reach the container's process */
	if (ctx->report_fd >= 0)
		fcntl(ctx->report_fd, F_SETFD, FD_CLOEXEC);
	if (ctx->state_wfd >= 0)
		close(ctx->state_wfd);
	if (ctx->start_hooks && ctx->start_hooks->n) {
		_cleanup_free_ char *state = ctx->state_fd >= 0 ? read_all(ctx->state_fd) : NULL;
		r = hooks_run(ctx->start_hooks, "startContainer", state ? state : "{}", &err);
		if (r < 0)
			goto fail;
	}
	if (ctx->state_fd >= 0)
		close(ctx->state_fd);
	if (ctx->exe) {
		r = lookup_exe(ctx->exe, ctx->env, &err);
		if (r < 0)
			goto fail;
	}
	if (ctx->sec) {
		/* the part that needs root ran before the user switch (security_apply_init_pre_user) when the
		 * init called it; a caller that did not gets both halves here, as before */
		r = init_pre_done ? sec_apply_post_user(ctx->sec, &err) : sec_apply(ctx->sec, &err);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	if (!err.msg[0])
		rt_err_set(&err, r, "preparing the container's process: %s", strerror(-r));
	report(ctx, &err);
	return r;
}
