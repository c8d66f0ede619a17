/*
 * Unit tests: the FETCH engine. Requests go through the IMAP parser, the
 * plan runs on corpus messages (tests/data/mime) and on the RFC 3501
 * §6.4.5 example structure, and the segments are assembled to compare the
 * exact response bytes: every item and macro, every section form, partial
 * edges, \Seen implications, UID FETCH, CONDSTORE, trees not cached, body
 * sections as ranges of the file (never copied), bad requests. Also times
 * FETCH FLAGS over 100,000 records.
 */
#include "tests/unit/testutil.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/parser.h"

/* The MIME corpus: every tests/data/mime/NAME.eml, with NAME.expected. */
static glob_t corpus;

/* The RFC 3501 §6.4.5 example: every leaf body names its section. */
static const char rfc3501_example[] =
        "From: a@example.com\r\nSubject: 6.4.5\r\n"
        "Content-Type: MULTIPART/MIXED; boundary=\"top\"\r\n\r\n--top\r\n"
        "Content-Type: TEXT/PLAIN\r\n\r\nbody 1\r\n--top\r\n"
        "Content-Type: APPLICATION/OCTET-STREAM\r\n\r\nbody 2\r\n--top\r\n"
        "Content-Type: MESSAGE/RFC822\r\n\r\nSubject: three\r\nX-Three: 3\r\n"
        "Content-Type: MULTIPART/MIXED; boundary=\"three\"\r\n\r\n--three\r\n"
        "Content-Type: TEXT/PLAIN\r\n\r\nbody 3.1\r\n--three\r\n"
        "Content-Type: APPLICATION/OCTET-STREAM\r\n\r\nbody 3.2\r\n--three--\r\n--top\r\n"
        "Content-Type: MULTIPART/MIXED; boundary=\"four\"\r\n\r\n--four\r\n"
        "Content-Type: IMAGE/GIF\r\n\r\nbody 4.1\r\n--four\r\nContent-Type: MESSAGE/RFC822\r\n"
        "\r\nSubject: four two\r\nContent-Type: MULTIPART/MIXED; boundary=\"fourtwo\"\r\n\r\n"
        "--fourtwo\r\nContent-Type: TEXT/PLAIN\r\n\r\nbody 4.2.1\r\n--fourtwo\r\n"
        "Content-Type: MULTIPART/ALTERNATIVE; boundary=\"alt\"\r\n\r\n--alt\r\n"
        "Content-Type: TEXT/PLAIN\r\n\r\nbody 4.2.2.1\r\n--alt\r\nContent-Type: TEXT/RICHTEXT\r\n"
        "\r\nbody 4.2.2.2\r\n--alt--\r\n--fourtwo--\r\n--four--\r\n--top--\r\n";

/* Parse "FETCH 1 <items>" (or UID FETCH) into a plan in a. Returns 0, or
 * -1 with *error_r; a parser-level refusal fails the test. */
static int
plan_try(struct arena *a, const char *items, int uid, unsigned enabled,
         struct imap_fetch_plan **plan_r, const char **error_r)
{
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_init(&p, NULL);
	nbuf_init(&in, 1 << 20);
	assert_int_equal(nbuf_printf(&in, "A1 %sFETCH 1 %s\r\n", uid ? "UID " : "", items), 0);
	int rc = imap_parser_next(&p, &in, &cmd);
	if (rc != IMAP_PARSE_DONE)
		fail_msg("parser refused %s: %s", items, imap_parser_error(&p)->text);
	assert_true(cmd->argc >= 2);
	rc = imap_fetch_parse(a, &cmd->args[1], uid, enabled, plan_r, error_r);
	nbuf_deinit(&in);
	imap_parser_deinit(&p); /* the plan must not point into the arguments */
	return rc;
}

static struct imap_fetch_plan *
plan_of(struct arena *a, const char *items, int uid, unsigned enabled)
{
	struct imap_fetch_plan *plan;
	const char *error = NULL;
	if (plan_try(a, items, uid, enabled, &plan, &error) != 0)
		fail_msg("%s: %s", items, error);
	return plan;
}

/* The response as bytes (NUL-terminated, *len_r without it). Checks the
 * segments: text inside out->text, ranges inside the message. */
static char *
assemble(const struct imap_fetch_out *o, const struct imap_fetch_msg *m, size_t *len_r)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 28);
	for (size_t i = 0; i < o->nsegs; i++) {
		const struct imap_fetch_seg *s = &o->segs[i];
		if (s->text != NULL) {
			assert_true(s->text >= (const char *)nbuf_head(&o->text));
			assert_true(s->text + s->len <=
			            (const char *)nbuf_head(&o->text) + nbuf_avail(&o->text));
			assert_int_equal(nbuf_append(&b, s->text, s->len), 0);
		} else {
			assert_non_null(m->bytes);
			assert_true(s->off <= m->len && s->len <= m->len - s->off);
			assert_true(s->len > 0);
			assert_int_equal(nbuf_append(&b, m->bytes + s->off, s->len), 0);
		}
	}
	assert_int_equal(nbuf_append(&b, "", 1), 0);
	char *r = (char *)nbuf_steal(&b, len_r);
	(*len_r)--;
	return r;
}

struct fx {
	struct arena a;
	struct imap_fetch_out out;
	struct store_msg rec;
	struct imap_fetch_msg m;
	struct mime_message *tree;
	char *bytes;
};

/* The mailbox's keywords: bit i is keywords[i]. */
static const struct cmd_str keywords[4] = {
        {"$Junk", 5}, {"$Label1", 7}, {"$Label2", 7}, {"NonJunk", 7}};

static void
fx_init(struct fx *f, const char *msg, size_t len)
{
	memset(f, 0, sizeof(*f));
	arena_init(&f->a, 0);
	imap_fetch_out_init(&f->out, &f->a);
	f->rec.uid = 4827313;
	f->rec.flags = MSG_SEEN | MSG_FLAGGED;
	f->rec.keywords = 0x5; /* $Junk and $Label2 */
	f->rec.modseq = 12345;
	f->rec.internaldate = 1057049557; /* 2003-07-01 08:52:37 UTC */
	f->rec.size = len;
	f->bytes = xmalloc(len + 1);
	memcpy(f->bytes, msg, len);
	f->bytes[len] = 0;
	assert_int_equal(mime_parse(f->bytes, len, NULL, &f->tree), 0);
	f->m = (struct imap_fetch_msg){.seq = 23,
	                               .rec = &f->rec,
	                               .keywords = keywords,
	                               .nkeywords = 4,
	                               .tree = f->tree,
	                               .bytes = f->bytes,
	                               .len = len};
}

static void
fx_file(struct fx *f, const char *path)
{
	size_t len;
	char *msg = test_file_read(path, &len);
	fx_init(f, msg, len);
	free(msg);
}

static void
fx_deinit(struct fx *f)
{
	mime_message_free(&f->tree);
	free(f->bytes);
	imap_fetch_out_deinit(&f->out);
	arena_deinit(&f->a);
}

/* Run items on the fixture's message and compare with want. */
static void
check_full(struct fx *f, const char *items, int uid, unsigned enabled, const char *want,
           size_t wantlen)
{
	struct imap_fetch_plan *plan = plan_of(&f->a, items, uid, enabled);
	assert_int_equal(imap_fetch_msg(plan, &f->m, &f->out), 0);
	size_t len;
	char *got = assemble(&f->out, &f->m, &len);
	if (len != wantlen || memcmp(got, want, len) != 0)
		fail_msg("%s:\n got: %s\nwant: %s", items, got, want);
	free(got);
}

static void
check_e(struct fx *f, const char *items, int uid, unsigned enabled, const char *want)
{
	check_full(f, items, uid, enabled, want, strlen(want));
}

static void
check(struct fx *f, const char *items, const char *want)
{
	check_full(f, items, 0, 0, want, strlen(want));
}

static void
test_flags(void **state)
{
	struct fx f;
	fx_init(&f, "Subject: x\r\n\r\nbody\r\n", 20);
	check(&f, "FLAGS", "* 23 FETCH (FLAGS (\\Seen \\Flagged $Junk $Label2))\r\n");
	f.rec.flags = MSG_FLAGS_ALL;
	f.rec.keywords = 0;
	f.m.recent = 1;
	check(&f, "FLAGS",
	      "* 23 FETCH (FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent))\r\n");
	/* IMAP4rev2 has no \Recent */
	check_e(&f, "FLAGS", 0, IMAP_FETCH_REV2,
	        "* 23 FETCH (FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft))\r\n");
	f.rec.flags = 0;
	f.m.recent = 0;
	check(&f, "FLAGS", "* 23 FETCH (FLAGS ())\r\n");
	/* keyword bits beyond the names the mailbox has are not shown */
	f.rec.keywords = 0x18;
	check(&f, "(FLAGS)", "* 23 FETCH (FLAGS (NonJunk))\r\n");
	/* set_seen: \Seen is shown */
	f.m.set_seen = 1;
	check(&f, "(FLAGS BODY[TEXT])",
	      "* 23 FETCH (FLAGS (\\Seen NonJunk) BODY[TEXT] {6}\r\nbody\r\n)\r\n");
	/* CONDSTORE: MODSEQ rides with FLAGS */
	f.m.set_seen = 0;
	check_e(&f, "FLAGS", 0, IMAP_FETCH_CONDSTORE,
	        "* 23 FETCH (FLAGS (NonJunk) MODSEQ (12345))\r\n");
	/* UID FETCH: UID first unless asked for (RFC 3501 §6.4.8 example) */
	f.rec.flags = MSG_SEEN;
	f.rec.keywords = 0;
	check_e(&f, "FLAGS", 1, 0, "* 23 FETCH (UID 4827313 FLAGS (\\Seen))\r\n");
	check_e(&f, "(FLAGS UID)", 1, 0, "* 23 FETCH (FLAGS (\\Seen) UID 4827313)\r\n");
	fx_deinit(&f);
}

static void
test_macros(void **state)
{
	struct fx f;
	size_t elen;
	char *path = test_data_path("mime/plain.eml"),
	     *xpath = test_data_path("mime/plain.expected");
	fx_file(&f, path);
	char *exp = test_file_read(xpath, &elen);
	char *env = strstr(exp, "ENVELOPE "), *body = strstr(exp, "\nBODY (") + 1;
	*strchr(env, '\n') = *strchr(body, '\n') = 0;
	const char *fmt = "* 23 FETCH (FLAGS (\\Seen \\Flagged $Junk $Label2) INTERNALDATE "
	                  "\"01-Jul-2003 08:52:37 +0000\" RFC822.SIZE %zu%s%s%s%s)\r\n";
	const char *items[] = {"FAST", "all", "FULL"};
	for (int i = 0; i < 3; i++) {
		char *want = xasprintf(fmt, f.m.len, i ? " " : "", i ? env : "", i > 1 ? " " : "",
		                       i > 1 ? body : "");
		check(&f, items[i], want);
		free(want);
	}
	assert_int_equal(imap_fetch_needs(plan_of(&f.a, "FULL", 0, 0)),
	                 FETCH_NEED_FLAGS | FETCH_NEED_TREE);
	assert_int_equal(imap_fetch_needs(plan_of(&f.a, "FAST", 0, 0)), FETCH_NEED_FLAGS);
	free(exp);
	free(xpath);
	free(path);
	fx_deinit(&f);
}

static void
test_simple_items(void **state)
{
	struct fx f;
	fx_init(&f, "Subject: x\r\n\r\nbody\r\n", 20);
	check(&f, "UID", "* 23 FETCH (UID 4827313)\r\n");
	check(&f, "RFC822.SIZE", "* 23 FETCH (RFC822.SIZE 20)\r\n");
	check(&f, "(uid rfc822.size)", "* 23 FETCH (UID 4827313 RFC822.SIZE 20)\r\n");
	check(&f, "INTERNALDATE", "* 23 FETCH (INTERNALDATE \"01-Jul-2003 08:52:37 +0000\")\r\n");
	f.rec.internaldate = 0;
	check(&f, "INTERNALDATE", "* 23 FETCH (INTERNALDATE \"01-Jan-1970 00:00:00 +0000\")\r\n");
	f.rec.internaldate = -1;
	check(&f, "INTERNALDATE", "* 23 FETCH (INTERNALDATE \"31-Dec-1969 23:59:59 +0000\")\r\n");
	f.rec.internaldate = INT64_MAX; /* clamped to a 4-digit year */
	check(&f, "INTERNALDATE", "* 23 FETCH (INTERNALDATE \"31-Dec-9999 23:59:59 +0000\")\r\n");
	f.rec.internaldate = 951782400; /* 2000-02-29 */
	check(&f, "INTERNALDATE", "* 23 FETCH (INTERNALDATE \"29-Feb-2000 00:00:00 +0000\")\r\n");
	check(&f, "MODSEQ", "* 23 FETCH (MODSEQ (12345))\r\n");
	check(&f, "SAVEDATE", "* 23 FETCH (SAVEDATE NIL)\r\n");
	f.rec.savedate = 1700000000;
	check(&f, "SAVEDATE", "* 23 FETCH (SAVEDATE \"14-Nov-2023 22:13:20 +0000\")\r\n");
	/* OBJECTID (RFC 8474): EMAILID the body hash's first 96 bits;
	 * THREADID the store's thread id, NIL for a record without one */
	for (int i = 0; i < CMD_HASH_LEN; i++)
		f.rec.hash[i] = (uint8_t)(0xa0 + i);
	check(&f, "(EMAILID THREADID)",
	      "* 23 FETCH (EMAILID (Ea0a1a2a3a4a5a6a7a8a9aaab) THREADID NIL)\r\n");
	f.rec.thread_id = ((uint64_t)7 << 32) | 42;
	check(&f, "(EMAILID THREADID)",
	      "* 23 FETCH (EMAILID (Ea0a1a2a3a4a5a6a7a8a9aaab) THREADID (T000000070000002a))\r\n");
	f.rec.thread_id = UINT64_MAX;
	check(&f, "THREADID", "* 23 FETCH (THREADID (Tffffffffffffffff))\r\n");
	f.rec.thread_id = 0;
	check(&f, "ENVELOPE",
	      "* 23 FETCH (ENVELOPE (NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n");
	check(&f, "BODY",
	      "* 23 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 "
	      "1))\r\n");
	check(&f, "BODYSTRUCTURE",
	      "* 23 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	      "\"7BIT\" 6 1 NIL NIL NIL NIL))\r\n");
	check(&f, "PREVIEW", "* 23 FETCH (PREVIEW \"body\")\r\n");
	check(&f, "(UID PREVIEW (LAZY))", "* 23 FETCH (UID 4827313 PREVIEW \"body\")\r\n");
	check(&f, "PREVIEW (LAZY)", "* 23 FETCH (PREVIEW \"body\")\r\n");
	fx_deinit(&f);

	/* an 8-bit preview is a literal, unless UTF8=ACCEPT */
	fx_init(&f, "Content-Type: text/plain; charset=utf-8\r\n\r\nGr\xc3\xbc\xc3\x9f\x65", 50);
	check(&f, "PREVIEW", "* 23 FETCH (PREVIEW {7}\r\nGr\xc3\xbc\xc3\x9f\x65)\r\n");
	check_e(&f, "PREVIEW", 0, IMAP_FETCH_UTF8,
	        "* 23 FETCH (PREVIEW \"Gr\xc3\xbc\xc3\x9f\x65\")\r\n");
	fx_deinit(&f);
}

/* a, then n bytes at b, then c (b may hold NUL bytes). */
static char *
cat3(const char *a, const void *b, size_t n, const char *c, size_t *len_r)
{
	size_t al = strlen(a), cl = strlen(c);
	char *r = xmalloc(al + n + cl + 1);
	memcpy(r, a, al);
	memcpy(r + al, b, n);
	memcpy(r + al + n, c, cl + 1);
	*len_r = al + n + cl;
	return r;
}

/* On every corpus message: BODY[] is text, one range of the whole file,
 * text; ENVELOPE, BODYSTRUCTURE and BODY equal the .expected lines, from
 * the tree, from the bytes alone and from a decoded cached tree;
 * HEADER.FIELDS[.NOT] equals mime_header_fields_write(). */
static void
test_corpus(void **state)
{
	static const char *const fields[] = {"From", "To", "Subject", "Content-Type", "X-Header"};
	for (size_t i = 0; i < corpus.gl_pathc; i++) {
		struct fx f;
		size_t elen, wl;
		fx_file(&f, corpus.gl_pathv[i]);
		char *head = xasprintf("* 23 FETCH (BODY[] {%zu}\r\n", f.m.len);
		char *want = f.m.len ? cat3(head, f.bytes, f.m.len, ")\r\n", &wl)
		                     : cat3("* 23 FETCH (BODY[] \"\")\r\n", "", 0, "", &wl);
		check_full(&f, "BODY.PEEK[]", 0, 0, want, wl);
		if (f.m.len > 0) {
			assert_int_equal(f.out.nsegs, 3);
			assert_null(f.out.segs[1].text);
			assert_int_equal(f.out.segs[1].off, 0);
			assert_int_equal(f.out.segs[1].len, f.m.len);
		}
		free(want);
		free(head);
		char *xpath = xasprintf("%.*sexpected", (int)strlen(corpus.gl_pathv[i]) - 3,
		                        corpus.gl_pathv[i]);
		char *exp = test_file_read(xpath, &elen);
		free(xpath);
		/* "<CRLF>" in .expected is CRLF on the wire */
		struct nbuf w;
		nbuf_init(&w, 1 << 26);
		assert_int_equal(nbuf_puts(&w, "* 23 FETCH ("), 0);
		for (size_t k = 0; k < elen; k++) {
			int crlf = strncmp(exp + k, "<CRLF>", 6) == 0;
			const char *s = crlf             ? "\r\n"
			                : exp[k] != '\n' ? exp + k
			                : k + 1 < elen   ? " "
			                                 : "";
			assert_int_equal(nbuf_append(&w, s, crlf ? 2 : *s != 0), 0);
			k += crlf ? 5 : 0;
		}
		assert_int_equal(nbuf_puts(&w, ")\r\n"), 0);
		struct mime_message *decoded = NULL;
		struct nbuf enc;
		nbuf_init(&enc, 1 << 26);
		assert_int_equal(mime_tree_encode(f.tree, &enc), 0);
		assert_int_equal(mime_tree_decode(nbuf_head(&enc), nbuf_avail(&enc), &decoded), 0);
		const struct mime_message *trees[] = {f.tree, NULL, decoded};
		for (int t = 0; t < 3; t++) {
			f.m.tree = trees[t];
			check_full(&f, "(ENVELOPE BODYSTRUCTURE BODY)", 0, 0,
			           (const char *)nbuf_head(&w), nbuf_avail(&w));
		}
		f.m.tree = f.tree;
		mime_message_free(&decoded);
		nbuf_deinit(&enc);
		free(exp);
		for (int not = 0; not < 2; not ++) {
			nbuf_reset(&w);
			assert_int_equal(mime_header_fields_write(f.bytes, &f.tree->root->header,
			                                          fields, ARRAY_SIZE(fields), not,
			                                          &w),
			                 0);
			char *items = xasprintf("BODY.PEEK[HEADER.FIELDS%s (From To Subject "
			                        "Content-Type X-Header)]",
			                        not ? ".NOT" : "");
			/* "BODY.PEEK[...]" is answered as "BODY[...]" */
			head = xasprintf("* 23 FETCH (BODY%s {%zu}\r\n", items + 9, nbuf_avail(&w));
			want = cat3(head, nbuf_head(&w), nbuf_avail(&w), ")\r\n", &wl);
			check_full(&f, items, 0, 0, want, wl);
			free(want);
			free(head);
			free(items);
		}
		nbuf_deinit(&w);
		fx_deinit(&f);
	}
}

static void
test_sections(void **state)
{
	struct fx f;
	fx_init(&f, rfc3501_example, strlen(rfc3501_example));
	check(&f, "BODY.PEEK[1]", "* 23 FETCH (BODY[1] {6}\r\nbody 1)\r\n");
	check(&f, "BODY.PEEK[2]", "* 23 FETCH (BODY[2] {6}\r\nbody 2)\r\n");
	check(&f, "BODY.PEEK[3.1]", "* 23 FETCH (BODY[3.1] {8}\r\nbody 3.1)\r\n");
	check(&f, "BODY.PEEK[3.2]", "* 23 FETCH (BODY[3.2] {8}\r\nbody 3.2)\r\n");
	check(&f, "BODY.PEEK[4.1]", "* 23 FETCH (BODY[4.1] {8}\r\nbody 4.1)\r\n");
	check(&f, "BODY.PEEK[4.2.1]", "* 23 FETCH (BODY[4.2.1] {10}\r\nbody 4.2.1)\r\n");
	check(&f, "BODY.PEEK[4.2.2.1]", "* 23 FETCH (BODY[4.2.2.1] {12}\r\nbody 4.2.2.1)\r\n");
	check(&f, "BODY.PEEK[4.2.2.2]", "* 23 FETCH (BODY[4.2.2.2] {12}\r\nbody 4.2.2.2)\r\n");
	check(&f, "BODY.PEEK[4.1.MIME]",
	      "* 23 FETCH (BODY[4.1.MIME] {27}\r\nContent-Type: IMAGE/GIF\r\n\r\n)\r\n");
	check(&f, "BODY.PEEK[3.HEADER]",
	      "* 23 FETCH (BODY[3.HEADER] {79}\r\nSubject: three\r\nX-Three: 3\r\n"
	      "Content-Type: MULTIPART/MIXED; boundary=\"three\"\r\n\r\n)\r\n");
	check(&f, "BODY.PEEK[4.2.HEADER.FIELDS (subject)]",
	      "* 23 FETCH (BODY[4.2.HEADER.FIELDS (subject)] {21}\r\nSubject: four two\r\n\r\n)"
	      "\r\n");
	check(&f, "BODY.PEEK[3.header.fields.not (Content-Type \"X-Three\")]",
	      "* 23 FETCH (BODY[3.HEADER.FIELDS.NOT (Content-Type X-Three)] {18}\r\n"
	      "Subject: three\r\n\r\n)\r\n");
	/* 3.TEXT: the encapsulated message's body */
	struct imap_fetch_plan *plan = plan_of(&f.a, "BODY.PEEK[3.TEXT]", 0, 0);
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
	size_t len;
	char *got = assemble(&f.out, &f.m, &len);
	assert_true(strncmp(got, "* 23 FETCH (BODY[3.TEXT] {", 26) == 0);
	assert_non_null(strstr(got, "}\r\n--three\r\nContent-Type: TEXT/PLAIN"));
	assert_non_null(strstr(got, "--three--)\r\n"));
	free(got);
	/* no such part, HEADER of a part that is not a message: "" */
	check(&f, "BODY.PEEK[9]", "* 23 FETCH (BODY[9] \"\")\r\n");
	check(&f, "BODY.PEEK[1.2]", "* 23 FETCH (BODY[1.2] \"\")\r\n");
	check(&f, "BODY.PEEK[1.HEADER]", "* 23 FETCH (BODY[1.HEADER] \"\")\r\n");
	check(&f, "BODY.PEEK[4.1.TEXT]", "* 23 FETCH (BODY[4.1.TEXT] \"\")\r\n");
	/* the top level */
	check(&f, "BODY.PEEK[HEADER]",
	      "* 23 FETCH (BODY[HEADER] {86}\r\nFrom: a@example.com\r\nSubject: 6.4.5\r\n"
	      "Content-Type: MULTIPART/MIXED; boundary=\"top\"\r\n\r\n)\r\n");
	check(&f, "RFC822.HEADER",
	      "* 23 FETCH (RFC822.HEADER {86}\r\nFrom: a@example.com\r\nSubject: 6.4.5\r\n"
	      "Content-Type: MULTIPART/MIXED; boundary=\"top\"\r\n\r\n)\r\n");
	check(&f, "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT X-None)]",
	      "* 23 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT X-None)] {39}\r\n"
	      "From: a@example.com\r\nSubject: 6.4.5\r\n\r\n)\r\n");
	/* adjacent matching lines are one range of the file; the blank line
	 * joins the closing text */
	assert_int_equal(f.out.nsegs, 3);
	assert_null(f.out.segs[1].text);
	assert_int_equal(f.out.segs[1].off, 0);
	assert_int_equal(f.out.segs[1].len, 37);
	check(&f, "BODY.PEEK[HEADER.FIELDS.NOT (From Content-Type)]",
	      "* 23 FETCH (BODY[HEADER.FIELDS.NOT (From Content-Type)] {18}\r\n"
	      "Subject: 6.4.5\r\n\r\n)\r\n");
	check(&f, "BODY.PEEK[HEADER.FIELDS (X-None)]",
	      "* 23 FETCH (BODY[HEADER.FIELDS (X-None)] {2}\r\n\r\n)\r\n");
	fx_deinit(&f);

	/* BODY[1] of a message that is not multipart is its body; HEADER of
	 * a last field without a line end gets one */
	fx_init(&f, "Subject: one\r\n\r\nonly", 20);
	check(&f, "BODY.PEEK[1]", "* 23 FETCH (BODY[1] {4}\r\nonly)\r\n");
	check(&f, "BODY.PEEK[TEXT]", "* 23 FETCH (BODY[TEXT] {4}\r\nonly)\r\n");
	fx_deinit(&f);
	fx_init(&f, "Subject: cut", 12);
	check(&f, "BODY.PEEK[HEADER.FIELDS (Subject)]",
	      "* 23 FETCH (BODY[HEADER.FIELDS (Subject)] {16}\r\nSubject: cut\r\n\r\n)\r\n");
	fx_deinit(&f);
}

static void
test_partial(void **state)
{
	struct fx f;
	fx_init(&f, "Subject: x\r\n\r\n0123456789", 24);
	check(&f, "BODY.PEEK[TEXT]<0.4>", "* 23 FETCH (BODY[TEXT]<0> {4}\r\n0123)\r\n");
	check(&f, "BODY.PEEK[TEXT]<3.4>", "* 23 FETCH (BODY[TEXT]<3> {4}\r\n3456)\r\n");
	check(&f, "BODY.PEEK[TEXT]<9.1>", "* 23 FETCH (BODY[TEXT]<9> {1}\r\n9)\r\n");
	/* size beyond the end: truncated; offset at or beyond: empty */
	check(&f, "BODY.PEEK[TEXT]<8.100>", "* 23 FETCH (BODY[TEXT]<8> {2}\r\n89)\r\n");
	check(&f, "BODY.PEEK[TEXT]<0.2048>", "* 23 FETCH (BODY[TEXT]<0> {10}\r\n0123456789)\r\n");
	check(&f, "BODY.PEEK[TEXT]<10.1>", "* 23 FETCH (BODY[TEXT]<10> \"\")\r\n");
	check(&f, "BODY.PEEK[TEXT]<11.5>", "* 23 FETCH (BODY[TEXT]<11> \"\")\r\n");
	check(&f, "BODY.PEEK[TEXT]<18446744073709551615.18446744073709551615>",
	      "* 23 FETCH (BODY[TEXT]<18446744073709551615> \"\")\r\n");
	check(&f, "BODY.PEEK[TEXT]<2.18446744073709551615>",
	      "* 23 FETCH (BODY[TEXT]<2> {8}\r\n23456789)\r\n");
	check(&f, "BODY.PEEK[]<0.7>", "* 23 FETCH (BODY[]<0> {7}\r\nSubject)\r\n");
	check(&f, "BODY.PEEK[]<23.7>", "* 23 FETCH (BODY[]<23> {1}\r\n9)\r\n");
	check(&f, "BODY.PEEK[]<24.7>", "* 23 FETCH (BODY[]<24> \"\")\r\n");
	/* partial over HEADER.FIELDS is cut after subsetting: the window
	 * spans a range of the file and the generated blank line */
	check(&f, "BODY.PEEK[HEADER.FIELDS (Subject)]<8.5>",
	      "* 23 FETCH (BODY[HEADER.FIELDS (Subject)]<8> {5}\r\n x\r\n\r)\r\n");
	check(&f, "BODY.PEEK[HEADER.FIELDS (Subject)]<13.5>",
	      "* 23 FETCH (BODY[HEADER.FIELDS (Subject)]<13> {1}\r\n\n)\r\n");
	check(&f, "BODY.PEEK[HEADER.FIELDS (Nope)]<0.1>",
	      "* 23 FETCH (BODY[HEADER.FIELDS (Nope)]<0> {1}\r\n\r)\r\n");
	fx_deinit(&f);
}

static void
test_seen(void **state)
{
	struct fx f;
	fx_init(&f, "Subject: x\r\n\r\nbody", 18);
	f.rec.flags = 0;
	f.rec.keywords = 0;
	/* CHANGEDSINCE: skips what did not change, implies MODSEQ */
	struct imap_fetch_plan *plan = plan_of(&f.a, "(FLAGS) (CHANGEDSINCE 12345)", 1, 0);
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
	assert_int_equal(f.out.nsegs, 0); /* not changed since: nothing */
	check_e(&f, "(FLAGS) (CHANGEDSINCE 12344)", 1, 0,
	        "* 23 FETCH (UID 4827313 FLAGS () MODSEQ (12345))\r\n");
	check_e(&f, "(FLAGS MODSEQ) (CHANGEDSINCE 1)", 0, 0,
	        "* 23 FETCH (FLAGS () MODSEQ (12345))\r\n");
	/* VANISHED (QRESYNC, UID FETCH) changes nothing in the responses */
	check_e(&f, "(FLAGS) (VANISHED CHANGEDSINCE 12344)", 1, IMAP_FETCH_QRESYNC,
	        "* 23 FETCH (UID 4827313 FLAGS () MODSEQ (12345))\r\n");
	uint64_t since;
	int vanished;
	plan = plan_of(&f.a, "(FLAGS) (CHANGEDSINCE 7 VANISHED)", 1, IMAP_FETCH_QRESYNC);
	assert_int_equal(imap_fetch_changedsince(plan, &since, &vanished), 1);
	assert_true(since == 7 && vanished == 1);
	plan = plan_of(&f.a, "(FLAGS)", 1, IMAP_FETCH_QRESYNC);
	assert_int_equal(imap_fetch_changedsince(plan, &since, &vanished), 0);
	/* the session sets \Seen: FLAGS are added, after the items */
	f.m.set_seen = 1;
	check(&f, "RFC822",
	      "* 23 FETCH (RFC822 {18}\r\nSubject: x\r\n\r\nbody FLAGS (\\Seen))\r\n");
	check(&f, "RFC822.TEXT", "* 23 FETCH (RFC822.TEXT {4}\r\nbody FLAGS (\\Seen))\r\n");
	check(&f, "(FLAGS BODY[TEXT])", "* 23 FETCH (FLAGS (\\Seen) BODY[TEXT] {4}\r\nbody)\r\n");
	check_e(&f, "BODY[TEXT]", 1, IMAP_FETCH_CONDSTORE,
	        "* 23 FETCH (UID 4827313 BODY[TEXT] {4}\r\nbody FLAGS (\\Seen) MODSEQ "
	        "(12345))\r\n");
	fx_deinit(&f);
}

static void
test_needs(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	enum { T = FETCH_NEED_TREE, F = FETCH_NEED_FILE, S = FETCH_SETS_SEEN | FETCH_NEED_FLAGS };
	struct {
		const char *items;
		unsigned needs;
	} cases[] = {
	        {"UID", 0},
	        {"(UID RFC822.SIZE INTERNALDATE SAVEDATE)", 0},
	        {"FLAGS", FETCH_NEED_FLAGS},
	        {"ENVELOPE", T},
	        {"BODYSTRUCTURE", T},
	        {"BODY", T},
	        {"BODY.PEEK[]", F},
	        {"BODY.PEEK[]<0.100>", F},
	        {"RFC822.HEADER", F | T},
	        {"BODY.PEEK[HEADER.FIELDS (From)]", F | T},
	        {"BODY[]", F | S},
	        {"RFC822", F | S},
	        {"(RFC822.TEXT FLAGS)", F | T | S},
	        {"(BODY.PEEK[1] BODY[2]<0.1>)", F | T | S},
	        {"PREVIEW", F | T},
	        {"MODSEQ", FETCH_ENABLES_CONDSTORE},
	        {"(UID FLAGS) (CHANGEDSINCE 5)", FETCH_NEED_FLAGS | FETCH_ENABLES_CONDSTORE},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_fetch_plan *plan = plan_of(&a, cases[i].items, 0, 0);
		if (imap_fetch_needs(plan) != cases[i].needs)
			fail_msg("%s: needs %#x, want %#x", cases[i].items, imap_fetch_needs(plan),
			         cases[i].needs);
	}
	arena_deinit(&a);
}

/* No cached tree: the bytes are parsed; neither: the message fails. */
static void
test_missing(void **state)
{
	struct fx f;
	fx_init(&f, rfc3501_example, strlen(rfc3501_example));
	f.m.tree = NULL;
	check(&f, "BODY.PEEK[4.2.2.1]", "* 23 FETCH (BODY[4.2.2.1] {12}\r\nbody 4.2.2.1)\r\n");
	check(&f, "ENVELOPE",
	      "* 23 FETCH (ENVELOPE (NIL \"6.4.5\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL "
	      "\"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL "
	      "NIL))\r\n");
	struct imap_fetch_plan *plan = plan_of(&f.a, "ENVELOPE", 0, 0);
	f.m.bytes = NULL;
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), -1);
	assert_int_equal(f.out.nsegs, 0);
	plan = plan_of(&f.a, "BODY.PEEK[]", 0, 0);
	f.m.tree = f.tree;
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), -1);
	/* a tree that does not fit the bytes */
	f.m.bytes = f.bytes;
	f.m.len = 10;
	plan = plan_of(&f.a, "BODY.PEEK[1]", 0, 0);
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), -1);
	/* FLAGS need neither */
	f.m.bytes = NULL;
	f.m.tree = NULL;
	plan = plan_of(&f.a, "(UID FLAGS)", 0, 0);
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
	fx_deinit(&f);
}

static void
test_bad(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	struct {
		const char *items, *error;
	} cases[] = {
	        {"()", "Empty fetch item list"},
	        {"FOO", "Unknown fetch item"},
	        {"(UID FOO)", "Unknown fetch item"},
	        {"(ALL)", "Fetch macros must be used alone"},
	        {"(FLAGS FAST)", "Fetch macros must be used alone"},
	        {"ALL FLAGS", "Unexpected argument after fetch items"},
	        {"RFC822.HEADER[x]", "Section on a fetch item that takes none"},
	        {"FLAGS[]", "Section on a fetch item that takes none"},
	        {"BODY.PEEK", "BODY.PEEK needs a section"},
	        {"BINARY[1.MIME]", "Invalid binary section"},
	        {"BODY[0]", "Invalid section part number"},
	        {"BODY[01]", "Invalid section part number"},
	        {"BODY[1.]", "Invalid section"},
	        {"BODY[.1]", "Invalid section"},
	        {"BODY[1..2]", "Invalid section"},
	        {"BODY[4294967296]", "Invalid section part number"},
	        {"BODY[MIME]", "MIME needs a part number"},
	        {"BODY[TEXT.1]", "Invalid section"},
	        {"BODY[FOO]", "Invalid section"},
	        {"BODY[HEADER.FIELDS]", "HEADER.FIELDS needs one list of field names"},
	        {"BODY[HEADER.FIELDS ()]", "HEADER.FIELDS needs one list of field names"},
	        {"BODY[HEADER (From)]", "Invalid section"},
	        {"BODY[HEADER.FIELDS (From) (To)]", "HEADER.FIELDS needs one list of field names"},
	        {"BODY[HEADER.FIELDS (\"Fr:om\")]", "Invalid header field name"},
	        {"BODY[HEADER.FIELDS (\"\")]", "Invalid header field name"},
	        {"BODY[HEADER.FIELDS (\"a b\")]", "Invalid header field name"},
	        {"BODY[\"HEADER\"]", "Invalid section"},
	        {"BODY[(HEADER)]", "Invalid section"},
	        {"FLAGS (FOO 1)", "Unknown fetch modifier"},
	        {"FLAGS (CHANGEDSINCE)", "Invalid CHANGEDSINCE"},
	        {"FLAGS (CHANGEDSINCE x)", "Invalid CHANGEDSINCE"},
	        {"FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", "Invalid CHANGEDSINCE"},
	        {"FLAGS (CHANGEDSINCE 9223372036854775808)", "Invalid CHANGEDSINCE"},
	        {"FLAGS (CHANGEDSINCE 1 VANISHED)", "VANISHED needs QRESYNC, which is not enabled"},
	        {"FLAGS (CHANGEDSINCE 0)", "Invalid CHANGEDSINCE"},
	        {"FLAGS (CHANGEDSINCE 18446744073709551616)", "Invalid CHANGEDSINCE"},
	        {"FLAGS ()", "Empty fetch modifier list"},
	        {"\"FLAGS\"", "Invalid fetch item"},
	        {"(FLAGS (UID))", "Invalid fetch item"},
	        {"NIL", "Invalid fetch item"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_fetch_plan *plan;
		const char *error = NULL;
		if (plan_try(&a, cases[i].items, 0, 0, &plan, &error) != -1)
			fail_msg("%s: accepted", cases[i].items);
		if (error == NULL || strcmp(error, cases[i].error) != 0)
			fail_msg("%s: \"%s\", want \"%s\"", cases[i].items, error, cases[i].error);
	}
	/* VANISHED: QRESYNC enabled, UID FETCH, with CHANGEDSINCE, once */
	struct {
		const char *items, *error;
		int uid;
	} vcases[] = {
	        {"FLAGS (CHANGEDSINCE 1 VANISHED)", "VANISHED is for UID FETCH only", 0},
	        {"FLAGS (VANISHED)", "VANISHED needs CHANGEDSINCE", 1},
	        {"FLAGS (VANISHED CHANGEDSINCE 1 VANISHED)", "Invalid VANISHED", 1},
	        {"FLAGS (VANISHED CHANGEDSINCE 0)", "Invalid CHANGEDSINCE", 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(vcases); i++) {
		struct imap_fetch_plan *plan;
		const char *error = NULL;
		if (plan_try(&a, vcases[i].items, vcases[i].uid, IMAP_FETCH_QRESYNC, &plan,
		             &error) != -1)
			fail_msg("%s: accepted", vcases[i].items);
		if (error == NULL || strcmp(error, vcases[i].error) != 0)
			fail_msg("%s: \"%s\", want \"%s\"", vcases[i].items, error,
			         vcases[i].error);
	}
	/* nothing at all */
	struct imap_arg eol[1] = {{.type = IMAP_ARG_EOL}};
	struct imap_fetch_plan *plan;
	const char *error;
	assert_int_equal(imap_fetch_parse(&a, eol, 0, 0, &plan, &error), -1);
	assert_string_equal(error, "Missing fetch items");
	/* partial size 0 (the IMAP parser refuses it first; a hand-made tree) */
	struct imap_arg sec[2] = {{.type = IMAP_ARG_ATOM,
	                           .section = true,
	                           .has_partial = true,
	                           .str = "BODY",
	                           .len = 4,
	                           .partial_size = 0},
	                          {.type = IMAP_ARG_EOL}};
	struct imap_arg none[1] = {{.type = IMAP_ARG_EOL}};
	sec[0].list = none;
	assert_int_equal(imap_fetch_parse(&a, sec, 0, 0, &plan, &error), -1);
	assert_string_equal(error, "Partial fetch size must not be 0");
	arena_deinit(&a);
}

/* pre, then first and n-1 times more, then post. */
static char *
repeat(const char *pre, const char *first, const char *more, int n, const char *post)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	nbuf_puts(&b, pre);
	for (int i = 0; i < n; i++)
		nbuf_puts(&b, i ? more : first);
	nbuf_puts(&b, post);
	nbuf_append(&b, "", 1);
	size_t len;
	return (char *)nbuf_steal(&b, &len);
}

/* Limits at limit-1, limit, limit+1: items, field names and their length,
 * part numbers. */
static void
test_limits(void **state)
{
	static const struct {
		const char *pre, *first, *more, *post;
		int max;
	} cases[] = {{"(", "UID", " UID", ")", 256},
	             {"BODY[HEADER.FIELDS (", "X", " X", ")]", 256},
	             {"BODY[HEADER.FIELDS (", "X", "X", ")]", 256},
	             {"BODY[", "1", ".1", "]", 64}};
	struct arena a;
	arena_init(&a, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		for (int n = cases[i].max - 1; n <= cases[i].max + 1; n++) {
			char *items = repeat(cases[i].pre, cases[i].first, cases[i].more, n,
			                     cases[i].post);
			struct imap_fetch_plan *plan;
			const char *error;
			assert_int_equal(plan_try(&a, items, 0, 0, &plan, &error),
			                 n <= cases[i].max ? 0 : -1);
			free(items);
		}
	}
	arena_deinit(&a);
}

/* A 30 MB message: BODY[] is one range, the text a few bytes. */
static void
test_big(void **state)
{
	size_t len = 30u << 20;
	char *msg = xmalloc(len);
	const char *head = "Subject: big\r\n\r\n";
	memcpy(msg, head, strlen(head));
	for (size_t i = strlen(head); i < len; i++)
		msg[i] = (i % 78 == 77) ? '\n' : 'a' + (char)(i % 26);
	struct fx f;
	fx_init(&f, msg, len);
	free(msg);
	struct imap_fetch_plan *plan =
	        plan_of(&f.a, "(UID BODY.PEEK[] BODY.PEEK[TEXT]<100.20000000>)", 0, 0);
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
	assert_int_equal(f.out.nsegs, 5);
	assert_null(f.out.segs[1].text);
	assert_int_equal(f.out.segs[1].len, len);
	assert_null(f.out.segs[3].text);
	assert_int_equal(f.out.segs[3].off, strlen(head) + 100);
	assert_int_equal(f.out.segs[3].len, 20000000);
	assert_true(nbuf_avail(&f.out.text) < 200);
	fx_deinit(&f);
}

/* FETCH 1:100000 FLAGS: time per message. */
static void
test_bench_flags(void **state)
{
	struct fx f;
	fx_init(&f, "Subject: x\r\n\r\nbody", 18);
	struct imap_fetch_plan *plan = plan_of(&f.a, "(UID FLAGS)", 1, 0);
	f.m.tree = NULL;
	f.m.bytes = NULL;
	size_t total = 0;
	uint64_t t0 = now_mono_us();
	for (uint32_t i = 1; i <= 100000; i++) {
		f.m.seq = i;
		f.rec.uid = i * 3;
		f.rec.flags = i & MSG_FLAGS_ALL;
		f.rec.keywords = i & 0xf;
		assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
		total += f.out.segs[0].len;
	}
	uint64_t us = now_mono_us() - t0;
	print_message("FETCH (UID FLAGS) x 100000: %.3f us/message (%zu bytes)\n",
	              (double)us / 100000.0, total);
	fx_deinit(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_flags),        cmocka_unit_test(test_macros),
	        cmocka_unit_test(test_simple_items), cmocka_unit_test(test_corpus),
	        cmocka_unit_test(test_sections),     cmocka_unit_test(test_partial),
	        cmocka_unit_test(test_seen),         cmocka_unit_test(test_needs),
	        cmocka_unit_test(test_missing),      cmocka_unit_test(test_bad),
	        cmocka_unit_test(test_limits),       cmocka_unit_test(test_big),
	        cmocka_unit_test(test_bench_flags),
	};
	char *pattern = test_data_path("mime/*.eml");
	if (glob(pattern, 0, NULL, &corpus) != 0 || corpus.gl_pathc < 20)
		return 1;
	free(pattern);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	globfree(&corpus);
	return rc;
}
