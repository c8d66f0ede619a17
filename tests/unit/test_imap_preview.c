/*
 * Unit tests: FETCH PREVIEW (RFC 8970) through the FETCH engine: the
 * preview the cached tree carries is used without the message bytes;
 * without one it is made from the bytes; a message without text gets ""
 * (never NIL without LAZY, §3.2); PREVIEW (LAZY) needs only the tree and
 * answers NIL when the tree has no preview and the bytes are not at hand
 * (§4.1); what each form needs from the store; an 8-bit preview is a
 * literal unless UTF8=ACCEPT; unknown modifiers are refused.
 */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/parser.h"

static int
plan_try(struct arena *a, const char *items, struct imap_fetch_plan **plan_r)
{
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	const char *err;
	imap_parser_init(&p, NULL);
	nbuf_init(&in, 1 << 16);
	nbuf_printf(&in, "A1 FETCH 1 %s\r\n", items);
	assert_int_equal(imap_parser_next(&p, &in, &cmd), IMAP_PARSE_DONE);
	int rc = imap_fetch_parse(a, &cmd->args[1], 0, 0, plan_r, &err);
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
	return rc;
}

/* FETCH items on msg with its tree (preview cached or not), bytes given or
 * not; the response text, or NULL when the engine refused the message. */
static char *
fetch(const char *items, const char *msg, int cache, int with_bytes)
{
	struct arena a;
	struct imap_fetch_plan *plan;
	struct mime_message *tree;
	struct imap_fetch_out out;
	size_t len = strlen(msg);
	arena_init(&a, 0);
	assert_int_equal(plan_try(&a, items, &plan), 0);
	assert_int_equal(mime_parse(msg, len, NULL, &tree), 0);
	if (cache)
		assert_int_equal(mime_message_cache_preview(tree, msg, len), 0);
	if (cache == 2)
		tree->preview = "from the cache"; /* tells which one was used */
	struct store_msg rec = {.uid = 9, .size = len};
	struct imap_fetch_msg m = {.seq = 1,
	                           .rec = &rec,
	                           .tree = tree,
	                           .bytes = with_bytes ? msg : NULL,
	                           .len = with_bytes ? len : 0};
	imap_fetch_out_init(&out, &a);
	char *r = NULL;
	if (imap_fetch_msg(plan, &m, &out) == 0) {
		struct nbuf b;
		nbuf_init(&b, 1 << 16);
		for (size_t i = 0; i < out.nsegs; i++) {
			assert_non_null(out.segs[i].text);
			nbuf_append(&b, out.segs[i].text, out.segs[i].len);
		}
		nbuf_puts(&b, "");
		r = xstrndup((const char *)nbuf_head(&b), nbuf_avail(&b));
		nbuf_deinit(&b);
	}
	imap_fetch_out_deinit(&out);
	mime_message_free(&tree);
	arena_deinit(&a);
	return r;
}

static void
check(const char *items, const char *msg, int cache, int with_bytes, const char *want)
{
	char *got = fetch(items, msg, cache, with_bytes);
	if (want == NULL ? got != NULL : got == NULL || strcmp(got, want) != 0)
		fail_msg("%s (cache %d, bytes %d): got %s, want %s", items, cache, with_bytes,
		         got ? got : "(refused)", want ? want : "(refused)");
	free(got);
}

static const char text_msg[] = "Subject: x\r\n\r\nHello   preview\r\n  world.\r\n";
static const char pic_msg[] = "Content-Type: image/png\r\n\r\nxxxx\r\n";

static void
test_preview(void **state)
{
	const char *hello = "* 1 FETCH (PREVIEW \"Hello preview world.\")\r\n";
	/* cached: LAZY needs no bytes; without LAZY the file is mapped (for
	 * trees cached without a preview) but the cached one is used */
	check("PREVIEW (LAZY)", text_msg, 1, 0, hello);
	check("PREVIEW (LAZY)", text_msg, 2, 0, "* 1 FETCH (PREVIEW \"from the cache\")\r\n");
	check("PREVIEW", text_msg, 2, 1, "* 1 FETCH (PREVIEW \"from the cache\")\r\n");
	/* not cached: made from the bytes */
	check("PREVIEW", text_msg, 0, 1, hello);
	check("(PREVIEW (LAZY))", text_msg, 0, 1, hello);
	/* not cached and no bytes: LAZY may say NIL; without LAZY the
	 * message cannot be answered (the session always maps the file) */
	check("PREVIEW (LAZY)", text_msg, 0, 0, "* 1 FETCH (PREVIEW NIL)\r\n");
	check("PREVIEW", text_msg, 0, 0, NULL);
	/* no text at all: "" (RFC 8970 §3.2), cached or made */
	check("PREVIEW", pic_msg, 1, 1, "* 1 FETCH (PREVIEW \"\")\r\n");
	check("PREVIEW", pic_msg, 0, 1, "* 1 FETCH (PREVIEW \"\")\r\n");
	check("PREVIEW (LAZY)", pic_msg, 1, 0, "* 1 FETCH (PREVIEW \"\")\r\n");
}

static void
test_needs(void **state)
{
	struct arena a;
	struct imap_fetch_plan *plan;
	arena_init(&a, 0);
	assert_int_equal(plan_try(&a, "PREVIEW", &plan), 0);
	assert_int_equal(imap_fetch_needs(plan), FETCH_NEED_TREE | FETCH_NEED_FILE);
	assert_int_equal(plan_try(&a, "PREVIEW (LAZY)", &plan), 0);
	assert_int_equal(imap_fetch_needs(plan), FETCH_NEED_TREE);
	assert_int_equal(plan_try(&a, "(UID PREVIEW (LAZY))", &plan), 0);
	assert_int_equal(imap_fetch_needs(plan), FETCH_NEED_TREE);
	assert_int_equal(plan_try(&a, "(PREVIEW (LAZY) BODY.PEEK[])", &plan), 0);
	assert_int_equal(imap_fetch_needs(plan), FETCH_NEED_TREE | FETCH_NEED_FILE);
	assert_int_equal(plan_try(&a, "PREVIEW (LAZY LAZY)", &plan), 0);
	assert_int_equal(plan_try(&a, "PREVIEW (EAGER)", &plan), -1);
	assert_int_equal(plan_try(&a, "(PREVIEW ())", &plan), -1);
	assert_int_equal(plan_try(&a, "(PREVIEW (LAZY) (LAZY))", &plan), -1);
	arena_deinit(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_preview),
	        cmocka_unit_test(test_needs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
