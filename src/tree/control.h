/* SPDX-License-Identifier: MIT */
/*
 * The live allowlist: a unix socket (mode 0600) where the server's owner adds and removes tree entries and
 * virtual files while serving. Line-oriented JSON, one request and one reply a line; host paths travel as file
 * descriptors (SCM_RIGHTS) that the client opened, because the sandboxed server cannot open host paths by name.
 * The protocol: docs/control-protocol.md.
 */
#pragma once

#include <stddef.h>

#include "tree/tree.h"

struct control;

/* Bind and listen on path now (before the sandbox). An existing socket at path is replaced; anything else
 * there is an error. On failure *ret_err says why (caller frees). */
int control_new(struct tree *t, const char *path, struct control **ret, char **ret_err);
/* Remove the socket file, if the one at its path is still the one bound by control_new() (a later server
 * may have replaced it). For the unconfined supervisor at exit: the sandboxed server cannot reach the path.
 * 0 or -errno. */
int control_unlink(struct control *c);
/* Serve connections on a thread of its own (one client at a time). */
int control_start(struct control *c);
/* Handle one request line (and the fd that came with it, taken; -1 if none): the reply line, malloc()ed,
 * without the newline. Exposed for tests and fuzzing. */
char *control_handle(struct tree *t, const char *line, size_t len, int fd);
