/*
 * mime_int: what the files of node/mime share and nobody else uses
 * (`mime__` names). See mime.h for the public side.
 */
#ifndef MAILNODE_MIME_INT_H
#define MAILNODE_MIME_INT_H

#include <iconv.h>
#include <stddef.h>

#include "node/mime/mime.h"

/* RFC 2046 §5.1.1 says 70; some mailers write longer ones. */
#define MIME_BOUNDARY_MAX 256
/* Longest charset name we look at. */
#define MIME_CHARSET_MAX 64

static inline int
mime__is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static inline int
mime__is_lwsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The unconsumed bytes of an nbuf; never a null pointer (nbuf_head() of an
 * empty buffer would be NULL + 0). */
static inline const char *
mime__nbuf_str(const struct nbuf *b)
{
	return b->data != NULL ? (const char *)b->data + b->pos : "";
}

/* Arena helpers: the tree's arena has no limit, so these never fail. */
void *mime__zalloc(struct arena *a, size_t n);
/* Copy n bytes, NUL bytes replaced by 0x80 (strings in the tree are C
 * strings and IMAP forbids NUL), and add a NUL. */
char *mime__strndup(struct arena *a, const char *s, size_t n);
char *mime__strndup_lower(struct arena *a, const char *s, size_t n);
/* Unfold a raw field value into the arena (see mime_header_unfold). */
char *mime__unfold_dup(struct arena *a, const char *v, size_t n);
/* A References value normalised (mime_references_normalize) into the
 * arena, or NULL when it has no valid identifier. */
char *mime__references_dup(struct arena *a, const char *v, size_t n);

/*
 * RFC 5322 §3.2 / RFC 2045 §5.1 lexical helpers over s[0..len). Each takes
 * the index to start from and returns the index after what it read; none
 * reads past len, and unterminated constructs end at len.
 */
size_t mime__skip_cfws(const char *s, size_t len, size_t i);
/* s[i] is '('. Appends the comment's text (without the outer parentheses)
 * to text when it is not NULL. */
size_t mime__comment(const char *s, size_t len, size_t i, struct nbuf *text);
/* s[i] is '"'. Appends the content, quoted-pairs undone, to out (may be NULL). */
size_t mime__quoted(const char *s, size_t len, size_t i, struct nbuf *out);
/* End of an RFC 2045 token starting at i (i itself when there is none). */
size_t mime__token_end(const char *s, size_t len, size_t i);

/* Parameter parsing context: where strings go and what to report. */
struct mime__pctx {
	struct arena *a;
	unsigned max_params;
	unsigned *flags; /* MIME_F_PARAM_LIMIT is or-ed in */
};
/* Content-Type: 0 with lower-case type/subtype and parameters, -1 when the
 * value is not a valid type/subtype (the caller then uses the default). */
int mime__ctype_parse(const struct mime__pctx *c, const char *v, size_t n, const char **type_r,
                      const char **subtype_r, const struct mime_param **params_r,
                      unsigned *nparams_r);
/* Content-Disposition: 0 or -1 as above. */
int mime__disposition_parse(const struct mime__pctx *c, const char *v, size_t n,
                            const char **type_r, const struct mime_param **params_r,
                            unsigned *nparams_r);
/* Content-Language: a list of tags, possibly empty. */
void mime__language_parse(const struct mime__pctx *c, const char *v, size_t n,
                          const char *const **langs_r, unsigned *n_r);
/* Content-Transfer-Encoding: the lower-case token, or NULL if invalid. */
const char *mime__encoding_parse(struct arena *a, const char *v, size_t n);

/*
 * Charset conversion to UTF-8 over glibc iconv. Unknown charsets (and
 * UTF-8 and US-ASCII themselves) pass through a UTF-8 validator; invalid
 * input becomes U+FFFD. Output goes to a sink in pieces that end on
 * character boundaries.
 */
typedef int (*mime__sink_fn)(void *ctx, const char *p, size_t n);
struct mime__conv {
	iconv_t cd; /* (iconv_t)-1: validate UTF-8 */
};
void mime__conv_open(struct mime__conv *c, const char *charset, size_t len);
void mime__conv_close(struct mime__conv *c);
/* Convert in[0..len). When final is 0, an incomplete sequence at the end is
 * left unconsumed. Returns the bytes consumed, or the sink's negative error. */
long mime__conv_run(struct mime__conv *c, const char *in, size_t len, int final, mime__sink_fn sink,
                    void *ctx);
/* Sink appending to a struct nbuf. */
int mime__nbuf_sink(void *ctx, const char *p, size_t n);
/* One-shot conversion appended to out. 0 or the nbuf error. */
int mime__conv_nbuf(const char *charset, size_t cslen, const char *in, size_t len,
                    struct nbuf *out);

/* Content-Transfer-Encoding decoding over a whole body, in pieces. */
enum mime__cte_kind { MIME__CTE_IDENTITY, MIME__CTE_BASE64, MIME__CTE_QP };
struct mime__cte {
	enum mime__cte_kind kind;
	const unsigned char *in;
	size_t len;
	size_t pos;
};
void mime__cte_init(struct mime__cte *d, const char *encoding, const char *in, size_t len);
/* Decode into out[0..cap) (cap >= 4). Returns bytes written, 0 at the end. */
size_t mime__cte_next(struct mime__cte *d, unsigned char *out, size_t cap);
/* Lenient base64 of a whole string (whitespace and junk skipped, missing
 * padding tolerated). out holds len * 3 / 4 + 3 bytes. Returns the length. */
size_t mime__b64_decode(const char *in, size_t len, unsigned char *out);

/* IMAP strings (RFC 3501 §4.3 quoted, §4.3 literal). */
int mime__imap_string(struct nbuf *out, const char *s, size_t n);
int mime__imap_nstring(struct nbuf *out, const char *s);
/* A quoted string upper-cased (for types, encodings, parameter names). */
int mime__imap_upper(struct nbuf *out, const char *s, const char *suffix);
/* "(" date subject from ... message-id ")" of one envelope. */
int mime__envelope_write(const struct mime_envelope *env, struct nbuf *out);

/* Number of text lines in the range: line feeds, plus one for a last line
 * without one. */
size_t mime__count_lines(const char *p, size_t n);

/* Interpret one header field of part p (name without the colon, raw value).
 * is_message: the header is an RFC 5322 message header too. */
struct mime__fctx {
	struct arena *a;
	const struct mime_limits *lim;
	unsigned *flags;
};
void mime__part_field(const struct mime__fctx *c, struct mime_part *p, struct mime_envelope *env,
                      const char *name, size_t nlen, const char *value, size_t vlen);
/* Set the defaults once a part's header is read. parent may be NULL. */
void mime__part_defaults(struct mime_part *p, const struct mime_part *parent);

#endif
