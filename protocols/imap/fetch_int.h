/*
 * fetch_int: what the files of the FETCH engine share (fetch_parse.c,
 * fetch_msg.c, fetch_body.c, fetch_out.c) and nobody else uses. See
 * fetch.h for the public side.
 */
#ifndef MAILNODE_IMAP_FETCH_INT_H
#define MAILNODE_IMAP_FETCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/imap/fetch.h"

#define IMAP_FETCH_ITEMS_MAX  256                /* data items in one FETCH, macros expanded */
#define IMAP_FETCH_FIELDS_MAX 256                /* names in one HEADER.FIELDS list */
#define IMAP_FETCH_FIELD_MAX  256                /* bytes of one header field name */
#define IMAP_FETCH_PARTS_MAX  64                 /* part numbers in one section */
#define IMAP_FETCH_TEXT_MAX   ((size_t)16 << 20) /* text of one response */
#define IMAP_FETCH_QUOTED_MAX 1024               /* longer strings are sent as literals */

enum imap__fetch_kind {
	FETCH_K_UID,
	FETCH_K_FLAGS,
	FETCH_K_INTERNALDATE,
	FETCH_K_SIZE,
	FETCH_K_ENVELOPE,
	FETCH_K_BODY,
	FETCH_K_BODYSTRUCTURE,
	FETCH_K_SECTION, /* BODY[...], BODY.PEEK[...], RFC822, RFC822.HEADER/TEXT */
	FETCH_K_MODSEQ,
	FETCH_K_SAVEDATE,
	FETCH_K_PREVIEW,
	FETCH_K_EMAILID,
	FETCH_K_THREADID,
	FETCH_K_BINARY,      /* BINARY[...], BINARY.PEEK[...] (peek) */
	FETCH_K_BINARY_SIZE, /* BINARY.SIZE[...] */
};

enum imap__fetch_sec {
	FETCH_SEC_ALL,        /* BODY[]: the whole message */
	FETCH_SEC_PART,       /* BODY[1.2] */
	FETCH_SEC_HEADER,     /* [n.]HEADER */
	FETCH_SEC_FIELDS,     /* [n.]HEADER.FIELDS (...) */
	FETCH_SEC_FIELDS_NOT, /* [n.]HEADER.FIELDS.NOT (...) */
	FETCH_SEC_TEXT,       /* [n.]TEXT */
	FETCH_SEC_MIME,       /* n.MIME */
};

struct imap__fetch_item {
	uint8_t kind; /* enum imap__fetch_kind */
	uint8_t sec;  /* enum imap__fetch_sec */
	uint8_t peek; /* BODY.PEEK; PREVIEW: (LAZY) */
	uint8_t partial;
	/* SECTION: the response's name without "<origin>" ("BODY[1.MIME]",
	 * "RFC822.HEADER"), and the section for mime_section_find() */
	const char *name;
	size_t name_len;
	const char *spec;
	size_t spec_len;
	const char *const *fields; /* FIELDS, FIELDS_NOT */
	size_t nfields;
	uint64_t off, size; /* partial */
};

struct imap_fetch_plan {
	struct imap__fetch_item *items;
	size_t nitems, cap;
	unsigned needs;
	unsigned enabled;
	uint8_t uid; /* UID FETCH: UID is always returned */
	uint8_t has_uid, has_flags, has_modseq;
	uint8_t changedsince_set, vanished;
	uint64_t changedsince;
};

/* fetch_out.c: building the segments. Text goes to out->text freely;
 * adding a range (or finishing) turns the text written since the last
 * segment into a text segment. Each returns 0, or -1 (a limit). */
int imap__fetch_text(struct imap_fetch_out *o, const char *s, size_t n);
int imap__fetch_puts(struct imap_fetch_out *o, const char *s);
int imap__fetch_printf(struct imap_fetch_out *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
int imap__fetch_range(struct imap_fetch_out *o, size_t off, size_t len);
/* A range sent decoded (cte): its decoded bytes [skip, skip + dlen). */
int imap__fetch_decoded(struct imap_fetch_out *o, size_t off, size_t len, enum mime_cte cte,
                        uint64_t skip, uint64_t dlen);
/* Resolve text segments to pointers; call once, when the message is done. */
int imap__fetch_finish(struct imap_fetch_out *o);
/* An IMAP string: quoted when it can be (short, no CR, LF or NUL, 7-bit
 * unless utf8), else a literal in the text. */
int imap__fetch_string(struct imap_fetch_out *o, const char *s, size_t n, int utf8);

/* fetch_binary.c: a BINARY, BINARY.PEEK or BINARY.SIZE fetch-att with its
 * section (arg->section) into it (kind, peek, name, spec, partial): 0, or
 * -1 with *error_r. */
int imap__fetch_binary_item(struct arena *a, const struct imap_arg *arg,
                            struct imap__fetch_item *it, const char **error_r);
/* BINARY[...]<origin>, BINARY.SIZE[...] of one message (RFC 3516): 0,
 * -1, or IMAP_FETCH_UNKNOWN_CTE. */
int imap__fetch_binary(const struct imap__fetch_item *it, const struct imap_fetch_msg *msg,
                       const struct mime_message *tree, struct imap_fetch_out *o);

/* fetch_body.c: one SECTION item, "NAME[...]<origin> " and its string. */
int imap__fetch_section(const struct imap__fetch_item *it, const struct imap_fetch_msg *msg,
                        const struct mime_message *tree, struct imap_fetch_out *o);

#endif
