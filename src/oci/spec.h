/* SPDX-License-Identifier: MIT */
/*
 * config.json of an OCI bundle (runtime spec 1.x), parsed with json-c into plain C.
 *
 * Unknown fields are ignored, as the spec says; a field of the wrong type, a bad value or malformed JSON is an
 * error that names the field the way a user would write it: `mounts[3].options[1]: unknown option "rbindx"`.
 * Mount options are parsed and checked here with the mount library's parser, so a bad bundle fails before
 * any namespace exists.
 *
 * Extension point for the lifecycle engineer (issue 6): add fields to struct oci_process / struct oci_linux
 * below, in the blocks marked "lifecycle", and parse them in spec-process.c / spec-linux.c. The raw json of
 * the sections that are kept as json-c objects (linux.seccomp, hooks, annotations...) is reachable through
 * spec->json, which lives as long as the spec.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "boxshare/mount.h"

struct json_object;

struct oci_id_mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct oci_mount {
	char *destination;
	char *type;   /* NULL when absent (a bind with a bind option) */
	char *source; /* NULL when absent */
	char **options;
	size_t n_options;
	struct bxm_options parsed;
	/* per-mount idmap (mounts[].uidMappings/gidMappings); empty = the container's user namespace */
	struct oci_id_mapping *uid_mappings;
	size_t n_uid_mappings;
	struct oci_id_mapping *gid_mappings;
	size_t n_gid_mappings;
};

enum oci_ns_type { OCI_NS_MOUNT, OCI_NS_PID, OCI_NS_UTS, OCI_NS_IPC, OCI_NS_NET, OCI_NS_USER, OCI_NS_CGROUP,
		   OCI_NS_TIME, OCI_NS_MAX };

struct oci_namespace {
	bool enabled; /* listed in linux.namespaces */
	char *path;   /* join this one instead of creating it; NULL = new */
};

struct oci_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct oci_process {
	bool terminal;
	char **args; /* NULL-terminated */
	size_t n_args;
	char **env;  /* NULL-terminated */
	size_t n_env;
	char *cwd;
	uint32_t uid, gid;
	gid_t *additional_gids;
	size_t n_additional_gids;
	uint32_t umask;
	bool has_umask;
	bool no_new_privileges;
	/* -- lifecycle (issue 6): capabilities, rlimits, apparmor, selinux, oomScoreAdj -- */
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	struct json_object *capabilities; /* borrowed from spec->json, or NULL */
};

struct oci_linux {
	struct oci_namespace ns[OCI_NS_MAX];
	struct oci_id_mapping *uid_mappings;
	size_t n_uid_mappings;
	struct oci_id_mapping *gid_mappings;
	size_t n_gid_mappings;
	unsigned long rootfs_propagation; /* MS_* (default MS_PRIVATE) */
	bool rootfs_propagation_recursive;
	bool has_rootfs_propagation;
	char **masked_paths;
	size_t n_masked_paths;
	char **readonly_paths;
	size_t n_readonly_paths;
	/* -- lifecycle (issue 6): cgroupsPath, resources, seccomp, sysctl... kept as json until parsed -- */
	char *cgroups_path;
	struct json_object *seccomp;   /* borrowed from spec->json, or NULL */
	struct json_object *resources; /* borrowed from spec->json, or NULL */
	struct json_object *sysctl;    /* borrowed from spec->json, or NULL */
};

struct oci_spec {
	char *oci_version;
	char *root_path;
	bool root_readonly;
	char *hostname;
	struct oci_process process;
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_linux lnx; /* "linux" (a predefined macro in GNU C) */
	struct json_object *hooks;       /* borrowed from json, or NULL */
	struct json_object *annotations; /* borrowed from json, or NULL */
	struct json_object *json;        /* the whole document, owned */
};

/* Parse a config.json held in memory (len bytes, need not be NUL-terminated). On error returns -EINVAL (or
 * -ENOMEM) and writes "field: reason" to errbuf. */
int oci_spec_parse(const char *text, size_t len, struct oci_spec **ret, char *errbuf, size_t errsize);
/* Read dirfd/"config.json" (at most 4 MiB) and parse it. -errno on I/O errors, with errbuf filled. */
int oci_spec_load(int bundle_fd, struct oci_spec **ret, char *errbuf, size_t errsize);
void oci_spec_free(struct oci_spec *spec);

/* "mount", "pid"... */
const char *oci_ns_name(enum oci_ns_type t);
