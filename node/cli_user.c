/*
 * cli_user: `mailnode user add|del|passwd|list|show|enable|disable`.
 *
 * Happy path (add): parse the command line, refuse to go on without a way
 * to read the password (a terminal or --password-stdin), check with the
 * node that the user does not exist yet (so that nobody types a password
 * twice for nothing), read the password, POST /v1/users, wipe it.
 *
 * Failure modes: a usage error is exit 2 and nothing is sent; every
 * refusal of the node is exit 1 and one line. The node decides (its
 * answer after raft applied the command); the messages here only make its
 * answer concrete: which domain is missing, which address exists.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/cli_api.h"
#include "node/cli_output.h"
#include "node/cli_password.h"
#include "node/lib/util.h"

struct user_opts {
	uint64_t quota_bytes;
	uint64_t quota_msgs;
	int password_stdin;
	const char *name;
};

enum { OPT_QUOTA_BYTES = 1000, OPT_QUOTA_MSGS, OPT_PASSWORD_STDIN };

static int
user_opt(int ch, const char *val, void *arg)
{
	struct user_opts *o = arg;
	switch (ch) {
	case OPT_QUOTA_BYTES:
		if (cli_size_parse(val, &o->quota_bytes) != 0)
			return cli_usage_error(o->name, "--quota-bytes takes a size: 1073741824, "
			                                "512M, 2G");
		return 0;
	case OPT_QUOTA_MSGS:
		if (cli_count_parse(val, &o->quota_msgs) != 0)
			return cli_usage_error(o->name, "--quota-messages takes a number");
		return 0;
	case OPT_PASSWORD_STDIN:
		o->password_stdin = 1;
		return 0;
	default:
		return CLI_EXIT_USAGE;
	}
}

/* GET /v1/users/ADDRESS: 1 exists, 0 absent, -1 failed (x->error). */
static int
user_exists(struct cli_ctx *x, const char *address, json_t **user_r)
{
	char *path = cli_api_path("/v1/users/", address, "");
	int rc = cli_api_call(x, "GET", path, NULL, user_r);
	free(path);
	if (rc == 0)
		return 1;
	return x->status == 404 ? 0 : -1;
}

/* Read the password the way the options say. Returns 0, or an exit code
 * after printing why. */
static int
user_password(struct cli_ctx *x, const struct user_opts *o, const char *address, char *pw,
              size_t *len_r)
{
	const char *err;
	int rc = cli_password_read(o->password_stdin, address, pw, len_r, &err);
	if (rc == CLI_PASSWORD_ENOTTY)
		return cli_usage_error(o->name, "stdin is not a terminal: give the password on "
		                                "stdin with --password-stdin");
	if (rc != 0)
		return cli_api_failf(x, "%s", err);
	return 0;
}

static int
user_add(int argc, char **argv, const struct cli_global *g)
{
	static const struct option opts[] = {
	        {"quota-bytes", required_argument, NULL, OPT_QUOTA_BYTES},
	        {"quota-messages", required_argument, NULL, OPT_QUOTA_MSGS},
	        {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	        {NULL, 0, NULL, 0},
	};
	struct user_opts o = {.name = "user add"};
	struct cli_ctx x;
	int pos, rc = cli_args_parse(o.name, argc, argv, opts, user_opt, &o, 1, 1, &pos);
	if (rc != 0)
		return rc;
	const char *address = argv[pos];
	if (!o.password_stdin && !isatty(STDIN_FILENO))
		return cli_usage_error(o.name, "stdin is not a terminal: give the password on "
		                               "stdin with --password-stdin");
	if (cli_ctx_init(&x, g, o.name) != 0)
		return CLI_EXIT_FAIL;
	char *pw = xmalloc(CLI_PASSWORD_BUF);
	size_t pwlen = 0;
	json_t *req = NULL, *ans = NULL;
	rc = user_exists(&x, address, NULL);
	if (rc != 0) {
		rc = rc > 0 ? cli_api_failf(&x, "user %s already exists", address)
		            : cli_api_fail(&x);
		goto err_after_ctx;
	}
	if ((rc = user_password(&x, &o, address, pw, &pwlen)) != 0)
		goto err_after_ctx;
	req = json_pack("{s:s, s:s%, s:I, s:I}", "address", address, "password", pw, pwlen,
	                "quota_bytes", (json_int_t)o.quota_bytes, "quota_messages",
	                (json_int_t)o.quota_msgs);
	explicit_bzero(pw, CLI_PASSWORD_BUF);
	if (req == NULL) {
		rc = cli_api_failf(&x, "cannot encode the request (is the address UTF-8?)");
		goto err_after_ctx;
	}
	if (cli_api_call(&x, "POST", "/v1/users", req, &ans) == 0) {
		rc = cli_api_done(&x, ans, "created user %s", address);
	} else if (x.status == 404) {
		const char *at = strrchr(address, '@');
		rc = cli_api_failf(&x,
		                   "domain %s does not exist (add it with: mailnode domain add %s)",
		                   at + 1, at + 1);
	} else if (x.status == 409) {
		rc = user_exists(&x, address, NULL) == 0
		             ? cli_api_failf(&x, "%s is an alias; a user cannot take its address",
		                             address)
		             : cli_api_failf(&x, "user %s already exists", address);
	} else {
		rc = cli_api_fail(&x);
	}
	json_decref(req);
err_after_ctx:
	explicit_bzero(pw, CLI_PASSWORD_BUF);
	free(pw);
	cli_ctx_deinit(&x);
	return rc;
}

static int
user_passwd(int argc, char **argv, const struct cli_global *g)
{
	static const struct option opts[] = {
	        {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	        {NULL, 0, NULL, 0},
	};
	struct user_opts o = {.name = "user passwd"};
	struct cli_ctx x;
	int pos, rc = cli_args_parse(o.name, argc, argv, opts, user_opt, &o, 1, 1, &pos);
	if (rc != 0)
		return rc;
	const char *address = argv[pos];
	if (!o.password_stdin && !isatty(STDIN_FILENO))
		return cli_usage_error(o.name, "stdin is not a terminal: give the password on "
		                               "stdin with --password-stdin");
	if (cli_ctx_init(&x, g, o.name) != 0)
		return CLI_EXIT_FAIL;
	char *pw = xmalloc(CLI_PASSWORD_BUF), *path = NULL;
	size_t pwlen = 0;
	json_t *req = NULL, *ans = NULL;
	rc = user_exists(&x, address, NULL);
	if (rc <= 0) {
		rc = rc == 0 ? cli_api_failf(&x, "no user %s", address) : cli_api_fail(&x);
		goto err_after_ctx;
	}
	if ((rc = user_password(&x, &o, address, pw, &pwlen)) != 0)
		goto err_after_ctx;
	req = json_pack("{s:s%}", "password", pw, pwlen);
	explicit_bzero(pw, CLI_PASSWORD_BUF);
	path = cli_api_path("/v1/users/", address, "/password");
	if (req == NULL)
		rc = cli_api_failf(&x, "cannot encode the request");
	else if (cli_api_call(&x, "POST", path, req, &ans) == 0)
		rc = cli_api_done(&x, ans, "changed the password of %s", address);
	else if (x.status == 404)
		rc = cli_api_failf(&x, "no user %s", address);
	else
		rc = cli_api_fail(&x);
	json_decref(req);
	free(path);
err_after_ctx:
	explicit_bzero(pw, CLI_PASSWORD_BUF);
	free(pw);
	cli_ctx_deinit(&x);
	return rc;
}

/* The commands that take one address and send one request. */
static int
user_simple(const char *name, int argc, char **argv, const struct cli_global *g, const char *method,
            const char *suffix, json_t *body, const char *done)
{
	struct cli_ctx x;
	json_t *ans = NULL;
	int pos, rc = cli_args_parse(name, argc, argv, NULL, NULL, NULL, 1, 1, &pos);
	if (rc != 0 || cli_ctx_init(&x, g, name) != 0) {
		json_decref(body);
		return rc != 0 ? rc : CLI_EXIT_FAIL;
	}
	const char *address = argv[pos];
	char *path = cli_api_path("/v1/users/", address, suffix);
	if (cli_api_call(&x, method, path, body, &ans) == 0)
		rc = cli_api_done(&x, ans, done, address);
	else if (x.status == 404)
		rc = cli_api_failf(&x, "no user %s", address);
	else
		rc = cli_api_fail(&x);
	free(path);
	json_decref(body);
	cli_ctx_deinit(&x);
	return rc;
}

static int
user_del(int argc, char **argv, const struct cli_global *g)
{
	return user_simple("user del", argc, argv, g, "DELETE", "", NULL,
	                   "deleted user %s and all of its mail");
}

static int
user_enable(int argc, char **argv, const struct cli_global *g)
{
	/* The JSON value is built after cli_ctx_init chose the allocator. */
	cli_secret_alloc_init();
	return user_simple("user enable", argc, argv, g, "POST", "/enabled",
	                   json_pack("{s:b}", "enabled", 1), "enabled user %s");
}

static int
user_disable(int argc, char **argv, const struct cli_global *g)
{
	cli_secret_alloc_init();
	return user_simple("user disable", argc, argv, g, "POST", "/enabled",
	                   json_pack("{s:b}", "enabled", 0), "disabled user %s");
}

static int
user_list(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *ans, *v;
	size_t i;
	int pos, rc = cli_begin(&x, "user list", argc, argv, g, 0, 0, &pos);
	if (rc != 0)
		return rc;
	if (cli_api_call(&x, "GET", "/v1/users", NULL, &ans) != 0) {
		rc = cli_api_fail(&x);
	} else if (g->json) {
		cli_json_print(ans);
		json_decref(ans);
	} else {
		json_array_foreach(json_object_get(ans, "users"), i, v)
		        printf("%s\n", json_string_value(v) ? json_string_value(v) : "?");
		json_decref(ans);
	}
	cli_ctx_deinit(&x);
	return rc;
}

/* "2 GiB", "2 GiB (cluster default)", "unlimited". */
static void
quota_text(json_t *u, const char *eff_key, const char *own_key, int bytes, char *buf, size_t n)
{
	unsigned long long eff = cli_json_u64(u, eff_key);
	char num[64];
	if (bytes)
		cli_size_format(eff, num, sizeof(num));
	else
		snprintf(num, sizeof(num), "%llu", eff);
	int dflt = json_object_get(u, own_key) != NULL && cli_json_u64(u, own_key) == 0;
	if (eff == 0)
		snprintf(buf, n, "unlimited%s", dflt ? " (cluster default)" : "");
	else
		snprintf(buf, n, "%s%s", num, dflt ? " (cluster default)" : "");
}

static void
usage_line(const char *label, unsigned long long used, unsigned long long quota, int bytes,
           const char *quota_txt)
{
	char num[64];
	if (bytes)
		cli_size_format(used, num, sizeof(num));
	else
		snprintf(num, sizeof(num), "%llu", used);
	if (quota == 0)
		printf("%-10s %s used, quota %s\n", label, num, quota_txt);
	else
		printf("%-10s %s used of %s (%.0f%%)\n", label, num, quota_txt,
		       100.0 * (double)used / (double)quota);
}

static int
user_show(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *u = NULL;
	int pos, rc = cli_begin(&x, "user show", argc, argv, g, 1, 1, &pos);
	if (rc != 0)
		return rc;
	const char *address = argv[pos];
	rc = user_exists(&x, address, &u);
	if (rc <= 0) {
		rc = rc == 0 ? cli_api_failf(&x, "no user %s", address) : cli_api_fail(&x);
	} else if (g->json) {
		cli_json_print(u);
		rc = CLI_EXIT_OK;
	} else {
		char qb[96], qm[96];
		quota_text(u, "quota_bytes", "user_quota_bytes", 1, qb, sizeof(qb));
		quota_text(u, "quota_messages", "user_quota_messages", 0, qm, sizeof(qm));
		printf("%-10s %s\n", "address", cli_json_str(u, "address"));
		printf("%-10s %llu\n", "id", cli_json_u64(u, "id"));
		printf("%-10s %s\n", "enabled",
		       json_is_true(json_object_get(u, "enabled")) ? "yes" : "no");
		usage_line("storage", cli_json_u64(u, "used_bytes"), cli_json_u64(u, "quota_bytes"),
		           1, qb);
		usage_line("messages", cli_json_u64(u, "used_messages"),
		           cli_json_u64(u, "quota_messages"), 0, qm);
		rc = CLI_EXIT_OK;
	}
	json_decref(u);
	cli_ctx_deinit(&x);
	return rc;
}

int
cmd_user(int argc, char **argv, const struct cli_global *g)
{
	static const struct cli_sub subs[] = {
	        {"add", user_add},         {"del", user_del},   {"passwd", user_passwd},
	        {"list", user_list},       {"show", user_show}, {"enable", user_enable},
	        {"disable", user_disable}, {NULL, NULL},
	};
	return cli_sub_dispatch("user", subs, argc, argv, g);
}
