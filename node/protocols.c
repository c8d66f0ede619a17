/*
 * protocols: the listener-to-front-end table. See protocols.h.
 */
#include "node/protocols.h"

#include "node/http.h"

listener_accept_cb
protocols_accept_cb(enum listen_kind kind)
{
	switch (kind) {
	case LISTEN_HTTP:
		return http_accept;
	default:
		return NULL;
	}
}

void
protocols_init(struct node *n)
{
}

void
protocols_deinit(struct node *n)
{
}
