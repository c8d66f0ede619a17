/*
 * Unit tests: LMTP command lines (verbs, MAIL FROM and RCPT TO paths and
 * parameters, BDAT), the body decoder (dot-unstuffing, line ends) fed
 * whole and one byte at a time, and the trace headers.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "protocols/lmtp/lmtp_dot.h"
#include "protocols/lmtp/lmtp_parser.h"
#include "protocols/lmtp/lmtp_trace.h"

/* --- verbs ------------------------------------------------------------- */

static void
test_verbs(void **state)
{
	enum lmtp_verb v;
	const char *arg;
	size_t n;
	const char *l = "lhlo  client.example  ";
	lmtp_parse_verb(l, strlen(l), &v, &arg, &n);
	assert_int_equal(v, LMTP_V_LHLO);
	assert_int_equal(n, strlen("client.example"));
	assert_memory_equal(arg, "client.example", n);
	lmtp_parse_verb("DATA", 4, &v, &arg, &n);
	assert_int_equal(v, LMTP_V_DATA);
	assert_int_equal(n, 0);
	lmtp_parse_verb("StartTLS", 8, &v, &arg, &n);
	assert_int_equal(v, LMTP_V_STARTTLS);
	lmtp_parse_verb("DATAX", 5, &v, &arg, &n);
	assert_int_equal(v, LMTP_V_UNKNOWN);
	lmtp_parse_verb("", 0, &v, &arg, &n);
	assert_int_equal(v, LMTP_V_UNKNOWN);
	assert_int_equal(n, 0);
}

/* --- MAIL FROM ----------------------------------------------------------- */

static int
mail(const char *arg, struct lmtp_mail *m, const char **reply)
{
	return lmtp_parse_mail(arg, strlen(arg), m, reply);
}

static void
test_mail_paths(void **state)
{
	struct lmtp_mail m;
	const char *reply = NULL;
	assert_int_equal(mail("FROM:<a@b.example>", &m, &reply), 0);
	assert_string_equal(m.address, "a@b.example");
	assert_int_equal(mail("from: <A.B+c@[192.0.2.1]>", &m, &reply), 0);
	assert_string_equal(m.address, "A.B+c@[192.0.2.1]");
	assert_int_equal(mail("FROM:<>", &m, &reply), 0);
	assert_string_equal(m.address, "");
	/* A source route is dropped. */
	assert_int_equal(mail("FROM:<@relay.example,@other.example:u@d.example>", &m, &reply), 0);
	assert_string_equal(m.address, "u@d.example");
	/* A quoted local part that is a dot-string is unquoted... */
	assert_int_equal(mail("FROM:<\"joe.s\"@d.example>", &m, &reply), 0);
	assert_string_equal(m.address, "joe.s@d.example");
	/* ...one that is not stays quoted. */
	assert_int_equal(mail("FROM:<\"a b\\\"c\"@d.example>", &m, &reply), 0);
	assert_string_equal(m.address, "\"a b\\\"c\"@d.example");

	const char *bad[] = {
	        "FROM:a@b.example",  "FROM:<a@b.example",     "FROM:<a@>",
	        "FROM:<@b.example>", "FROM:<a..b@c.example>", "FROM:<.a@c.example>",
	        "FROM:<a@b..c>",     "FROM:<a b@c.example>",  "FROM:<\"a\x01\"@c.example>",
	        "FROM:<a@[]>",       "FROM:<Postmaster>",     "FROM:",
	        "TO:<a@b.example>",  "FROM:<a@b.example>x",   "FROM:<\"unterminated@b.example>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reply = NULL;
		assert_int_equal(mail(bad[i], &m, &reply), -1);
		assert_non_null(reply);
		assert_true(reply[0] == '5');
	}
}

static void
test_mail_path_length(void **state)
{
	/* The whole path with brackets: LMTP_PATH_MAX - 1, at, + 1. */
	char arg[LMTP_PATH_MAX + 64];
	struct lmtp_mail m;
	const char *reply;
	for (int total = LMTP_PATH_MAX - 1; total <= LMTP_PATH_MAX + 1; total++) {
		/* "<" local "@" "d.example" ">" */
		int local = total - 2 - 1 - 9;
		snprintf(arg, sizeof(arg), "FROM:<%.*s@d.example>", local,
		         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		         "aaa"
		         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		         "aaa"
		         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		         "aaa"
		         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		         "aaa");
		int rc = mail(arg, &m, &reply);
		if (total <= LMTP_PATH_MAX) {
			assert_int_equal(rc, 0);
			assert_int_equal(strlen(m.address), (size_t)total - 2);
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(reply, "501 5.5.4 Path too long");
		}
	}
}

static void
test_mail_params(void **state)
{
	struct lmtp_mail m;
	const char *reply;
	assert_int_equal(mail("FROM:<a@b.example> SIZE=12345 BODY=8BITMIME SMTPUTF8", &m, &reply),
	                 0);
	assert_true(m.has_size);
	assert_int_equal(m.size, 12345);
	assert_int_equal(m.body, LMTP_BODY_8BITMIME);
	assert_true(m.smtputf8);
	assert_int_equal(mail("FROM:<a@b.example>  body=7bit", &m, &reply), 0);
	assert_int_equal(m.body, LMTP_BODY_7BIT);
	assert_false(m.has_size);

	assert_int_equal(mail("FROM:<a@b.example> BODY=BINARYMIME", &m, &reply), -1);
	assert_string_equal(reply, "555 5.5.4 BODY=BINARYMIME is not supported");
	assert_int_equal(mail("FROM:<a@b.example> BODY=9BIT", &m, &reply), -1);
	assert_true(strncmp(reply, "501 5.5.4", 9) == 0);
	assert_int_equal(mail("FROM:<a@b.example> RET=HDRS", &m, &reply), -1);
	assert_true(strncmp(reply, "555 5.5.4", 9) == 0);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=1 SIZE=1", &m, &reply), -1);
	assert_string_equal(reply, "501 5.5.4 Parameter given twice");
	/* SIZE: 20 digits is the most (RFC 1870); beyond u64 is bad too. */
	assert_int_equal(mail("FROM:<a@b.example> SIZE=18446744073709551615", &m, &reply), 0);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=18446744073709551616", &m, &reply), -1);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=000000000000000000001", &m, &reply), -1);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=", &m, &reply), -1);
	assert_int_equal(mail("FROM:<a@b.example> SIZE=12x", &m, &reply), -1);
	assert_int_equal(mail("FROM:<a@b.example> SMTPUTF8=yes", &m, &reply), -1);
	assert_int_equal(mail("FROM:<a@b.example> =x", &m, &reply), -1);

	/* LMTP_PARAMS_MAX - 1, at, + 1 parameters (unknown ones fail later,
	 * so count with SMTPUTF8 repeated: the count is checked first). */
	char arg[1024];
	for (int k = LMTP_PARAMS_MAX - 1; k <= LMTP_PARAMS_MAX + 1; k++) {
		size_t o = (size_t)snprintf(arg, sizeof(arg), "FROM:<a@b.example>");
		for (int i = 0; i < k; i++)
			o += (size_t)snprintf(arg + o, sizeof(arg) - o, " X%d=1", i);
		assert_int_equal(mail(arg, &m, &reply), -1);
		if (k <= LMTP_PARAMS_MAX)
			assert_string_equal(reply, "555 5.5.4 Unsupported parameter");
		else
			assert_string_equal(reply, "501 5.5.4 Too many parameters");
	}
}

static void
test_utf8_addresses(void **state)
{
	struct lmtp_mail m;
	struct lmtp_rcpt r;
	const char *reply;
	assert_int_equal(mail("FROM:<j\xc3\xb6rg@b.example>", &m, &reply), -1);
	assert_string_equal(reply, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
	assert_int_equal(mail("FROM:<j\xc3\xb6rg@b.example> SMTPUTF8", &m, &reply), 0);
	assert_string_equal(m.address, "j\xc3\xb6rg@b.example");
	const char *to = "TO:<u@b\xc3\xa9.example>";
	assert_int_equal(lmtp_parse_rcpt(to, strlen(to), 0, &r, &reply), -1);
	assert_string_equal(reply, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
	assert_int_equal(lmtp_parse_rcpt(to, strlen(to), 1, &r, &reply), 0);
}

static void
test_rcpt(void **state)
{
	struct lmtp_rcpt r;
	const char *reply;
	const char *ok[] = {"TO:<u@d.example>", "to:<u@d.example>", "TO: <u@d.example>",
	                    "TO:<Postmaster>"};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(lmtp_parse_rcpt(ok[i], strlen(ok[i]), 0, &r, &reply), 0);
	assert_string_equal(r.address, "Postmaster");
	const char *bad[] = {"TO:<>", "TO:u@d.example", "FROM:<u@d.example>",
	                     "TO:<u@d.example> NOTIFY=NEVER", "TO:<u@d.example> ORCPT=rfc822;u@d"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(lmtp_parse_rcpt(bad[i], strlen(bad[i]), 0, &r, &reply), -1);
		assert_true(reply[0] == '5');
	}
}

static void
test_bdat(void **state)
{
	uint64_t size;
	int last;
	assert_int_equal(lmtp_parse_bdat("100", 3, &size, &last), 0);
	assert_int_equal(size, 100);
	assert_false(last);
	assert_int_equal(lmtp_parse_bdat("0 last", 6, &size, &last), 0);
	assert_int_equal(size, 0);
	assert_true(last);
	assert_int_equal(lmtp_parse_bdat("12  LAST", 8, &size, &last), 0);
	const char *bad[] = {"",
	                     "LAST",
	                     "-1",
	                     "1x",
	                     "1 LASTX",
	                     "1 FIRST",
	                     "12LAST",
	                     "99999999999999999999",
	                     "4611686018427387905"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lmtp_parse_bdat(bad[i], strlen(bad[i]), &size, &last), -1);
	/* LMTP_BDAT_SIZE_MAX itself is fine. */
	assert_int_equal(lmtp_parse_bdat("4611686018427387904", 19, &size, &last), 0);
}

/* --- the body decoder ----------------------------------------------------- */

/* Decode in with the given input step and output room; return the output
 * (NUL-terminated, caller frees) and the input consumed. */
static char *
decode(enum lmtp_dot_mode mode, const char *in, size_t step, size_t room, size_t *used_r,
       int *end_r)
{
	struct lmtp_dot d;
	lmtp_dot_init(&d, mode);
	size_t n = strlen(in), i = 0, o = 0;
	char *out = calloc(1, 3 * n + 16);
	uint8_t buf[64];
	*end_r = 0;
	while (i < n && !*end_r) {
		size_t chunk = step < n - i ? step : n - i;
		size_t got;
		size_t k =
		        lmtp_dot_decode(&d, (const uint8_t *)in + i, chunk, buf, room, &got, end_r);
		assert_true(got <= room);
		assert_true(k > 0 || got > 0 || chunk == 0);
		memcpy(out + o, buf, got);
		o += got;
		i += k;
	}
	*used_r = i;
	return out;
}

static void
check_decode(enum lmtp_dot_mode mode, const char *in, const char *want, size_t want_used,
             int want_end)
{
	size_t steps[] = {1, 2, 3, 7, 1000};
	size_t rooms[] = {LMTP_DOT_ROOM_MIN, 4, 5, 64};
	for (size_t a = 0; a < 5; a++) {
		for (size_t b = 0; b < 4; b++) {
			size_t used;
			int end;
			char *out = decode(mode, in, steps[a], rooms[b], &used, &end);
			assert_string_equal(out, want);
			assert_int_equal(used, want_used);
			assert_int_equal(end, want_end);
			free(out);
		}
	}
}

static void
test_dot_data(void **state)
{
	const char *in = "a\r\n..b\r\n.c\r\n...\r\nd.\r\n.\r\nNEXT";
	check_decode(LMTP_DOT_DATA, in, "a\r\n.b\r\nc\r\n..\r\nd.\r\n", strlen(in) - 4, 1);
	/* An empty message. */
	check_decode(LMTP_DOT_DATA, ".\r\n", "", 3, 1);
	/* Bare LF lines and a bare-LF end marker. */
	check_decode(LMTP_DOT_DATA, "x\ny\n.\n", "x\r\ny\r\n", 6, 1);
	/* Bare CR is kept; ".\r" not followed by LF is text. */
	check_decode(LMTP_DOT_DATA, "a\rb\r\n.\rc\r\n.\r\n", "a\rb\r\n\rc\r\n", 13, 1);
	/* "\r\r\n" stays as is (one CR, then a CRLF). */
	check_decode(LMTP_DOT_DATA, "a\r\r\n.\r\n", "a\r\r\n", 7, 1);
	/* No end marker yet: everything consumed, nothing ended. */
	check_decode(LMTP_DOT_DATA, "abc\r\n..", "abc\r\n.", 7, 0);
	/* A dot inside a line is not special. */
	check_decode(LMTP_DOT_DATA, "x\r\n.\r\ny", "x\r\n", 6, 1);
}

static void
test_dot_bdat(void **state)
{
	check_decode(LMTP_DOT_BDAT, "..a\r\n.\r\nb\nc", "..a\r\n.\r\nb\r\nc", 11, 0);
	check_decode(LMTP_DOT_BDAT, "\n\n\r\n", "\r\n\r\n\r\n", 4, 0);
}

static void
test_dot_across_calls(void **state)
{
	/* A CR at the end of one call and its LF at the start of the next
	 * make one CRLF, not a CR and a CRLF. */
	struct lmtp_dot d;
	uint8_t out[16];
	size_t got;
	int end;
	lmtp_dot_init(&d, LMTP_DOT_BDAT);
	assert_int_equal(
	        lmtp_dot_decode(&d, (const uint8_t *)"ab\r", 3, out, sizeof(out), &got, &end), 3);
	assert_int_equal(got, 3);
	assert_int_equal(
	        lmtp_dot_decode(&d, (const uint8_t *)"\nc", 2, out, sizeof(out), &got, &end), 2);
	assert_int_equal(got, 2);
	assert_memory_equal(out, "\nc", 2);
	/* Too little room: no progress, nothing lost. */
	assert_int_equal(lmtp_dot_decode(&d, (const uint8_t *)"x", 1, out, 2, &got, &end), 0);
	assert_int_equal(got, 0);
}

/* --- trace headers -------------------------------------------------------- */

static void
test_trace_headers(void **state)
{
	struct nbuf b;
	nbuf_init(&b, 4096);
	struct lmtp_trace t = {.sender = "s@x.example",
	                       .rcpt = "r@y.example",
	                       .helo = "mx (evil)\r\nX-Injected: 1",
	                       .peer_ip = "192.0.2.7",
	                       .host = "node1",
	                       .id = "0123456789abcdef",
	                       .when = 0};
	assert_int_equal(lmtp_trace_headers(&t, &b), 0);
	nbuf_append(&b, "", 1);
	assert_string_equal((const char *)nbuf_head(&b),
	                    "Return-Path: <s@x.example>\r\n"
	                    "Delivered-To: <r@y.example>\r\n"
	                    "Received: from mx__evil___X-Injected:_1 ([192.0.2.7])\r\n"
	                    "\tby node1 (mailnode) with LMTP id 0123456789abcdef\r\n"
	                    "\tfor <r@y.example>;\r\n"
	                    "\tThu, 1 Jan 1970 00:00:00 +0000\r\n");
	nbuf_reset(&b);
	t.rcpt = NULL;
	t.sender = "";
	t.tls = 1;
	t.utf8 = 1;
	t.helo = "";
	assert_int_equal(lmtp_trace_headers(&t, &b), 0);
	nbuf_append(&b, "", 1);
	assert_string_equal((const char *)nbuf_head(&b),
	                    "Return-Path: <>\r\n"
	                    "Received: from unknown ([192.0.2.7])\r\n"
	                    "\tby node1 (mailnode) with UTF8LMTPS id 0123456789abcdef;\r\n"
	                    "\tThu, 1 Jan 1970 00:00:00 +0000\r\n");
	nbuf_deinit(&b);
	/* Too small a buffer fails rather than truncates silently. */
	nbuf_init(&b, 40);
	assert_int_equal(lmtp_trace_headers(&t, &b), -1);
	nbuf_deinit(&b);

	char ip[64];
	lmtp_trace_peer_ip("127.0.0.1:2424", ip, sizeof(ip));
	assert_string_equal(ip, "127.0.0.1");
	lmtp_trace_peer_ip("[::1]:2424", ip, sizeof(ip));
	assert_string_equal(ip, "IPv6:::1");
	lmtp_trace_peer_ip("local", ip, sizeof(ip));
	assert_string_equal(ip, "local");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_verbs),
	        cmocka_unit_test(test_mail_paths),
	        cmocka_unit_test(test_mail_path_length),
	        cmocka_unit_test(test_mail_params),
	        cmocka_unit_test(test_utf8_addresses),
	        cmocka_unit_test(test_rcpt),
	        cmocka_unit_test(test_bdat),
	        cmocka_unit_test(test_dot_data),
	        cmocka_unit_test(test_dot_bdat),
	        cmocka_unit_test(test_dot_across_calls),
	        cmocka_unit_test(test_trace_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
