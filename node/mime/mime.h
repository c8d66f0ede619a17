/*
 * mime: the message parser behind IMAP ENVELOPE, BODYSTRUCTURE, BODY[section],
 * SEARCH, SORT and PREVIEW.
 *
 * A message is one buffer (the caller mmaps the file). mime_parse() walks it
 * once, line by line, and builds a tree of parts that records byte ranges into
 * that buffer and the few header values IMAP needs; bodies are never copied.
 * It never fails on bad mail: broken MIME is described as best it can be, and
 * the limits below bound nesting, part count and header work.
 *
 * RFCs: 5322 (header fields, addresses, dates), 2045-2047 and 2231 (MIME
 * structure, parameters, encoded words), 2046 §5.1 (multipart), 3501 §6.4.5
 * and §7.4.2 / 9051 §6.4.5 and §7.5.2 (sections, ENVELOPE, BODYSTRUCTURE),
 * 5256 §2.1 (base subject), 5957 (DISPLAYFROM), 8970 (PREVIEW).
 *
 * Ownership: mime_parse() and mime_tree_decode() return a tree the caller
 * frees with mime_message_free(); every string and part in it lives in the
 * tree's arena. The tree never points into the message buffer: functions that
 * need bytes take the buffer again, and check it is as long as the tree says.
 */
#ifndef MAILNODE_MIME_H
#define MAILNODE_MIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"

/* Hard caps that no limits struct can raise; mime_tree_decode() enforces
 * them on untrusted trees. */
#define MIME_DEPTH_HARD_MAX 128
#define MIME_PARTS_HARD_MAX 100000
#define MIME_MESSAGE_MAX    ((size_t)1 << 32)

struct mime_limits {
	unsigned max_depth;         /* deepest part (the root is depth 0) */
	unsigned max_parts;         /* parts in the whole tree, root included */
	unsigned max_header_fields; /* fields interpreted in one part header */
	size_t max_header_line;     /* longest folded field that is interpreted */
	unsigned max_params;        /* parameters kept from one header field */
};

/* max_depth 32, max_parts 2000, max_header_fields 1000,
 * max_header_line 256 KiB, max_params 128. */
struct mime_limits mime_limits_default(void);

/* Byte range relative to the start of the message. */
struct mime_range {
	size_t off;
	size_t len;
};

/* A Content-Type or Content-Disposition parameter. RFC 2231 continuations
 * are joined; an extended (charset-tagged) value is converted to UTF-8 and
 * marked extended, and BODYSTRUCTURE names it "name*" (RFC 9051 §7.5.2). */
struct mime_param {
	const char *name; /* lower-case, without RFC 2231 '*' suffixes */
	const char *value;
	int extended;
};

enum mime_env_field {
	MIME_ENV_DATE,
	MIME_ENV_SUBJECT,
	MIME_ENV_FROM,
	MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO,
	MIME_ENV_TO,
	MIME_ENV_CC,
	MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO,
	MIME_ENV_MESSAGE_ID,
	MIME_ENV_COUNT
};

/* The unfolded raw values of the first occurrence of each ENVELOPE field
 * (encoded words left alone, as IMAP wants); NULL when absent. */
struct mime_envelope {
	const char *field[MIME_ENV_COUNT];
	/* Not in ENVELOPE: the first References field's message IDs as
	 * mime_references_normalize() keeps them (THREAD=REFERENCES, RFC 5256
	 * §3); NULL when absent or without a valid ID. */
	const char *references;
};

/* Part flags. */
#define MIME_PART_MULTIPART 0x1u /* children are the body parts */
#define MIME_PART_MESSAGE                                                                          \
	0x2u /* message/rfc822 or message/global: one child,                                       \
	        the encapsulated message */

/* Message flags: what the parser had to give up on (for logs and tests). */
#define MIME_F_DEPTH_LIMIT  0x01u /* a part was too deep to be opened */
#define MIME_F_PART_LIMIT   0x02u /* parts were not created past max_parts */
#define MIME_F_FIELD_LIMIT  0x04u /* header fields past max_header_fields */
#define MIME_F_LINE_LIMIT   0x08u /* a field longer than max_header_line */
#define MIME_F_PARAM_LIMIT  0x10u /* parameters past max_params */
#define MIME_F_NO_BOUNDARY  0x20u /* multipart without a usable boundary */
#define MIME_F_UNTERMINATED 0x40u /* a multipart never saw its close delimiter */
#define MIME_F_BAD_HEADER   0x80u /* a header line without a colon */

struct mime_part {
	struct mime_part *parent;
	struct mime_part *next;     /* next sibling */
	struct mime_part *children; /* first child */
	unsigned nchildren;
	unsigned flags;           /* MIME_PART_* */
	struct mime_range header; /* header with its blank line */
	struct mime_range body;   /* starts where the header ends */
	size_t lines;             /* text lines in the body */
	/* Content-Type, lower-case; text/plain when absent or invalid (and
	 * message/rfc822 inside multipart/digest, RFC 2046 §5.1.5). */
	const char *type;
	const char *subtype;
	const struct mime_param *params;
	unsigned nparams;
	const char *id;          /* Content-ID, raw */
	const char *description; /* Content-Description, raw */
	const char *encoding;    /* Content-Transfer-Encoding, lower-case; NULL: 7bit */
	const char *md5;         /* Content-MD5, raw */
	const char *location;    /* Content-Location, raw */
	const char *disposition; /* Content-Disposition type, lower-case */
	const struct mime_param *disp_params;
	unsigned ndisp_params;
	const char *const *languages; /* Content-Language tags */
	unsigned nlanguages;
	/* Set on the root and on the child of a message/rfc822 part: the
	 * parts whose header is an RFC 5322 message header. */
	const struct mime_envelope *envelope;
};

struct mime_message {
	struct arena arena;
	size_t size; /* length of the message the tree describes */
	unsigned nparts;
	unsigned flags; /* MIME_F_* */
	struct mime_part *root;
	/* RFC 8970 PREVIEW text cached with the tree ("" when the message has
	 * no text for one); NULL when not computed (mime_message_cache_preview). */
	const char *preview;
};

/* Parse len bytes at msg. lim may be NULL for the defaults. Returns 0 and
 * the tree in *msg_r, or -EFBIG when len > MIME_MESSAGE_MAX. Bad mail is
 * not an error. The caller frees the tree. */
int mime_parse(const char *msg, size_t len, const struct mime_limits *lim,
               struct mime_message **msg_r);
/* Free a tree and set *m to NULL. NULL is fine. */
void mime_message_free(struct mime_message **m);

/* The value of a parameter (the extended one when both exist), or NULL. */
const char *mime_param_get(const struct mime_param *params, unsigned n, const char *name);
/* The charset of a text part ("us-ascii" by default, RFC 2045 §5.2), or
 * of any part that names one; NULL otherwise. */
const char *mime_part_charset(const struct mime_part *p);
/* 1 if the part has the given lower-case type (and subtype, unless NULL). */
int mime_part_is(const struct mime_part *p, const char *type, const char *subtype);

/*
 * IMAP output (RFC 3501 §7.4.2). Strings are quoted when they can be and
 * literals otherwise; absent values are NIL. All return 0, or the nbuf
 * error (-ENOBUFS when out's max is reached, -ENOMEM).
 */
/* The message's ENVELOPE, parentheses included. */
int mime_envelope_write(const struct mime_message *m, struct nbuf *out);
/* The ENVELOPE of a part that has one (the root or an encapsulated
 * message); -EINVAL otherwise. */
int mime_part_envelope_write(const struct mime_part *p, struct nbuf *out);
/* BODY (extended 0) or BODYSTRUCTURE (extended 1), parentheses included. */
int mime_bodystructure_write(const struct mime_message *m, struct nbuf *out, int extended);

/*
 * FETCH BODY[section] (RFC 3501 §6.4.5). section is "" (whole message),
 * "HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT" (the caller filters
 * the returned header range with mime_header_fields_write), or part numbers
 * "1.2" optionally followed by ".HEADER", ".TEXT", ".MIME" or the
 * HEADER.FIELDS forms; keywords are case-insensitive. Returns 1 with the
 * byte range in *r, 0 when the part does not exist (IMAP returns an empty
 * string), -1 on a syntax error.
 */
int mime_section_find(const struct mime_message *m, const char *section, size_t len,
                      struct mime_range *r);
/* The same, also giving in *part_r (part_r may be NULL) the part the
 * section names, for BINARY, which must undo its Content-Transfer-Encoding:
 * the root for "", the encapsulated message for HEADER and TEXT forms. */
int mime_section_lookup(const struct mime_message *m, const char *section, size_t len,
                        const struct mime_part **part_r, struct mime_range *r);

/*
 * Content-Transfer-Encoding decoding (RFC 2045 §6), for FETCH BINARY (RFC
 * 3516): what an encoding name means, and a decoder over a body in memory
 * that fills the caller's buffer a piece at a time (fixed memory whatever
 * the body size; the same bytes in always give the same bytes out).
 * Lenient as SEARCH's decoding is: base64 skips bytes outside its
 * alphabet, quoted-printable keeps a '=' that starts no valid escape.
 */
enum mime_cte {
	MIME_CTE_IDENTITY = 0, /* none, 7bit, 8bit, binary */
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_UNKNOWN, /* any other name (x-uuencode, ...) */
};
/* The kind of a part's encoding (mime_part.encoding, lower-case, or NULL). */
enum mime_cte mime_cte_of(const char *encoding);
struct mime_decoder {
	enum mime_cte kind;
	const unsigned char *in;
	size_t len, pos;
};
/* kind must not be MIME_CTE_UNKNOWN. */
void mime_decoder_init(struct mime_decoder *d, enum mime_cte kind, const char *in, size_t len);
/* Decode into out[0..cap) (cap >= 4). Returns the bytes written, 0 at the
 * end of the input. */
size_t mime_decoder_next(struct mime_decoder *d, unsigned char *out, size_t cap);

/* HEADER.FIELDS (not 0) or HEADER.FIELDS.NOT (not 1): the fields of the
 * header range whose names match one of fields[0..n) case-insensitively (or
 * none of them), folded lines kept whole, then an empty line. Returns 0 or
 * the nbuf error. */
int mime_header_fields_write(const char *msg, const struct mime_range *header,
                             const char *const *fields, size_t n, int not, struct nbuf *out);

/*
 * The cached tree (stored per message by node/store): a compact, versioned
 * binary form of everything above. Decoding validates every count, length,
 * range and nesting rule and returns -1 on any inconsistency; a decoded tree
 * writes byte-identical ENVELOPE, BODYSTRUCTURE and section ranges.
 */
int mime_tree_encode(const struct mime_message *m, struct nbuf *out);
int mime_tree_decode(const void *buf, size_t len, struct mime_message **m_r);
/* Compute the PREVIEW text of a parsed message into m->preview, so that
 * the cached tree carries it (delivery does this before encoding). msg is
 * the parsed message. Returns 0 or a negative error (m->preview stays NULL). */
int mime_message_cache_preview(struct mime_message *m, const char *msg, size_t len);

/*
 * What SORT, THREAD and PREVIEW read from a cached tree, without decoding
 * the tree: the root's envelope fields and the message-level extras, as
 * pointers into buf (not NUL-terminated; len bytes each). Cheap: no
 * allocation; only the root part's fields are walked, bounds-checked.
 */
struct mime_tree_str {
	const char *p; /* NULL: absent */
	size_t len;
};
struct mime_tree_summary {
	unsigned version;
	size_t size;
	struct mime_tree_str env[MIME_ENV_COUNT];
	struct mime_tree_str references; /* normalised (see mime_msgid_next) */
	struct mime_tree_str preview;    /* not checked for NUL bytes */
	int has_references;              /* the tree knows References (version 2) */
	int has_preview;                 /* the tree carries a preview (p may be "" of len 0) */
};
/* Returns 0, or -1 when buf is not a tree this code reads. A buffer that
 * mime_tree_decode() accepts always gives 0 and the same values. */
int mime_tree_summary(const void *buf, size_t len, struct mime_tree_summary *s_r);

/*
 * Message identifiers (RFC 5322 §3.6.4; RFC 5256 §3). mime_msgid_next()
 * appends to out the next valid "<...>" of s[*pos..len) with blanks
 * removed (comments and phrases skipped) and advances *pos: 1 found, 0
 * none left, or the nbuf error. mime_references_normalize() appends the
 * valid IDs of a References value joined by one blank, at most
 * MIME_REFS_MAX (the first and the last MIME_REFS_MAX - 1): 0 or the nbuf
 * error.
 */
#define MIME_MSGID_MAX 250 /* bytes of one identifier, brackets included */
#define MIME_REFS_MAX  32
int mime_msgid_next(const char *s, size_t len, size_t *pos, struct nbuf *out);
int mime_references_normalize(const char *v, size_t len, struct nbuf *out);

/*
 * Header access for SEARCH and SORT. A field's value is the raw bytes after
 * the colon up to the end of its last line (folds kept).
 */
struct mime_header_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	const char *raw; /* the whole field with its line ending */
	size_t raw_len;
};
struct mime_header_iter {
	const char *msg;
	size_t pos;
	size_t end;
};
void mime_header_iter_init(struct mime_header_iter *it, const char *msg,
                           const struct mime_range *header);
/* 1 and the next field (lines without a colon are skipped), 0 at the end. */
int mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f_r);
/* 1 if the field is named name (case-insensitive). */
int mime_header_field_is(const struct mime_header_field *f, const char *name);
/* Append v unfolded (line breaks removed, surrounding blanks trimmed, NUL
 * bytes as 0x80). Returns 0 or the nbuf error. */
int mime_header_unfold(const char *v, size_t len, struct nbuf *out);
/* Append the unfolded value of the nth (from 0) field called name. Returns
 * 1 found, 0 absent, or the nbuf error. */
int mime_header_get(const char *msg, const struct mime_range *header, const char *name,
                    unsigned nth, struct nbuf *out);
/* Append v unfolded and with RFC 2047 encoded words decoded, as UTF-8. */
int mime_header_decode(const char *v, size_t len, struct nbuf *out);

/* RFC 2047 (and RFC 2231 §5 language tags): append s with encoded words
 * decoded and every charset converted to UTF-8 (unknown charsets keep their
 * bytes; invalid sequences become U+FFFD). Blanks between adjacent encoded
 * words are dropped; broken words stay as they are. 0 or the nbuf error. */
int mime_decode_words(const char *s, size_t len, struct nbuf *out);

/* RFC 5322 §3.3 date, with the obsolete forms of §4.3 and common garbage
 * (asctime order, missing weekday or seconds, named and military zones,
 * two-digit years). Returns 0 with the UTC time and the zone offset in
 * minutes, or -1 when unparsable. */
int mime_date_parse(const char *s, size_t len, time_t *t_r, int *tz_min_r);

/* RFC 5256 §2.1 base subject of a raw Subject value, UTF-8. *reply_r (may
 * be NULL) is set when Re:/Fwd: prefixes or (fwd) trailers were removed,
 * which THREAD=ORDEREDSUBJECT wants. 0 or the nbuf error. */
int mime_base_subject(const char *s, size_t len, struct nbuf *out, int *reply_r);

/* An address of an RFC 5322 address list, as ENVELOPE shows it: a group
 * starts with mailbox = group name and host NULL and ends with all NULL. */
struct mime_address {
	const char *name; /* display name (or trailing comment), raw */
	const char *route;
	const char *mailbox; /* local part, unquoted */
	const char *host;
	struct mime_address *next;
};
/* Parse an address list into memory from a. Returns 0 (the list may be
 * NULL), or -ENOMEM when a's limit is reached. */
int mime_address_parse(const char *v, size_t len, struct arena *a, struct mime_address **list_r);
/* The first mailbox of the list (group markers skipped), for SORT FROM,
 * TO, CC. Returns 1 found, 0 none, -ENOMEM. */
int mime_address_first(const char *v, size_t len, struct arena *a,
                       const struct mime_address **addr_r);
/* RFC 5957 DISPLAYFROM/DISPLAYTO: the decoded display name, or else
 * "mailbox@host". 0 or the nbuf error. */
int mime_address_display(const struct mime_address *addr, struct nbuf *out);

/*
 * Decoded text for SEARCH TEXT/BODY. Each text part's body has its
 * Content-Transfer-Encoding undone and its charset converted to UTF-8, and
 * is handed to cb in chunks of at most MIME_TEXT_CHUNK bytes that end on
 * character boundaries (a match across chunks needs the caller's overlap).
 * Memory used is fixed, whatever the part size. cb returns 0 to go on;
 * anything else stops the walk and is returned. msg must be the parsed
 * message (len >= m->size, else -EINVAL).
 */
#define MIME_TEXT_CHUNK 65536
typedef int (*mime_text_cb)(void *ctx, const struct mime_part *part, const char *text, size_t len);
int mime_text_walk(const struct mime_message *m, const char *msg, size_t len, mime_text_cb cb,
                   void *ctx);
/* The same for one leaf part of any type. */
int mime_part_text(const struct mime_part *p, const char *msg, size_t len, mime_text_cb cb,
                   void *ctx);
/* The header range as "Name: decoded value\n" lines (RFC 2047 decoded,
 * unfolded), through cb in the same chunks. */
int mime_header_text(const char *msg, const struct mime_range *header, mime_text_cb cb, void *ctx);

/* RFC 8970 PREVIEW: up to MIME_PREVIEW_CHARS characters of the first
 * text/plain part that is not an attachment (else of the first text/html,
 * tags stripped), decoded, blanks collapsed, UTF-8. Returns 1 with text in
 * out, 0 when there is no such part, or a negative error. */
#define MIME_PREVIEW_CHARS 200
int mime_preview(const struct mime_message *m, const char *msg, size_t len, struct nbuf *out);

#endif
