/*
 * cmd_serve: the daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cli.h"
#include "node/lib/util.h"
#include "node/node.h"

int
cmd_serve(int argc, char **argv, const struct cli_global *g)
{
	if (argc > 1) {
		fprintf(stderr, "mailnode serve: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	struct config *cfg = cli_load_config(g);
	if (cfg == NULL)
		return 1;
	int rc = node_serve(cfg);
	config_free(&cfg);
	return rc;
}
