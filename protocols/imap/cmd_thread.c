/*
 * cmd_thread: THREAD and UID THREAD (RFC 5256 §3, §4) with the
 * ORDEREDSUBJECT and REFERENCES algorithms.
 *
 * Happy path: "THREAD REFERENCES UTF-8 SINCE 1-Feb-2026" is parsed into
 * an algorithm and a SEARCH program and handed to the runner
 * (cmd_search.c), which finds the messages, takes their keys (sent date,
 * base subject, Message-ID, In-Reply-To, References) from the cached MIME
 * trees in the thread pool, threads them (thread_refs.c, thread_out.c)
 * and answers "* THREAD (2)(3 6 (4 23)(44 7 96))".
 *
 * Failure modes: BAD for an unknown algorithm and bad search keys; NO
 * [BADCHARSET (UTF-8 US-ASCII)] for another charset (mandatory, RFC 5256
 * §3). THREAD has no RETURN options (RFC 5267 extends SORT only).
 */
#include "protocols/imap/search_run.h"

void
imap__cmd_thread(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap__search_req req = {.kind = IMAP_SEARCH_K_THREAD};
	const char *err = NULL;
	if (cmd->argc == 0 || cmd->args[0].type == IMAP_ARG_EOL) {
		imap__bad(s, "Missing threading algorithm");
		return;
	}
	if (imap_thread_alg_parse(&cmd->args[0], &req.alg, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	if (imap__search_program(s, cmd->args + 1, cmd->argc - 1, true, NULL, &req.prog) != 0)
		return;
	imap__search_run(s, &req);
}
