/*
 * cmd_urlfetch: URLFETCH (RFC 4467 §7.3): the data of URLAUTH-authorized
 * URLs, for a submission server (BURL, RFC 4468) or any client they were
 * given to.
 *
 * Happy path: "URLFETCH url1 url2" -> one "* URLFETCH url1 {n}\r\n<data>
 * url2 NIL\r\n" response: each URL is checked (urlauth.c: its token under
 * the mailbox's access key, its expiry, its access identifier against this
 * session's user), the message it names opened (catenate.c), its section
 * and partial range cut, and the bytes sent as a literal, streamed from
 * the mapped file under the output's high-water mark the way FETCH sends
 * a body (the session waits for on_drain): a 30 MB message is never
 * copied into memory.
 *
 * Failure modes: a URL that is invalid, expired, not accessible to this
 * user, or names a message that no longer exists gives NIL (§7.3) and the
 * command still succeeds; so does data holding NUL, which an nstring
 * cannot carry (URLAUTH=BINARY, RFC 5524, is not offered).
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "protocols/imap/append.h"
#include "protocols/imap/imapurl.h"

#define URLFETCH_CHUNK (64 * 1024)

struct urlfetch_op {
	const struct imap_arg *urls;
	size_t n, i;
	bool open; /* the current URL's data is being sent */
	struct imap_url_msg m;
	struct nbuf hdr;
	const char *data;
	size_t size, done;
};

static void urlfetch_run(struct imap_session *s);

static void
urlfetch_close(struct urlfetch_op *op)
{
	if (op->open)
		imap__url_close(&op->m);
	nbuf_deinit(&op->hdr);
	op->open = false;
}

static void
urlfetch_release(struct imap_session *s)
{
	if (s->op != NULL)
		urlfetch_close(s->op);
	s->op_release = NULL;
}

/* Open URL i: 1 with its data in op (header written), 0 NIL written. */
static int
urlfetch_open(struct imap_session *s, struct urlfetch_op *op)
{
	struct arena *a = imap__arena(s);
	const char *url, *err;
	size_t len;
	struct imap_url u;
	uint32_t owner;
	enum imap_code code;
	struct nbuf line;
	int ok = imap_arg_get_astring(&op->urls[op->i], &url, &len);
	nbuf_init(&line, 2 * (ok ? len : 0) + 64); /* quoted, or a literal */
	nbuf_puts(&line, " ");
	if (imap__string_write(ok ? url : "", ok ? len : 0, &line) != 0)
		abort(); /* the buffer holds either form of a URL of len bytes */
	ok = ok && imap_url_parse(a, url, len, &u, &err) == 0 && u.access != NULL &&
	     imap__urlauth_verify(s, &u, url, len, &owner, &err) == 1 &&
	     imap__url_open(s, &u, owner, &op->m, &code, &err) == 0;
	if (ok) {
		op->open = true;
		nbuf_init(&op->hdr, op->m.len + 4);
		ok = imap__url_section(a, &u, op->m.bytes ? op->m.bytes : "", op->m.len, op->m.tree,
		                       &op->hdr, &op->data, &op->size) == 0 &&
		     memchr(op->data, 0, op->size) == NULL;
		if (!ok)
			urlfetch_close(op);
	}
	if (ok)
		nbuf_printf(&line, " {%zu}\r\n", op->size);
	else
		nbuf_puts(&line, " NIL");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	op->done = 0;
	return ok;
}

static void
urlfetch_run(struct imap_session *s)
{
	struct urlfetch_op *op = s->op;
	while (op->i < op->n) {
		if (conn_closing(s->conn)) {
			urlfetch_release(s);
			return;
		}
		if (!op->open && !urlfetch_open(s, op)) {
			op->i++;
			continue;
		}
		while (op->done < op->size) {
			if (imap__output_full(s)) {
				s->cont = urlfetch_run;
				s->wait = IMAP_W_STREAM;
				conn_pause(s->conn);
				return;
			}
			size_t n = MIN(op->size - op->done, (size_t)URLFETCH_CHUNK);
			imap__write(s, op->data + op->done, n);
			imap__count_out(s, n);
			op->done += n;
		}
		urlfetch_close(op);
		op->i++;
	}
	imap__write(s, "\r\n", 2);
	urlfetch_release(s);
	imap__ok(s, IMAP_CODE_NONE, "URLFETCH completed");
}

void
imap__cmd_urlfetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct urlfetch_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	if (op == NULL || cmd->argc == 0) {
		imap__bad(s, "URLFETCH takes URLs");
		return;
	}
	for (size_t i = 0; i < cmd->argc; i++) {
		const char *u;
		size_t len;
		if (!imap_arg_get_astring(&cmd->args[i], &u, &len)) {
			imap__bad(s, "URLFETCH takes URLs");
			return;
		}
		/* Each URL is echoed in the answer: refused before any of it
		 * is written, so the answer is never cut short. */
		if (len > IMAP_URL_MAX) {
			imap__no(s, IMAP_CODE_TOOBIG, "URL too long");
			return;
		}
	}
	op->urls = cmd->args;
	op->n = cmd->argc;
	s->op = op;
	s->op_release = urlfetch_release;
	imap__write(s, "* URLFETCH", 10);
	urlfetch_run(s);
}
