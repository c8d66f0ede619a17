/*
 * append_sink: APPEND's and REPLACE's messages as they arrive (RFC 3501
 * §6.3.11; MULTIAPPEND RFC 3502 §6.3.11; CATENATE RFC 4469 §5; literal8
 * RFC 3516 §4.4; UTF8 RFC 6855 §4; REPLACE RFC 8508 §3), and the walk
 * over the command's arguments once it is complete.
 *
 *   append         = "APPEND" SP mailbox 1*append-message
 *   append-message = [SP flag-list] [SP date-time] SP append-data
 *   append-data    = literal / literal8 / "UTF8" SP "(" literal8 ")" /
 *                    "CATENATE" SP "(" cat-part *(SP cat-part) ")"
 *   cat-part       = "TEXT" SP (literal / literal8) / "URL" SP astring
 *
 * Happy path: the parser calls the sink at each literal's header, before
 * any "+" continuation. A literal at the top level, or inside "UTF8 (...)",
 * starts a message; a "TEXT" literal inside "CATENATE (...)" continues the
 * message of that list, after the URL parts that came before it are
 * copied in (catenate.c). Each message has its own msgin (a temporary
 * file, hashed as it is written), so memory stays small whatever the
 * sizes and counts. The mailbox is looked up at the first message. At
 * dispatch, imap__append_collect() walks the arguments, matches them with
 * what was received, copies the URL parts after the last literal, and
 * takes each message's flags and date.
 *
 * Failure modes, all before the "+" of the literal concerned (a {n+}
 * literal's data is then skipped by the parser, or the connection closed
 * when it is too big to skip, RFC 7888 §4): a message over
 * limits.message_size -> NO [TOOBIG] (RFC 7889), no such mailbox -> NO
 * [TRYCREATE], a URL that is invalid or names what the user may not read
 * -> NO [BADURL url] (RFC 4469 §5), more than IMAP_APPEND_MSGS_MAX
 * messages -> NO [LIMIT], a literal where none belongs, UTF8 without
 * ENABLE UTF8=ACCEPT -> BAD. The state and every msgin go with the
 * command (imap__append_release): nothing of a refused APPEND remains.
 * XXX RFC 6855 §4: "UTF8 (~{n})" as a part inside CATENATE is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/msgin.h"
#include "protocols/imap/append.h"
#include "protocols/imap/imapurl.h"
#include "replication/repl.h"

struct imap_append *
imap__append_get(struct imap_session *s)
{
	if (s->append == NULL) {
		s->append = xcalloc(1, sizeof(*s->append));
		s->append->max = imap__message_size_max();
	}
	return s->append;
}

void
imap__append_release(struct imap_session *s)
{
	struct imap_append *a = s->append;
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		msgin_free(&a->msgs[i].in);
	free(a->msgs);
	free(a->badurl);
	free(a);
	s->append = NULL;
}

void
imap__append_failed(struct imap_session *s, int status)
{
	imap__append_release(s);
	if (status == -EFBIG)
		imap__no(s, IMAP_CODE_TOOBIG, "Message too large");
	else if (status == REPL_EUNAVAILABLE)
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cluster unavailable, try again later");
	else
		imap__no(s, IMAP_CODE_SERVERBUG, "Cannot store the message now");
}

const char *
imap__append_badurl(struct imap_session *s, char *buf, size_t size)
{
	const char *url = s->append && s->append->badurl ? s->append->badurl : "";
	size_t n = snprintf(buf, size, "BADURL %s", url) < 0 ? 0 : strlen(buf);
	/* url-resp-text goes inside "[...]" on one line */
	for (size_t i = 7; i < n; i++)
		if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f || buf[i] == ']')
			buf[i] = '?';
	return buf;
}

void
imap__append_no(struct imap_session *s, enum imap_code code, const char *text)
{
	char buf[IMAP_URL_MAX + 16];
	if (code == IMAP_CODE_BADURL) {
		imap__append_badurl(s, buf, sizeof(buf));
		imap__append_release(s);
		imap__no_code(s, buf, "%s", text);
		return;
	}
	imap__append_release(s);
	imap__no(s, code, "%s", text);
}

static const struct imap_arg *
arg_nth(const struct imap_arg *a, size_t n)
{
	while (a != NULL && n-- > 0)
		a = a->next;
	return a;
}

/* A new message whose data is top-level argument arg; the first one
 * checks the mailbox (and, for REPLACE, the message replaced). */
static struct imap_append_msg *
append_msg_new(struct imap_session *s, const struct imap_literal_info *info, size_t first,
               bool replace, size_t arg, enum imap_append_kind kind, const char **error_r)
{
	struct imap_append *a = imap__append_get(s);
	if (a->n >= (replace ? 1u : (size_t)IMAP_APPEND_MSGS_MAX)) {
		if (!replace)
			s->append_code = IMAP_CODE_LIMIT;
		*error_r = replace ? "One message per REPLACE" : "Too many messages in one APPEND";
		return NULL;
	}
	if (!a->mailbox_known) {
		if (replace && info != NULL && imap__replace_check(s, info, error_r) != 0)
			return NULL;
		const struct imap_arg *mbox = info ? arg_nth(info->args, first - 1) : NULL;
		int rc = mbox ? imap__append_mailbox(s, mbox, &a->mailbox_id) : 0;
		if (rc <= 0) {
			s->append_code = rc < 0 ? IMAP_CODE_UNAVAILABLE : IMAP_CODE_TRYCREATE;
			*error_r =
			        rc < 0 ? "Cannot read the mailbox now" : "Mailbox does not exist";
			return NULL;
		}
		a->mailbox_known = true;
	}
	struct msgin *in = msgin_new(imap__store(), a->max);
	if (in == NULL) {
		s->append_code = IMAP_CODE_SERVERBUG;
		*error_r = "Cannot store the message now";
		return NULL;
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 4;
		a->msgs = xrealloc(a->msgs, a->cap * sizeof(*a->msgs));
	}
	struct imap_append_msg *m = &a->msgs[a->n++];
	memset(m, 0, sizeof(*m));
	m->in = in;
	m->arg = arg;
	m->kind = (uint8_t)kind;
	return m;
}

/* A message of have bytes growing by more: within limits.message_size,
 * and all of the APPEND within IMAP_APPEND_TOTAL_MAX? */
static int
append_too_big(struct imap_session *s, uint64_t have, uint64_t more, const char **error_r)
{
	struct imap_append *a = imap__append_get(s);
	uint64_t total = more, total_max = MAX(a->max, (uint64_t)IMAP_APPEND_TOTAL_MAX);
	for (size_t i = 0; i < a->n; i++)
		total += msgin_size(a->msgs[i].in);
	if (more <= a->max && have <= a->max - more && total <= total_max)
		return 0;
	s->append_code = IMAP_CODE_TOOBIG;
	*error_r = total > total_max ? "Messages too large for one APPEND"
	                             : "Message too large (see APPENDLIMIT)";
	return -1;
}

/* One "URL url" part of a CATENATE into m. */
static int
append_url(struct imap_session *s, struct imap_append_msg *m, const struct imap_arg *url,
           const char **error_r)
{
	const char *u;
	size_t ulen;
	enum imap_code code;
	if (!imap_arg_get_astring(url, &u, &ulen)) {
		*error_r = "CATENATE: URL takes a string";
		return -1;
	}
	if (imap__catenate_url(s, m->in, u, ulen, &code, error_r) != 0) {
		s->append_code = code;
		return -1;
	}
	return 0;
}

/* A literal inside "CATENATE (...)": a "TEXT" part of the list's message
 * (the URL parts before it copied in first), or a URL given as a literal. */
static int
sink_catenate(struct imap_session *s, const struct imap_literal_info *info, size_t first,
              bool replace, size_t list_arg, const char **error_r)
{
	struct imap_append *a = imap__append_get(s);
	const struct imap_arg *last = NULL;
	size_t k = 0;
	for (const struct imap_arg *e = info->list; e != NULL; e = e->next, k++)
		last = e;
	if (last != NULL && imap_arg_atom_equals(last, "URL")) {
		if (info->size > IMAP_URL_MAX) {
			*error_r = "URL too long";
			return -1;
		}
		return IMAP_LITERAL_INLINE;
	}
	if (last == NULL || !imap_arg_atom_equals(last, "TEXT")) {
		*error_r = "CATENATE takes TEXT literals and URLs";
		return -1;
	}
	struct imap_append_msg *m = a->n > 0 && a->msgs[a->n - 1].arg == list_arg
	                                    ? &a->msgs[a->n - 1]
	                                    : append_msg_new(s, info, first, replace, list_arg,
	                                                     APPEND_CATENATE, error_r);
	if (m == NULL)
		return -1;
	/* URL parts between the last literal and this TEXT (element k - 1),
	 * in order; elements below m->done are in m already */
	size_t i = 0;
	for (const struct imap_arg *e = info->list; e != NULL && i + 1 < k; e = e->next, i++) {
		if (i < m->done)
			continue;
		if (!imap_arg_atom_equals(e, "URL") || i + 2 >= k) {
			*error_r = "CATENATE takes TEXT literals and URLs";
			return -1;
		}
		if (append_url(s, m, e->next, error_r) != 0)
			return -1;
		e = e->next;
		i++;
	}
	m->done = k + 1; /* the TEXT and this literal */
	if (append_too_big(s, msgin_size(m->in), info->size, error_r) != 0)
		return -1;
	a->cur = m;
	return IMAP_LITERAL_STREAM;
}

static int
sink_begin(struct imap_session *s, const struct imap_literal_info *info, size_t first, bool replace,
           const char **error_r)
{
	const struct imap_arg *last = NULL, *prev = NULL;
	size_t top = 0;
	for (const struct imap_arg *x = info->args; x != NULL; x = x->next, top++) {
		prev = last;
		last = x;
	}
	if (info->depth == 0 && top < first)
		return IMAP_LITERAL_INLINE; /* the mailbox, as a literal */
	s->append_code = IMAP_CODE_NONE;
	if (s->state == IMAP_S_NOAUTH) {
		*error_r = replace ? "REPLACE: authenticate first" : "APPEND: authenticate first";
		return -1;
	}
	struct imap_append *a = imap__append_get(s);
	a->cur = NULL;
	if (info->depth == 0) {
		if (append_too_big(s, 0, info->size, error_r) != 0)
			return -1;
		a->cur = append_msg_new(s, info, first, replace, top, APPEND_LITERAL, error_r);
		return a->cur ? IMAP_LITERAL_STREAM : -1;
	}
	if (info->depth != 1 || last == NULL || last->type != IMAP_ARG_LIST || prev == NULL) {
		*error_r = "Unexpected literal";
		return -1;
	}
	if (imap_arg_atom_equals(prev, "CATENATE"))
		return sink_catenate(s, info, first, replace, top - 1, error_r);
	if (!imap_arg_atom_equals(prev, "UTF8")) {
		*error_r = "Unexpected literal";
		return -1;
	}
	/* RFC 6855 §4: only once UTF8=ACCEPT is enabled, and one literal8 */
	if (!(s->flags & IMAP_SF_UTF8ACCEPT)) {
		*error_r = "UTF8 needs ENABLE UTF8=ACCEPT";
		return -1;
	}
	if (!info->literal8 || info->list != NULL) {
		*error_r = "UTF8 takes one literal8";
		return -1;
	}
	if (append_too_big(s, 0, info->size, error_r) != 0)
		return -1;
	a->cur = append_msg_new(s, info, first, replace, top - 1, APPEND_UTF8, error_r);
	return a->cur ? IMAP_LITERAL_STREAM : -1;
}

int
imap__literal_sink(void *ctx, enum imap_literal_event ev, const struct imap_literal_info *info,
                   const unsigned char *data, size_t len, const char **error_r)
{
	struct imap_session *s = ctx;
	const char *name = info->cmd->name;
	bool replace = name != NULL && strcmp(name, "REPLACE") == 0;
	bool append = name != NULL && !info->cmd->uid && strcmp(name, "APPEND") == 0;
	if (!append && !replace)
		return ev == IMAP_LITERAL_BEGIN ? IMAP_LITERAL_INLINE : 0;
	struct imap_append *a = s->append;
	switch (ev) {
	case IMAP_LITERAL_BEGIN:
		return sink_begin(s, info, replace ? 2 : 1, replace, error_r);
	case IMAP_LITERAL_DATA:
		if (a == NULL || a->cur == NULL) {
			*error_r = "Message refused";
			return -1;
		}
		if (msgin_write(a->cur->in, data, len) != 0) {
			s->append_code =
			        msgin_too_big(a->cur->in) ? IMAP_CODE_TOOBIG : IMAP_CODE_SERVERBUG;
			*error_r = "Cannot store the message";
			return -1;
		}
		return 0;
	case IMAP_LITERAL_END:
		if (a != NULL)
			a->cur = NULL;
		return 0;
	}
	return 0;
}

/* --- at dispatch ------------------------------------------------------ */

/* The parts of a complete "CATENATE (...)" list: valid, and the URL parts
 * from m->done on copied into m. */
static int
collect_catenate(struct imap_session *s, struct imap_append_msg *m, const struct imap_arg *list,
                 const char **error_r)
{
	if (list->count == 0 || list->count % 2 != 0) {
		*error_r = "CATENATE takes TEXT literals and URLs";
		return -1;
	}
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *kw = &list->list[i], *v = &list->list[i + 1];
		if (imap_arg_atom_equals(kw, "TEXT")) {
			if (v->type != IMAP_ARG_LITERAL || !v->streamed) {
				*error_r = "CATENATE: TEXT takes a literal";
				return -1;
			}
			continue;
		}
		if (!imap_arg_atom_equals(kw, "URL")) {
			*error_r = "CATENATE takes TEXT literals and URLs";
			return -1;
		}
		if (i >= m->done && append_url(s, m, v, error_r) != 0)
			return -1;
	}
	return 0;
}

/* One append-message from args[*i]: its options, and its data matched
 * with the sink's next message (or a new one for a CATENATE of URLs only). */
static int
collect_one(struct imap_session *s, const struct imap_cmd *cmd, size_t *i, size_t *k,
            struct imap_append_msg *out, const char **error_r)
{
	const struct imap_arg *args = cmd->args;
	struct imap_append *a = s->append;
	size_t argc = cmd->argc;
	memset(out, 0, sizeof(*out));
	if (*i < argc && args[*i].type == IMAP_ARG_LIST) {
		if (imap__flags_parse(s, &args[*i], &out->flags, &out->names, &out->nnames,
		                      error_r) != 0)
			return -1;
		(*i)++;
	}
	out->date = (int64_t)(now_wall_ms() / 1000);
	if (*i < argc && args[*i].type == IMAP_ARG_QUOTED) {
		if (imap__datetime_parse(args[*i].str, args[*i].len, &out->date) != 0) {
			*error_r = "Invalid date-time";
			return -1;
		}
		(*i)++;
	}
	size_t data = *i;
	enum imap_append_kind kind;
	if (data < argc && args[data].type == IMAP_ARG_LITERAL && args[data].streamed) {
		kind = APPEND_LITERAL;
		*i += 1;
	} else if (data + 1 < argc && args[data + 1].type == IMAP_ARG_LIST &&
	           (imap_arg_atom_equals(&args[data], "CATENATE") ||
	            imap_arg_atom_equals(&args[data], "UTF8"))) {
		kind = imap_arg_atom_equals(&args[data], "UTF8") ? APPEND_UTF8 : APPEND_CATENATE;
		data++;
		*i += 2;
	} else {
		*error_r = "Invalid arguments before the message data";
		return -1;
	}
	struct imap_append_msg *m = *k < a->n ? &a->msgs[*k] : NULL;
	if (m != NULL && m->arg == data) {
		if (m->kind != kind) {
			*error_r = "Invalid message data";
			return -1;
		}
		out->in = m->in;
		out->arg = m->arg;
		out->kind = m->kind;
		out->done = m->done;
		m->in = NULL; /* moved */
		(*k)++;
	} else if (kind == APPEND_CATENATE) {
		if ((out->in = msgin_new(imap__store(), a->max)) == NULL) {
			*error_r = "Cannot store the message now";
			return -1;
		}
		out->arg = data;
		out->kind = APPEND_CATENATE;
	} else {
		*error_r = "Invalid message data";
		return -1;
	}
	if (kind == APPEND_UTF8 && (args[data].count != 1 || !args[data].list[0].literal8)) {
		*error_r = "UTF8 takes one literal8";
		return -1;
	}
	return 0;
}

int
imap__append_collect(struct imap_session *s, const struct imap_cmd *cmd, size_t first, size_t max,
                     const char **error_r, enum imap_code *code_r)
{
	struct imap_append *a = imap__append_get(s);
	struct imap_append_msg *msgs = xcalloc(max, sizeof(*msgs));
	size_t n = 0, i = first, k = 0;
	int rc = 0;
	*code_r = IMAP_CODE_NONE;
	s->append_code = IMAP_CODE_NONE;
	if (i >= cmd->argc) {
		*error_r = "Missing message";
		rc = -1;
	}
	while (rc == 0 && i < cmd->argc) {
		if (n == max) {
			*error_r = max == 1 ? "One message per command" : "Too many messages";
			rc = -1;
			break;
		}
		rc = collect_one(s, cmd, &i, &k, &msgs[n], error_r);
		if (msgs[n].in != NULL)
			n++;
		if (rc == 0 && msgs[n - 1].kind == APPEND_CATENATE)
			rc = collect_catenate(s, &msgs[n - 1], &cmd->args[msgs[n - 1].arg],
			                      error_r);
	}
	if (rc == 0 && k != a->n) {
		*error_r = "Invalid message data";
		rc = -1;
	}
	/* the collected messages replace what the sink made */
	for (size_t j = 0; j < a->n; j++)
		msgin_free(&a->msgs[j].in);
	free(a->msgs);
	a->msgs = msgs;
	a->n = a->cap = n;
	a->cur = NULL;
	if (rc == 0)
		for (size_t j = 0; j < n && rc == 0; j++)
			if (msgin_too_big(msgs[j].in)) {
				s->append_code = IMAP_CODE_TOOBIG;
				*error_r = "Message too large (see APPENDLIMIT)";
				rc = -1;
			}
	*code_r = s->append_code;
	s->append_code = IMAP_CODE_NONE;
	return rc;
}
