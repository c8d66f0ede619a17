/*
 * Fuzz: the arguments SORT, THREAD and an extended SEARCH take beyond the
 * search keys. Each input is the argument text of a command; its first
 * byte picks which: SORT ("[RETURN (...)] (criteria) charset keys"),
 * THREAD ("algorithm charset keys") or SEARCH ("[RETURN (...)] keys"). It
 * goes through the IMAP parser, then the RETURN options, sort criteria or
 * algorithm, charset and search program parsers as the session calls
 * them. Whatever is accepted must be consistent (at most
 * IMAP_SORT_CRITERIA_MAX keys, PARTIAL lo <= hi, not with ALL), and the
 * accepted RETURN options must write an ESEARCH response for a result of
 * fixed numbers, with its parentheses balanced and its TAG quoted, sorted
 * or not, MODSEQ or not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/search.h"
#include "protocols/imap/sort.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static void
write_ret(const struct imap_search_ret *r, const char *tag)
{
	static const uint32_t v[] = {9, 1, 2, 3, 7, 100, 4294967295u};
	static const uint64_t ms[] = {5, 9, 1, 1, 2, 3, 4};
	for (int sorted = 0; sorted < 2; sorted++) {
		for (size_t n = 0; n <= 7; n += 7) {
			struct imap_search_result res = {v, ms, n, sorted, sorted, !sorted};
			struct nbuf o;
			nbuf_init(&o, 1 << 16);
			CHECK(imap_search_ret_write(r, tag, sorted ? "SORT" : "SEARCH", &res, &o) ==
			      0);
			int depth = 0, quoted = 0;
			const char *p = (const char *)nbuf_head(&o);
			for (size_t i = 0; i < nbuf_avail(&o); i++) {
				if (quoted) {
					if (p[i] == '\\')
						i++;
					else if (p[i] == '"')
						quoted = 0;
					continue;
				}
				if (p[i] == '"')
					quoted = 1;
				else if (p[i] == '(')
					depth++;
				else if (p[i] == ')')
					CHECK(--depth >= 0);
				CHECK(p[i] != '\r' && p[i] != '\n');
			}
			CHECK(depth == 0 && !quoted);
			size_t idx[2];
			size_t k = imap_search_ret_saved(r, &res, idx);
			CHECK(k == SIZE_MAX || k <= 2);
			for (size_t i = 0; k != SIZE_MAX && i < k; i++)
				CHECK(idx[i] < n);
			nbuf_deinit(&o);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	static const char *const names[] = {"SORT", "THREAD", "SEARCH"};
	const char *name = names[data[0] % 3];
	struct imap_parser p;
	struct imap_parser_limits lim;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_limits_init(&lim, true);
	imap_parser_init(&p, &lim);
	nbuf_init(&in, 16384);
	nbuf_printf(&in, "T%u %s ", data[0], name);
	nbuf_append(&in, data + 1, size - 1);
	nbuf_puts(&in, "\r\n");
	int rc = imap_parser_next(&p, &in, &cmd);
	if (rc == IMAP_PARSE_DONE) {
		const struct imap_arg *args = cmd->args;
		size_t argc = cmd->argc;
		const char *err = NULL, *code = NULL;
		struct imap_search_ret r = {0};
		struct imap_sort_program sp;
		enum imap_thread_alg alg;
		int k = 0, ok = 1;
		if (data[0] % 3 != 1) {
			k = imap_search_ret_parse(args, argc, &r, &err);
			CHECK(k == -1 || k == 0 || k == 2);
			if (k < 0) {
				CHECK(err != NULL);
				ok = 0;
			} else {
				CHECK(!(r.opts & SEARCH_RET_PARTIAL) ||
				      r.partial_lo <= r.partial_hi);
				CHECK(!(r.opts & SEARCH_RET_PARTIAL) || r.partial_lo >= 1);
				CHECK((r.opts & (SEARCH_RET_PARTIAL | SEARCH_RET_ALL)) !=
				      (SEARCH_RET_PARTIAL | SEARCH_RET_ALL));
				CHECK(k == 0 || r.esearch);
				write_ret(&r, cmd->tag);
			}
		}
		args += k > 0 ? k : 0;
		argc -= k > 0 ? (size_t)k : 0;
		if (ok && data[0] % 3 == 0) {
			ok = argc > 0 && imap_sort_parse(&args[0], &sp, &err) == 0;
			if (ok)
				CHECK(sp.n >= 1 && sp.n <= IMAP_SORT_CRITERIA_MAX);
		} else if (ok && data[0] % 3 == 1) {
			ok = argc > 0 && imap_thread_alg_parse(&args[0], &alg, &err) == 0;
		}
		if (ok && data[0] % 3 != 2) {
			args++;
			argc--;
			ok = argc > 0 && args[0].type != IMAP_ARG_EOL &&
			     imap_search_charset(&args[0], &err, &code) == 0;
			if (ok) {
				args++;
				argc--;
			}
		}
		if (ok) {
			struct arena a;
			struct imap_search *s;
			arena_init(&a, 1 << 22);
			if (imap_search_parse(&a, args, argc, &s, &err, &code) == 0)
				(void)imap_search_needs(s);
			else
				CHECK(err != NULL);
			arena_deinit(&a);
		}
	}
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
	return 0;
}
