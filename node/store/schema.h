/*
 * schema: the records of the index and their keys.
 *
 * Every record starts with a version byte; decoders check lengths and
 * versions and report a corrupt record rather than read past it. Keys are
 * big-endian so that LMDB's byte order is numeric order:
 *
 *   mailboxes  user_id(4) | name          messages  mailbox_id(4) | uid(4)
 *   modseq     mailbox_id(4) | modseq(8) | uid(4)
 *   expunged   mailbox_id(4) | modseq(8) | uid(4)
 *   subs       user_id(4) | name          sieve     user_id(4) | name
 *   usage, user_ids    user_id(4)         mbox_ids, keywords  mailbox_id(4)
 *   bodies     sha256(32)                 reqids    request id(16)
 *   req_age    index(8) | request id(16)
 *   threads    user_id(4) | first 16 bytes of SHA-256(message-id)
 *
 * A message record of version 1 (before thread ids) still decodes, with
 * thread_id 0 (none); records are written as version 2.
 */
#ifndef MAILNODE_SCHEMA_H
#define MAILNODE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "node/lib/nbuf.h"
#include "node/store/cmd.h"

#define SCHEMA_NAME_MAX CMD_MAILBOX_NAME_MAX

struct store_user {
	uint32_t id;
	uint8_t enabled;
	uint64_t quota_bytes; /* 0: the cluster default (config quota.bytes), then none */
	uint64_t quota_msgs;
	const uint8_t *cred; /* auth credentials blob (node/auth) */
	uint32_t credlen;
	int64_t created_ms;
};

struct store_mailbox {
	uint32_t id;
	uint32_t user_id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t first_recent_uid; /* messages from here on are \Recent for the next SELECT */
	uint32_t special_use;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;
	uint32_t deleted;
	uint64_t size;
	char name[SCHEMA_NAME_MAX + 1];
};

struct store_msg {
	uint32_t mailbox_id;
	uint32_t uid;
	uint32_t flags;    /* MSG_* */
	uint64_t keywords; /* bit i: the mailbox's keyword i */
	uint64_t modseq;
	int64_t internaldate;
	int64_t savedate;
	uint64_t size;
	uint8_t hash[CMD_HASH_LEN];
	uint64_t thread_id; /* RFC 8474 §5.2 THREADID, decided by apply
	                     * (store_thread.c); 0: none */
};

struct store_body {
	uint32_t refcount;
	uint64_t size;
	const uint8_t *meta; /* cached MIME tree (node/mime), may be empty */
	uint32_t metalen;
};

struct store_usage {
	uint64_t bytes;
	uint64_t messages;
};

/* Encoders append to out and return 0 or -1; decoders return 0 or -1. */
int schema_user_encode(const struct store_user *u, struct nbuf *out);
int schema_user_decode(const void *p, size_t n, struct store_user *u);
int schema_mailbox_encode(const struct store_mailbox *m, struct nbuf *out);
/* The name comes from the key; decode fills the numbers only. */
int schema_mailbox_decode(const void *p, size_t n, struct store_mailbox *m);
#define SCHEMA_MSG_LEN    85
#define SCHEMA_MSG_V1_LEN 77 /* decoded, never written */
void schema_msg_encode(const struct store_msg *m, uint8_t out[SCHEMA_MSG_LEN]);
int schema_msg_decode(const void *p, size_t n, struct store_msg *m);
int schema_body_encode(const struct store_body *b, struct nbuf *out);
int schema_body_decode(const void *p, size_t n, struct store_body *b);
void schema_usage_encode(const struct store_usage *u, uint8_t out[16]);
int schema_usage_decode(const void *p, size_t n, struct store_usage *u);

/* Key builders: write into k (big enough) and return the length. */
size_t schema_key_u32(uint8_t *k, uint32_t a);
size_t schema_key_u32_name(uint8_t *k, uint32_t a, const char *name, size_t len);
size_t schema_key_msg(uint8_t *k, uint32_t mailbox_id, uint32_t uid);
size_t schema_key_modseq(uint8_t *k, uint32_t mailbox_id, uint64_t modseq, uint32_t uid);

#endif
