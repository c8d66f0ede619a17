/*
 * Unit tests: RETURN options and the responses they ask for (RFC 4731
 * ESEARCH, RFC 5182 SAVE, RFC 5267 CONTEXT/UPDATE/PARTIAL and ESORT, RFC
 * 7162 MODSEQ in SEARCH/SORT/ESEARCH responses), and the search keys of
 * RFC 5032 (OLDER, YOUNGER), RFC 7162 §3.1.5 (MODSEQ with and without an
 * entry name) and RFC 8514 (SAVEDBEFORE, SAVEDON, SAVEDSINCE,
 * SAVEDATESUPPORTED), with the mandatory charset of SORT and THREAD. The
 * command text goes through the real IMAP parser, whole and one byte at a
 * time; limits at n-1, n, n+1.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/search.h"

/* Parse "t X <text>" whole, or one byte at a time; the command lives in p. */
static struct imap_cmd *
cmd_of(struct imap_parser *p, const char *text, int bytewise)
{
	struct nbuf in;
	struct imap_cmd *cmd = NULL;
	char *line = xasprintf("t X %s\r\n", text);
	size_t len = strlen(line);
	imap_parser_init(p, NULL);
	nbuf_init(&in, 1 << 16);
	int rc = IMAP_PARSE_MORE;
	if (!bytewise) {
		nbuf_append(&in, line, len);
		rc = imap_parser_next(p, &in, &cmd);
	} else {
		for (size_t i = 0; i < len && rc == IMAP_PARSE_MORE; i++) {
			nbuf_append(&in, line + i, 1);
			rc = imap_parser_next(p, &in, &cmd);
		}
	}
	assert_int_equal(rc, IMAP_PARSE_DONE);
	nbuf_deinit(&in);
	free(line);
	return cmd;
}

/* RETURN options of text: the args taken, or -1. */
static int
ret_try(const char *text, struct imap_search_ret *r)
{
	int rcs[2];
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct imap_parser p;
		struct imap_cmd *cmd = cmd_of(&p, text, bytewise);
		const char *err = NULL;
		rcs[bytewise] = imap_search_ret_parse(cmd->args, cmd->argc, r, &err);
		if (rcs[bytewise] < 0)
			assert_non_null(err);
		imap_parser_deinit(&p);
	}
	assert_int_equal(rcs[0], rcs[1]);
	return rcs[0];
}

static void
test_return_parse(void **state)
{
	struct imap_search_ret r;
	assert_int_equal(ret_try("ALL", &r), 0);
	assert_false(r.esearch);
	assert_int_equal(ret_try("RETURN () ALL", &r), 2);
	assert_true(r.esearch);
	assert_int_equal(r.opts, SEARCH_RET_ALL);
	assert_int_equal(ret_try("return (min Max COUNT) UNSEEN", &r), 2);
	assert_int_equal(r.opts, SEARCH_RET_MIN | SEARCH_RET_MAX | SEARCH_RET_COUNT);
	assert_int_equal(ret_try("RETURN (SAVE) UNSEEN", &r), 2);
	assert_int_equal(r.opts, SEARCH_RET_SAVE);
	assert_int_equal(ret_try("RETURN (SAVE MIN) UNSEEN", &r), 2);
	assert_int_equal(r.opts, SEARCH_RET_SAVE | SEARCH_RET_MIN);
	assert_int_equal(ret_try("RETURN (CONTEXT) UNSEEN", &r), 2);
	assert_int_equal(r.opts, SEARCH_RET_CONTEXT | SEARCH_RET_ALL);
	assert_int_equal(ret_try("RETURN (UPDATE COUNT) UNSEEN", &r), 2);
	assert_int_equal(r.opts, SEARCH_RET_UPDATE | SEARCH_RET_COUNT);
	assert_int_equal(ret_try("RETURN (PARTIAL 500:1 COUNT) UNSEEN", &r), 2);
	assert_int_equal(r.opts, SEARCH_RET_PARTIAL | SEARCH_RET_COUNT);
	assert_int_equal(r.partial_lo, 1);
	assert_int_equal(r.partial_hi, 500);
	assert_int_equal(ret_try("RETURN (PARTIAL 4294967295:4294967295) ALL", &r), 2);
	assert_int_equal(r.partial_lo, UINT32_MAX);
	assert_int_equal(ret_try("RETURN (MIN MIN) ALL", &r), 2);
	static const char *const bad[] = {
	        "RETURN ALL",
	        "RETURN",
	        "RETURN (FOO) ALL",
	        "RETURN (\"MIN\") ALL",
	        "RETURN ((MIN)) ALL",
	        "RETURN (PARTIAL) ALL",
	        "RETURN (PARTIAL 1) ALL",
	        "RETURN (PARTIAL 0:10) ALL",
	        "RETURN (PARTIAL 1:0) ALL",
	        "RETURN (PARTIAL 01:10) ALL",
	        "RETURN (PARTIAL 1:*) ALL",
	        "RETURN (PARTIAL -1:-10) ALL",
	        "RETURN (PARTIAL 1:4294967296) ALL",
	        "RETURN (PARTIAL 1:2:3) ALL",
	        "RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
	        "RETURN (PARTIAL 1:2 ALL) ALL",
	        "RETURN (ALL PARTIAL 1:2) ALL",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (ret_try(bad[i], &r) != -1)
			fail_msg("%s accepted", bad[i]);
}

static char *
write_of(const struct imap_search_ret *r, const char *name, const uint32_t *v, size_t n, int sorted,
         int uid, int with_modseq)
{
	uint64_t ms[64];
	for (size_t i = 0; i < n; i++)
		ms[i] = 100 + v[i] * 10;
	struct imap_search_result res = {v, ms, n, sorted, uid, with_modseq};
	struct nbuf o;
	nbuf_init(&o, 1 << 16);
	assert_int_equal(imap_search_ret_write(r, "A1", name, &res, &o), 0);
	nbuf_puts(&o, "");
	char *s = xstrndup((const char *)nbuf_head(&o), nbuf_avail(&o));
	nbuf_deinit(&o);
	return s;
}

static void
check_write(const char *ret, const char *name, const uint32_t *v, size_t n, int sorted, int uid,
            int with_modseq, const char *want)
{
	struct imap_search_ret r;
	assert_true(ret_try(ret, &r) >= 0);
	char *got = write_of(&r, name, v, n, sorted, uid, with_modseq);
	if (strcmp(got, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", ret, got, want);
	free(got);
}

static void
test_return_write(void **state)
{
	static const uint32_t v[] = {2, 10, 11, 12, 20};
	static const uint32_t sv[] = {12, 11, 10, 2, 3, 4, 20};
	/* plain SEARCH, SORT; MODSEQ only with a MODSEQ key and a match */
	check_write("ALL", "SEARCH", v, 5, 0, 0, 0, "SEARCH 2 10 11 12 20");
	check_write("ALL", "SEARCH", v, 0, 0, 0, 1, "SEARCH");
	check_write("ALL", "SEARCH", v, 5, 0, 0, 1, "SEARCH 2 10 11 12 20 (MODSEQ 300)");
	check_write("ALL", "SORT", sv, 7, 1, 0, 1, "SORT 12 11 10 2 3 4 20 (MODSEQ 300)");
	/* ESEARCH */
	check_write("RETURN () ALL", "SEARCH", v, 5, 0, 0, 0,
	            "ESEARCH (TAG \"A1\") ALL 2,10:12,20");
	check_write("RETURN (MIN MAX COUNT ALL) ALL", "SEARCH", v, 5, 0, 1, 0,
	            "ESEARCH (TAG \"A1\") UID MIN 2 MAX 20 ALL 2,10:12,20 COUNT 5");
	/* nothing found: COUNT only (RFC 4731 §3.1) */
	check_write("RETURN (MIN MAX COUNT ALL) ALL", "SEARCH", v, 0, 0, 0, 1,
	            "ESEARCH (TAG \"A1\") COUNT 0");
	check_write("RETURN (MIN MAX) ALL", "SEARCH", v, 0, 0, 1, 0, "ESEARCH (TAG \"A1\") UID");
	/* MODSEQ (RFC 4731 §3.2): MIN's, MAX's, the higher of both, or all's */
	check_write("RETURN (MIN) ALL", "SEARCH", v, 5, 0, 0, 1,
	            "ESEARCH (TAG \"A1\") MIN 2 MODSEQ 120");
	check_write("RETURN (MAX) ALL", "SEARCH", v, 5, 0, 0, 1,
	            "ESEARCH (TAG \"A1\") MAX 20 MODSEQ 300");
	check_write("RETURN (MIN MAX) ALL", "SEARCH", sv, 7, 0, 0, 1,
	            "ESEARCH (TAG \"A1\") MIN 2 MAX 20 MODSEQ 300");
	check_write("RETURN (COUNT) ALL", "SEARCH", v, 5, 0, 0, 1,
	            "ESEARCH (TAG \"A1\") COUNT 5 MODSEQ 300");
	check_write("RETURN (MIN COUNT) ALL", "SEARCH", v, 5, 0, 0, 1,
	            "ESEARCH (TAG \"A1\") MIN 2 COUNT 5 MODSEQ 300");
	/* ESORT: MIN and MAX are the ends, ALL in sort order with ascending
	 * runs only (RFC 5267 §3.1, §3.2) */
	check_write("RETURN (MIN MAX ALL) ALL", "SORT", sv, 7, 1, 0, 0,
	            "ESEARCH (TAG \"A1\") MIN 12 MAX 20 ALL 12,11,10,2:4,20");
	check_write("RETURN (MIN) ALL", "SORT", sv, 7, 1, 0, 1,
	            "ESEARCH (TAG \"A1\") MIN 12 MODSEQ 220");
	/* PARTIAL (RFC 5267 §4.4): positions in result order; past the end
	 * shorter; nothing there NIL */
	check_write("RETURN (PARTIAL 2:4) ALL", "SORT", sv, 7, 1, 0, 0,
	            "ESEARCH (TAG \"A1\") PARTIAL (2:4 11,10,2)");
	check_write("RETURN (PARTIAL 6:100) ALL", "SORT", sv, 7, 1, 0, 0,
	            "ESEARCH (TAG \"A1\") PARTIAL (6:100 4,20)");
	check_write("RETURN (PARTIAL 8:9 COUNT) ALL", "SEARCH", v, 5, 0, 1, 0,
	            "ESEARCH (TAG \"A1\") UID COUNT 5 PARTIAL (8:9 NIL)");
	check_write("RETURN (PARTIAL 1:2) ALL", "SEARCH", v, 0, 0, 0, 0,
	            "ESEARCH (TAG \"A1\") PARTIAL (1:2 NIL)");
	/* SAVE alone answers nothing; CONTEXT is a hint */
	struct imap_search_ret r;
	assert_int_equal(ret_try("RETURN (SAVE) ALL", &r), 2);
	assert_false(imap_search_ret_responds(&r));
	assert_int_equal(ret_try("RETURN (SAVE CONTEXT) ALL", &r), 2);
	assert_false(imap_search_ret_responds(&r));
	assert_int_equal(ret_try("RETURN (SAVE COUNT) ALL", &r), 2);
	assert_true(imap_search_ret_responds(&r));
	assert_int_equal(ret_try("ALL", &r), 0);
	assert_true(imap_search_ret_responds(&r));
	/* a tag with a quote or backslash would be escaped */
	assert_int_equal(ret_try("RETURN () ALL", &r), 2);
	struct imap_search_result res = {v, NULL, 1, 0, 0, 0};
	struct nbuf o;
	nbuf_init(&o, 1024);
	assert_int_equal(imap_search_ret_write(&r, "a\"b\\c", "SEARCH", &res, &o), 0);
	assert_int_equal(nbuf_avail(&o), strlen("ESEARCH (TAG \"a\\\"b\\\\c\") ALL 2"));
	assert_memory_equal(nbuf_head(&o), "ESEARCH (TAG \"a\\\"b\\\\c\") ALL 2", nbuf_avail(&o));
	nbuf_deinit(&o);
}

static void
test_return_saved(void **state)
{
	static const uint32_t v[] = {5, 3, 9, 7};
	struct imap_search_ret r;
	size_t idx[2];
	struct imap_search_result res = {v, NULL, 4, 0, 0, 0};
	/* RFC 5182 §2.4: every match unless only MIN and/or MAX come with it */
	assert_int_equal(ret_try("RETURN (SAVE) ALL", &r), 2);
	assert_true(imap_search_ret_saved(&r, &res, idx) == SIZE_MAX);
	assert_int_equal(ret_try("RETURN (SAVE ALL MIN) ALL", &r), 2);
	assert_true(imap_search_ret_saved(&r, &res, idx) == SIZE_MAX);
	assert_int_equal(ret_try("RETURN (SAVE COUNT MAX) ALL", &r), 2);
	assert_true(imap_search_ret_saved(&r, &res, idx) == SIZE_MAX);
	assert_int_equal(ret_try("RETURN (SAVE MIN) ALL", &r), 2);
	assert_int_equal(imap_search_ret_saved(&r, &res, idx), 1);
	assert_int_equal(v[idx[0]], 3);
	assert_int_equal(ret_try("RETURN (SAVE MAX MIN) ALL", &r), 2);
	assert_int_equal(imap_search_ret_saved(&r, &res, idx), 2);
	assert_int_equal(v[idx[0]], 3);
	assert_int_equal(v[idx[1]], 9);
	/* sorted: the ends of the order */
	res.sorted = 1;
	assert_int_equal(imap_search_ret_saved(&r, &res, idx), 2);
	assert_int_equal(v[idx[0]], 5);
	assert_int_equal(v[idx[1]], 7);
	/* one message: MIN and MAX are one */
	res.n = 1;
	assert_int_equal(imap_search_ret_saved(&r, &res, idx), 1);
	res.n = 0;
	assert_int_equal(imap_search_ret_saved(&r, &res, idx), 0);
}

/* --- the new search keys --------------------------------------------- */

static int
prog_try(struct imap_parser *p, struct arena *a, const char *keys, struct imap_search **s_r,
         const char **code_r)
{
	struct imap_cmd *cmd = cmd_of(p, keys, 0);
	const char *err;
	return imap_search_parse(a, cmd->args, cmd->argc, s_r, &err, code_r);
}

static int
match(const char *keys, const struct store_msg *rec, int64_t now)
{
	struct imap_parser p;
	struct arena a;
	struct imap_search *s;
	const char *code;
	arena_init(&a, 0);
	if (prog_try(&p, &a, keys, &s, &code) != 0)
		fail_msg("%s refused", keys);
	struct imap_search_msg m = {.seq = 1, .rec = rec};
	struct imap_search_ctx ctx = {.max_seq = 1, .max_uid = rec->uid, .now = now};
	int v = imap_search_match_record(s, &ctx, &m);
	assert_true(v == 0 || v == 1);
	assert_int_equal(imap_search_match(s, &ctx, &m), v);
	arena_deinit(&a);
	imap_parser_deinit(&p);
	return v;
}

static void
test_keys_within(void **state)
{
	struct store_msg rec = {.uid = 1, .internaldate = 1000000};
	/* age 100 s: YOUNGER 100 holds (>= now - 100), OLDER 100 does not;
	 * the two partition */
	assert_int_equal(match("YOUNGER 100", &rec, 1000100), 1);
	assert_int_equal(match("OLDER 100", &rec, 1000100), 0);
	assert_int_equal(match("YOUNGER 99", &rec, 1000100), 0);
	assert_int_equal(match("OLDER 99", &rec, 1000100), 1);
	assert_int_equal(match("YOUNGER 101", &rec, 1000100), 1);
	assert_int_equal(match("NOT OLDER 4294967295", &rec, 1000100), 1);
	struct imap_parser p;
	struct arena a;
	struct imap_search *s;
	const char *code;
	arena_init(&a, 0);
	assert_int_equal(prog_try(&p, &a, "OLDER 5", &s, &code), 0);
	assert_true(imap_search_needs(s) & SEARCH_NEED_NOW);
	imap_parser_deinit(&p);
	static const char *const bad[] = {
	        "OLDER", "OLDER 0", "YOUNGER -1", "YOUNGER x", "YOUNGER 4294967296", "OLDER \"5\""};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (prog_try(&p, &a, bad[i], &s, &code) != -1)
			fail_msg("%s accepted", bad[i]);
		imap_parser_deinit(&p);
	}
	arena_deinit(&a);
}

static void
test_keys_modseq(void **state)
{
	struct store_msg rec = {.uid = 1, .modseq = 500};
	assert_int_equal(match("MODSEQ 500", &rec, 0), 1);
	assert_int_equal(match("MODSEQ 501", &rec, 0), 0);
	assert_int_equal(match("MODSEQ 0", &rec, 0), 1);
	assert_int_equal(match("MODSEQ \"/flags/\\\\draft\" all 400", &rec, 0), 1);
	assert_int_equal(match("MODSEQ \"/flags/$Junk\" priv 600", &rec, 0), 0);
	assert_int_equal(match("MODSEQ \"/FLAGS/x\" shared 1", &rec, 0), 1);
	assert_int_equal(match("MODSEQ 9223372036854775807", &rec, 0), 0);
	struct imap_parser p;
	struct arena a;
	struct imap_search *s;
	const char *code;
	arena_init(&a, 0);
	assert_int_equal(prog_try(&p, &a, "OR SEEN MODSEQ 5", &s, &code), 0);
	assert_true(imap_search_needs(s) & SEARCH_NEED_MODSEQ);
	imap_parser_deinit(&p);
	static const char *const bad[] = {
	        "MODSEQ",
	        "MODSEQ 9223372036854775808",
	        "MODSEQ -1",
	        "MODSEQ \"/flags/x\" 5",
	        "MODSEQ \"/flags/x\" both 5",
	        "MODSEQ \"/other/x\" all 5",
	        "MODSEQ \"/flags/\" all 5",
	        "MODSEQ \"/flags/x\" all",
	        "MODSEQ /flags/x all 5",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (prog_try(&p, &a, bad[i], &s, &code) != -1)
			fail_msg("%s accepted", bad[i]);
		imap_parser_deinit(&p);
	}
	arena_deinit(&a);
}

static void
test_keys_savedate(void **state)
{
	/* saved 2023-11-14 22:13:20 UTC */
	struct store_msg rec = {.uid = 1, .savedate = 1700000000, .internaldate = 0};
	assert_int_equal(match("SAVEDON 14-Nov-2023", &rec, 0), 1);
	assert_int_equal(match("SAVEDON 15-Nov-2023", &rec, 0), 0);
	assert_int_equal(match("SAVEDBEFORE 14-Nov-2023", &rec, 0), 0);
	assert_int_equal(match("SAVEDBEFORE 15-Nov-2023", &rec, 0), 1);
	assert_int_equal(match("SAVEDSINCE 14-Nov-2023", &rec, 0), 1);
	assert_int_equal(match("SAVEDSINCE 15-Nov-2023", &rec, 0), 0);
	assert_int_equal(match("SAVEDATESUPPORTED", &rec, 0), 1);
	/* INTERNALDATE is not the save date */
	assert_int_equal(match("ON 1-Jan-1970", &rec, 0), 1);
	assert_int_equal(match("SAVEDON 1-Jan-1970", &rec, 0), 0);
	/* no save date known: no SAVED* key matches */
	rec.savedate = 0;
	assert_int_equal(match("SAVEDBEFORE 1-Jan-2100", &rec, 0), 0);
	assert_int_equal(match("SAVEDSINCE 1-Jan-1900", &rec, 0), 0);
	assert_int_equal(match("NOT SAVEDON 1-Jan-1970", &rec, 0), 1);
	struct imap_parser p;
	struct arena a;
	struct imap_search *s;
	const char *code;
	arena_init(&a, 0);
	static const char *const bad[] = {"SAVEDON", "SAVEDON 32-Jan-2020",
	                                  "SAVEDBEFORE 1-Foo-2020", "SAVEDSINCE 29-Feb-2023"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (prog_try(&p, &a, bad[i], &s, &code) != -1)
			fail_msg("%s accepted", bad[i]);
		imap_parser_deinit(&p);
	}
	arena_deinit(&a);
}

/* What an updating context needs to know: does the answer move with the
 * mailbox (sequence numbers, "*") rather than with the message? */
static void
test_needs(void **state)
{
	static const struct {
		const char *keys;
		unsigned want;
	} cases[] = {
	        {"SEEN UID 1:5", 0},
	        {"1:5", SEARCH_NEED_SEQ},
	        {"UID 3:*", SEARCH_NEED_SEQ},
	        {"NOT 4", SEARCH_NEED_SEQ},
	        {"$", SEARCH_NEED_SAVED},
	        {"UID $", SEARCH_NEED_SAVED},
	        {"YOUNGER 5", SEARCH_NEED_NOW},
	        {"OR MODSEQ 4 SUBJECT x", SEARCH_NEED_MODSEQ | SEARCH_NEED_HEADER},
	        {"SAVEDON 1-Jan-2020 LARGER 5", 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_parser p;
		struct arena a;
		struct imap_search *s;
		const char *code;
		arena_init(&a, 0);
		assert_int_equal(prog_try(&p, &a, cases[i].keys, &s, &code), 0);
		if (imap_search_needs(s) != cases[i].want)
			fail_msg("%s: needs %#x, want %#x", cases[i].keys, imap_search_needs(s),
			         cases[i].want);
		imap_parser_deinit(&p);
		arena_deinit(&a);
	}
}

static void
test_charset(void **state)
{
	struct imap_parser p;
	const char *err, *code;
	static const char *const good[] = {"UTF-8", "utf-8", "US-ASCII", "\"UTF-8\""};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct imap_cmd *cmd = cmd_of(&p, good[i], 0);
		assert_int_equal(imap_search_charset(&cmd->args[0], &err, &code), 0);
		imap_parser_deinit(&p);
	}
	struct imap_cmd *cmd = cmd_of(&p, "KOI8-R", 0);
	assert_int_equal(imap_search_charset(&cmd->args[0], &err, &code), -1);
	assert_string_equal(code, "BADCHARSET (UTF-8 US-ASCII)");
	imap_parser_deinit(&p);
	cmd = cmd_of(&p, "(UTF-8)", 0);
	assert_int_equal(imap_search_charset(&cmd->args[0], &err, &code), -1);
	assert_null(code);
	imap_parser_deinit(&p);
	/* SEARCH's optional CHARSET goes the same way */
	struct arena a;
	struct imap_search *s;
	arena_init(&a, 0);
	assert_int_equal(prog_try(&p, &a, "CHARSET iso-2022-jp ALL", &s, &code), -1);
	assert_string_equal(code, "BADCHARSET (UTF-8 US-ASCII)");
	imap_parser_deinit(&p);
	assert_int_equal(prog_try(&p, &a, "CHARSET US-ASCII ALL", &s, &code), 0);
	imap_parser_deinit(&p);
	arena_deinit(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_return_parse), cmocka_unit_test(test_return_write),
	        cmocka_unit_test(test_return_saved), cmocka_unit_test(test_keys_within),
	        cmocka_unit_test(test_keys_modseq),  cmocka_unit_test(test_keys_savedate),
	        cmocka_unit_test(test_charset),      cmocka_unit_test(test_needs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
