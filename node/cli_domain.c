/*
 * cli_domain: `mailnode domain add|del|list`, `mailnode alias
 * add|del|list` and `mailnode quota set`.
 *
 * Happy path: one request to the admin API, one line of output (or the
 * API's JSON with --json).
 *
 * Failure modes: the node's refusal, made concrete: an alias refused as
 * "not found" is looked into (the alias's domain, or which target is
 * neither a user nor an alias), a domain that still has users or aliases,
 * a loop. These second looks only read; they never change anything.
 * `quota set` with only one of --bytes/--messages reads the user's own
 * setting of the other first, since the API sets both.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cli_api.h"
#include "node/cli_output.h"
#include "node/lib/util.h"

/* --- domains --------------------------------------------------------- */

static int
domain_add(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL, *req;
	int pos, rc = cli_begin(&x, "domain add", argc, argv, g, 1, 1, &pos);
	if (rc != 0)
		return rc;
	const char *name = argv[pos];
	req = json_pack("{s:s}", "name", name);
	if (req == NULL)
		rc = cli_api_failf(&x, "invalid domain: not UTF-8");
	else if (cli_api_call(&x, "POST", "/v1/domains", req, &ans) == 0)
		rc = cli_api_done(&x, ans, "added domain %s", name);
	else if (x.status == 409)
		rc = cli_api_failf(&x, "domain %s already exists", name);
	else
		rc = cli_api_fail(&x);
	json_decref(req);
	cli_ctx_deinit(&x);
	return rc;
}

static int
domain_del(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL;
	int pos, rc = cli_begin(&x, "domain del", argc, argv, g, 1, 1, &pos);
	if (rc != 0)
		return rc;
	const char *name = argv[pos];
	if (cli_api_delete(&x, "/v1/domains/", name, &ans) == 0)
		rc = cli_api_done(&x, ans, "deleted domain %s", name);
	else if (x.status == 404)
		rc = cli_api_failf(&x, "no domain %s", name);
	else if (x.status == 409)
		rc = cli_api_failf(&x, "domain %s still has users or aliases; delete them first",
		                   name);
	else
		rc = cli_api_fail(&x);
	cli_ctx_deinit(&x);
	return rc;
}

/* GET a list; with --json print it as the API gave it, else each string
 * member of the array under key. Returns an exit code. */
static int
list_strings(const char *name, int argc, char **argv, const struct cli_global *g, const char *path,
             const char *key)
{
	struct cli_ctx x;
	json_t *ans, *v;
	size_t i;
	int pos, rc = cli_begin(&x, name, argc, argv, g, 0, 0, &pos);
	if (rc != 0)
		return rc;
	if (cli_api_call(&x, "GET", path, NULL, &ans) != 0) {
		rc = cli_api_fail(&x);
	} else {
		if (g->json)
			cli_json_print(ans);
		else
			json_array_foreach(json_object_get(ans, key), i, v)
			        printf("%s\n", json_is_string(v) ? json_string_value(v) : "?");
		json_decref(ans);
	}
	cli_ctx_deinit(&x);
	return rc;
}

static int
domain_list(int argc, char **argv, const struct cli_global *g)
{
	return list_strings("domain list", argc, argv, g, "/v1/domains", "domains");
}

int
cmd_domain(int argc, char **argv, const struct cli_global *g)
{
	static const struct cli_sub subs[] = {
	        {"add", domain_add}, {"del", domain_del}, {"list", domain_list}, {NULL, NULL}};
	return cli_sub_dispatch("domain", subs, argc, argv, g);
}

/* --- aliases --------------------------------------------------------- */

/* Is s (compared without case) a string in the array under key of GET
 * path? 1 yes, 0 no, -1 the list could not be read. */
static int
listed(struct cli_ctx *x, const char *path, const char *key, const char *field, const char *s)
{
	json_t *ans, *v;
	size_t i;
	int found = 0;
	if (cli_api_call(x, "GET", path, NULL, &ans) != 0)
		return -1;
	json_array_foreach(json_object_get(ans, key), i, v)
	{
		json_t *str = field ? json_object_get(v, field) : v;
		if (json_is_string(str) && ascii_strcasecmp(json_string_value(str), s) == 0)
			found = 1;
	}
	json_decref(ans);
	return found;
}

/* The alias was refused as "not found": say what is missing. */
static int
alias_explain_missing(struct cli_ctx *x, const char *address, char **targets, int n)
{
	char api_msg[CLI_ERROR_MAX];
	memcpy(api_msg, x->error, sizeof(api_msg));
	const char *at = strrchr(address, '@');
	if (at && listed(x, "/v1/domains", "domains", NULL, at + 1) == 0)
		return cli_api_failf(x,
		                     "domain %s does not exist (add it with: mailnode domain "
		                     "add %s)",
		                     at + 1, at + 1);
	for (int i = 0; i < n; i++) {
		int u = listed(x, "/v1/users", "users", NULL, targets[i]);
		int a = u == 0 ? listed(x, "/v1/aliases", "aliases", "address", targets[i]) : 1;
		if (u == 0 && a == 0)
			return cli_api_failf(x, "alias target %s is neither a user nor an alias",
			                     targets[i]);
	}
	return cli_api_failf(x, "alias %s: %s", address, api_msg);
}

static int
alias_add(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL, *req = NULL, *arr;
	int pos, rc = cli_begin(&x, "alias add", argc, argv, g, 2, 257, &pos);
	if (rc != 0)
		return rc;
	const char *address = argv[pos];
	char **targets = argv + pos + 1;
	int n = argc - pos - 1;
	arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_string(targets[i]));
	if (json_array_size(arr) == (size_t)n)
		req = json_pack("{s:s, s:O}", "address", address, "targets", arr);
	json_decref(arr);
	if (req == NULL) {
		rc = cli_api_failf(&x, "invalid address: not UTF-8");
	} else if (cli_api_call(&x, "POST", "/v1/aliases", req, &ans) == 0) {
		char list[1024] = "";
		for (int i = 0; i < n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			         i ? ", " : "", targets[i]);
		rc = cli_api_done(&x, ans, "alias %s -> %s", address, list);
	} else if (x.status == 404) {
		rc = alias_explain_missing(&x, address, targets, n);
	} else if (x.status == 409 && strstr(x.error, "exists") != NULL) {
		rc = cli_api_failf(&x, "%s is a user; an alias cannot take its address", address);
	} else if (x.status == 409 && (strstr(x.error, "loop") || strstr(x.error, "itself"))) {
		rc = cli_api_failf(&x, "alias %s -> %s would create a loop", address,
		                   n == 1 ? targets[0] : "these targets");
	} else {
		rc = cli_api_fail(&x);
	}
	json_decref(req);
	cli_ctx_deinit(&x);
	return rc;
}

static int
alias_del(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans = NULL;
	int pos, rc = cli_begin(&x, "alias del", argc, argv, g, 1, 1, &pos);
	if (rc != 0)
		return rc;
	const char *address = argv[pos];
	if (cli_api_delete(&x, "/v1/aliases/", address, &ans) == 0)
		rc = cli_api_done(&x, ans, "deleted alias %s", address);
	else if (x.status == 404)
		rc = cli_api_failf(&x, "no alias %s", address);
	else
		rc = cli_api_fail(&x);
	cli_ctx_deinit(&x);
	return rc;
}

static int
alias_list(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	struct cli_table t;
	json_t *ans, *a, *v;
	size_t i, k;
	int pos, rc = cli_begin(&x, "alias list", argc, argv, g, 0, 0, &pos);
	if (rc != 0)
		return rc;
	if (cli_api_call(&x, "GET", "/v1/aliases", NULL, &ans) != 0) {
		rc = cli_api_fail(&x);
	} else if (g->json) {
		cli_json_print(ans);
		json_decref(ans);
	} else {
		cli_table_init(&t, 3);
		json_array_foreach(json_object_get(ans, "aliases"), i, a)
		{
			char *list = xstrdup("");
			json_array_foreach(json_object_get(a, "targets"), k, v)
			{
				char *next =
				        xasprintf("%s%s%s", list, k ? ", " : "",
				                  json_is_string(v) ? json_string_value(v) : "?");
				free(list);
				list = next;
			}
			const char *row[3] = {cli_json_str(a, "address"), "->", list};
			cli_table_add(&t, row);
			free(list);
		}
		cli_table_print(&t);
		cli_table_deinit(&t);
		json_decref(ans);
	}
	cli_ctx_deinit(&x);
	return rc;
}

int
cmd_alias(int argc, char **argv, const struct cli_global *g)
{
	static const struct cli_sub subs[] = {
	        {"add", alias_add}, {"del", alias_del}, {"list", alias_list}, {NULL, NULL}};
	return cli_sub_dispatch("alias", subs, argc, argv, g);
}

/* --- quotas ---------------------------------------------------------- */

struct quota_opts {
	uint64_t bytes, msgs;
	int has_bytes, has_msgs;
};

static int
quota_opt(int ch, const char *val, void *arg)
{
	struct quota_opts *o = arg;
	if (ch == 'b' && cli_size_parse(val, &o->bytes) == 0) {
		o->has_bytes = 1;
		return 0;
	}
	if (ch == 'm' && cli_count_parse(val, &o->msgs) == 0) {
		o->has_msgs = 1;
		return 0;
	}
	return cli_usage_error("quota set", ch == 'b' ? "--bytes takes a size: 1073741824, 512M, 2G"
	                                              : "--messages takes a number");
}

/* Fill in the limit the command line left out with the user's own. */
static int
quota_keep_other(struct cli_ctx *x, const char *address, struct quota_opts *o)
{
	json_t *u;
	char *path = cli_api_path("/v1/users/", address, "");
	int rc = cli_api_call(x, "GET", path, NULL, &u);
	free(path);
	if (rc != 0)
		return -1;
	const char *key = o->has_bytes ? "user_quota_messages" : "user_quota_bytes";
	if (json_object_get(u, key) == NULL) {
		json_decref(u);
		snprintf(x->error, sizeof(x->error),
		         "this node does not report the user's own quota: give both --bytes "
		         "and --messages");
		return -1;
	}
	if (o->has_bytes)
		o->msgs = cli_json_u64(u, key);
	else
		o->bytes = cli_json_u64(u, key);
	json_decref(u);
	return 0;
}

static int
quota_set(int argc, char **argv, const struct cli_global *g)
{
	static const struct option opts[] = {
	        {"bytes", required_argument, NULL, 'b'},
	        {"messages", required_argument, NULL, 'm'},
	        {NULL, 0, NULL, 0},
	};
	struct quota_opts o = {0};
	struct cli_ctx x;
	json_t *ans = NULL, *req;
	int pos, rc = cli_args_parse("quota set", argc, argv, opts, quota_opt, &o, 1, 1, &pos);
	if (rc != 0)
		return rc;
	if (!o.has_bytes && !o.has_msgs)
		return cli_usage_error("quota set", "give --bytes, --messages or both");
	if (cli_ctx_init(&x, g, "quota set") != 0)
		return CLI_EXIT_FAIL;
	const char *address = argv[pos];
	char *path = cli_api_path("/v1/users/", address, "/quota");
	if ((!o.has_bytes || !o.has_msgs) && quota_keep_other(&x, address, &o) != 0) {
		rc = x.status == 404 ? cli_api_failf(&x, "no user %s", address) : cli_api_fail(&x);
		goto err_after_path;
	}
	req = json_pack("{s:I, s:I}", "bytes", (json_int_t)o.bytes, "messages", (json_int_t)o.msgs);
	if (cli_api_call(&x, "POST", path, req, &ans) == 0) {
		char b[64] = "the cluster default", m[64] = "the cluster default";
		if (o.bytes)
			cli_size_format(o.bytes, b, sizeof(b));
		if (o.msgs)
			snprintf(m, sizeof(m), "%llu", (unsigned long long)o.msgs);
		rc = cli_api_done(&x, ans, "quota of %s: storage %s, messages %s", address, b, m);
	} else if (x.status == 404) {
		rc = cli_api_failf(&x, "no user %s", address);
	} else {
		rc = cli_api_fail(&x);
	}
	json_decref(req);
err_after_path:
	free(path);
	cli_ctx_deinit(&x);
	return rc;
}

int
cmd_quota(int argc, char **argv, const struct cli_global *g)
{
	static const struct cli_sub subs[] = {{"set", quota_set}, {NULL, NULL}};
	return cli_sub_dispatch("quota", subs, argc, argv, g);
}
