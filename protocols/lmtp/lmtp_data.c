/*
 * lmtp_data: the message body, DATA (RFC 5321 §4.1.1.4) and BDAT
 * (RFC 3030 §2), and the per-recipient replies (RFC 2033 §4.2, §4.3).
 *
 * Happy path: DATA (or the first BDAT) writes the trace headers
 * (lmtp_trace.h) into a new body, then the client's bytes are decoded
 * (dot-unstuffed for DATA, bare LF made CRLF for both: lmtp_dot.h) through
 * one loop-wide buffer straight into the delivery's temporary file, so a
 * session holds no more of a message than its bounded input buffer
 * whatever the message's size. At the end of data the delivery runs;
 * its callback sends one reply per accepted recipient, in RCPT order.
 *
 * Failure modes: a message passing limits.message_size is still read to
 * its end (what was written is dropped at once; the rest is only counted)
 * and every recipient gets 552 5.3.4; a body that cannot be written, or a
 * store that cannot commit, gives 451 4.3.0 per recipient. A refused BDAT
 * chunk is still read (its size is known) and dropped, then answered:
 * RFC 3030 §2 has the client stop after a 5xx, but we keep in step with
 * one that does not. BDAT LAST with no accepted recipient gets no reply at
 * all (RFC 2033 §4.3). A client gone mid-body leaves nothing: the session's
 * on_close frees the delivery, which removes the temporary file.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "node/delivery.h"
#include "node/lib/log.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "protocols/lmtp/lmtp_private.h"
#include "protocols/lmtp/lmtp_trace.h"

/* Decoded body bytes on their way to the delivery. One for the process:
 * only the loop thread decodes, and each use ends before the next. */
#define LMTP_DECODE_BUF (64 * 1024)
static uint8_t lmtp_decoded[LMTP_DECODE_BUF];

/* The trace headers, then the body file. Returns 0 or -1. */
static int
body_begin(struct lmtp_session *s)
{
	struct nbuf h;
	char ip[96];
	nbuf_init(&h, DELIVERY_HEADER_MAX);
	lmtp_trace_peer_ip(s->conn->peer, ip, sizeof(ip));
	struct lmtp_trace t = {
	        .sender = s->mail.address,
	        .rcpt = delivery_rcpt_count(s->dlv) == 1 ? delivery_rcpt_address(s->dlv, 0) : NULL,
	        .helo = s->helo,
	        .peer_ip = ip,
	        .host = lmtp__host(),
	        .id = delivery_trace_id(s->dlv),
	        .tls = conn_is_tls(s->conn),
	        .utf8 = s->mail.smtputf8,
	        .when = time(NULL),
	};
	int rc = lmtp_trace_headers(&t, &h);
	if (rc == 0)
		rc = delivery_body_begin(s->dlv, s->size_limit, nbuf_head(&h), nbuf_avail(&h));
	nbuf_deinit(&h);
	s->body_started = 1;
	if (rc != 0)
		log_error("lmtp", "event=body-failed trace=%s", delivery_trace_id(s->dlv));
	return rc == 0 ? 0 : -1;
}

/* One reply per accepted recipient, in RCPT order (RFC 2033 §4.2). */
static void
replies(struct lmtp_session *s)
{
	struct delivery *d = s->dlv;
	const char *id = delivery_trace_id(d);
	for (size_t i = 0; i < delivery_rcpt_count(d); i++) {
		const char *a = delivery_rcpt_address(d, i);
		switch (delivery_rcpt_status(d, i)) {
		case DELIVERY_OK:
			lmtp__reply(s, "250 2.0.0 <%s> %s Saved", a, id);
			break;
		case DELIVERY_EQUOTA:
			lmtp__reply(s, "452 4.2.2 <%s> Mailbox full: over quota", a);
			break;
		case DELIVERY_EUNKNOWN:
			lmtp__reply(s, "550 5.1.1 <%s> User unknown", a);
			break;
		case DELIVERY_ETOOBIG:
			lmtp__reply(s, "552 5.3.4 <%s> Message too big", a);
			break;
		case DELIVERY_ELOOP:
			lmtp__reply(s, "550 5.4.6 <%s> Alias expansion too deep", a);
			break;
		case DELIVERY_ETOOMANY:
			lmtp__reply(s, "452 4.5.3 <%s> Too many recipients", a);
			break;
		default:
			lmtp__reply(s, "451 4.3.0 <%s> %s Temporary failure, try again later", a,
			            id);
			break;
		}
	}
}

static void
delivered(void *arg, struct delivery *d)
{
	struct lmtp_session *s = arg;
	replies(s);
	s->state = LMTP_S_READY;
	lmtp__transaction_reset(s);
	lmtp__resume(s);
}

static void
data_end(struct lmtp_session *s)
{
	if (delivery_run(s->dlv, delivered, s) == 0) {
		s->state = LMTP_S_WAIT;
		conn_pause(s->conn);
		return;
	}
	replies(s);
	s->state = LMTP_S_READY;
	lmtp__transaction_reset(s);
}

void
lmtp__cmd_data(struct lmtp_session *s, const char *arg, size_t len)
{
	if (len != 0) {
		lmtp__reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->state != LMTP_S_MAIL) {
		lmtp__reply(s, s->state == LMTP_S_INIT ? "503 5.5.1 Send LHLO first"
		                                       : "503 5.5.1 Send MAIL first");
		return;
	}
	if (s->chunking) {
		lmtp__reply(s, "503 5.5.1 DATA after BDAT");
		return;
	}
	if (delivery_rcpt_count(s->dlv) == 0) {
		/* RFC 2033 §4.2 */
		lmtp__reply(s, "503 5.5.1 No valid recipients");
		return;
	}
	if (body_begin(s) != 0) {
		lmtp__reply(s, "451 4.3.0 Cannot receive a message now, try again later");
		return;
	}
	lmtp_dot_init(&s->dot, LMTP_DOT_DATA);
	s->state = LMTP_S_DATA;
	lmtp__reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
}

int
lmtp__data_feed(struct lmtp_session *s)
{
	struct nbuf *in = &s->conn->in;
	size_t avail = nbuf_avail(in), used = 0;
	const uint8_t *p = nbuf_head(in);
	while (used < avail) {
		size_t out;
		int end;
		used += lmtp_dot_decode(&s->dot, p + used, avail - used, lmtp_decoded,
		                        sizeof(lmtp_decoded), &out, &end);
		if (out > 0)
			delivery_body_write(s->dlv, lmtp_decoded, out);
		if (end) {
			nbuf_consume(in, used);
			data_end(s);
			return 1;
		}
	}
	nbuf_consume(in, used);
	return 0;
}

void
lmtp__cmd_bdat(struct lmtp_session *s, const char *arg, size_t len)
{
	uint64_t size;
	int last;
	if (lmtp_parse_bdat(arg, len, &size, &last) != 0) {
		/* Without a size we cannot find the chunk's end; what follows
		 * is read as commands and refused one by one. */
		lmtp__reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return;
	}
	s->chunk_left = s->chunk_size = size;
	s->chunk_last = last;
	s->chunk_discard = 0;
	s->chunk_reply = NULL;
	s->chunk_back = s->state;
	if (s->state != LMTP_S_MAIL) {
		s->chunk_discard = 1;
		s->chunk_reply = s->state == LMTP_S_INIT ? "503 5.5.1 Send LHLO first"
		                                         : "503 5.5.1 Send MAIL first";
	} else if (delivery_rcpt_count(s->dlv) == 0) {
		s->chunk_discard = 1;
		/* RFC 2033 §4.3: BDAT LAST then returns zero replies. */
		s->chunk_reply = last ? NULL : "503 5.5.1 No valid recipients";
	} else if (!s->chunking) {
		s->chunking = 1;
		lmtp_dot_init(&s->dot, LMTP_DOT_BDAT);
		body_begin(s); /* on failure the chunks are answered 451 */
	}
	s->state = LMTP_S_CHUNK;
}

static void
chunk_done(struct lmtp_session *s)
{
	if (s->chunk_discard) {
		s->chunk_discard = 0;
		s->state = s->chunk_back;
		if (s->chunk_reply)
			lmtp__reply(s, "%s", s->chunk_reply);
		if (s->state == LMTP_S_MAIL && s->chunk_last)
			lmtp__transaction_reset(s);
		return;
	}
	if (s->chunk_last) {
		data_end(s);
		return;
	}
	s->state = LMTP_S_MAIL;
	int st = delivery_body_status(s->dlv);
	if (st == -EFBIG)
		lmtp__reply(s, "552 5.3.4 Message too big");
	else if (st != 0)
		lmtp__reply(s, "451 4.3.0 Cannot receive the message now, try again later");
	else
		lmtp__reply(s, "250 2.0.0 %llu octets received", (unsigned long long)s->chunk_size);
}

int
lmtp__chunk_feed(struct lmtp_session *s)
{
	struct nbuf *in = &s->conn->in;
	while (s->chunk_left > 0) {
		size_t avail = nbuf_avail(in);
		if (avail == 0)
			return 0;
		size_t take = (size_t)MIN((uint64_t)avail, s->chunk_left);
		if (s->chunk_discard) {
			nbuf_consume(in, take);
			s->chunk_left -= take;
			continue;
		}
		size_t out;
		int end;
		size_t used = lmtp_dot_decode(&s->dot, nbuf_head(in), take, lmtp_decoded,
		                              sizeof(lmtp_decoded), &out, &end);
		if (out > 0)
			delivery_body_write(s->dlv, lmtp_decoded, out);
		nbuf_consume(in, used);
		s->chunk_left -= used;
	}
	chunk_done(s);
	return 1;
}
