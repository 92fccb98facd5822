/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the module's owner. */
#include "cli/cli.h"
int cmd_serve(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
