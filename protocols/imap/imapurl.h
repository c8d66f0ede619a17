/*
 * imapurl: IMAP URLs that name a message or a part of one (RFC 5092 §5
 * "imessagepart"), with the URLAUTH pieces of RFC 4467 §6, as CATENATE
 * (RFC 4469) and GENURLAUTH/URLFETCH (RFC 4467) take them:
 *
 *   imap://user[;AUTH=x]@host[:port]/MAILBOX[;UIDVALIDITY=v]/;UID=u
 *       [/;SECTION=s][/;PARTIAL=o[.l]][;EXPIRE=date-time][;URLAUTH=access
 *       [:mechanism:token]]
 *   /MAILBOX[;UIDVALIDITY=v]/;UID=u[/;SECTION=s][/;PARTIAL=o[.l]]
 *       (an absolute path: this server, the session's user)
 *
 * Keywords are case-insensitive; the user, mailbox and section are
 * percent-decoded (the mailbox as UTF-8). Pure: no I/O, no session.
 *
 * Owner: the strings of a parsed URL live in the caller's arena.
 */
#ifndef MAILNODE_IMAP_URL_H
#define MAILNODE_IMAP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"

#define IMAP_URL_MAX 8192 /* bytes of one URL */

struct imap_url {
	bool absolute;        /* imap://..., else an absolute path */
	const char *user;     /* decoded; NULL in a path */
	const char *host;     /* as sent; NULL in a path */
	const char *mailbox;  /* decoded, UTF-8 */
	uint32_t uidvalidity; /* 0: not given */
	uint32_t uid;
	const char *section; /* decoded ("1.2", "HEADER.FIELDS (From)"); NULL: none */
	bool has_partial;
	uint64_t partial_off, partial_len; /* partial_len 0: to the end */
	bool has_expire;
	int64_t expire;        /* seconds since the epoch */
	const char *access;    /* URLAUTH access identifier, decoded; NULL: no URLAUTH */
	size_t rump_len;       /* bytes of the URL up to the end of the access */
	const char *mechanism; /* NULL: a rump URL (no ":mech:token") */
	const char *token;     /* as sent */
};

/* Parse len bytes at s. Returns 0, or -1 with *error_r (a short text). */
int imap_url_parse(struct arena *a, const char *s, size_t len, struct imap_url *u,
                   const char **error_r);

#endif
