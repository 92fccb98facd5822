/* SPDX-License-Identifier: MIT */
/* Private to src/oci: the section parsers spec.c calls. */
#pragma once

#include "json.h"
#include "spec.h"

int oci_parse_process(struct json_object *v, struct oci_process *p, struct oci_err *pe);
void oci_process_done(struct oci_process *p);
int oci_parse_linux(struct json_object *v, struct oci_linux *l, struct oci_err *pe);
void oci_linux_done(struct oci_linux *l);
int oci_parse_id_mappings(struct json_object *v, const char *field, struct oci_id_mapping **ret, size_t *ret_n,
			  struct oci_err *pe);
/* An absolute or relative path without NUL bytes, at most PATH_MAX - 1 bytes (for destinations, cwd...). */
int oci_get_path(struct json_object *v, const char *field, bool absolute, char **ret, struct oci_err *pe);
