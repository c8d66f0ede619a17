/*
 * lmtp_session: one LMTP connection (RFC 2033) on the shared conn type.
 *
 * Happy path: accept, greet "220 <host> LMTP", then the command loop:
 * every whole line buffered is run in order (PIPELINING, RFC 2920), its
 * replies queued and sent together at the end of the loop iteration.
 * DATA and BDAT switch the loop to body mode (lmtp_data.c), which streams
 * the bytes into the delivery as they arrive; at the end of data the loop
 * pauses input while the delivery runs and resumes after the last
 * per-recipient reply, so commands pipelined behind the message wait in
 * the bounded input buffer.
 *
 * Bounds: input is at most LMTP_IN_LIMIT unconsumed bytes (conn), a
 * command line at most LMTP_LINE_MAX_INIT before LHLO and LMTP_LINE_MAX
 * after (a longer one gets one 500 and the rest of it is skipped), and
 * replies waiting in libuv at most CONN_HIGH_WATER before input is paused
 * until they drain (a client that pipelines but never reads). Bad input
 * is a reply, never the end of the session; the idle timeout (RFC 5321
 * §4.5.3.2.7) ends it with 421.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/frontends.h"
#include "protocols/lmtp/lmtp.h"
#include "protocols/lmtp/lmtp_private.h"

static struct {
	char host[LMTP_DOMAIN_MAX + 1];
	struct metric *accepted;
	struct metric *sessions;
	int64_t open;
} lmtp_g;

const char *
lmtp__host(void)
{
	if (lmtp_g.host[0] == '\0') {
		if (gethostname(lmtp_g.host, sizeof(lmtp_g.host) - 1) != 0 ||
		    lmtp_g.host[0] == '\0')
			snprintf(lmtp_g.host, sizeof(lmtp_g.host), "localhost");
		for (char *p = lmtp_g.host; *p; p++)
			if (*p <= ' ' || *p >= 127)
				*p = '_';
	}
	return lmtp_g.host;
}

void
lmtp_init(struct node *n)
{
	lmtp__host();
	lmtp_g.accepted = metric_counter("mailnode_connections_total", "proto=\"lmtp\"",
	                                 "Client connections accepted");
	lmtp_g.sessions =
	        metric_gauge("mailnode_sessions", "proto=\"lmtp\"", "Client sessions open (LMTP)");
}

void
lmtp_deinit(struct node *n)
{
}

uint64_t
lmtp__size_limit(void)
{
	struct node *n = node_get();
	struct store_txn *t;
	uint64_t v = LMTP_MESSAGE_SIZE_DEFAULT;
	if (n && n->store && store_read_begin(n->store, &t) == 0) {
		v = store_config_u64(t, "limits.message_size", LMTP_MESSAGE_SIZE_DEFAULT);
		store_read_end(&t);
	}
	return v;
}

void
lmtp__reply(struct lmtp_session *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3; /* cannot happen: replies are short */
	buf[n++] = '\r';
	buf[n++] = '\n';
	conn_write(s->conn, buf, (size_t)n);
}

void
lmtp__transaction_reset(struct lmtp_session *s)
{
	delivery_free(&s->dlv);
	memset(&s->mail, 0, sizeof(s->mail));
	s->chunking = 0;
	s->body_started = 0;
	s->chunk_left = 0;
	s->chunk_discard = 0;
	s->chunk_reply = NULL;
	if (s->state != LMTP_S_INIT)
		s->state = LMTP_S_READY;
}

void
lmtp__resume(struct lmtp_session *s)
{
	if (s->state != LMTP_S_WAIT && !s->out_blocked)
		conn_resume(s->conn);
}

/* One command line, if a whole one is buffered. Returns 1 when one was
 * handled, 0 when more input is needed. */
static int
lmtp_command_next(struct lmtp_session *s)
{
	const char *line;
	size_t len;
	size_t max = s->state == LMTP_S_INIT ? LMTP_LINE_MAX_INIT : LMTP_LINE_MAX;
	int rc = conn_getline(s->conn, max, &line, &len);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		lmtp__reply(s, "500 5.5.2 Line too long");
		return 1;
	}
	memcpy(s->line, line, len);
	s->line[len] = '\0';
	conn_line_consume(s->conn);
	if (memchr(s->line, '\0', len) != NULL) {
		lmtp__reply(s, "500 5.5.2 Syntax error: NUL in command");
		return 1;
	}
	lmtp__dispatch(s, s->line, len);
	return 1;
}

static void
lmtp_process(struct lmtp_session *s)
{
	struct conn *c = s->conn;
	while (!conn_closing(c) && s->state != LMTP_S_WAIT) {
		/* Count only bytes handed to libuv: their write callback (and
		 * so on_drain) is sure to come. Replies still in c->out may be
		 * taken whole by the kernel (uv_try_write), with no callback to
		 * resume us; they are bounded by what one read's commands can
		 * produce. */
		if (c->queued > CONN_HIGH_WATER) {
			s->out_blocked = 1;
			conn_pause(c);
			return;
		}
		int progressed;
		if (s->state == LMTP_S_DATA)
			progressed = lmtp__data_feed(s);
		else if (s->state == LMTP_S_CHUNK)
			progressed = lmtp__chunk_feed(s);
		else
			progressed = lmtp_command_next(s);
		if (!progressed)
			return;
	}
}

static void
lmtp_on_read(struct conn *c)
{
	lmtp_process(c->data);
}

static void
lmtp_on_drain(struct conn *c)
{
	struct lmtp_session *s = c->data;
	if (s->out_blocked) {
		s->out_blocked = 0;
		lmtp__resume(s);
	}
}

static void
lmtp_on_timeout(struct conn *c)
{
	struct lmtp_session *s = c->data;
	if (s->state == LMTP_S_WAIT) {
		conn_touch(c); /* our own wait, not the client's */
		return;
	}
	log_info("lmtp", "event=timeout peer=%s", c->peer);
	lmtp__reply(s, "421 4.4.2 %s Timeout, closing connection", lmtp__host());
	conn_close(c);
}

static void
lmtp_on_tls(struct conn *c)
{
	log_debug("lmtp", "event=tls peer=%s", c->peer);
}

static void
lmtp_on_close(struct conn *c)
{
	struct lmtp_session *s = c->data;
	if (s == NULL)
		return;
	if (s->dlv != NULL)
		log_info("lmtp", "event=aborted peer=%s trace=%s state=%d", c->peer,
		         delivery_trace_id(s->dlv), (int)s->state);
	delivery_free(&s->dlv);
	log_debug("lmtp", "event=disconnect peer=%s", c->peer);
	lmtp_g.open--;
	if (lmtp_g.sessions)
		metric_set(lmtp_g.sessions, lmtp_g.open);
	free(s);
}

/* RFC 5321 §3.8: a server that must stop answers 421 and closes. */
static void
lmtp_on_shutdown(struct conn *c)
{
	conn_puts(c, "421 4.3.2 Service shutting down, try again later\r\n");
}

static const struct conn_handler lmtp_handler = {
        .on_read = lmtp_on_read,
        .on_drain = lmtp_on_drain,
        .on_timeout = lmtp_on_timeout,
        .on_tls = lmtp_on_tls,
        .on_close = lmtp_on_close,
        .on_shutdown = lmtp_on_shutdown,
};

void
lmtp_accept(struct listener *l, uv_stream_t *server)
{
	struct lmtp_session *s = xcalloc(1, sizeof(*s));
	struct conn *c = conn_accept(server, l->is_pipe, &lmtp_handler, s, LMTP_IN_LIMIT, "lmtp");
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->state = LMTP_S_INIT;
	lmtp_g.open++;
	if (lmtp_g.sessions) {
		metric_inc(lmtp_g.accepted);
		metric_set(lmtp_g.sessions, lmtp_g.open);
	}
	conn_set_timeout(c, LMTP_IDLE_MS);
	log_debug("lmtp", "event=connect peer=%s", c->peer);
	lmtp__reply(s, "220 %s LMTP mailnode ready", lmtp__host());
	conn_start(c);
}
