/*
 * fetch: the FETCH engine (RFC 3501 §6.4.5, §7.4.2; RFC 9051; BINARY RFC
 * 3516, CONDSTORE RFC 7162, PREVIEW RFC 8970, OBJECTID RFC 8474).
 * Pure: it does no I/O and knows nothing of sessions. The session parses a
 * FETCH's items into a plan once, then asks the engine, message by
 * message, for the response; the engine describes it as segments — text it
 * produced, and ranges of the message file to be sent as they are — so
 * that the session can stream a 30 MB BODY[] with back-pressure instead of
 * building it in memory.
 *
 * Owner: plans and outputs live in the caller's arena (per command); a
 * plan copies what it keeps of the arguments, which may go after parsing.
 */
#ifndef MAILNODE_IMAP_FETCH_H
#define MAILNODE_IMAP_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/mime/mime.h"
#include "node/store/cmd.h"
#include "node/store/schema.h"
#include "protocols/imap/parser.h"

/* Extensions the session has ENABLEd or that change output. */
enum {
	IMAP_FETCH_CONDSTORE = 1 << 0, /* MODSEQ in every FETCH that changes flags */
	IMAP_FETCH_UTF8 = 1 << 1,      /* UTF8=ACCEPT: 8-bit header strings as quoted */
	IMAP_FETCH_REV2 = 1 << 2,      /* IMAP4rev2 output rules */
	IMAP_FETCH_QRESYNC = 1 << 3,   /* QRESYNC enabled: the VANISHED modifier is allowed */
};

/* What the plan needs from the store for each message. */
enum {
	FETCH_NEED_TREE = 1 << 0,         /* the cached MIME tree (ENVELOPE, BODY...) */
	FETCH_NEED_FILE = 1 << 1,         /* the message bytes (sections, RFC822...) */
	FETCH_SETS_SEEN = 1 << 2,         /* a non-PEEK body section: \Seen is set */
	FETCH_NEED_FLAGS = 1 << 3,        /* FLAGS (or an implicit one after \Seen) */
	FETCH_ENABLES_CONDSTORE = 1 << 4, /* MODSEQ or CHANGEDSINCE: a CONDSTORE
	                                   * enabling command (RFC 7162 §3.1) */
};
/* FETCH_NEED_TREE: when no tree is cached, pass the bytes instead (tree
 * NULL, bytes set): the engine parses them for that message. */

struct imap_fetch_plan;

/* Parse the FETCH arguments after the sequence set: ALL, FAST, FULL, one
 * item or a parenthesised list, then optional modifiers: CHANGEDSINCE
 * (RFC 7162 §3.1.4.1) and, for UID FETCH with QRESYNC enabled, VANISHED
 * (§3.2.6). uid: UID FETCH (UID is then always returned).
 * Returns 0, or -1 with *error_r (answer BAD). */
int imap_fetch_parse(struct arena *a, const struct imap_arg *args, int uid, unsigned enabled,
                     struct imap_fetch_plan **plan_r, const char **error_r);
unsigned imap_fetch_needs(const struct imap_fetch_plan *plan);
/* The EMAILID of a message (RFC 8474 §5.1): "E" and the first 96 bits of
 * its body's SHA-256 in hex, so that COPY and MOVE keep it; NUL-terminated
 * in out. SEARCH EMAILID (§6) compares with this. */
#define IMAP_EMAILID_LEN 25
void imap_fetch_emailid(const uint8_t hash[CMD_HASH_LEN], char out[IMAP_EMAILID_LEN + 1]);
/* The THREADID of a message (RFC 8474 §5.2): "T" and the 64-bit thread id
 * the store gave it (node/store/store_thread.c) in hex, NUL-terminated in
 * out. Returns 0, or -1 when the message has none (a record written
 * before thread ids: THREADID NIL). SEARCH THREADID (§6) compares with
 * this. */
#define IMAP_THREADID_LEN 17
int imap_fetch_threadid(uint64_t thread_id, char out[IMAP_THREADID_LEN + 1]);
/* The CHANGEDSINCE modifier: 1 with its MODSEQ in *modseq_r and whether
 * VANISHED came with it, 0 when there is none. */
int imap_fetch_changedsince(const struct imap_fetch_plan *plan, uint64_t *modseq_r,
                            int *vanished_r);

/* One message, as the session sees it. */
struct imap_fetch_msg {
	uint32_t seq;
	const struct store_msg *rec;    /* uid, flags, keywords, dates, size, hash */
	const struct cmd_str *keywords; /* the mailbox's keyword names: bit i */
	size_t nkeywords;
	int recent;                      /* \Recent in this session (not shown
	                                  * with IMAP_FETCH_REV2) */
	int set_seen;                    /* the session sets \Seen with this fetch
	                                  * (FETCH_SETS_SEEN, read-write mailbox,
	                                  * \Seen was not set): FLAGS shows \Seen
	                                  * and is added when not asked for; with
	                                  * CONDSTORE, MODSEQ shows rec->modseq, so
	                                  * pass the record as updated if known */
	const struct mime_message *tree; /* when FETCH_NEED_TREE; NULL: none cached */
	const char *bytes;               /* when FETCH_NEED_FILE: the message, mapped */
	size_t len;
};

/* The response as segments: text, a range of the message bytes, or
 * (BINARY, RFC 3516) a range whose Content-Transfer-Encoding is undone as
 * it is sent: decoded bytes [skip, skip + dlen) of the encoded range. */
struct imap_fetch_seg {
	const char *text;  /* NULL: a range of msg->bytes */
	size_t off, len;   /* text: len bytes at text; range: offset into bytes */
	enum mime_cte cte; /* range: MIME_CTE_IDENTITY as is, else decoded */
	uint64_t skip, dlen;
};

/* Sending a decoded segment: a decoder over its range, the window cut. */
struct imap_fetch_decoder {
	struct mime_decoder d;
	uint64_t skip, left;
};
/* Start on segment g (g->cte != MIME_CTE_IDENTITY) of the message bytes. */
void imap_fetch_decoder_init(struct imap_fetch_decoder *dd, const struct imap_fetch_seg *g,
                             const char *bytes);
/* The next decoded bytes of the segment into out[0..cap) (cap >= 4):
 * the count, 0 once the segment is done. */
size_t imap_fetch_decoder_next(struct imap_fetch_decoder *dd, unsigned char *out, size_t cap);

struct imap_fetch_out {
	struct imap_fetch_seg *segs;
	size_t nsegs, cap;
	struct nbuf text; /* backing store for text segments */
	struct arena *a;
};

void imap_fetch_out_init(struct imap_fetch_out *o, struct arena *a);
void imap_fetch_out_reset(struct imap_fetch_out *o);
void imap_fetch_out_deinit(struct imap_fetch_out *o);

/* Describe "* <seq> FETCH (...)\r\n" for one message. out is reset
 * first: send (or copy) the previous message's segments before. Text
 * segments point into out->text, ranges into msg->bytes; body sections are
 * literals "{n}\r\n" followed by ranges. Returns 0, or -1 when the
 * message cannot be answered (its bytes or tree are needed but missing,
 * or the cached tree does not fit the bytes): then nothing is to be sent.
 * With CHANGEDSINCE, a message whose modseq is not above it gives 0 and
 * no segments (send nothing). IMAP_FETCH_UNKNOWN_CTE: a BINARY item names
 * a part whose Content-Transfer-Encoding is unknown (answer NO
 * [UNKNOWN-CTE], RFC 3516 §4.3); nothing is to be sent either. */
#define IMAP_FETCH_UNKNOWN_CTE (-2)
int imap_fetch_msg(const struct imap_fetch_plan *plan, const struct imap_fetch_msg *msg,
                   struct imap_fetch_out *out);

#endif
