/*
 * node: one mailnode process serving one cluster member. It owns the loop,
 * the listeners, the TLS contexts, the store and the replication engine,
 * and wires the protocol front ends to them.
 *
 * Owner: `mailnode serve` (node/serve.c) creates the one node of the
 * process; node_get() returns it to the modules that need the shared parts.
 */
#ifndef MAILNODE_NODE_H
#define MAILNODE_NODE_H

#include <stdint.h>
#include <uv.h>

#include "node/config.h"
#include "node/net/listener.h"

struct tls_ctx;
struct store;
struct repl;

struct node {
	uv_loop_t *loop;
	struct config *cfg;
	struct listener listeners[LISTEN_COUNT];
	struct listener admin;
	struct tls_ctx *tls_server; /* client-facing TLS (IMAPS, STARTTLS, ...) */
	struct store *store;
	struct stager *stager; /* bodies made durable in groups */
	struct repl *repl;
	uv_signal_t sigint, sigterm;
	uv_timer_t tasks; /* start-up tasks: join, first commands */
	int admin_flag;   /* 1: passed to the admin listener */
	int public_flag;  /* 0: passed to the public HTTP listener */
	int stopping;
	int exit_code;
	int join_pending;
	int bootstrap_pending;
	int bootstrap_inflight;
	uint64_t started_ms;
};

struct node *node_get(void);

/* `mailnode serve`: run until SIGINT/SIGTERM. Returns the exit code. */
int node_serve(struct config *cfg);
/* Ask the node to stop (from a signal or a fatal condition). */
void node_stop(struct node *n, int exit_code, const char *why);
/* The cluster address of this node as peers reach it. */
const char *node_cluster_address(const struct config *cfg);

#endif
