/*
 * lmtp_trace: the header fields prepended to a delivered message.
 *
 *   Return-Path: <sender>                     RFC 5321 §4.4, RFC 5322 §3.6.7
 *   Delivered-To: <recipient>                 only with exactly one recipient
 *   Received: from <LHLO name> ([ip])
 *   	by <host> (mailnode) with LMTP id <trace id>
 *   	for <recipient>; <date>                "for" only with one recipient
 *
 * One body is shared by every recipient of a message (it is stored once),
 * so nothing recipient-specific may appear in it when there are several:
 * a Delivered-To or "for" naming one recipient would show every other
 * recipient (possibly a Bcc) who that was. Dovecot's LMTP behaves the
 * same way. The protocol keyword follows RFC 3848 and RFC 6531 §3.7.3:
 * LMTP, LMTPS with TLS, UTF8LMTP/UTF8LMTPS with SMTPUTF8.
 */
#ifndef MAILNODE_LMTP_TRACE_H
#define MAILNODE_LMTP_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "node/lib/nbuf.h"

struct lmtp_trace {
	const char *sender;  /* reverse-path mailbox, "" for <> */
	const char *rcpt;    /* the only recipient, or NULL when several */
	const char *helo;    /* the LHLO argument (sanitised here) */
	const char *peer_ip; /* "192.0.2.1" or "IPv6:2001:db8::1" (no brackets) */
	const char *host;    /* this node's name */
	const char *id;      /* the delivery's trace id */
	int tls;
	int utf8;
	time_t when;
};

/* Append the fields to out, CRLF-terminated. Returns 0, or -1 when out's
 * limit was reached (out then holds a partial header: discard it). */
int lmtp_trace_headers(const struct lmtp_trace *t, struct nbuf *out);

/* The peer address part of a conn's "ip:port" / "[ipv6]:port" text, in
 * address-literal form without brackets, into buf. */
void lmtp_trace_peer_ip(const char *peer, char *buf, size_t n);

#endif
