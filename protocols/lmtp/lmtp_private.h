/*
 * lmtp_private: the LMTP session, shared by lmtp_session.c (connection,
 * command loop, replies), lmtp_cmd.c (commands) and lmtp_data.c (DATA,
 * BDAT and the end of data).
 *
 * Owner: the session owns its delivery (the current mail transaction)
 * and is owned by its conn (c->data); it is freed in the conn's on_close.
 */
#ifndef MAILNODE_LMTP_PRIVATE_H
#define MAILNODE_LMTP_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "node/delivery.h"
#include "protocols/lmtp/lmtp_dot.h"
#include "protocols/lmtp/lmtp_parser.h"

struct conn;

/* The command line limit before LHLO: RFC 5321 §4.5.3.1.4's 512 octets
 * (LMTP_LINE_MAX, larger for extension parameters, applies after it). */
#define LMTP_LINE_MAX_INIT 512
/* Unconsumed input a connection may hold (conn in_limit). */
#define LMTP_IN_LIMIT (64 * 1024)
/* RFC 5321 §4.5.3.2.7: a server waits at least 5 minutes for a command. */
#define LMTP_IDLE_MS (5 * 60 * 1000)
/* Accepted recipients per transaction (RFC 5321 §4.5.3.1.8 asks for at
 * least 100; LMTP clients send a few dozen at a time). */
#define LMTP_RCPT_MAX 500
/* The default of the config key limits.message_size. */
#define LMTP_MESSAGE_SIZE_DEFAULT (50u * 1024 * 1024)

enum lmtp_state {
	LMTP_S_INIT,  /* greeted (or TLS just started): LHLO expected */
	LMTP_S_READY, /* LHLO done, no transaction */
	LMTP_S_MAIL,  /* MAIL accepted: RCPT, DATA, BDAT */
	LMTP_S_DATA,  /* reading the dot-stuffed body after 354 */
	LMTP_S_CHUNK, /* reading chunk_left bytes of a BDAT chunk */
	LMTP_S_WAIT,  /* the delivery runs; input paused */
};

struct lmtp_session {
	struct conn *conn;
	enum lmtp_state state;
	char helo[LMTP_DOMAIN_MAX + 1];
	uint64_t size_limit; /* limits.message_size, read at LHLO and MAIL */
	int out_blocked;     /* input paused until our replies drain */
	/* the mail transaction */
	struct delivery *dlv;
	struct lmtp_mail mail;
	int chunking; /* BDAT used: no more RCPT, no DATA */
	int body_started;
	struct lmtp_dot dot;
	/* the BDAT chunk being read */
	uint64_t chunk_left;
	uint64_t chunk_size;
	int chunk_last;
	int chunk_discard;          /* a refused chunk: read and drop */
	const char *chunk_reply;    /* the reply after a dropped chunk (NULL: none) */
	enum lmtp_state chunk_back; /* the state after a dropped chunk */
	char line[LMTP_LINE_MAX + 1];
};

/* The host name of greetings and Received headers. */
const char *lmtp__host(void);
/* Queue one reply line (CRLF added). */
void lmtp__reply(struct lmtp_session *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Run one command line (NUL-terminated, len bytes). */
void lmtp__dispatch(struct lmtp_session *s, const char *line, size_t len);
/* Forget the mail transaction (RSET, LHLO, after the last reply). */
void lmtp__transaction_reset(struct lmtp_session *s);
/* Resume input unless something still holds it. */
void lmtp__resume(struct lmtp_session *s);
/* limits.message_size from the store. */
uint64_t lmtp__size_limit(void);

/* lmtp_data.c */
void lmtp__cmd_data(struct lmtp_session *s, const char *arg, size_t len);
void lmtp__cmd_bdat(struct lmtp_session *s, const char *arg, size_t len);
/* Consume body bytes in LMTP_S_DATA / LMTP_S_CHUNK. Returns 1 when the
 * state changed (go on), 0 when more input is needed. */
int lmtp__data_feed(struct lmtp_session *s);
int lmtp__chunk_feed(struct lmtp_session *s);

#endif
