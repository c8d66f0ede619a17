/*
 * status: the node's view of its cluster. See status.h.
 */
#include "node/status.h"

#include <string.h>

#include "node/node.h"

void
node_status_get(struct node *n, struct node_status *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	st_r->role = "standalone";
	st_r->leader_id = n->cfg->node_id;
	if (n->stopping)
		st_r->reasons[st_r->nreasons++] = "node is stopping";
}
