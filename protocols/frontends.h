/*
 * frontends: the accept callbacks of the protocol front ends, one per
 * listener kind (node/protocols.c maps listeners to them). A front end
 * that is not built into this binary is a NULL weak symbol: its listener
 * is then not opened.
 */
#ifndef MAILNODE_FRONTENDS_H
#define MAILNODE_FRONTENDS_H

#include <uv.h>

struct listener;
struct node;

#define FRONTEND_WEAK __attribute__((weak))

/* The listener's data is the struct node. */
void imap_accept(struct listener *l, uv_stream_t *server) FRONTEND_WEAK;
void imaps_accept(struct listener *l, uv_stream_t *server) FRONTEND_WEAK;
void pop3_accept(struct listener *l, uv_stream_t *server) FRONTEND_WEAK;
void pop3s_accept(struct listener *l, uv_stream_t *server) FRONTEND_WEAK;
void lmtp_accept(struct listener *l, uv_stream_t *server) FRONTEND_WEAK;
void managesieve_accept(struct listener *l, uv_stream_t *server) FRONTEND_WEAK;

/* Optional set-up and tear-down of each front end's shared state. */
void imap_init(struct node *n) FRONTEND_WEAK;
void imap_deinit(struct node *n) FRONTEND_WEAK;
void pop3_init(struct node *n) FRONTEND_WEAK;
void pop3_deinit(struct node *n) FRONTEND_WEAK;
void lmtp_init(struct node *n) FRONTEND_WEAK;
void lmtp_deinit(struct node *n) FRONTEND_WEAK;
void managesieve_init(struct node *n) FRONTEND_WEAK;
void managesieve_deinit(struct node *n) FRONTEND_WEAK;

void frontends_init(struct node *n);
void frontends_deinit(struct node *n);

#endif
