/*
 * Fuzz: the FETCH engine. Each input is the argument text of a FETCH
 * command ("1:* (UID BODY.PEEK[HEADER.FIELDS (From)]<0.100>)"); it goes
 * through the IMAP parser, then imap_fetch_parse(), and a plan that is
 * accepted runs on fixed messages (a multipart one with an encapsulated
 * message, a single-part one, an empty one) with the cached tree, without
 * it, and with a decoded cached tree: the three responses must be the
 * same bytes, every segment must lie inside the text or the message,
 * every literal "{n}\r\n" must be followed by n bytes, and the response
 * must read "* 1 FETCH (" ... ")\r\n", and every body section must be what
 * node/mime gives for it, cut to its partial window. The input's length picks UID FETCH
 * and the enabled extensions, so seeds keep their meaning.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/fetch_int.h" /* white box: the plan's items */
#include "protocols/imap/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const messages[] = {
        "From: =?ISO-8859-1?Q?Andr=E9?= <a@example.com>\r\n"
        "To: b@example.com, \"C D\" <c@example.com>\r\n"
        "Subject: fuzz\r\n"
        "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
        "Message-ID: <1@example.com>\r\n"
        "Content-Type: multipart/mixed; boundary=\"top\"\r\n"
        "\r\n"
        "preamble\r\n"
        "--top\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Gr=FC=DFe\r\n"
        "--top\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        "Subject: inner\r\n"
        "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
        "\r\n"
        "--alt\r\n"
        "\r\n"
        "inner text\r\n"
        "--alt\r\n"
        "Content-Type: text/html\r\n"
        "\r\n"
        "<p>inner</p>\r\n"
        "--alt--\r\n"
        "--top\r\n"
        "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "AAECAwQF\r\n"
        "--top--\r\n",
        "Subject: cut header without body",
        "",
};

static void
check_response(const char *r, size_t n)
{
	static const char head[] = "* 1 FETCH (";
	if (n < sizeof(head) + 2 || memcmp(r, head, sizeof(head) - 1) != 0 ||
	    memcmp(r + n - 3, ")\r\n", 3) != 0)
		abort();
	/* every literal is followed by its bytes: skip them, and no other CR
	 * or LF may appear before the final CRLF */
	for (size_t i = 0; i < n - 2; i++) {
		if (r[i] == '\r' || r[i] == '\n')
			abort();
		if (r[i] != '{')
			continue;
		size_t j = i + 1;
		unsigned long long len = 0;
		while (j < n && r[j] >= '0' && r[j] <= '9')
			len = len * 10 + (unsigned long long)(r[j++] - '0');
		if (j + 2 >= n || r[j] != '}' || r[j + 1] != '\r' || r[j + 2] != '\n')
			continue; /* a brace inside a quoted string */
		if (len > n - (j + 3))
			abort();
		i = j + 2 + (size_t)len;
	}
}

static char *
assemble(const struct imap_fetch_out *o, const struct imap_fetch_msg *m, size_t *len_r)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 26);
	const char *tb = (const char *)nbuf_head(&o->text);
	for (size_t i = 0; i < o->nsegs; i++) {
		const struct imap_fetch_seg *s = &o->segs[i];
		if (s->text != NULL) {
			if (s->text < tb || s->text + s->len > tb + nbuf_avail(&o->text))
				abort();
			nbuf_append(&b, s->text, s->len);
		} else if (s->cte != MIME_CTE_IDENTITY) {
			/* BINARY: decoded as the session sends it */
			struct imap_fetch_decoder d;
			unsigned char tmp[4096];
			size_t n, total = 0;
			if (m->bytes == NULL || s->off > m->len || s->len > m->len - s->off)
				abort();
			imap_fetch_decoder_init(&d, s, m->bytes);
			while ((n = imap_fetch_decoder_next(&d, tmp, sizeof(tmp))) > 0) {
				nbuf_append(&b, tmp, n);
				total += n;
			}
			if (d.left != 0 || total != s->dlen || total == 0)
				abort();
		} else {
			if (m->bytes == NULL || s->off > m->len || s->len > m->len - s->off ||
			    s->len == 0)
				abort();
			nbuf_append(&b, m->bytes + s->off, s->len);
		}
	}
	nbuf_append(&b, "", 1);
	char *r = (char *)nbuf_steal(&b, len_r);
	(*len_r)--;
	return r;
}

/* Every body section of the plan, computed the plain way (the whole
 * section from node/mime, then the partial window cut out of it), must
 * appear in the response as "NAME<origin> {n}\r\n<bytes>" or with "". */
static void
check_sections(const struct imap_fetch_plan *plan, const struct mime_message *tree, const char *msg,
               size_t len, const char *r, size_t rlen)
{
	for (size_t i = 0; i < plan->nitems; i++) {
		const struct imap__fetch_item *it = &plan->items[i];
		if (it->kind != FETCH_K_SECTION)
			continue;
		struct nbuf want, body;
		struct mime_range range = {0, len};
		nbuf_init(&want, 1 << 24);
		nbuf_init(&body, 1 << 24);
		int found = it->sec == FETCH_SEC_ALL ||
		            mime_section_find(tree, it->spec, it->spec_len, &range) == 1;
		if (found && (it->sec == FETCH_SEC_FIELDS || it->sec == FETCH_SEC_FIELDS_NOT))
			mime_header_fields_write(msg, &range, it->fields, it->nfields,
			                         it->sec == FETCH_SEC_FIELDS_NOT, &body);
		else if (found)
			nbuf_append(&body, msg + range.off, range.len);
		size_t total = nbuf_avail(&body), start = 0, end = total;
		if (it->partial) {
			start = it->off < total ? (size_t)it->off : total;
			end = it->size < total - start ? start + (size_t)it->size : total;
		}
		nbuf_append(&want, it->name, it->name_len);
		if (it->partial)
			nbuf_printf(&want, "<%llu>", (unsigned long long)it->off);
		if (end == start)
			nbuf_puts(&want, " \"\"");
		else
			nbuf_printf(&want, " {%zu}\r\n", end - start);
		nbuf_append(&want, nbuf_head(&body) + start, end - start);
		if (memmem(r, rlen, nbuf_head(&want), nbuf_avail(&want)) == NULL)
			abort();
		nbuf_deinit(&want);
		nbuf_deinit(&body);
	}
}

static void
run_plan(const struct imap_fetch_plan *plan, struct arena *a)
{
	struct store_msg rec = {.uid = 42,
	                        .flags = MSG_SEEN | MSG_DRAFT,
	                        .keywords = 0x3,
	                        .modseq = 7,
	                        .internaldate = 1057049557,
	                        .savedate = 1057049558};
	struct cmd_str kw[2] = {{"$Junk", 5}, {"Work", 4}};
	unsigned needs = imap_fetch_needs(plan);
	for (size_t k = 0; k < sizeof(messages) / sizeof(messages[0]); k++) {
		const char *msg = messages[k];
		size_t len = strlen(msg);
		struct mime_message *tree, *decoded = NULL;
		struct nbuf enc;
		if (mime_parse(msg, len, NULL, &tree) != 0)
			abort();
		/* as delivery caches it: PREVIEW (LAZY) needs no bytes then (a
		 * tree without one answers NIL there, RFC 8970 §4.1) */
		if (mime_message_cache_preview(tree, msg, len) != 0)
			abort();
		nbuf_init(&enc, 1 << 24);
		if (mime_tree_encode(tree, &enc) != 0 ||
		    mime_tree_decode(nbuf_head(&enc), nbuf_avail(&enc), &decoded) != 0)
			abort();
		rec.size = len;
		struct imap_fetch_msg m = {.seq = 1,
		                           .rec = &rec,
		                           .keywords = kw,
		                           .nkeywords = 2,
		                           .recent = (int)(k & 1),
		                           .set_seen = !!(needs & FETCH_SETS_SEEN),
		                           .bytes = msg,
		                           .len = len};
		char *first = NULL;
		size_t firstlen = 0;
		const struct mime_message *trees[3] = {tree, NULL, decoded};
		for (int t = 0; t < 3; t++) {
			struct imap_fetch_out out;
			imap_fetch_out_init(&out, a);
			m.tree = trees[t];
			if (imap_fetch_msg(plan, &m, &out) != 0)
				abort();
			size_t n;
			char *r = assemble(&out, &m, &n);
			if (out.nsegs > 0) {
				check_response(r, n);
				check_sections(plan, tree, msg, len, r, n);
			}
			if (first == NULL) {
				first = r;
				firstlen = n;
			} else {
				if (n != firstlen || memcmp(r, first, n) != 0)
					abort();
				free(r);
			}
			imap_fetch_out_deinit(&out);
		}
		/* without the bytes: a plan that needs them fails, one that needs
		 * neither bytes nor tree answers the same without both */
		struct imap_fetch_out out;
		imap_fetch_out_init(&out, a);
		m.bytes = NULL;
		m.tree = (needs & FETCH_NEED_TREE) ? tree : NULL;
		int rc = imap_fetch_msg(plan, &m, &out);
		if ((needs & FETCH_NEED_FILE) && rc != -1 && out.nsegs > 0)
			abort();
		if (!(needs & FETCH_NEED_FILE)) {
			size_t n;
			if (rc != 0)
				abort();
			char *r = assemble(&out, &m, &n);
			if (n != firstlen || memcmp(r, first, n) != 0)
				abort();
			free(r);
		}
		imap_fetch_out_deinit(&out);
		free(first);
		nbuf_deinit(&enc);
		mime_message_free(&decoded);
		mime_message_free(&tree);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	int uid = (int)(size & 1);
	unsigned enabled = (unsigned)(size >> 1) & 15; /* bit 3: QRESYNC (VANISHED) */
	imap_parser_init(&p, NULL);
	nbuf_init(&in, 16384);
	nbuf_puts(&in, uid ? "A1 UID FETCH " : "A1 FETCH ");
	nbuf_append(&in, data, size);
	nbuf_puts(&in, "\r\n");
	int rc = imap_parser_next(&p, &in, &cmd);
	nbuf_deinit(&in);
	if (rc != IMAP_PARSE_DONE || cmd->argc < 2) {
		imap_parser_deinit(&p);
		return 0;
	}
	struct arena a;
	struct imap_fetch_plan *plan;
	const char *error = NULL;
	arena_init(&a, 1 << 24);
	rc = imap_fetch_parse(&a, &cmd->args[1], uid, enabled, &plan, &error);
	/* the plan must not need the arguments any more: free them */
	imap_parser_deinit(&p);
	if (rc == 0)
		run_plan(plan, &a);
	else if (error == NULL || strpbrk(error, "\r\n") != NULL)
		abort();
	arena_deinit(&a);
	return 0;
}
