/*
 * health: GET /health and GET /metrics on the HTTP listener.
 *
 * /health answers 200 with JSON while the node can serve clients and 503
 * with the reason otherwise, so that a load balancer stops sending clients
 * to a node that cannot serve them.
 */
#ifndef MAILNODE_HEALTH_H
#define MAILNODE_HEALTH_H

struct node;

/* Register the routes. */
void health_init(struct node *n);

#endif
