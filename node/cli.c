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
        {"check-config", "check the bootstrap file and exit",
         "mailnode [--config FILE] check-config\n"
         "\n"
         "Loads and checks the bootstrap file the way `serve` does (keys, values,\n"
         "addresses, TLS files) without binding or writing anything. Exit 0 when it\n"
         "is usable, 1 with one line naming the file, line and problem otherwise.\n",
         cmd_check_config},
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
        {"status", "show the cluster: members, leader, replication progress",
         "mailnode [--config FILE] [--json] status\n"
         "\n"
         "Asks the running node for the cluster as the leader sees it: the term and\n"
         "the leader, then every member with its id, cluster address, role (leader,\n"
         "follower, candidate), whether it votes (voter, standby, spare), its state\n"
         "(ok, unreachable, fetching message bodies), the time since the leader last\n"
         "contacted it, its match index (the leader's view), the index it has applied\n"
         "and how far that lags behind the leader's log.\n",
         cmd_status},
        {"remove", "remove a member from the cluster",
         "mailnode [--config FILE] [--json] remove ID\n"
         "\n"
         "Removes node ID from the cluster's membership (any member can be asked; the\n"
         "leader decides). A leader being removed first hands leadership to another\n"
         "voter. Removing the last voter is refused. Stop the removed node afterwards.\n",
         cmd_remove},
        {"leave", "remove this node from its cluster",
         "mailnode [--config FILE] [--json] leave\n"
         "\n"
         "Asks the leader to remove this node (the id in the configuration file) from\n"
         "the cluster, as `mailnode remove ID` would. Stop the node afterwards.\n",
         cmd_leave},
        {"transfer-leadership", "hand leadership to another member",
         "mailnode [--config FILE] [--json] transfer-leadership [ID]\n"
         "\n"
         "Makes node ID the leader (without ID: the most up-to-date other voter), for\n"
         "maintenance of the current leader.\n",
         cmd_transfer_leadership},
        {"user", "mail users: add, del, passwd, list, show, enable, disable",
         "mailnode [--config FILE] [--json] user SUBCOMMAND ...\n"
         "\n"
         "  user add ADDRESS [--quota-bytes SIZE] [--quota-messages N] [--password-stdin]\n"
         "        create a user in an existing domain, with its default mailboxes.\n"
         "        The password is typed twice on the terminal (no echo), or read from\n"
         "        the first line of stdin with --password-stdin; it is never taken\n"
         "        from the command line. SIZE: bytes, or with K, M, G, T (1024s):\n"
         "        2G. Quotas left out (or 0) follow the cluster defaults\n"
         "        quota.storage and quota.messages.\n"
         "  user del ADDRESS\n"
         "        delete the user and all of its mail\n"
         "  user passwd ADDRESS [--password-stdin]\n"
         "        set a new password, read as for add\n"
         "  user list\n"
         "        every user, one address a line\n"
         "  user show ADDRESS\n"
         "        quota, usage and whether the user is enabled\n"
         "  user enable ADDRESS | user disable ADDRESS\n"
         "        allow or refuse the user's logins\n"
         "\n"
         "Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage.\n",
         cmd_user},
        {"domain", "mail domains: add, del, list",
         "mailnode [--config FILE] [--json] domain SUBCOMMAND ...\n"
         "\n"
         "  domain add NAME     accept mail for NAME\n"
         "  domain del NAME     stop; refused while NAME has users or aliases\n"
         "  domain list         every domain, one a line\n",
         cmd_domain},
        {"alias", "aliases: add, del, list",
         "mailnode [--config FILE] [--json] alias SUBCOMMAND ...\n"
         "\n"
         "  alias add ADDRESS TARGET...\n"
         "        deliver mail for ADDRESS (or @DOMAIN, the domain's catch-all) to\n"
         "        each TARGET, an existing user or alias; adds to an alias's targets.\n"
         "        Refused: a loop, an unknown target or domain, a user's address.\n"
         "  alias del ADDRESS    delete the alias\n"
         "  alias list           every alias and its targets\n",
         cmd_alias},
        {"quota", "set a user's storage and message quota",
         "mailnode [--config FILE] [--json] quota set ADDRESS [--bytes SIZE] [--messages N]\n"
         "\n"
         "Sets the user's own limits; a limit left out keeps its current value, 0\n"
         "means the cluster default (config keys quota.storage, quota.messages).\n"
         "SIZE: bytes, or with K, M, G, T (1024s): 2G.\n",
         cmd_quota},
        {"config", "cluster configuration: set, get, del, list",
         "mailnode [--config FILE] [--json] config SUBCOMMAND ...\n"
         "\n"
         "The cluster's configuration, replicated to every node (the per-node file\n"
         "given with --config only says how the node reaches its cluster).\n"
         "\n"
         "  config set KEY VALUE   known keys are checked for their type\n"
         "  config get KEY         print the value\n"
         "  config del KEY         back to the built-in default\n"
         "  config list            every key that is set, as KEY = VALUE\n"
         "\n"
         "Known keys: quota.storage, quota.messages, limits.message_size,\n"
         "limits.imap_line, password.argon2_memory_kib, password.argon2_passes,\n"
         "password.scram_iterations, health.max_lag (non-negative integers);\n"
         "auth.plaintext_loopback, pop3.seen_on_retr (true or false).\n",
         cmd_config},
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
