/* SPDX-License-Identifier: MIT */
/* Placeholder: replaced by the module's owner. */
#include "cli/cli.h"
int cmd_create(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_start(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_state(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_kill(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_delete(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_list(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_exec(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_ps(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
int cmd_features(const struct cli_global *g, int argc, char **argv)
{
	cli_error("%s: not built yet", argv[0]);
	return CLI_EXIT_FAIL;
}
