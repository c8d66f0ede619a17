/*
 * protocols: which front end accepts connections on which listener.
 */
#ifndef MAILNODE_PROTOCOLS_H
#define MAILNODE_PROTOCOLS_H

#include "node/config.h"
#include "node/net/listener.h"

struct node;

/* The accept callback for a listener kind, or NULL if not served yet. */
listener_accept_cb protocols_accept_cb(enum listen_kind kind);
/* Set up and tear down what the front ends share (after the store and
 * replication exist; after the loop ended). */
void protocols_init(struct node *n);
void protocols_deinit(struct node *n);

#endif
