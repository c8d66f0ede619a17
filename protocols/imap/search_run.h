/*
 * search_run: what cmd_search.c, cmd_sort.c and cmd_thread.c share: one
 * runner that finds the messages of a SEARCH program in the selected
 * mailbox and answers SEARCH, SORT or THREAD with them (cmd_search.c).
 */
#ifndef MAILNODE_IMAP_SEARCH_RUN_H
#define MAILNODE_IMAP_SEARCH_RUN_H

#include "protocols/imap/imap_private.h"
#include "protocols/imap/search.h"
#include "protocols/imap/sort.h"

enum imap__search_kind {
	IMAP_SEARCH_K_SEARCH,
	IMAP_SEARCH_K_SORT,
	IMAP_SEARCH_K_THREAD,
};

struct imap__search_req {
	enum imap__search_kind kind;
	const struct imap_search *prog; /* the running command's arena */
	const struct imap_arg *args;    /* SEARCH: the program's arguments */
	size_t argc;
	struct imap_search_ret ret;    /* SEARCH, SORT */
	struct imap_sort_program sort; /* SORT */
	enum imap_thread_alg alg;      /* THREAD */
};

/* Run req for the running command (UID or not, its tag) and answer it:
 * untagged results, the saved result (RFC 5182), then the tagged reply. */
void imap__search_run(struct imap_session *s, const struct imap__search_req *req);

/* Parse "[CHARSET x] keys" (SEARCH) or "x keys" (charset_required: SORT,
 * THREAD) at args into a program in the command's arena. Answers the
 * command (BAD, or NO [BADCHARSET]) and returns -1 when it cannot be
 * parsed; with a SAVE return option the saved result is emptied then
 * for a NO (RFC 5182 §2.1). */
int imap__search_program(struct imap_session *s, const struct imap_arg *args, size_t argc,
                         bool charset_required, const struct imap_search_ret *ret,
                         const struct imap_search **prog_r);

/* RFC 5182: the saved result of the selected mailbox (UIDs), NULL when
 * empty; replace it (NULL: empty). */
void imap__saved_set(struct imap_session *s, const uint32_t *uids, size_t n);

/* cmd_sort.c, in the pool: the keys (needs: SORT_NEED_*) of n messages
 * into msgs[i], whose seq, id, modseq, size and arrival the caller set;
 * message i's record is at items + idx[i] * stride + rec_off. Strings go
 * to a; *header_reads counts the messages read from their files. Returns
 * 0, -ENOMEM (a full) or -EIO (the store). */
int imap__sort_keys_load(struct store *st, unsigned needs, const void *items, size_t stride,
                         size_t rec_off, const uint32_t *idx, size_t n, struct arena *a,
                         struct imap_sort_msg *msgs, uint32_t *header_reads);

/* context.c: RFC 5267 §4.3 updating contexts. check: -1 when the running
 * command's tag is an updating context's already (answer BAD), else 0
 * with *why_r NULL when req can be updated, or the text of the NOUPDATE
 * refusal. add: keep req's result (uids ascending, as of highestmodseq
 * modseq) under the running command's tag. cancel: 1 when tag was one. */
int imap__context_check(struct imap_session *s, const struct imap__search_req *req,
                        const char **why_r);
void imap__context_add(struct imap_session *s, const struct imap__search_req *req, uint64_t modseq,
                       const uint32_t *uids, size_t n);
int imap__context_cancel(struct imap_session *s, const char *tag);

#endif
