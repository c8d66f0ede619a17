/*
 * Unit tests: FETCH BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516) in the
 * FETCH engine: section syntax, what each item needs, base64 and
 * quoted-printable undone, identity encodings sent as file ranges,
 * BINARY[] as it is, partial windows at every edge, literal8 exactly when
 * the window holds a NUL, a part that does not exist, an unknown encoding
 * (IMAP_FETCH_UNKNOWN_CTE), the decoder giving the same bytes in every
 * chunking, and a 30 MB base64 attachment described without a copy.
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

static int
plan_try(struct arena *a, const char *items, struct imap_fetch_plan **plan_r, const char **error_r)
{
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_init(&p, NULL);
	nbuf_init(&in, 1 << 20);
	assert_int_equal(nbuf_printf(&in, "A1 FETCH 1 %s\r\n", items), 0);
	int rc = imap_parser_next(&p, &in, &cmd);
	if (rc != IMAP_PARSE_DONE)
		fail_msg("parser refused %s: %s", items, imap_parser_error(&p)->text);
	rc = imap_fetch_parse(a, &cmd->args[1], 0, 0, plan_r, error_r);
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
	return rc;
}

static struct imap_fetch_plan *
plan_of(struct arena *a, const char *items)
{
	struct imap_fetch_plan *plan;
	const char *error = NULL;
	if (plan_try(a, items, &plan, &error) != 0)
		fail_msg("%s: %s", items, error);
	return plan;
}

/* The response as bytes; decoded segments decoded with chunks of cap. */
static char *
assemble(const struct imap_fetch_out *o, const struct imap_fetch_msg *m, size_t cap, size_t *len_r,
         size_t *ndecoded_r)
{
	struct nbuf b;
	unsigned char *tmp = malloc(cap);
	nbuf_init(&b, 1 << 28);
	*ndecoded_r = 0;
	for (size_t i = 0; i < o->nsegs; i++) {
		const struct imap_fetch_seg *s = &o->segs[i];
		if (s->text != NULL) {
			assert_int_equal(nbuf_append(&b, s->text, s->len), 0);
			continue;
		}
		assert_true(s->off <= m->len && s->len <= m->len - s->off);
		if (s->cte == MIME_CTE_IDENTITY) {
			assert_int_equal(nbuf_append(&b, m->bytes + s->off, s->len), 0);
			continue;
		}
		(*ndecoded_r)++;
		struct imap_fetch_decoder d;
		imap_fetch_decoder_init(&d, s, m->bytes);
		size_t n, total = 0;
		while ((n = imap_fetch_decoder_next(&d, tmp, cap)) > 0) {
			assert_true(n <= cap);
			assert_int_equal(nbuf_append(&b, tmp, n), 0);
			total += n;
		}
		assert_int_equal(d.left, 0);
		assert_int_equal(total, s->dlen);
	}
	free(tmp);
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

static void
fx_init(struct fx *f, const char *msg, size_t len)
{
	memset(f, 0, sizeof(*f));
	arena_init(&f->a, 0);
	imap_fetch_out_init(&f->out, &f->a);
	f->rec.uid = 9;
	f->rec.size = len;
	f->bytes = xmalloc(len + 1);
	memcpy(f->bytes, msg, len);
	f->bytes[len] = 0;
	assert_int_equal(mime_parse(f->bytes, len, NULL, &f->tree), 0);
	f->m = (struct imap_fetch_msg){
	        .seq = 3, .rec = &f->rec, .tree = f->tree, .bytes = f->bytes, .len = len};
}

static void
fx_deinit(struct fx *f)
{
	mime_message_free(&f->tree);
	free(f->bytes);
	imap_fetch_out_deinit(&f->out);
	arena_deinit(&f->a);
}

static void
check_full(struct fx *f, const char *items, const char *want, size_t wantlen)
{
	static const size_t caps[] = {4, 5, 7, 64, 65536};
	struct imap_fetch_plan *plan = plan_of(&f->a, items);
	assert_int_equal(imap_fetch_msg(plan, &f->m, &f->out), 0);
	for (size_t c = 0; c < ARRAY_SIZE(caps); c++) {
		size_t len, nd;
		char *got = assemble(&f->out, &f->m, caps[c], &len, &nd);
		if (len != wantlen || memcmp(got, want, len) != 0)
			fail_msg("%s (cap %zu):\n got: %s\nwant: %s", items, caps[c], got, want);
		free(got);
	}
}

static void
check(struct fx *f, const char *items, const char *want)
{
	check_full(f, items, want, strlen(want));
}

/* 0..255 twice, base64 with CRLF every 76 characters */
static const char b64_part[] =
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r\n"
        "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\n"
        "cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\r\n"
        "q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj\r\n"
        "5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";

static const char mixed[] =
        "From: a@example.com\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "caf=C3=A9 au lait=\r\n and =3D signs\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: BASE64\r\n\r\n"
        "%s\r\n"
        "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "plain 8bit \xc3\xa9\r\n"
        "--b\r\nContent-Type: application/x-thing\r\n"
        "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n`\r\nend\r\n"
        "--b--\r\n";

static char *
mixed_message(size_t *len_r)
{
	size_t n = sizeof(mixed) + sizeof(b64_part);
	char *m = malloc(n);
	snprintf(m, n, mixed, b64_part);
	*len_r = strlen(m);
	return m;
}

static void
test_parse(void **state)
{
	struct arena a;
	arena_init(&a, 0);
	struct imap_fetch_plan *plan = plan_of(&a, "BINARY[1]");
	assert_true(imap_fetch_needs(plan) & FETCH_SETS_SEEN);
	assert_true(imap_fetch_needs(plan) & FETCH_NEED_FILE);
	assert_true(imap_fetch_needs(plan) & FETCH_NEED_TREE);
	plan = plan_of(&a, "BINARY.PEEK[1.2.3]<0.10>");
	assert_false(imap_fetch_needs(plan) & FETCH_SETS_SEEN);
	plan = plan_of(&a, "(BINARY.SIZE[2] UID)");
	assert_false(imap_fetch_needs(plan) & FETCH_SETS_SEEN);
	/* BINARY[] is the message as it is: no tree needed */
	plan = plan_of(&a, "BINARY.PEEK[]");
	assert_false(imap_fetch_needs(plan) & FETCH_NEED_TREE);
	plan_of(&a, "binary.peek[4294967295]");
	struct {
		const char *items, *error;
	} cases[] = {
	        {"BINARY", "BINARY needs a section"},
	        {"BINARY.PEEK", "BINARY needs a section"},
	        {"BINARY.SIZE", "BINARY needs a section"},
	        {"BINARY[0]", "Invalid binary section"},
	        {"BINARY[01]", "Invalid binary section"},
	        {"BINARY[1.]", "Invalid binary section"},
	        {"BINARY[.1]", "Invalid binary section"},
	        {"BINARY[1..2]", "Invalid binary section"},
	        {"BINARY[1.MIME]", "Invalid binary section"},
	        {"BINARY[HEADER]", "Invalid binary section"},
	        {"BINARY[TEXT]", "Invalid binary section"},
	        {"BINARY[1 2]", "Invalid binary section"},
	        {"BINARY[4294967296]", "Invalid binary section"},
	        {"BINARY.SIZE[1]<0.10>", "BINARY.SIZE takes no partial"},
	        {"BINARY.FOO[1]", "Section on a fetch item that takes none"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *error = NULL;
		if (plan_try(&a, cases[i].items, &plan, &error) != -1)
			fail_msg("%s: accepted", cases[i].items);
		if (error == NULL || strcmp(error, cases[i].error) != 0)
			fail_msg("%s: \"%s\", want \"%s\"", cases[i].items, error, cases[i].error);
	}
	/* 64 part numbers, then 65 */
	char spec[512] = "BINARY[1";
	for (int i = 1; i < 64; i++)
		strcat(spec, ".1");
	strcat(spec, "]");
	plan_of(&a, spec);
	spec[strlen(spec) - 1] = '\0';
	strcat(spec, ".1]");
	const char *error = NULL;
	assert_int_equal(plan_try(&a, spec, &plan, &error), -1);
	assert_string_equal(error, "Section nested too deeply");
	arena_deinit(&a);
}

static void
test_decode(void **state)
{
	size_t len;
	char *msg = mixed_message(&len);
	struct fx f;
	fx_init(&f, msg, len);
	check(&f, "BINARY.PEEK[1]",
	      "* 3 FETCH (BINARY[1] {25}\r\ncaf\xc3\xa9 au lait and = signs)\r\n");
	check(&f, "BINARY.SIZE[1]", "* 3 FETCH (BINARY.SIZE[1] 25)\r\n");
	check(&f, "BINARY.SIZE[2]", "* 3 FETCH (BINARY.SIZE[2] 256)\r\n");
	check(&f, "BINARY.SIZE[3]", "* 3 FETCH (BINARY.SIZE[3] 13)\r\n");
	check(&f, "BINARY.PEEK[3]", "* 3 FETCH (BINARY[3] {13}\r\nplain 8bit \xc3\xa9)\r\n");
	/* 0..255: NUL inside: literal8 */
	char want[512];
	int n = snprintf(want, sizeof(want), "* 3 FETCH (BINARY[2] ~{256}\r\n");
	for (int i = 0; i < 256; i++)
		want[n + i] = (char)i;
	memcpy(want + n + 256, ")\r\n", 3);
	check_full(&f, "BINARY.PEEK[2]", want, (size_t)n + 259);
	/* a window without the NUL: a plain literal */
	check(&f, "BINARY.PEEK[2]<65.3>", "* 3 FETCH (BINARY[2]<65> {3}\r\nABC)\r\n");
	check_full(&f, "BINARY.PEEK[2]<0.1>", "* 3 FETCH (BINARY[2]<0> ~{1}\r\n\0)\r\n", 34);
	/* edges: at the end, beyond it, cut by it */
	check(&f, "BINARY.PEEK[2]<255.10>", "* 3 FETCH (BINARY[2]<255> {1}\r\n\xff)\r\n");
	check(&f, "BINARY.PEEK[2]<256.1>", "* 3 FETCH (BINARY[2]<256> \"\")\r\n");
	check(&f, "BINARY.PEEK[2]<99999.1>", "* 3 FETCH (BINARY[2]<99999> \"\")\r\n");
	check(&f, "BINARY.PEEK[1]<23.100>", "* 3 FETCH (BINARY[1]<23> {2}\r\nns)\r\n");
	check(&f, "BINARY.PEEK[1]<3.2>", "* 3 FETCH (BINARY[1]<3> {2}\r\n\xc3\xa9)\r\n");
	/* no such part */
	check(&f, "(BINARY.PEEK[9] BINARY.SIZE[9])",
	      "* 3 FETCH (BINARY[9] \"\" BINARY.SIZE[9] 0)\r\n");
	check(&f, "BINARY.PEEK[1.1]", "* 3 FETCH (BINARY[1.1] \"\")\r\n");
	/* the whole message as it is */
	struct imap_fetch_plan *plan = plan_of(&f.a, "BINARY.PEEK[]");
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
	size_t glen, nd;
	char *got = assemble(&f.out, &f.m, 64, &glen, &nd);
	assert_int_equal(nd, 0);
	char head[64];
	int hn = snprintf(head, sizeof(head), "* 3 FETCH (BINARY[] {%zu}\r\n", len);
	assert_int_equal(glen, (size_t)hn + len + 3);
	assert_memory_equal(got, head, (size_t)hn);
	assert_memory_equal(got + hn, msg, len);
	free(got);
	/* identity parts are ranges of the file, decoded ones decoded segments */
	plan = plan_of(&f.a, "(BINARY.PEEK[3] BINARY.PEEK[2])");
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
	assert_int_equal(f.out.nsegs, 5);
	assert_null(f.out.segs[1].text);
	assert_int_equal(f.out.segs[1].cte, MIME_CTE_IDENTITY);
	assert_null(f.out.segs[3].text);
	assert_int_equal(f.out.segs[3].cte, MIME_CTE_BASE64);
	assert_int_equal(f.out.segs[3].dlen, 256);
	/* an unknown encoding */
	plan = plan_of(&f.a, "(UID BINARY.PEEK[4])");
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), IMAP_FETCH_UNKNOWN_CTE);
	assert_int_equal(f.out.nsegs, 0);
	plan = plan_of(&f.a, "BINARY.SIZE[4]");
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), IMAP_FETCH_UNKNOWN_CTE);
	fx_deinit(&f);
	free(msg);
}

static void
test_single_part(void **state)
{
	/* part 1 of a message that is not multipart is its body, decoded */
	static const char msg[] = "Subject: s\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	                          "aGVsbG8gd29ybGQ=\r\n";
	struct fx f;
	fx_init(&f, msg, strlen(msg));
	check(&f, "BINARY.PEEK[1]", "* 3 FETCH (BINARY[1] {11}\r\nhello world)\r\n");
	check(&f, "BINARY.SIZE[1]", "* 3 FETCH (BINARY.SIZE[1] 11)\r\n");
	check(&f, "BINARY.PEEK[2]", "* 3 FETCH (BINARY[2] \"\")\r\n");
	/* no tree cached: parsed from the bytes */
	f.m.tree = NULL;
	check(&f, "BINARY.PEEK[1]<6.5>", "* 3 FETCH (BINARY[1]<6> {5}\r\nworld)\r\n");
	/* BINARY (not PEEK) with set_seen shows FLAGS */
	f.m.set_seen = 1;
	check(&f, "BINARY[1]<0.5>", "* 3 FETCH (BINARY[1]<0> {5}\r\nhello FLAGS (\\Seen))\r\n");
	fx_deinit(&f);
}

static void
test_cte_names(void **state)
{
	assert_int_equal(mime_cte_of(NULL), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_of("7bit"), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_of("8bit"), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_of("binary"), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_of("base64"), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_of("quoted-printable"), MIME_CTE_QP);
	assert_int_equal(mime_cte_of("x-uuencode"), MIME_CTE_UNKNOWN);
	assert_int_equal(mime_cte_of(""), MIME_CTE_UNKNOWN);
	/* the decoder gives the same bytes whatever the chunk */
	static const char qp[] = "a=3Db=\r\nc =\r\n=00=FF=zz=\n\r\nend=";
	unsigned char ref[64], buf[64];
	struct mime_decoder d;
	mime_decoder_init(&d, MIME_CTE_QP, qp, strlen(qp));
	size_t rlen = mime_decoder_next(&d, ref, sizeof(ref));
	assert_int_equal(mime_decoder_next(&d, ref, sizeof(ref)), 0);
	for (size_t cap = 4; cap < 20; cap++) {
		size_t o = 0, n;
		mime_decoder_init(&d, MIME_CTE_QP, qp, strlen(qp));
		while ((n = mime_decoder_next(&d, buf + o, cap)) > 0)
			o += n;
		assert_int_equal(o, rlen);
		assert_memory_equal(buf, ref, rlen);
	}
}

/* A 30 MB base64 attachment: one decoded segment, nothing copied. */
static void
test_big(void **state)
{
	size_t raw = 30u << 20, lines = raw / 57;
	struct nbuf b;
	nbuf_init(&b, 64u << 20);
	nbuf_puts(&b, "Subject: big\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
	              "Content-Transfer-Encoding: base64\r\n\r\n");
	for (size_t i = 0; i < lines; i++)
		nbuf_puts(&b, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5"
		              "ejAx\r\n");
	nbuf_puts(&b, "--z--\r\n");
	struct fx f;
	fx_init(&f, (const char *)nbuf_head(&b), nbuf_avail(&b));
	nbuf_deinit(&b);
	struct imap_fetch_plan *plan = plan_of(&f.a, "(BINARY.SIZE[1] BINARY.PEEK[1]<1000.57>)");
	assert_int_equal(imap_fetch_msg(plan, &f.m, &f.out), 0);
	assert_true(nbuf_avail(&f.out.text) < 200);
	size_t glen, nd;
	char *got = assemble(&f.out, &f.m, 16384, &glen, &nd);
	assert_int_equal(nd, 1);
	char want[256];
	snprintf(want, sizeof(want),
	         "* 3 FETCH (BINARY.SIZE[1] %zu BINARY[1]<1000> {57}\r\n"
	         "cdefghijklmnopqrstuvwxyz01ABCDEFGHIJKLMNOPQRSTUVWXYZabcde)\r\n",
	         lines * 54);
	assert_string_equal(got, want);
	free(got);
	fx_deinit(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),       cmocka_unit_test(test_decode),
	        cmocka_unit_test(test_single_part), cmocka_unit_test(test_cte_names),
	        cmocka_unit_test(test_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
