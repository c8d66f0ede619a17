/*
 * Unit tests: BODY[section] lookup on the RFC 3501 §6.4.5 example
 * structure, non-multipart messages, encapsulated messages, syntax errors,
 * and HEADER.FIELDS / HEADER.FIELDS.NOT output.
 */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"

/* The §6.4.5 example: every leaf body names its section. */
static const char rfc3501_example[] = "From: a@example.com\r\n"
                                      "Subject: 6.4.5\r\n"
                                      "Content-Type: MULTIPART/MIXED; boundary=\"top\"\r\n"
                                      "\r\n"
                                      "--top\r\n"
                                      "Content-Type: TEXT/PLAIN\r\n"
                                      "\r\n"
                                      "body 1\r\n"
                                      "--top\r\n"
                                      "Content-Type: APPLICATION/OCTET-STREAM\r\n"
                                      "\r\n"
                                      "body 2\r\n"
                                      "--top\r\n"
                                      "Content-Type: MESSAGE/RFC822\r\n"
                                      "\r\n"
                                      "Subject: three\r\n"
                                      "Content-Type: MULTIPART/MIXED; boundary=\"three\"\r\n"
                                      "\r\n"
                                      "--three\r\n"
                                      "Content-Type: TEXT/PLAIN\r\n"
                                      "\r\n"
                                      "body 3.1\r\n"
                                      "--three\r\n"
                                      "Content-Type: APPLICATION/OCTET-STREAM\r\n"
                                      "\r\n"
                                      "body 3.2\r\n"
                                      "--three--\r\n"
                                      "--top\r\n"
                                      "Content-Type: MULTIPART/MIXED; boundary=\"four\"\r\n"
                                      "\r\n"
                                      "--four\r\n"
                                      "Content-Type: IMAGE/GIF\r\n"
                                      "\r\n"
                                      "body 4.1\r\n"
                                      "--four\r\n"
                                      "Content-Type: MESSAGE/RFC822\r\n"
                                      "\r\n"
                                      "Subject: four two\r\n"
                                      "Content-Type: MULTIPART/MIXED; boundary=\"fourtwo\"\r\n"
                                      "\r\n"
                                      "--fourtwo\r\n"
                                      "Content-Type: TEXT/PLAIN\r\n"
                                      "\r\n"
                                      "body 4.2.1\r\n"
                                      "--fourtwo\r\n"
                                      "Content-Type: MULTIPART/ALTERNATIVE; boundary=\"alt\"\r\n"
                                      "\r\n"
                                      "--alt\r\n"
                                      "Content-Type: TEXT/PLAIN\r\n"
                                      "\r\n"
                                      "body 4.2.2.1\r\n"
                                      "--alt\r\n"
                                      "Content-Type: TEXT/RICHTEXT\r\n"
                                      "\r\n"
                                      "body 4.2.2.2\r\n"
                                      "--alt--\r\n"
                                      "--fourtwo--\r\n"
                                      "--four--\r\n"
                                      "--top--\r\n";

static struct mime_message *
parse(const char *msg)
{
	struct mime_message *m;
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	return m;
}

/* The bytes a section names, as a string ("" when absent). */
static char *
section(const struct mime_message *m, const char *msg, const char *sec, int *rc_r)
{
	struct mime_range r;
	*rc_r = mime_section_find(m, sec, strlen(sec), &r);
	if (*rc_r != 1)
		return xstrdup("");
	return xstrndup(msg + r.off, r.len);
}

static void
expect(const struct mime_message *m, const char *msg, const char *sec, const char *want)
{
	int rc;
	char *got = section(m, msg, sec, &rc);
	if (rc != 1 || strcmp(got, want) != 0)
		fail_msg("BODY[%s]: rc %d, got \"%s\", want \"%s\"", sec, rc, got, want);
	free(got);
}

static void
expect_rc(const struct mime_message *m, const char *sec, int want)
{
	struct mime_range r;
	int rc = mime_section_find(m, sec, strlen(sec), &r);
	if (rc != want)
		fail_msg("BODY[%s]: rc %d, want %d", sec, rc, want);
}

static void
test_rfc3501_example(void **state)
{
	const char *msg = rfc3501_example;
	struct mime_message *m = parse(msg);
	expect(m, msg, "1", "body 1");
	expect(m, msg, "2", "body 2");
	expect(m, msg, "3.1", "body 3.1");
	expect(m, msg, "3.2", "body 3.2");
	expect(m, msg, "4.1", "body 4.1");
	expect(m, msg, "4.2.1", "body 4.2.1");
	expect(m, msg, "4.2.2.1", "body 4.2.2.1");
	expect(m, msg, "4.2.2.2", "body 4.2.2.2");
	expect(m, msg, "1.MIME", "Content-Type: TEXT/PLAIN\r\n\r\n");
	expect(m, msg, "4.1.MIME", "Content-Type: IMAGE/GIF\r\n\r\n");
	expect(m, msg, "3.MIME", "Content-Type: MESSAGE/RFC822\r\n\r\n");
	expect(m, msg, "3.HEADER",
	       "Subject: three\r\nContent-Type: MULTIPART/MIXED; boundary=\"three\"\r\n\r\n");
	expect(m, msg, "4.2.HEADER",
	       "Subject: four two\r\nContent-Type: MULTIPART/MIXED; boundary=\"fourtwo\"\r\n\r\n");
	expect(m, msg, "4.2.header.fields", /* keywords are case-insensitive */
	       "Subject: four two\r\nContent-Type: MULTIPART/MIXED; boundary=\"fourtwo\"\r\n\r\n");
	expect(m, msg, "HEADER",
	       "From: a@example.com\r\nSubject: 6.4.5\r\n"
	       "Content-Type: MULTIPART/MIXED; boundary=\"top\"\r\n\r\n");
	expect(m, msg, "", msg);
	/* TEXT: the body after the header, 3.TEXT and 4.2.TEXT likewise */
	int rc;
	char *text = section(m, msg, "TEXT", &rc);
	assert_int_equal(rc, 1);
	assert_true(strncmp(text, "--top\r\n", 7) == 0);
	char *hdr = section(m, msg, "HEADER", &rc);
	assert_int_equal(strlen(text) + strlen(hdr), strlen(msg));
	free(hdr);
	free(text);
	text = section(m, msg, "3.TEXT", &rc);
	assert_true(strncmp(text, "--three\r\n", 9) == 0);
	assert_true(strstr(text, "--three--") != NULL);
	free(text);
	text = section(m, msg, "4.2.TEXT", &rc);
	assert_true(strncmp(text, "--fourtwo\r\n", 11) == 0);
	free(text);
	/* a multipart part's body is all of its parts */
	text = section(m, msg, "4", &rc);
	assert_true(strncmp(text, "--four\r\n", 8) == 0);
	assert_true(strstr(text, "--four--") != NULL);
	free(text);
	/* the part type through mime_section_lookup */
	const struct mime_part *p;
	struct mime_range r;
	assert_int_equal(mime_section_lookup(m, "4.2.2.2", 7, &p, &r), 1);
	assert_true(mime_part_is(p, "text", "richtext"));
	assert_int_equal(mime_section_lookup(m, "4.2", 3, &p, &r), 1);
	assert_true(mime_part_is(p, "message", "rfc822"));
	/* parts that do not exist */
	expect_rc(m, "5", 0);
	expect_rc(m, "1.1", 0);
	expect_rc(m, "3.3", 0);
	expect_rc(m, "4.3", 0);
	expect_rc(m, "4.2.2.3", 0);
	expect_rc(m, "4.2.2.1.1", 0);
	expect_rc(m, "1.HEADER", 0); /* not a message */
	expect_rc(m, "4.TEXT", 0);
	expect_rc(m, "99999.MIME", 0);
	mime_message_free(&m);
}

static void
test_non_multipart(void **state)
{
	const char *msg = "Subject: plain\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
	struct mime_message *m = parse(msg);
	expect(m, msg, "1", "hello\r\n");
	expect(m, msg, "TEXT", "hello\r\n");
	expect(m, msg, "1.MIME", "Subject: plain\r\nContent-Type: text/plain\r\n\r\n");
	expect_rc(m, "2", 0);
	expect_rc(m, "1.1", 0);
	expect_rc(m, "1.HEADER", 0);
	mime_message_free(&m);

	/* a top-level message/rfc822: part 1 is it, 1.1 the inner body */
	msg = "Subject: outer\r\nContent-Type: message/rfc822\r\n\r\n"
	      "Subject: inner\r\n\r\ninner body";
	m = parse(msg);
	expect(m, msg, "1", "Subject: inner\r\n\r\ninner body");
	expect(m, msg, "1.HEADER", "Subject: inner\r\n\r\n");
	expect(m, msg, "1.TEXT", "inner body");
	expect(m, msg, "1.1", "inner body");
	expect_rc(m, "1.2", 0);
	mime_message_free(&m);

	/* an encapsulated message that is not multipart has a part 1 */
	msg = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	      "Content-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nin\r\n--b--\r\n";
	m = parse(msg);
	expect(m, msg, "1.1", "in");
	expect(m, msg, "1.TEXT", "in");
	expect(m, msg, "1", "Subject: s\r\n\r\nin");
	expect_rc(m, "1.1.1", 0);
	expect_rc(m, "1.2", 0);
	mime_message_free(&m);
}

static void
test_syntax(void **state)
{
	struct mime_message *m = parse(rfc3501_example);
	static const char *const bad[] = {"0",
	                                  "01",
	                                  "1.",
	                                  ".1",
	                                  "MIME",
	                                  "1.FOO",
	                                  "1..2",
	                                  "4294967296",
	                                  "HEADER.",
	                                  "TEXT.1",
	                                  "1.2x",
	                                  "1 ",
	                                  "HEADER.FIELDS (From)",
	                                  "1.MIME.1"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		expect_rc(m, bad[i], -1);
	static const char *const good[] = {"",
	                                   "HEADER",
	                                   "text",
	                                   "Header.Fields",
	                                   "HEADER.FIELDS.NOT",
	                                   "1.MIME",
	                                   "3.HEADER.FIELDS.NOT",
	                                   "4294967295"};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct mime_range r;
		assert_true(mime_section_find(m, good[i], strlen(good[i]), &r) >= 0);
	}
	mime_message_free(&m);
}

static void
test_header_fields(void **state)
{
	const char *msg = "From: a@example.com\r\n"
	                  "To: b@example.com,\r\n"
	                  "\tc@example.com\r\n"
	                  "subject : folded\r\n"
	                  " subject\r\n"
	                  "X-Other: x\r\n"
	                  "no colon line\r\n"
	                  "\r\n"
	                  "body\r\n";
	struct mime_message *m = parse(msg);
	struct nbuf o;
	nbuf_init(&o, 4096);
	static const char *const f1[] = {"SUBJECT", "to"};
	assert_int_equal(mime_header_fields_write(msg, &m->root->header, f1, 2, 0, &o), 0);
	const char *want1 = "To: b@example.com,\r\n\tc@example.com\r\n"
	                    "subject : folded\r\n subject\r\n\r\n";
	assert_int_equal(nbuf_avail(&o), strlen(want1));
	assert_memory_equal(nbuf_head(&o), want1, strlen(want1));
	nbuf_reset(&o);
	assert_int_equal(mime_header_fields_write(msg, &m->root->header, f1, 2, 1, &o), 0);
	const char *want2 = "From: a@example.com\r\nX-Other: x\r\n\r\n";
	assert_int_equal(nbuf_avail(&o), strlen(want2));
	assert_memory_equal(nbuf_head(&o), want2, strlen(want2));
	nbuf_reset(&o);
	static const char *const f2[] = {"Missing"};
	assert_int_equal(mime_header_fields_write(msg, &m->root->header, f2, 1, 0, &o), 0);
	assert_int_equal(nbuf_avail(&o), 2);
	mime_message_free(&m);

	/* a last field cut off by the end of the message gets its CRLF */
	nbuf_reset(&o);
	msg = "Subject: end";
	m = parse(msg);
	static const char *const f3[] = {"subject"};
	assert_int_equal(mime_header_fields_write(msg, &m->root->header, f3, 1, 0, &o), 0);
	assert_int_equal(nbuf_avail(&o), strlen("Subject: end\r\n\r\n"));
	assert_memory_equal(nbuf_head(&o), "Subject: end\r\n\r\n", nbuf_avail(&o));
	/* and a full buffer is an error, not a crash */
	struct nbuf small;
	nbuf_init(&small, 5);
	assert_true(mime_header_fields_write(msg, &m->root->header, f3, 1, 0, &small) < 0);
	nbuf_deinit(&small);
	mime_message_free(&m);
	nbuf_deinit(&o);
}

static void
test_boundary_edge_cases(void **state)
{
	/* a delimiter right after a part header, a header cut by a
	 * delimiter, a prefix boundary of an inner one, transport padding */
	const char *msg = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	                  "--b\r\n"
	                  "Content-Type: text/plain\r\n\r\n"
	                  "--b   \r\n"
	                  "Content-Type: text/plain\r\n"
	                  "--b\r\n"
	                  "Content-Type: multipart/alternative; boundary=\"b-inner\"\r\n\r\n"
	                  "--b-inner\r\n\r\ninner\r\n--b-inner--\r\n"
	                  "--b--trailing garbage\r\n"
	                  "epilogue\r\n";
	struct mime_message *m = parse(msg);
	assert_int_equal(m->root->nchildren, 3);
	expect(m, msg, "1", "");
	expect(m, msg, "2", "");
	expect(m, msg, "2.MIME", "Content-Type: text/plain\r\n");
	expect(m, msg, "3.1", "inner");
	const struct mime_part *p;
	struct mime_range r;
	assert_int_equal(mime_section_lookup(m, "3", 1, &p, &r), 1);
	assert_int_equal(p->nchildren, 1);
	mime_message_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc3501_example),
	        cmocka_unit_test(test_non_multipart),
	        cmocka_unit_test(test_syntax),
	        cmocka_unit_test(test_header_fields),
	        cmocka_unit_test(test_boundary_edge_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
