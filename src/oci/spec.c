/* SPDX-License-Identifier: MIT */
/* config.json: the document, root, hostname and mounts; process and linux sections live in their own files. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "util/macros.h"

#define MAX_CONFIG_SIZE (4u << 20)
#define MAX_DEPTH 64

int oci_get_path(struct json_object *v, const char *field, bool absolute, char **ret, struct oci_err *pe)
{
	int r = oci_get_string(v, field, PATH_MAX - 1, ret, pe);
	if (r < 0)
		return r;
	if (!**ret)
		return oci_fail(pe, field, "empty path");
	if (absolute && **ret != '/')
		return oci_fail(pe, field, "\"%.100s\" is not an absolute path", *ret);
	return 0;
}

static int parse_mount(struct json_object *v, size_t idx, struct oci_mount *m, struct oci_err *pe)
{
	char f[96], why[160];
	struct json_object *x;
	int r;
	snprintf(f, sizeof(f), "mounts[%zu]", idx);
	r = oci_expect(v, json_type_object, f, pe);
	if (r < 0)
		return r;

	snprintf(f, sizeof(f), "mounts[%zu].destination", idx);
	x = oci_member(v, "destination");
	if (!x)
		return oci_fail(pe, f, "required");
	/* relative destinations are taken relative to the root, as runc and crun do */
	r = oci_get_path(x, f, false, &m->destination, pe);
	if (r < 0)
		return r;
	if ((x = oci_member(v, "type"))) {
		snprintf(f, sizeof(f), "mounts[%zu].type", idx);
		r = oci_get_string(x, f, 64, &m->type, pe);
		if (r < 0)
			return r;
		if (!*m->type || strpbrk(m->type, " ,/\t\n"))
			return oci_fail(pe, f, "\"%.64s\" is not a filesystem type", m->type);
	}
	if ((x = oci_member(v, "source"))) {
		snprintf(f, sizeof(f), "mounts[%zu].source", idx);
		r = oci_get_string(x, f, PATH_MAX - 1, &m->source, pe);
		if (r < 0)
			return r;
	}
	if ((x = oci_member(v, "options"))) {
		snprintf(f, sizeof(f), "mounts[%zu].options", idx);
		r = oci_get_strv(x, f, 4096, &m->options, &m->n_options, pe);
		if (r < 0)
			return r;
	}
	size_t bad = 0;
	why[0] = '\0';
	r = bxm_options_parse(m->type, (const char *const *)m->options, m->n_options, &m->parsed, &bad, why,
			      sizeof(why));
	if (r == -EINVAL) {
		snprintf(f, sizeof(f), "mounts[%zu].options[%zu]", idx, bad);
		return oci_fail(pe, f, "%s", why);
	}
	if (r < 0)
		return r;
	bool bind = m->parsed.bind || (m->type && strcmp(m->type, "bind") == 0);
	if (bind && (!m->source || !*m->source)) {
		snprintf(f, sizeof(f), "mounts[%zu].source", idx);
		return oci_fail(pe, f, "required for a bind mount");
	}
	if (!bind && !m->type) {
		snprintf(f, sizeof(f), "mounts[%zu].type", idx);
		return oci_fail(pe, f, "required unless the options say bind or rbind");
	}
	if (!bind && m->parsed.idmap) {
		/* an idmapped mount is a clone of an existing tree; a new filesystem has its own ownership */
		snprintf(f, sizeof(f), "mounts[%zu].options", idx);
		return oci_fail(pe, f, "idmap and ridmap need a bind mount (type \"bind\" or a bind/rbind option)");
	}
	if (m->type && strcmp(m->type, "bind") == 0 && !m->parsed.bind)
		m->parsed.bind = true; /* type "bind" alone is a non-recursive bind */
	if ((x = oci_member(v, "uidMappings"))) {
		snprintf(f, sizeof(f), "mounts[%zu].uidMappings", idx);
		r = oci_parse_id_mappings(x, f, &m->uid_mappings, &m->n_uid_mappings, pe);
		if (r < 0)
			return r;
	}
	if ((x = oci_member(v, "gidMappings"))) {
		snprintf(f, sizeof(f), "mounts[%zu].gidMappings", idx);
		r = oci_parse_id_mappings(x, f, &m->gid_mappings, &m->n_gid_mappings, pe);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_doc(struct json_object *doc, struct oci_spec *s, struct oci_err *pe)
{
	struct json_object *x, *y;
	int r;
	r = oci_expect(doc, json_type_object, "config.json", pe);
	if (r < 0)
		return r;
	if ((x = oci_member(doc, "ociVersion"))) {
		r = oci_get_string(x, "ociVersion", 64, &s->oci_version, pe);
		if (r < 0)
			return r;
	}
	x = oci_member(doc, "root");
	if (!x)
		return oci_fail(pe, "root", "required");
	r = oci_expect(x, json_type_object, "root", pe);
	if (r < 0)
		return r;
	y = oci_member(x, "path");
	if (!y)
		return oci_fail(pe, "root.path", "required");
	r = oci_get_path(y, "root.path", false, &s->root_path, pe);
	if (r < 0)
		return r;
	if ((y = oci_member(x, "readonly"))) {
		r = oci_get_bool(y, "root.readonly", &s->root_readonly, pe);
		if (r < 0)
			return r;
	}
	if ((x = oci_member(doc, "hostname"))) {
		r = oci_get_string(x, "hostname", 64, &s->hostname, pe);
		if (r < 0)
			return r;
		/* RFC 1123 labels: what sethostname() callers and resolvers expect */
		for (char *c = s->hostname; *c; c++)
			if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '.' || *c == '_')) {
				for (char *d = s->hostname; *d; d++)
					if ((unsigned char)*d < 0x20 || *d == 0x7f)
						*d = '?';
				return oci_fail(pe, "hostname", "\"%s\" is not a valid host name", s->hostname);
			}
	}
	if ((x = oci_member(doc, "mounts"))) {
		r = oci_expect(x, json_type_array, "mounts", pe);
		if (r < 0)
			return r;
		size_t n = json_object_array_length(x);
		if (n > 4096)
			return oci_fail(pe, "mounts", "more than 4096 mounts");
		s->mounts = calloc(n ? n : 1, sizeof(*s->mounts));
		if (!s->mounts)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			s->n_mounts = i + 1; /* so a partly parsed entry is freed too */
			r = parse_mount(json_object_array_get_idx(x, i), i, &s->mounts[i], pe);
			if (r < 0)
				return r;
		}
	}
	if ((x = oci_member(doc, "process"))) {
		r = oci_parse_process(x, &s->process, pe);
		if (r < 0)
			return r;
	}
	if ((x = oci_member(doc, "linux"))) {
		r = oci_parse_linux(x, &s->lnx, pe);
		if (r < 0)
			return r;
	}
	if ((x = oci_member(doc, "hooks"))) {
		r = oci_expect(x, json_type_object, "hooks", pe);
		if (r < 0)
			return r;
		s->hooks = x;
	}
	if ((x = oci_member(doc, "annotations"))) {
		r = oci_expect(x, json_type_object, "annotations", pe);
		if (r < 0)
			return r;
		s->annotations = x;
	}
	return 0;
}

int oci_spec_parse(const char *text, size_t len, struct oci_spec **ret, char *errbuf, size_t errsize)
{
	struct oci_err pe = { errbuf, errsize };
	if (errbuf && errsize)
		errbuf[0] = '\0';
	if (len > MAX_CONFIG_SIZE)
		return oci_fail(&pe, "config.json", "larger than %u bytes", MAX_CONFIG_SIZE);
	if (memchr(text, '\0', len))
		return oci_fail(&pe, "config.json", "contains a NUL byte");

	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *doc = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!doc || jerr != json_tokener_success) {
		json_object_put(doc);
		if (jerr == json_tokener_continue)
			return oci_fail(&pe, "config.json", "malformed JSON: unexpected end of input");
		return oci_fail(&pe, "config.json", "malformed JSON at byte %zu: %s", used,
				json_tokener_error_desc(jerr));
	}
	for (size_t i = used; i < len; i++)
		if (!strchr(" \t\r\n", text[i])) {
			json_object_put(doc);
			return oci_fail(&pe, "config.json", "malformed JSON: trailing data at byte %zu", i);
		}

	struct oci_spec *s = calloc(1, sizeof(*s));
	if (!s) {
		json_object_put(doc);
		return -ENOMEM;
	}
	s->json = doc;
	int r = parse_doc(doc, s, &pe);
	if (r < 0) {
		if (r == -ENOMEM)
			oci_fail(&pe, "config.json", "out of memory");
		oci_spec_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int oci_spec_load(int bundle_fd, struct oci_spec **ret, char *errbuf, size_t errsize)
{
	struct oci_err pe = { errbuf, errsize };
	_cleanup_close_ int fd = openat(bundle_fd, "config.json", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int r = -errno;
		oci_fail(&pe, "config.json", "cannot open: %s", strerror(-r));
		return r;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		oci_fail(&pe, "config.json", "not a regular file");
		return -EINVAL;
	}
	if (st.st_size > (off_t)MAX_CONFIG_SIZE)
		return oci_fail(&pe, "config.json", "larger than %u bytes", MAX_CONFIG_SIZE);
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			oci_fail(&pe, "config.json", "read: %s", strerror(-r));
			return r;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return oci_spec_parse(buf, got, ret, errbuf, errsize);
}

void oci_spec_free(struct oci_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	free(s->root_path);
	free(s->hostname);
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct oci_mount *m = &s->mounts[i];
		free(m->destination);
		free(m->type);
		free(m->source);
		oci_strv_free(m->options);
		bxm_options_done(&m->parsed);
		free(m->uid_mappings);
		free(m->gid_mappings);
	}
	free(s->mounts);
	oci_process_done(&s->process);
	oci_linux_done(&s->lnx);
	json_object_put(s->json);
	free(s);
}

const char *oci_ns_name(enum oci_ns_type t)
{
	static const char *const names[OCI_NS_MAX] = { "mount", "pid", "uts", "ipc", "network", "user", "cgroup",
						       "time" };
	return (unsigned)t < OCI_NS_MAX ? names[t] : "?";
}
