/*
 * lmtp_parser: LMTP command lines, parsed without I/O.
 *
 * A command line (without its CRLF, at most LMTP_LINE_MAX bytes, which
 * the session enforces with conn_getline) is split into a verb and its
 * argument; MAIL FROM, RCPT TO and BDAT arguments are parsed here into
 * plain values. On a refusal the parser hands back the complete reply
 * line to send (static text): a protocol error is a reply, never more.
 */
#ifndef MAILNODE_LMTP_PARSER_H
#define MAILNODE_LMTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* RFC 5321 §4.5.3.1.4 allows 512 octets for a command line; service
 * extensions may add to it (RFC 1870 §6, RFC 6531 addresses). */
#define LMTP_LINE_MAX 2048
/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets. */
#define LMTP_PATH_MAX 256
/* RFC 5321 §4.5.3.1.2: a domain is at most 255 octets (LHLO argument). */
#define LMTP_DOMAIN_MAX 255
/* ESMTP parameters accepted on one MAIL or RCPT command. */
#define LMTP_PARAMS_MAX 16
/* The largest BDAT chunk size we parse (digits beyond are a syntax error). */
#define LMTP_BDAT_SIZE_MAX ((uint64_t)1 << 62)

enum lmtp_verb {
	LMTP_V_UNKNOWN,
	LMTP_V_LHLO,
	LMTP_V_HELO,
	LMTP_V_EHLO,
	LMTP_V_MAIL,
	LMTP_V_RCPT,
	LMTP_V_DATA,
	LMTP_V_BDAT,
	LMTP_V_RSET,
	LMTP_V_NOOP,
	LMTP_V_QUIT,
	LMTP_V_VRFY,
	LMTP_V_EXPN,
	LMTP_V_HELP,
	LMTP_V_STARTTLS,
};

/* Split line (len bytes) into its verb (case-insensitive) and argument
 * (after the spaces that follow the verb; may be empty). */
void lmtp_parse_verb(const char *line, size_t len, enum lmtp_verb *verb_r, const char **arg_r,
                     size_t *arglen_r);

enum lmtp_body { LMTP_BODY_7BIT, LMTP_BODY_8BITMIME };

struct lmtp_mail {
	/* The reverse-path's mailbox without brackets or source route, a
	 * quoted local part unquoted when it can be; "" for the null path. */
	char address[LMTP_PATH_MAX + 1];
	uint64_t size; /* SIZE= (RFC 1870), when has_size */
	int has_size;
	enum lmtp_body body; /* BODY= (RFC 1652) */
	int smtputf8;        /* SMTPUTF8 (RFC 6531 §3.4) */
};

struct lmtp_rcpt {
	char address[LMTP_PATH_MAX + 1];
};

/* The argument of MAIL ("FROM:<path> [params]"). Returns 0, or -1 with
 * *reply_r the reply to send. */
int lmtp_parse_mail(const char *arg, size_t len, struct lmtp_mail *m_r, const char **reply_r);
/* The argument of RCPT ("TO:<path> [params]"); smtputf8 from the MAIL
 * command allows UTF-8 in the address. Returns 0, or -1 with *reply_r. */
int lmtp_parse_rcpt(const char *arg, size_t len, int smtputf8, struct lmtp_rcpt *r_r,
                    const char **reply_r);
/* The argument of BDAT ("size [LAST]", RFC 3030 §2). Returns 0 or -1. */
int lmtp_parse_bdat(const char *arg, size_t len, uint64_t *size_r, int *last_r);

#endif
