/*
 * cli: the subcommands of the one `mailnode` binary. main() parses the
 * global options and dispatches; each subcommand parses its own options
 * and prints its own --help.
 */
#ifndef MAILNODE_CLI_H
#define MAILNODE_CLI_H

#include "node/config.h"

struct cli_global {
	const char *config_path; /* --config, or NULL: embedded default */
	const char *log_level;   /* --log-level, or NULL */
	int json;                /* --json */
};

struct cli_command {
	const char *name;
	const char *summary;
	const char *usage; /* options and arguments, shown by --help */
	int (*run)(int argc, char **argv, const struct cli_global *g);
};

extern const struct cli_command cli_commands[];

/* Load the configuration named by the global options (the file, or the
 * embedded default). Prints the error and returns NULL on failure. */
struct config *cli_load_config(const struct cli_global *g);
/* Print a subcommand's usage to stdout. */
void cli_usage(const struct cli_command *cmd);
/* True if argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

int cmd_serve(int argc, char **argv, const struct cli_global *g);
int cmd_check_config(int argc, char **argv, const struct cli_global *g);
int cmd_init(int argc, char **argv, const struct cli_global *g);
int cmd_join(int argc, char **argv, const struct cli_global *g);
int cmd_token(int argc, char **argv, const struct cli_global *g);

/* Operator commands over the admin API (node/cli_*.c). Each returns 0,
 * 1 (refused or failed: one line on stderr) or 2 (usage error). */
int cmd_user(int argc, char **argv, const struct cli_global *g);
int cmd_domain(int argc, char **argv, const struct cli_global *g);
int cmd_alias(int argc, char **argv, const struct cli_global *g);
int cmd_quota(int argc, char **argv, const struct cli_global *g);
int cmd_config(int argc, char **argv, const struct cli_global *g);
int cmd_status(int argc, char **argv, const struct cli_global *g);
int cmd_remove(int argc, char **argv, const struct cli_global *g);
int cmd_leave(int argc, char **argv, const struct cli_global *g);
int cmd_transfer_leadership(int argc, char **argv, const struct cli_global *g);

#endif
