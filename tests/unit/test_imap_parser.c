/*
 * Unit tests: IMAP command parser. Every case is fed whole, one byte at a
 * time and in 7-byte chunks, and must give the same transcript of results
 * (commands, continuation requests, errors) each time; then the parser
 * must take the next command.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "protocols/imap/parser.h"

struct sink_state {
	struct nbuf *log;
	struct nbuf data; /* bytes of the literal being streamed */
	int refuse_at;    /* -1, or the literal index whose BEGIN fails */
	int fail_data;    /* DATA fails once this many bytes arrived (-1: never) */
	bool inline_small;
};

static const char *
code_name(enum imap_parser_errcode c)
{
	static const char *const n[] = {"NONE",     "SYNTAX", "TAG",   "LINE", "DEEP",    "ARGS",
	                                "LITERALS", "TOOBIG", "NOMEM", "SINK", "LINEMODE"};
	return c < ARRAY_SIZE(n) ? n[c] : "?";
}

static int
test_sink(void *ctx, enum imap_literal_event ev, const struct imap_literal_info *info,
          const unsigned char *data, size_t len, const char **error_r)
{
	struct sink_state *st = ctx;
	switch (ev) {
	case IMAP_LITERAL_BEGIN:
		nbuf_printf(st->log, "BEGIN %s %llu%s%s\n", info->cmd->name,
		            (unsigned long long)info->size, info->nonsync ? " nonsync" : "",
		            info->literal8 ? " literal8" : "");
		if ((int)info->index == st->refuse_at) {
			*error_r = "Mailbox does not exist";
			return -1;
		}
		if (st->inline_small && !info->must_stream)
			return IMAP_LITERAL_INLINE;
		nbuf_reset(&st->data);
		return IMAP_LITERAL_STREAM;
	case IMAP_LITERAL_DATA:
		assert_true(len > 0);
		assert_int_equal(nbuf_append(&st->data, data, len), 0);
		if (st->fail_data >= 0 && nbuf_avail(&st->data) >= (size_t)st->fail_data) {
			*error_r = "Disk full";
			return -1;
		}
		return 0;
	case IMAP_LITERAL_END:
		assert_int_equal(nbuf_avail(&st->data), info->size);
		nbuf_puts(st->log, "END ");
		nbuf_append(st->log, nbuf_head(&st->data), nbuf_avail(&st->data));
		nbuf_puts(st->log, "\n");
		return 0;
	}
	return -1;
}

/* Run the parser over in, split in chunks of `chunk` bytes; append a
 * transcript to log. */
static void
run(const struct imap_parser_limits *lim, struct sink_state *st, const char *in, size_t len,
    size_t chunk, struct nbuf *log)
{
	struct imap_parser p;
	struct nbuf buf;
	imap_parser_init(&p, lim);
	if (st != NULL) {
		st->log = log;
		nbuf_init(&st->data, 1 << 26);
		imap_parser_set_sink(&p, test_sink, st);
	}
	nbuf_init(&buf, 1 << 26);
	size_t off = 0;
	bool dead = false;
	while (!dead) {
		size_t n = MIN(chunk, len - off);
		assert_int_equal(nbuf_append(&buf, in + off, n), 0);
		off += n;
		for (;;) {
			struct imap_cmd *cmd;
			int rc = imap_parser_next(&p, &buf, &cmd);
			if (rc == IMAP_PARSE_MORE) {
				assert_int_equal(nbuf_avail(&buf), 0);
				break;
			}
			if (rc == IMAP_PARSE_CONTINUE) {
				nbuf_puts(log, "+\n");
			} else if (rc == IMAP_PARSE_DONE) {
				nbuf_printf(log, "OK %s %s%s", cmd->tag, cmd->uid ? "UID " : "",
				            cmd->name);
				if (cmd->argc > 0)
					nbuf_puts(log, " ");
				assert_int_equal(
				        imap_args_format(cmd->args, IMAP_ARGS_FORMAT_LITERALS, log),
				        0);
				nbuf_puts(log, "\n");
			} else {
				const struct imap_parser_error *e = imap_parser_error(&p);
				assert_int_equal(rc, IMAP_PARSE_ERROR);
				assert_non_null(e->text);
				nbuf_printf(log, "%s %s %s%s%s\n", e->fatal ? "FATAL" : "BAD",
				            e->tag ? e->tag : "*", code_name(e->code),
				            e->resp_code ? " " : "",
				            e->resp_code ? e->resp_code : "");
				if (e->fatal) {
					dead = true;
					break;
				}
			}
		}
		if (off == len)
			break;
	}
	if (!dead && imap_parser_in_command(&p))
		nbuf_puts(log, "PARTIAL\n");
	nbuf_deinit(&buf);
	if (st != NULL)
		nbuf_deinit(&st->data);
	imap_parser_deinit(&p);
}

/* Feed whole, byte by byte and by 7 bytes; all must give `expect`. */
static void
check_n(const struct imap_parser_limits *lim, struct sink_state *st, const char *in, size_t len,
        const char *expect)
{
	static const size_t chunks[] = {SIZE_MAX, 1, 7};
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		struct nbuf log;
		nbuf_init(&log, 1 << 26);
		run(lim, st, in, len, chunks[i] == SIZE_MAX ? len + 1 : chunks[i], &log);
		for (size_t j = 0; j < nbuf_avail(&log); j++)
			if (nbuf_head(&log)[j] == '\0')
				nbuf_head(&log)[j] = '@'; /* NULs of literal8 data */
		nbuf_append(&log, "", 1);
		if (strcmp((char *)nbuf_head(&log), expect) != 0) {
			fprintf(stderr, "input (chunk %zu): %.*s\n", chunks[i], (int)MIN(len, 300),
			        in);
			assert_string_equal((char *)nbuf_head(&log), expect);
		}
		nbuf_deinit(&log);
	}
}

static void
check(const struct imap_parser_limits *lim, const char *in, const char *expect)
{
	check_n(lim, NULL, in, strlen(in), expect);
}

/* A case with NUL bytes in it. */
#define CHECK_BIN(lim, st, lit, expect) check_n(lim, st, lit, sizeof(lit) - 1, expect)

static void
check_s(const struct imap_parser_limits *lim, struct sink_state *st, const char *in,
        const char *expect)
{
	check_n(lim, st, in, strlen(in), expect);
}

static struct imap_parser_limits
lim_auth(void)
{
	struct imap_parser_limits l;
	imap_parser_limits_init(&l, true);
	return l;
}

static void
test_simple(void **state)
{
	struct imap_parser_limits l = lim_auth();
	check(&l, "A1 NOOP\r\n", "OK A1 NOOP\n");
	check(&l, "a1 noop\n", "OK a1 NOOP\n");
	check(&l, "\r\n\r\nA1 CAPABILITY\r\n", "OK A1 CAPABILITY\n");
	check(&l, "A1 LOGIN user pass\r\nA2 SELECT INBOX\r\n",
	      "OK A1 LOGIN user pass\nOK A2 SELECT INBOX\n");
	check(&l, "A1 NOOP", "PARTIAL\n");
	check(&l, "x.1] LIST \"\" *\r\n", "OK x.1] LIST \"\" *\n");
	check(&l, "A1 STATUS INBOX (MESSAGES UNSEEN)  \r\n",
	      "OK A1 STATUS INBOX (MESSAGES UNSEEN)\n");
	check(&l, "A1 SELECT [Gmail]/Spam\r\n", "OK A1 SELECT [Gmail]/Spam\n");
	check(&l, "A1 CREATE ]x[\r\n", "OK A1 CREATE ]x[\n");
	check(&l, "A1 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")\r\n",
	      "OK A1 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")\n");
	check(&l, "A1 ID NIL\r\n", "OK A1 ID NIL\n");
	check(&l, "A1 ENABLE QRESYNC CONDSTORE\r\n", "OK A1 ENABLE QRESYNC CONDSTORE\n");
	check(&l, "A1 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n",
	      "OK A1 SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\n");
	check(&l, "A1 X ~ ~a\r\n", "OK A1 X ~ ~a\n");
	check(&l, "A1 LIST () \"\" ()\r\n", "OK A1 LIST () \"\" ()\n");
}

static void
test_fetch_sections(void **state)
{
	struct imap_parser_limits l = lim_auth();
	check(&l,
	      "a002 uid fetch 1:*,7 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To "
	      "\"Subject\")]<0.100>)\r\n",
	      "OK a002 UID FETCH 1:*,7 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To "
	      "\"Subject\")]<0.100>)\n");
	check(&l, "A1 FETCH 1 (BODY[] BODY[1.2.MIME] binary.peek[1]<0.1024> BINARY.SIZE[2])\r\n",
	      "OK A1 FETCH 1 (BODY[] BODY[1.2.MIME] binary.peek[1]<0.1024> BINARY.SIZE[2])\n");
	check(&l, "A1 FETCH 1 BODY[HEADER.FIELDS.NOT (X-A X-B)]\r\n",
	      "OK A1 FETCH 1 BODY[HEADER.FIELDS.NOT (X-A X-B)]\n");
	check(&l, "A1 FETCH 1 (BODY[TEXT]<10.20> ENVELOPE) (CHANGEDSINCE 12345)\r\n",
	      "OK A1 FETCH 1 (BODY[TEXT]<10.20> ENVELOPE) (CHANGEDSINCE 12345)\n");
	/* Only inside FETCH and NOTIFY, and only after a fetch-att name. */
	check(&l, "A1 SEARCH BODY[x y]\r\n", "OK A1 SEARCH BODY[x y]\n");
	check(&l, "A1 FETCH 1 FOO[x]\r\n", "OK A1 FETCH 1 FOO[x]\n");
	check(&l,
	      "A1 NOTIFY SET (selected (MessageNew (uid body.peek[header]) MessageExpunge))\r\n",
	      "OK A1 NOTIFY SET (selected (MessageNew (uid body.peek[header]) MessageExpunge))\n");
	/* the tree */
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_init(&p, &l);
	nbuf_init(&in, 4096);
	nbuf_puts(&in, "A1 FETCH 1 BODY.PEEK[HEADER.FIELDS (A B)]<0.100>\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_int_equal(cmd->argc, 2);
	const struct imap_arg *a = &cmd->args[1];
	assert_int_equal(a->type, IMAP_ARG_ATOM);
	assert_true(a->section);
	assert_string_equal(a->str, "BODY.PEEK");
	assert_int_equal(a->count, 2);
	assert_true(imap_arg_atom_equals(&a->list[0], "header.fields"));
	assert_int_equal(a->list[1].type, IMAP_ARG_LIST);
	assert_int_equal(a->list[1].count, 2);
	assert_int_equal(a->list[2].type, IMAP_ARG_EOL);
	assert_true(a->has_partial);
	assert_int_equal(a->partial_offset, 0);
	assert_int_equal(a->partial_size, 100);
	const char *s;
	assert_false(imap_arg_get_atom(a, &s));
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
	/* errors */
	check(&l, "A1 FETCH 1 BODY[HEADER\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[]<0.0>\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[]<1>\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[]<a.1>\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[]x\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[BODY[1]]\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[HEADER.FIELDS (A])]\r\nA2 NOOP\r\n",
	      "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[{3}\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[~{3}\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 BODY[HEADER.FIELDS (~x)]\r\n",
	      "OK A1 FETCH 1 BODY[HEADER.FIELDS (~x)]\n");
	check(&l, "A1 FETCH 1 BODY[{3+}\r\nabc]\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
}

static void
test_strings(void **state)
{
	struct imap_parser_limits l = lim_auth();
	check(&l, "A1 LOGIN \"us\\\"er\" \"pa\\\\ss\"\r\n",
	      "OK A1 LOGIN \"us\\\"er\" \"pa\\\\ss\"\n");
	check(&l, "A1 X NIL \"NIL\" nil \"\"\r\n", "OK A1 X NIL \"NIL\" nil \"\"\n");
	check(&l, "A1 SEARCH CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\"\r\n",
	      "OK A1 SEARCH CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\"\n");
	check(&l, "A1 X \"a\\b\"\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X \"ab\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X \"ab\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	CHECK_BIN(&l, NULL, "A1 X \"a\0b\"\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X \"a\"b\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X a\"b\"\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X a{3}\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X \x01\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X a\xc3\xa9\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	/* accessors */
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	const char *s;
	size_t len;
	uint64_t v;
	imap_parser_init(&p, &l);
	nbuf_init(&in, 4096);
	nbuf_puts(&in, "A1 X NIL \"NIL\" atom 123 {3+}\r\nl\"t (a)\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_int_equal(cmd->argc, 6);
	assert_int_equal(cmd->args[0].type, IMAP_ARG_NIL);
	assert_int_equal(cmd->args[1].type, IMAP_ARG_QUOTED);
	assert_true(imap_arg_get_nstring(&cmd->args[0], &s, &len));
	assert_null(s);
	assert_true(imap_arg_get_nstring(&cmd->args[1], &s, &len));
	assert_string_equal(s, "NIL");
	assert_true(imap_arg_get_astring(&cmd->args[0], &s, &len));
	assert_string_equal(s, "NIL");
	assert_false(imap_arg_get_string(&cmd->args[2], &s, &len));
	assert_true(imap_arg_get_astring(&cmd->args[2], &s, &len));
	assert_true(imap_arg_get_number(&cmd->args[3], 1000, &v));
	assert_int_equal(v, 123);
	assert_false(imap_arg_get_number(&cmd->args[3], 100, &v));
	assert_false(imap_arg_get_number(&cmd->args[2], 100, &v));
	assert_true(imap_arg_get_string(&cmd->args[4], &s, &len));
	assert_int_equal(len, 3);
	assert_string_equal(s, "l\"t");
	const struct imap_arg *list;
	assert_true(imap_arg_get_list(&cmd->args[5], &list, &len));
	assert_int_equal(len, 1);
	assert_false(imap_arg_get_list(&cmd->args[4], &list, &len));
	assert_int_equal(cmd->args[6].type, IMAP_ARG_EOL);
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
}

static void
test_tags(void **state)
{
	struct imap_parser_limits l = lim_auth();
	check(&l, "+ NOOP\r\nA2 NOOP\r\n", "BAD * TAG\nOK A2 NOOP\n");
	check(&l, "* NOOP\r\nA2 NOOP\r\n", "BAD * TAG\nOK A2 NOOP\n");
	check(&l, " NOOP\r\nA2 NOOP\r\n", "BAD * TAG\nOK A2 NOOP\n");
	check(&l, "a\\b NOOP\r\nA2 NOOP\r\n", "BAD * TAG\nOK A2 NOOP\n");
	check(&l, "A1\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 \r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 UID\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 NO(OP\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 NOOP\rX\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "\rX\r\nA2 NOOP\r\n", "BAD * TAG\nOK A2 NOOP\n");
	check(&l, "A1 UID UID FETCH 1 FLAGS\r\n", "OK A1 UID UID FETCH 1 FLAGS\n");
	/* tag_max at limit - 1, limit, limit + 1 */
	l.tag_max = 8;
	check(&l, "1234567 NOOP\r\n", "OK 1234567 NOOP\n");
	check(&l, "12345678 NOOP\r\n", "OK 12345678 NOOP\n");
	check(&l, "123456789 NOOP\r\nA2 NOOP\r\n", "BAD * TAG\nOK A2 NOOP\n");
	/* command name bound */
	char big[200];
	snprintf(big, sizeof(big), "A1 %0*d\r\nA2 NOOP\r\n", IMAP_NAME_MAX + 1, 0);
	check(&l, big, "BAD A1 SYNTAX\nOK A2 NOOP\n");
}

static void
test_lists(void **state)
{
	struct imap_parser_limits l = lim_auth();
	check(&l, "A1 STORE 1:3,5 +FLAGS.SILENT (\\Seen \\Deleted $Junk)\r\n",
	      "OK A1 STORE 1:3,5 +FLAGS.SILENT (\\Seen \\Deleted $Junk)\n");
	check(&l, "A1 UID SEARCH OR (FROM \"a\" NOT SEEN) (OR TO b (SINCE 1-Feb-2024))\r\n",
	      "OK A1 UID SEARCH OR (FROM \"a\" NOT SEEN) (OR TO b (SINCE 1-Feb-2024))\n");
	check(&l, "A1 X ((()))\r\n", "OK A1 X ((()))\n");
	/* unbalanced */
	check(&l, "A1 FETCH 1 (FLAGS\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 FLAGS)\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X (a))\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X ((a)\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X (a)(b)\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X )\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	/* depth at limit - 1, limit, limit + 1 */
	l.depth_max = 3;
	check(&l, "A1 X ((a))\r\n", "OK A1 X ((a))\n");
	check(&l, "A1 X (((a)))\r\n", "OK A1 X (((a)))\n");
	check(&l, "A1 X ((((a))))\r\nA2 NOOP\r\n", "BAD A1 DEEP LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 FETCH 1 (BODY[HEADER.FIELDS (A)])\r\n",
	      "OK A1 FETCH 1 (BODY[HEADER.FIELDS (A)])\n");
	check(&l, "A1 FETCH 1 ((BODY[HEADER.FIELDS (A)]))\r\nA2 NOOP\r\n",
	      "BAD A1 DEEP LIMIT\nOK A2 NOOP\n");
	/* argc at limit - 1, limit, limit + 1 (nested nodes count) */
	l = lim_auth();
	l.argc_max = 4;
	check(&l, "A1 X a (b)\r\n", "OK A1 X a (b)\n");
	check(&l, "A1 X a (b c)\r\n", "OK A1 X a (b c)\n");
	check(&l, "A1 X a (b c) d\r\nA2 NOOP\r\n", "BAD A1 ARGS LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 X a b c {1}\r\nd\r\n", "+\nOK A1 X a b c {1}d\n");
	check(&l, "A1 X a b c d {1}\r\nA2 NOOP\r\n", "BAD A1 ARGS LIMIT\nOK A2 NOOP\n");
}

static void
test_search_deep(void **state)
{
	/* A SEARCH nested 10,000 deep: refused at depth_max + 1. */
	struct imap_parser_limits l = lim_auth();
	size_t n = 10000;
	char *in = xmalloc(2 * n + 64);
	size_t len = (size_t)sprintf(in, "A1 SEARCH ");
	memset(in + len, '(', n);
	len += n;
	memcpy(in + len, "ALL", 3);
	len += 3;
	memset(in + len, ')', n);
	len += n;
	len += (size_t)sprintf(in + len, "\r\nA2 NOOP\r\n");
	check_n(&l, NULL, in, len, "BAD A1 DEEP LIMIT\nOK A2 NOOP\n");
	free(in);
}

static void
test_line_limit(void **state)
{
	struct imap_parser_limits l = lim_auth();
	l.line_max = 20;                                              /* "A1 X " + n bytes + CRLF */
	check(&l, "A1 X 123456789012\r\n", "OK A1 X 123456789012\n"); /* 20 - 1 */
	check(&l, "A1 X 1234567890123\r\n", "OK A1 X 1234567890123\n"); /* 20 */
	check(&l, "A1 X 12345678901234\r\nA2 NOOP\r\n", "BAD A1 LINE LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 X \"1234567890\"\r\n", "OK A1 X \"1234567890\"\n");
	check(&l, "A1 X \"12345678901\"\r\n", "OK A1 X \"12345678901\"\n");
	check(&l, "A1 X \"123456789012\"\r\nA2 NOOP\r\n", "BAD A1 LINE LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 X 123456789012\r", "PARTIAL\n");
	check(&l, "A1 X 1234567890123\r\n", "OK A1 X 1234567890123\n");
	/* literal data does not count, its header does */
	check(&l, "A1 X {30}\r\n012345678901234567890123456789 a\r\n",
	      "+\nOK A1 X {30}012345678901234567890123456789 a\n");
	/* a 10 MB line without CRLF is refused once past the limit, and the
	 * parser holds none of it */
	l = lim_auth();
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_init(&p, &l);
	nbuf_init(&in, 1 << 20);
	nbuf_puts(&in, "A1 SEARCH ");
	char junk[4096];
	memset(junk, 'x', sizeof(junk));
	size_t sent = 10, errors = 0;
	while (sent < 10 * 1024 * 1024) {
		nbuf_append(&in, junk, sizeof(junk));
		sent += sizeof(junk);
		int rc = imap_parser_next(&p, &in, &cmd);
		if (rc == IMAP_PARSE_ERROR) {
			errors++;
			assert_int_equal(imap_parser_error(&p)->code, IMAP_PERR_LINE_TOO_LONG);
			assert_string_equal(imap_parser_error(&p)->tag, "A1");
			assert_true(sent <= l.line_max + 2 * sizeof(junk));
			rc = imap_parser_next(&p, &in, &cmd);
		}
		assert_int_equal(rc, IMAP_PARSE_MORE);
		assert_int_equal(nbuf_avail(&in), 0);
		assert_true(p.tok.cap <= l.line_max + 2);
	}
	assert_int_equal(errors, 1);
	nbuf_puts(&in, "\r\nA2 NOOP\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_string_equal(cmd->tag, "A2");
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
}

static void
test_literals(void **state)
{
	struct imap_parser_limits l = lim_auth();
	check(&l, "A1 LOGIN {4}\r\nuser {4}\r\npass\r\n", "+\n+\nOK A1 LOGIN {4}user {4}pass\n");
	check(&l, "A1 LOGIN {4+}\r\nuser {4+}\npass\r\n", "OK A1 LOGIN {4+}user {4+}pass\n");
	check(&l, "A1 X {0}\r\n\r\n", "+\nOK A1 X {0}\n");
	check(&l, "A1 X {0+}\r\n {00003}\r\nabc\r\n", "+\nOK A1 X {0+} {3}abc\n");
	check(&l, "A1 X ({2}\r\nab {1+}\r\nc)\r\n", "+\nOK A1 X ({2}ab {1+}c)\n");
	check(&l, "A1 X {3}\r\n\r\n\"\r\n", "+\nOK A1 X {3}\r\n\"\n");
	/* literal bytes are never commands */
	check(&l, "A1 X {13+}\r\nA2 LOGOUT\r\n\r\n\r\n", "OK A1 X {13+}A2 LOGOUT\r\n\r\n\n");
	/* literal8 */
	CHECK_BIN(&l, NULL, "A1 APPEND INBOX ~{5}\r\nab\0cd\r\n",
	          "+\nOK A1 APPEND INBOX ~{5}ab@cd\n");
	CHECK_BIN(&l, NULL, "A1 APPEND INBOX ~{5+}\r\nab\0cd\r\n",
	          "OK A1 APPEND INBOX ~{5+}ab@cd\n");
	CHECK_BIN(&l, NULL, "A1 APPEND INBOX {5+}\r\nab\0cd\r\nA2 NOOP\r\n",
	          "BAD A1 SYNTAX\nOK A2 NOOP\n");
	CHECK_BIN(&l, NULL, "A1 APPEND INBOX {5}\r\nab\0cd\r\nA2 NOOP\r\n",
	          "+\nBAD A1 SYNTAX\nOK A2 NOOP\n");
	/* bad headers */
	check(&l, "A1 X {}\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X {+}\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X {1a}\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X {1++}\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X {1} \r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	check(&l, "A1 X {1}\rA2 NOOP\r\nA3 NOOP\r\n", "BAD A1 SYNTAX\nOK A3 NOOP\n");
	check(&l, "A1 X ~{1\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
	/* after the literal, a separator is needed */
	check(&l, "A1 X {1+}\r\nab\r\nA2 NOOP\r\n", "BAD A1 SYNTAX\nOK A2 NOOP\n");
}

static void
test_literal_too_big(void **state)
{
	struct imap_parser_limits l = lim_auth();
	/* 4 GB and beyond 64 bits, synchronising: no data follows */
	check(&l, "A1 APPEND INBOX {4294967296}\r\nA2 NOOP\r\n",
	      "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 APPEND INBOX {99999999999999999999}\r\nA2 NOOP\r\n",
	      "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 APPEND INBOX ~{99999999999999999999}\r\nA2 NOOP\r\n",
	      "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	/* non-synchronising and unskippable: close */
	check(&l, "A1 APPEND INBOX {4294967296+}\r\nxxxx", "FATAL A1 TOOBIG TOOBIG\n");
	check(&l, "A1 APPEND INBOX {99999999999999999999+}\r\n", "FATAL A1 TOOBIG TOOBIG\n");
	/* limits at limit - 1, limit, limit + 1 */
	l.literal_max = 4;
	l.append_literal_max = 6;
	l.literal_skip_max = 8;
	check(&l, "A1 X {3}\r\nabc\r\n", "+\nOK A1 X {3}abc\n");
	check(&l, "A1 X {4}\r\nabcd\r\n", "+\nOK A1 X {4}abcd\n");
	check(&l, "A1 X {5}\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 APPEND X {5}\r\nabcde\r\n", "+\nOK A1 APPEND X {5}abcde\n");
	check(&l, "A1 APPEND X {6}\r\nabcdef\r\n", "+\nOK A1 APPEND X {6}abcdef\n");
	check(&l, "A1 APPEND X {7}\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 UID APPEND X {6}\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	/* REPLACE and UID REPLACE (RFC 8508) carry a message as APPEND does */
	check(&l, "A1 REPLACE 1 X {6}\r\nabcdef\r\n", "+\nOK A1 REPLACE 1 X {6}abcdef\n");
	check(&l, "A1 UID REPLACE 1 X {6}\r\nabcdef\r\n", "+\nOK A1 UID REPLACE 1 X {6}abcdef\n");
	check(&l, "A1 REPLACE 1 X {7}\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	/* a refused {n+} is skipped when n <= literal_skip_max (8) */
	check(&l, "A1 X {7+}\r\nabcdefg\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 X {8+}\r\nabcdefgh more\r\nA2 NOOP\r\n",
	      "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 X {8+}\r\nA3 NOOP\r\n\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 X {9+}\r\nabcdefghi\r\nA2 NOOP\r\n", "FATAL A1 TOOBIG TOOBIG\n");
	/* nonsync_max (LITERAL-) */
	l = lim_auth();
	l.nonsync_max = 4;
	check(&l, "A1 X {3+}\r\nabc\r\n", "OK A1 X {3+}abc\n");
	check(&l, "A1 X {4+}\r\nabcd\r\n", "OK A1 X {4+}abcd\n");
	check(&l, "A1 X {5+}\r\nabcde\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 X {5}\r\nabcde\r\n", "+\nOK A1 X {5}abcde\n");
	/* literal_count_max */
	l = lim_auth();
	l.literal_count_max = 2;
	check(&l, "A1 X {1+}\r\na b\r\n", "OK A1 X {1+}a b\n");
	check(&l, "A1 X {1+}\r\na {1+}\r\nb\r\n", "OK A1 X {1+}a {1+}b\n");
	check(&l, "A1 X {1+}\r\na {1+}\r\nb {1+}\r\nc\r\nA2 NOOP\r\n",
	      "BAD A1 LITERALS LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 X {1+}\r\na {1+}\r\nb {1}\r\nA2 NOOP\r\n",
	      "BAD A1 LITERALS LIMIT\nOK A2 NOOP\n");
	/* literal_total_max */
	l = lim_auth();
	l.literal_total_max = 5;
	check(&l, "A1 X {2}\r\nab {2}\r\ncd\r\n", "+\n+\nOK A1 X {2}ab {2}cd\n");
	check(&l, "A1 X {2}\r\nab {3}\r\ncde\r\n", "+\n+\nOK A1 X {2}ab {3}cde\n");
	check(&l, "A1 X {2}\r\nab {4}\r\nA2 NOOP\r\n", "+\nBAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	/* errors before a literal: its data never comes (sync) or is skipped */
	l = lim_auth();
	l.depth_max = 1;
	check(&l, "A1 X ((a {5}\r\nA2 NOOP\r\n", "BAD A1 DEEP LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 X ((a {5+}\r\n(((((\r\nA2 NOOP\r\n", "BAD A1 DEEP LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 X ((a {5+}\r\n(((( {3+}\r\nabc)\r\nA2 NOOP\r\n",
	      "BAD A1 DEEP LIMIT\nOK A2 NOOP\n");
	/* the line limit hits in the middle of a "{n+}" header */
	l = lim_auth();
	l.line_max = 8;
	check(&l, "A1 X {12345+}\r\n", "BAD A1 LINE LIMIT\nPARTIAL\n");
	check(&l, "A1 X {5+}\r\nabcde\r\nA2 X\r\n", "BAD A1 LINE LIMIT\nOK A2 X\n");
	check(&l, "A1 X {1+}\r\nA\r\nA2 X\r\n", "BAD A1 LINE LIMIT\nOK A2 X\n");
	check(&l, "A1 X {1}\r\nA2 X\r\n", "BAD A1 LINE LIMIT\nOK A2 X\n");
}

static void
test_streaming(void **state)
{
	struct imap_parser_limits l = lim_auth();
	l.inline_max = 10;
	struct sink_state st = {.refuse_at = -1, .fail_data = -1};
	/* above inline_max: streamed */
	check_s(&l, &st, "A1 APPEND INBOX (\\Seen) {12}\r\nhello world!\r\n",
	        "BEGIN APPEND 12\n+\nEND hello world!\nOK A1 APPEND INBOX (\\Seen) {12}\n");
	/* the sink may take small ones too */
	check_s(&l, &st, "A1 APPEND INBOX {3+}\r\nabc\r\n",
	        "BEGIN APPEND 3 nonsync\nEND abc\nOK A1 APPEND INBOX {3+}\n");
	st.inline_small = true;
	check_s(&l, &st, "A1 APPEND INBOX {3+}\r\nabc {11}\r\nhello world\r\n",
	        "BEGIN APPEND 3 nonsync\nBEGIN APPEND 11\n+\nEND hello world\nOK A1 APPEND "
	        "INBOX {3+}abc {11}\n");
	CHECK_BIN(&l, &st, "A1 APPEND INBOX ~{11}\r\nhello\0world\r\n",
	          "BEGIN APPEND 11 literal8\n+\nEND hello@world\nOK A1 APPEND INBOX ~{11}\n");
	/* refused at BEGIN: sync ends the line; nonsync is skipped */
	st.refuse_at = 0;
	check_s(&l, &st, "A1 APPEND nobox {12}\r\nA2 NOOP\r\n",
	        "BEGIN APPEND 12\nBAD A1 SINK\nOK A2 NOOP\n");
	check_s(&l, &st, "A1 APPEND nobox {12+}\r\nhello world!\r\nA2 NOOP\r\n",
	        "BEGIN APPEND 12 nonsync\nBAD A1 SINK\nOK A2 NOOP\n");
	/* the sink fails in the middle: the rest is skipped */
	st.refuse_at = -1;
	st.fail_data = 5;
	check_s(&l, &st, "A1 APPEND box {12+}\r\nhello world!\r\nA2 NOOP\r\n",
	        "BEGIN APPEND 12 nonsync\nBAD A1 SINK\nOK A2 NOOP\n");
	/* without a sink, too big to be inline */
	check(&l, "A1 APPEND box {11}\r\nA2 NOOP\r\n", "BAD A1 TOOBIG TOOBIG\nOK A2 NOOP\n");
	check(&l, "A1 APPEND box {9}\r\n012345678\r\n", "+\nOK A1 APPEND box {9}012345678\n");
	check(&l, "A1 APPEND box {10}\r\n0123456789\r\n", "+\nOK A1 APPEND box {10}0123456789\n");
	/* a big message in chunks: 5 MB through a 64 KB connection buffer */
	l = lim_auth();
	struct imap_parser p;
	struct nbuf in, log;
	struct imap_cmd *cmd;
	struct sink_state big = {.refuse_at = -1, .fail_data = -1};
	nbuf_init(&log, 1 << 20);
	big.log = &log;
	nbuf_init(&big.data, 8 << 20);
	imap_parser_init(&p, &l);
	imap_parser_set_sink(&p, test_sink, &big);
	nbuf_init(&in, 65536);
	size_t size = 5 << 20, sent = 0;
	nbuf_printf(&in, "A1 APPEND INBOX {%zu}\r\n", size);
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_CONTINUE);
	while (sent < size) {
		size_t n = MIN(nbuf_room(&in), size - sent);
		unsigned char *w = nbuf_reserve(&in, n);
		memset(w, 'a' + (int)(sent % 26), n);
		nbuf_commit(&in, n);
		sent += n;
		assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_MORE);
		assert_true(p.arena.used < 64 * 1024);
	}
	nbuf_puts(&in, "\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_true(cmd->args[1].streamed);
	assert_int_equal(cmd->args[1].len, size);
	assert_null(cmd->args[1].str);
	assert_int_equal(nbuf_avail(&big.data), size);
	nbuf_deinit(&in);
	nbuf_deinit(&big.data);
	nbuf_deinit(&log);
	imap_parser_deinit(&p);
}

static void
test_arena_limit(void **state)
{
	struct imap_parser_limits l = lim_auth();
	l.arena_max = 4096;
	check(&l, "A1 X {1000}\r\n", "+\nPARTIAL\n");
	check(&l, "A1 X {5000}\r\nA2 NOOP\r\n", "BAD A1 NOMEM LIMIT\nOK A2 NOOP\n");
	check(&l, "A1 X {5000+}\r\nA2 NOOP\r\n", "BAD A1 NOMEM LIMIT\nPARTIAL\n");
	l.literal_skip_max = 4999;
	check(&l, "A1 X {5000+}\r\nA2 NOOP\r\n", "FATAL A1 NOMEM LIMIT\n");
	/* many small nodes exhaust the arena before argc_max */
	char in[8192];
	size_t len = (size_t)sprintf(in, "A1 X");
	for (int i = 0; i < 200; i++)
		len += (size_t)sprintf(in + len, " a");
	sprintf(in + len, "\r\nA2 NOOP\r\n");
	check(&l, in, "BAD A1 NOMEM LIMIT\nOK A2 NOOP\n");
}

static void
test_read_line(void **state)
{
	struct imap_parser_limits l = lim_auth();
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	const char *line;
	size_t len;
	imap_parser_init(&p, &l);
	nbuf_init(&in, 4096);
	nbuf_puts(&in, "A1 IDLE\r\nDO");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_string_equal(cmd->name, "IDLE");
	l.line_max = 8;
	imap_parser_set_limits(&p, &l);
	assert_int_equal(imap_parser_read_line(&p, &in, &line, &len), IMAP_PARSE_MORE);
	assert_true(imap_parser_in_command(&p));
	nbuf_puts(&in, "NE\r\n");
	assert_int_equal(imap_parser_read_line(&p, &in, &line, &len), IMAP_PARSE_DONE);
	assert_string_equal(line, "DONE");
	assert_int_equal(len, 4);
	/* at limit - 1, limit, limit + 1, then resync */
	nbuf_puts(&in, "1234567\n12345678\r\n123456789\r\nx\r\n");
	assert_int_equal(imap_parser_read_line(&p, &in, &line, &len), IMAP_PARSE_DONE);
	assert_string_equal(line, "1234567");
	assert_int_equal(imap_parser_read_line(&p, &in, &line, &len), IMAP_PARSE_DONE);
	assert_string_equal(line, "12345678");
	assert_int_equal(imap_parser_read_line(&p, &in, &line, &len), IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_error(&p)->code, IMAP_PERR_LINE_MODE);
	assert_null(imap_parser_error(&p)->tag);
	assert_int_equal(imap_parser_read_line(&p, &in, &line, &len), IMAP_PARSE_DONE);
	assert_string_equal(line, "x");
	/* byte by byte, with a NUL */
	const char *seq = "ab\0c\r\n*\r\n";
	for (size_t i = 0; i < 9; i++) {
		nbuf_append(&in, seq + i, 1);
		int rc = imap_parser_read_line(&p, &in, &line, &len);
		if (i == 2)
			assert_int_equal(rc, IMAP_PARSE_ERROR);
		else if (i == 8)
			assert_int_equal(rc, IMAP_PARSE_DONE);
		else
			assert_int_equal(rc, IMAP_PARSE_MORE);
	}
	assert_string_equal(line, "*");
	/* empty line, then back to commands */
	l = lim_auth();
	imap_parser_set_limits(&p, &l);
	nbuf_puts(&in, "\r\nA2 NOOP\r\n");
	assert_int_equal(imap_parser_read_line(&p, &in, &line, &len), IMAP_PARSE_DONE);
	assert_int_equal(len, 0);
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_string_equal(cmd->tag, "A2");
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
}

static void
test_reset_and_limits(void **state)
{
	struct imap_parser_limits pre, post;
	imap_parser_limits_init(&pre, false);
	imap_parser_limits_init(&post, true);
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_init(&p, &pre);
	nbuf_init(&in, 1 << 20);
	nbuf_puts(&in, "A1 LOGIN {9000}\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_error(&p)->code, IMAP_PERR_LITERAL_TOO_BIG);
	imap_parser_set_limits(&p, &post);
	nbuf_puts(&in, "A2 LOGIN {9000}\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_CONTINUE);
	nbuf_puts(&in, "partial");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_MORE);
	imap_parser_reset(&p);
	assert_false(imap_parser_in_command(&p));
	nbuf_puts(&in, "A3 NOOP\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_string_equal(cmd->tag, "A3");
	/* limits changed mid-command apply from the next command */
	struct imap_parser_limits tight = post;
	tight.line_max = 10;
	nbuf_puts(&in, "A4 SELECT aaaaaaaaaaaa");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_MORE);
	imap_parser_set_limits(&p, &tight);
	nbuf_puts(&in, "aaaa\r\nA5 SELECT aaaaaaaaaaaa\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_string_equal(cmd->tag, "A4");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_error(&p)->code, IMAP_PERR_LINE_TOO_LONG);
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_MORE);
	imap_parser_set_limits(&p, &post);
	nbuf_puts(&in, "A6 NOOP\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	/* the per-command arena is usable by the command layer */
	assert_non_null(arena_alloc(imap_parser_arena(&p), 100));
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
}

static void
test_pipelining(void **state)
{
	/* The parser stops at the end of a command: the next one stays in the
	 * connection's buffer until asked for. */
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_init(&p, NULL);
	nbuf_init(&in, 4096);
	nbuf_puts(&in, "A1 LOGIN {4+}\r\nuser pw\r\nA2 NO");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_string_equal(cmd->name, "LOGIN");
	assert_int_equal(cmd->literal_count, 1);
	assert_int_equal(cmd->literal_bytes, 4);
	assert_int_equal(cmd->line_bytes, 20); /* literal data excluded */
	assert_int_equal(nbuf_avail(&in), 5);
	assert_memory_equal(nbuf_head(&in), "A2 NO", 5);
	assert_false(imap_parser_in_command(&p));
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_MORE);
	assert_null(cmd);
	assert_true(imap_parser_in_command(&p));
	nbuf_puts(&in, "OP\r\n");
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	assert_string_equal(cmd->tag, "A2");
	assert_int_equal(nbuf_avail(&in), 0);
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
}

/* info->list: what the open list holds before a literal (CATENATE's
 * parts), at every chunking of the input. */
static int
list_sink(void *ctx, enum imap_literal_event ev, const struct imap_literal_info *info,
          const unsigned char *data, size_t len, const char **error_r)
{
	struct nbuf *log = ctx;
	if (ev != IMAP_LITERAL_BEGIN)
		return 0;
	nbuf_printf(log, "[%u:", info->depth);
	if (info->depth == 0 && info->list != NULL)
		nbuf_puts(log, "list at depth 0!");
	for (const struct imap_arg *a = info->list; a != NULL; a = a->next)
		nbuf_printf(log, " %s",
		            a->type == IMAP_ARG_LIST      ? "()"
		            : a->type == IMAP_ARG_LITERAL ? "{}"
		                                          : a->str);
	nbuf_puts(log, "]");
	return IMAP_LITERAL_INLINE;
}

static void
test_literal_list(void **state)
{
	static const char in[] =
	        "A1 APPEND box {1+}\r\nx CATENATE (TEXT {2+}\r\nab URL \"/a/;UID=1\" "
	        "TEXT {1+}\r\nc URL {3+}\r\nurl (X {1+}\r\nd))\r\n";
	for (size_t chunk = 1; chunk <= sizeof(in); chunk++) {
		struct imap_parser p;
		struct nbuf log, buf;
		struct imap_cmd *cmd;
		nbuf_init(&log, 4096);
		nbuf_init(&buf, 4096);
		imap_parser_init(&p, NULL);
		imap_parser_set_sink(&p, list_sink, &log);
		int rc = IMAP_PARSE_MORE;
		for (size_t o = 0; o < sizeof(in) - 1 && rc != IMAP_PARSE_DONE; o += chunk) {
			size_t n = MIN(chunk, sizeof(in) - 1 - o);
			assert_int_equal(nbuf_append(&buf, in + o, n), 0);
			rc = imap_parser_next(&p, &buf, &cmd);
			assert_true(rc == IMAP_PARSE_MORE || rc == IMAP_PARSE_DONE);
		}
		assert_int_equal(rc, IMAP_PARSE_DONE);
		nbuf_append(&log, "", 1);
		assert_string_equal((const char *)nbuf_head(&log),
		                    "[0:][1: TEXT][1: TEXT {} URL /a/;UID=1 TEXT][1: TEXT {} URL "
		                    "/a/;UID=1 TEXT {} URL][2: X]");
		imap_parser_deinit(&p);
		nbuf_deinit(&log);
		nbuf_deinit(&buf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_literal_list),   cmocka_unit_test(test_simple),
	        cmocka_unit_test(test_fetch_sections), cmocka_unit_test(test_strings),
	        cmocka_unit_test(test_tags),           cmocka_unit_test(test_lists),
	        cmocka_unit_test(test_search_deep),    cmocka_unit_test(test_line_limit),
	        cmocka_unit_test(test_literals),       cmocka_unit_test(test_literal_too_big),
	        cmocka_unit_test(test_streaming),      cmocka_unit_test(test_arena_limit),
	        cmocka_unit_test(test_read_line),      cmocka_unit_test(test_reset_and_limits),
	        cmocka_unit_test(test_pipelining),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
