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

int
cmd_check_config(int argc, char **argv, const struct cli_global *g)
{
	if (argc > 1) {
		fprintf(stderr, "mailnode check-config: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	struct config *cfg = cli_load_config(g);
	const char *err;
	if (cfg == NULL)
		return 1;
	int rc = 0;
	if (config_check_files(cfg, &err) != 0) {
		fprintf(stderr, "mailnode: %s\n", err);
		rc = 1;
	} else if (node_cluster_address(cfg) == NULL) {
		fprintf(stderr,
		        "mailnode: %s: [listen] cluster (or [cluster] advertise) is required\n",
		        cfg->path ? cfg->path : "(default)");
		rc = 1;
	} else {
		printf("%s: configuration OK (node %llu, data in %s)\n",
		       cfg->path ? cfg->path : "(default)", (unsigned long long)cfg->node_id,
		       cfg->data_dir);
	}
	config_free(&cfg);
	return rc;
}
