/* SPDX-License-Identifier: MIT */
/* Private to src/oci: typed getters over json-c that validate byte by byte and name the field on error. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* Where errors go: "field: reason". */
struct oci_err {
	char *buf;
	size_t size;
};

/* Write "field: reason" and return -EINVAL. */
int oci_fail(struct oci_err *pe, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The member key of obj, or NULL when absent or JSON null (both mean "not given"). */
struct json_object *oci_member(struct json_object *obj, const char *key);

/* Each checks the type (and for strings: no NUL byte, at most max_len bytes) and fails naming field. */
int oci_get_string(struct json_object *v, const char *field, size_t max_len, char **ret, struct oci_err *pe);
int oci_get_bool(struct json_object *v, const char *field, bool *ret, struct oci_err *pe);
int oci_get_u32(struct json_object *v, const char *field, uint32_t *ret, struct oci_err *pe);
int oci_get_u64(struct json_object *v, const char *field, uint64_t *ret, struct oci_err *pe);
int oci_expect(struct json_object *v, enum json_type t, const char *field, struct oci_err *pe);
/* An array of strings into a NULL-terminated vector. */
int oci_get_strv(struct json_object *v, const char *field, size_t max_len, char ***ret, size_t *ret_n,
		 struct oci_err *pe);
void oci_strv_free(char **v);
