/*
 * stager: bodies made durable in groups.
 *
 * A body written to a temporary file becomes a staged body
 * (<data>/blobs/staged/<sha256>) through the stager, which makes many of
 * them durable at once: one pool job takes every request waiting.
 *
 * With a body journal (store/body_journal.h; the index in no-flush mode)
 * the job appends the group's bodies to it and fdatasyncs it, then
 * renames each into staged/: one small flush, where a flush of the file
 * system writes every dirty tree (BTRFS: a transaction commit). Until the
 * file system's next commit the journal holds what staged/ may not; the
 * flush each journal file needs before it is reused runs in the
 * background. Under load a journal group waits a millisecond for the rest
 * of a burst before it writes (stager.c).
 *
 * Without one, and for a group holding a barrier or a body over
 * BODY_JOURNAL_BODY_MAX, the job flushes the file system (syncfs: the
 * data is on disk), renames each into staged/ and fsyncs that directory
 * (the names are): two flushes for N bodies instead of 2N fsyncs.
 *
 * A request without a file (tmp_path NULL) is a barrier: its callback
 * runs after a flush of the file system that started after it was
 * submitted (the replication layer uses it to make the directory entries
 * apply() wrote durable, riding with the bodies' flush).
 *
 * Requests that arrive while a job runs wait for the next one, which
 * starts when it ends: a job is in flight whenever a request waits, so the
 * loop stays alive until every callback has run.
 */
#ifndef MAILNODE_STAGER_H
#define MAILNODE_STAGER_H

#include <stdint.h>
#include <uv.h>

#include "node/store/cmd.h"

struct stage_req;
typedef void (*stage_cb)(struct stage_req *req, int rc);

/* The caller's, alive until cb. cb runs on the loop, never from inside
 * stager_submit; rc is 0 (staged and durable; tmp_path is gone) or -errno
 * (tmp_path is still the caller's to remove). */
struct stage_req {
	struct stage_req *next;
	const char *tmp_path;
	uint8_t hash[CMD_HASH_LEN];
	stage_cb cb;
	int rc;
};

struct stager;
struct body_journal;

/* journal: NULL, or the stager's from now on. */
struct stager *stager_new(uv_loop_t *loop, const char *data_dir, struct body_journal *journal);
void stager_submit(struct stager *s, struct stage_req *req);
/* After the loop has ended (no job can be in flight). */
void stager_free(struct stager **s);

#endif
