/*
 * frontends: set-up and tear-down of the front ends that are built in.
 */
#include "protocols/frontends.h"

void
frontends_init(struct node *n)
{
	if (imap_init)
		imap_init(n);
	if (pop3_init)
		pop3_init(n);
	if (lmtp_init)
		lmtp_init(n);
	if (managesieve_init)
		managesieve_init(n);
}

void
frontends_deinit(struct node *n)
{
	if (managesieve_deinit)
		managesieve_deinit(n);
	if (lmtp_deinit)
		lmtp_deinit(n);
	if (pop3_deinit)
		pop3_deinit(n);
	if (imap_deinit)
		imap_deinit(n);
}
