/* SPDX-License-Identifier: MIT */
/*
 * What `boxshare serve` exports: a passthrough of --source (read-only with --readonly), or the share tree of
 * --share/--file/--virtual/--config (over --source, or over a null root), plus the --control socket. Every
 * host path is opened here, before the sandbox; the control socket is bound here and served after it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/serve.h"
#include "tree/config.h"
#include "tree/control.h"
#include "tree/ro.h"
#include "tree/tree.h"
#include "util/macros.h"

/* What entries added later (control socket) need: the server lives as long as these. */
static struct {
	struct pt_opts pt;
	int proc_fd;
	struct tree *tree;
	struct control *control;
} srv = { .proc_fd = -1 };

static int open_entry(void *data, int host_fd, struct fs_inomap *map, struct fs **ret)
{
	return pt_new(host_fd, srv.proc_fd, &srv.pt, map, ret);
}

static int err_msg(char **ret_err, int r, const char *fmt, const char *a, const char *b)
{
	if (asprintf(ret_err, fmt, a, b) < 0)
		*ret_err = NULL;
	return r;
}

/* --source: a directory, or (without tree flags) one regular file at the root. */
static int open_source(const struct serve_opts *o, bool need_dir, int proc_fd, struct fs_inomap *map,
		       struct fs **ret, char **ret_err)
{
	int fd = open(o->source, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		return err_msg(ret_err, r, "--source %s: %s", o->source, strerror(-r));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !(S_ISDIR(st.st_mode) || (!need_dir && S_ISREG(st.st_mode)))) {
		close(fd);
		return err_msg(ret_err, -EINVAL, "--source %s: %s", o->source,
			       need_dir ? "must be a directory to hold --share/--file/--virtual entries"
					: "neither a directory nor a regular file");
	}
	int r = pt_new(fd, proc_fd, &o->pt, map, ret);
	if (r < 0)
		return err_msg(ret_err, r, "--source %s: %s", o->source, strerror(-r));
	if (o->readonly && (r = ro_new(*ret, ret)) < 0)
		return err_msg(ret_err, r, "--source %s: %s", o->source, strerror(-r));
	return 0;
}

int serve_build_fs(const struct serve_opts *o, int proc_fd, struct fs_inomap *map, struct fs **ret,
		   char **ret_err)
{
	*ret_err = NULL;
	bool tree_mode = o->n_tree_args > 0 || o->config_path || o->control_path;
	if (!tree_mode) {
		if (!o->source)
			return err_msg(ret_err, -EINVAL, "serve: nothing to export%s%s", "", "");
		return open_source(o, false, proc_fd, map, ret, ret_err);
	}

	/* parse everything before opening anything: nothing is served on a bad config */
	struct tree_cfg cfg = { 0 };
	int r = 0;
	for (size_t i = 0; i < o->n_tree_args && r >= 0; i++)
		r = tree_cfg_add_flag(&cfg, o->tree_args[i].flag, o->tree_args[i].value, ret_err);
	if (r >= 0 && o->config_path)
		r = tree_cfg_add_json_file(&cfg, o->config_path, ret_err);
	if (r < 0) {
		tree_cfg_free(&cfg);
		return r;
	}

	/*
	 * Every entry is a passthrough with its own inode-fd ceiling, and they all share RLIMIT_NOFILE: split the
	 * budget (--max-fds, else half the limit, as one passthrough would take) among the directory entries
	 * known now, the base, and one share kept for entries added through the control socket.
	 */
	srv.pt = o->pt;
	size_t ndirs = 1 + (o->source ? 1 : 0);
	for (size_t i = 0; i < cfg.n; i++)
		ndirs += cfg.items[i].kind == TREE_CFG_SHARE;
	uint64_t nofile = o->sandbox.nofile;
	struct rlimit rl;
	if (!nofile && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		nofile = rl.rlim_cur;
	uint64_t budget = o->pt.max_fds ? o->pt.max_fds : nofile / 2;
	srv.pt.max_fds = (unsigned)MAX(budget / ndirs, 64u);
	srv.proc_fd = fcntl(proc_fd, F_DUPFD_CLOEXEC, 3);
	if (srv.proc_fd < 0) {
		r = -errno;
		tree_cfg_free(&cfg);
		return err_msg(ret_err, r, "serve: duplicating the /proc fd: %s%s", strerror(-r), "");
	}
	struct fs *base = NULL;
	if (o->source && (r = open_source(o, true, proc_fd, map, &base, ret_err)) < 0) {
		tree_cfg_free(&cfg);
		return r;
	}
	struct tree *t;
	struct tree_opts topts = { .open_entry = open_entry, .force_ro = o->readonly };
	r = tree_new(map, base, &topts, &t);
	if (r < 0) {
		tree_cfg_free(&cfg);
		return err_msg(ret_err, r, "serve: creating the share tree: %s%s", strerror(-r), "");
	}
	r = tree_cfg_apply(&cfg, t, ret_err);
	tree_cfg_free(&cfg);
	if (r == -EISDIR || r == -EEXIST)
		r = -EINVAL; /* a file where a directory was asked, a path given twice: the configuration's fault */
	if (r >= 0 && o->control_path) {
		char *why = NULL;
		r = control_new(t, o->control_path, &srv.control, &why);
		if (r < 0) {
			err_msg(ret_err, r, "--control %s: %s", o->control_path, why ? why : strerror(-r));
			free(why);
		}
	}
	if (r < 0) {
		fs_free(tree_fs(t));
		tree_free(t);
		return r;
	}
	/* t stays: the control socket adds and removes entries through it for the life of the server */
	srv.tree = t;
	*ret = tree_fs(t);
	return 0;
}

/*
 * Remove the --control socket at exit. For the supervisor that sandbox_enter() leaves outside (its
 * supervisor_cleanup callback), which still sees the host's path: the confined server cannot. It removes
 * the socket only if the file at the path is still the one this server bound (a later server at the same
 * path keeps its own). Declared in cli/serve.h by cmd-serve.c's owner.
 */
void serve_control_cleanup(void)
{
	if (srv.control)
		(void)control_unlink(srv.control);
}

int serve_control_start(char **ret_err)
{
	*ret_err = NULL;
	if (!srv.control)
		return 0;
	int r = control_start(srv.control);
	if (r < 0 && asprintf(ret_err, "starting the control thread: %s", strerror(-r)) < 0)
		*ret_err = NULL;
	return r;
}
