/*
 * main: `mailnode [global options] COMMAND [options]`.
 *
 * The daemon (`serve`) and the operator's commands live in one binary, the
 * way consul does. Global options come before the command; --help and
 * --version work anywhere a user would type them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cli.h"
#include "node/lib/log.h"

static void
main_usage(FILE *f)
{
	fprintf(f, "usage: mailnode [--config FILE] [--log-level LEVEL] [--json] COMMAND [ARGS]\n"
	           "\n"
	           "mailnode is a cluster-aware, high-availability mail storage node: IMAP, POP3\n"
	           "and LMTP over a raft-replicated store.\n"
	           "\n"
	           "global options:\n"
	           "  -c, --config FILE     node bootstrap file (default: the embedded default,\n"
	           "                        node 1 with data in ./var on loopback ports)\n"
	           "  -l, --log-level LEVEL debug, info, warn or error (default: info)\n"
	           "  -j, --json            machine-readable output for operator commands\n"
	           "  -h, --help            this help; `mailnode COMMAND --help` for a command\n"
	           "  -V, --version         print the version\n"
	           "\n"
	           "commands:\n");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-22s %s\n", c->name, c->summary);
}

int
main(int argc, char **argv)
{
	struct cli_global g = {0};
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"log-level", required_argument, NULL, 'l'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	int ch;
	/* '+': stop at the command name; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+c:l:jhV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			g.config_path = optarg;
			break;
		case 'l':
			g.log_level = optarg;
			break;
		case 'j':
			g.json = 1;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("mailnode %s\n", MAILNODE_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (g.log_level) {
		enum log_level lv;
		if (log_level_parse(g.log_level, &lv) != 0) {
			fprintf(stderr, "mailnode: unknown log level '%s'\n", g.log_level);
			return 2;
		}
		log_set_level(lv);
	}
	if (optind >= argc) {
		main_usage(stderr);
		return 2;
	}
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		main_usage(stdout);
		return 0;
	}
	if (strcmp(name, "version") == 0) {
		printf("mailnode %s\n", MAILNODE_VERSION);
		return 0;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		if (strcmp(c->name, name) != 0)
			continue;
		int cargc = argc - optind;
		char **cargv = argv + optind;
		if (cli_wants_help(cargc, cargv)) {
			cli_usage(c);
			return 0;
		}
		optind = 1;
		return c->run(cargc, cargv, &g);
	}
	fprintf(stderr, "mailnode: unknown command '%s' (see mailnode --help)\n", name);
	return 2;
}
