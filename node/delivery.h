/*
 * delivery: one message on its way into the store for its recipients,
 * independent of the front end that received it (LMTP today; Sieve
 * redirects and other sources later).
 *
 * The pipeline is a list of stages (delivery.c), so that scanning and
 * filtering plug in without touching protocol code:
 *
 *   resolve  per recipient, when it is added (RCPT): address → users
 *            (node/recipient.h); an unknown address is refused at once
 *   body     end of data: the body made durable on a quorum and parsed
 *            once (node/msgin.h), however many recipients share it
 *   scan     antivirus and spam verdicts (pass-through for now)
 *   filter   each user's Sieve script (pass-through for now: INBOX)
 *   store    one batch, one APPEND per distinct user, all sharing the
 *            body's hash, submitted through raft; per-command results
 *
 * A user reached by several recipients (two aliases, an alias and its
 * member) gets the message once. Every recipient ends with one status and
 * one structured log line per user it reached (trace id, sender,
 * recipient, user, mailbox, UID or error, size, time).
 *
 * Owner: the front end's session holds the delivery from MAIL FROM to the
 * last reply; delivery_free cancels whatever is still running (the
 * callback is then never called).
 */
#ifndef MAILNODE_DELIVERY_H
#define MAILNODE_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

struct delivery;

/* Random, printable; in the Received header, the replies and the logs. */
#define DELIVERY_TRACE_LEN 16
/* Distinct users one message may be stored for (one APPEND each, one
 * batch: below CMD_BATCH_CMDS_MAX). */
#define DELIVERY_USERS_MAX 1000
/* Room for the trace headers a front end prepends, beyond the size
 * limit on what the client sent. */
#define DELIVERY_HEADER_MAX 4096

enum delivery_status {
	DELIVERY_OK = 0,
	DELIVERY_EUNKNOWN, /* no such (enabled) user: permanent */
	DELIVERY_EQUOTA,   /* over quota: temporary */
	DELIVERY_ETOOBIG,  /* over the message size limit: permanent */
	DELIVERY_ETEMP,    /* the store cannot accept it now: temporary */
	DELIVERY_ELOOP,    /* aliases nest too deep: permanent */
	DELIVERY_ETOOMANY, /* too many users for one message: temporary */
	DELIVERY_STATUS_MAX
};

/* "ok", "unknown user", ... for logs. */
const char *delivery_status_name(enum delivery_status st);
/* 1 when a retry may succeed (4xx), 0 otherwise. */
int delivery_status_temporary(enum delivery_status st);

/* A new delivery from sender ("" for the null sender <>). proto and peer
 * are for the logs (proto must be a static string). Never fails. */
struct delivery *delivery_new(const char *proto, const char *peer, const char *sender);
const char *delivery_trace_id(const struct delivery *d);

/* Resolve a recipient (len bytes, local@domain) and, when it reaches at
 * least one user, accept it: it gets the next index. Returns DELIVERY_OK,
 * or why it was refused (EUNKNOWN, ELOOP, ETOOMANY, ETEMP), which is
 * logged. */
enum delivery_status delivery_rcpt_add(struct delivery *d, const char *address, size_t len);
/* Accepted recipients, in the order they were added. */
size_t delivery_rcpt_count(const struct delivery *d);
const char *delivery_rcpt_address(const struct delivery *d, size_t i);
/* The outcome, valid once the delivery is done (delivery_run's callback
 * or a 1 return). */
enum delivery_status delivery_rcpt_status(const struct delivery *d, size_t i);

/* Start the body: a temporary file taking max_size bytes from the client
 * plus the trace headers hdr (written first). Returns 0, or -EIO (the
 * message cannot be received now). */
int delivery_body_begin(struct delivery *d, uint64_t max_size, const void *hdr, size_t hlen);
/* Append the client's bytes. Returns 0; -EFBIG once max_size is passed
 * (the partial body is dropped at once and later bytes are only counted);
 * -EIO on a local failure (later bytes are ignored). */
int delivery_body_write(struct delivery *d, const void *p, size_t n);
/* Bytes the client sent so far (without the trace headers). */
uint64_t delivery_body_received(const struct delivery *d);
/* 0 while the body is being kept, -EFBIG past the limit, -EIO when it
 * could not be written (or was never started). */
int delivery_body_status(const struct delivery *d);

typedef void (*delivery_done_cb)(void *arg, struct delivery *d);
/* The end of data: run body → scan → filter → store. Returns 0 when the
 * pipeline runs: cb is called once every recipient has its status, never
 * from inside this call. Returns 1 when every recipient got its status at
 * once (the body was too big or could not be written); cb is not called. */
int delivery_run(struct delivery *d, delivery_done_cb cb, void *arg);
/* Give every recipient status st now (the body never arrived complete)
 * and log it. */
void delivery_fail(struct delivery *d, enum delivery_status st);
void delivery_free(struct delivery **d);

#endif
