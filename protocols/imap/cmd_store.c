/*
 * cmd_store: STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8): FLAGS,
 * +FLAGS, -FLAGS with .SILENT, system flags and keywords, and the
 * UNCHANGEDSINCE modifier of CONDSTORE (RFC 7162 §3.1.3).
 *
 * Happy path: the message set becomes UID ranges of the session's view,
 * one CMD_MSG_STORE goes through the replicated log (with the view's
 * UIDVALIDITY, so that a recreated mailbox is not touched, and the
 * UNCHANGEDSINCE value: apply() refuses, per message, what changed after
 * it and lists those UIDs), then the reply reports, in this order, other
 * sessions' flag changes (never expunges, §7.4.1), and unless .SILENT the
 * current FLAGS of every message of the set that was not refused as
 * untagged FETCH (with UID for UID STORE, MODSEQ once CONDSTORE is on).
 * With .SILENT a CONDSTORE-aware client still gets "FETCH (MODSEQ (n))"
 * (§3.1.3): for every message that passed the UNCHANGEDSINCE test, or
 * without it for every message whose flags changed. The refused messages
 * are "OK [MODIFIED set]" (sequence numbers, or UIDs for UID STORE).
 * UNCHANGEDSINCE 0 refuses every message (§3.1.3: a system flag always
 * exists) without a log entry.
 *
 * Failure modes: syntax, an unknown or repeated modifier, a MODSEQ above
 * 2^63-1 -> BAD; a read-only (EXAMINEd) mailbox -> NO [READ-ONLY]; the
 * mailbox's 64 keywords in use -> NO [LIMIT]; no quorum -> NO
 * [UNAVAILABLE]. Messages expunged meanwhile are skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "replication/repl.h"

struct store_op {
	uint32_t *seqs;
	uint32_t n;
	bool silent;
	bool unchanged; /* UNCHANGEDSINCE was given */
	/* from the result, sorted: UIDs refused (MODIFIED) and changed */
	uint32_t *refused, *changed;
	uint32_t nrefused, nchanged;
};

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool
u32_in(const uint32_t *v, uint32_t n, uint32_t x)
{
	return n > 0 && bsearch(&x, v, n, sizeof(*v), u32_cmp) != NULL;
}

static void
store_report(struct imap_session *s, struct store_op *op)
{
	struct store_txn *t;
	struct cmd_str names[CMD_KEYWORDS_MAX];
	bool condstore = (s->flags & IMAP_SF_CONDSTORE) != 0;
	if (op->silent && !condstore)
		return;
	if (store_read_begin(imap__store(), &t) != 0)
		return;
	int nk = store_keywords_get(t, s->sel->id, names, CMD_KEYWORDS_MAX);
	if (nk < 0)
		nk = 0;
	if ((uint32_t)nk > s->sel->nkeywords) {
		imap__flags_announce(s, names, (size_t)nk, s->sel->readonly);
		s->sel->nkeywords = (uint32_t)nk;
	}
	unsigned what =
	        (op->silent ? IMAP_FL_MODSEQ : IMAP_FL_FLAGS) | (s->cmd->uid ? IMAP_FL_UID : 0);
	struct nbuf line;
	nbuf_init(&line, 64 * 1024);
	for (uint32_t i = 0; i < op->n; i++) {
		struct store_msg m;
		uint32_t uid = imap__view_uid(s, op->seqs[i]);
		if (u32_in(op->refused, op->nrefused, uid))
			continue;
		if (op->silent && !op->unchanged && !u32_in(op->changed, op->nchanged, uid))
			continue;
		if (store_msg_get(t, s->sel->id, uid, &m) != 1)
			continue;
		imap__view_fetch_line(s, &line, op->seqs[i], &m, names, (size_t)nk, what);
		if (imap__output_full(s))
			conn_flush(s->conn); /* the client reads; bounded by CONN_OUT_MAX */
	}
	nbuf_deinit(&line);
	store_read_end(&t);
}

/* Finish with "OK [MODIFIED set]" when messages were refused. */
static void
store_reply(struct imap_session *s, struct store_op *op)
{
	if (op->nrefused == 0) {
		imap__ok(s, IMAP_CODE_NONE, "STORE completed");
		return;
	}
	uint32_t *v = op->refused, n = op->nrefused;
	if (!s->cmd->uid) {
		v = arena_alloc(imap__arena(s), n * sizeof(*v));
		if (v == NULL) {
			imap__no(s, IMAP_CODE_SERVERBUG, "Out of memory");
			return;
		}
		uint32_t k = 0;
		for (uint32_t i = 0; i < op->nrefused; i++) {
			uint32_t seq = imap__view_seq(s, op->refused[i]);
			if (seq != 0)
				v[k++] = seq;
		}
		n = k;
		qsort(v, n, sizeof(*v), u32_cmp);
	}
	struct nbuf code;
	nbuf_init(&code, 16 * 1024 * 1024);
	nbuf_puts(&code, "MODIFIED ");
	imap_seqset_format_values(v, n, &code);
	nbuf_append(&code, "", 1);
	imap__ok_code(s, (const char *)nbuf_head(&code), "Conditional STORE failed");
	nbuf_deinit(&code);
}

/* Keep a result's UID set, sorted, in the command's arena. */
static uint32_t *
store_keep(struct imap_session *s, const uint32_t *v, uint32_t n)
{
	if (n == 0)
		return NULL;
	uint32_t *copy = arena_alloc(imap__arena(s), n * sizeof(*copy));
	if (copy == NULL)
		return NULL;
	memcpy(copy, v, n * sizeof(*copy));
	qsort(copy, n, sizeof(*copy), u32_cmp);
	return copy;
}

static void
store_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	struct store_op *op = s->op;
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *r = &rs->r[0];
	if (r->status != CMD_OK) {
		enum cmd_status st = r->status;
		cmd_results_free(&rs);
		imap__cmd_status_no(s, st, "STORE");
		return;
	}
	uint64_t mine = r->nset1 > 0 ? r->modseq : 0;
	op->refused = store_keep(s, r->set2, r->nset2);
	op->changed = store_keep(s, r->set1, r->nset1);
	op->nrefused = op->refused ? r->nset2 : 0;
	op->nchanged = op->changed ? r->nset1 : 0;
	cmd_results_free(&rs);
	imap__view_sync(s, s->cmd->uid ? IMAP_SYNC_UID : 0, mine);
	if (!conn_closing(s->conn))
		store_report(s, op);
	store_reply(s, op);
}

/* "(UNCHANGEDSINCE n)" (RFC 4466 §2.5 store-modifiers). Returns 0 or -1. */
static int
store_modifiers(const struct imap_arg *arg, uint64_t *since_r, const char **error_r)
{
	const struct imap_arg *l;
	size_t n;
	bool have = false;
	if (!imap_arg_get_list(arg, &l, &n) || n == 0) {
		*error_r = "Invalid STORE modifiers";
		return -1;
	}
	for (size_t i = 0; i < n; i += 2) {
		if (!imap_arg_atom_equals(&l[i], "UNCHANGEDSINCE")) {
			*error_r = "Unknown STORE modifier";
			return -1;
		}
		/* mod-sequence-valzer: 0 .. 2^63-1, once (RFC 7162 §7) */
		if (have || i + 1 == n || !imap_arg_get_number(&l[i + 1], INT64_MAX, since_r)) {
			*error_r = "Invalid UNCHANGEDSINCE";
			return -1;
		}
		have = true;
	}
	return 0;
}

void
imap__cmd_store(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *item, *err;
	uint8_t mode;
	bool silent = false, unchanged = false;
	uint64_t since = 0;
	size_t ai = 1; /* the data item */
	if (cmd->argc > 1 && cmd->args[1].type == IMAP_ARG_LIST) {
		if (store_modifiers(&cmd->args[1], &since, &err) != 0) {
			imap__bad(s, "%s", err);
			return;
		}
		unchanged = true;
		ai = 2;
	}
	if (cmd->argc < ai + 2 || !imap_arg_get_atom(&cmd->args[ai], &item)) {
		imap__bad(s, "STORE takes a message set, an item and flags");
		return;
	}
	const char *p = item;
	mode = *p == '+' ? STORE_ADD : *p == '-' ? STORE_REMOVE : STORE_REPLACE;
	if (*p == '+' || *p == '-')
		p++;
	if (ascii_strcasecmp(p, "FLAGS.SILENT") == 0)
		silent = true;
	else if (ascii_strcasecmp(p, "FLAGS") != 0) {
		imap__bad(s, "Unknown STORE item");
		return;
	}
	/* Flags: one list, or flags as separate atoms. */
	uint32_t flags = 0, nnames = 0;
	const char **names;
	if (imap__flags_parse(s, &cmd->args[ai + 1], &flags, &names, &nnames, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	for (size_t i = ai + 2; i < cmd->argc; i++) {
		const char **more;
		uint32_t f, nm;
		if (cmd->args[ai + 1].type == IMAP_ARG_LIST || cmd->args[i].type == IMAP_ARG_LIST ||
		    imap__flags_parse(s, &cmd->args[i], &f, &more, &nm, &err) != 0) {
			imap__bad(s, "Invalid flag");
			return;
		}
		flags |= f;
		for (uint32_t k = 0; k < nm && nnames < CMD_KEYWORDS_MAX; k++)
			names[nnames++] = more[k];
	}
	if (s->sel->readonly) {
		imap__no(s, IMAP_CODE_READONLY, "Mailbox is read-only");
		return;
	}
	struct store_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	if (op == NULL) {
		imap__no(s, IMAP_CODE_LIMIT, "Out of memory");
		return;
	}
	if (imap__view_select(s, &cmd->args[0], cmd->uid, &op->seqs, &op->n, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	op->silent = silent;
	op->unchanged = unchanged;
	s->op = op;
	if (unchanged)
		imap__condstore_enable(s); /* RFC 7162 §3.1 */
	if (op->n == 0) {
		imap__ok(s, IMAP_CODE_NONE, "STORE completed (no messages)");
		return;
	}
	if (unchanged && since == 0) {
		/* Every message has a MODSEQ above 0: all of them fail. */
		op->refused = arena_alloc(imap__arena(s), op->n * sizeof(*op->refused));
		if (op->refused == NULL) {
			imap__no(s, IMAP_CODE_LIMIT, "Out of memory");
			return;
		}
		for (uint32_t i = 0; i < op->n; i++)
			op->refused[i] = imap__view_uid(s, op->seqs[i]);
		op->nrefused = op->n;
		store_reply(s, op);
		return;
	}
	struct uid_range *ranges;
	uint32_t nr = imap__view_ranges(s, op->seqs, op->n, &ranges);
	if (nr == 0 || nr > CMD_RANGES_MAX) {
		imap__no(s, IMAP_CODE_LIMIT, "Message set too large");
		return;
	}
	struct cmd c = {.type = CMD_MSG_STORE,
	                .user_id = s->user_id,
	                .mailbox_id = s->sel->id,
	                .uidvalidity = s->sel->uidvalidity,
	                .ranges = {.n = nr, .v = ranges},
	                .mode = mode,
	                .flags = flags,
	                .keywords = {.n = nnames, .v = names},
	                .modseq = unchanged ? since : 0};
	if (imap__submit_one(s, &c, store_done) != 0)
		imap__no(s, IMAP_CODE_LIMIT, "Request too large");
}
