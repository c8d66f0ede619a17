/*
 * schema: record and key encodings. See schema.h.
 */
#include "node/store/schema.h"

#include <string.h>

#include "node/lib/wire.h"

#define USER_V    1
#define MAILBOX_V 1
#define MSG_V     2
#define MSG_V1    1
#define BODY_V    1

int
schema_user_encode(const struct store_user *u, struct nbuf *out)
{
	struct wire_writer w;
	wire_writer_init(&w, out);
	wire_put_u8(&w, USER_V);
	wire_put_u32(&w, u->id);
	wire_put_u8(&w, u->enabled);
	wire_put_u64(&w, u->quota_bytes);
	wire_put_u64(&w, u->quota_msgs);
	wire_put_u64(&w, (uint64_t)u->created_ms);
	wire_put_bytes(&w, u->cred, u->credlen);
	return w.err ? -1 : 0;
}

int
schema_user_decode(const void *p, size_t n, struct store_user *u)
{
	struct wire_reader r;
	wire_reader_init(&r, p, n);
	if (wire_get_u8(&r) != USER_V)
		return -1;
	u->id = wire_get_u32(&r);
	u->enabled = wire_get_u8(&r);
	u->quota_bytes = wire_get_u64(&r);
	u->quota_msgs = wire_get_u64(&r);
	u->created_ms = (int64_t)wire_get_u64(&r);
	u->cred = wire_get_bytes(&r, CMD_CRED_MAX, &u->credlen);
	return wire_done(&r);
}

int
schema_mailbox_encode(const struct store_mailbox *m, struct nbuf *out)
{
	struct wire_writer w;
	wire_writer_init(&w, out);
	wire_put_u8(&w, MAILBOX_V);
	wire_put_u32(&w, m->id);
	wire_put_u32(&w, m->uidvalidity);
	wire_put_u32(&w, m->uidnext);
	wire_put_u32(&w, m->first_recent_uid);
	wire_put_u32(&w, m->special_use);
	wire_put_u64(&w, m->highestmodseq);
	wire_put_u32(&w, m->messages);
	wire_put_u32(&w, m->unseen);
	wire_put_u32(&w, m->deleted);
	wire_put_u64(&w, m->size);
	return w.err ? -1 : 0;
}

int
schema_mailbox_decode(const void *p, size_t n, struct store_mailbox *m)
{
	struct wire_reader r;
	wire_reader_init(&r, p, n);
	if (wire_get_u8(&r) != MAILBOX_V)
		return -1;
	m->id = wire_get_u32(&r);
	m->uidvalidity = wire_get_u32(&r);
	m->uidnext = wire_get_u32(&r);
	m->first_recent_uid = wire_get_u32(&r);
	m->special_use = wire_get_u32(&r);
	m->highestmodseq = wire_get_u64(&r);
	m->messages = wire_get_u32(&r);
	m->unseen = wire_get_u32(&r);
	m->deleted = wire_get_u32(&r);
	m->size = wire_get_u64(&r);
	return wire_done(&r);
}

void
schema_msg_encode(const struct store_msg *m, uint8_t out[SCHEMA_MSG_LEN])
{
	out[0] = MSG_V;
	wire_be32(out + 1, m->flags);
	wire_be64(out + 5, m->keywords);
	wire_be64(out + 13, m->modseq);
	wire_be64(out + 21, (uint64_t)m->internaldate);
	wire_be64(out + 29, (uint64_t)m->savedate);
	wire_be64(out + 37, m->size);
	memcpy(out + 45, m->hash, CMD_HASH_LEN);
	wire_be64(out + 77, m->thread_id);
}

int
schema_msg_decode(const void *p, size_t n, struct store_msg *m)
{
	const uint8_t *b = p;
	if (!(n == SCHEMA_MSG_LEN && b[0] == MSG_V) && !(n == SCHEMA_MSG_V1_LEN && b[0] == MSG_V1))
		return -1;
	m->flags = wire_rd32(b + 1);
	m->keywords = wire_rd64(b + 5);
	m->modseq = wire_rd64(b + 13);
	m->internaldate = (int64_t)wire_rd64(b + 21);
	m->savedate = (int64_t)wire_rd64(b + 29);
	m->size = wire_rd64(b + 37);
	memcpy(m->hash, b + 45, CMD_HASH_LEN);
	m->thread_id = b[0] == MSG_V ? wire_rd64(b + 77) : 0;
	return 0;
}

int
schema_body_encode(const struct store_body *b, struct nbuf *out)
{
	struct wire_writer w;
	wire_writer_init(&w, out);
	wire_put_u8(&w, BODY_V);
	wire_put_u32(&w, b->refcount);
	wire_put_u64(&w, b->size);
	wire_put_bytes(&w, b->meta, b->metalen);
	return w.err ? -1 : 0;
}

int
schema_body_decode(const void *p, size_t n, struct store_body *b)
{
	struct wire_reader r;
	wire_reader_init(&r, p, n);
	if (wire_get_u8(&r) != BODY_V)
		return -1;
	b->refcount = wire_get_u32(&r);
	b->size = wire_get_u64(&r);
	b->meta = wire_get_bytes(&r, CMD_META_MAX, &b->metalen);
	return wire_done(&r);
}

void
schema_usage_encode(const struct store_usage *u, uint8_t out[16])
{
	wire_be64(out, u->bytes);
	wire_be64(out + 8, u->messages);
}

int
schema_usage_decode(const void *p, size_t n, struct store_usage *u)
{
	if (n != 16)
		return -1;
	u->bytes = wire_rd64(p);
	u->messages = wire_rd64((const uint8_t *)p + 8);
	return 0;
}

size_t
schema_key_u32(uint8_t *k, uint32_t a)
{
	wire_be32(k, a);
	return 4;
}

size_t
schema_key_u32_name(uint8_t *k, uint32_t a, const char *name, size_t len)
{
	wire_be32(k, a);
	memcpy(k + 4, name, len);
	return 4 + len;
}

size_t
schema_key_msg(uint8_t *k, uint32_t mailbox_id, uint32_t uid)
{
	wire_be32(k, mailbox_id);
	wire_be32(k + 4, uid);
	return 8;
}

size_t
schema_key_modseq(uint8_t *k, uint32_t mailbox_id, uint64_t modseq, uint32_t uid)
{
	wire_be32(k, mailbox_id);
	wire_be64(k + 4, modseq);
	wire_be32(k + 12, uid);
	return 16;
}
