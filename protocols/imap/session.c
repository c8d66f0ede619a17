/*
 * session: the IMAP front end's connections (RFC 3501 §2.3, §3, §5.5,
 * §7.5), on plaintext with STARTTLS (RFC 3501 §6.2.1) and on the IMAPS
 * port with implicit TLS (RFC 8314 §3.3).
 *
 * Happy path: accept -> "* OK [CAPABILITY ...]" greeting -> commands,
 * pipelined: each whole command is parsed (imap_parser_next, with "+"
 * continuations for synchronising literals) and dispatched in order; a
 * command that waits (credentials in the pool, a batch in the replicated
 * log, a body streamed as the client reads, a SEARCH in the pool) pauses
 * the input, and the commands behind it stay buffered until it answered.
 * After every command the parser's memory and the connection's buffers are
 * released when nothing else is pending, so an idle session costs its
 * structs only.
 *
 * Failure modes: a syntax error or a limit is a BAD (with [LIMIT] or
 * [TOOBIG]) and the parser resynchronises at the next line; a literal too
 * big to skip, too many authentication failures and the autologout timer
 * (RFC 3501 §5.4: 30 minutes once authenticated, shorter before) end the
 * session with "* BYE". A client that sends commands faster than
 * imap.commands_per_second is slowed down, not refused; one that does not
 * read its output stops being read.
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
#include "protocols/imap/imap_private.h"

enum {
	IN_NOAUTH = 1 << IMAP_S_NOAUTH,
	IN_AUTH = 1 << IMAP_S_AUTH,
	IN_SEL = 1 << IMAP_S_SELECTED,
	IN_ANY = IN_NOAUTH | IN_AUTH | IN_SEL,
	IN_LOGGED = IN_AUTH | IN_SEL,
};

static const struct imap_cmd_def imap_cmds[] = {
        {"CAPABILITY", IN_ANY, 0, imap__cmd_capability},
        {"NOOP", IN_ANY, 0, imap__cmd_noop},
        {"LOGOUT", IN_ANY, DEF_NOSYNC, imap__cmd_logout},
        {"ID", IN_ANY, 0, imap__cmd_id},
        {"STARTTLS", IN_NOAUTH, DEF_NOSYNC, imap__cmd_starttls},
        {"LOGIN", IN_NOAUTH, DEF_NOSYNC, imap__cmd_login},
        {"AUTHENTICATE", IN_NOAUTH, DEF_NOSYNC, imap__cmd_authenticate},
        {"ENABLE", IN_AUTH, 0, imap__cmd_enable},
        {"COMPRESS", IN_LOGGED, 0, imap__cmd_compress},
        {"UNAUTHENTICATE", IN_LOGGED, DEF_NOSYNC, imap__cmd_unauthenticate},
        {"SELECT", IN_LOGGED, DEF_NOSYNC, imap__cmd_select},
        {"EXAMINE", IN_LOGGED, DEF_NOSYNC, imap__cmd_select},
        {"CREATE", IN_LOGGED, 0, imap__cmd_create},
        {"DELETE", IN_LOGGED, 0, imap__cmd_delete},
        {"RENAME", IN_LOGGED, 0, imap__cmd_rename},
        {"SUBSCRIBE", IN_LOGGED, 0, imap__cmd_subscribe},
        {"UNSUBSCRIBE", IN_LOGGED, 0, imap__cmd_subscribe},
        {"LIST", IN_LOGGED, 0, imap__cmd_list},
        {"LSUB", IN_LOGGED, 0, imap__cmd_list},
        {"XLIST", IN_LOGGED, 0, imap__cmd_list},
        {"NAMESPACE", IN_LOGGED, 0, imap__cmd_namespace},
        {"STATUS", IN_LOGGED, 0, imap__cmd_status},
        {"APPEND", IN_LOGGED, 0, imap__cmd_append},
        {"GETQUOTA", IN_LOGGED, 0, imap__cmd_getquota},
        {"GETQUOTAROOT", IN_LOGGED, 0, imap__cmd_getquotaroot},
        {"SETQUOTA", IN_LOGGED, 0, imap__cmd_setquota},
        {"IDLE", IN_LOGGED, 0, imap__cmd_idle},
        {"CHECK", IN_SEL, 0, imap__cmd_check},
        {"CLOSE", IN_SEL, DEF_NOSYNC, imap__cmd_close},
        {"UNSELECT", IN_SEL, DEF_NOSYNC, imap__cmd_unselect},
        {"EXPUNGE", IN_SEL, DEF_UID, imap__cmd_expunge},
        {"SEARCH", IN_SEL, DEF_UID | DEF_NOEXP, imap__cmd_search},
        {"SORT", IN_SEL, DEF_UID | DEF_NOEXP, imap__cmd_sort},
        {"THREAD", IN_SEL, DEF_UID | DEF_NOEXP, imap__cmd_thread},
        {"CANCELUPDATE", IN_SEL, 0, imap__cmd_cancelupdate},
        {"FETCH", IN_SEL, DEF_UID | DEF_NOEXP, imap__cmd_fetch},
        {"STORE", IN_SEL, DEF_UID | DEF_NOEXP, imap__cmd_store},
        {"COPY", IN_SEL, DEF_UID, imap__cmd_copy},
        {"MOVE", IN_SEL, DEF_UID, imap__cmd_copy},
        {"REPLACE", IN_SEL, DEF_UID, imap__cmd_replace},
        {"GENURLAUTH", IN_LOGGED, 0, imap__cmd_genurlauth},
        {"RESETKEY", IN_LOGGED, 0, imap__cmd_resetkey},
        {"URLFETCH", IN_LOGGED, 0, imap__cmd_urlfetch},
};
#define IMAP_NCMDS ARRAY_SIZE(imap_cmds)

static struct {
	struct node *node;
	struct metric *accepted[2]; /* imap, imaps */
	struct metric *sessions;
	struct metric *commands[IMAP_NCMDS + 1]; /* + unknown */
	struct metric *errors;
	struct metric *bytes;
	int64_t nsessions;
} imap_g;

static void imap_input(struct imap_session *s);

/* --- set-up ---------------------------------------------------------- */

void
imap_init(struct node *n)
{
	imap_g.node = n;
	imap_g.accepted[0] = metric_counter("mailnode_connections_total", "proto=\"imap\"",
	                                    "Client connections accepted");
	imap_g.accepted[1] = metric_counter("mailnode_connections_total", "proto=\"imaps\"",
	                                    "Client connections accepted");
	imap_g.sessions = metric_gauge("mailnode_sessions", "proto=\"imap\"",
	                               "Client sessions open (IMAP and IMAPS)");
	for (size_t i = 0; i <= IMAP_NCMDS; i++) {
		char labels[80];
		snprintf(labels, sizeof(labels), "proto=\"imap\",command=\"%s\"",
		         i < IMAP_NCMDS ? imap_cmds[i].name : "unknown");
		imap_g.commands[i] = metric_counter("mailnode_commands_total", labels,
		                                    "Client commands received");
	}
	imap_g.errors = metric_counter("mailnode_imap_protocol_errors_total", NULL,
	                               "IMAP commands answered BAD by the parser");
	imap_g.bytes = metric_counter("mailnode_imap_message_bytes_total", NULL,
	                              "Message octets sent by FETCH");
	imap__sched_init(n);
}

void
imap_deinit(struct node *n)
{
	imap__sched_deinit();
}

struct store *
imap__store(void)
{
	return imap_g.node ? imap_g.node->store : node_get()->store;
}

uint64_t
imap__config_u64(const char *key, uint64_t dflt)
{
	struct store_txn *t;
	struct store *st = imap__store();
	if (st == NULL || store_read_begin(st, &t) != 0)
		return dflt;
	uint64_t v = store_config_u64(t, key, dflt);
	store_read_end(&t);
	return v;
}

uint64_t
imap__message_size_max(void)
{
	uint64_t v = imap__config_u64("limits.message_size", IMAP_MESSAGE_SIZE_DEFAULT);
	return v == 0 ? IMAP_MESSAGE_SIZE_DEFAULT : v;
}

void
imap__count_out(struct imap_session *s, uint64_t n)
{
	s->bytes_out += n;
	metric_add(imap_g.bytes, n);
}

/* The parser's limits for the session's state, from the configuration. */
static void
imap_limits(struct imap_session *s, struct imap_parser_limits *l)
{
	bool authed = s->state != IMAP_S_NOAUTH;
	imap_parser_limits_init(l, authed);
	if (!authed) {
		l->line_max = IMAP_PREAUTH_LINE_MAX;
		return;
	}
	uint64_t line = imap__config_u64("limits.imap_line", IMAP_LINE_DEFAULT);
	uint64_t depth = imap__config_u64("limits.imap_depth", IMAP_DEPTH_DEFAULT);
	l->line_max = (size_t)MIN(MAX(line, (uint64_t)IMAP_LINE_MIN), (uint64_t)IMAP_LINE_MAX);
	l->depth_max = (unsigned)MIN(MAX(depth, (uint64_t)2), (uint64_t)IMAP_DEPTH_HARD_MAX);
	/* APPEND's literal is judged by the sink against limits.message_size,
	 * so that the refusal is NO [TOOBIG] (RFC 7889 §4), not a BAD. */
	l->append_literal_max = UINT64_MAX;
	l->literal_total_max = UINT64_MAX;
}

static struct imap_parser *
imap_parser_get(struct imap_session *s)
{
	if (s->parser == NULL) {
		struct imap_parser_limits l;
		imap_limits(s, &l);
		s->parser = xmalloc(sizeof(*s->parser));
		imap_parser_init(s->parser, &l);
		imap_parser_set_sink(s->parser, imap__literal_sink, s);
	}
	return s->parser;
}

/* Free the parser when it holds nothing: between commands, no input. */
static void
imap_parser_release(struct imap_session *s)
{
	if (s->parser == NULL || imap_parser_in_command(s->parser) || nbuf_avail(&s->conn->in) > 0)
		return;
	/* A running command's arguments live in the parser; IDLE saved what
	 * it needs (its tag) and may let it go. */
	if ((s->flags & IMAP_SF_CMD) && (s->cmd != NULL || s->wait != IMAP_W_IDLE))
		return;
	imap_parser_deinit(s->parser);
	free(s->parser);
	s->parser = NULL;
}

/* Nothing to do until the client speaks: hand the output to the kernel
 * now, so that the connection can drop its buffers (and TLS its BIOs'
 * storage), and free the parser. */
static void
imap_release_idle(struct imap_session *s)
{
	imap_parser_release(s);
	conn_flush(s->conn);
	conn_idle(s->conn);
}

struct arena *
imap__arena(struct imap_session *s)
{
	return imap_parser_arena(imap_parser_get(s));
}

/* The running command is over: forget it and read what is pipelined. */
void
imap__cmd_end(struct imap_session *s)
{
	s->flags &= ~(uint32_t)IMAP_SF_CMD;
	s->cmd = NULL;
	s->def = NULL;
	s->op = NULL;
	s->op_release = NULL;
	s->cont = NULL;
	s->submit_cb = NULL;
	if (s->state == IMAP_S_LOGOUT)
		return;
	imap__resume(s);
	if (!(s->flags & IMAP_SF_IN_INPUT))
		imap_release_idle(s);
}

/* --- authentication state -------------------------------------------- */

void
imap__authenticated(struct imap_session *s, const struct login_user *u)
{
	s->state = IMAP_S_AUTH;
	s->user_id = u->id;
	free(s->user);
	s->user = xstrdup(u->address);
	struct imap_parser_limits l;
	imap_limits(s, &l);
	if (s->parser)
		imap_parser_set_limits(s->parser, &l);
	uint64_t t = imap__config_u64("imap.idle_timeout", IMAP_IDLE_TIMEOUT_DEFAULT_S);
	conn_set_timeout(s->conn, (uint32_t)(MIN(MAX(t, 1u), 86400u) * 1000));
}

void
imap__unauthenticated(struct imap_session *s)
{
	/* RFC 8437 §3: as if the connection were new, TLS aside: no mailbox,
	 * no user, nothing ENABLEd, the pre-authentication limits. */
	if (s->sel)
		imap__view_close(s);
	s->state = IMAP_S_NOAUTH;
	s->user_id = 0;
	free(s->user);
	s->user = NULL;
	s->auth_failures = 0;
	s->flags &=
	        ~(uint32_t)(IMAP_SF_UTF8 | IMAP_SF_UTF8ACCEPT | IMAP_SF_REV2 | IMAP_SF_CONDSTORE |
	                    IMAP_SF_QRESYNC | IMAP_SF_HMS_DUE | IMAP_SF_CHANGED);
	struct imap_parser_limits l;
	imap_limits(s, &l);
	if (s->parser)
		imap_parser_set_limits(s->parser, &l);
	uint64_t t = imap__config_u64("imap.login_timeout", IMAP_LOGIN_TIMEOUT_DEFAULT_S);
	conn_set_timeout(s->conn, (uint32_t)(MIN(MAX(t, 1u), 86400u) * 1000));
}

/* --- the command loop ------------------------------------------------ */

static void
imap_dispatch(struct imap_session *s, const struct imap_cmd *cmd)
{
	size_t i;
	for (i = 0; i < IMAP_NCMDS; i++)
		if (strcmp(imap_cmds[i].name, cmd->name) == 0)
			break;
	metric_inc(imap_g.commands[i]);
	s->ncommands++;
	s->cmd = cmd;
	s->def = NULL;
	s->flags |= IMAP_SF_CMD;
	if (log_enabled(LOG_DEBUG))
		log_debug("imap", "event=command command=%s%s user=%s peer=%s",
		          cmd->uid ? "UID " : "", cmd->name, s->user ? s->user : "-",
		          s->conn->peer);
	if (i == IMAP_NCMDS) {
		imap__bad(s, "Unknown command %.*s", IMAP_NAME_MAX, cmd->name);
		return;
	}
	const struct imap_cmd_def *d = &imap_cmds[i];
	if (cmd->uid && !(d->flags & DEF_UID)) {
		imap__bad(s, "UID %s is not a command", d->name);
		return;
	}
	if (!(d->states & (1u << s->state))) {
		imap__bad(s,
		          s->state == IMAP_S_NOAUTH     ? "%s: authenticate first"
		          : s->state == IMAP_S_SELECTED ? "%s: not valid with a mailbox selected"
		          : (d->states & IN_SEL)        ? "%s: no mailbox selected"
		                                        : "%s: already authenticated",
		          d->name);
		return;
	}
	s->def = d;
	d->fn(s, cmd);
}

/* The parser refused the command; it resynchronises by itself. */
static void
imap_parse_error(struct imap_session *s)
{
	const struct imap_parser_error *e = imap_parser_error(s->parser);
	enum imap_code code = s->append_code;
	char badurl[IMAP_REPLY_MAX];
	s->append_code = IMAP_CODE_NONE;
	if (code == IMAP_CODE_BADURL)
		imap__append_badurl(s, badurl, sizeof(badurl));
	imap__append_release(s);
	metric_inc(imap_g.errors);
	if (e->fatal) {
		const char *rc = e->resp_code ? e->resp_code : imap__code_name(code);
		imap__bye(s, "protocol-error", "%s%s%s%s", rc ? "[" : "", rc ? rc : "",
		          rc ? "] " : "", e->text);
		return;
	}
	const char *tag = e->tag ? e->tag : "*";
	if (e->code == IMAP_PERR_SINK && code != IMAP_CODE_NONE) {
		char line[2 * IMAP_REPLY_MAX];
		snprintf(line, sizeof(line), "%s NO [%s] %s\r\n", tag,
		         code == IMAP_CODE_BADURL ? badurl : imap__code_name(code), e->text);
		conn_puts(s->conn, line);
		return;
	}
	char line[IMAP_REPLY_MAX];
	snprintf(line, sizeof(line), "%s BAD %s%s%s%s\r\n", tag, e->resp_code ? "[" : "",
	         e->resp_code ? e->resp_code : "", e->resp_code ? "] " : "", e->text);
	conn_puts(s->conn, line);
}

static void
imap_input(struct imap_session *s)
{
	struct conn *c = s->conn;
	if (s->flags & IMAP_SF_IN_INPUT)
		return;
	s->flags |= IMAP_SF_IN_INPUT;
	while (!conn_closing(c)) {
		bool line_mode = s->wait == IMAP_W_IDLE || s->wait == IMAP_W_SASL;
		if (!line_mode && (s->wait != IMAP_W_NONE || (s->flags & IMAP_SF_CMD)))
			break;
		if (nbuf_avail(&c->in) == 0)
			break;
		if (imap__output_full(s)) {
			s->flags |= IMAP_SF_DRAIN_WAIT;
			conn_pause(c);
			break;
		}
		struct imap_parser *p = imap_parser_get(s);
		if (s->wait == IMAP_W_IDLE || s->wait == IMAP_W_SASL) {
			const char *line;
			size_t len;
			int rc = imap_parser_read_line(p, &c->in, &line, &len);
			if (rc == IMAP_PARSE_MORE)
				break;
			if (s->wait == IMAP_W_IDLE)
				imap__idle_line(s, rc == IMAP_PARSE_DONE ? line : NULL, len);
			else
				imap__sasl_line(s, rc == IMAP_PARSE_DONE ? line : NULL, len);
			if (line != NULL)
				explicit_bzero((char *)line, len); /* SASL responses */
			continue;
		}
		if (!imap_parser_in_command(p) && !imap__rate_take(s))
			break;
		struct imap_cmd *cmd;
		int rc = imap_parser_next(p, &c->in, &cmd);
		if (rc == IMAP_PARSE_MORE)
			break;
		if (rc == IMAP_PARSE_CONTINUE) {
			conn_puts(c, "+ Ready for literal data\r\n");
			continue;
		}
		if (rc == IMAP_PARSE_ERROR) {
			imap_parse_error(s);
			continue;
		}
		imap_dispatch(s, cmd);
	}
	s->flags &= ~(uint32_t)IMAP_SF_IN_INPUT;
	if (!conn_closing(c) && (s->wait == IMAP_W_NONE || s->wait == IMAP_W_IDLE))
		imap_release_idle(s);
}

/* --- connection callbacks -------------------------------------------- */

static void
imap_on_read(struct conn *c)
{
	imap_input(c->data);
}

static void
imap_on_drain(struct conn *c)
{
	struct imap_session *s = c->data;
	if (s->wait == IMAP_W_STREAM && s->cont != NULL) {
		s->wait = IMAP_W_NONE;
		s->cont(s);
		return;
	}
	if (s->flags & IMAP_SF_DRAIN_WAIT) {
		s->flags &= ~(uint32_t)IMAP_SF_DRAIN_WAIT;
		imap__resume(s);
	}
}

static void
imap_on_timeout(struct conn *c)
{
	struct imap_session *s = c->data;
	switch (s->wait) {
	case IMAP_W_IDLE:
		imap__idle_keepalive(s);
		conn_touch(c);
		return;
	case IMAP_W_LOGIN:
	case IMAP_W_SUBMIT:
	case IMAP_W_APPEND:
	case IMAP_W_POOL:
	case IMAP_W_DEFER:
	case IMAP_W_THROTTLE:
		/* These end on their own deadlines. */
		conn_touch(c);
		return;
	default:
		break;
	}
	imap__bye(s, "timeout", "Autologout; idle for too long");
}

static void
imap_on_close(struct conn *c)
{
	struct imap_session *s = c->data;
	imap__sched_forget(s);
	if (s->op_release)
		s->op_release(s);
	imap__append_release(s);
	imap__auth_release(s);
	if (s->sel)
		imap__view_close(s);
	if (s->user != NULL)
		log_info("imap",
		         "event=logout user=%s peer=%s proto=%s commands=%u fetched=%u "
		         "appended=%u expunged=%u bytes=%llu duration_ms=%llu reason=%s",
		         s->user, c->peer, (s->flags & IMAP_SF_IMPLICIT_TLS) ? "imaps" : "imap",
		         s->ncommands, s->nfetched, s->nappended, s->nexpunged,
		         (unsigned long long)s->bytes_out,
		         (unsigned long long)(now_mono_ms() - s->started_ms),
		         s->end_reason ? s->end_reason : "disconnect");
	else
		log_debug("imap", "event=disconnect peer=%s reason=%s", c->peer,
		          s->end_reason ? s->end_reason : "disconnect");
	if (s->parser) {
		imap_parser_deinit(s->parser);
		free(s->parser);
	}
	free(s->user);
	free(s->saved_tag);
	metric_set(imap_g.sessions, --imap_g.nsessions);
	free(s);
}

/* RFC 3501 §7.1.5: a server that closes says BYE, so that the client
 * reconnects (through the load balancer, to another node) instead of
 * reporting an error. Not in the middle of a literal being streamed: the
 * client would read the BYE as message data. */
static void
imap_on_shutdown(struct conn *c)
{
	struct imap_session *s = c->data;
	if (s->wait == IMAP_W_STREAM)
		return;
	imap__untagged(s, "BYE Server shutting down, please reconnect");
}

static const struct conn_handler imap_handler = {
        .on_read = imap_on_read,
        .on_drain = imap_on_drain,
        .on_timeout = imap_on_timeout,
        .on_close = imap_on_close,
        .on_shutdown = imap_on_shutdown,
};

static void
imap_session_accept(struct listener *l, uv_stream_t *server, int implicit_tls)
{
	struct node *n = l->data;
	struct imap_session *s = xcalloc(1, sizeof(*s));
	const char *proto = implicit_tls ? "imaps" : "imap";
	struct conn *c = conn_accept(server, l->is_pipe, &imap_handler, s, IMAP_IN_LIMIT, proto);
	if (c == NULL) {
		free(s);
		return;
	}
	if (imap_g.node == NULL)
		imap_g.node = n;
	s->conn = c;
	s->started_ms = now_mono_ms();
	s->rate_ms = s->started_ms;
	s->rate_tokens = UINT32_MAX; /* a full bucket: clamped at first use */
	if (implicit_tls)
		s->flags |= IMAP_SF_IMPLICIT_TLS;
	metric_inc(imap_g.accepted[implicit_tls ? 1 : 0]);
	metric_set(imap_g.sessions, ++imap_g.nsessions);
	if (implicit_tls && (n->tls_server == NULL || conn_start_tls(c, n->tls_server, 1) != 0)) {
		s->end_reason = "tls-unavailable";
		conn_abort(c);
		return;
	}
	uint64_t t = imap__config_u64("imap.login_timeout", IMAP_LOGIN_TIMEOUT_DEFAULT_S);
	conn_set_timeout(c, (uint32_t)(MIN(MAX(t, 1u), 86400u) * 1000));
	log_debug("imap", "event=connect peer=%s proto=%s", c->peer, proto);
	struct nbuf caps;
	nbuf_init(&caps, 4096);
	imap__capability_write(s, &caps);
	/* With implicit TLS the greeting waits inside TLS for the handshake. */
	conn_printf(c, "* OK [CAPABILITY %.*s] mailnode IMAP4rev1 ready\r\n",
	            (int)nbuf_avail(&caps), (const char *)nbuf_head(&caps));
	nbuf_deinit(&caps);
	conn_start(c);
}

void
imap_accept(struct listener *l, uv_stream_t *server)
{
	imap_session_accept(l, server, 0);
}

void
imaps_accept(struct listener *l, uv_stream_t *server)
{
	imap_session_accept(l, server, 1);
}

void
imap__input_run(struct imap_session *s)
{
	imap_input(s);
}
