/*
 * lmtp: the LMTP front end (RFC 2033), final delivery into the store.
 *
 * The listener's data is the struct node; node/protocols.c routes the
 * "lmtp" listener here. Each accepted connection becomes one session
 * (lmtp_session.c) that owns its conn and its current delivery.
 */
#ifndef MAILNODE_LMTP_H
#define MAILNODE_LMTP_H

#include <uv.h>

struct listener;
struct node;

void lmtp_accept(struct listener *l, uv_stream_t *server);
/* Shared state: the host name used in greetings and Received headers. */
void lmtp_init(struct node *n);
void lmtp_deinit(struct node *n);

#endif
