/*
 * Unit tests: the POP3 command-line parser and the LOGIN-DELAY table.
 */
#include "tests/unit/testutil.h"

#include <string.h>

#include "protocols/pop3/pop3_delay.h"
#include "protocols/pop3/pop3_parser.h"

static int
parse(const char *line, struct pop3_cmd *cmd)
{
	const char *err = NULL;
	int rc = pop3_parser_parse(line, strlen(line), cmd, &err);
	if (rc != 0)
		assert_non_null(err);
	return rc;
}

static void
assert_arg(const struct pop3_arg *a, const char *want)
{
	assert_int_equal(a->len, strlen(want));
	assert_memory_equal(a->p, want, a->len);
}

static void
test_keywords(void **state)
{
	struct pop3_cmd c;
	static const struct {
		const char *line;
		enum pop3_cmd_id id;
	} cases[] = {
	        {"CAPA", POP3_CMD_CAPA},     {"capa", POP3_CMD_CAPA},
	        {"User x", POP3_CMD_USER},   {"PASS x", POP3_CMD_PASS},
	        {"AUTH", POP3_CMD_AUTH},     {"stls", POP3_CMD_STLS},
	        {"QUIT", POP3_CMD_QUIT},     {"STAT", POP3_CMD_STAT},
	        {"LIST", POP3_CMD_LIST},     {"RETR 1", POP3_CMD_RETR},
	        {"DELE 1", POP3_CMD_DELE},   {"NOOP", POP3_CMD_NOOP},
	        {"RSET", POP3_CMD_RSET},     {"TOP 1 2", POP3_CMD_TOP},
	        {"UIDL", POP3_CMD_UIDL},     {"APOP a b", POP3_CMD_UNKNOWN},
	        {"XYZZY", POP3_CMD_UNKNOWN}, {"RETRX 1", POP3_CMD_UNKNOWN},
	        {"RE", POP3_CMD_UNKNOWN},    {"TOPS", POP3_CMD_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].line, &c), 0);
		assert_int_equal(c.id, cases[i].id);
	}
	assert_string_equal(pop3_cmd_name(POP3_CMD_TOP), "TOP");
	assert_string_equal(pop3_cmd_name(POP3_CMD_UNKNOWN), "UNKNOWN");
	assert_string_equal(pop3_cmd_name((enum pop3_cmd_id)999), "UNKNOWN");
}

static void
test_arguments(void **state)
{
	struct pop3_cmd c;
	assert_int_equal(parse("TOP 12 0", &c), 0);
	assert_int_equal(c.nargs, 2);
	assert_arg(&c.args[0], "12");
	assert_arg(&c.args[1], "0");
	/* Tolerated: runs of spaces and trailing spaces. */
	assert_int_equal(parse("LIST   3  ", &c), 0);
	assert_int_equal(c.nargs, 1);
	assert_arg(&c.args[0], "3");
	/* More arguments than remembered are still counted. */
	assert_int_equal(parse("RETR 1 2 3 4", &c), 0);
	assert_int_equal(c.nargs, 4);
	/* PASS keeps its spaces in rest. */
	assert_int_equal(parse("PASS  my secret pw ", &c), 0);
	assert_arg(&c.rest, " my secret pw ");
	assert_int_equal(c.nargs, 3);
	assert_int_equal(parse("NOOP", &c), 0);
	assert_int_equal(c.nargs, 0);
	assert_int_equal(c.rest.len, 0);
}

static void
test_bad_lines(void **state)
{
	struct pop3_cmd c;
	const char *err;
	assert_int_equal(pop3_parser_parse("", 0, &c, &err), -1);
	assert_int_equal(pop3_parser_parse("RETR\0001", 6, &c, &err), -1);
	assert_int_equal(parse("RETR\t1", &c), -1);
	assert_int_equal(parse("USER a\rb", &c), -1);
	assert_int_equal(parse("NOOP\x7f", &c), -1);
	/* 8-bit bytes are data, not control characters. */
	assert_int_equal(parse("PASS p\xc3\xa4ss", &c), 0);
	assert_int_equal(parse(" ", &c), 0);
	assert_int_equal(c.id, POP3_CMD_UNKNOWN);
}

static void
test_numbers(void **state)
{
	uint32_t v;
	struct pop3_arg a;
#define NUM(s) (a = (struct pop3_arg){s, strlen(s)}, pop3_parser_number(&a, UINT32_MAX, &v))
	assert_int_equal(NUM("1"), 0);
	assert_int_equal(v, 1);
	assert_int_equal(NUM("0"), 0);
	assert_int_equal(v, 0);
	assert_int_equal(NUM("007"), 0);
	assert_int_equal(v, 7);
	assert_int_equal(NUM("4294967295"), 0); /* limit */
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(NUM("4294967296"), -1); /* limit + 1 */
	assert_int_equal(NUM("99999999999"), -1);
	assert_int_equal(NUM("00000000001"), -1); /* 11 digits */
	assert_int_equal(NUM("abc"), -1);
	assert_int_equal(NUM("1a"), -1);
	assert_int_equal(NUM("-1"), -1);
	assert_int_equal(NUM("+1"), -1);
	assert_int_equal(NUM(""), -1);
#undef NUM
	a = (struct pop3_arg){"10", 2};
	assert_int_equal(pop3_parser_number(&a, 9, &v), -1);
	assert_int_equal(pop3_parser_number(&a, 10, &v), 0);
}

static void
test_delay(void **state)
{
	struct pop3_delay *d = pop3_delay_create();
	/* No delay: always admitted, nothing remembered. */
	assert_int_equal(pop3_delay_admit(d, 1, 1000, 0), 1);
	assert_int_equal(pop3_delay_count(d), 0);
	assert_int_equal(pop3_delay_admit(d, 1, 1000, 60000), 1);
	assert_int_equal(pop3_delay_admit(d, 1, 1000 + 59999, 60000), 0); /* limit - 1 */
	assert_int_equal(pop3_delay_admit(d, 1, 1000 + 60000, 60000), 1); /* limit */
	assert_int_equal(pop3_delay_admit(d, 2, 1000, 60000), 1);
	assert_int_equal(pop3_delay_admit(d, 2, 2000, 60000), 0);
	/* Many users: the table grows, and later drops the expired ones. */
	for (uint32_t u = 100; u < 10100; u++)
		assert_int_equal(pop3_delay_admit(d, u, 5000, 60000), 1);
	for (uint32_t u = 100; u < 10100; u += 97)
		assert_int_equal(pop3_delay_admit(d, u, 6000, 60000), 0);
	assert_true(pop3_delay_count(d) >= 10000);
	for (uint32_t u = 20000; u < 40000; u++)
		assert_int_equal(pop3_delay_admit(d, u, 1000000, 60000), 1);
	/* The table had to grow past 16384 entries: every old one went. */
	assert_int_equal(pop3_delay_count(d), 20000);
	assert_int_equal(pop3_delay_admit(d, 20050, 1000001, 60000), 0);
	assert_int_equal(pop3_delay_admit(d, 150, 1000001, 60000), 1);
	pop3_delay_free(&d);
	assert_null(d);
	pop3_delay_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keywords),  cmocka_unit_test(test_arguments),
	        cmocka_unit_test(test_bad_lines), cmocka_unit_test(test_numbers),
	        cmocka_unit_test(test_delay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
