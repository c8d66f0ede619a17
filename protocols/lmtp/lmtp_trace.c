/*
 * lmtp_trace: Return-Path, Delivered-To and Received (RFC 5321 §4.4).
 * See lmtp_trace.h for when the recipient-specific fields appear.
 *
 * The LHLO name is the client's text: characters that could end a comment
 * or a field are replaced, and it is cut at LMTP_DOMAIN_MAX, so a client
 * cannot write a header field of its own through it. The date is RFC 5322
 * §3.3 in UTC, written without the C library's locale.
 */
#include "protocols/lmtp/lmtp_trace.h"

#include <stdio.h>
#include <string.h>

#include "protocols/lmtp/lmtp_parser.h"

static void
sanitize(const char *in, char *out, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 1 < n && i < LMTP_DOMAIN_MAX; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = (c > 32 && c < 127 && c != '(' && c != ')' && c != '\\' && c != ';')
		                   ? (char)c
		                   : '_';
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, n, "unknown");
}

static void
rfc5322_date(time_t t, char *buf, size_t n)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, n, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
	         months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
lmtp_trace_headers(const struct lmtp_trace *t, struct nbuf *out)
{
	char helo[LMTP_DOMAIN_MAX + 1], date[64];
	sanitize(t->helo ? t->helo : "", helo, sizeof(helo));
	rfc5322_date(t->when, date, sizeof(date));
	const char *proto =
	        t->utf8 ? (t->tls ? "UTF8LMTPS" : "UTF8LMTP") : (t->tls ? "LMTPS" : "LMTP");
	int rc = nbuf_printf(out, "Return-Path: <%s>\r\n", t->sender);
	if (rc == 0 && t->rcpt)
		rc = nbuf_printf(out, "Delivered-To: <%s>\r\n", t->rcpt);
	if (rc == 0)
		rc = nbuf_printf(out,
		                 "Received: from %s ([%s])\r\n"
		                 "\tby %s (mailnode) with %s id %s",
		                 helo, t->peer_ip, t->host, proto, t->id);
	if (rc == 0 && t->rcpt)
		rc = nbuf_printf(out, "\r\n\tfor <%s>", t->rcpt);
	if (rc == 0)
		rc = nbuf_printf(out, ";\r\n\t%s\r\n", date);
	return rc == 0 ? 0 : -1;
}

void
lmtp_trace_peer_ip(const char *peer, char *buf, size_t n)
{
	if (peer[0] == '[') {
		const char *end = strchr(peer, ']');
		size_t len = end ? (size_t)(end - peer - 1) : strlen(peer + 1);
		snprintf(buf, n, "IPv6:%.*s", (int)len, peer + 1);
		return;
	}
	const char *colon = strrchr(peer, ':');
	size_t len = colon ? (size_t)(colon - peer) : strlen(peer);
	snprintf(buf, n, "%.*s", (int)len, peer);
}
