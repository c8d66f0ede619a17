/*
 * login: authentication for IMAP, POP3 and ManageSieve, shared.
 *
 * Drives one SASL exchange (node/auth/sasl.h) against the replicated
 * accounts: the user is looked up in the local store, a password is
 * verified with Argon2id in the thread pool (never on the loop), and
 * every answer, right or wrong, is held back by the brute-force throttle
 * (node/auth/throttle.h) according to the failures from that address and
 * for that user. A disabled or unknown user fails like a wrong password.
 *
 * Owner: the session; login_free cancels an exchange in progress (its
 * callback is then never called).
 */
#ifndef MAILNODE_LOGIN_H
#define MAILNODE_LOGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "node/store/cmd.h"

struct login;
struct conn;
struct node;

enum login_status {
	LOGIN_OK = 0,         /* authenticated: u is valid; data may hold SASL additional data */
	LOGIN_CONTINUE = 1,   /* send data as a challenge, then login_step the answer */
	LOGIN_FAIL = -1,      /* wrong credentials (never says which part) */
	LOGIN_MALFORMED = -2, /* the client's message was not valid for the mechanism */
	LOGIN_TEMP = -3,      /* we cannot check now (storage) */
};

struct login_user {
	uint32_t id;
	char address[CMD_ADDRESS_MAX + 1];
};

typedef void (*login_cb)(void *arg, int status, const uint8_t *data, size_t len,
                         const struct login_user *u);

/* Set up the shared state (throttle, SCRAM secret). */
void login_init(struct node *n);
void login_deinit(void);

/* May this connection use PLAIN/LOGIN/USER-PASS? TLS, or loopback when the
 * cluster allows it (config auth.plaintext_loopback, default true). */
int login_plaintext_ok(struct conn *c);
/* Mechanisms to advertise. */
const char *login_mechs(int plaintext_ok);

/* A SASL exchange. NULL if the mechanism is unknown or not allowed here.
 * proto names the front end in logs and metrics ("imap"). */
struct login *login_sasl(const char *mech, int plaintext_ok, struct conn *c, const char *proto,
                         login_cb cb, void *arg);
/* Feed the client's decoded message (first call: the initial response,
 * or has_data 0 when there was none). The callback answers. */
void login_step(struct login *l, const void *in, size_t len, int has_data);
/* A user name and password (IMAP LOGIN, POP3 USER/PASS). */
struct login *login_password(const char *user, const char *pw, size_t pwlen, struct conn *c,
                             const char *proto, login_cb cb, void *arg);
void login_free(struct login **l);

#endif
