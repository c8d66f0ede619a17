/*
 * search_int: what the files of the SEARCH engine share (search_parse.c,
 * search_eval.c, search_text.c, search_fold.c) and nobody else uses.
 * See search.h for the public side.
 */
#ifndef MAILNODE_IMAP_SEARCH_INT_H
#define MAILNODE_IMAP_SEARCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/imap/search.h"

/* Longest string argument (HEADER field names included), in bytes. */
#define IMAP_SEARCH_STRING_MAX 4096
/* Folding turns one code point into one, at most 1.5 times its bytes
 * (U+023A, 2 bytes, folds to U+2C65, 3 bytes). */
#define IMAP__FOLD_ROOM(n) ((n) / 2 * 3 + 4)
/* Text is folded in slices of this many bytes into the scratch buffer. */
#define IMAP__FOLD_SLICE 8192
/* The scratch buffer of one evaluation: a needle's overlap and a slice. */
#define IMAP__SEARCH_SCRATCH                                                                       \
	(IMAP__FOLD_ROOM(IMAP_SEARCH_STRING_MAX) + IMAP__FOLD_ROOM(IMAP__FOLD_SLICE))

enum imap__search_op {
	SEARCH_OP_AND,      /* children: all of them (a list, the top level) */
	SEARCH_OP_OR,       /* two children */
	SEARCH_OP_NOT,      /* one child */
	SEARCH_OP_ALL,      /* ALL, and strings that match everything */
	SEARCH_OP_FLAGS,    /* flags_on, flags_off, recent */
	SEARCH_OP_KEYWORD,  /* KEYWORD / UNKEYWORD: str, want */
	SEARCH_OP_SEQ,      /* sequence set (set), or "$" (saved) */
	SEARCH_OP_UID,      /* UID set, or "UID $" */
	SEARCH_OP_SIZE,     /* LARGER (cmp 1) / SMALLER (cmp -1) than num */
	SEARCH_OP_DATE,     /* BEFORE/ON/SINCE (cmp -1/0/1) on day */
	SEARCH_OP_SENT,     /* SENTBEFORE/SENTON/SENTSINCE */
	SEARCH_OP_HEADER,   /* field str contains folded needle ("": has it) */
	SEARCH_OP_BODY,     /* decoded body text contains needle */
	SEARCH_OP_TEXT,     /* decoded header or body text contains needle */
	SEARCH_OP_WITHIN,   /* OLDER (cmp -1) / YOUNGER (cmp 1) than num seconds */
	SEARCH_OP_MODSEQ,   /* MODSEQ >= num */
	SEARCH_OP_SAVED,    /* SAVEDBEFORE/SAVEDON/SAVEDSINCE (cmp -1/0/1) on day */
	SEARCH_OP_EMAILID,  /* EMAILID: the message's objectid is str (RFC 8474 §6) */
	SEARCH_OP_THREADID, /* THREADID: the message's thread objectid is str */
};

/* Evaluation cost classes: what a key needs from the message. */
enum imap__search_cost {
	SEARCH_COST_RECORD = 0,
	SEARCH_COST_HEADER = 1,
	SEARCH_COST_BODY = 2,
};

struct imap__search_node {
	uint8_t op;    /* enum imap__search_op */
	uint8_t cost;  /* enum imap__search_cost: the dearest key below */
	uint8_t entry; /* the cheapest key below */
	int8_t cmp;
	int8_t recent; /* FLAGS: -1 any, 0 not recent, 1 recent */
	uint8_t want;  /* KEYWORD: 1 set, 0 unset */
	uint8_t saved; /* SEQ, UID: "$" */
	uint32_t flags_on, flags_off;
	uint64_t num;       /* SIZE, WITHIN, MODSEQ */
	int64_t day;        /* DATE, SENT: days since 1970-01-01 */
	const char *str;    /* KEYWORD flag, HEADER field name (NUL-terminated) */
	const char *needle; /* folded, HEADER/BODY/TEXT */
	size_t nlen;
	struct imap_seqset set;
	struct imap__search_node *child; /* AND, OR, NOT */
	struct imap__search_node *next;  /* the next sibling */
};

struct imap_search {
	struct imap__search_node *root; /* an AND */
	unsigned needs;
	size_t nkeys;
};

/* search_fold.c */
/* Fold len bytes of UTF-8 at in into out, which has IMAP__FOLD_ROOM(len)
 * bytes. Returns the folded length. */
size_t imap__search_fold(const char *in, size_t len, char *out);

/* A substring search over text fed in pieces. buf (cap >= nlen +
 * IMAP__FOLD_ROOM(IMAP__FOLD_SLICE)) holds the overlap and a folded slice. */
struct imap__matcher {
	const char *needle; /* folded */
	size_t nlen;
	char *buf;
	size_t cap;
	size_t have;      /* folded bytes kept from earlier pieces */
	const void *part; /* the MIME part the overlap belongs to */
};
void imap__matcher_init(struct imap__matcher *m, const char *needle, size_t nlen, char *buf,
                        size_t cap);
/* Forget the overlap: the next text does not continue the last. */
void imap__matcher_reset(struct imap__matcher *m);
/* Feed text; 1 when the needle has been seen, else 0. */
int imap__matcher_feed(struct imap__matcher *m, const char *text, size_t len);

/* search_text.c: what evaluation reads from the message. */
struct imap__search_run {
	const struct imap_search_msg *m;
	struct mime_message *owned; /* parsed here when m->tree is NULL */
	const struct mime_message *tree;
	struct mime_range header;
	int have_header;
	char *scratch; /* IMAP__SEARCH_SCRATCH bytes, allocated on first use */
};
void imap__search_run_init(struct imap__search_run *r, const struct imap_search_msg *m);
void imap__search_run_deinit(struct imap__search_run *r);
/* 1 match, 0 not, -1 the message could not be read. */
int imap__search_header(struct imap__search_run *r, const struct imap__search_node *n);
int imap__search_sent(struct imap__search_run *r, const struct imap__search_node *n);
int imap__search_text(struct imap__search_run *r, const struct imap__search_node *n);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
int64_t imap__search_days(int64_t y, unsigned m, unsigned d);
/* floor(t / 86400) */
int64_t imap__search_day_of(int64_t t);

#endif
