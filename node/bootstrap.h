/*
 * bootstrap: what a node does once after `mailnode init` or `join`:
 *   join.pending       ask a member to add this node (repeated until done)
 *   bootstrap.pending  on the first leader: the cluster's first commands
 *                      (and the demo account, after `init --demo`)
 * Each marker file is removed when its work is committed.
 */
#ifndef MAILNODE_BOOTSTRAP_H
#define MAILNODE_BOOTSTRAP_H

#include "node/config.h"

struct node;

/* Whether the data directory waits to join a cluster. */
int bootstrap_join_pending(const struct config *cfg);
/* Write the markers (from init/join). Return 0 or -1. */
int bootstrap_mark_init(const struct config *cfg, int demo);
int bootstrap_mark_join(const struct config *cfg, const char *peer);
/* Start working through the markers. */
void bootstrap_start(struct node *n);

#endif
