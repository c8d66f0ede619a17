/*
 * pop3_maildrop: a POP3 session's view of INBOX (RFC 1939 §5): a snapshot
 * of (UID, size, body hash) of every message taken at login, the marks the
 * session puts on them (deleted, retrieved), and the UPDATE state's one
 * batch of commands (RFC 1939 §6) that makes those marks real.
 *
 * Owner: the session embeds one; pop3_maildrop_deinit frees the array.
 */
#ifndef MAILNODE_POP3_MAILDROP_H
#define MAILNODE_POP3_MAILDROP_H

#include <stddef.h>
#include <stdint.h>

#include "node/store/cmd.h"

struct store;

/* Most messages a session shows: the oldest ones of a larger INBOX (the
 * rest appear once some are deleted). 48 bytes each: at most 12 MB. */
#define POP3_MSGS_MAX 250000
/* A UIDL is 16 hex digits: UIDVALIDITY then UID (RFC 1939 §7 allows 1-70
 * characters 0x21-0x7E). */
#define POP3_UIDL_LEN 16

enum {
	POP3_M_DELETED = 1 << 0,   /* DELE in this session */
	POP3_M_RETRIEVED = 1 << 1, /* RETR completed in this session */
	POP3_M_SEEN = 1 << 2,      /* \Seen at login */
};

struct pop3_msg {
	uint32_t uid;
	uint32_t marks; /* POP3_M_* */
	uint64_t size;
	uint8_t hash[CMD_HASH_LEN];
};

struct pop3_maildrop {
	uint32_t user_id;
	uint32_t mailbox_id;
	uint32_t uidvalidity;
	uint32_t n;          /* messages in the snapshot */
	uint32_t ndeleted;   /* of them marked deleted */
	uint32_t nretrieved; /* of them retrieved */
	uint32_t hidden;     /* messages beyond POP3_MSGS_MAX not shown */
	uint64_t size;       /* octets of the messages not marked deleted */
	struct pop3_msg *v;
};

/* Take the snapshot of user_id's INBOX in one short read transaction,
 * showing at most max messages. Returns 0, or -1 with *error_r and
 * *temp_r = 1 when trying again later may help. */
int pop3_maildrop_load(struct pop3_maildrop *md, struct store *st, uint32_t user_id, uint32_t max,
                       const char **error_r, int *temp_r);
void pop3_maildrop_deinit(struct pop3_maildrop *md);

/* Message msgno (1-based) of the snapshot, deleted or not, or NULL. */
struct pop3_msg *pop3_maildrop_get(struct pop3_maildrop *md, uint32_t msgno);
/* Mark a message deleted (DELE). Returns 0, or -1 if it already is. */
int pop3_maildrop_dele(struct pop3_maildrop *md, struct pop3_msg *m);
/* Mark a message retrieved (a RETR completed). */
void pop3_maildrop_retrieved(struct pop3_maildrop *md, struct pop3_msg *m);
/* RSET: unmark every deleted message. */
void pop3_maildrop_rset(struct pop3_maildrop *md);

/* The message's UIDL: POP3_UIDL_LEN characters and a NUL. */
void pop3_maildrop_uidl(const struct pop3_maildrop *md, const struct pop3_msg *m,
                        char out[POP3_UIDL_LEN + 1]);

/* What UPDATE does. */
struct pop3_update {
	int mark_seen;         /* \Seen for retrieved messages (pop3.seen_on_retr) */
	int expunge_retrieved; /* retrieved messages are deleted too (EXPIRE 0) */
};

/* Add UPDATE's commands to b: STORE +\Seen for retrieved messages that
 * stay, then EXPUNGE (EXPUNGE_UIDS) of the deleted ones, each within
 * CMD_RANGES_MAX ranges. Ranges only ever cover messages of the snapshot
 * (and UIDs between two of them, which no message can hold again: UIDs are
 * never reused under one UIDVALIDITY). Returns the number of commands
 * added (0: nothing to do) with *first_expunge_r the index of the first
 * EXPUNGE command, or -1 if the batch could not take them. */
int pop3_maildrop_update_batch(const struct pop3_maildrop *md, const struct pop3_update *u,
                               struct cmd_batch *b, uint32_t *first_expunge_r);

#endif
