/* SPDX-License-Identifier: MIT */
/* config.json "linux": namespaces, id mappings, rootfsPropagation, masked and read-only paths; the sections
 * the lifecycle owns (seccomp, resources, sysctl, cgroupsPath) are checked for type and kept. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "internal.h"
#include "util/macros.h"

int oci_parse_id_mappings(struct json_object *v, const char *field, struct oci_id_mapping **ret, size_t *ret_n,
			  struct oci_err *pe)
{
	int r = oci_expect(v, json_type_array, field, pe);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(v);
	/* the kernel takes at most 340 lines in uid_map */
	if (n > 340)
		return oci_fail(pe, field, "more than 340 mappings");
	struct oci_id_mapping *m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i), *x;
		char f[160];
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if ((r = oci_expect(e, json_type_object, f, pe)) < 0)
			goto fail;
		static const char *const keys[] = { "containerID", "hostID", "size" };
		uint32_t *vals[] = { &m[i].container_id, &m[i].host_id, &m[i].size };
		for (size_t k = 0; k < 3; k++) {
			snprintf(f, sizeof(f), "%s[%zu].%s", field, i, keys[k]);
			if (!(x = oci_member(e, keys[k]))) {
				r = oci_fail(pe, f, "required");
				goto fail;
			}
			if ((r = oci_get_u32(x, f, vals[k], pe)) < 0)
				goto fail;
		}
		if (m[i].size == 0 || (uint64_t)m[i].container_id + m[i].size > (1ull << 32) ||
		    (uint64_t)m[i].host_id + m[i].size > (1ull << 32)) {
			r = oci_fail(pe, f, "empty, or the range goes past 4294967295");
			goto fail;
		}
	}
	free(*ret);
	*ret = m;
	*ret_n = n;
	return 0;
fail:
	free(m);
	return r;
}

static int parse_namespaces(struct json_object *v, struct oci_linux *l, struct oci_err *pe)
{
	int r = oci_expect(v, json_type_array, "linux.namespaces", pe);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i), *x;
		char f[64];
		_cleanup_free_ char *type = NULL;
		snprintf(f, sizeof(f), "linux.namespaces[%zu]", i);
		if ((r = oci_expect(e, json_type_object, f, pe)) < 0)
			return r;
		snprintf(f, sizeof(f), "linux.namespaces[%zu].type", i);
		if (!(x = oci_member(e, "type")))
			return oci_fail(pe, f, "required");
		if ((r = oci_get_string(x, f, 16, &type, pe)) < 0)
			return r;
		int t = -1;
		for (int k = 0; k < OCI_NS_MAX; k++)
			if (strcmp(oci_ns_name((enum oci_ns_type)k), type) == 0)
				t = k;
		if (t < 0)
			return oci_fail(pe, f, "unknown namespace type \"%.16s\"", type);
		if (l->ns[t].enabled)
			return oci_fail(pe, f, "namespace \"%s\" listed twice", type);
		l->ns[t].enabled = true;
		if ((x = oci_member(e, "path"))) {
			snprintf(f, sizeof(f), "linux.namespaces[%zu].path", i);
			if ((r = oci_get_path(x, f, true, &l->ns[t].path, pe)) < 0)
				return r;
		}
	}
	return 0;
}

static int keep_object(struct json_object *v, const char *key, const char *field, struct json_object **ret,
		       struct oci_err *pe)
{
	struct json_object *x = oci_member(v, key);
	if (!x)
		return 0;
	int r = oci_expect(x, json_type_object, field, pe);
	if (r < 0)
		return r;
	*ret = x;
	return 0;
}

static int parse_paths(struct json_object *x, const char *field, char ***ret, size_t *ret_n, struct oci_err *pe)
{
	int r = oci_get_strv(x, field, PATH_MAX - 1, ret, ret_n, pe);
	if (r < 0)
		return r;
	for (size_t i = 0; i < *ret_n; i++)
		if ((*ret)[i][0] != '/') {
			char f[64];
			snprintf(f, sizeof(f), "%s[%zu]", field, i);
			return oci_fail(pe, f, "\"%.100s\" is not an absolute path", (*ret)[i]);
		}
	return 0;
}

int oci_parse_linux(struct json_object *v, struct oci_linux *l, struct oci_err *pe)
{
	struct json_object *x;
	int r = oci_expect(v, json_type_object, "linux", pe);
	if (r < 0)
		return r;
	l->rootfs_propagation = MS_PRIVATE;
	l->rootfs_propagation_recursive = true;
	if ((x = oci_member(v, "namespaces")) && (r = parse_namespaces(x, l, pe)) < 0)
		return r;
	if ((x = oci_member(v, "uidMappings")) &&
	    (r = oci_parse_id_mappings(x, "linux.uidMappings", &l->uid_mappings, &l->n_uid_mappings, pe)) < 0)
		return r;
	if ((x = oci_member(v, "gidMappings")) &&
	    (r = oci_parse_id_mappings(x, "linux.gidMappings", &l->gid_mappings, &l->n_gid_mappings, pe)) < 0)
		return r;
	if ((x = oci_member(v, "rootfsPropagation"))) {
		_cleanup_free_ char *s = NULL;
		if ((r = oci_get_string(x, "linux.rootfsPropagation", 32, &s, pe)) < 0)
			return r;
		if (bxm_propagation_parse(s, &l->rootfs_propagation, &l->rootfs_propagation_recursive) < 0)
			return oci_fail(pe, "linux.rootfsPropagation",
					"unknown propagation \"%.32s\" (private, shared, slave, unbindable, or r...)", s);
		l->has_rootfs_propagation = true;
	}
	if ((x = oci_member(v, "maskedPaths")) &&
	    (r = parse_paths(x, "linux.maskedPaths", &l->masked_paths, &l->n_masked_paths, pe)) < 0)
		return r;
	if ((x = oci_member(v, "readonlyPaths")) &&
	    (r = parse_paths(x, "linux.readonlyPaths", &l->readonly_paths, &l->n_readonly_paths, pe)) < 0)
		return r;
	if ((x = oci_member(v, "cgroupsPath")) &&
	    (r = oci_get_string(x, "linux.cgroupsPath", PATH_MAX - 1, &l->cgroups_path, pe)) < 0)
		return r;
	if ((r = keep_object(v, "seccomp", "linux.seccomp", &l->seccomp, pe)) < 0)
		return r;
	if ((r = keep_object(v, "resources", "linux.resources", &l->resources, pe)) < 0)
		return r;
	if ((r = keep_object(v, "sysctl", "linux.sysctl", &l->sysctl, pe)) < 0)
		return r;
	return 0;
}

void oci_linux_done(struct oci_linux *l)
{
	for (int i = 0; i < OCI_NS_MAX; i++)
		free(l->ns[i].path);
	free(l->uid_mappings);
	free(l->gid_mappings);
	oci_strv_free(l->masked_paths);
	oci_strv_free(l->readonly_paths);
	free(l->cgroups_path);
}
