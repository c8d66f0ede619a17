/*
 * search: the SEARCH engine (RFC 3501 §6.4.4 every key; RFC 9051; MODSEQ
 * RFC 7162 §3.1.5, WITHIN RFC 5032, SAVEDATE RFC 8514; the RETURN options
 * and ESEARCH responses of RFC 4731, RFC 5182, RFC 5267; OBJECTID's
 * EMAILID and THREADID of RFC 8474 §6);
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
	SEARCH_NEED_MODSEQ = 1 << 3, /* MODSEQ key: a CONDSTORE enabling command,
	                              * and results carry MODSEQ (RFC 7162 §3.1.5) */
	SEARCH_NEED_NOW = 1 << 4,    /* OLDER/YOUNGER: ctx->now is used */
	SEARCH_NEED_SEQ = 1 << 5,    /* sequence numbers or "*": the answer moves
	                              * with the mailbox, not with the message */
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
/* The same with what the session enabled: */
enum {
	IMAP_SEARCH_UTF8 = 1 << 0, /* UTF8=ACCEPT: a CHARSET is refused with BAD
	                            * (RFC 6855 §3) */
	IMAP_SEARCH_REV2 = 1 << 1, /* IMAP4rev2: NEW, OLD and RECENT are not
	                            * search keys (RFC 9051 §6.4.4, no \Recent) */
};
int imap_search_parse_flags(struct arena *a, const struct imap_arg *args, size_t argc,
                            unsigned flags, struct imap_search **s_r, const char **error_r,
                            const char **code_r);
unsigned imap_search_needs(const struct imap_search *s);

/* One message, as the session sees it. */
struct imap_search_msg {
	uint32_t seq;
	const struct store_msg *rec;
	const struct cmd_str *keywords; /* the mailbox's keyword names: bit i */
	size_t nkeywords;
	int recent;
	const char *bytes; /* SEARCH_NEED_HEADER/BODY: the message */
	size_t len;
	const struct mime_message *tree; /* when available (else parsed on demand) */
};

/* Context of an evaluation: what "*" means, the saved result, the time
 * OLDER and YOUNGER count from. */
struct imap_search_ctx {
	uint32_t max_seq;
	uint32_t max_uid;
	const struct imap_seqset *saved; /* UIDs, or NULL */
	int64_t now;                     /* seconds since the epoch (WITHIN) */
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

/* The mandatory charset argument of SORT and THREAD (RFC 5256 §3): 0 for
 * UTF-8 and US-ASCII; -1 with *error_r, and *code_r set for an unknown
 * charset (answer NO [BADCHARSET ...]) or NULL for a syntax error (BAD). */
int imap_search_charset(const struct imap_arg *arg, const char **error_r, const char **code_r);

/*
 * RETURN options (RFC 4466 §2.6 search-return-opts): ESEARCH (RFC 4731)
 * MIN MAX ALL COUNT, SEARCHRES (RFC 5182) SAVE, CONTEXT=SEARCH/SORT (RFC
 * 5267) CONTEXT, UPDATE, PARTIAL lo:hi.
 */
enum {
	SEARCH_RET_MIN = 1 << 0,
	SEARCH_RET_MAX = 1 << 1,
	SEARCH_RET_ALL = 1 << 2,
	SEARCH_RET_COUNT = 1 << 3,
	SEARCH_RET_SAVE = 1 << 4,
	SEARCH_RET_CONTEXT = 1 << 5,
	SEARCH_RET_UPDATE = 1 << 6,
	SEARCH_RET_PARTIAL = 1 << 7,
};
struct imap_search_ret {
	unsigned opts;       /* SEARCH_RET_*; "RETURN ()" means ALL */
	int esearch;         /* RETURN was given: answer with ESEARCH */
	uint32_t partial_lo; /* PARTIAL: 1-based positions, lo <= hi */
	uint32_t partial_hi;
};
/* A leading "RETURN (...)" of args, if any, into *r (zeroed first).
 * Returns the arguments it took (0 or 2), or -1 with *error_r (BAD):
 * an unknown option, PARTIAL without a valid range, or more than one of
 * PARTIAL and ALL (RFC 5267 §4.4). */
int imap_search_ret_parse(const struct imap_arg *args, size_t argc, struct imap_search_ret *r,
                          const char **error_r);

/* The result of a SEARCH or SORT, for the response and the saved result. */
struct imap_search_result {
	const uint32_t *vals;    /* sequence numbers or UIDs, in result order */
	const uint64_t *modseqs; /* each one's MODSEQ (when with_modseq) */
	size_t n;
	int sorted;      /* SORT: result order is sort order, MIN/MAX the ends */
	int uid;         /* UID SEARCH/SORT */
	int with_modseq; /* the program had a MODSEQ key (RFC 7162 §3.1.5) */
};
/* Append the untagged response without "* " and CRLF: "ESEARCH (TAG
 * "a1") UID MIN 2 COUNT 3 MODSEQ 917" (RFC 4731 §3.1, §3.2; RFC 5267 §3.1,
 * §4.4), or with r->esearch 0 the plain "SEARCH 2 5 (MODSEQ 9)" / "SORT
 * ..." (name says which). Returns 0, or the nbuf error. */
int imap_search_ret_write(const struct imap_search_ret *r, const char *tag, const char *name,
                          const struct imap_search_result *res, struct nbuf *out);
/* Whether RETURN options send any response (SAVE alone sends none,
 * RFC 5182 §2.4). */
int imap_search_ret_responds(const struct imap_search_ret *r);
/* What SAVE keeps (RFC 5182 §2.4): SIZE_MAX for every match, or, when
 * SAVE comes with MIN and/or MAX but neither ALL nor COUNT, the count
 * (0 to 2) of the positions in res->vals written to idx_r. */
size_t imap_search_ret_saved(const struct imap_search_ret *r, const struct imap_search_result *res,
                             size_t idx_r[2]);

#endif
