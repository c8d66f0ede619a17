/*
 * status: what the node knows of its cluster role and replication progress,
 * for /health, /metrics and `mailnode status`. Filled by the replication
 * engine; a node without one (during start-up) reports itself unavailable.
 */
#ifndef MAILNODE_STATUS_H
#define MAILNODE_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct node;

#define NODE_STATUS_REASONS_MAX 8

struct node_status {
	const char *role; /* "leader", "follower", "candidate", "unavailable" */
	uint64_t leader_id;
	uint64_t term;
	uint64_t applied_index;
	uint64_t commit_index;
	size_t nreasons;
	const char *reasons[NODE_STATUS_REASONS_MAX]; /* why it cannot serve */
};

void node_status_get(struct node *n, struct node_status *st_r);

#endif
