/*
 * proto: frames on the cluster's RPC links.
 *
 *   frame := len u32 | type u8 | flags u8 | rid u64 | payload
 *
 * len counts type..payload and is at most PROTO_FRAME_MAX: a longer one
 * closes the link before anything is allocated. A request carries a fresh
 * rid; its reply carries the same rid and PROTO_F_REPLY.
 *
 * The first frame a client sends is HELLO: magic u32 | kind u8 | id u64 |
 * address str; the id must match the client certificate's CN. For
 * PROTO_KIND_RAFT nothing but raw raft bytes follows.
 */
#ifndef MAILNODE_REPL_PROTO_H
#define MAILNODE_REPL_PROTO_H

#define PROTO_MAGIC     0x4d4e4331u /* "MNC1" */
#define PROTO_FRAME_MAX (1024u * 1024 + 4096)
#define PROTO_HDR_LEN   14
#define PROTO_CHUNK     (256u * 1024)

enum { PROTO_KIND_RAFT = 1, PROTO_KIND_RPC = 2 };

enum { PROTO_F_REPLY = 1 };

enum proto_type {
	PROTO_HELLO = 1,
	PROTO_ERROR = 2,         /* reply: status i32 | message str */
	PROTO_FWD = 3,           /* batch bytes -> FWD_ACK */
	PROTO_FWD_ACK = 4,       /* status i32 | leader u64 | index u64 */
	PROTO_BODY_PUT = 5,      /* hash[32] | total u64 | offset u64 | data -> BODY_ACK */
	PROTO_BODY_ACK = 6,      /* status i32 | offset u64 (next expected) */
	PROTO_BODY_GET = 7,      /* hash[32] | offset u64 -> BODY_DATA */
	PROTO_BODY_DATA = 8,     /* status i32 | total u64 | offset u64 | data */
	PROTO_JOIN = 9,          /* id u64 | address str -> RESULT */
	PROTO_REMOVE = 10,       /* id u64 -> RESULT */
	PROTO_TRANSFER = 11,     /* id u64 -> RESULT */
	PROTO_RESULT = 12,       /* status i32 | message str */
	PROTO_STATUS = 13,       /* -> STATUS_REPLY */
	PROTO_STATUS_REPLY = 14, /* JSON text */
};

/* Status codes in replies. */
enum {
	PROTO_OK = 0,
	PROTO_ENOTLEADER = 1,
	PROTO_EUNKNOWN = 2, /* outcome unknown (leadership lost): retry */
	PROTO_EFAILED = 3,
	PROTO_EMISSING = 4, /* body not here */
	PROTO_EBADREQ = 5,
};

#endif
