/*
 * cli_api: the operator commands' way to the admin API. See cli_api.h.
 *
 * Happy path: load the configuration, connect to <data_dir>/admin.sock,
 * send one JSON request, get a 2xx JSON answer, print it (--json) or a
 * line for humans.
 *
 * Failure modes, each one line on stderr and exit code 1: no node on the
 * socket (absent: "no node is running on DATA_DIR"), permission denied
 * (the socket is mode 0600: run as the node's user), no leader (503: say
 * so and to retry; the CLI does not retry by itself, so a script decides),
 * the API's refusal ({"error": "..."} with 400/403/404/409), an answer
 * that is not JSON. The API's text is printed with control characters
 * replaced, so that one refusal is always one line.
 */
#include "node/cli_api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cli_http.h"
#include "node/cli_output.h"
#include "node/cli_password.h"
#include "node/lib/util.h"

int
cli_ctx_init(struct cli_ctx *x, const struct cli_global *g, const char *name)
{
	memset(x, 0, sizeof(*x));
	x->g = g;
	x->name = name;
	cli_secret_alloc_init();
	x->cfg = cli_load_config(g);
	if (x->cfg == NULL)
		return -1;
	x->sock = config_path(x->cfg, "admin.sock");
	return 0;
}

int
cli_begin(struct cli_ctx *x, const char *name, int argc, char **argv, const struct cli_global *g,
          int min, int max, int *pos_r)
{
	int rc = cli_args_parse(name, argc, argv, NULL, NULL, NULL, min, max, pos_r);
	if (rc != 0)
		return rc;
	return cli_ctx_init(x, g, name) == 0 ? 0 : CLI_EXIT_FAIL;
}

void
cli_ctx_deinit(struct cli_ctx *x)
{
	json_decref(x->error_json);
	free(x->sock);
	config_free(&x->cfg);
	memset(x, 0, sizeof(*x));
}

/* x->error = the formatted text, one line of printable characters. The
 * arguments may include x->error itself. */
static void
api_set_error(struct cli_ctx *x, const char *fmt, va_list ap)
{
	char buf[CLI_ERROR_MAX];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	memcpy(x->error, buf, sizeof(buf));
}

static int
api_error(struct cli_ctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_set_error(x, fmt, ap);
	va_end(ap);
	return -1;
}

static int
api_transport_error(struct cli_ctx *x, int rc, const char *err)
{
	switch (rc) {
	case -ENOENT:
	case -ENOTDIR:
		return api_error(x, "no node is running on %s (admin socket not found)",
		                 x->cfg->data_dir);
	case -ECONNREFUSED:
		return api_error(x,
		                 "no node is running on %s (the admin socket refuses "
		                 "connections)",
		                 x->cfg->data_dir);
	case -EACCES:
	case -EPERM:
		return api_error(x,
		                 "permission denied on %s: run this as the user the node "
		                 "runs as",
		                 x->sock);
	default:
		return api_error(x, "cannot talk to the node on %s: %s", x->sock, err);
	}
}

/* A non-2xx answer: the API's {"error": "..."} in x->error. */
static int
api_refused(struct cli_ctx *x, json_t *j)
{
	json_t *e = json_is_object(j) ? json_object_get(j, "error") : NULL;
	const char *msg = json_is_string(e) ? json_string_value(e) : NULL;
	x->error_json = j;
	if (x->status == 503)
		return api_error(x, "the cluster has no leader right now (%s); retry in a moment",
		                 msg ? msg : "service unavailable");
	if (msg != NULL)
		return api_error(x, "%s", msg);
	return api_error(x, "the node answered HTTP %d", x->status);
}

int
cli_api_call(struct cli_ctx *x, const char *method, const char *path, json_t *body, json_t **json_r)
{
	char *text = NULL, err[256];
	size_t len = 0;
	struct cli_http_resp resp;
	if (json_r)
		*json_r = NULL;
	json_decref(x->error_json);
	x->error_json = NULL;
	x->status = 0;
	x->error[0] = '\0';
	if (body != NULL) {
		len = json_dumpb(body, NULL, 0, JSON_COMPACT);
		if (len == 0)
			return api_error(x, "cannot encode the request");
		text = xmalloc(len);
		json_dumpb(body, text, len, JSON_COMPACT);
	}
	int rc = cli_http_request(x->sock, method, path, text, len, &resp, err, sizeof(err));
	if (text != NULL) {
		explicit_bzero(text, len); /* it may hold a password */
		free(text);
	}
	if (rc != 0)
		return api_transport_error(x, rc, err);
	x->status = resp.status;
	json_t *j = NULL;
	if (resp.body_len > 0)
		j = json_loadb(resp.body, resp.body_len, 0, NULL);
	cli_http_resp_deinit(&resp);
	if (x->status < 200 || x->status > 299)
		return api_refused(x, j);
	if (j == NULL)
		return api_error(x, "the node's answer (HTTP %d) is not JSON", x->status);
	if (json_r)
		*json_r = j;
	else
		json_decref(j);
	return 0;
}

char *
cli_api_path(const char *prefix, const char *segment, const char *suffix)
{
	char *e = cli_http_escape(segment);
	char *p = xasprintf("%s%s%s", prefix, e, suffix);
	free(e);
	return p;
}

int
cli_api_delete(struct cli_ctx *x, const char *prefix, const char *name, json_t **json_r)
{
	char *path = cli_api_path(prefix, name, "");
	int rc = cli_api_call(x, "DELETE", path, NULL, json_r);
	free(path);
	return rc;
}

int
cli_api_fail(struct cli_ctx *x)
{
	const char *msg = x->error[0] ? x->error : "failed";
	fprintf(stderr, "mailnode: %s\n", msg);
	if (x->g && x->g->json && x->error_json != NULL) {
		cli_json_print(x->error_json);
	} else if (x->g && x->g->json) {
		/* Refused before or without an API error: the same shape. */
		json_t *j = json_pack("{s:s}", "error", msg);
		if (j != NULL)
			cli_json_print(j);
		json_decref(j);
	}
	return CLI_EXIT_FAIL;
}

int
cli_api_failf(struct cli_ctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_set_error(x, fmt, ap);
	va_end(ap);
	return cli_api_fail(x);
}

int
cli_api_done(struct cli_ctx *x, json_t *j, const char *fmt, ...)
{
	if (x->g->json && j != NULL) {
		cli_json_print(j);
	} else if (!x->g->json) {
		va_list ap;
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	json_decref(j);
	return CLI_EXIT_OK;
}

const char *
cli_json_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

unsigned long long
cli_json_u64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	return (unsigned long long)json_integer_value(v);
}
