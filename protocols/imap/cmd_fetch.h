/*
 * cmd_fetch: what the two files of the FETCH command share: cmd_fetch.c
 * (the command, the run over the set, \Seen) and cmd_fetch_msg.c (one
 * message: gathering it from the store and sending its segments). Not for
 * other files.
 */
#ifndef MAILNODE_IMAP_CMD_FETCH_H
#define MAILNODE_IMAP_CMD_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"
#include "node/store/cmd.h"
#include "node/store/schema.h"
#include "protocols/imap/fetch.h"

struct imap_session;
struct store_txn;

/* Per-message memory of the engine's output (the text of one response:
 * a BODYSTRUCTURE of many parts, header fields...). */
#define FETCH_MSG_ARENA_MAX (16u * 1024 * 1024)
/* Smallest chunk of a file range worth a write. */
#define FETCH_CHUNK_MIN (16u * 1024)

struct fetch_op {
	struct imap_fetch_plan *plan;
	unsigned needs;
	uint32_t *seqs, n, i;
	uint32_t *seen; /* UIDs this FETCH set \Seen on, sorted */
	uint32_t nseen;
	uint64_t seen_modseq;
	/* the message being written */
	struct arena marena;
	struct imap_fetch_out out;
	bool have_msg, out_ready;
	size_t seg, segoff;
	/* a decoded segment (BINARY) being sent, and its scratch buffer */
	struct imap_fetch_decoder dec;
	bool dec_on;
	unsigned char *scratch;
	struct store_msg rec;
	char *map;
	size_t maplen;
	struct mime_message *tree;
	/* the mailbox's keyword names, copied out of the transaction */
	struct cmd_str kw[CMD_KEYWORDS_MAX];
	size_t nkw;
	bool kw_loaded;
	uint32_t expunged, missing, unknown_cte;
};

/* The current message is sent or given up: unmap, free its output. */
void imap__fetch_msg_done(struct fetch_op *op);
/* Gather one message and describe its response. Returns 1 ready, 0
 * skipped (expunged, unreadable, an unknown encoding: counted in op), -1
 * store error. */
int imap__fetch_prepare(struct imap_session *s, struct fetch_op *op, struct store_txn *t,
                        uint32_t seq);
/* Write the current message's segments. Returns 1 when all are queued (or
 * the session is closing), 0 when the output is full (wait for on_drain). */
int imap__fetch_write(struct imap_session *s, struct fetch_op *op, uint64_t *bytes);

#endif
