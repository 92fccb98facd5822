/* SPDX-License-Identifier: MIT */
/* --log FILE and --log-format text|json: what the runtime writes to stderr is copied to FILE, one record a
 * line, as runc does (conmon reads the JSON records of a failed create to tell the user why). */
#pragma once

#include "cli/cli.h"

/* Open g->log_file (O_APPEND) and tee stderr into it. 0 or -errno; without --log it does nothing. */
int cli_log_open(const struct cli_global *g);
