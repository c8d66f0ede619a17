/*
 * pop3_parser: one POP3 command line split into its keyword and arguments
 * (RFC 1939 §3, RFC 2449 §3-4). Pure: no I/O, no allocation; the result
 * points into the caller's line.
 */
#ifndef MAILNODE_POP3_PARSER_H
#define MAILNODE_POP3_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* RFC 2449 §4: a command line is at most 255 octets with its CRLF. We take
 * 255 without it (a little tolerance for clients that count differently). */
#define POP3_LINE_MAX 255
/* RFC 2449 §4: an argument is at most 40 octets. USER takes an address and
 * AUTH a base64 initial response; both are checked by their own limits. */
#define POP3_ARG_MAX 40
/* Keywords are 3 or 4 characters (RFC 1939 §3). */
#define POP3_KEYWORD_MAX 4
/* Arguments remembered; nargs counts every one that was given. */
#define POP3_ARGS_MAX 2

enum pop3_cmd_id {
	POP3_CMD_UNKNOWN = 0,
	POP3_CMD_CAPA,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_AUTH,
	POP3_CMD_STLS,
	POP3_CMD_QUIT,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_COUNT
};

struct pop3_arg {
	const char *p;
	size_t len;
};

struct pop3_cmd {
	enum pop3_cmd_id id;
	uint32_t nargs;                      /* arguments given (may exceed POP3_ARGS_MAX) */
	struct pop3_arg args[POP3_ARGS_MAX]; /* the first ones */
	struct pop3_arg rest;                /* everything after "KEYWORD " (PASS) */
};

/* Parse a line without its CRLF. Returns 0 with *cmd_r filled (pointers
 * into line, valid as long as line is), or -1 with *error_r for an empty
 * line or one holding NUL or other control characters. An unknown keyword
 * is not an error: cmd_r->id is POP3_CMD_UNKNOWN. */
int pop3_parser_parse(const char *line, size_t len, struct pop3_cmd *cmd_r, const char **error_r);

/* A decimal number argument of 1 to 10 digits, at most max. Returns 0 or
 * -1 (not a number, or too large). */
int pop3_parser_number(const struct pop3_arg *a, uint32_t max, uint32_t *v_r);

/* "RETR", ... ("UNKNOWN" for POP3_CMD_UNKNOWN). */
const char *pop3_cmd_name(enum pop3_cmd_id id);

#endif
