/*
 * cli_config: `mailnode config set|get|del|list`: the cluster
 * configuration in the replicated store (not the node's bootstrap file).
 *
 * Happy path: one request; `get` prints the bare value (for scripts),
 * `list` prints "key = value" lines.
 *
 * Failure modes: the node checks keys and, for the keys it knows, the
 * type of the value; its refusal is printed with the key in front. A key
 * that is not set is "not set", exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cli_api.h"
#include "node/cli_output.h"
#include "node/lib/util.h"

/* Parse a command that takes nargs positional arguments and start it.
 * Returns 0 with x ready and *pos_r set, or an exit code. */
static int
config_begin(struct cli_ctx *x, const char *name, int argc, char **argv, const struct cli_global *g,
             int nargs, int *pos_r)
{
	int rc = cli_args_parse(name, argc, argv, NULL, NULL, NULL, nargs, nargs, pos_r);
	if (rc != 0)
		return rc;
	if (nargs > 0 && argv[*pos_r][0] == '\0')
		return cli_usage_error(name, "the key is empty");
	return cli_ctx_init(x, g, name) == 0 ? 0 : CLI_EXIT_FAIL;
}

static int
config_set(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL, *req;
	int pos, rc = config_begin(&x, "config set", argc, argv, g, 2, &pos);
	if (rc != 0)
		return rc;
	const char *key = argv[pos], *value = argv[pos + 1];
	char *path = cli_api_path("/v1/config/", key, "");
	req = json_pack("{s:s}", "value", value);
	if (req == NULL)
		rc = cli_api_failf(&x, "config %s: the value is not UTF-8", key);
	else if (cli_api_call(&x, "PUT", path, req, &ans) == 0)
		rc = cli_api_done(&x, ans, "%s = %s", key, value);
	else if (x.status == 400)
		rc = cli_api_failf(&x, "config %s: %s", key, x.error);
	else
		rc = cli_api_fail(&x);
	json_decref(req);
	free(path);
	cli_ctx_deinit(&x);
	return rc;
}

static int
config_get(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL;
	int pos, rc = config_begin(&x, "config get", argc, argv, g, 1, &pos);
	if (rc != 0)
		return rc;
	const char *key = argv[pos];
	char *path = cli_api_path("/v1/config/", key, "");
	if (cli_api_call(&x, "GET", path, NULL, &ans) != 0) {
		rc = x.status == 404 ? cli_api_failf(&x, "config key %s is not set", key)
		                     : cli_api_fail(&x);
	} else {
		if (g->json)
			cli_json_print(ans);
		else
			printf("%s\n", cli_json_str(ans, "value"));
		json_decref(ans);
	}
	free(path);
	cli_ctx_deinit(&x);
	return rc;
}

static int
config_del(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL;
	int pos, rc = config_begin(&x, "config del", argc, argv, g, 1, &pos);
	if (rc != 0)
		return rc;
	const char *key = argv[pos];
	if (cli_api_delete(&x, "/v1/config/", key, &ans) == 0)
		rc = cli_api_done(&x, ans, "deleted %s (its default applies)", key);
	else if (x.status == 404)
		rc = cli_api_failf(&x, "config key %s is not set", key);
	else if (x.status == 400)
		rc = cli_api_failf(&x, "config %s: %s", key, x.error);
	else
		rc = cli_api_fail(&x);
	cli_ctx_deinit(&x);
	return rc;
}

static int
config_list(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL, *kv;
	size_t i;
	int pos, rc = config_begin(&x, "config list", argc, argv, g, 0, &pos);
	if (rc != 0)
		return rc;
	if (cli_api_call(&x, "GET", "/v1/config", NULL, &ans) != 0) {
		rc = cli_api_fail(&x);
	} else {
		if (g->json)
			cli_json_print(ans);
		else
			json_array_foreach(json_object_get(ans, "config"), i, kv) printf(
			        "%s = %s\n", cli_json_str(kv, "key"), cli_json_str(kv, "value"));
		json_decref(ans);
	}
	cli_ctx_deinit(&x);
	return rc;
}

int
cmd_config(int argc, char **argv, const struct cli_global *g)
{
	static const struct cli_sub subs[] = {{"set", config_set},
	                                      {"get", config_get},
	                                      {"del", config_del},
	                                      {"list", config_list},
	                                      {NULL, NULL}};
	return cli_sub_dispatch("config", subs, argc, argv, g);
}
