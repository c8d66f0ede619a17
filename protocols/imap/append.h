/*
 * append: what the files of APPEND share (append_sink.c: the literal sink
 * and the walk over the arguments; catenate.c: CATENATE's URL parts;
 * cmd_append.c: APPEND; cmd_replace.c: REPLACE). Not for other files.
 *
 * An APPEND carries one or more messages (MULTIAPPEND, RFC 3502), each a
 * literal or literal8 (RFC 3516 §4.4), "UTF8 (~{n})" (RFC 6855 §4) or
 * "CATENATE (TEXT {n} URL url ...)" (RFC 4469). Every message gets its own
 * msgin as its first byte arrives; the state lives in s->append from the
 * first literal until the command ends.
 */
#ifndef MAILNODE_IMAP_APPEND_H
#define MAILNODE_IMAP_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"
#include "protocols/imap/imap_private.h"

/* Messages in one APPEND (the batch that appends them has room for
 * CMD_BATCH_CMDS_MAX commands). */
#define IMAP_APPEND_MSGS_MAX 1000
/* All messages of one APPEND together (temporary files until it is
 * applied): at least one message of limits.message_size. */
#define IMAP_APPEND_TOTAL_MAX (1024ull * 1024 * 1024)

enum imap_append_kind {
	APPEND_LITERAL,  /* {n} or ~{n} */
	APPEND_UTF8,     /* UTF8 (~{n}) */
	APPEND_CATENATE, /* CATENATE (...) */
};

struct imap_append_msg {
	struct msgin *in;
	size_t arg;   /* top-level index of its data: the literal, or the list */
	uint8_t kind; /* enum imap_append_kind */
	size_t done;  /* CATENATE: list elements already in `in` */
	/* from the arguments, at dispatch */
	uint32_t flags;
	const char **names;
	uint32_t nnames;
	int64_t date;
};

struct imap_append {
	struct imap_append_msg *msgs; /* heap */
	size_t n, cap;
	struct imap_append_msg *cur; /* receiving literal data */
	uint32_t mailbox_id;
	bool mailbox_known;
	uint64_t max;     /* limits.message_size */
	char *badurl;     /* the URL refused, for NO [BADURL url] (heap) */
	size_t finishing; /* msgin_finish calls outstanding */
	int status;       /* the first failure among them */
};

/* The state of the APPEND being read, made on first use. */
struct imap_append *imap__append_get(struct imap_session *s);

/* At dispatch: the messages from args[first] on (APPEND: 1, REPLACE: 2),
 * at most max of them, matched with what the sink received; CATENATE
 * parts after the last literal are appended now, and messages without
 * any literal get their msgin here. Fills s->append->msgs. Returns 0, or
 * -1 with *error_r and *code_r (IMAP_CODE_NONE: answer BAD). */
int imap__append_collect(struct imap_session *s, const struct imap_cmd *cmd, size_t first,
                         size_t max, const char **error_r, enum imap_code *code_r);
/* A tagged NO with code (BADURL with the URL s->append holds). */
void imap__append_no(struct imap_session *s, enum imap_code code, const char *text);

/* --- catenate.c: the data an IMAP URL names (CATENATE, URLFETCH) ----- */

struct imap_url;
struct mime_message;
/* A message an URL names, opened: its bytes mapped, its MIME tree. */
struct imap_url_msg {
	char *bytes;
	size_t len;
	struct mime_message *tree;
};
/* Whose mailbox the URL opens for this session: 1 with the user id in
 * *owner_r (the session's own user, or the URLAUTH's owner when a valid
 * URLAUTH grants this session access, RFC 4467 §3), 0 not allowed (with
 * *error_r). */
int imap__url_owner(struct imap_session *s, const struct imap_url *u, const char *url, size_t len,
                    uint32_t *owner_r, const char **error_r);
/* Open the message u names in owner's mailbox. Returns 0, or -1 with
 * *code_r (BADURL: no such mailbox, UIDVALIDITY or message; UNAVAILABLE)
 * and *error_r. Close with imap__url_close. */
int imap__url_open(struct imap_session *s, const struct imap_url *u, uint32_t owner,
                   struct imap_url_msg *m, enum imap_code *code_r, const char **error_r);
void imap__url_close(struct imap_url_msg *m);
/* The section and partial range of u in the opened message (bytes, len,
 * tree): its data in *data_r, *size_r bytes, pointing into bytes, or into
 * hdr for HEADER.FIELDS[.NOT] (hdr's max bounds that: the message size).
 * Returns 0, or -1 when the section names no part (BADURL). */
int imap__url_section(struct arena *a, const struct imap_url *u, const char *bytes, size_t len,
                      const struct mime_message *tree, struct nbuf *hdr, const char **data_r,
                      size_t *size_r);

/* urlauth.c: 1 when u carries a URLAUTH (RFC 4467) that is valid now and
 * grants this session access, with the mailbox owner's id in *owner_r;
 * 0 otherwise (*error_r says why). */
int imap__urlauth_verify(struct imap_session *s, const struct imap_url *u, const char *url,
                         size_t len, uint32_t *owner_r, const char **error_r);

/* catenate.c: append the data url names (RFC 4469 §3: BODY.PEEK[section]
 * <partial> of a message the user may read) to m. Returns 0, or -1 with
 * *code_r (BADURL, TOOBIG, UNAVAILABLE) and *error_r; for BADURL the URL
 * is kept in s->append->badurl. */
int imap__catenate_url(struct imap_session *s, struct msgin *m, const char *url, size_t len,
                       enum imap_code *code_r, const char **error_r);

#endif
