/*
 * body_journal: bodies made durable by one small flush.
 *
 * Making a group of new files durable on BTRFS takes a transaction
 * commit (syncfs): every dirty tree is written, several milliseconds even
 * for a few bodies. Two preallocated files overwritten in place
 * (<data>/blobs/journal/0 and 1, no copy-on-write) take the bodies'
 * bytes instead: a group is appended and fdatasync'ed, which writes the
 * data and a small log item. The bodies' own files (blobs/staged/<hash>,
 * later blobs/ and the maildirs) then reach the disk with the file
 * system's next commit.
 *
 * A journal file is reused only after a flush of the file system that
 * started once writing into it had ended (a checkpoint, run by the stager
 * in the background when the other file is taken). So after a machine
 * stop, every body whose file may not be on disk is still a record in
 * one of the two files; body_journal_open with recover set writes back
 * each one whose file is gone or wrong (into staged/, where the index
 * rebuild links it from), before raft replays anything.
 *
 * Record: magic u32 | zero u32 | generation u64 | length u64 |
 * sha256 [32] | zero [8] | the body, padded to 8 bytes; big endian. Records of one pass over a file
 * share its generation, which grows with every pass over either file; a scan stops at the first
 * record that is not of the file's first record's generation or whose
 * bytes do not hash to its sha256 (a torn write).
 *
 * Used only with the index in no-flush mode (store_guard.c), where the
 * guard tells a machine stop from a process stop.
 */
#ifndef MAILNODE_BODY_JOURNAL_H
#define MAILNODE_BODY_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "node/store/cmd.h"

/* Bodies larger than this are made durable by a file system flush. */
#define BODY_JOURNAL_BODY_MAX (1u << 20)
/* Each of the two files. */
#define BODY_JOURNAL_FILE_SIZE (32u << 20)

struct body_journal;

/* Open (create) the journal of a data directory, its files file_size
 * bytes each (0: BODY_JOURNAL_FILE_SIZE; tests use small ones). With recover set, first write back
 * every recorded body whose file is gone or wrong. Then flush the file system: every record is a
 * checkpoint behind, and writing starts over. Blocking. 0, or -1 with
 * *error_r. */
int body_journal_open(const char *data_dir, int recover, uint64_t file_size,
                      struct body_journal **j_r, const char **error_r);
void body_journal_close(struct body_journal **j);

/* One group, in the thread pool (one writer at a time): append each body
 * (its bytes read from path), then make them durable. Per body, rc is
 * 0 or -errno (its file could not be read; the others go on); the return
 * is 0, -EFBIG before anything is written when a body is over
 * BODY_JOURNAL_BODY_MAX (or a file's size), or -errno for an I/O error of the journal (no
 * body is known durable). */
struct body_journal_rec {
	const char *path;
	const uint8_t *hash;
	int rc;
};
int body_journal_append(struct body_journal *j, struct body_journal_rec *recs, size_t n);

/* 1 when an append left a file behind and no checkpoint was asked for
 * it yet, with *token_r naming it; then the caller flushes the file
 * system (a flush that starts after this call) and reports it with the
 * token. */
int body_journal_checkpoint_due(struct body_journal *j, uint64_t *token_r);
void body_journal_checkpointed(struct body_journal *j, uint64_t token);

#endif
