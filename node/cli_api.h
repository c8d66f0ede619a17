/*
 * cli_api: what every operator command shares on its way to the admin
 * API: the configuration (which names the data directory, hence the
 * socket), one call that sends a JSON body and parses the JSON answer, and
 * one way to report failures.
 *
 * Exit codes of every operator command: CLI_EXIT_OK, CLI_EXIT_FAIL (the
 * node refused or could not be reached; one line on stderr), CLI_EXIT_USAGE
 * (the command line is wrong; nothing was sent).
 *
 * Owner: the command owns its struct cli_ctx (on its stack) and releases
 * it with cli_ctx_deinit; JSON values handed out are the caller's.
 */
#ifndef MAILNODE_CLI_API_H
#define MAILNODE_CLI_API_H

#include <jansson.h>

#include "node/cli.h"

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

#define CLI_ERROR_MAX 512

struct cli_ctx {
	const struct cli_global *g;
	const char *name; /* "user add", for messages */
	struct config *cfg;
	char *sock;                /* <data_dir>/admin.sock */
	int status;                /* HTTP status of the last call; 0: no answer */
	char error[CLI_ERROR_MAX]; /* why the last call failed, one line */
	json_t *error_json;        /* the API's error body, or NULL */
};

/* Load the configuration the global options name and make every later
 * JSON allocation of this process wipe its memory when freed (request
 * bodies may carry passwords). Returns 0, or -1 after printing why. */
int cli_ctx_init(struct cli_ctx *x, const struct cli_global *g, const char *name);
void cli_ctx_deinit(struct cli_ctx *x);
/* The start of a subcommand without options: take min..max positional
 * arguments (the first at argv[*pos_r]), then cli_ctx_init. Returns 0, or
 * the exit code to return (nothing to deinit). */
int cli_begin(struct cli_ctx *x, const char *name, int argc, char **argv,
              const struct cli_global *g, int min, int max, int *pos_r);

/* Call the admin API: method, path (already escaped), body (NULL: none;
 * not consumed). Returns 0 on a 2xx answer with *json_r the parsed body
 * (the caller's; json_r may be NULL), or -1 with x->status, x->error and
 * x->error_json set: no node on the socket, permission denied, no leader
 * (503), or the API's own refusal. */
int cli_api_call(struct cli_ctx *x, const char *method, const char *path, json_t *body,
                 json_t **json_r);

/* "/v1/users/" + escaped segment + suffix (may be ""). Caller frees. */
char *cli_api_path(const char *prefix, const char *segment, const char *suffix);

/* DELETE prefix + escaped name, as cli_api_call. */
int cli_api_delete(struct cli_ctx *x, const char *prefix, const char *name, json_t **json_r);

/* Report the last failure: "mailnode: <x->error>" on stderr, and with
 * --json the API's error body on stdout (or {"error": x->error} when the
 * API gave none). Returns CLI_EXIT_FAIL. */
int cli_api_fail(struct cli_ctx *x);
/* The same with a message of the command's own (a clearer reading of the
 * API's answer). Returns CLI_EXIT_FAIL. */
int cli_api_failf(struct cli_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* After a successful write: with --json print the API's answer, else the
 * line fmt... on stdout. Takes j. Returns CLI_EXIT_OK. */
int cli_api_done(struct cli_ctx *x, json_t *j, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The API's string field, or "" when absent. */
const char *cli_json_str(json_t *obj, const char *key);
/* The API's non-negative integer field, or 0 when absent. */
unsigned long long cli_json_u64(json_t *obj, const char *key);

#endif
