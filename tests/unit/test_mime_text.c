/*
 * Unit tests: the SEARCH/SORT helpers of node/mime: header access, RFC 2047
 * words, RFC 2231 parameters, addresses (SORT FROM, DISPLAYFROM), dates,
 * RFC 5256 base subjects, decoded text in bounded chunks, and PREVIEW.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"

static struct mime_message *
parse(const char *msg)
{
	struct mime_message *m;
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	return m;
}

/* out's content as a C string (freed by the caller); out is reset. */
static char *
take(struct nbuf *out)
{
	char *s = xstrndup(nbuf_avail(out) ? (const char *)nbuf_head(out) : "", nbuf_avail(out));
	nbuf_reset(out);
	return s;
}

static void
check_words(const char *in, const char *want)
{
	struct nbuf o;
	nbuf_init(&o, 4096);
	assert_int_equal(mime_decode_words(in, strlen(in), &o), 0);
	char *got = take(&o);
	if (strcmp(got, want) != 0)
		fail_msg("decode \"%s\": got \"%s\", want \"%s\"", in, got, want);
	free(got);
	nbuf_deinit(&o);
}

static void
test_encoded_words(void **state)
{
	check_words("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard");
	check_words("=?UTF-8?B?5bGx55Sw5aSq6YOO?=", "山田太郎");
	check_words("=?KOI8-R?B?8MXU0s/X?=", "Петров");
	check_words("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト");
	check_words("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus?=\r\n =?UTF-8?B?IOKCrA==?=", "Grüße aus €");
	/* a character split across two words (RFC 2047 §5 forbids it, mailers do it) */
	check_words("=?utf-8?q?=E2=82?= =?utf-8?q?=AC?=", "€");
	/* blanks between words vanish, others stay */
	check_words("=?utf-8?q?a?=  =?utf-8?q?b?= c =?utf-8?q?d?=", "ab c d");
	/* RFC 2231 language suffix, lower-case encoding */
	check_words("=?US-ASCII*EN?q?Keith_Moore?=", "Keith Moore");
	/* broken words stay as they are */
	check_words("=?utf-8?x?bad?=", "=?utf-8?x?bad?=");
	check_words("=?utf-8?q?unterminated", "=?utf-8?q?unterminated");
	check_words("=??q?nocharset?=", "=??q?nocharset?=");
	/* unknown charset: bytes kept, invalid ones replaced */
	check_words("=?x-no-such?q?caf=C3=A9_=FF?=", "café \xef\xbf\xbd");
	/* raw 8-bit outside words: valid UTF-8 kept, the rest replaced */
	check_words("caf\xc3\xa9 \xe9t\xe9", "café \xef\xbf\xbdt\xef\xbf\xbd");
	check_words("=?utf-8?b?!!!?=", "");
	check_words("", "");
}

static void
test_header_get(void **state)
{
	const char *msg = "Subject: first\r\n line\r\nX-A: 1\r\nsubject: second\r\n\r\nbody";
	struct mime_message *m = parse(msg);
	struct nbuf o;
	nbuf_init(&o, 4096);
	assert_int_equal(mime_header_get(msg, &m->root->header, "SUBJECT", 0, &o), 1);
	char *s = take(&o);
	assert_string_equal(s, "first line");
	free(s);
	assert_int_equal(mime_header_get(msg, &m->root->header, "subject", 1, &o), 1);
	s = take(&o);
	assert_string_equal(s, "second");
	free(s);
	assert_int_equal(mime_header_get(msg, &m->root->header, "subject", 2, &o), 0);
	assert_int_equal(mime_header_get(msg, &m->root->header, "body", 0, &o), 0);
	const char *v = " =?utf-8?q?caf=C3=A9?=\r\n\tbar ";
	assert_int_equal(mime_header_decode(v, strlen(v), &o), 0);
	s = take(&o);
	assert_string_equal(s, "café\tbar");
	free(s);
	mime_message_free(&m);
	nbuf_deinit(&o);
}

static void
test_params(void **state)
{
	const char *msg =
	        "Content-Type: Text/HTML; Charset=\"utf-8\"; name*0=\"a b\"; name*1=c;\r\n"
	        " title*=iso-8859-1'fr'caf%E9; broken; =x; x*1=\"no zero\"; q=\"a\\\"b\"\r\n"
	        "Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1=x;"
	        " filename*2*=%41\r\n"
	        "Content-Language: en, (comment) fr-CA\r\n"
	        "Content-Transfer-Encoding: Base64 (comment)\r\n\r\n";
	struct mime_message *m = parse(msg);
	const struct mime_part *p = m->root;
	assert_string_equal(p->type, "text");
	assert_string_equal(p->subtype, "html");
	assert_string_equal(mime_part_charset(p), "utf-8");
	assert_string_equal(mime_param_get(p->params, p->nparams, "name"), "a bc");
	assert_string_equal(mime_param_get(p->params, p->nparams, "title"), "café");
	assert_string_equal(mime_param_get(p->params, p->nparams, "q"), "a\"b");
	assert_null(mime_param_get(p->params, p->nparams, "x"));
	assert_null(mime_param_get(p->params, p->nparams, "broken"));
	assert_string_equal(p->disposition, "attachment");
	assert_string_equal(mime_param_get(p->disp_params, p->ndisp_params, "filename"), "€xA");
	assert_int_equal(p->nlanguages, 2);
	assert_string_equal(p->languages[1], "fr-CA");
	assert_string_equal(p->encoding, "base64");
	mime_message_free(&m);

	/* invalid Content-Type: the RFC 2045 default */
	m = parse("Content-Type: garbage\r\n\r\nx");
	assert_true(mime_part_is(m->root, "text", "plain"));
	assert_string_equal(mime_part_charset(m->root), "us-ascii");
	mime_message_free(&m);
	/* the first Content-Type counts, even when invalid */
	m = parse("Content-Type: ;\r\nContent-Type: image/png\r\n\r\nx");
	assert_true(mime_part_is(m->root, "text", "plain"));
	mime_message_free(&m);
}

static void
check_addr(const char *v, const char *name, const char *mailbox, const char *host,
           const char *display)
{
	struct arena a;
	struct nbuf o;
	const struct mime_address *ad;
	arena_init(&a, 1 << 20);
	nbuf_init(&o, 4096);
	assert_int_equal(mime_address_first(v, strlen(v), &a, &ad), 1);
	if (name == NULL)
		assert_null(ad->name);
	else
		assert_string_equal(ad->name, name);
	assert_string_equal(ad->mailbox, mailbox);
	assert_string_equal(ad->host, host);
	assert_int_equal(mime_address_display(ad, &o), 0);
	char *d = take(&o);
	assert_string_equal(d, display);
	free(d);
	nbuf_deinit(&o);
	arena_deinit(&a);
}

static void
test_addresses(void **state)
{
	check_addr("\"Doe, John\" <jd@example.com>", "Doe, John", "jd", "example.com", "Doe, John");
	check_addr("jd@example.com (John Doe)", "John Doe", "jd", "example.com", "John Doe");
	check_addr("<jd@example.com>", NULL, "jd", "example.com", "jd@example.com");
	check_addr("=?utf-8?q?J=C3=B6rg?= <j@example.de>", "=?utf-8?q?J=C3=B6rg?=", "j",
	           "example.de", "Jörg");
	check_addr("Team: a@x.example, b@y.example;", NULL, "a", "x.example", "a@x.example");
	check_addr("\"quoted local\"@example.com", NULL, "quoted local", "example.com",
	           "quoted local@example.com");
	check_addr("john . doe @ example . com", NULL, "john.doe", "example.com",
	           "john.doe@example.com");
	check_addr("A <@r1.example,@r2.example:u@h.example>", "A", "u", "h.example", "A");
	check_addr(" , , x@y.example", NULL, "x", "y.example", "x@y.example");

	struct arena a;
	arena_init(&a, 1 << 20);
	const struct mime_address *ad;
	struct mime_address *list;
	assert_int_equal(mime_address_first("undisclosed-recipients:;", 24, &a, &ad), 0);
	assert_int_equal(mime_address_first("", 0, &a, &ad), 0);
	assert_int_equal(mime_address_parse("g: a@b; c@d", 11, &a, &list), 0);
	const char *want[][2] = {{"g", NULL}, {"a", "b"}, {NULL, NULL}, {"c", "d"}};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++, list = list->next) {
		assert_non_null(list);
		if (want[i][0] == NULL)
			assert_null(list->mailbox);
		else
			assert_string_equal(list->mailbox, want[i][0]);
		if (want[i][1] == NULL)
			assert_null(list->host);
		else
			assert_string_equal(list->host, want[i][1]);
	}
	assert_null(list);
	arena_deinit(&a);
	/* an arena at its limit is -ENOMEM, not a crash */
	arena_init(&a, 64);
	assert_true(mime_address_parse("a@b, c@d, e@f, g@h", 18, &a, &list) < 0);
	arena_deinit(&a);
}

static void
check_date(const char *s, time_t want, int want_tz)
{
	time_t t;
	int tz;
	if (mime_date_parse(s, strlen(s), &t, &tz) != 0)
		fail_msg("date \"%s\" not parsed", s);
	if (t != want || tz != want_tz)
		fail_msg("date \"%s\": %lld %d, want %lld %d", s, (long long)t, tz, (long long)want,
		         want_tz);
}

static void
test_dates(void **state)
{
	/* 2003-07-01 08:52:37 UTC */
	check_date("Tue, 1 Jul 2003 10:52:37 +0200", 1057049557, 120);
	check_date("1 Jul 2003 10:52:37 +0200", 1057049557, 120);
	check_date("Tue, 01 Jul 2003 04:52:37 EDT", 1057049557, -240);
	check_date("Tue, 1 Jul 03 08:52:37 GMT", 1057049557, 0);
	check_date("Tue, 1 Jul 2003 08:52:37 (comment) Z", 1057049557, 0);
	check_date("Tue Jul  1 08:52:37 2003", 1057049557, 0);
	check_date("Tuesday, 01-Jul-03 08:52:37 GMT", 1057049557, 0);
	check_date("1 July 2003 8:52:37 AM +0000", 1057049557, 0);
	check_date("Tue, 1 Jul 2003 14:22:37 +05:30", 1057049557, 330);
	check_date("1 Jul 2003 08:52:37 A", 1057049557, 0); /* military: -0000 */
	check_date("26 Aug 76 14:30 EDT", 209932200, -240);
	check_date("1 Jan 1970 00:00:00 +0000", 0, 0);
	check_date("29 Feb 2024 00:00:00 +0000", 1709164800, 0);
	check_date("1 Jan 2000", 946684800, 0);
	static const char *const bad[] = {"",
	                                  "garbage date",
	                                  "32 Jan 2003 00:00:00",
	                                  "29 Feb 2023",
	                                  "1 Foo 2003",
	                                  "1 Jan 2003 25:00:00",
	                                  "Jan 2003",
	                                  "1 Jan 2003 10:61"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		time_t t;
		int tz;
		if (mime_date_parse(bad[i], strlen(bad[i]), &t, &tz) != -1)
			fail_msg("date \"%s\" parsed", bad[i]);
	}
}

static void
check_subject(const char *in, const char *want, int want_reply)
{
	struct nbuf o;
	int reply = -1;
	nbuf_init(&o, 4096);
	assert_int_equal(mime_base_subject(in, strlen(in), &o, &reply), 0);
	char *got = take(&o);
	if (strcmp(got, want) != 0 || reply != want_reply)
		fail_msg("subject \"%s\": got \"%s\" %d, want \"%s\" %d", in, got, reply, want,
		         want_reply);
	free(got);
	nbuf_deinit(&o);
}

static void
test_base_subject(void **state)
{
	check_subject("Hello", "Hello", 0);
	check_subject("Re: Hello", "Hello", 1);
	check_subject("RE: Re: re:Hello", "Hello", 1);
	check_subject("Fwd: Hello", "Hello", 1);
	check_subject("FW: Hello", "Hello", 1);
	check_subject("Re[2]: Hello", "Hello", 1);
	check_subject("[list] Re: Hello", "Hello", 1);
	check_subject("[list] Hello", "Hello", 0);
	check_subject("[list]", "[list]", 0); /* the blob is the base */
	check_subject("Hello (fwd)", "Hello", 1);
	check_subject("Hello (FWD) (fwd)  ", "Hello", 1);
	check_subject("[Fwd: Re: Hello]", "Hello", 1);
	check_subject("Re: [fwd: [list] Hello (fwd)]", "Hello", 1);
	check_subject("  Hello \t  world  ", "Hello world", 0);
	check_subject("=?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=", "Grüße", 1);
	check_subject("Reply", "Reply", 0);
	check_subject("", "", 0);
}

struct collect {
	struct nbuf text;
	size_t chunks, max_chunk;
	unsigned stop_after;
};

static int
collect_cb(void *ctx, const struct mime_part *part, const char *text, size_t len)
{
	struct collect *c = ctx;
	assert_true(len > 0 && len <= MIME_TEXT_CHUNK);
	c->chunks++;
	c->max_chunk = MAX(c->max_chunk, len);
	assert_int_equal(nbuf_append(&c->text, text, len), 0);
	return c->stop_after && c->chunks >= c->stop_after ? 42 : 0;
}

static void
test_text_decoding(void **state)
{
	const char *msg = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	                  "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	                  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                  "Gr=FC=DFe, caf=E9 =\r\nsoft=3Dbreak=\r\n\r\n"
	                  "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                  "Content-Transfer-Encoding: base64\r\n\r\n4oKsIHJhdGVz\r\n"
	                  "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: "
	                  "base64\r\n\r\nAAAA\r\n"
	                  "--b--\r\n";
	struct mime_message *m = parse(msg);
	struct collect c = {0};
	nbuf_init(&c.text, 1 << 20);
	assert_int_equal(mime_text_walk(m, msg, strlen(msg), collect_cb, &c), 0);
	char *t = take(&c.text);
	assert_string_equal(t, "Grüße, café soft=break€ rates");
	free(t);
	assert_int_equal(mime_text_walk(m, msg, strlen(msg) - 1, collect_cb, &c), -EINVAL);
	mime_message_free(&m);
	nbuf_deinit(&c.text);
}

static void
test_text_chunks(void **state)
{
	/* 1 MB of base64 text: bounded chunks, nothing lost, the stop code
	 * returned, UTF-8 never cut */
	struct nbuf msg;
	nbuf_init(&msg, 4 << 20);
	assert_int_equal(nbuf_puts(&msg, "Content-Type: text/plain; charset=utf-8\r\n"
	                                 "Content-Transfer-Encoding: base64\r\n\r\n"),
	                 0);
	/* "€€€" (9 bytes) is "4oKs4oKs4oKs" */
	size_t n = 0;
	while (n < 1000000) {
		assert_int_equal(nbuf_puts(&msg, "4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs\r\n"),
		                 0);
		n += 30;
	}
	struct mime_message *m;
	assert_int_equal(mime_parse((const char *)nbuf_head(&msg), nbuf_avail(&msg), NULL, &m), 0);
	struct collect c = {0};
	nbuf_init(&c.text, 2 << 20);
	assert_int_equal(
	        mime_text_walk(m, (const char *)nbuf_head(&msg), nbuf_avail(&msg), collect_cb, &c),
	        0);
	assert_int_equal(nbuf_avail(&c.text), n);
	assert_true(c.chunks >= n / MIME_TEXT_CHUNK);
	assert_true(c.max_chunk <= MIME_TEXT_CHUNK);
	const unsigned char *p = nbuf_head(&c.text);
	for (size_t i = 0; i < n; i += 3)
		assert_memory_equal(p + i, "\xe2\x82\xac", 3);
	nbuf_reset(&c.text);
	c.chunks = 0;
	c.stop_after = 2;
	assert_int_equal(
	        mime_text_walk(m, (const char *)nbuf_head(&msg), nbuf_avail(&msg), collect_cb, &c),
	        42);
	assert_int_equal(c.chunks, 2);
	mime_message_free(&m);
	nbuf_deinit(&c.text);
	nbuf_deinit(&msg);
}

static void
test_header_text(void **state)
{
	const char *msg = "Subject: =?utf-8?q?caf=C3=A9?=\r\nFrom: a@b\r\n\r\nbody";
	struct mime_message *m = parse(msg);
	struct collect c = {0};
	nbuf_init(&c.text, 4096);
	assert_int_equal(mime_header_text(msg, &m->root->header, collect_cb, &c), 0);
	char *t = take(&c.text);
	assert_string_equal(t, "Subject: café\nFrom: a@b\n");
	free(t);
	nbuf_deinit(&c.text);
	mime_message_free(&m);
}

static void
check_preview(const char *msg, int want_rc, const char *want)
{
	struct mime_message *m = parse(msg);
	struct nbuf o;
	nbuf_init(&o, 4096);
	assert_int_equal(mime_preview(m, msg, strlen(msg), &o), want_rc);
	char *got = take(&o);
	if (strcmp(got, want) != 0)
		fail_msg("preview: got \"%s\", want \"%s\"", got, want);
	free(got);
	nbuf_deinit(&o);
	mime_message_free(&m);
}

static void
test_preview(void **state)
{
	check_preview("Subject: x\r\n\r\n  Hello,\r\n\r\n  world!  \r\n", 1, "Hello, world!");
	check_preview("Content-Type: multipart/alternative; boundary=a\r\n\r\n"
	              "--a\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
	              "--a\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--a--\r\n",
	              1, "plain text");
	check_preview("Content-Type: text/html; charset=utf-8\r\n\r\n"
	              "<html><head><style>p {color: red}</style><script>var x = '<p>';</script>"
	              "</head><body><!-- a -- comment --><p>Caf&eacute;&nbsp;&amp; "
	              "caf&#233;&#x20AC;</p><p>Second<br>line &bogus; &lt;tag&gt;</p>"
	              "<img alt=\"a > b\" src=x></body></html>",
	              1, "Caf&eacute; & café€ Second line &bogus; <tag>");
	check_preview("Content-Type: image/png\r\n\r\nAAAA", 0, "");
	check_preview("Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nx", 0,
	              "");
	/* at most MIME_PREVIEW_CHARS characters, counted as characters */
	struct nbuf b;
	nbuf_init(&b, 8192);
	assert_int_equal(nbuf_puts(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n"), 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(nbuf_puts(&b, "é"), 0);
	assert_int_equal(nbuf_append(&b, "", 1), 0);
	struct mime_message *m = parse((const char *)nbuf_head(&b));
	struct nbuf o;
	nbuf_init(&o, 4096);
	assert_int_equal(mime_preview(m, (const char *)nbuf_head(&b), nbuf_avail(&b) - 1, &o), 1);
	assert_int_equal(nbuf_avail(&o), 2 * MIME_PREVIEW_CHARS);
	nbuf_deinit(&o);
	nbuf_deinit(&b);
	mime_message_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_encoded_words), cmocka_unit_test(test_header_get),
	        cmocka_unit_test(test_params),        cmocka_unit_test(test_addresses),
	        cmocka_unit_test(test_dates),         cmocka_unit_test(test_base_subject),
	        cmocka_unit_test(test_text_decoding), cmocka_unit_test(test_text_chunks),
	        cmocka_unit_test(test_header_text),   cmocka_unit_test(test_preview),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
