/* SPDX-License-Identifier: MIT */
/*
 * linux.sysctl: only namespaced keys, each in a namespace the container has of its own (net.* needs its own
 * network namespace; kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* its own IPC namespace;
 * kernel.hostname and kernel.domainname its own UTS namespace). Anything else would change the host and is
 * refused. They are written from a child that joined the init's namespaces (not its mount namespace:
 * the host's /proc shows the writer's namespaces), before the init sets anything up.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "runtime/rterr.h"

struct json_object;

struct sysctl_entry {
	char *path;  /* "net/ipv4/ip_forward", relative to /proc/sys */
	char *value;
	int ns_flag; /* CLONE_NEWNET, CLONE_NEWIPC or CLONE_NEWUTS */
};

struct sysctl_list {
	struct sysctl_entry *v;
	size_t n;
};

/* Parse and check linux.sysctl (NULL = none); private_ns: the CLONE_NEW* flags of the namespaces the
 * container creates for itself (not joined by path, not the host's). */
int sysctl_parse(struct json_object *sysctl, int private_ns, struct sysctl_list *ret, struct rt_err *err);
void sysctl_free(struct sysctl_list *l);
/* Write them in the namespaces of pid (the init). */
int sysctl_apply(const struct sysctl_list *l, pid_t pid, struct rt_err *err);
