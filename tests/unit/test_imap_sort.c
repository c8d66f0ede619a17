/*
 * Unit tests: the SORT and THREAD engine (sort.h). Sort criteria and
 * threading algorithms parsed (good and bad); keys taken from headers
 * both ways (a parsed message, and a cached tree read in place with
 * mime_tree_summary) and agreeing; every sort key with REVERSE and ties
 * by sequence number, the i;ascii-casemap collation ("[" after "Z", the
 * empty string first), the RFC 5256 §2.1 base subject and §2.2 date
 * fallback, RFC 5957 display names; ORDEREDSUBJECT and REFERENCES on the
 * RFC's shapes and on the tricky cases: missing parents (dummies pruned
 * or kept), loops in References, a message referring to itself, duplicate
 * Message-IDs, In-Reply-To used only without References, a broken link
 * repaired by a later message, threads merged by subject (replies under
 * the original, a dummy for two originals), chains deeper than the loop
 * walk; and big inputs in bounded time.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/sort.h"

/* --- helpers ---------------------------------------------------------- */

/* Parse one IMAP argument from text ("(REVERSE DATE)") with the real
 * parser; the command lives in p. */
static const struct imap_arg *
arg_of(struct imap_parser *p, const char *text)
{
	struct nbuf in;
	struct imap_cmd *cmd;
	char *line = xasprintf("t X %s\r\n", text);
	imap_parser_init(p, NULL);
	nbuf_init(&in, 1 << 16);
	assert_int_equal(nbuf_puts(&in, line), 0);
	assert_int_equal(imap_parser_next(p, &in, &cmd), IMAP_PARSE_DONE);
	nbuf_deinit(&in);
	free(line);
	return &cmd->args[0];
}

static int
sort_try(const char *text, struct imap_sort_program *prog, const char **err)
{
	struct imap_parser p;
	int rc = imap_sort_parse(arg_of(&p, text), prog, err);
	imap_parser_deinit(&p);
	return rc;
}

struct box {
	struct arena a, scratch;
	struct imap_sort_msg m[4096];
	size_t n;
};

static void
box_init(struct box *b)
{
	memset(b, 0, sizeof(*b));
	arena_init(&b->a, 0);
	arena_init(&b->scratch, 0);
}

static void
box_deinit(struct box *b)
{
	arena_deinit(&b->a);
	arena_deinit(&b->scratch);
}

/* Add a message from its header text; keys through the cached tree (the
 * path SORT takes), checked against the parsed message's. */
static struct imap_sort_msg *
box_add(struct box *b, const char *header, int64_t arrival, uint64_t size)
{
	struct imap_sort_msg *m = &b->m[b->n++];
	char *msg = xasprintf("%s\r\nbody\r\n", header);
	struct mime_message *tree;
	struct imap_sort_fields f;
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &tree), 0);
	memset(m, 0, sizeof(*m));
	m->seq = m->id = (uint32_t)b->n;
	m->arrival = arrival;
	m->size = size;
	imap_sort_fields_from_tree(tree, &f);
	assert_int_equal(imap_sort_keys(&b->a, &b->scratch, 0xff, &f, m), 0);
	/* the same keys from the encoded tree, read in place */
	struct nbuf enc;
	struct mime_tree_summary sum;
	struct imap_sort_msg m2 = *m;
	nbuf_init(&enc, 1 << 20);
	assert_int_equal(mime_tree_encode(tree, &enc), 0);
	assert_int_equal(mime_tree_summary(nbuf_head(&enc), nbuf_avail(&enc), &sum), 0);
	assert_true(sum.has_references);
	memcpy(f.env, sum.env, sizeof(f.env));
	f.refs = sum.references;
	assert_int_equal(imap_sort_keys(&b->a, &b->scratch, 0xff, &f, &m2), 0);
	assert_true(m2.date == m->date);
	assert_string_equal(m2.subject, m->subject);
	assert_string_equal(m2.from, m->from);
	assert_string_equal(m2.dfrom, m->dfrom);
	assert_string_equal(m2.to, m->to);
	assert_string_equal(m2.dto, m->dto);
	assert_string_equal(m2.cc, m->cc);
	assert_int_equal(m2.reply, m->reply);
	assert_true((m2.msgid == NULL) == (m->msgid == NULL));
	assert_true((m2.refs == NULL) == (m->refs == NULL));
	if (m->refs)
		assert_string_equal(m2.refs, m->refs);
	nbuf_deinit(&enc);
	mime_message_free(&tree);
	free(msg);
	return m;
}

/* A message for threading: id, references, in-reply-to, subject, date. */
static struct imap_sort_msg *
tmsg(struct box *b, const char *id, const char *refs, const char *irt, const char *subject,
     int64_t date)
{
	struct nbuf h;
	nbuf_init(&h, 1 << 16);
	nbuf_printf(&h, "Subject: %s\r\n", subject);
	if (id)
		nbuf_printf(&h, "Message-ID: %s\r\n", id);
	if (refs)
		nbuf_printf(&h, "References: %s\r\n", refs);
	if (irt)
		nbuf_printf(&h, "In-Reply-To: %s\r\n", irt);
	nbuf_puts(&h, "");
	char *s = xstrndup((const char *)nbuf_head(&h), nbuf_avail(&h));
	struct imap_sort_msg *m = box_add(b, s, date, 0);
	m->date = date; /* no Date: field: the arrival, which is date */
	free(s);
	nbuf_deinit(&h);
	return m;
}

static char *
sorted(struct box *b, const char *criteria)
{
	struct imap_sort_program p;
	const char *err;
	uint32_t order[4096];
	struct nbuf o;
	assert_int_equal(sort_try(criteria, &p, &err), 0);
	imap_sort_run(&p, b->m, b->n, order);
	nbuf_init(&o, 1 << 20);
	for (size_t i = 0; i < b->n; i++)
		nbuf_printf(&o, "%s%u", i ? " " : "", b->m[order[i]].id);
	nbuf_puts(&o, "");
	char *r = xstrndup((const char *)nbuf_head(&o), nbuf_avail(&o));
	nbuf_deinit(&o);
	return r;
}

static void
check_sort(struct box *b, const char *criteria, const char *want)
{
	char *got = sorted(b, criteria);
	if (strcmp(got, want) != 0)
		fail_msg("SORT %s: got \"%s\", want \"%s\"", criteria, got, want);
	free(got);
}

static char *
threaded(struct box *b, enum imap_thread_alg alg)
{
	struct nbuf o;
	nbuf_init(&o, 1 << 24);
	assert_int_equal(imap_thread_run(alg, b->m, b->n, &o), 0);
	nbuf_puts(&o, "");
	char *r = xstrndup((const char *)nbuf_head(&o), nbuf_avail(&o));
	nbuf_deinit(&o);
	return r;
}

static void
check_thread(struct box *b, enum imap_thread_alg alg, const char *want)
{
	char *got = threaded(b, alg);
	if (strcmp(got, want) != 0)
		fail_msg("THREAD %s: got \"%s\", want \"%s\"",
		         alg == THREAD_REFERENCES ? "REFERENCES" : "ORDEREDSUBJECT", got, want);
	free(got);
}

/* --- parsing ---------------------------------------------------------- */

static void
test_parse(void **state)
{
	struct imap_sort_program p;
	const char *err;
	assert_int_equal(sort_try("(DATE)", &p, &err), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.key[0], SORT_K_DATE);
	assert_int_equal(p.needs, SORT_NEED_DATE);
	assert_int_equal(sort_try("(reverse arrival Cc FROM size Subject TO DisplayFrom DISPLAYTO)",
	                          &p, &err),
	                 0);
	assert_int_equal(p.n, 8);
	assert_int_equal(p.reverse[0], 1);
	assert_int_equal(p.reverse[1], 0);
	assert_int_equal(p.key[7], SORT_K_DISPLAYTO);
	assert_int_equal(p.needs, SORT_NEED_CC | SORT_NEED_FROM | SORT_NEED_SUBJECT | SORT_NEED_TO |
	                                  SORT_NEED_DFROM | SORT_NEED_DTO);
	assert_int_equal(sort_try("(DATE DATE)", &p, &err), 0);
	static const char *const bad[] = {
	        "()",
	        "DATE",
	        "(REVERSE)",
	        "(DATE REVERSE)",
	        "(REVERSE REVERSE DATE)",
	        "(DATUM)",
	        "(\"DATE\")",
	        "((DATE))",
	        ("(DATE ARRIVAL CC FROM SIZE SUBJECT TO DATE ARRIVAL CC FROM SIZE SUBJECT TO DATE "
	         "ARRIVAL CC)"),
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (sort_try(bad[i], &p, &err) != -1)
			fail_msg("%s accepted", bad[i]);
	/* 16 keys is the limit, 17 too many */
	assert_int_equal(sort_try("(DATE ARRIVAL CC FROM SIZE SUBJECT TO DATE ARRIVAL CC FROM SIZE "
	                          "SUBJECT TO DATE ARRIVAL)",
	                          &p, &err),
	                 0);
	assert_int_equal(p.n, IMAP_SORT_CRITERIA_MAX);

	struct imap_parser ip;
	enum imap_thread_alg alg;
	assert_int_equal(imap_thread_alg_parse(arg_of(&ip, "references"), &alg, &err), 0);
	assert_int_equal(alg, THREAD_REFERENCES);
	imap_parser_deinit(&ip);
	assert_int_equal(imap_thread_alg_parse(arg_of(&ip, "ORDEREDSUBJECT"), &alg, &err), 0);
	assert_int_equal(alg, THREAD_ORDEREDSUBJECT);
	imap_parser_deinit(&ip);
	assert_int_equal(imap_thread_alg_parse(arg_of(&ip, "REFS"), &alg, &err), -1);
	imap_parser_deinit(&ip);
	assert_int_equal(imap_thread_alg_parse(arg_of(&ip, "(REFERENCES)"), &alg, &err), -1);
	imap_parser_deinit(&ip);
	assert_true(imap_thread_needs(THREAD_REFERENCES) & SORT_NEED_IDS);
	assert_false(imap_thread_needs(THREAD_ORDEREDSUBJECT) & SORT_NEED_IDS);
}

/* --- keys -------------------------------------------------------------- */

static void
test_keys(void **state)
{
	struct box b;
	box_init(&b);
	struct imap_sort_msg *m =
	        box_add(&b,
	                "From: \"Smith, John\" <John.Smith@Example.org>, x@y\r\n"
	                "To: undisclosed:;, =?UTF-8?Q?J=C3=BCrgen?= <jurgen@example.de>\r\n"
	                "Cc: (comment) cc1@example.com\r\n"
	                "Subject: =?UTF-8?Q?Re:_[list]_Fwd:_Gr=C3=BC=C3=9Fe?= (fwd)\r\n"
	                "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
	                "Message-ID: < abc @ example.org >\r\n"
	                "In-Reply-To: <first@x> (John's message) <second@x>\r\n"
	                "References: <r1@x> junk <r2@x>\r\n",
	                1000, 5);
	assert_true(m->date == 1057049557); /* 08:52:37 UTC */
	assert_string_equal(m->subject, "GR\xc3\xbc\xc3\x9f"
	                                "E");
	assert_int_equal(m->reply, 1);
	assert_string_equal(m->from, "JOHN.SMITH");
	assert_string_equal(m->dfrom, "SMITH, JOHN");
	assert_string_equal(m->to, "JURGEN"); /* the group's marker is skipped */
	assert_string_equal(m->dto, "J\xc3\xbcRGEN");
	assert_string_equal(m->cc, "CC1");
	assert_string_equal(m->msgid, "<abc@example.org>");
	assert_string_equal(m->irt, "<first@x>");
	assert_string_equal(m->refs, "<r1@x> <r2@x>");
	box_deinit(&b);
}

static void
test_keys_absent(void **state)
{
	struct box b;
	box_init(&b);
	/* nothing: "" and the arrival date (RFC 5256 §2.2) */
	struct imap_sort_msg *m = box_add(&b, "X-Other: 1\r\n", 4242, 1);
	assert_true(m->date == 4242);
	assert_string_equal(m->subject, "");
	assert_string_equal(m->from, "");
	assert_string_equal(m->dfrom, "");
	assert_null(m->msgid);
	assert_null(m->refs);
	/* a Date: that cannot be parsed also falls back */
	m = box_add(&b, "Date: yesterday at noon\r\nFrom: <only@addr.example>\r\n", 77, 1);
	assert_true(m->date == 77);
	assert_string_equal(m->from, "ONLY");
	assert_string_equal(m->dfrom, "ONLY@ADDR.EXAMPLE"); /* RFC 5957: no name */
	/* references without a valid ID: none */
	m = box_add(&b, "References: <> junk <unterminated\r\nIn-Reply-To: <i@x>\r\n", 1, 1);
	assert_null(m->refs);
	assert_string_equal(m->irt, "<i@x>");
	box_deinit(&b);
}

/* --- sorting ------------------------------------------------------------ */

static void
test_sort_keys_all(void **state)
{
	struct box b;
	box_init(&b);
	/* 1 */ box_add(&b,
	                "From: bob@b.example\r\nTo: Zed <zed@z>\r\nCc: mm@m\r\n"
	                "Subject: Re: apples\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n",
	                300, 30);
	/* 2 */ box_add(&b,
	                "From: Alice <zora@a.example>\r\nTo: amy@a\r\n"
	                "Subject: bananas\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n",
	                100, 10);
	/* 3 */ box_add(&b,
	                "From: carl@c.example\r\nTo: Bea <bea@b>\r\nCc: aa@a\r\n"
	                "Subject: [x] apples\r\nDate: Mon, 2 Mar 2026 11:30:00 +0100\r\n",
	                200, 20);
	/* 4: nothing at all */
	box_add(&b, "X-None: 1\r\n", 250, 25);
	check_sort(&b, "(ARRIVAL)", "2 3 4 1");
	check_sort(&b, "(REVERSE ARRIVAL)", "1 4 3 2");
	/* 4 has no Date: its arrival (1970) is its sent date */
	check_sort(&b, "(DATE)", "4 2 1 3");
	check_sort(&b, "(REVERSE DATE)", "3 1 2 4");
	check_sort(&b, "(SIZE)", "2 3 4 1");
	check_sort(&b, "(SUBJECT)", "4 1 3 2"); /* "" < APPLES = APPLES < BANANAS */
	check_sort(&b, "(SUBJECT REVERSE DATE)", "4 3 1 2");
	check_sort(&b, "(REVERSE SUBJECT)", "2 1 3 4"); /* ties stay in mailbox order */
	check_sort(&b, "(FROM)", "4 1 3 2");            /* "", BOB, CARL, ZORA */
	check_sort(&b, "(DISPLAYFROM)", "4 2 1 3");     /* "", ALICE, BOB@, CARL@ */
	check_sort(&b, "(TO)", "4 2 3 1");              /* "", AMY, BEA, ZED */
	check_sort(&b, "(DISPLAYTO)", "4 2 3 1");       /* "", AMY@A, BEA, ZED */
	check_sort(&b, "(CC)", "2 4 3 1");              /* "", "", AA, MM */
	check_sort(&b, "(REVERSE CC SIZE)", "1 3 2 4");
	box_deinit(&b);
}

static void
test_collation(void **state)
{
	struct box b;
	box_init(&b);
	/* i;ascii-casemap: case ignored, "[\]^_`" after the letters, other
	 * bytes by value (so "é" after "z"); empty first */
	box_add(&b, "Subject: zebra\r\n", 1, 1);             /* 1 */
	box_add(&b, "Subject: ^caret\r\n", 1, 1);            /* 2 */
	box_add(&b, "Subject: Apple\r\n", 1, 1);             /* 3 */
	box_add(&b, "Subject: apple\r\n", 1, 1);             /* 4 */
	box_add(&b, "Subject: \xc3\xa9t\xc3\xa9\r\n", 1, 1); /* 5 */
	box_add(&b, "Subject:\r\n", 1, 1);                   /* 6 */
	box_add(&b, "Subject: 42\r\n", 1, 1);                /* 7 */
	box_add(&b, "Subject: _under\r\n", 1, 1);            /* 8 */
	check_sort(&b, "(SUBJECT)", "6 7 3 4 1 2 8 5");
	box_deinit(&b);
}

static void
test_base_subject(void **state)
{
	/* RFC 5256 §2.1 examples: all the same base subject */
	static const char *const same[] = {
	        "Subject: hello",
	        "Subject: Re: hello",
	        "Subject: RE: Re: re:hello",
	        "Subject: Fwd: hello (fwd)",
	        "Subject: [Fwd: hello]",
	        "Subject: [list] Re: [list] hello",
	        "Subject: Re[2]: hello",
	        "Subject: \t  hello   ",
	        "Subject: =?UTF-8?Q?Re=3A_hello?=",
	        "Subject: FW: [Fwd: Re: hello] (fwd)",
	};
	struct box b;
	box_init(&b);
	for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
		char *h = xasprintf("%s\r\n", same[i]);
		struct imap_sort_msg *m = box_add(&b, h, 1, 1);
		if (strcmp(m->subject, "HELLO") != 0)
			fail_msg("%s: base subject \"%s\"", same[i], m->subject);
		assert_int_equal(m->reply, i != 0 && i != 7);
		free(h);
	}
	/* a blob that is all there is stays the subject */
	struct imap_sort_msg *m = box_add(&b, "Subject: [just a blob]\r\n", 1, 1);
	assert_string_equal(m->subject, "[JUST A BLOB]");
	box_deinit(&b);
}

/* --- threading: ORDEREDSUBJECT ----------------------------------------- */

static void
test_orderedsubject(void **state)
{
	struct box b;
	box_init(&b);
	tmsg(&b, "<1@x>", NULL, NULL, "b topic", 50);     /* 1 */
	tmsg(&b, "<2@x>", NULL, NULL, "a topic", 40);     /* 2 */
	tmsg(&b, "<3@x>", NULL, NULL, "Re: b topic", 10); /* 3: earliest of b */
	tmsg(&b, "<4@x>", NULL, NULL, "RE: A TOPIC", 45); /* 4 */
	tmsg(&b, "<5@x>", NULL, NULL, "a topic", 60);     /* 5 */
	tmsg(&b, "<6@x>", NULL, NULL, "lonely", 55);      /* 6 */
	tmsg(&b, "<7@x>", NULL, NULL, "", 5);             /* 7: empty subject */
	/* threads by their first message's date: 7 (5), b (3 at 10), a (2 at
	 * 40), lonely (55); a thread of two is "(x y)", of three nests */
	check_thread(&b, THREAD_ORDEREDSUBJECT, "(7)(3 1)(2 (4)(5))(6)");
	box_deinit(&b);
	box_init(&b);
	check_thread(&b, THREAD_ORDEREDSUBJECT, "");
	tmsg(&b, NULL, NULL, NULL, "x", 1);
	check_thread(&b, THREAD_ORDEREDSUBJECT, "(1)");
	box_deinit(&b);
}

/* --- threading: REFERENCES ---------------------------------------------- */

static void
test_references_basic(void **state)
{
	struct box b;
	box_init(&b);
	/* the RFC 5256 §4 example's shape: (2)(3 6 (4 23)(44 7 96)) */
	tmsg(&b, "<2@x>", NULL, NULL, "two", 2);                               /* 1 */
	tmsg(&b, "<3@x>", NULL, NULL, "three", 3);                             /* 2 */
	tmsg(&b, "<6@x>", "<3@x>", NULL, "Re: three", 6);                      /* 3 */
	tmsg(&b, "<4@x>", "<3@x> <6@x>", NULL, "Re: three", 7);                /* 4 */
	tmsg(&b, "<23@x>", "<3@x> <6@x> <4@x>", NULL, "Re: three", 23);        /* 5 */
	tmsg(&b, "<44@x>", "<3@x> <6@x>", NULL, "Re: three", 8);               /* 6 */
	tmsg(&b, "<7@x>", "<3@x> <6@x> <44@x>", NULL, "Re: three", 9);         /* 7 */
	tmsg(&b, "<96@x>", "<3@x> <6@x> <44@x> <7@x>", NULL, "Re: three", 96); /* 8 */
	check_thread(&b, THREAD_REFERENCES, "(1)(2 3 (4 5)(6 7 8))");
	box_deinit(&b);
}

static void
test_references_dummies(void **state)
{
	struct box b;
	box_init(&b);
	/* the root is missing: its two replies sit under a dummy at the top */
	tmsg(&b, "<a@x>", "<gone@x>", NULL, "Re: lost", 10); /* 1 */
	tmsg(&b, "<b@x>", "<gone@x>", NULL, "Re: lost", 5);  /* 2 */
	/* a missing middle message: the dummy is dropped, 4 under 3 */
	tmsg(&b, "<c@x>", NULL, NULL, "chain", 20);                    /* 3 */
	tmsg(&b, "<d@x>", "<c@x> <missing@x>", NULL, "Re: chain", 21); /* 4 */
	/* a missing root with one child: the child is the thread */
	tmsg(&b, "<e@x>", "<nothere@x>", NULL, "solo", 30); /* 5 */
	check_thread(&b, THREAD_REFERENCES, "((2)(1))(3 4)(5)");
	box_deinit(&b);
}

static void
test_references_loops(void **state)
{
	struct box b;
	box_init(&b);
	/* a References loop: 1 says 2 is its parent, 2 says 1 is */
	tmsg(&b, "<1@x>", "<2@x>", NULL, "one", 1);
	tmsg(&b, "<2@x>", "<1@x>", NULL, "two", 2);
	/* a message listing itself among its references */
	tmsg(&b, "<3@x>", "<3@x>", NULL, "three", 3);
	tmsg(&b, "<4@x>", "<3@x> <4@x>", NULL, "four", 4);
	/* a cycle inside one References */
	tmsg(&b, "<5@x>", "<p@x> <q@x> <p@x>", NULL, "five", 5);
	char *got = threaded(&b, THREAD_REFERENCES);
	/* 1 is under 2 or the reverse, never both; 4 under 3; 5 alone */
	assert_true(strcmp(got, "(2 1)(3 4)(5)") == 0 || strcmp(got, "(1 2)(3 4)(5)") == 0);
	free(got);
	box_deinit(&b);
}

static void
test_references_rules(void **state)
{
	struct box b;
	box_init(&b);
	/* In-Reply-To counts only when References has no valid ID */
	tmsg(&b, "<r@x>", NULL, NULL, "root", 1);                 /* 1 */
	tmsg(&b, "<s@x>", NULL, NULL, "second root", 2);          /* 2 */
	tmsg(&b, "<t@x>", "<s@x>", "<r@x>", "x", 3);              /* 3: under 2 */
	tmsg(&b, "<u@x>", "garbage", "junk <r@x> <s@x>", "y", 4); /* 4: under 1 */
	/* a duplicate Message-ID is a message of its own */
	tmsg(&b, "<r@x>", NULL, NULL, "dup", 5); /* 5 */
	/* message IDs are case-sensitive */
	tmsg(&b, "<v@x>", "<R@x>", NULL, "z", 6); /* 6: not under 1 */
	check_thread(&b, THREAD_REFERENCES, "(1 4)(2 3)(5)(6)");
	box_deinit(&b);

	/* step 1B: a later, longer References moves a message to its right
	 * parent; a message without references loses the parent others gave */
	box_init(&b);
	tmsg(&b, "<c@x>", "<a@x> <b@x>", NULL, "c", 3); /* 1: a > b > c */
	tmsg(&b, "<b@x>", NULL, NULL, "b", 2);          /* 2: b has no references */
	tmsg(&b, "<a@x>", NULL, NULL, "a", 1);          /* 3 */
	check_thread(&b, THREAD_REFERENCES, "(3)(2 1)");
	box_deinit(&b);
}

static void
test_references_subjects(void **state)
{
	struct box b;
	box_init(&b);
	/* a reply that lost its References joins its original by subject */
	tmsg(&b, "<1@x>", NULL, NULL, "Meeting", 1);     /* 1 */
	tmsg(&b, "<2@x>", NULL, NULL, "Re: meeting", 2); /* 2 */
	/* two originals with one subject: both under a new dummy */
	tmsg(&b, "<3@x>", NULL, NULL, "Lunch", 3); /* 3 */
	tmsg(&b, "<4@x>", NULL, NULL, "lunch", 4); /* 4 */
	/* a reply seen first, then the original: the original takes the
	 * table, the reply goes under it */
	tmsg(&b, "<5@x>", NULL, NULL, "Re: party", 5); /* 5 */
	tmsg(&b, "<6@x>", NULL, NULL, "party", 6);     /* 6 */
	/* empty subjects are never merged */
	tmsg(&b, "<7@x>", NULL, NULL, "", 7);    /* 7 */
	tmsg(&b, "<8@x>", NULL, NULL, "Re:", 8); /* 8 */
	/* two dummies with one subject merge into one */
	tmsg(&b, "<9@x>", "<lost1@x>", NULL, "Re: trip", 9);   /* 9 */
	tmsg(&b, "<10@x>", "<lost1@x>", NULL, "Re: trip", 10); /* 10 */
	tmsg(&b, "<11@x>", "<lost2@x>", NULL, "Re: trip", 11); /* 11 */
	tmsg(&b, "<12@x>", "<lost2@x>", NULL, "Re: trip", 12); /* 12 */
	check_thread(&b, THREAD_REFERENCES, "(1 2)((3)(4))(6 5)(7)(8)((9)(10)(11)(12))");
	box_deinit(&b);
}

static void
test_references_deep(void **state)
{
	struct box *b = xmalloc(sizeof(*b));
	box_init(b);
	/* a chain of 3000, each naming only its parent, children first: the
	 * output (and the prune and sort passes) walk it without recursion */
	for (int i = 3000; i >= 1; i--) {
		char id[32], ref[32];
		snprintf(id, sizeof(id), "<%d@deep>", i);
		snprintf(ref, sizeof(ref), "<%d@deep>", i - 1);
		tmsg(b, id, i > 1 ? ref : NULL, NULL, "deep", i);
		assert_true(b->n < ARRAY_SIZE(b->m));
	}
	char *got = threaded(b, THREAD_REFERENCES);
	/* one thread, in chain order: the messages are numbered backwards */
	assert_int_equal(got[0], '(');
	assert_int_equal(strncmp(got, "(3000 2999 2998", 15), 0);
	assert_non_null(strstr(got, " 2 1)"));
	assert_null(strchr(got + 1, '('));
	free(got);
	box_deinit(b);
	free(b);
}

/* Thousands of messages in big threads with shuffled references: bounded
 * time, every message once, parentheses balanced. */
static void
test_references_many(void **state)
{
	struct box *b = xmalloc(sizeof(*b));
	box_init(b);
	uint32_t x = 7;
	for (int i = 0; i < 4000; i++) {
		char id[32], refs[512];
		snprintf(id, sizeof(id), "<m%d@x>", i);
		refs[0] = 0;
		size_t off = 0;
		for (int k = 0; k < 1 + i % 5; k++) {
			x = x * 1103515245u + 12345u;
			off += (size_t)snprintf(refs + off, sizeof(refs) - off, "<m%u@x> ",
			                        (x >> 8) % 4000);
		}
		char subj[32];
		snprintf(subj, sizeof(subj), "%stopic %d", i % 3 ? "Re: " : "", i % 50);
		tmsg(b, id, refs, NULL, subj, (int64_t)((x >> 4) % 100000));
	}
	uint64_t t0 = now_mono_ms();
	for (int alg = 0; alg < 2; alg++) {
		char *got = threaded(b, (enum imap_thread_alg)alg);
		int depth = 0;
		unsigned seen[4001] = {0};
		for (const char *p = got; *p; p++) {
			if (*p == '(')
				depth++;
			else if (*p == ')')
				assert_true(--depth >= 0);
			else if (*p >= '0' && *p <= '9') {
				unsigned v = (unsigned)strtoul(p, (char **)&p, 10);
				p--;
				assert_true(v >= 1 && v <= 4000);
				seen[v]++;
			}
		}
		assert_int_equal(depth, 0);
		for (unsigned v = 1; v <= 4000; v++)
			assert_int_equal(seen[v], 1);
		free(got);
	}
	assert_true(now_mono_ms() - t0 < 20000);
	box_deinit(b);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_keys),
	        cmocka_unit_test(test_keys_absent),
	        cmocka_unit_test(test_sort_keys_all),
	        cmocka_unit_test(test_collation),
	        cmocka_unit_test(test_base_subject),
	        cmocka_unit_test(test_orderedsubject),
	        cmocka_unit_test(test_references_basic),
	        cmocka_unit_test(test_references_dummies),
	        cmocka_unit_test(test_references_loops),
	        cmocka_unit_test(test_references_rules),
	        cmocka_unit_test(test_references_subjects),
	        cmocka_unit_test(test_references_deep),
	        cmocka_unit_test(test_references_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
