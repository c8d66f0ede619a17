/*
 * store: the mail store as a deterministic state machine.
 *
 * Writes: the only way to change state is store_apply() of a frame of
 * command batches (node/store/cmd.h), called by the replication layer in
 * raft log order with the entry's index. Applied entries accumulate in one
 * LMDB write transaction that store_commit() ends (group commit); only
 * after the commit are the batches' results handed to hooks->applied and
 * change notifications published, so nobody hears of a change that a crash
 * could still undo. apply() records the index in the same transaction, so
 * replaying the log after a restart skips what is already there.
 *
 * Bodies: a message body is staged (written, fsynced, named by its
 * SHA-256) before its append is submitted; apply links it into
 * <data>/blobs/ and the user's Maildir++ tree. Bodies are immutable;
 * copies are hard links.
 *
 * Reads: short read transactions (store_read_begin/end) on the loop thread
 * or in the pool. Never hold one across a wait.
 *
 * Owner: the node (node/serve.c) opens one store and closes it last.
 */
#ifndef MAILNODE_STORE_H
#define MAILNODE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "node/store/cmd.h"
#include "node/store/schema.h"

struct store;
struct store_txn;

/* What happened to a mailbox in one commit. */
enum {
	STORE_CH_EXISTS = 1 << 0,  /* messages appended */
	STORE_CH_FLAGS = 1 << 1,   /* flags changed */
	STORE_CH_EXPUNGE = 1 << 2, /* messages expunged */
	STORE_CH_MAILBOX = 1 << 3, /* created, renamed, deleted, recent claimed */
};

struct store_change {
	uint32_t user_id;
	uint32_t mailbox_id;
	uint32_t what;          /* STORE_CH_* */
	uint64_t highestmodseq; /* after the change */
};

struct store_hooks {
	/* A batch was applied and committed. rs is the hook's to free. */
	void (*applied)(void *arg, const struct cmd_batch_hdr *hdr, struct cmd_results *rs);
	/* An applied append references a body this node does not hold. */
	void (*body_missing)(void *arg, const uint8_t hash[CMD_HASH_LEN]);
	void *arg;
};

/* After the machine stopped while the index was open, the index is not
 * trusted and is rebuilt from raft's snapshot and log (store_guard.c):
 * store_rebuilding() is then 1, entries replayed change the index and keep
 * bodies but leave the maildir tree alone, and store_rebuild_finish(),
 * called by the replication layer once every entry of its log at start is
 * applied, commits, makes the tree match the index and flushes. 0 or
 * -errno. */
int store_rebuilding(const struct store *st);
/* 1 when commits are not flushed (the kernel's boot id tells a machine
 * stop from a process stop, store_guard.c): the index, the maildirs and
 * the names of bodies reach the disk with the file system's own flushes,
 * and bodies go through the body journal (body_journal.h). */
int store_nosync(const struct store *st);
int store_rebuild_finish(struct store *st);

/* Open (creating) the store under data_dir. Returns 0 or -1 with *error_r. */
int store_open(const char *data_dir, const struct store_hooks *hooks, struct store **st_r,
               const char **error_r);
/* Replace the hooks (the replication layer sets them after opening). */
void store_set_hooks(struct store *st, const struct store_hooks *hooks);
/* Commits what is pending and closes. */
void store_close(struct store **st);
const char *store_data_dir(const struct store *st);

/* --- the state machine --------------------------------------------- */

/* The last index whose effects are in the store (committed or pending). */
uint64_t store_applied_index(const struct store *st);
/* Apply one raft entry. An entry at or below the applied index is skipped
 * (replay). A malformed frame is skipped with an error log, identically on
 * every replica. Returns 0, or a negative errno on a local failure (disk,
 * map full) after which the node must stop. */
int store_apply(struct store *st, uint64_t index, const void *frame, size_t len);
/* Record an index that carries no commands (raft barrier/config entry). */
int store_apply_noop(struct store *st, uint64_t index);
/* File operations made by apply are recorded until the file system has
 * flushed them. pending: the last recorded operation when some are not
 * known durable, else 0. sync: flush (blocking: run it in the thread pool).
 * synced: everything up to `upto` is durable (the rows go at the next
 * commit). */
uint64_t store_fileops_pending(const struct store *st);
int store_fileops_sync(const char *data_dir);
void store_fileops_synced(struct store *st, uint64_t upto);
/* Commit pending applies, then run hooks and notifications. Returns 0 or a
 * negative errno (the node must stop). Cheap when nothing is pending. */
int store_commit(struct store *st);
/* Entries applied but not yet committed. */
size_t store_pending(const struct store *st);

/* Snapshot support: write a consistent copy of the index to fd (commits
 * first), and replace the index with a copy (the node's bodies are then
 * checked and missing ones reported through hooks->body_missing). */
int store_snapshot_write(struct store *st, int fd, const char **error_r);
int store_snapshot_restore(struct store *st, const char *copy_path, const char **error_r);
/* The applied index recorded in a copy. Returns 0 or -1 with *error_r. */
int store_snapshot_applied_index(const char *copy_path, uint64_t *index_r, const char **error_r);

/* --- change notifications ------------------------------------------ */

typedef void (*store_watch_cb)(void *arg, const struct store_change *ch);
struct store_watch;
/* Call cb after every commit that changed mailbox_id (0: every mailbox of
 * user_id). Returns a handle for store_unwatch. */
struct store_watch *store_watch_add(struct store *st, uint32_t user_id, uint32_t mailbox_id,
                                    store_watch_cb cb, void *arg);
void store_watch_del(struct store *st, struct store_watch **w);

/* --- bodies --------------------------------------------------------- */

/* A new temporary file for a body being received. Returns an open fd and
 * the path (the caller frees it), or -errno. */
int store_body_tmp(struct store *st, char **path_r);
/* Make a received body durable under its hash: fsync the file, rename it
 * to blobs/staged/<hash>, fsync the directory. Blocking: run it in the
 * thread pool. Returns 0 or -errno. */
int store_body_stage(const char *data_dir, const char *tmp_path, const uint8_t hash[CMD_HASH_LEN]);
/* Open a body for reading. Returns an fd, -ENOENT if this node does not
 * hold it (yet), or -errno. */
int store_body_open(struct store *st, const uint8_t hash[CMD_HASH_LEN]);
/* Path of a body in blobs/ (the caller frees it). */
char *store_body_path(const char *data_dir, const uint8_t hash[CMD_HASH_LEN]);
/* Where a staged body lives (data_dir/blobs/staged/<sha256>); the caller's to free. */
char *store_staged_path(const char *data_dir, const uint8_t hash[CMD_HASH_LEN]);
/* A missing body arrived in blobs/staged/: link it into place and into
 * every maildir that references it. Returns 0 or -errno. */
int store_body_arrived(struct store *st, const uint8_t hash[CMD_HASH_LEN]);
/* Bodies this node lacks. */
size_t store_bodies_missing(const struct store *st);
/* Whether a body is still listed as missing here (a fetch for one that is
 * not is given up). 1, 0 (an error reads as 1). */
int store_body_wanted(struct store *st, const uint8_t hash[CMD_HASH_LEN]);
/* Report every body listed missing to hooks->body_missing (at start: the
 * list outlives a restart, the fetches do not). */
void store_bodies_missing_report(struct store *st);
/* Remove staged bodies older than grace_s that no message references. */
void store_body_gc(struct store *st, uint64_t grace_s);

/* --- reading -------------------------------------------------------- */

int store_read_begin(struct store *st, struct store_txn **t_r);
void store_read_end(struct store_txn **t);

/* Lookups return 1 found, 0 absent, -1 error. Pointers in records point
 * into the transaction and die with it. */
int store_user_get(struct store_txn *t, const char *address, struct store_user *u_r);
int store_user_by_id(struct store_txn *t, uint32_t id, char *address_r, size_t n);
int store_domain_exists(struct store_txn *t, const char *domain);
/* The targets of an alias, NUL-separated in buf. Returns 1 with their
 * count in *n_r, 0 absent, -1 error. */
int store_alias_get(struct store_txn *t, const char *address, char *buf, size_t buflen,
                    size_t *n_r);
int store_config_get(struct store_txn *t, const char *key, char *buf, size_t buflen);
/* A config value as a number, or dflt when unset or unparsable. */
uint64_t store_config_u64(struct store_txn *t, const char *key, uint64_t dflt);

int store_mailbox_get(struct store_txn *t, uint32_t user_id, const char *name,
                      struct store_mailbox *m_r);
int store_mailbox_by_id(struct store_txn *t, uint32_t mailbox_id, struct store_mailbox *m_r);
/* Call cb for each mailbox of the user in name order; stop if cb
 * returns non-zero (that value is returned). */
int store_mailbox_foreach(struct store_txn *t, uint32_t user_id,
                          int (*cb)(void *arg, const struct store_mailbox *m), void *arg);
int store_subscribed(struct store_txn *t, uint32_t user_id, const char *name);
int store_subs_foreach(struct store_txn *t, uint32_t user_id,
                       int (*cb)(void *arg, const char *name, size_t len), void *arg);
/* The mailbox's keywords: names[i] is keyword bit i. Returns the count or
 * -1; names point into the transaction. */
int store_keywords_get(struct store_txn *t, uint32_t mailbox_id, struct cmd_str *names, size_t max);
int store_usage_get(struct store_txn *t, uint32_t user_id, struct store_usage *u_r);

int store_msg_get(struct store_txn *t, uint32_t mailbox_id, uint32_t uid, struct store_msg *m_r);
/* Iterate messages with lo <= uid <= hi in UID order. */
struct store_msg_iter;
int store_msg_iter_open(struct store_txn *t, uint32_t mailbox_id, uint32_t lo, uint32_t hi,
                        struct store_msg_iter **it_r);
/* Returns 1 with the next message, 0 at the end, -1 error. */
int store_msg_iter_next(struct store_msg_iter *it, struct store_msg *m_r);
void store_msg_iter_close(struct store_msg_iter **it);
/* UIDs of messages whose MODSEQ > since, in MODSEQ order. Returns 1/0/-1
 * like an iterator step; use store_changed_iter_*. */
struct store_changed_iter;
int store_changed_iter_open(struct store_txn *t, uint32_t mailbox_id, uint64_t since, int expunged,
                            struct store_changed_iter **it_r);
int store_changed_iter_next(struct store_changed_iter *it, uint32_t *uid_r, uint64_t *modseq_r);
void store_changed_iter_close(struct store_changed_iter **it);

int store_body_get(struct store_txn *t, const uint8_t hash[CMD_HASH_LEN], struct store_body *b_r);
int store_sieve_get(struct store_txn *t, uint32_t user_id, const char *name, struct cmd_str *s_r);
/* The URLAUTH access key of a mailbox of user_id (RFC 4467 §3): 1 with it
 * in key_r, 0 none yet, -1 error. */
int store_urlauth_key_get(struct store_txn *t, uint32_t user_id, uint32_t mailbox_id,
                          uint8_t key_r[CMD_URLAUTH_KEY_LEN]);

/* Walk a table of the accounts in key order, from `from` (NULL: the
 * start); cb returns non-zero to stop. Returns 0, or -1 on error. */
enum store_table {
	STORE_T_DOMAINS,
	STORE_T_USERS,
	STORE_T_ALIASES, /* value: targets as a cmd_strlist raw form */
	STORE_T_CONFIG,
};
int store_table_foreach(struct store_txn *t, enum store_table table, const char *from,
                        int (*cb)(void *arg, const char *key, size_t klen, const void *val,
                                  size_t vlen),
                        void *arg);

/* Entries of an index database (tests, status). */
int64_t store_count(struct store_txn *t, int db);
/* Write a canonical text dump of the whole replicated index (every
 * database, every key and value in hex, in key order) to fd: two replicas
 * that applied the same log produce identical dumps. Returns 0 or -1. */
int store_dump(struct store *st, int fd);

#endif
