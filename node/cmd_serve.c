/*
 * cmd_serve, cmd_init: the daemon and the data-directory set-up.
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

int
cmd_init(int argc, char **argv, const struct cli_global *g)
{
	static const struct option opts[] = {
		{"demo", no_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	int ch, demo = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'd')
			return 2;
		demo = 1;
	}
	(void)demo;
	struct config *cfg = cli_load_config(g);
	if (cfg == NULL)
		return 1;
	int rc = mkdir_p(cfg->data_dir, 0700);
	if (rc != 0) {
		fprintf(stderr, "mailnode: cannot create %s: %s\n", cfg->data_dir, strerror(-rc));
		config_free(&cfg);
		return 1;
	}
	printf("data directory %s ready\n", cfg->data_dir);
	config_free(&cfg);
	return 0;
}
