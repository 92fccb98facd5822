/* SPDX-License-Identifier: MIT */
/* Typed, validating getters over json-c (see json.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int oci_fail(struct oci_err *pe, const char *field, const char *fmt, ...)
{
	if (pe && pe->buf && pe->size) {
		int n = snprintf(pe->buf, pe->size, "%s: ", field);
		if (n >= 0 && (size_t)n < pe->size) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(pe->buf + n, pe->size - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

struct json_object *oci_member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!obj || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v; /* JSON null comes back as NULL too */
}

static const char *type_name(enum json_type t)
{
	switch (t) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "unknown";
}

int oci_expect(struct json_object *v, enum json_type t, const char *field, struct oci_err *pe)
{
	if (!json_object_is_type(v, t))
		return oci_fail(pe, field, "expected %s, got %s", type_name(t), type_name(json_object_get_type(v)));
	return 0;
}

int oci_get_string(struct json_object *v, const char *field, size_t max_len, char **ret, struct oci_err *pe)
{
	int r = oci_expect(v, json_type_string, field, pe);
	if (r < 0)
		return r;
	int len = json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (len < 0 || !s)
		return oci_fail(pe, field, "unreadable string");
	if (memchr(s, '\0', (size_t)len))
		return oci_fail(pe, field, "contains a NUL byte");
	if ((size_t)len > max_len)
		return oci_fail(pe, field, "longer than %zu bytes", max_len);
	char *d = strndup(s, (size_t)len);
	if (!d)
		return -ENOMEM;
	free(*ret);
	*ret = d;
	return 0;
}

int oci_get_bool(struct json_object *v, const char *field, bool *ret, struct oci_err *pe)
{
	int r = oci_expect(v, json_type_boolean, field, pe);
	if (r < 0)
		return r;
	*ret = json_object_get_boolean(v);
	return 0;
}

int oci_get_u64(struct json_object *v, const char *field, uint64_t *ret, struct oci_err *pe)
{
	int r = oci_expect(v, json_type_int, field, pe);
	if (r < 0)
		return r;
	/* json-c keeps big positive numbers as uint64 and negative ones as int64: read both ways to tell */
	int64_t s = json_object_get_int64(v);
	if (s < 0)
		return oci_fail(pe, field, "must not be negative");
	errno = 0;
	uint64_t u = json_object_get_uint64(v);
	if (errno == ERANGE)
		return oci_fail(pe, field, "out of range");
	*ret = u;
	return 0;
}

int oci_get_u32(struct json_object *v, const char *field, uint32_t *ret, struct oci_err *pe)
{
	uint64_t u;
	int r = oci_get_u64(v, field, &u, pe);
	if (r < 0)
		return r;
	if (u > UINT32_MAX)
		return oci_fail(pe, field, "out of range (more than %u)", UINT32_MAX);
	*ret = (uint32_t)u;
	return 0;
}

void oci_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int oci_get_strv(struct json_object *v, const char *field, size_t max_len, char ***ret, size_t *ret_n,
		 struct oci_err *pe)
{
	int r = oci_expect(v, json_type_array, field, pe);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(v);
	if (n > 65536)
		return oci_fail(pe, field, "more than 65536 entries");
	char **out = calloc(n + 1, sizeof(char *));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char f[256];
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		r = oci_get_string(json_object_array_get_idx(v, i), f, max_len, &out[i], pe);
		if (r < 0) {
			oci_strv_free(out);
			return r;
		}
	}
	oci_strv_free(*ret);
	*ret = out;
	*ret_n = n;
	return 0;
}
