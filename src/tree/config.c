/* SPDX-License-Identifier: MIT */
/*
 * Parsing the share-tree flags and JSON config, and applying them. Everything here is untrusted input: each
 * string is checked byte by byte (NULs inside JSON strings, path components, lengths), unknown JSON keys are
 * errors (a typo must not silently drop a "readonly"), and nothing is opened before everything parsed.
 */
#include "tree/config.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/macros.h"

#define CFG_MAX_FILE (4u << 20)
#define CFG_MAX_ITEMS 65535u

static int fail(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **ret_err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (ret_err) {
		free(*ret_err);
		*ret_err = s;
	} else {
		free(s);
	}
	return -EINVAL;
}

int tree_path_normalize(const char *in, size_t len, char **ret, const char **ret_why)
{
	if (len == 0 || in[0] != '/') {
		*ret_why = "must be an absolute path in the share (start with '/')";
		return -EINVAL;
	}
	if (len > PATH_MAX) {
		*ret_why = "is longer than PATH_MAX";
		return -EINVAL;
	}
	if (memchr(in, '\0', len)) {
		*ret_why = "contains a NUL byte";
		return -EINVAL;
	}
	char *out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	size_t o = 0, i = 0;
	while (i < len) {
		while (i < len && in[i] == '/')
			i++;
		size_t start = i;
		while (i < len && in[i] != '/')
			i++;
		size_t clen = i - start;
		if (clen == 0)
			break;
		if ((clen == 1 && in[start] == '.') || (clen == 2 && in[start] == '.' && in[start + 1] == '.')) {
			free(out);
			*ret_why = "has a '.' or '..' component";
			return -EINVAL;
		}
		if (clen > 255) {
			free(out);
			*ret_why = "has a component longer than 255 bytes";
			return -EINVAL;
		}
		out[o++] = '/';
		memcpy(out + o, in + start, clen);
		o += clen;
	}
	if (o == 0) {
		free(out);
		*ret_why = "is the root: an entry needs a path below '/' (use --source for the root)";
		return -EINVAL;
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

int tree_mode_parse(const char *s, mode_t *ret)
{
	if (!s || !*s || strlen(s) > 6)
		return -EINVAL;
	unsigned long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > 07777)
		return -EINVAL;
	*ret = (mode_t)v;
	return 0;
}

static int parse_id(const char *s, unsigned *ret)
{
	if (!s || !*s || strlen(s) > 10)
		return -EINVAL;
	unsigned long long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (v >= 0xffffffffULL) /* (uid_t)-1 means "no change" everywhere */
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static struct tree_cfg_item *item_new(struct tree_cfg *c, enum tree_cfg_kind kind, const char *origin)
{
	if (c->n >= CFG_MAX_ITEMS)
		return NULL;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct tree_cfg_item *it = realloc(c->items, cap * sizeof(*it));
		if (!it)
			return NULL;
		c->items = it;
		c->cap = cap;
	}
	struct tree_cfg_item *it = &c->items[c->n];
	*it = (struct tree_cfg_item){ .kind = kind, .origin = strdup(origin) };
	if (!it->origin)
		return NULL;
	c->n++;
	return it;
}

static void item_clear(struct tree_cfg_item *it)
{
	free(it->origin);
	free(it->host);
	free(it->path);
	free(it->text);
}

/* Drop the last item (it failed to parse). */
static void item_drop(struct tree_cfg *c)
{
	item_clear(&c->items[--c->n]);
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* "--share HOST:PATH[:ro|:rw]" and "--file" alike; HOST may contain ':' (we split from the right). */
static int flag_entry(struct tree_cfg *c, enum tree_cfg_kind kind, const char *flag, const char *value,
		      char **ret_err)
{
	char origin[64];
	snprintf(origin, sizeof(origin), "--%s", flag);
	const char *what = kind == TREE_CFG_SHARE ? "HOST_DIR:PATH[:ro]" : "HOST_FILE:PATH[:ro]";
	if (!printable(value))
		return fail(ret_err, "--%s: the value contains control characters", flag);
	_cleanup_free_ char *v = strdup(value);
	if (!v)
		return -ENOMEM;
	bool ro = false;
	char *last = strrchr(v, ':');
	if (last && (strcmp(last + 1, "ro") == 0 || strcmp(last + 1, "rw") == 0)) {
		ro = strcmp(last + 1, "ro") == 0;
		*last = '\0';
	}
	char *sep = strrchr(v, ':');
	if (!sep)
		return fail(ret_err, "--%s '%s': expected %s", flag, value, what);
	*sep = '\0';
	const char *host = v, *path = sep + 1;
	if (!*host)
		return fail(ret_err, "--%s '%s': the host path is empty (expected %s)", flag, value, what);
	if (host[0] != '/')
		return fail(ret_err, "--%s '%s': the host path '%s' must be absolute", flag, value, host);
	struct tree_cfg_item *it = item_new(c, kind, origin);
	if (!it)
		return -ENOMEM;
	const char *why;
	int r = tree_path_normalize(path, strlen(path), &it->path, &why);
	if (r < 0) {
		item_drop(c);
		return r == -EINVAL ? fail(ret_err, "--%s '%s': the share path '%s' %s", flag, value, path, why) : r;
	}
	it->host = strdup(host);
	it->ro = ro;
	if (!it->host) {
		item_drop(c);
		return -ENOMEM;
	}
	return 0;
}

/* TEXT of --virtual: "\n", "\t", "\\" and "\:" are escapes; anything else after '\' is an error. */
static int unescape(const char *in, size_t len, char **ret, size_t *ret_len)
{
	char *out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\\') {
			out[o++] = in[i];
			continue;
		}
		if (++i >= len) {
			free(out);
			return -EINVAL;
		}
		switch (in[i]) {
		case 'n':
			out[o++] = '\n';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case '\\':
		case ':':
			out[o++] = in[i];
			break;
		default:
			free(out);
			return -EINVAL;
		}
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

/* "--virtual PATH=TEXT[:mode=0755][:oneshot][:uid=N][:gid=N]" or "PATH=@HOST_FILE[...]". Options are taken
 * from the right while they parse as options; write "\:" for a literal colon in TEXT. */
static int flag_virtual(struct tree_cfg *c, const char *value, char **ret_err)
{
	const char *eq = strchr(value, '=');
	if (!eq)
		return fail(ret_err, "--virtual '%s': expected PATH=TEXT or PATH=@HOST_FILE", value);
	struct tree_cfg_item *it = item_new(c, TREE_CFG_VIRTUAL, "--virtual");
	if (!it)
		return -ENOMEM;
	const char *why;
	int r = tree_path_normalize(value, (size_t)(eq - value), &it->path, &why);
	if (r < 0) {
		item_drop(c);
		return r == -EINVAL ? fail(ret_err, "--virtual '%s': the path %s", value, why) : r;
	}
	_cleanup_free_ char *rest = strdup(eq + 1);
	if (!rest) {
		item_drop(c);
		return -ENOMEM;
	}
	/* options from the right; a colon escaped as "\:" is text */
	for (;;) {
		char *colon = strrchr(rest, ':');
		while (colon && colon > rest && colon[-1] == '\\') {
			*colon = '\0';
			char *prev = strrchr(rest, ':');
			*colon = ':';
			colon = prev;
		}
		if (!colon)
			break;
		const char *opt = colon + 1;
		if (strcmp(opt, "oneshot") == 0) {
			it->oneshot = true;
		} else if (strncmp(opt, "mode=", 5) == 0) {
			if (tree_mode_parse(opt + 5, &it->mode) < 0) {
				item_drop(c);
				return fail(ret_err, "--virtual '%s': mode '%s' is not an octal mode up to 07777", value,
					    opt + 5);
			}
		} else if (strncmp(opt, "uid=", 4) == 0 || strncmp(opt, "gid=", 4) == 0) {
			unsigned id;
			if (parse_id(opt + 4, &id) < 0) {
				item_drop(c);
				return fail(ret_err, "--virtual '%s': '%s' is not a numeric id", value, opt);
			}
			if (opt[0] == 'u')
				it->uid = id;
			else
				it->gid = id;
		} else {
			break; /* part of the text */
		}
		*colon = '\0';
	}
	if (rest[0] == '@') {
		if (rest[1] != '/') {
			item_drop(c);
			return fail(ret_err, "--virtual '%s': the host file '%s' must be an absolute path", value,
				    rest + 1);
		}
		it->host = strdup(rest + 1);
		r = it->host ? 0 : -ENOMEM;
	} else {
		r = unescape(rest, strlen(rest), &it->text, &it->text_len);
		if (r == -EINVAL) {
			item_drop(c);
			return fail(ret_err, "--virtual '%s': bad escape in the text (use \\n \\t \\\\ \\:)", value);
		}
	}
	if (r < 0)
		item_drop(c);
	return r;
}

int tree_cfg_add_flag(struct tree_cfg *c, const char *flag, const char *value, char **ret_err)
{
	if (!value)
		return fail(ret_err, "--%s: a value is required", flag);
	if (strcmp(flag, "share") == 0)
		return flag_entry(c, TREE_CFG_SHARE, flag, value, ret_err);
	if (strcmp(flag, "file") == 0)
		return flag_entry(c, TREE_CFG_FILE, flag, value, ret_err);
	if (strcmp(flag, "virtual") == 0)
		return flag_virtual(c, value, ret_err);
	return fail(ret_err, "--%s: not a share-tree flag", flag);
}

/* -- JSON -- */

/* A string field: present, a string, no NUL inside. */
static int cfg_str(struct json_object *o, const char *key, const char *where, bool required, const char **ret,
		    size_t *ret_len, char **ret_err)
{
	struct json_object *v;
	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return fail(ret_err, "%s.%s: missing (a string is required)", where, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(ret_err, "%s.%s: must be a string", where, key);
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if (memchr(s, '\0', len) && !ret_len)
		return fail(ret_err, "%s.%s: contains a NUL byte", where, key);
	*ret = s;
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int cfg_bool(struct json_object *o, const char *key, const char *where, bool *ret, char **ret_err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return fail(ret_err, "%s.%s: must be true or false", where, key);
	*ret = json_object_get_boolean(v);
	return 0;
}

static int cfg_id(struct json_object *o, const char *key, const char *where, unsigned *ret, char **ret_err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return fail(ret_err, "%s.%s: must be an integer", where, key);
	int64_t x = json_object_get_int64(v);
	if (x < 0 || x >= 0xffffffffLL)
		return fail(ret_err, "%s.%s: %lld is not a valid id", where, key, (long long)x);
	*ret = (unsigned)x;
	return 0;
}

/* Only these keys: a misspelled "readonly" must be an error, not a writable share. */
static int cfg_keys(struct json_object *o, const char *where, const char *const *allowed, char **ret_err)
{
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= strcmp(key, *a) == 0;
		if (!ok)
			return fail(ret_err, "%s: unknown field '%s'", where, key);
	}
	return 0;
}

static int cfg_path(struct json_object *o, const char *where, char **ret, char **ret_err)
{
	const char *s;
	size_t len;
	int r = cfg_str(o, "path", where, true, &s, &len, ret_err);
	if (r < 0)
		return r;
	const char *why;
	r = tree_path_normalize(s, len, ret, &why);
	if (r == -EINVAL)
		return fail(ret_err, "%s.path: '%s' %s", where, s, why);
	return r;
}

static int json_entry(struct tree_cfg *c, struct json_object *o, enum tree_cfg_kind kind, const char *where,
		      char **ret_err)
{
	static const char *const keys[] = { "host", "path", "readonly", NULL };
	if (!json_object_is_type(o, json_type_object))
		return fail(ret_err, "%s: must be an object {\"host\", \"path\", \"readonly\"}", where);
	int r = cfg_keys(o, where, keys, ret_err);
	if (r < 0)
		return r;
	const char *host;
	if ((r = cfg_str(o, "host", where, true, &host, NULL, ret_err)) < 0)
		return r;
	if (host[0] != '/')
		return fail(ret_err, "%s.host: '%s' must be an absolute path", where, host);
	struct tree_cfg_item *it = item_new(c, kind, where);
	if (!it)
		return -ENOMEM;
	if ((r = cfg_path(o, where, &it->path, ret_err)) < 0 ||
	    (r = cfg_bool(o, "readonly", where, &it->ro, ret_err)) < 0) {
		item_drop(c);
		return r;
	}
	it->host = strdup(host);
	if (!it->host) {
		item_drop(c);
		return -ENOMEM;
	}
	return 0;
}

static int json_virtual(struct tree_cfg *c, struct json_object *o, const char *where, char **ret_err)
{
	static const char *const keys[] = { "path", "text", "host", "status", "mode", "uid", "gid", "oneshot", NULL };
	if (!json_object_is_type(o, json_type_object))
		return fail(ret_err, "%s: must be an object", where);
	int r = cfg_keys(o, where, keys, ret_err);
	if (r < 0)
		return r;
	const char *text, *host, *mode;
	size_t text_len = 0;
	bool status = false;
	if ((r = cfg_str(o, "text", where, false, &text, &text_len, ret_err)) < 0 ||
	    (r = cfg_str(o, "host", where, false, &host, NULL, ret_err)) < 0 ||
	    (r = cfg_str(o, "mode", where, false, &mode, NULL, ret_err)) < 0 ||
	    (r = cfg_bool(o, "status", where, &status, ret_err)) < 0)
		return r;
	if (!!text + !!host + status != 1)
		return fail(ret_err, "%s: give exactly one of \"text\", \"host\" or \"status\": true", where);
	if (host && host[0] != '/')
		return fail(ret_err, "%s.host: '%s' must be an absolute path", where, host);
	struct tree_cfg_item *it = item_new(c, status ? TREE_CFG_STATUS : TREE_CFG_VIRTUAL, where);
	if (!it)
		return -ENOMEM;
	unsigned uid = 0, gid = 0;
	if ((r = cfg_path(o, where, &it->path, ret_err)) < 0 || (r = cfg_bool(o, "oneshot", where, &it->oneshot,
										ret_err)) < 0 ||
	    (r = cfg_id(o, "uid", where, &uid, ret_err)) < 0 || (r = cfg_id(o, "gid", where, &gid, ret_err)) < 0) {
		item_drop(c);
		return r;
	}
	it->uid = uid;
	it->gid = gid;
	if (mode && tree_mode_parse(mode, &it->mode) < 0) {
		item_drop(c);
		return fail(ret_err, "%s.mode: '%s' is not an octal mode string up to \"07777\"", where, mode);
	}
	if (text) {
		it->text = malloc(text_len + 1);
		if (it->text) {
			memcpy(it->text, text, text_len);
			it->text[text_len] = '\0';
			it->text_len = text_len;
		}
	} else if (host) {
		it->host = strdup(host);
	}
	if ((text && !it->text) || (host && !it->host)) {
		item_drop(c);
		return -ENOMEM;
	}
	return 0;
}

static int json_array(struct tree_cfg *c, struct json_object *root, const char *key, const char *name,
		      char **ret_err)
{
	struct json_object *arr;
	if (!json_object_object_get_ex(root, key, &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return fail(ret_err, "%s: %s: must be an array", name, key);
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		char where[PATH_MAX + 64];
		snprintf(where, sizeof(where), "%s: %s[%zu]", name, key, i);
		struct json_object *o = json_object_array_get_idx(arr, i);
		int r;
		if (strcmp(key, "shares") == 0)
			r = json_entry(c, o, TREE_CFG_SHARE, where, ret_err);
		else if (strcmp(key, "files") == 0)
			r = json_entry(c, o, TREE_CFG_FILE, where, ret_err);
		else
			r = json_virtual(c, o, where, ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}

int tree_cfg_add_json(struct tree_cfg *c, const char *json, size_t len, const char *name, char **ret_err)
{
	if (len > CFG_MAX_FILE)
		return fail(ret_err, "%s: larger than %u bytes", name, CFG_MAX_FILE);
	if (len > INT_MAX)
		return -EINVAL;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	struct json_object *root = json_tokener_parse_ex(tok, json, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		json_object_put(root);
		return fail(ret_err, "%s: not valid JSON: %s", name,
			    jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
	}
	for (size_t i = used; i < len; i++)
		if (json[i] != ' ' && json[i] != '\n' && json[i] != '\t' && json[i] != '\r') {
			json_object_put(root);
			return fail(ret_err, "%s: trailing data after the JSON object at byte %zu", name, i);
		}
	int r;
	static const char *const keys[] = { "shares", "files", "virtual", NULL };
	if (!json_object_is_type(root, json_type_object))
		r = fail(ret_err, "%s: the top level must be an object with \"shares\", \"files\", \"virtual\"", name);
	else if ((r = cfg_keys(root, name, keys, ret_err)) >= 0 &&
		 (r = json_array(c, root, "shares", name, ret_err)) >= 0 &&
		 (r = json_array(c, root, "files", name, ret_err)) >= 0)
		r = json_array(c, root, "virtual", name, ret_err);
	json_object_put(root);
	return r;
}

int tree_cfg_add_json_file(struct tree_cfg *c, const char *file, char **ret_err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		fail(ret_err, "--config %s: open: %s", file, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return fail(ret_err, "--config %s: stat: %s", file, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(ret_err, "--config %s: not a regular file", file);
	if ((uint64_t)st.st_size > CFG_MAX_FILE)
		return fail(ret_err, "--config %s: larger than %u bytes", file, CFG_MAX_FILE);
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return fail(ret_err, "--config %s: read: %s", file, strerror(errno));
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return tree_cfg_add_json(c, buf, got, file, ret_err);
}

/* -- applying -- */

int tree_cfg_apply(const struct tree_cfg *c, struct tree *t, char **ret_err)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct tree_cfg_item *it = &c->items[i];
		int r = 0;
		const char *step = "adding";
		struct ovl_attr a = { .mode = it->mode, .uid = it->uid, .gid = it->gid, .oneshot = it->oneshot };
		switch (it->kind) {
		case TREE_CFG_SHARE:
		case TREE_CFG_FILE: {
			/* O_PATH: the entry holds the object itself; a later rename of a host parent cannot redirect it */
			int fd = open(it->host, O_PATH | O_CLOEXEC | (it->kind == TREE_CFG_SHARE ? O_DIRECTORY : 0));
			if (fd < 0) {
				r = -errno;
				step = "opening the host path";
				break;
			}
			r = tree_add_host(t, fd, it->kind == TREE_CFG_SHARE ? TREE_DIR : TREE_FILE, it->path, it->ro);
			break;
		}
		case TREE_CFG_VIRTUAL:
			if (it->host) {
				_cleanup_close_ int fd = open(it->host, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
				if (fd < 0) {
					r = -errno;
					step = "opening the host file";
					break;
				}
				r = ovl_add_fd(tree_fs(t), it->path, fd, &a);
				step = "reading the host file";
			} else {
				r = ovl_add_buffer(tree_fs(t), it->path, it->text, it->text_len, &a);
			}
			break;
		case TREE_CFG_STATUS:
			r = tree_add_status(t, it->path);
			break;
		}
		if (r < 0) {
			const char *why = r == -EEXIST	  ? "the path is already taken in the share"
					  : r == -ENOTDIR ? "a component of the path is a file in the share, or the host "
							    "path is not a directory"
							  : strerror(-r);
			if (it->host)
				fail(ret_err, "%s: %s -> %s: %s: %s", it->origin, it->host, it->path, step, why);
			else
				fail(ret_err, "%s: %s: %s: %s", it->origin, it->path, step, why);
			return r;
		}
	}
	return 0;
}

void tree_cfg_free(struct tree_cfg *c)
{
	for (size_t i = 0; i < c->n; i++)
		item_clear(&c->items[i]);
	free(c->items);
	*c = (struct tree_cfg){ 0 };
}
