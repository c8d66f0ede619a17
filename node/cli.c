/*
 * cli: the command table and helpers shared by subcommands. See cli.h.
 */
#include "node/cli.h"

#include <stdio.h>
#include <string.h>

#include "node/lib/log.h"

const struct cli_command cli_commands[] = {
	{"serve", "run the node in the foreground",
	 "mailnode [--config FILE] serve\n"
	 "\n"
	 "Runs the node until SIGINT or SIGTERM. The data directory must have been\n"
	 "prepared by `mailnode init` (first node) or `mailnode join` (others).\n",
	 cmd_serve},
	{"init", "prepare the data directory and bootstrap a new cluster",
	 "mailnode [--config FILE] init [--demo]\n"
	 "\n"
	 "Creates the data directory and the node's TLS certificate, and bootstraps a\n"
	 "cluster of one with this node as its only member. Safe to run again: an\n"
	 "initialised data directory is left as it is.\n"
	 "\n"
	 "  --demo   also create the demo account demo@example.test (password demo)\n"
	 "           on first start\n",
	 cmd_init},
	{"join", "prepare the data directory of a node joining a cluster",
	 "mailnode [--config FILE] join --peer ADDRESS (--token TOKEN | --token-file FILE)\n"
	 "\n"
	 "Writes the cluster CA carried by the token and a certificate for this node,\n"
	 "and makes `mailnode serve` ask the member at ADDRESS (its cluster address,\n"
	 "host:port) to add this node. The node catches up from a snapshot and then\n"
	 "votes. Get a token with `mailnode token` on any member that holds the CA.\n",
	 cmd_join},
	{"token", "print the join token of this cluster (a secret)",
	 "mailnode [--config FILE] token\n"
	 "\n"
	 "Prints the token `mailnode join` needs: the cluster CA certificate and key.\n"
	 "Anyone holding it can create a node certificate: keep it secret.\n",
	 cmd_token},
	{NULL, NULL, NULL, NULL},
};

struct config *
cli_load_config(const struct cli_global *g)
{
	struct config *cfg = NULL;
	const char *err;
	if (g->config_path == NULL)
		return config_default();
	if (config_load(g->config_path, &cfg, &err) != 0) {
		fprintf(stderr, "mailnode: %s\n", err);
		return NULL;
	}
	if (g->log_level)
		log_level_parse(g->log_level, &cfg->log_level);
	return cfg;
}

void
cli_usage(const struct cli_command *cmd)
{
	printf("usage: %s", cmd->usage);
}

int
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}
