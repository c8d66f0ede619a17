/*
 * pop3_session: the POP3 front end's connections (RFC 1939), with the
 * RFC 2449 extension mechanism, STLS (RFC 2595 §4) and implicit TLS on the
 * POP3S port (RFC 8314 §3.3).
 *
 * Happy path: accept -> "+OK" greeting -> AUTHORIZATION (USER/PASS or
 * AUTH, pop3_auth.c) -> snapshot of INBOX -> TRANSACTION (pop3_trans.c,
 * pop3_retr.c) -> QUIT -> UPDATE: one replicated batch, answered once
 * this node applied it -> close.
 *
 * PIPELINING (RFC 2449 §6.6): every whole line buffered is run in order.
 * A command that waits (credentials in the pool, a body streamed as the
 * client reads it, the UPDATE batch in the log) pauses the connection;
 * the lines behind it stay buffered (bounded by POP3_IN_LIMIT) and run
 * when it is done. A client that pipelines faster than it reads is held
 * back too: no further command runs while more than CONN_HIGH_WATER of
 * output is queued.
 *
 * Failure modes: every protocol error is an -ERR reply (with an RFC 2449
 * §8 / RFC 3206 response code where one applies) and the session goes on;
 * a line longer than the limit is dropped whole with one -ERR. Three
 * failed authentications, an idle client (RFC 1939 §3 autologout, 10
 * minutes) and QUIT end it. A session that ends any way but QUIT deletes
 * nothing (RFC 1939 §6).
 *
 * Concurrent sessions of one user are allowed, each on its own snapshot:
 * see pop3_maildrop.c for why no [IN-USE] lock is taken.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/frontends.h"
#include "protocols/pop3/pop3.h"
#include "protocols/pop3/pop3_delay.h"
#include "protocols/pop3/pop3_private.h"

/* RFC 1939 §3: a response line is at most 512 octets with its CRLF. */
#define POP3_REPLY_MAX 512

enum { POP3_IN_AUTH = 1 << POP3_S_AUTHORIZATION, POP3_IN_TRANS = 1 << POP3_S_TRANSACTION };

struct pop3_cmd_def {
	unsigned states;
	uint8_t min_args, max_args;
	void (*fn)(struct pop3_session *s, const struct pop3_cmd *cmd);
};

static const struct pop3_cmd_def pop3_cmds[POP3_CMD_COUNT] = {
        [POP3_CMD_CAPA] = {POP3_IN_AUTH | POP3_IN_TRANS, 0, 0, pop3__capa},
        [POP3_CMD_USER] = {POP3_IN_AUTH, 1, 1, pop3__user},
        [POP3_CMD_PASS] = {POP3_IN_AUTH, 1, UINT8_MAX, pop3__pass},
        [POP3_CMD_AUTH] = {POP3_IN_AUTH, 0, 2, pop3__auth},
        [POP3_CMD_STLS] = {POP3_IN_AUTH, 0, 0, pop3__stls},
        [POP3_CMD_QUIT] = {POP3_IN_AUTH | POP3_IN_TRANS, 0, 0, pop3__quit},
        [POP3_CMD_STAT] = {POP3_IN_TRANS, 0, 0, pop3__stat},
        [POP3_CMD_LIST] = {POP3_IN_TRANS, 0, 1, pop3__list},
        [POP3_CMD_RETR] = {POP3_IN_TRANS, 1, 1, pop3__retr},
        [POP3_CMD_DELE] = {POP3_IN_TRANS, 1, 1, pop3__dele},
        [POP3_CMD_NOOP] = {POP3_IN_TRANS, 0, 0, pop3__noop},
        [POP3_CMD_RSET] = {POP3_IN_TRANS, 0, 0, pop3__rset},
        [POP3_CMD_TOP] = {POP3_IN_TRANS, 2, 2, pop3__top},
        [POP3_CMD_UIDL] = {POP3_IN_TRANS, 0, 1, pop3__uidl},
};

static struct {
	struct pop3_delay *delay;
	struct metric *accepted[2]; /* pop3, pop3s */
	struct metric *sessions;
	struct metric *commands[POP3_CMD_COUNT];
	struct metric *bytes;
	int64_t nsessions;
} pop3_g;

/* --- set-up ---------------------------------------------------------- */

void
pop3_init(struct node *n)
{
	pop3_g.delay = pop3_delay_create();
	pop3_g.accepted[0] = metric_counter("mailnode_connections_total", "proto=\"pop3\"",
	                                    "Client connections accepted");
	pop3_g.accepted[1] = metric_counter("mailnode_connections_total", "proto=\"pop3s\"",
	                                    "Client connections accepted");
	pop3_g.sessions = metric_gauge("mailnode_sessions", "proto=\"pop3\"",
	                               "Client sessions open (POP3 and POP3S)");
	for (int i = 0; i < POP3_CMD_COUNT; i++) {
		char labels[64];
		snprintf(labels, sizeof(labels), "proto=\"pop3\",command=\"%s\"",
		         pop3_cmd_name((enum pop3_cmd_id)i));
		pop3_g.commands[i] = metric_counter("mailnode_commands_total", labels,
		                                    "Client commands received");
	}
	pop3_g.bytes = metric_counter("mailnode_pop3_message_bytes_total", NULL,
	                              "Message octets sent by RETR and TOP");
}

void
pop3_deinit(struct node *n)
{
	pop3_delay_free(&pop3_g.delay);
}

struct pop3_delay *
pop3__delay(void)
{
	return pop3_g.delay;
}

void
pop3__count_bytes(struct pop3_session *s, uint64_t n)
{
	s->bytes += n;
	metric_add(pop3_g.bytes, n);
}

/* --- replies --------------------------------------------------------- */

static void
pop3_reply(struct pop3_session *s, const char *status, const char *code, const char *fmt,
           va_list ap)
{
	char buf[POP3_REPLY_MAX];
	int n = code ? snprintf(buf, sizeof(buf), "%s [%s] ", status, code)
	             : snprintf(buf, sizeof(buf), "%s ", status);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 2, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : MIN((size_t)m, sizeof(buf) - (size_t)n - 3));
	memcpy(buf + len, "\r\n", 2);
	conn_write(s->conn, buf, len + 2);
}

void
pop3__ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply(s, "+OK", NULL, fmt, ap);
	va_end(ap);
}

void
pop3__err(struct pop3_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_reply(s, "-ERR", code, fmt, ap);
	va_end(ap);
}

/* --- configuration --------------------------------------------------- */

int
pop3__config(struct pop3_session *s, const char *key, char *buf, size_t n)
{
	struct store_txn *t;
	if (s->node->store == NULL || store_read_begin(s->node->store, &t) != 0)
		return -1;
	int rc = store_config_get(t, key, buf, n);
	store_read_end(&t);
	return rc;
}

uint64_t
pop3__config_u64(struct pop3_session *s, const char *key, uint64_t dflt)
{
	struct store_txn *t;
	if (s->node->store == NULL || store_read_begin(s->node->store, &t) != 0)
		return dflt;
	uint64_t v = store_config_u64(t, key, dflt);
	store_read_end(&t);
	return v;
}

/* --- waiting and flow control ---------------------------------------- */

void
pop3__wait(struct pop3_session *s, enum pop3_wait w)
{
	s->wait = w;
	conn_pause(s->conn);
}

void
pop3__done_waiting(struct pop3_session *s)
{
	s->wait = POP3_W_NONE;
	if (!s->drain_wait)
		conn_resume(s->conn); /* runs buffered commands from the loop */
}

int
pop3__output_full(struct pop3_session *s)
{
	if (conn_pending(s->conn) < CONN_HIGH_WATER)
		return 0;
	/* What is still in the buffer may go out at once; only what stays
	 * queued in a write guarantees an on_drain later. */
	conn_flush(s->conn);
	return conn_pending(s->conn) >= CONN_HIGH_WATER;
}

void
pop3__close(struct pop3_session *s, const char *reason)
{
	s->end_reason = reason;
	conn_close(s->conn);
}

/* --- commands -------------------------------------------------------- */

static void
pop3_line(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_cmd cmd;
	const char *err;

	if (s->sasl != POP3_SASL_NONE) {
		pop3__sasl_line(s, line, len);
		return;
	}
	if (pop3_parser_parse(line, len, &cmd, &err) != 0) {
		metric_inc(pop3_g.commands[POP3_CMD_UNKNOWN]);
		pop3__err(s, NULL, "%s", err);
		return;
	}
	metric_inc(pop3_g.commands[cmd.id]);
	log_debug("pop3", "event=command command=%s peer=%s", pop3_cmd_name(cmd.id), s->conn->peer);
	/* Only AUTH may be longer than RFC 2449 §4 allows. */
	if (len > POP3_LINE_MAX && cmd.id != POP3_CMD_AUTH) {
		pop3__err(s, NULL, "Command line too long");
		return;
	}
	const struct pop3_cmd_def *d = &pop3_cmds[cmd.id];
	if (d->fn == NULL) {
		pop3__err(s, NULL, "Unknown command");
		return;
	}
	if (!(d->states & (1u << s->state))) {
		pop3__err(s, NULL,
		          s->state == POP3_S_AUTHORIZATION
		                  ? "Command not valid before authentication"
		                  : "Command not valid after authentication");
		return;
	}
	if (cmd.nargs < d->min_args || cmd.nargs > d->max_args) {
		pop3__err(s, NULL, "Wrong number of arguments for %s", pop3_cmd_name(cmd.id));
		return;
	}
	d->fn(s, &cmd);
}

/* Run the buffered commands, in order, until one waits. */
static void
pop3_input(struct pop3_session *s)
{
	struct conn *c = s->conn;
	/* Static: one loop thread, and commands are copied out of the input
	 * buffer so that a handler may reset it (STLS) or go on reading. */
	static char line[POP3_SASL_LINE_MAX + 1];

	while (!conn_closing(c) && s->wait == POP3_W_NONE) {
		if (pop3__output_full(s)) {
			s->drain_wait = 1;
			conn_pause(c);
			return;
		}
		/* Before authentication an AUTH line or a SASL response may be
		 * long; after it every command is short. */
		size_t max = s->state == POP3_S_AUTHORIZATION ? POP3_SASL_LINE_MAX : POP3_LINE_MAX;
		const char *p;
		size_t len;
		int rc = conn_getline(c, max, &p, &len);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (s->sasl != POP3_SASL_NONE)
				pop3__sasl_line(s, NULL, SIZE_MAX);
			else
				pop3__err(s, NULL, "Command line too long");
			continue;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		conn_line_consume(c);
		pop3_line(s, line, len);
		explicit_bzero(line, len); /* PASS and SASL responses */
	}
}

/* --- connection callbacks -------------------------------------------- */

static void
pop3_on_read(struct conn *c)
{
	pop3_input(c->data);
}

static void
pop3_on_drain(struct conn *c)
{
	struct pop3_session *s = c->data;
	if (s->wait == POP3_W_STREAM) {
		pop3__stream_drain(s);
		return;
	}
	if (s->drain_wait) {
		s->drain_wait = 0;
		if (s->wait == POP3_W_NONE)
			conn_resume(c);
	}
}

static void
pop3_on_timeout(struct conn *c)
{
	struct pop3_session *s = c->data;
	/* Credential checks and the UPDATE batch end on their own deadlines;
	 * a client that stopped reading a body does not. */
	if (s->wait == POP3_W_LOGIN || s->wait == POP3_W_UPDATE) {
		conn_touch(c);
		return;
	}
	/* Inside a body an -ERR would read as message text: just close. */
	if (s->wait != POP3_W_STREAM)
		pop3__err(s, NULL, "Autologout: idle for too long");
	pop3__close(s, "timeout");
}

static void
pop3_on_close(struct conn *c)
{
	struct pop3_session *s = c->data;
	pop3__stream_release(s);
	pop3__trans_release(s);
	pop3__auth_release(s);
	log_info("pop3",
	         "event=session-end user=%s peer=%s proto=%s state=%s retrieved=%u deleted=%u "
	         "bytes=%llu duration_ms=%llu reason=%s",
	         s->state != POP3_S_AUTHORIZATION ? s->u.address : "-", c->peer, s->proto,
	         s->state == POP3_S_AUTHORIZATION ? "authorization"
	         : s->state == POP3_S_TRANSACTION ? "transaction"
	                                          : "update",
	         s->retrieved, s->expunged, (unsigned long long)s->bytes,
	         (unsigned long long)(now_mono_ms() - s->started_ms), s->end_reason);
	pop3_maildrop_deinit(&s->md);
	metric_set(pop3_g.sessions, --pop3_g.nsessions);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

static const struct conn_handler pop3_handler = {
        .on_read = pop3_on_read,
        .on_drain = pop3_on_drain,
        .on_timeout = pop3_on_timeout,
        .on_close = pop3_on_close,
};

static void
pop3_session_accept(struct listener *l, uv_stream_t *server, int implicit_tls)
{
	struct node *n = l->data;
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	const char *proto = implicit_tls ? "pop3s" : "pop3";
	struct conn *c = conn_accept(server, l->is_pipe, &pop3_handler, s, POP3_IN_LIMIT, proto);
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->node = n;
	s->proto = proto;
	s->started_ms = now_mono_ms();
	s->end_reason = "disconnect";
	metric_inc(pop3_g.accepted[implicit_tls ? 1 : 0]);
	metric_set(pop3_g.sessions, ++pop3_g.nsessions);
	if (implicit_tls && (n->tls_server == NULL || conn_start_tls(c, n->tls_server, 1) != 0)) {
		s->end_reason = "tls-unavailable";
		conn_abort(c);
		return;
	}
	/* XXX RFC 1939 §3: the autologout timer "MUST be of at least 10
	 * minutes"; pop3.idle_timeout can set less (tests, operators who
	 * decide to). */
	uint64_t idle_s = pop3__config_u64(s, "pop3.idle_timeout", POP3_IDLE_DEFAULT_S);
	conn_set_timeout(c, (uint32_t)(MAX(MIN(idle_s, 86400u), 1u) * 1000));
	log_debug("pop3", "event=connect peer=%s proto=%s", c->peer, proto);
	/* With implicit TLS the greeting waits inside TLS for the handshake. */
	pop3__ok(s, "mailnode POP3 server ready");
	conn_start(c);
}

void
pop3_accept(struct listener *l, uv_stream_t *server)
{
	pop3_session_accept(l, server, 0);
}

void
pop3s_accept(struct listener *l, uv_stream_t *server)
{
	pop3_session_accept(l, server, 1);
}
