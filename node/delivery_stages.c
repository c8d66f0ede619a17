/*
 * delivery_stages: the message stages before the store.
 *
 *   body    msgin_finish: MIME parse (in the thread pool) and durable as
 *           blobs/staged/<hash>, pushed to a quorum of voters meanwhile.
 *           Once per message, whatever the number of recipients.
 *   scan    PASS-THROUGH for now. This is where the libclamav verdict
 *           (from the scanning worker process) and the rspamd score are
 *           taken, once per message, and recorded on the delivery for the
 *           filter stage and the log.
 *   filter  PASS-THROUGH for now: every user's message goes to INBOX.
 *           This is where each user's Sieve script runs (with the scan
 *           results for virustest/spamtest) and picks mailboxes, flags,
 *           redirects or a rejection per user.
 */
#include <errno.h>

#include "node/delivery_internal.h"
#include "node/msgin.h"
#include "replication/repl.h"

static void
body_done(void *arg, int status, struct msgin *m)
{
	struct delivery *d = arg;
	if (status == 0)
		delivery__stage_done(d, DELIVERY_OK);
	else if (status == -EFBIG)
		delivery__stage_done(d, DELIVERY_ETOOBIG);
	else /* -EIO here, or REPL_EUNAVAILABLE: no quorum holds it */
		delivery__stage_done(d, DELIVERY_ETEMP);
}

void
delivery__stage_body(struct delivery *d)
{
	msgin_finish(d->body, body_done, d);
}

void
delivery__stage_scan(struct delivery *d)
{
	delivery__stage_done(d, DELIVERY_OK);
}

void
delivery__stage_filter(struct delivery *d)
{
	for (size_t i = 0; i < d->nusers; i++)
		if (d->users[i].status == DELIVERY_OK)
			d->users[i].mailbox = "INBOX";
	delivery__stage_done(d, DELIVERY_OK);
}
