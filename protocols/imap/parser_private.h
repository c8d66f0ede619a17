/*
 * imap parser internals shared by parser.c (lifecycle, main loop),
 * parser_token.c (tokens), parser_literal.c (literals, errors, resync, raw
 * lines) and parser_arg.c (the argument tree).
 * Not for the command layer: include parser.h.
 */
#ifndef MAILNODE_IMAP_PARSER_PRIVATE_H
#define MAILNODE_IMAP_PARSER_PRIVATE_H

#include "protocols/imap/parser.h"

/* A byte that may appear in a bare token (atom, flag, sequence set,
 * list-mailbox, astring): CHAR except SP, CTL, "(", ")", "{" and DQUOTE.
 * "]" and "[" get their meaning from the context. */
static inline bool
imap__tok_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

/* Record an error, pick the resync from the current state and switch to
 * discarding the line. Returns IMAP_PARSE_ERROR. text NULL: a default. */
int imap__parser_fail(struct imap_parser *p, enum imap_parser_errcode code, const char *text);
/* The same, with a printf-formatted text. */
int imap__parser_failf(struct imap_parser *p, enum imap_parser_errcode code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Refuse the literal whose header just ended (at its LF): a synchronising
 * one ends the line (no data follows), a non-synchronising one is skipped
 * when small enough, else the error is fatal. Returns IMAP_PARSE_ERROR. */
int imap__literal_refuse(struct imap_parser *p, enum imap_parser_errcode code, const char *text);

/* Install limits given by imap_parser_set_limits() mid-command; called
 * where a command or a raw line starts. */
void imap__parser_apply_limits(struct imap_parser *p);

/* Consume n bytes of command line, counted against line_max. */
int imap__line_take(struct imap_parser *p, struct nbuf *in, size_t n);
/* Append bytes to the current token. 0, or IMAP_PARSE_ERROR (failed). */
int imap__tok_add(struct imap_parser *p, const void *data, size_t n);

/* One step of the token states (parser_token.c): 0 to go on, or an
 * imap_parse_result to return. */
int imap__token_step(struct imap_parser *p, struct nbuf *in, struct imap_cmd **cmd_r);

/* Literal header "}" seen (limits), its LF seen (start), its data. Each
 * returns 0 to go on, or an imap_parse_result to return. */
int imap__literal_header_done(struct imap_parser *p);
int imap__literal_begin(struct imap_parser *p);
int imap__literal_data(struct imap_parser *p, struct nbuf *in);
/* Resync states: DISCARD, DISCARD_LIT, LINE_DISCARD. */
int imap__discard(struct imap_parser *p, struct nbuf *in);

/* A new argument node linked into the current frame. Returns 0 or an
 * error code (the caller fails with it). */
enum imap_parser_errcode imap__arg_new(struct imap_parser *p, enum imap_arg_type type,
                                       struct imap_arg **arg_r);
/* Open a list or a section frame; 0 or IMAP_PARSE_ERROR (failed). */
int imap__frame_push(struct imap_parser *p, struct imap_arg *owner, char close);
/* Close the current frame into its owner's array; 0 or IMAP_PARSE_ERROR. */
int imap__frame_pop(struct imap_parser *p);
/* Close the top frame into cmd.args; 0 or IMAP_PARSE_ERROR. */
int imap__args_finish(struct imap_parser *p);

#endif
