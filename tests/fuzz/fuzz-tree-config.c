/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the share tree's untrusted text inputs. The first byte picks the decoder:
 *   0: a JSON config file (--config), then applied to a tree whose host opens all fail (nothing on the host
 *      is touched: only the virtual entries of the config take effect);
 *   1..3: a --share / --file / --virtual flag value;
 *   other: control-socket request lines (one per '\n') against a live tree.
 * Every error must come back as a message, never a crash, a leak or an out-of-bounds read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tree/config.h"
#include "tree/control.h"

static int no_open(void *data, int fd, struct fs_inomap *map, struct fs **ret)
{
	close(fd);
	return -EPERM;
}

static struct tree *new_tree(struct fs_inomap *map)
{
	struct tree *t;
	struct tree_opts o = { .open_entry = no_open };
	if (tree_new(map, NULL, &o, &t) < 0)
		abort();
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	struct fs_inomap *map = fs_inomap_new();
	struct tree *t = new_tree(map);
	char *err = NULL;
	if (mode == 0) {
		struct tree_cfg c = { 0 };
		if (tree_cfg_add_json(&c, text, len, "fuzz.json", &err) == 0) {
			/* host paths are not opened for real here: only text virtual entries and the status file */
			for (size_t i = 0; i < c.n; i++)
				if (c.items[i].kind != TREE_CFG_VIRTUAL || c.items[i].host)
					c.items[i].kind = TREE_CFG_STATUS;
			tree_cfg_apply(&c, t, &err);
		}
		tree_cfg_free(&c);
	} else if (mode <= 3) {
		static const char *const flags[] = { "share", "file", "virtual" };
		char *v = strndup(text, len);
		struct tree_cfg c = { 0 };
		if (v)
			tree_cfg_add_flag(&c, flags[mode - 1], v, &err);
		free(v);
		tree_cfg_free(&c);
	} else {
		size_t pos = 0;
		while (pos < len) {
			const char *nl = memchr(text + pos, '\n', len - pos);
			size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
			char *r = control_handle(t, text + pos, ll, -1);
			if (!r)
				abort();
			free(r);
			pos += ll + 1;
		}
	}
	free(err);
	fs_free(tree_fs(t));
	tree_free(t);
	fs_inomap_unref(map);
	return 0;
}
