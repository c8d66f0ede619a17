/*
 * cmd: the commands that change mail state, and their binary format.
 *
 * Every change of state is a command; commands travel in batches and
 * batches in frames (one frame is one raft log entry):
 *
 *   frame  := magic u32 "MNF1" | nbatches u32 | (len u32 | batch){nbatches}
 *             | zero padding to a multiple of 8 bytes
 *   batch  := version u8 (1) | flags u8 | ncmds u16 | shard u32 |
 *             request id [16] | time_ms u64 | origin node u64 |
 *             (type u16 | len u32 | payload){ncmds}
 *
 * The request id makes a batch idempotent (a retry after an unknown
 * outcome takes effect once and returns the first result); time_ms is the
 * receiving node's clock, carried so that apply() never reads a clock.
 * Payloads are a fixed sequence of fields per type (cmd.c's table), all
 * big-endian, strings u16-length-prefixed, blobs u32-length-prefixed.
 *
 * Decoding is zero-copy: a decoded struct cmd points into the buffer it
 * was decoded from, which must outlive it. The decoder checks every length
 * against the limits below and never reads past the buffer.
 */
#ifndef MAILNODE_CMD_H
#define MAILNODE_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "node/lib/nbuf.h"

#define CMD_FRAME_MAGIC 0x4d4e4631u /* "MNF1" */
/* libraft 0.15 stores entries whose length is not a multiple of 8 but
 * cannot read them back: frames are padded with up to 7 zero bytes. */
#define CMD_FRAME_ALIGN       8
#define CMD_BATCH_VERSION     1
#define CMD_REQID_LEN         16
#define CMD_HASH_LEN          32
#define CMD_BATCH_CMDS_MAX    1024
#define CMD_FRAME_BATCHES_MAX 4096
#define CMD_FRAME_MAX         (16u * 1024 * 1024)
#define CMD_ADDRESS_MAX       320
#define CMD_MAILBOX_NAME_MAX  1024
#define CMD_KEYWORD_MAX       255
#define CMD_KEYWORDS_MAX      64 /* per command and per mailbox */
#define CMD_TARGETS_MAX       256
#define CMD_RANGES_MAX        100000
#define CMD_CONFIG_KEY_MAX    128
#define CMD_VALUE_MAX         (256u * 1024)
#define CMD_META_MAX          (1024u * 1024)
#define CMD_CRED_MAX          4096

enum cmd_type {
	CMD_CLUSTER_INIT = 1,     /* time seeds UIDVALIDITY */
	CMD_DOMAIN_ADD,           /* name */
	CMD_DOMAIN_DEL,           /* name */
	CMD_USER_ADD,             /* address, blob=credentials, quota_bytes, quota_msgs, enabled */
	CMD_USER_DEL,             /* address */
	CMD_USER_SET_PASSWORD,    /* address, blob=credentials */
	CMD_USER_SET_ENABLED,     /* address, enabled */
	CMD_USER_SET_QUOTA,       /* address, quota_bytes, quota_msgs */
	CMD_ALIAS_ADD,            /* address, targets */
	CMD_ALIAS_DEL,            /* address */
	CMD_CONFIG_SET,           /* name=key, value */
	CMD_CONFIG_DEL,           /* name=key */
	CMD_MAILBOX_CREATE,       /* user_id, name, special_use */
	CMD_MAILBOX_DELETE,       /* user_id, name */
	CMD_MAILBOX_RENAME,       /* user_id, name, name2 */
	CMD_MAILBOX_SUBSCRIBE,    /* user_id, name */
	CMD_MAILBOX_UNSUBSCRIBE,  /* user_id, name */
	CMD_MAILBOX_SET_SPECIAL,  /* user_id, name, special_use */
	CMD_MAILBOX_CLAIM_RECENT, /* user_id, mailbox_id, uid (first uid not claimed) */
	CMD_MSG_APPEND,           /* user_id, mailbox_id, hash, size, flags, keywords,
	                             internaldate, meta (may be empty if an earlier
	                             append of the batch carried it) */
	CMD_MSG_STORE,            /* user_id, mailbox_id, uidvalidity, ranges, mode,
	                             flags, keywords, modseq=unchangedsince (0: none) */
	CMD_MSG_EXPUNGE,          /* user_id, mailbox_id, uidvalidity, mode, ranges */
	CMD_MSG_COPY,             /* user_id, mailbox_id, uidvalidity, ranges, mailbox_id2 */
	CMD_MSG_MOVE,             /* same as copy; source messages are expunged */
	CMD_SIEVE_PUT,            /* user_id, name, value=script */
	CMD_SIEVE_DEL,            /* user_id, name */
	CMD_SIEVE_ACTIVATE,       /* user_id, name ("" deactivates) */
	CMD_URLAUTH_KEY,          /* user_id, mailbox_id, mode, blob=key: a mailbox
	                             access key of URLAUTH (RFC 4467 §3):
	                             URLAUTH_KEY_ADD sets the mailbox's key
	                             (CMD_URLAUTH_KEY_LEN random bytes) unless it
	                             has one; URLAUTH_KEY_RESET removes it (blob
	                             empty), mailbox_id 0 every key of the user */
	CMD_TYPE_MAX
};

/* Batch flags. */
enum {
	CMD_BATCH_ATOMIC = 1, /* all commands succeed or none takes effect */
};

/* System flags (message flags bit mask). \Recent is per session, never
 * stored. */
enum {
	MSG_SEEN = 1 << 0,
	MSG_ANSWERED = 1 << 1,
	MSG_FLAGGED = 1 << 2,
	MSG_DELETED = 1 << 3,
	MSG_DRAFT = 1 << 4,
	MSG_FLAGS_ALL = 0x1f,
};

/* Store modes. */
enum { STORE_ADD = 1, STORE_REMOVE = 2, STORE_REPLACE = 3 };

/* URLAUTH key modes, and the key's length. */
enum { URLAUTH_KEY_ADD = 1, URLAUTH_KEY_RESET = 2 };
#define CMD_URLAUTH_KEY_LEN 32

/* Expunge modes. */
enum {
	EXPUNGE_ALL_DELETED = 1,  /* every \Deleted message (IMAP EXPUNGE/CLOSE) */
	EXPUNGE_UIDS_DELETED = 2, /* \Deleted messages among ranges (UID EXPUNGE) */
	EXPUNGE_UIDS = 3,         /* the messages in ranges (POP3, MOVE) */
};

/* Special-use attributes (RFC 6154), bit mask. */
enum {
	SPECIAL_ALL = 1 << 0,
	SPECIAL_ARCHIVE = 1 << 1,
	SPECIAL_DRAFTS = 1 << 2,
	SPECIAL_FLAGGED = 1 << 3,
	SPECIAL_JUNK = 1 << 4,
	SPECIAL_SENT = 1 << 5,
	SPECIAL_TRASH = 1 << 6,
	SPECIAL_IMPORTANT = 1 << 7, /* RFC 8457 */
	SPECIAL_MASK = 0xff,
};

struct uid_range {
	uint32_t lo, hi;
};

/* Ranges: an array when encoding (v), big-endian pairs when decoded (raw). */
struct cmd_ranges {
	uint32_t n;
	const struct uid_range *v;
	const uint8_t *raw;
};

/* A list of strings: an array when encoding (v), encoded when decoded. */
struct cmd_strlist {
	uint32_t n;
	const char *const *v;
	const uint8_t *raw;
	uint32_t rawlen;
};

struct cmd_str {
	const char *p;
	size_t len;
};

struct cmd {
	enum cmd_type type;
	uint32_t user_id;
	uint32_t mailbox_id;
	uint32_t mailbox_id2;
	uint32_t uidvalidity;
	uint32_t uid;
	uint32_t flags;
	uint32_t special_use;
	uint8_t mode;
	uint8_t enabled;
	uint64_t size;
	uint64_t modseq;
	uint64_t quota_bytes;
	uint64_t quota_msgs;
	int64_t internaldate; /* seconds since the epoch */
	const uint8_t *hash;  /* CMD_HASH_LEN bytes */
	struct cmd_str address;
	struct cmd_str name;
	struct cmd_str name2;
	struct cmd_str value;
	struct cmd_str meta;
	struct cmd_str blob;
	struct cmd_ranges ranges;
	struct cmd_strlist keywords;
	struct cmd_strlist targets;
};

struct cmd_batch_hdr {
	uint8_t version;
	uint8_t flags;
	uint16_t ncmds;
	uint32_t shard;
	uint8_t reqid[CMD_REQID_LEN];
	uint64_t time_ms;
	uint64_t origin;
};

/* --- encoding ------------------------------------------------------- */

/* A batch being built. Owner: the caller; cmd_batch_deinit frees it. */
struct cmd_batch {
	struct cmd_batch_hdr hdr;
	struct nbuf buf; /* header + commands as they are added */
	int err;
};

/* Start a batch with a fresh random request id and the current time. */
void cmd_batch_init(struct cmd_batch *b, uint64_t origin, uint8_t flags);
void cmd_batch_deinit(struct cmd_batch *b);
/* Append one command. Returns 0, or -1 if a field is out of bounds or the
 * batch is full (the batch is then unusable). */
int cmd_batch_add(struct cmd_batch *b, const struct cmd *c);
/* The encoded batch (valid until the next add or deinit). */
const uint8_t *cmd_batch_data(const struct cmd_batch *b, size_t *len_r);

/* Wrap encoded batches into a frame. Returns 0 or -1 (too large). */
int cmd_frame_encode(const uint8_t *const *batches, const size_t *lens, size_t n, struct nbuf *out);

/* --- decoding ------------------------------------------------------- */

/* Iterate a frame's batches. */
struct cmd_frame_iter {
	const uint8_t *p, *end;
	uint32_t left;
};
/* Returns 0 or -1 (not a valid frame header). */
int cmd_frame_iter_init(struct cmd_frame_iter *it, const void *buf, size_t len);
/* Returns 1 with the next batch, 0 at the end, -1 malformed. */
int cmd_frame_next(struct cmd_frame_iter *it, const uint8_t **batch_r, size_t *len_r);

/* Iterate a batch's commands. */
struct cmd_batch_iter {
	struct cmd_batch_hdr hdr;
	const uint8_t *p, *end;
	uint16_t left;
};
/* Returns 0 or -1 (bad header). */
int cmd_batch_iter_init(struct cmd_batch_iter *it, const void *buf, size_t len);
/* Returns 1 with the next command decoded into *c, 0 at the end, -1 with
 * *error_r on a malformed command. */
int cmd_batch_next(struct cmd_batch_iter *it, struct cmd *c, const char **error_r);
/* Decode a whole frame once without keeping anything: 0 valid, -1 not. */
int cmd_frame_validate(const void *buf, size_t len, const char **error_r);

/* Accessors for decoded or encoding-side lists. */
void cmd_ranges_get(const struct cmd_ranges *r, uint32_t i, struct uid_range *out);
/* Iterate a string list: *pos starts at 0. Returns 1 with the string, 0 at
 * the end. */
int cmd_strlist_next(const struct cmd_strlist *l, uint32_t *pos, struct cmd_str *s_r);

const char *cmd_type_name(enum cmd_type t);

/* --- results -------------------------------------------------------- */

/* Outcome of one command, decided by apply() and identical on every
 * replica. */
enum cmd_status {
	CMD_OK = 0,
	CMD_ENOTFOUND, /* user, mailbox or message does not exist */
	CMD_EEXISTS,   /* already exists */
	CMD_EQUOTA,    /* over quota */
	CMD_EINVALID,  /* invalid name or argument */
	CMD_ENOPERM,   /* not allowed (delete INBOX, ...) */
	CMD_ESTALE,    /* UIDVALIDITY changed since the session looked */
	CMD_ELIMIT,    /* a limit was reached (keywords per mailbox, ...) */
	CMD_ENOTEMPTY, /* domain still has users, ... */
	CMD_EABORTED,  /* not applied: another command of an atomic batch failed */
	CMD_ELOOP,     /* the alias would create a loop */
	CMD_STATUS_MAX
};

const char *cmd_status_name(enum cmd_status s);

#define CMD_RESULT_RANGES_MAX CMD_RANGES_MAX

/* A result: status plus the values the front ends report. */
struct cmd_result {
	enum cmd_status status;
	uint32_t id;          /* new user id, mailbox id */
	uint32_t uidvalidity; /* APPEND/COPY/MOVE/CREATE: of the target mailbox */
	uint32_t uid;         /* APPEND: the new UID */
	uint64_t modseq;      /* the mailbox's new HIGHESTMODSEQ */
	/* COPY/MOVE: source UIDs and the destination UIDs they got, in order;
	 * EXPUNGE: the UIDs expunged; STORE: UIDs refused by UNCHANGEDSINCE. */
	uint32_t nset1, nset2;
	uint32_t *set1, *set2;
};

/* All results of one batch. Owner: whoever received it; free with
 * cmd_results_free. */
struct cmd_results {
	uint32_t n;
	uint64_t index; /* raft index that applied the batch */
	struct cmd_result r[];
};

struct cmd_results *cmd_results_new(uint32_t n);
void cmd_results_free(struct cmd_results **rs);
int cmd_results_encode(const struct cmd_results *rs, struct nbuf *out);
/* Returns 0 or -1 on malformed input. */
int cmd_results_decode(const void *buf, size_t len, struct cmd_results **rs_r);
/* Append a UID to a result's set (set 1 or 2). */
void cmd_result_push(struct cmd_result *r, int set, uint32_t uid);

#endif
