/* SPDX-License-Identifier: MIT */
/* The seccomp allowlist of the confined server, built with libseccomp. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sandbox.h"

/*
 * Load the filter for the calling process (all its threads: TSYNC). SANDBOX_SECCOMP_NONE does nothing.
 * Sets no_new_privs (libseccomp does it on load; the caller sets it anyway for the other modes).
 * open_by_handle_at is allowed only with file_handles.
 * 0 or -errno.
 */
int sb_seccomp_load(enum sandbox_seccomp mode, bool file_handles);

/* The syscalls allowed without argument checks, by name (for the unit test and the docs). */
const char *const *sb_seccomp_allowlist(size_t *ret_n);

/* True when built with a sanitizer runtime, whose own syscalls (LeakSanitizer's ptrace...) are allowed too. */
bool sb_seccomp_sanitizer_build(void);
