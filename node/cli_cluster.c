/*
 * cli_cluster: `mailnode status`, `remove ID`, `leave`,
 * `transfer-leadership [ID]`: the cluster as the operator sees it.
 *
 * status: GET /v1/status (the leader's view of membership and progress,
 * each member's view of itself) as a table: id, address, role, voter or
 * standby, state, last contact, match index, applied index, lag.
 *
 * remove/leave: DELETE /v1/members/ID, ID this node's own for leave.
 * Refused here before anything is sent: removing the last voter (that
 * would leave no cluster). Removing the leader hands leadership to
 * another voter first, so that the removal is decided by a leader that
 * stays; after a hand-over the request is retried for a few seconds while
 * this node learns who leads now (503).
 *
 * Failure modes: the API's refusal (no such member, a membership change
 * in progress, no leader), one line, exit 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/cli_api.h"
#include "node/cli_output.h"
#include "node/lib/util.h"

#define MEMBER_RETRY_MS  10000
#define MEMBER_RETRY_GAP 200

static void
sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The member whose id is id in a status answer, or NULL. */
static json_t *
status_member(json_t *st, unsigned long long id)
{
	json_t *m;
	size_t i;
	json_array_foreach(json_object_get(st, "members"), i,
	                   m) if (cli_json_u64(m, "id") == id) return m;
	return NULL;
}

static void
status_row(struct cli_table *t, json_t *m)
{
	char id[32], contact[32], match[32], applied[32], lag[32], state[64];
	const char *own = cli_json_str(m, "state");
	int leader = json_is_true(json_object_get(m, "leader"));
	int unreachable = strcmp(own, "unreachable") == 0;
	snprintf(id, sizeof(id), "%llu", cli_json_u64(m, "id"));
	json_t *lc = json_object_get(m, "last_contact_ms");
	if (leader || !json_is_integer(lc))
		snprintf(contact, sizeof(contact), "-");
	else
		cli_duration_format((long long)json_integer_value(lc), contact, sizeof(contact));
	snprintf(match, sizeof(match), "-");
	if (json_object_get(m, "match_index"))
		snprintf(match, sizeof(match), "%llu", cli_json_u64(m, "match_index"));
	snprintf(applied, sizeof(applied), "-");
	if (json_object_get(m, "applied_index"))
		snprintf(applied, sizeof(applied), "%llu", cli_json_u64(m, "applied_index"));
	snprintf(lag, sizeof(lag), "-");
	if (json_object_get(m, "lag"))
		snprintf(lag, sizeof(lag), "%llu", cli_json_u64(m, "lag"));
	if (unreachable)
		snprintf(state, sizeof(state), "unreachable");
	else if (cli_json_u64(m, "bodies_missing") > 0)
		snprintf(state, sizeof(state), "fetching %llu bodies",
		         cli_json_u64(m, "bodies_missing"));
	else if (strcmp(own, "unavailable") == 0)
		snprintf(state, sizeof(state), "unavailable");
	else
		snprintf(state, sizeof(state), "ok");
	const char *role = leader ? "leader" : unreachable ? "-" : own;
	const char *row[] = {id,    cli_json_str(m, "address"),
	                     role,  cli_json_str(m, "role"),
	                     state, contact,
	                     match, applied,
	                     lag};
	cli_table_add(t, row);
}

static void
status_print(json_t *st)
{
	unsigned long long leader = cli_json_u64(st, "leader");
	json_t *lm = status_member(st, leader);
	if (leader == 0)
		printf("term %llu, no leader known: the cluster cannot accept writes now\n",
		       cli_json_u64(st, "term"));
	else
		printf("term %llu, leader node %llu (%s), commit index %llu\n",
		       cli_json_u64(st, "term"), leader, lm ? cli_json_str(lm, "address") : "?",
		       cli_json_u64(st, "commit_index"));
	printf("as seen from node %llu\n\n", cli_json_u64(st, "node"));
	struct cli_table t;
	static const char *const head[] = {"ID",           "ADDRESS", "ROLE",    "VOTER", "STATE",
	                                   "LAST CONTACT", "MATCH",   "APPLIED", "LAG"};
	cli_table_init(&t, ARRAY_SIZE(head));
	cli_table_add(&t, head);
	json_t *m;
	size_t i;
	json_array_foreach(json_object_get(st, "members"), i, m) status_row(&t, m);
	cli_table_print(&t);
	cli_table_deinit(&t);
}

int
cmd_status(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	json_t *st = NULL;
	int pos, rc = cli_begin(&x, "status", argc, argv, g, 0, 0, &pos);
	if (rc != 0)
		return rc;
	if (cli_api_call(&x, "GET", "/v1/status", NULL, &st) != 0)
		rc = cli_api_fail(&x);
	else if (g->json)
		cli_json_print(st);
	else
		status_print(st);
	json_decref(st);
	cli_ctx_deinit(&x);
	return rc;
}

static int
parse_id(const char *name, const char *s, unsigned long long *id_r)
{
	uint64_t v;
	if (parse_u64(s, UINT64_MAX, &v) != 0 || v == 0)
		return cli_usage_error(name, "a node id is a positive integer, not '%s'", s);
	*id_r = v;
	return 0;
}

/* POST /v1/leadership {id}. Returns 0, or -1 with x->error. */
static int
leadership_transfer(struct cli_ctx *x, unsigned long long id, json_t **ans_r)
{
	json_t *req = json_pack("{s:I}", "id", (json_int_t)id);
	int rc = cli_api_call(x, "POST", "/v1/leadership", req, ans_r);
	json_decref(req);
	return rc;
}

/* Remove member id after the checks above. Returns an exit code. */
static int
member_remove(struct cli_ctx *x, unsigned long long id, const char *done)
{
	json_t *st = NULL, *m, *ans = NULL;
	size_t i, voters = 0;
	int rc;
	if (cli_api_call(x, "GET", "/v1/status", NULL, &st) != 0)
		return cli_api_fail(x);
	json_array_foreach(json_object_get(st, "members"), i, m) voters +=
	        strcmp(cli_json_str(m, "role"), "voter") == 0;
	m = status_member(st, id);
	int is_member = m != NULL;
	int is_voter = m && strcmp(cli_json_str(m, "role"), "voter") == 0;
	int is_leader = cli_json_u64(st, "leader") == id;
	json_decref(st);
	if (!is_member)
		return cli_api_failf(x, "node %llu is not a member of the cluster", id);
	if (is_voter && voters <= 1)
		return cli_api_failf(x,
		                     "node %llu is the cluster's only voter; removing it would "
		                     "leave no cluster",
		                     id);
	if (is_leader && leadership_transfer(x, 0, NULL) != 0)
		return cli_api_failf(x,
		                     "node %llu leads the cluster and could not hand leadership "
		                     "over: %s",
		                     id, x->error);
	char path[64];
	snprintf(path, sizeof(path), "/v1/members/%llu", id);
	for (int waited = 0;; waited += MEMBER_RETRY_GAP) {
		rc = cli_api_call(x, "DELETE", path, NULL, &ans);
		if (rc == 0 || x->status != 503 || !is_leader || waited >= MEMBER_RETRY_MS)
			break;
		sleep_ms(MEMBER_RETRY_GAP);
	}
	if (rc != 0)
		return x->status == 404 ? cli_api_failf(x, "node %llu is not a member", id)
		                        : cli_api_fail(x);
	return cli_api_done(x, ans, done, id);
}

int
cmd_remove(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	unsigned long long id = 0;
	int pos, rc = cli_args_parse("remove", argc, argv, NULL, NULL, NULL, 1, 1, &pos);
	if (rc != 0 || (rc = parse_id("remove", argv[pos], &id)) != 0)
		return rc;
	if (cli_ctx_init(&x, g, "remove") != 0)
		return CLI_EXIT_FAIL;
	rc = member_remove(&x, id, "removed node %llu from the cluster");
	cli_ctx_deinit(&x);
	return rc;
}

int
cmd_leave(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	int pos, rc = cli_begin(&x, "leave", argc, argv, g, 0, 0, &pos);
	if (rc != 0)
		return rc;
	rc = member_remove(&x, (unsigned long long)x.cfg->node_id,
	                   "node %llu left the cluster; stop it now: it no longer takes part");
	cli_ctx_deinit(&x);
	return rc;
}

/* Is there a voter to hand leadership to (id, or any when 0)? Returns 0,
 * or -1 with x->error. */
static int
transfer_check(struct cli_ctx *x, unsigned long long id)
{
	json_t *st, *m;
	size_t i, others = 0;
	if (cli_api_call(x, "GET", "/v1/status", NULL, &st) != 0)
		return -1;
	unsigned long long leader = cli_json_u64(st, "leader");
	int target_votes = 0, target_known = 0;
	json_array_foreach(json_object_get(st, "members"), i, m)
	{
		int voter = strcmp(cli_json_str(m, "role"), "voter") == 0;
		others += voter && cli_json_u64(m, "id") != leader;
		if (cli_json_u64(m, "id") == id) {
			target_known = 1;
			target_votes = voter;
		}
	}
	json_decref(st);
	if (id != 0 && !target_known)
		snprintf(x->error, sizeof(x->error), "node %llu is not a member of the cluster",
		         id);
	else if (id != 0 && !target_votes)
		snprintf(x->error, sizeof(x->error),
		         "node %llu is not a voter; only a voter can lead", id);
	else if (id == 0 && others == 0)
		snprintf(x->error, sizeof(x->error),
		         "there is no other voter to hand leadership to");
	else
		return 0;
	return -1;
}

int
cmd_transfer_leadership(int argc, char **argv, const struct cli_global *g)
{
	struct cli_ctx x;
	unsigned long long id = 0;
	json_t *ans = NULL, *st = NULL;
	int pos, rc = cli_args_parse("transfer-leadership", argc, argv, NULL, NULL, NULL, 0, 1,
	                             &pos);
	if (rc != 0 || (pos < argc && (rc = parse_id("transfer-leadership", argv[pos], &id)) != 0))
		return rc;
	if (cli_ctx_init(&x, g, "transfer-leadership") != 0)
		return CLI_EXIT_FAIL;
	if (transfer_check(&x, id) != 0) {
		rc = cli_api_fail(&x);
	} else if (leadership_transfer(&x, id, &ans) != 0) {
		rc = cli_api_fail(&x);
	} else if (g->json) {
		rc = cli_api_done(&x, ans, "%s", "");
	} else {
		/* Name the new leader when this node already knows it. */
		unsigned long long leader = 0;
		if (cli_api_call(&x, "GET", "/v1/status", NULL, &st) == 0)
			leader = cli_json_u64(st, "leader");
		if (leader != 0)
			rc = cli_api_done(&x, ans, "%s; node %llu leads",
			                  cli_json_str(ans, "message"), leader);
		else
			rc = cli_api_done(&x, ans, "%s", cli_json_str(ans, "message"));
	}
	json_decref(st);
	cli_ctx_deinit(&x);
	return rc;
}
