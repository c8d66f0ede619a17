/*
 * store_internal: what the store's files share (not for other modules).
 */
#ifndef MAILNODE_STORE_INTERNAL_H
#define MAILNODE_STORE_INTERNAL_H

#include <stdint.h>

#include "node/lib/nbuf.h"
#include "node/store/cmd.h"
#include "node/store/idx.h"
#include "node/store/schema.h"
#include "node/store/store.h"

#define STORE_REQ_WINDOW 200000 /* entries a request id is remembered for */
/* The last UID a mailbox hands out: 4294967295 reads as "*" in IMAP
 * sequence sets, so it is never a message's UID. */
#define STORE_UID_MAX 4294967294u

enum store_fop_kind {
	FOP_MKDIR,       /* a: directory (with parents, and cur/new/tmp when b is "maildir") */
	FOP_LINK_BODY,   /* a: blob path, b: maildir file; hash: the body */
	FOP_LINK,        /* a: existing maildir file, b: new name (COPY) */
	FOP_UNLINK,      /* a: file */
	FOP_UNLINK_BODY, /* a: blob path of a body whose last reference went */
	FOP_RENAME,      /* a -> b; done when a is gone and b exists */
	FOP_RMTREE,      /* a: a directory tree */
};

struct store_fop {
	enum store_fop_kind kind;
	char *a, *b;
	uint8_t hash[CMD_HASH_LEN];
};

struct store_pending {
	struct cmd_batch_hdr hdr;
	struct cmd_results *rs;
};

struct store_watch {
	struct store_watch *next;
	uint32_t user_id;
	uint32_t mailbox_id;
	store_watch_cb cb;
	void *arg;
	int dead;
};

struct store {
	char *data_dir;
	char *mail_dir;
	char *blobs_dir;
	int data_fd;
	struct idx *ix;
	struct store_hooks hooks;

	struct idx_txn *wtxn;   /* the open group-commit transaction */
	uint64_t applied_index; /* applied, committed or pending */
	uint64_t committed_index;
	size_t pending_entries;
	uint64_t fileops_seq;     /* last file operation recorded */
	uint64_t fileops_durable; /* every one up to here is on disk */
	uint64_t fileops_pruned;  /* rows up to here are deleted */

	struct store_pending *pend; /* results waiting for the commit */
	size_t npend, cappend;
	struct store_change *changes;
	size_t nchanges, capchanges;
	uint8_t (*missing_new)[CMD_HASH_LEN];
	size_t nmissing_new, capmissing_new;

	struct store_fop *fops; /* file operations of the batch being applied */
	size_t nfops, capfops;

	struct store_watch *watches;
	int notifying;
	size_t missing_count;
	int rebuilding; /* the index is being rebuilt from raft (store_guard.c) */
	int nosync;     /* commits are not flushed (store_guard.c) */
};

/* What apply() of one command sees. */
struct store_ctx {
	struct store *st;
	struct idx_txn *t;
	const struct cmd_batch_hdr *hdr;
	uint64_t index;
	struct nbuf scratch; /* for encoding records */
};

/* File operations of the batch just applied: executed, then recorded in
 * IDX_DB_FILEOPS in the same transaction (store_fileops.c). Returns 0 or
 * -errno. */
int store__fops_run(struct store *st);
void store__fops_clear(struct store *st);
/* Re-run every recorded operation (start-up after a crash). */
int store__fileops_recover(struct store *st, const char **error_r);
/* Delete rows up to fileops_durable within the open write transaction. */
int store__fileops_prune(struct store *st);
/* dir/ with cur/ new/ tmp/ (existing is success); remove a tree (missing
 * is success). 0 or -errno. */
int store__make_maildir(const char *dir);
int store__rmtree(const char *path);
/* A body is no longer listed missing (it arrived, or nothing references it
 * now), in the open write transaction. */
void store__missing_drop(struct store *st, const uint8_t *hash);
/* After a snapshot install: make the maildir tree match the index (see
 * store_maildir_sync.c). */
int store__maildirs_reconcile(struct store *st);

/* Link blobs/staged/<hash> to blob (its place in blobs/, whose directory
 * is made). 0 (also when blob exists) or -errno (-ENOENT: not staged). */
int store__body_from_staged(const char *data_dir, const uint8_t hash[CMD_HASH_LEN],
                            const char *blob);
/* Whether the index outlived the machine's last stop (store_guard.c).
 * check: before opening; *nosync_r whether commits may skip the flush,
 * *rebuild_r whether the index is to be rebuilt (moved aside now, or a
 * rebuild cut short). 0 or -1 with *error_r. arm: after opening, before
 * any write. disarm: at a clean close (flushes the index first). */
int store__guard_check(const char *data_dir, int *nosync_r, int *rebuild_r, const char **error_r);
int store__guard_arm(const char *data_dir, int rebuild);
/* The rebuild is finished: flush the index, drop the mark. 0 or -errno. */
int store__guard_rebuilt(const char *data_dir, struct idx *ix);
void store__guard_disarm(const char *data_dir, struct idx *ix);

/* One command. Sets r->status; returns 0, or a negative errno on a local
 * failure (the node must stop). */
int store__apply_account(struct store_ctx *x, const struct cmd *c, struct cmd_result *r);
int store__apply_mailbox(struct store_ctx *x, const struct cmd *c, struct cmd_result *r);
int store__apply_message(struct store_ctx *x, const struct cmd *c, struct cmd_result *r);

/* Shared helpers (store_util.c). */
void store__fop(struct store *st, enum store_fop_kind kind, char *a, char *b, const uint8_t *hash);
void store__change(struct store *st, uint32_t user_id, uint32_t mailbox_id, uint32_t what,
                   uint64_t modseq);
/* Address validation: a lower-case local@domain usable as a path. */
int store__address_valid(const char *s, size_t n);
int store__domain_valid(const char *s, size_t n);
/* Mailbox name validation (UTF-8, '.'-separated, no path tricks). */
int store__mailbox_name_valid(const char *s, size_t n);
int store__is_inbox(const char *s, size_t n);
/* A Sieve script name: 1..255 bytes, no control characters or '/'. */
int store__script_name_valid(const char *s, size_t n);
/* Maildir directory of a user's mailbox (the caller frees it), or NULL if
 * the user is unknown. */
char *store__maildir(struct store_ctx *x, uint32_t user_id, const char *name, size_t n);
char *store__maildir_of(struct store *st, const char *address, const char *name, size_t n);
/* The maildir file name of a message (the caller frees it). */
char *store__msg_file(const char *maildir, const struct store_mailbox *mb,
                      const struct store_msg *m);

/* Records in the write transaction. 1 found, 0 absent, -1 error. */
int store__mailbox_load(struct idx_txn *t, uint32_t user_id, const char *name, size_t n,
                        struct store_mailbox *m);
int store__mailbox_load_id(struct idx_txn *t, uint32_t mailbox_id, struct store_mailbox *m);
int store__msg_load(struct idx_txn *t, uint32_t mailbox_id, uint32_t uid, struct store_msg *m);
int store__mailbox_save(struct store_ctx *x, const struct store_mailbox *m);
int store__usage_add(struct store_ctx *x, uint32_t user_id, int64_t bytes, int64_t msgs);
int store__meta_u64(struct idx_txn *t, const char *key, uint64_t *v_r);
int store__meta_put_u64(struct idx_txn *t, const char *key, uint64_t v);
/* Create a mailbox (no checks but existence). 0 ok, 1 exists, -errno. */
int store__mailbox_create(struct store_ctx *x, uint32_t user_id, const char *name, size_t n,
                          uint32_t special, int subscribe, struct store_mailbox *m_r);
/* Expunge one message (record, indexes, counters, body reference, file). */
int store__msg_expunge(struct store_ctx *x, struct store_mailbox *mb, const char *maildir,
                       const struct store_msg *m, uint64_t modseq);
/* Remove a mailbox and its messages (not its children). */
int store__mailbox_destroy(struct store_ctx *x, struct store_mailbox *mb, int remove_dir);
/* Every mailbox of a user in name order; cb returns non-zero to stop. */
int store__mailbox_list(struct idx_txn *t, uint32_t user_id,
                        int (*cb)(void *arg, const struct store_mailbox *m), void *arg);
/* RENAME INBOX: move its messages into a new mailbox. */
int store__inbox_rename(struct store_ctx *x, struct store_mailbox *inbox, const char *name,
                        size_t n, struct cmd_result *r);
/* The thread id of a message being appended (store_thread.c): the thread
 * of the first of its identifiers (References, In-Reply-To, Message-ID,
 * read from the cached MIME tree meta) that the user's thread table knows,
 * else new_id; identifiers it lacked are recorded with that thread.
 * meta may be empty. Returns 0, or -errno. */
int store__thread_assign(struct store_ctx *x, uint32_t user_id, const void *meta, size_t metalen,
                         uint64_t new_id, uint64_t *thread_r);
/* Quota of a user: limits (0: none) after the cluster defaults. */
int store__quota(struct store_ctx *x, uint32_t user_id, uint64_t *bytes_r, uint64_t *msgs_r);

#endif
