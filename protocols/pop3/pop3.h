/*
 * pop3: the POP3 front end (RFC 1939, RFC 2449, RFC 2595, RFC 3206,
 * RFC 5034, RFC 8314). The accept callbacks and set-up are the ones
 * protocols/frontends.h declares; node/protocols.c routes the POP3 and
 * POP3S listeners to them.
 *
 * Cluster configuration keys read (mailnode config set KEY VALUE):
 *   pop3.seen_on_retr   "false" leaves retrieved messages unseen (default
 *                       true: \Seen at QUIT, so IMAP agrees)
 *   pop3.login_delay    seconds: RFC 2449 LOGIN-DELAY, advertised and
 *                       enforced on each node
 *   pop3.expire         days or "NEVER": RFC 2449 EXPIRE, advertised; "0"
 *                       also deletes retrieved messages at QUIT
 *   pop3.idle_timeout   seconds of inactivity before autologout (600)
 */
#ifndef MAILNODE_POP3_H
#define MAILNODE_POP3_H

#include "protocols/frontends.h"

#endif
