/* SPDX-License-Identifier: MIT */
/*
 * The share tree's configuration: the repeatable flags (--share, --file, --virtual) and the JSON config file
 * (--config), parsed into one list of items, then applied to a tree (which opens the host paths). Every error
 * names the flag or the JSON field and the reason; a bad configuration applies nothing.
 * Syntax and semantics: docs/share-tree.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tree/tree.h"

enum tree_cfg_kind {
	TREE_CFG_SHARE,   /* a host directory */
	TREE_CFG_FILE,    /* a single host file */
	TREE_CFG_VIRTUAL, /* a virtual file: text, or a host file read once */
	TREE_CFG_STATUS,  /* the live status file */
};

struct tree_cfg_item {
	enum tree_cfg_kind kind;
	char *origin; /* for messages: "--share '/a:/b'" or "FILE: shares[1]" */
	char *host;   /* share/file; virtual from a host file */
	char *path;   /* in the share, normalized: "/a/b" */
	bool ro;
	char *text;   /* virtual text (may hold NULs: text_len) */
	size_t text_len;
	mode_t mode;  /* virtual: 0 = default */
	uid_t uid;
	gid_t gid;
	bool oneshot;
};

struct tree_cfg {
	struct tree_cfg_item *items;
	size_t n, cap;
};

/* flag: "share", "file" or "virtual" (without dashes); value as given. 0 or -EINVAL with *ret_err. */
int tree_cfg_add_flag(struct tree_cfg *c, const char *flag, const char *value, char **ret_err);
/* A JSON document (len bytes, need not be NUL-terminated); name is used in messages (the file's path). */
int tree_cfg_add_json(struct tree_cfg *c, const char *json, size_t len, const char *name, char **ret_err);
/* Read and parse a JSON config file (at most 4 MiB). */
int tree_cfg_add_json_file(struct tree_cfg *c, const char *file, char **ret_err);
/* Apply to t: opens each host path now (O_PATH, relative to the current root). Stops at the first error. */
int tree_cfg_apply(const struct tree_cfg *c, struct tree *t, char **ret_err);
void tree_cfg_free(struct tree_cfg *c);

/* Check and normalize a path in the share ("/a//b/" -> "/a/b"); "/" alone is refused. 0 or -EINVAL with a
 * reason in *ret_why (static). */
int tree_path_normalize(const char *in, size_t len, char **ret, const char **ret_why);
/* Parse "0755" (octal, at most 07777). */
int tree_mode_parse(const char *s, mode_t *ret);
