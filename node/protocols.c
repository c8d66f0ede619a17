/*
 * protocols: the listener-to-front-end table. See protocols.h.
 *
 * Each front end exports `<proto>_accept` (protocols/<proto>/<proto>.h)
 * and optionally `<proto>_init`/`<proto>_deinit`.
 */
#include "node/protocols.h"

#include "node/http.h"
#include "node/login.h"
#include "node/node.h"
#include "protocols/frontends.h"

listener_accept_cb
protocols_accept_cb(enum listen_kind kind)
{
	switch (kind) {
	case LISTEN_HTTP:
		return http_accept;
	case LISTEN_IMAP:
		return imap_accept;
	case LISTEN_IMAPS:
		return imaps_accept;
	case LISTEN_POP3:
		return pop3_accept;
	case LISTEN_POP3S:
		return pop3s_accept;
	case LISTEN_LMTP:
		return lmtp_accept;
	case LISTEN_MANAGESIEVE:
		return managesieve_accept;
	default:
		return NULL;
	}
}

void
protocols_init(struct node *n)
{
	login_init(n);
	frontends_init(n);
}

void
protocols_deinit(struct node *n)
{
	frontends_deinit(n);
	login_deinit();
}
