/*
 * Unit tests: the SEARCH engine. Programs go through the IMAP parser and
 * run on records and on messages (corpus files and inline ones): every
 * RFC 3501 §6.4.4 key, sets with "*" and "$", dates by calendar day,
 * decoded headers (RFC 2047) and bodies (quoted-printable, base64,
 * ISO-8859-1, KOI8-R, UTF-8), Unicode case folding (ÄÖÜ/äöü, Σ/σ/ς,
 * Cyrillic), matches across the chunks mime_text_walk delivers and the
 * slices the matcher folds, cheap keys first (no bytes read), depth, key
 * and string limits, bad programs. Also times SEARCH TEXT over 20 MB.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/search.h"

static char *
read_data(const char *name, size_t *len_r)
{
	char *rel = xasprintf("mime/%s.eml", name);
	char *data = test_data_read(rel, len_r);
	free(rel);
	return data;
}

/* Parse "SEARCH <keys>" into a program in a: 0, or -1 with the error and
 * response code. A parser-level refusal fails the test. */
static int
prog_try(struct arena *a, const char *keys, struct imap_search **s_r, const char **error_r,
         const char **code_r)
{
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	struct imap_parser_limits lim;
	imap_parser_limits_init(&lim, true);
	lim.depth_max = IMAP_DEPTH_HARD_MAX; /* so that ours is the limit tested */
	lim.argc_max = 100000;
	imap_parser_init(&p, &lim);
	nbuf_init(&in, 1 << 20);
	assert_int_equal(nbuf_printf(&in, "A1 SEARCH %s\r\n", keys), 0);
	if (imap_parser_next(&p, &in, &cmd) != IMAP_PARSE_DONE)
		fail_msg("parser refused %.60s: %s", keys, imap_parser_error(&p)->text);
	*error_r = *code_r = NULL;
	int rc = imap_search_parse(a, cmd->args, cmd->argc, s_r, error_r, code_r);
	nbuf_deinit(&in);
	imap_parser_deinit(&p); /* the program must not point into the arguments */
	return rc;
}

static struct imap_search *
prog(struct arena *a, const char *keys)
{
	struct imap_search *s;
	const char *error, *code;
	if (prog_try(a, keys, &s, &error, &code) != 0)
		fail_msg("%s: %s", keys, error);
	return s;
}

struct fx {
	struct arena a;
	struct store_msg rec;
	struct cmd_str kw[3];
	struct imap_search_msg m;
	struct imap_search_ctx ctx;
	struct mime_message *tree;
	char *bytes;
};

static void
fx_init(struct fx *f, const char *msg, size_t len)
{
	memset(f, 0, sizeof(*f));
	arena_init(&f->a, 0);
	f->rec.uid = 500;
	f->rec.size = len;
	f->rec.internaldate = 1057049557; /* 2003-07-01 08:52:37 UTC */
	f->kw[0] = (struct cmd_str){"$Junk", 5};
	f->kw[1] = (struct cmd_str){"$Label1", 7};
	f->kw[2] = (struct cmd_str){"NonJunk", 7};
	if (msg != NULL) {
		f->bytes = xmalloc(len + 1);
		memcpy(f->bytes, msg, len);
		f->bytes[len] = 0;
		assert_int_equal(mime_parse(f->bytes, len, NULL, &f->tree), 0);
	}
	f->m = (struct imap_search_msg){.seq = 7,
	                                .rec = &f->rec,
	                                .keywords = f->kw,
	                                .nkeywords = 3,
	                                .bytes = f->bytes,
	                                .len = len,
	                                .tree = f->tree};
	f->ctx = (struct imap_search_ctx){.max_seq = 10, .max_uid = 900};
}

static void
fx_str(struct fx *f, const char *msg)
{
	fx_init(f, msg, strlen(msg));
}

static void
fx_file(struct fx *f, const char *name)
{
	size_t len;
	char *msg = read_data(name, &len);
	fx_init(f, msg, len);
	free(msg);
}

static void
fx_deinit(struct fx *f)
{
	mime_message_free(&f->tree);
	free(f->bytes);
	arena_deinit(&f->a);
}

/* keys match (want 1) or not (0), with the cached tree and without. */
static void
expect(struct fx *f, const char *keys, int want)
{
	struct imap_search *s = prog(&f->a, keys);
	int got = imap_search_match(s, &f->ctx, &f->m);
	if (got != want)
		fail_msg("%s: %d, want %d", keys, got, want);
	if (f->m.tree != NULL) {
		f->m.tree = NULL;
		got = imap_search_match(s, &f->ctx, &f->m);
		f->m.tree = f->tree;
		if (got != want)
			fail_msg("%s (no tree): %d, want %d", keys, got, want);
	}
	/* the record-only answer agrees when it decides */
	int pre = imap_search_match_record(s, &f->ctx, &f->m);
	if (pre != IMAP_SEARCH_UNDECIDED && pre != want)
		fail_msg("%s (record): %d, want %d", keys, pre, want);
}

static void
test_flag_keys(void **state)
{
	struct fx f;
	fx_init(&f, NULL, 1000);
	static const struct {
		const char *on, *off;
		uint32_t flag;
	} keys[] = {{"ANSWERED", "UNANSWERED", MSG_ANSWERED},
	            {"DELETED", "UNDELETED", MSG_DELETED},
	            {"DRAFT", "UNDRAFT", MSG_DRAFT},
	            {"FLAGGED", "UNFLAGGED", MSG_FLAGGED},
	            {"SEEN", "UNSEEN", MSG_SEEN}};
	for (uint32_t flags = 0; flags <= MSG_FLAGS_ALL; flags++) {
		f.rec.flags = flags;
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			expect(&f, keys[i].on, !!(flags & keys[i].flag));
			expect(&f, keys[i].off, !(flags & keys[i].flag));
			char *k = xasprintf("keyword \\%s", keys[i].on);
			expect(&f, k, !!(flags & keys[i].flag));
			free(k);
		}
	}
	f.rec.flags = 0;
	expect(&f, "ALL", 1);
	expect(&f, "all", 1);
	for (int recent = 0; recent < 2; recent++) {
		f.m.recent = recent;
		for (int seen = 0; seen < 2; seen++) {
			f.rec.flags = seen ? MSG_SEEN : 0;
			expect(&f, "RECENT", recent);
			expect(&f, "OLD", !recent);
			expect(&f, "NEW", recent && !seen);
			expect(&f, "NOT NEW", !(recent && !seen));
			expect(&f, "KEYWORD \\Recent", recent);
		}
	}
	f.rec.keywords = 0x5; /* $Junk, NonJunk */
	expect(&f, "KEYWORD $Junk", 1);
	expect(&f, "KEYWORD $junk", 1);
	expect(&f, "KEYWORD $Label1", 0);
	expect(&f, "KEYWORD NonJunk", 1);
	expect(&f, "KEYWORD Unknown", 0);
	expect(&f, "UNKEYWORD $Label1", 1);
	expect(&f, "UNKEYWORD $Junk", 0);
	expect(&f, "UNKEYWORD Unknown", 1);
	/* bits beyond the mailbox's names are no keyword */
	f.m.nkeywords = 1;
	expect(&f, "KEYWORD NonJunk", 0);
	fx_deinit(&f);
}

static void
test_sets(void **state)
{
	struct fx f;
	fx_init(&f, NULL, 1000);
	expect(&f, "7", 1);
	expect(&f, "1:6", 0);
	expect(&f, "1:6,7", 1);
	expect(&f, "8:*", 0);
	expect(&f, "*", 0);
	expect(&f, "7:*", 1);
	f.m.seq = 10; /* the last message */
	expect(&f, "*", 1);
	expect(&f, "15:*", 1); /* "15:*" with 10 messages is 10:15 */
	expect(&f, "1:9", 0);
	expect(&f, "UID 500", 1);
	expect(&f, "UID 1:499,501:*", 0);
	expect(&f, "UID 443:557", 1);
	expect(&f, "UID 1000:*", 0);
	f.rec.uid = 900; /* the highest UID */
	expect(&f, "UID 1000:*", 1);
	expect(&f, "UID *", 1);
	expect(&f, "1:* UID 1:4294967295", 1);
	/* "$": the saved result, UIDs; none saved: no message */
	expect(&f, "$", 0);
	expect(&f, "UID $", 0);
	struct imap_seqset saved;
	uint32_t uids[] = {900, 3};
	assert_int_equal(imap_seqset_from_array(&f.a, uids, 2, &saved), 0);
	f.ctx.saved = &saved;
	expect(&f, "$", 1);
	expect(&f, "UID $", 1);
	f.rec.uid = 4;
	expect(&f, "$", 0);
	expect(&f, "NOT UID $", 1);
	struct imap_search *s = prog(&f.a, "UID $ SEEN");
	assert_int_equal(imap_search_needs(s), SEARCH_NEED_SAVED);
	fx_deinit(&f);
}

static void
test_sizes(void **state)
{
	struct fx f;
	fx_init(&f, NULL, 1000);
	expect(&f, "LARGER 999", 1);
	expect(&f, "LARGER 1000", 0);
	expect(&f, "SMALLER 1001", 1);
	expect(&f, "SMALLER 1000", 0);
	expect(&f, "LARGER 0", 1);
	expect(&f, "SMALLER 0", 0);
	expect(&f, "LARGER 18446744073709551615", 0);
	fx_deinit(&f);
}

static void
test_dates(void **state)
{
	struct fx f;
	/* sent 1 Jul 2003 00:30 in +0200, 30 Jun in UTC: the sender's day */
	fx_str(&f, "Date: Tue, 1 Jul 2003 00:30:00 +0200\r\nSubject: d\r\n\r\nx\r\n");
	f.rec.internaldate = 1057017599; /* 2003-06-30 23:59:59 UTC */
	expect(&f, "ON 30-Jun-2003", 1);
	expect(&f, "ON 1-Jul-2003", 0);
	expect(&f, "BEFORE 1-Jul-2003", 1);
	expect(&f, "BEFORE 30-Jun-2003", 0);
	expect(&f, "SINCE 30-Jun-2003", 1);
	expect(&f, "SINCE 1-Jul-2003", 0);
	expect(&f, "SINCE \"30-jun-2003\"", 1);
	f.rec.internaldate = 1057017600; /* 2003-07-01 00:00:00 UTC */
	expect(&f, "ON 01-Jul-2003", 1);
	expect(&f, "BEFORE 1-Jul-2003", 0);
	expect(&f, "SINCE 1-JUL-2003", 1);
	expect(&f, "SENTON 1-Jul-2003", 1);
	expect(&f, "SENTON 30-Jun-2003", 0);
	expect(&f, "SENTBEFORE 1-Jul-2003", 0);
	expect(&f, "SENTBEFORE 2-Jul-2003", 1);
	expect(&f, "SENTSINCE 1-Jul-2003", 1);
	expect(&f, "SENTSINCE 2-Jul-2003", 0);
	f.rec.internaldate = -86400; /* 1969-12-31 */
	expect(&f, "ON 31-Dec-1969", 1);
	expect(&f, "BEFORE 1-Jan-1970", 1);
	fx_deinit(&f);
	/* leap days; no Date header, or a bad one: no SENT* match */
	fx_str(&f, "Subject: no date\r\n\r\nx\r\n");
	f.rec.internaldate = 951782400; /* 2000-02-29 */
	expect(&f, "ON 29-Feb-2000", 1);
	expect(&f, "SENTBEFORE 1-Jan-2100", 0);
	expect(&f, "SENTSINCE 1-Jan-1900", 0);
	expect(&f, "NOT SENTON 1-Jan-2000", 1);
	fx_deinit(&f);
	fx_str(&f, "Date: garbage\r\n\r\nx\r\n");
	expect(&f, "SENTSINCE 1-Jan-1900", 0);
	fx_deinit(&f);
	fx_file(&f, "plain"); /* Tue, 1 Jul 2003 10:52:37 +0200 */
	expect(&f, "SENTON 1-Jul-2003", 1);
	fx_deinit(&f);
}

static void
test_headers(void **state)
{
	struct fx f;
	fx_file(&f, "rfc2047_subjects");
	/* From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be> */
	expect(&f, "FROM \"Andr\xc3\xa9\"", 1);
	expect(&f, "FROM \"ANDR\xc3\x89 PIRARD\"", 1);
	expect(&f, "FROM \"andr\xc3\xa9 pirard <pirard@VM1\"", 1);
	expect(&f, "FROM pirard@vm1.ulg.ac.be", 1);
	expect(&f, "FROM \"=?ISO\"", 0); /* decoded, not raw */
	expect(&f, "FROM yamada", 0);
	/* To: =?UTF-8?B?...?= <yamada@...>, =?KOI8-R?B?8MXU0s/X?= <petrov@...> */
	expect(&f, "TO \"\xe5\xb1\xb1\xe7\x94\xb0\"", 1);                         /* 山田 */
	expect(&f, "TO \"\xd0\x9f\xd0\x95\xd0\xa2\xd0\xa0\xd0\x9e\xd0\x92\"", 1); /* ПЕТРОВ */
	expect(&f, "TO \"\xd0\xbf\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe\xd0\xb2\"", 1); /* петров */
	expect(&f, "TO petrov@example.ru", 1);
	expect(&f, "CC test@example.jp", 1);
	expect(&f, "BCC test", 0);
	/* Subject: Grüße aus München € 😀 over two encoded words */
	expect(&f, "SUBJECT \"GR\xc3\x9c\xc3\x9f\x45 AUS M\xc3\x9cNCHEN\"", 1);
	expect(&f, "SUBJECT \"m\xc3\xbcnchen \xe2\x82\xac \xf0\x9f\x98\x80\"", 1);
	expect(&f, "SUBJECT muenchen", 0);
	expect(&f, "SUBJECT \"\"", 1);
	expect(&f, "HEADER Message-ID \"\"", 1);
	expect(&f, "HEADER message-id 2047@EXAMPLE", 1);
	expect(&f, "HEADER X-Missing \"\"", 0);
	expect(&f, "HEADER Content-Type iso-8859-1", 1);
	expect(&f, "HEADER \"Content-Transfer-Encoding\" QUOTED", 1);
	struct imap_search *s = prog(&f.a, "SUBJECT x");
	assert_int_equal(imap_search_needs(s), SEARCH_NEED_HEADER);
	fx_deinit(&f);
	/* a second field of the same name counts; folded values unfold */
	fx_str(&f, "To: a@example.com\r\nTo: b@example.com,\r\n\tc@example.com\r\n\r\nbody\r\n");
	expect(&f, "TO b@example.com", 1);
	expect(&f, "TO \"example.com,\tc@\"", 1); /* CRLF goes, the tab stays */
	expect(&f, "TO \"body\"", 0);
	fx_deinit(&f);
}

static void
test_body_text(void **state)
{
	struct fx f;
	fx_file(&f, "rfc2047_subjects"); /* body: ISO-8859-1 QP "Gr=FC=DFe!" */
	expect(&f, "BODY \"gr\xc3\xbc\xc3\x9f\x65!\"", 1);
	expect(&f, "BODY \"GR\xc3\x9c\xc3\x9f\x45\"", 1);
	expect(&f, "BODY \"=FC\"", 0);
	expect(&f, "BODY pirard", 0);
	expect(&f, "TEXT pirard", 1); /* the header counts for TEXT */
	expect(&f, "TEXT \"Subject: Gr\xc3\xbc\"", 1);
	expect(&f, "TEXT \"gr\xc3\xbc\xc3\x9f\x65!\"", 1);
	expect(&f, "TEXT nowhere", 0);
	expect(&f, "BODY \"\"", 1);
	struct imap_search *s = prog(&f.a, "BODY x");
	assert_int_equal(imap_search_needs(s), SEARCH_NEED_BODY);
	s = prog(&f.a, "TEXT \"\"");
	assert_int_equal(imap_search_needs(s), 0);
	fx_deinit(&f);
	/* only text parts; HTML is text too */
	fx_file(&f, "thunderbird_alternative");
	expect(&f, "BODY \"here is the draft\"", 1);
	expect(&f, "BODY \"<b>DRAFT</b>\"", 1);
	expect(&f, "BODY \"release notes\"", 0);
	expect(&f, "TEXT \"release notes\"", 1);
	fx_deinit(&f);
	fx_file(&f, "apple_mixed_attachment");
	expect(&f, "BODY JVBER", 0); /* the base64 PDF is not searched */
	fx_deinit(&f);
}

static void
test_charsets(void **state)
{
	struct fx f;
	/* base64 UTF-8: "Σοφία ΟΔΟΣ οδος\n" */
	fx_str(&f, "Content-Type: text/plain; charset=UTF-8\r\n"
	           "Content-Transfer-Encoding: base64\r\n\r\n"
	           "zqPOv8+Gzq/OsSDOn86Uzp/OoyDOv860zr/PggoK\r\n");
	expect(&f, "BODY \"\xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1\"", 1); /* σοφία */
	expect(&f, "BODY \"\xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91\"", 1); /* ΣΟΦΊΑ */
	expect(&f, "BODY \"\xce\xa3\xce\x9f\xce\xa6\xce\xaf\xce\x91\"", 1); /* ΣΟΦίΑ */
	/* ΟΔΟΣ, οδος (final ς) and οδοσ are one word */
	expect(&f, "BODY \"\xce\xbf\xce\xb4\xce\xbf\xcf\x83 \xce\xbf\xce\xb4\xce\xbf\xcf\x82\"", 1);
	expect(&f, "BODY \"\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\x9f\xce\x94\xce\x9f\xce\xa3\"", 1);
	fx_deinit(&f);
	/* ISO-8859-1 8bit: "ÄÖÜ äöü" */
	fx_str(&f, "Content-Type: text/plain; charset=iso-8859-1\r\n"
	           "Content-Transfer-Encoding: 8bit\r\n\r\n"
	           "Umlaute: \xc4\xd6\xdc \xe4\xf6\xfc\r\n");
	expect(&f, "BODY \"\xc3\xa4\xc3\xb6\xc3\xbc \xc3\x84\xc3\x96\xc3\x9c\"", 1);
	expect(&f, "CHARSET UTF-8 BODY \"\xc3\x84\xc3\x96\xc3\x9c \xc3\x84\xc3\x96\xc3\x9c\"", 1);
	expect(&f, "BODY \"\xc4\xd6\xdc\"", 0); /* raw Latin-1 bytes are not UTF-8 */
	fx_deinit(&f);
	/* quoted-printable with a soft break inside the word */
	fx_str(&f, "Content-Type: text/plain; charset=utf-8\r\n"
	           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	           "Gr=C3=BC=C3=9Fe aus M=C3=BCn=\r\nchen\r\n");
	expect(&f, "BODY \"M\xc3\x9cNCHEN\"", 1);
	expect(&f, "BODY \"=\"", 0);
	fx_deinit(&f);
	/* KOI8-R and windows-1251 Cyrillic: "Привет" */
	fx_str(&f, "Content-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n");
	expect(&f, "BODY \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\"", 1);
	expect(&f, "BODY \"\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2\"", 1);
	fx_deinit(&f);
	fx_str(&f, "Content-Type: text/plain; "
	           "charset=windows-1251\r\n\r\n\xcf\xf0\xe8\xe2\xe5\xf2\r\n");
	expect(&f, "BODY \"\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2\"", 1);
	fx_deinit(&f);
	/* ASCII folds eight bytes at a time: only A-Z change */
	fx_str(&f, "Content-Type: text/plain\r\n\r\n@AZ[`az{ ?@ABYZ[\\]^_`abyz{|}~\r\n");
	expect(&f, "BODY \"@az[`AZ{ ?@abyz[\\\\]^_`ABYZ{|}~\"", 1);
	expect(&f, "BODY \"`az[\"", 0); /* '@' is not '`' */
	expect(&f, "BODY \"@az{\"", 0); /* '[' is not '{' */
	expect(&f, "BODY \"@az[\"", 1);
	fx_deinit(&f);
	/* Latin Extended-A, Turkish İ, Kelvin sign, ẞ */
	fx_str(&f, "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	           "\xc5\x81\xc3\x93\x44\xc5\xb9 \xc4\xb0stanbul 300\xe2\x84\xaa \xe1\xba\x9e\r\n");
	expect(&f, "BODY \"\xc5\x82\xc3\xb3\x64\xc5\xba\"", 1); /* łódź */
	expect(&f, "BODY istanbul", 1);
	expect(&f, "BODY 300k", 1);
	expect(&f, "BODY \"\xc3\x9f\"", 1); /* ß matches ẞ */
	fx_deinit(&f);
}

/* A needle placed across every boundary: mime_text_walk's 64 KiB chunks
 * and the matcher's 8 KiB folding slices, starting at every character
 * near them, with 2-byte characters around; it folds to 11 bytes, so the
 * overlap kept (10 bytes) can start on a character. */
static void
test_cross_chunk(void **state)
{
	const char *head = "Content-Type: text/plain; charset=utf-8\r\n\r\n";
	const char *needle = "N\xc3\xa4\x65\x64le-\xce\xa3x";         /* Näedle-Σx */
	const char *query = "BODY \"n\xc3\x84\x65\x64LE-\xcf\x82X\""; /* nÄedLE-ςX */
	size_t hl = strlen(head), nl = strlen(needle), body = 3 * 65536;
	size_t where[] = {8192, 16384, 65536, 2 * 65536, 3 * 65536 - 14};
	char *msg = xmalloc(hl + body + 1);
	for (size_t w = 0; w < ARRAY_SIZE(where); w++) {
		for (size_t at = where[w] - 14; at <= where[w] + 2 && at + nl <= body; at += 2) {
			memcpy(msg, head, hl);
			for (size_t i = 0; i < body; i += 2)
				memcpy(msg + hl + i, "\xc3\xa9", 2); /* "é" fills the body */
			memcpy(msg + hl + at, needle, nl);
			struct fx f;
			fx_init(&f, msg, hl + body);
			expect(&f, query, 1);
			expect(&f, "BODY \"needle-x\"", 0);
			fx_deinit(&f);
		}
	}
	free(msg);
	/* never across two parts */
	struct fx f;
	fx_str(&f, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhalf-nee\r\n"
	           "--b\r\n\r\ndle-rest\r\n--b--\r\n");
	expect(&f, "BODY half-nee", 1);
	expect(&f, "BODY dle-rest", 1);
	expect(&f, "BODY needle", 0);
	expect(&f, "BODY nee", 1);
	fx_deinit(&f);
}

/* UNSEEN SUBJECT x: a seen message is decided without its bytes. */
static void
test_cheap_first(void **state)
{
	struct fx f;
	fx_str(&f, "Subject: hello\r\n\r\nbody\r\n");
	struct imap_search *s = prog(&f.a, "SUBJECT hello UNSEEN");
	f.rec.flags = MSG_SEEN;
	assert_int_equal(imap_search_match_record(s, &f.ctx, &f.m), 0);
	f.m.bytes = NULL; /* reading would fail */
	f.m.tree = NULL;
	assert_int_equal(imap_search_match(s, &f.ctx, &f.m), 0);
	f.rec.flags = 0;
	assert_int_equal(imap_search_match_record(s, &f.ctx, &f.m), IMAP_SEARCH_UNDECIDED);
	assert_int_equal(imap_search_match(s, &f.ctx, &f.m), -1);
	f.m.bytes = f.bytes;
	assert_int_equal(imap_search_match(s, &f.ctx, &f.m), 1);
	/* OR and NOT: the cheap side first */
	f.m.bytes = NULL;
	s = prog(&f.a, "OR BODY x SEEN");
	f.rec.flags = MSG_SEEN;
	assert_int_equal(imap_search_match_record(s, &f.ctx, &f.m), 1);
	assert_int_equal(imap_search_match(s, &f.ctx, &f.m), 1);
	s = prog(&f.a, "NOT (TEXT x DELETED)");
	assert_int_equal(imap_search_match(s, &f.ctx, &f.m), 1);
	s = prog(&f.a, "(BODY a (SUBJECT b (FROM c LARGER 100000)))");
	assert_int_equal(imap_search_match_record(s, &f.ctx, &f.m), 0);
	assert_int_equal(imap_search_match(s, &f.ctx, &f.m), 0);
	s = prog(&f.a, "OR (BODY a) (SUBJECT b)");
	assert_int_equal(imap_search_match_record(s, &f.ctx, &f.m), IMAP_SEARCH_UNDECIDED);
	f.m.bytes = f.bytes;
	expect(&f, "OR (BODY a) (SUBJECT hello)", 1);
	expect(&f, "NOT OR (BODY a) (SUBJECT hello)", 0);
	expect(&f, "OR (BODY a) (SUBJECT b)", 0);
	expect(&f, "SEEN NOT NOT NOT UNSEEN (NOT DELETED) OR 1 7", 1);
	fx_deinit(&f);
}

static void
test_bad(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	static const struct {
		const char *keys, *error;
	} cases[] = {
	        {"FOO", "Unknown search key"},
	        {"FROM", "Missing search key argument"},
	        {"HEADER Subject", "Missing search key argument"},
	        {"OR SEEN", "Missing search key argument"},
	        {"NOT", "Missing search key argument"},
	        {"()", "Empty search key list"},
	        {"(SEEN ())", "Empty search key list"},
	        {"SINCE 32-Jan-2024", "Invalid search date"},
	        {"SINCE 29-Feb-2023", "Invalid search date"},
	        {"SINCE 0-Jan-2024", "Invalid search date"},
	        {"SINCE 1-Foo-2024", "Invalid search date"},
	        {"SINCE 1-Jan-24", "Invalid search date"},
	        {"SINCE 001-Jan-2024", "Invalid search date"},
	        {"SINCE 1-Jan-2024x", "Invalid search date"},
	        {"SINCE {10+}\r\n1-Jan-2024", "Invalid search date"},
	        {"LARGER x", "Invalid size"},
	        {"LARGER -1", "Invalid size"},
	        {"SMALLER 18446744073709551616", "Invalid size"},
	        {"UID x", "Invalid sequence set"},
	        {"UID 0", NULL},
	        {"1,,2", NULL},
	        {"KEYWORD \\Foo", "Invalid keyword"},
	        {"KEYWORD \"x\"", "Invalid keyword"},
	        {"HEADER \"a:b\" x", "Invalid header field name"},
	        {"HEADER \"\" x", "Invalid header field name"},
	        {"FROM (x)", "Invalid search string"},
	        {"\"SEEN\"", "Invalid search key"},
	        {"CHARSET", "Missing charset"},
	        {"CHARSET UTF-8", "Missing search keys"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_search *s;
		const char *error, *code;
		if (prog_try(&a, cases[i].keys, &s, &error, &code) != -1)
			fail_msg("%s: accepted", cases[i].keys);
		assert_null(code);
		if (cases[i].error != NULL && (error == NULL || strcmp(error, cases[i].error) != 0))
			fail_msg("%s: \"%s\", want \"%s\"", cases[i].keys, error, cases[i].error);
		assert_non_null(error);
	}
	struct imap_search *s;
	const char *error, *code;
	assert_int_equal(prog_try(&a, "CHARSET ISO-8859-1 FROM x", &s, &error, &code), -1);
	assert_string_equal(code, "BADCHARSET (UTF-8 US-ASCII)");
	assert_int_equal(prog_try(&a, "CHARSET utf-8 FROM x", &s, &error, &code), 0);
	assert_int_equal(prog_try(&a, "CHARSET \"US-ASCII\" FROM x", &s, &error, &code), 0);
	struct imap_arg eol[1] = {{.type = IMAP_ARG_EOL}};
	assert_int_equal(imap_search_parse(&a, eol, 0, &s, &error, &code), -1);
	assert_string_equal(error, "Missing search keys");
	arena_deinit(&a);
}

/* Nesting at limit-1, limit, limit+1, through the IMAP parser; 10,000
 * NOTs and a hand-made tree 10,000 lists deep are refused. */
static void
test_depth(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	struct fx f;
	fx_init(&f, NULL, 10);
	for (int n = IMAP_SEARCH_DEPTH_MAX - 1; n <= IMAP_SEARCH_DEPTH_MAX + 1; n++) {
		struct nbuf b;
		nbuf_init(&b, 1 << 20);
		for (int i = 0; i < n; i++)
			nbuf_puts(&b, "NOT ");
		nbuf_puts(&b, "SEEN");
		nbuf_append(&b, "", 1);
		struct imap_search *s;
		const char *error, *code;
		int rc = prog_try(&a, (const char *)nbuf_head(&b), &s, &error, &code);
		assert_int_equal(rc, n <= IMAP_SEARCH_DEPTH_MAX ? 0 : -1);
		if (rc == 0)
			assert_int_equal(imap_search_match(s, &f.ctx, &f.m), n % 2 == 1);
		else
			assert_string_equal(error, "Search program nested too deeply");
		nbuf_reset(&b);
		for (int i = 0; i < n; i++)
			nbuf_puts(&b, "(");
		nbuf_puts(&b, "ALL");
		for (int i = 0; i < n; i++)
			nbuf_puts(&b, ")");
		nbuf_append(&b, "", 1);
		rc = prog_try(&a, (const char *)nbuf_head(&b), &s, &error, &code);
		assert_int_equal(rc, n <= IMAP_SEARCH_DEPTH_MAX ? 0 : -1);
		nbuf_deinit(&b);
	}
	/* 10,000 NOTs */
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		nbuf_puts(&b, "NOT ");
	nbuf_puts(&b, "SEEN");
	nbuf_append(&b, "", 1);
	struct imap_search *s;
	const char *error, *code;
	assert_int_equal(prog_try(&a, (const char *)nbuf_head(&b), &s, &error, &code), -1);
	nbuf_deinit(&b);
	/* a tree 10,000 lists deep, built by hand */
	struct imap_arg *nodes = xcalloc(2 * 10001, sizeof(*nodes));
	for (int i = 0; i < 10000; i++) {
		nodes[2 * i] = (struct imap_arg){
		        .type = IMAP_ARG_LIST, .list = &nodes[2 * i + 2], .count = 1};
		nodes[2 * i + 1].type = IMAP_ARG_EOL;
	}
	nodes[20000] = (struct imap_arg){.type = IMAP_ARG_ATOM, .str = "ALL", .len = 3};
	nodes[20001].type = IMAP_ARG_EOL;
	assert_int_equal(imap_search_parse(&a, nodes, 1, &s, &error, &code), -1);
	assert_string_equal(error, "Search program nested too deeply");
	free(nodes);
	fx_deinit(&f);
	arena_deinit(&a);
}

static void
test_limits(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	for (int n = IMAP_SEARCH_KEYS_MAX - 2; n <= IMAP_SEARCH_KEYS_MAX; n++) {
		/* n keys plus the top-level AND node */
		struct nbuf b;
		nbuf_init(&b, 1 << 20);
		for (int i = 0; i < n; i++)
			nbuf_puts(&b, i ? " SEEN" : "SEEN");
		nbuf_append(&b, "", 1);
		struct imap_search *s;
		const char *error, *code;
		int rc = prog_try(&a, (const char *)nbuf_head(&b), &s, &error, &code);
		assert_int_equal(rc, n + 1 <= IMAP_SEARCH_KEYS_MAX ? 0 : -1);
		if (rc != 0)
			assert_string_equal(error, "Too many search keys");
		nbuf_deinit(&b);
	}
	for (int n = 4095; n <= 4097; n++) {
		char *str = xmalloc((size_t)n + 1);
		memset(str, 'a', (size_t)n);
		str[n] = 0;
		char *keys = xasprintf("BODY {%d+}\r\n%s", n, str);
		struct imap_search *s;
		const char *error, *code;
		int rc = prog_try(&a, keys, &s, &error, &code);
		assert_int_equal(rc, n <= 4096 ? 0 : -1);
		if (rc != 0)
			assert_string_equal(error, "Search string too long");
		free(keys);
		free(str);
	}
	/* an arena that runs out is an error, not a crash */
	struct arena small;
	arena_init(&small, 512);
	struct imap_search *s;
	const char *error, *code;
	assert_int_equal(prog_try(&small,
	                          "OR OR OR SEEN DRAFT FROM a TO b SUBJECT c BODY d "
	                          "TEXT e UID 1:5,7,9",
	                          &s, &error, &code),
	                 -1);
	assert_string_equal(error, "Search program too large");
	arena_deinit(&small);
	arena_deinit(&a);
}

/* Every corpus message: every key runs, and answers the same with the
 * cached tree, without it, and with a decoded cached tree. */
static void
test_corpus(void **state)
{
	static const char *const programs[] = {
	        "TEXT example",
	        "BODY the",
	        "FROM example",
	        "SUBJECT e",
	        "HEADER Content-Type \"\"",
	        "TO @",
	        "CC a",
	        "SENTSINCE 1-Jan-2000",
	        "TEXT \"\xc3\xbc\"",
	        "OR BODY x TEXT y",
	};
	for (size_t i = 0; i < test_mime_corpus_n; i++) {
		struct fx f;
		fx_file(&f, test_mime_corpus[i]);
		struct nbuf enc;
		struct mime_message *decoded;
		nbuf_init(&enc, 1 << 26);
		assert_int_equal(mime_tree_encode(f.tree, &enc), 0);
		assert_int_equal(mime_tree_decode(nbuf_head(&enc), nbuf_avail(&enc), &decoded), 0);
		for (size_t k = 0; k < ARRAY_SIZE(programs); k++) {
			struct imap_search *s = prog(&f.a, programs[k]);
			f.m.tree = f.tree;
			int a = imap_search_match(s, &f.ctx, &f.m);
			f.m.tree = NULL;
			int b = imap_search_match(s, &f.ctx, &f.m);
			f.m.tree = decoded;
			int c = imap_search_match(s, &f.ctx, &f.m);
			if (a < 0 || a != b || a != c)
				fail_msg("%s: %s: %d %d %d", test_mime_corpus[i], programs[k], a, b,
				         c);
		}
		mime_message_free(&decoded);
		nbuf_deinit(&enc);
		fx_deinit(&f);
	}
}

/* SEARCH TEXT over a 20 MB message that does not contain the string. */
static void
test_bench_text(void **state)
{
	const char *head = "Subject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
	size_t hl = strlen(head), len = 20u << 20;
	char *msg = xmalloc(len);
	memcpy(msg, head, hl);
	static const char words[] =
	        "The quick brown fox jumps over the lazy dog. Grüße aus München! ";
	for (size_t i = hl; i < len; i++)
		msg[i] = (i % 76 == 75) ? '\n' : words[(i - hl) % (sizeof(words) - 1)];
	struct fx f;
	fx_init(&f, msg, len);
	free(msg);
	struct imap_search *s = prog(&f.a, "TEXT \"not in this message\"");
	uint64_t t0 = now_mono_us();
	assert_int_equal(imap_search_match(s, &f.ctx, &f.m), 0);
	uint64_t us = now_mono_us() - t0;
	print_message("SEARCH TEXT over %zu MB: %.1f MB/s\n", len >> 20,
	              (double)len / (1 << 20) / ((double)us / 1e6));
	fx_deinit(&f);
}

/* OBJECTID (RFC 8474 §6): EMAILID is the FETCH EMAILID, THREADID the
 * FETCH THREADID (none: matches nothing).
 * The session's flags: UTF8=ACCEPT refuses CHARSET, IMAP4rev2 the
 * \Recent keys. */
static void
test_objectid_and_flags(void **state)
{
	struct fx f;
	fx_str(&f, "Subject: x\r\n\r\nbody\r\n");
	for (int i = 0; i < CMD_HASH_LEN; i++)
		f.rec.hash[i] = (uint8_t)(i * 7 + 1);
	char id[IMAP_EMAILID_LEN + 1], keys[128];
	imap_fetch_emailid(f.rec.hash, id);
	snprintf(keys, sizeof(keys), "EMAILID %s", id);
	expect(&f, keys, 1);
	snprintf(keys, sizeof(keys), "NOT EMAILID \"%s\"", id);
	expect(&f, keys, 0);
	expect(&f, "EMAILID E0123", 0);
	id[1] ^= 1;
	snprintf(keys, sizeof(keys), "EMAILID %s", id);
	expect(&f, keys, 0);
	expect(&f, "THREADID T1", 0); /* the message has no thread id */
	expect(&f, "NOT THREADID T1", 1);
	expect(&f, "OR THREADID T1 ALL", 1);
	f.rec.thread_id = ((uint64_t)3 << 32) | 17;
	char tid[IMAP_THREADID_LEN + 1];
	assert_int_equal(imap_fetch_threadid(f.rec.thread_id, tid), 0);
	assert_string_equal(tid, "T0000000300000011");
	expect(&f, "THREADID T0000000300000011", 1);
	expect(&f, "THREADID \"T0000000300000011\"", 1);
	expect(&f, "NOT THREADID T0000000300000011", 0);
	expect(&f, "THREADID T0000000300000012", 0);
	expect(&f, "THREADID t0000000300000011", 0); /* objectids are case-sensitive */
	expect(&f, "THREADID T1", 0);
	snprintf(keys, sizeof(keys), "THREADID %s", id); /* an EMAILID is not a THREADID */
	expect(&f, keys, 0);
	f.rec.thread_id = 0;
	struct imap_search *s;
	const char *error, *code;
	static const char *const bad[] = {"EMAILID", "EMAILID \"\"", "EMAILID a.b",
	                                  "THREADID \"a b\"", "EMAILID E+"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (prog_try(&f.a, bad[i], &s, &error, &code) == 0)
			fail_msg("%s: accepted", bad[i]);
	char big[300] = "EMAILID ";
	memset(big + 8, 'a', 256);
	big[264] = '\0';
	assert_int_equal(prog_try(&f.a, big, &s, &error, &code), -1); /* 256 chars */
	big[263] = '\0';
	assert_int_equal(prog_try(&f.a, big, &s, &error, &code), 0); /* 255 */

	/* flags through imap_search_parse_flags */
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	static const struct {
		const char *keys;
		unsigned flags;
		int rc;
	} cases[] = {
	        {"CHARSET UTF-8 ALL", 0, 0},
	        {"CHARSET UTF-8 ALL", IMAP_SEARCH_UTF8, -1},
	        {"SUBJECT CHARSET", IMAP_SEARCH_UTF8, 0},
	        {"RECENT", 0, 0},
	        {"RECENT", IMAP_SEARCH_REV2, -1},
	        {"NOT NEW", IMAP_SEARCH_REV2, -1},
	        {"OR OLD ALL", IMAP_SEARCH_REV2, -1},
	        {"KEYWORD \\Recent", IMAP_SEARCH_REV2, 0},
	        {"CHARSET UTF-8 UNSEEN", IMAP_SEARCH_REV2, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		imap_parser_init(&p, NULL);
		nbuf_init(&in, 4096);
		nbuf_printf(&in, "A1 SEARCH %s\r\n", cases[i].keys);
		assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
		int rc = imap_search_parse_flags(&f.a, cmd->args, cmd->argc, cases[i].flags, &s,
		                                 &error, &code);
		if (rc != cases[i].rc)
			fail_msg("%s (flags %u): %d", cases[i].keys, cases[i].flags, rc);
		nbuf_deinit(&in);
		imap_parser_deinit(&p);
	}
	fx_deinit(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_objectid_and_flags),
	        cmocka_unit_test(test_flag_keys),
	        cmocka_unit_test(test_sets),
	        cmocka_unit_test(test_sizes),
	        cmocka_unit_test(test_dates),
	        cmocka_unit_test(test_headers),
	        cmocka_unit_test(test_body_text),
	        cmocka_unit_test(test_charsets),
	        cmocka_unit_test(test_cross_chunk),
	        cmocka_unit_test(test_cheap_first),
	        cmocka_unit_test(test_bad),
	        cmocka_unit_test(test_depth),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_corpus),
	        cmocka_unit_test(test_bench_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
