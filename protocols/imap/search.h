/*
 * search: the SEARCH engine (RFC 3501 §6.4.4 every key; RFC 9051; later
 * CONDSTORE MODSEQ RFC 7162, WITHIN RFC 5032, SAVEDATE RFC 8514). Pure:
 * the session parses the search program once, then evaluates it against
 * messages. Keys on flags, dates, sizes and UIDs need only the message
 * record; header keys need the message header; TEXT and BODY need the
 * decoded body text (node/mime's text walk: transfer encodings undone,
 * charsets converted to UTF-8, matched case-insensitively), which the
 * session provides from the thread pool, never on the loop.
 *
 * Owner: the program lives in the caller's arena (per command) and copies
 * what it keeps of the arguments, which may go after parsing.
 */
#ifndef MAILNODE_IMAP_SEARCH_H
#define MAILNODE_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"
#include "node/mime/mime.h"
#include "node/store/cmd.h"
#include "node/store/schema.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/seqset.h"

#define IMAP_SEARCH_DEPTH_MAX 64   /* nested OR / NOT / lists */
#define IMAP_SEARCH_KEYS_MAX  1024 /* keys in one program */

/* What evaluation needs. */
enum {
	SEARCH_NEED_HEADER = 1 << 0, /* header keys: the message header bytes */
	SEARCH_NEED_BODY = 1 << 1,   /* BODY/TEXT: the whole message */
	SEARCH_NEED_SAVED = 1 << 2,  /* "$" (SEARCHRES): the saved result */
};

struct imap_search;

/* Parse the SEARCH arguments (after the command name, and after UID, and
 * after an ESEARCH "RETURN (...)", which the session handles): an optional
 * CHARSET (UTF-8 and US-ASCII accepted; others: NO [BADCHARSET
 * (UTF-8 US-ASCII)]), then the keys. Returns 0, or -1 with *error_r and
 * *code_r (NULL, or a response code such as "BADCHARSET (UTF-8 US-ASCII)"):
 * answer BAD for syntax, NO with the code for a charset. */
int imap_search_parse(struct arena *a, const struct imap_arg *args, size_t argc,
		      struct imap_search **s_r, const char **error_r, const char **code_r);
unsigned imap_search_needs(const struct imap_search *s);

/* One message, as the session sees it. */
struct imap_search_msg {
	uint32_t seq;
	const struct store_msg *rec;
	const struct cmd_str *keywords;  /* the mailbox's keyword names: bit i */
	size_t nkeywords;
	int recent;
	const char *bytes;               /* SEARCH_NEED_HEADER/BODY: the message */
	size_t len;
	const struct mime_message *tree; /* when available (else parsed on demand) */
};

/* Context of an evaluation: what "*" means, and the saved result. */
struct imap_search_ctx {
	uint32_t max_seq;
	uint32_t max_uid;
	const struct imap_seqset *saved; /* UIDs, or NULL */
};

/* 1 matches, 0 does not, -1 the message could not be read. Thread-safe
 * for a program that is not modified meanwhile (the pool runs it). When
 * m->tree is NULL the engine finds the header itself and parses the
 * bytes only for BODY/TEXT. */
int imap_search_match(const struct imap_search *s, const struct imap_search_ctx *ctx,
		      const struct imap_search_msg *m);

/* Decide from the record alone, without reading the message (m->bytes and
 * m->tree are not looked at): 1 matches, 0 does not, IMAP_SEARCH_UNDECIDED
 * when a header or body key must be read: then imap_search_match() with
 * the bytes. Cheap, for the loop: the session reads and hands to the pool
 * only the messages the flags, dates, sizes and numbers leave open. */
#define IMAP_SEARCH_UNDECIDED 2
int imap_search_match_record(const struct imap_search *s, const struct imap_search_ctx *ctx,
			     const struct imap_search_msg *m);

#endif
