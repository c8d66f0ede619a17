/*
 * cmd_sort: SORT and UID SORT (RFC 5256 §3, §4; SORT=DISPLAY RFC 5957;
 * ESORT and CONTEXT=SORT's PARTIAL RFC 5267 §3, §4.4; the MODSEQ key and
 * response RFC 7162 §3.1.9, §3.1.10; SAVE RFC 5182).
 *
 * Happy path: "SORT [RETURN (...)] (REVERSE DATE) UTF-8 UNSEEN" is parsed
 * into a sort program (sort.h), RETURN options and a SEARCH program, and
 * handed to the runner (cmd_search.c), which finds the messages, takes
 * their keys from the cached MIME trees in the thread pool, sorts them
 * and answers "* SORT 5 3 4" (or "* ESEARCH (TAG ..) ALL 5,3:4" with
 * RETURN).
 *
 * Failure modes: BAD for bad sort criteria (sort_parse.c), bad RETURN
 * options and bad search keys; NO [BADCHARSET (UTF-8 US-ASCII)] for
 * another charset (the charset is mandatory, RFC 5256 §3).
 *
 * Also here: the keys of SORT and THREAD, which the runner takes in the
 * thread pool (imap__sort_keys_load): for each message one lookup of its
 * body record, whose cached MIME tree mime_tree_summary() reads in place;
 * a message with no tree cached (too big to cache), or with a version 1
 * tree when THREAD=REFERENCES needs its References, has its header read
 * from its file (at most IMAP_SORT_HEADER_MAX bytes) and parsed. A file
 * that cannot be read gives empty keys (sorted first; no thread links).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/search_run.h"

/* Most header bytes read from a message file when no tree is cached. */
#define IMAP_SORT_HEADER_MAX ((size_t)256 << 10)

void
imap__cmd_sort(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap__search_req req = {.kind = IMAP_SEARCH_K_SORT};
	const char *err = NULL;
	int k = imap_search_ret_parse(cmd->args, cmd->argc, &req.ret, &err);
	if (k < 0) {
		imap__bad(s, "%s", err);
		return;
	}
	const struct imap_arg *args = cmd->args + k;
	size_t argc = cmd->argc - (size_t)k;
	if (argc == 0 || args[0].type == IMAP_ARG_EOL) {
		imap__bad(s, "Missing sort criteria");
		return;
	}
	if (imap_sort_parse(&args[0], &req.sort, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	if (imap__search_program(s, args + 1, argc - 1, true, &req.ret, &req.prog) != 0)
		return;
	imap__search_run(s, &req);
}

/* --- the keys of SORT and THREAD (in the pool) -------------------------- */

/* The header of a message file, read (not mapped: a few KB of a file
 * that may be big): up to the blank line, at most IMAP_SORT_HEADER_MAX
 * bytes. Returns the length, 0 when unreadable; *buf_r is the caller's to
 * free. */
static size_t
sort_header_read(struct store *st, const struct store_msg *rec, char **buf_r)
{
	*buf_r = NULL;
	int fd = store_body_open(st, rec->hash);
	if (fd < 0)
		return 0;
	size_t cap = 16384, len = 0, max = MIN((size_t)rec->size, IMAP_SORT_HEADER_MAX);
	char *buf = xmalloc(cap + 1);
	while (len < max) {
		if (len == cap) {
			cap = MIN(cap * 2, IMAP_SORT_HEADER_MAX);
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = pread(fd, buf + len, MIN(cap, max) - len, (off_t)len);
		if (r <= 0)
			break;
		size_t from = len > 3 ? len - 3 : 0;
		len += (size_t)r;
		buf[len] = '\0';
		/* stop at the blank line ending the header */
		const char *p = buf + from, *e = buf + len;
		bool end = buf[0] == '\n' || (len > 1 && buf[0] == '\r' && buf[1] == '\n');
		while (!end && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			p++;
			if (p < e && (*p == '\n' || (*p == '\r' && p + 1 < e && p[1] == '\n'))) {
				end = true;
				break;
			}
		}
		if (end)
			break;
	}
	close(fd);
	*buf_r = buf;
	return len;
}

int
imap__sort_keys_load(struct store *st, unsigned needs, const void *items, size_t stride,
                     size_t rec_off, const uint32_t *idx, size_t n, struct arena *a,
                     struct imap_sort_msg *msgs, uint32_t *header_reads)
{
	struct arena scratch;
	struct store_txn *t = NULL;
	int rc = 0;
	arena_init(&scratch, 0);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct store_msg *rec =
		        (const struct store_msg *)((const char *)items + idx[i] * stride + rec_off);
		struct imap_sort_msg *m = &msgs[i];
		imap_sort_keys_empty(m);
		if (needs == 0)
			continue;
		/* a short read transaction per batch: the pool may run long */
		if (t == NULL || i % 4096 == 0) {
			store_read_end(&t);
			if (store_read_begin(st, &t) != 0) {
				rc = -EIO;
				break;
			}
		}
		struct store_body b;
		struct mime_tree_summary sum;
		struct imap_sort_fields f;
		if (store_body_get(t, rec->hash, &b) == 1 && b.metalen > 0 &&
		    mime_tree_summary(b.meta, b.metalen, &sum) == 0 &&
		    (sum.has_references || !(needs & SORT_NEED_IDS))) {
			memcpy(f.env, sum.env, sizeof(f.env));
			f.refs = sum.references;
			rc = imap_sort_keys(a, &scratch, needs, &f, m);
			continue;
		}
		/* no tree (or an old one without References): the header */
		char *hdr;
		size_t hlen = sort_header_read(st, rec, &hdr);
		struct mime_message *mm = NULL;
		(*header_reads)++;
		if (hlen > 0 && mime_parse(hdr, hlen, NULL, &mm) == 0) {
			imap_sort_fields_from_tree(mm, &f);
			rc = imap_sort_keys(a, &scratch, needs, &f, m);
		}
		mime_message_free(&mm);
		free(hdr);
	}
	store_read_end(&t);
	arena_deinit(&scratch);
	return rc < 0 ? (rc == -EIO ? -EIO : -ENOMEM) : 0;
}
