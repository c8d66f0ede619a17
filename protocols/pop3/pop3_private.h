/*
 * pop3_private: the POP3 session, shared by the files of protocols/pop3.
 *
 *   pop3_session.c  accept, greeting, the command loop (PIPELINING), the
 *                   dispatch table, replies, timeouts, close and metrics
 *   pop3_auth.c     AUTHORIZATION: CAPA, USER/PASS, AUTH, STLS, login
 *   pop3_trans.c    TRANSACTION: STAT, LIST, UIDL, DELE, NOOP, RSET, and
 *                   QUIT's UPDATE through the replicated write path
 *   pop3_retr.c     RETR and TOP, streamed from the body file
 *
 * Owner: the connection (c->data); the session is freed in on_close, the
 * libuv close callback. A RETR whose read is in the thread pool outlives
 * it (pop3_retr.c frees that on its own).
 */
#ifndef MAILNODE_POP3_PRIVATE_H
#define MAILNODE_POP3_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "node/login.h"
#include "node/store/cmd.h"
#include "protocols/pop3/pop3_maildrop.h"
#include "protocols/pop3/pop3_parser.h"

struct conn;
struct node;
struct pop3_stream;
struct repl_req;

/* Input held per connection: room for a long AUTH line and pipelined
 * commands behind it. */
#define POP3_IN_LIMIT (16 * 1024)
/* An AUTH command or SASL response line: "AUTH" SP mechanism SP base64 of
 * the longest client message the mechanisms take (SASL_INPUT_MAX 8192). */
#define POP3_SASL_LINE_MAX (11 * 1024)
/* Failed authentications before the connection is closed. */
#define POP3_AUTH_FAILURES_MAX 3
/* RFC 1939 §3: the inactivity autologout timer is at least 10 minutes. */
#define POP3_IDLE_DEFAULT_S 600

enum pop3_state {
	POP3_S_AUTHORIZATION,
	POP3_S_TRANSACTION,
	POP3_S_UPDATE,
};

/* What the session waits for; no command is read meanwhile. */
enum pop3_wait {
	POP3_W_NONE,
	POP3_W_LOGIN,  /* credentials are being checked */
	POP3_W_STREAM, /* RETR/TOP is sending a body */
	POP3_W_UPDATE, /* QUIT's batch is in the log */
};

/* Where a SASL exchange (RFC 5034 §4) stands. */
enum pop3_sasl {
	POP3_SASL_NONE,
	POP3_SASL_RESPONSE, /* a challenge was sent: the next line answers it */
	POP3_SASL_FINAL,    /* success data was sent: an empty line completes */
};

struct pop3_session {
	struct conn *conn;
	struct node *node;
	const char *proto; /* "pop3" or "pop3s" */
	enum pop3_state state;
	enum pop3_wait wait;
	int drain_wait; /* too much output queued: read no command for now */
	uint64_t started_ms;
	const char *end_reason;

	/* AUTHORIZATION */
	char user[CMD_ADDRESS_MAX + 1]; /* USER's argument, until PASS */
	int have_user;
	struct login *login;
	int in_login_call;  /* inside login_password/login_step */
	int login_finished; /* the callback gave a final answer */
	enum pop3_sasl sasl;
	struct login_user sasl_user; /* POP3_SASL_FINAL: who authenticated */
	uint32_t auth_failures;

	/* TRANSACTION */
	struct login_user u;
	struct pop3_maildrop md;
	struct pop3_stream *stream;
	struct repl_req *req;
	uint32_t update_first_expunge; /* index of UPDATE's first EXPUNGE */
	uint32_t retrieved;            /* RETRs completed */
	uint32_t expunged;             /* messages UPDATE removed */
	uint64_t bytes;                /* message octets sent, stuffed */
};

/* --- pop3_session.c -------------------------------------------------- */

/* Replies: "+OK text" and "-ERR [code] text" (code may be NULL). */
void pop3__ok(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3__err(struct pop3_session *s, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Start waiting for w: no command is read until pop3__done_waiting. */
void pop3__wait(struct pop3_session *s, enum pop3_wait w);
void pop3__done_waiting(struct pop3_session *s);
/* Is output past the high-water mark even after a flush? Then on_drain is
 * sure to come (a write is in flight). */
int pop3__output_full(struct pop3_session *s);
/* End the session after the reply already queued. */
void pop3__close(struct pop3_session *s, const char *reason);
/* A cluster config value: 1 found, 0 unset, -1 error. */
int pop3__config(struct pop3_session *s, const char *key, char *buf, size_t n);
uint64_t pop3__config_u64(struct pop3_session *s, const char *key, uint64_t dflt);
/* The node's LOGIN-DELAY table. */
struct pop3_delay *pop3__delay(void);
/* Count message octets sent. */
void pop3__count_bytes(struct pop3_session *s, uint64_t n);

/* --- pop3_auth.c ----------------------------------------------------- */

void pop3__capa(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__user(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__pass(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__auth(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__stls(struct pop3_session *s, const struct pop3_cmd *cmd);
/* A line while a SASL exchange waits for the client. */
void pop3__sasl_line(struct pop3_session *s, const char *line, size_t len);
/* The session is going away: cancel a login in progress. */
void pop3__auth_release(struct pop3_session *s);

/* --- pop3_trans.c ---------------------------------------------------- */

void pop3__stat(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__list(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__uidl(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__dele(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__noop(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__rset(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__quit(struct pop3_session *s, const struct pop3_cmd *cmd);
/* The message a number argument names, or NULL after an -ERR reply. */
struct pop3_msg *pop3__msg_arg(struct pop3_session *s, const struct pop3_arg *a, int deleted_ok);
/* The session is going away: forget a submitted UPDATE. */
void pop3__trans_release(struct pop3_session *s);

/* --- pop3_retr.c ----------------------------------------------------- */

void pop3__retr(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3__top(struct pop3_session *s, const struct pop3_cmd *cmd);
/* Output drained: send more of the body. */
void pop3__stream_drain(struct pop3_session *s);
/* The session is going away: stop streaming (a read in the pool finishes
 * on its own and frees what is left). */
void pop3__stream_release(struct pop3_session *s);

#endif
