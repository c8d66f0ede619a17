/*
 * sort: the SORT and THREAD engine (RFC 5256; SORT=DISPLAY RFC 5957).
 * Pure: no I/O, no session. The session parses the sort criteria or the
 * threading algorithm once, finds the messages with the SEARCH engine,
 * gets each one's keys from its cached MIME tree (or its header) with
 * imap_sort_keys(), and then sorts (imap_sort_run) or threads
 * (imap_thread_run) them. Everything runs in the thread pool.
 *
 * Strings are compared with the i;ascii-casemap collation (RFC 5256 §2.3,
 * RFC 4790 §9.2): ASCII letters without case, every other byte of the
 * UTF-8 text as it is. The keys hold them ready for that: upper-cased.
 *
 * Owner: keys live in the caller's arena; programs in the caller's memory.
 */
#ifndef MAILNODE_IMAP_SORT_H
#define MAILNODE_IMAP_SORT_H

#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/mime/mime.h"
#include "protocols/imap/parser.h"

#define IMAP_SORT_CRITERIA_MAX 16 /* sort keys in one SORT (REVERSE excluded) */

enum imap_sort_key {
	SORT_K_ARRIVAL,
	SORT_K_CC,
	SORT_K_DATE,
	SORT_K_FROM,
	SORT_K_SIZE,
	SORT_K_SUBJECT,
	SORT_K_TO,
	SORT_K_DISPLAYFROM,
	SORT_K_DISPLAYTO,
};

/* What imap_sort_keys() computes (each costs a parse). */
enum {
	SORT_NEED_DATE = 1 << 0,    /* sent date */
	SORT_NEED_SUBJECT = 1 << 1, /* base subject (and whether it was a reply) */
	SORT_NEED_FROM = 1 << 2,
	SORT_NEED_TO = 1 << 3,
	SORT_NEED_CC = 1 << 4,
	SORT_NEED_DFROM = 1 << 5,
	SORT_NEED_DTO = 1 << 6,
	SORT_NEED_IDS = 1 << 7, /* Message-ID, In-Reply-To, References */
};

struct imap_sort_program {
	uint8_t key[IMAP_SORT_CRITERIA_MAX];
	uint8_t reverse[IMAP_SORT_CRITERIA_MAX];
	unsigned n;
	unsigned needs; /* SORT_NEED_* */
};

/* The sort criteria list of SORT (RFC 5256 §3: "(" sort-criterion *(SP
 * sort-criterion) ")", sort-criterion = ["REVERSE" SP] sort-key; RFC 5957
 * §3 DISPLAYFROM, DISPLAYTO). Returns 0, or -1 with *error_r (answer BAD:
 * not a list, empty, unknown key, REVERSE without a key, too many). */
int imap_sort_parse(const struct imap_arg *arg, struct imap_sort_program *p, const char **error_r);

enum imap_thread_alg {
	THREAD_ORDEREDSUBJECT,
	THREAD_REFERENCES,
};
/* The algorithm argument of THREAD. Returns 0, or -1 with *error_r (BAD). */
int imap_thread_alg_parse(const struct imap_arg *arg, enum imap_thread_alg *alg_r,
                          const char **error_r);
/* SORT_NEED_* of an algorithm. */
unsigned imap_thread_needs(enum imap_thread_alg alg);

/* One message with its keys. Strings are NUL-terminated, never NULL
 * ("" when absent) except the IDs, which are NULL when absent. */
struct imap_sort_msg {
	uint32_t seq;               /* position in the mailbox: the final tie-break */
	uint32_t id;                /* what the response shows: sequence number or UID */
	uint64_t modseq;            /* for the MODSEQ of the response */
	uint64_t size;              /* SIZE */
	int64_t arrival;            /* ARRIVAL: INTERNALDATE */
	int64_t date;               /* DATE: the Date: field in UTC, else INTERNALDATE
	                             * (RFC 5256 §2.2) */
	const char *subject;        /* base subject (RFC 5256 §2.1), upper-cased */
	const char *from, *to, *cc; /* addr-mailbox of the first address, upper-cased */
	const char *dfrom, *dto;    /* RFC 5957 display names, upper-cased */
	const char *msgid;          /* "<...>" (mime_msgid_next) */
	const char *irt;            /* the first valid ID of In-Reply-To */
	const char *refs;           /* normalised References */
	uint8_t reply;              /* the subject had Re:/Fwd: or (fwd) */
};

/* Header field values as the cached tree keeps them (raw, unfolded; p
 * NULL when absent), from mime_tree_summary() or a parsed header. */
struct imap_sort_fields {
	struct mime_tree_str env[MIME_ENV_COUNT];
	struct mime_tree_str refs;
};
/* The same from a parsed message (its root's envelope). */
void imap_sort_fields_from_tree(const struct mime_message *m, struct imap_sort_fields *f);

/* Fill the keys of needs (SORT_NEED_*) in m from f; m->arrival must be
 * set (the date falls back to it). scratch is reset and reused: keep one
 * per thread. Strings go to a. Returns 0, or -1 when a is exhausted. */
int imap_sort_keys(struct arena *a, struct arena *scratch, unsigned needs,
                   const struct imap_sort_fields *f, struct imap_sort_msg *m);
/* Keys with nothing known (no tree, no readable header): "" and the
 * arrival date. */
void imap_sort_keys_empty(struct imap_sort_msg *m);

/* Sort n messages (given in mailbox order) by the program; ties by
 * sequence number (RFC 5256 §3). order_r gets the indexes into msgs. */
void imap_sort_run(const struct imap_sort_program *p, const struct imap_sort_msg *msgs, size_t n,
                   uint32_t *order_r);

/* Thread n messages (given in mailbox order) and append the thread lists
 * of the THREAD response ("(2)(3 6 (4 23)(44 7 96))", RFC 5256 §4) to
 * out, each message shown by its id. Returns 0, the nbuf error, or
 * -ENOMEM. */
int imap_thread_run(enum imap_thread_alg alg, const struct imap_sort_msg *msgs, size_t n,
                    struct nbuf *out);

/* i;ascii-casemap comparison of two keys already upper-cased: strcmp
 * order, the empty string first (RFC 5256 §3). */
int imap__sort_strcmp(const char *a, const char *b);

#endif
