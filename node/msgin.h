/*
 * msgin: a message body coming into the store (LMTP DATA, IMAP APPEND,
 * Sieve fileinto), made durable the way the design requires before its
 * append is submitted:
 *
 *   msgin_new      a temporary file under blobs/tmp
 *   msgin_write    bytes appended and hashed (SHA-256) as they arrive,
 *                  bounded by the size limit: memory stays small
 *   msgin_finish   at once: the push of the body to the other voters;
 *                  beside it, in the thread pool, the MIME parse
 *                  (ENVELOPE, BODYSTRUCTURE...), then the stager makes the
 *                  file durable as blobs/staged/<hash>; when both this
 *                  copy and a quorum's are durable, the callback, after
 *                  which msgin_append_cmd builds
 *                  the APPEND commands (one body, any number of mailboxes)
 *
 * Owner: the session; msgin_free cancels whatever is still running and
 * removes a temporary file that never became a staged body.
 */
#ifndef MAILNODE_MSGIN_H
#define MAILNODE_MSGIN_H

#include <stddef.h>
#include <stdint.h>

#include "node/store/cmd.h"

struct msgin;
struct store;

/* status: 0 durable on a quorum; -EFBIG over the size limit; -EIO local
 * failure; REPL_EUNAVAILABLE no quorum now (temporary). */
typedef void (*msgin_cb)(void *arg, int status, struct msgin *m);

/* A new body of at most max_size bytes. NULL on a local failure. */
struct msgin *msgin_new(struct store *st, uint64_t max_size);
/* Append bytes. Returns 0, or -EFBIG once the limit is passed (later
 * writes are ignored; finish then reports -EFBIG), or -EIO. */
int msgin_write(struct msgin *m, const void *p, size_t n);
uint64_t msgin_size(const struct msgin *m);
int msgin_too_big(const struct msgin *m);
/* Make the body durable (see above). cb runs once, never from inside. */
void msgin_finish(struct msgin *m, msgin_cb cb, void *arg);
const uint8_t *msgin_hash(const struct msgin *m);
/* The encoded MIME tree (may be empty for a message too complex to cache). */
const void *msgin_meta(const struct msgin *m, size_t *len_r);
/* Fill an APPEND command for this body (pointers into m). Pass meta only
 * with the first append of a batch. */
void msgin_append_cmd(const struct msgin *m, struct cmd *c, uint32_t user_id, uint32_t mailbox_id,
                      uint32_t flags, int64_t internaldate, int with_meta);
void msgin_free(struct msgin **m);

#endif
