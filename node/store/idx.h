/*
 * idx: the LMDB environment behind the store (node/store/idx.c is the only
 * user of lmdb.h).
 *
 * One environment holds the named databases of the replicated index
 * (IDX_DB_*). The loop thread is the only writer; readers use short
 * transactions (never held across a wait), on the loop thread or in the
 * thread pool (MDB_NOTLS). Keys and values are byte strings; the schema
 * (node/store/schema.h) gives them meaning.
 */
#ifndef MAILNODE_IDX_H
#define MAILNODE_IDX_H

#include <stddef.h>
#include <stdint.h>

enum idx_db {
	IDX_DB_META,       /* string key -> value: applied index, counters */
	IDX_DB_DOMAINS,    /* domain -> record */
	IDX_DB_USERS,      /* address -> user record */
	IDX_DB_USER_IDS,   /* user id -> address */
	IDX_DB_ALIASES,    /* address -> target list */
	IDX_DB_CONFIG,     /* key -> value */
	IDX_DB_MAILBOXES,  /* user id | name -> mailbox record */
	IDX_DB_MBOX_IDS,   /* mailbox id -> user id | name */
	IDX_DB_KEYWORDS,   /* mailbox id -> keyword names */
	IDX_DB_MESSAGES,   /* mailbox id | uid -> message record */
	IDX_DB_MODSEQ,     /* mailbox id | modseq | uid -> "" */
	IDX_DB_EXPUNGED,   /* mailbox id | modseq | uid -> "" */
	IDX_DB_BODIES,     /* sha256 -> body record (refcount, size, meta) */
	IDX_DB_SUBS,       /* user id | name -> "" */
	IDX_DB_USAGE,      /* user id -> bytes, messages */
	IDX_DB_REQIDS,     /* request id -> index | results */
	IDX_DB_REQ_AGE,    /* index | request id -> "" (to forget old ids) */
	IDX_DB_SIEVE,      /* user id | name -> script */
	IDX_DB_BODY_REFS,  /* sha256 | mailbox id | uid -> "" */
	IDX_DB_URLAUTH,    /* user id | mailbox id -> URLAUTH access key (secret) */
	IDX_DB_THREADS,    /* user id | message-id digest -> thread id (RFC 8474 §5.2) */
	IDX_DB_REPLICATED, /* the databases above are the replicated state */
	IDX_DB_MISSING = IDX_DB_REPLICATED, /* node-local: bodies this node lacks */
	IDX_DB_FILEOPS,                     /* node-local: file operations not yet known durable */
	IDX_DB_COUNT
};

struct idx;
struct idx_txn;
struct idx_cursor;

struct idx_val {
	const void *p;
	size_t len;
};

/* Open (creating) the environment in dir. map_size 0: the default.
 * IDX_OPEN_NOSYNC: commits do not flush (idx_sync and idx_close do), and a
 * system crash may leave the environment corrupt; without it each commit
 * flushes once. Returns 0 or -1 with *error_r. */
enum { IDX_OPEN_NOSYNC = 1 };
int idx_open(const char *dir, size_t map_size, int flags, struct idx **ix_r, const char **error_r);
/* Flush every commit to disk (any thread). 0 or a negative errno. */
int idx_sync(struct idx *ix);
/* Flushes, then closes. */
void idx_close(struct idx **ix);

/* Transactions. A write transaction is begun only on the loop thread. */
int idx_txn_begin(struct idx *ix, int write, struct idx_txn **t_r);
/* Returns 0, or a negative error (-ENOSPC when the map is full). */
int idx_txn_commit(struct idx_txn **t);
void idx_txn_abort(struct idx_txn **t);
/* A nested write transaction (for atomic batches). */
int idx_txn_begin_nested(struct idx_txn *parent, struct idx_txn **t_r);

/* Lookups return 1 found, 0 absent, -1 error. The value points into the
 * map and is valid until the transaction ends or writes that key. */
int idx_get(struct idx_txn *t, enum idx_db db, const void *k, size_t klen, struct idx_val *v_r);
/* Returns 0 or a negative error. */
int idx_put(struct idx_txn *t, enum idx_db db, const void *k, size_t klen, const void *v,
            size_t vlen);
/* Returns 1 deleted, 0 absent, -1 error. */
int idx_del(struct idx_txn *t, enum idx_db db, const void *k, size_t klen);

/* Cursors iterate keys in order. seek positions at the first key >= k
 * (k NULL: the first key). next moves on. Both return 1 with the pair,
 * 0 at the end, -1 error. */
int idx_cursor_open(struct idx_txn *t, enum idx_db db, struct idx_cursor **c_r);
void idx_cursor_close(struct idx_cursor **c);
int idx_cursor_seek(struct idx_cursor *c, const void *k, size_t klen, struct idx_val *k_r,
                    struct idx_val *v_r);
int idx_cursor_next(struct idx_cursor *c, struct idx_val *k_r, struct idx_val *v_r);
int idx_cursor_prev(struct idx_cursor *c, struct idx_val *k_r, struct idx_val *v_r);
/* Position at the last key < k (or the last key when k is NULL). */
int idx_cursor_seek_before(struct idx_cursor *c, const void *k, size_t klen, struct idx_val *k_r,
                           struct idx_val *v_r);
/* Delete the pair under the cursor. Returns 0 or -1. */
int idx_cursor_del(struct idx_cursor *c);

/* Open a copy made by idx_copy_to_fd (one file) read-only, without a
 * lock file. Returns 0 or -1 with *error_r. */
int idx_open_copy(const char *file, struct idx **ix_r, const char **error_r);
/* Empty a database in a write transaction. Returns 0 or -1. */
int idx_drop(struct idx_txn *t, enum idx_db db);
/* Append a pair whose key sorts after every key in db (bulk load). */
int idx_put_append(struct idx_txn *t, enum idx_db db, const void *k, size_t klen, const void *v,
                   size_t vlen);

/* Entries in a database (for tests and status). */
int64_t idx_count(struct idx_txn *t, enum idx_db db);
/* Write a compact, transaction-consistent copy of the environment to fd.
 * Returns 0 or -1 with *error_r. */
int idx_copy_to_fd(struct idx *ix, int fd, const char **error_r);
/* Bytes the map uses (pages in use * page size). */
uint64_t idx_used_bytes(struct idx *ix);
const char *idx_db_name(enum idx_db db);

#endif
