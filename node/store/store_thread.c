/*
 * store_thread: thread ids for IMAP OBJECTID's THREADID (RFC 8474 §5.2,
 * §6), decided inside apply() so that every replica assigns the same.
 *
 * Happy path: an APPEND's cached MIME tree (the command's meta, or the
 * body record's when the body is already stored) gives the message's
 * Message-ID, its In-Reply-To and its References (normalised at intake,
 * node/mime/mime_msgid.c). Each identifier is looked up, per user, in
 * IDX_DB_THREADS (user id | first 16 bytes of SHA-256 of the identifier,
 * brackets included -> thread id). The message joins the thread of the
 * first identifier found, in this order: the References examined (the
 * first, which names the thread's root, then the last
 * STORE_THREAD_REFS_MAX - 1, oldest first), In-Reply-To, its own
 * Message-ID (a copy of a message already seen). When none is found it
 * starts a thread named after itself: mailbox id << 32 | its UID, unique
 * for the life of the cluster since mailbox ids are never reused and a
 * mailbox never gives a UID twice. Then every identifier examined that
 * had no row gets one pointing at the message's thread, so that a reply
 * that arrives before its parent, or two replies to a message the user
 * never received, still end in one thread.
 *
 * Only the command and the index are read: no clock, no body file, no
 * node-local state. Threads never merge: a message whose identifiers
 * name two threads joins the first, and the rows keep pointing where
 * they were first pointed. COPY and MOVE keep a message's thread id
 * (it is part of the message record); rows stay when messages go, and go
 * with their user (CMD_USER_DEL).
 *
 * Failure modes: a missing or unreadable tree (too complex to cache at
 * intake, a version 1 tree lacks References) means fewer identifiers, and
 * at worst a thread of its own. Work is bounded: at most
 * STORE_THREAD_REFS_MAX + 2 lookups and rows per append, and one pass over
 * the References string (which CMD_META_MAX bounds).
 */
#include <errno.h>
#include <string.h>

#include "node/lib/crypto.h"
#include "node/lib/wire.h"
#include "node/mime/mime.h"
#include "node/store/store_internal.h"

#define STORE_THREAD_REFS_MAX 16
#define THREAD_DIGEST_LEN     16
#define THREAD_KEYS_MAX       (STORE_THREAD_REFS_MAX + 2)

struct thread_keys {
	uint8_t k[THREAD_KEYS_MAX][4 + THREAD_DIGEST_LEN];
	unsigned n;
};

static void
thread_key(struct thread_keys *ks, uint32_t user_id, const struct nbuf *id)
{
	uint8_t d[SHA256_LEN];
	if (ks->n >= THREAD_KEYS_MAX)
		return;
	sha256(nbuf_head(id), nbuf_avail(id), d);
	schema_key_u32(ks->k[ks->n], user_id);
	memcpy(ks->k[ks->n] + 4, d, THREAD_DIGEST_LEN);
	ks->n++;
}

/* The first valid identifier of a field, as a key. */
static void
thread_first_id(struct thread_keys *ks, uint32_t user_id, const struct mime_tree_str *v,
                struct nbuf *id)
{
	size_t pos = 0;
	nbuf_reset(id);
	if (v->p != NULL && mime_msgid_next(v->p, v->len, &pos, id) == 1)
		thread_key(ks, user_id, id);
}

/* The References examined: the first, then the last REFS_MAX - 1 in order. */
static void
thread_refs(struct thread_keys *ks, uint32_t user_id, const struct mime_tree_str *v,
            struct nbuf *id)
{
	enum { RING = STORE_THREAD_REFS_MAX - 1 };
	struct thread_keys ring = {.n = 0};
	size_t pos = 0, n = 0;
	if (v->p == NULL)
		return;
	for (;;) {
		nbuf_reset(id);
		if (mime_msgid_next(v->p, v->len, &pos, id) != 1)
			break;
		if (n++ == 0) {
			thread_key(ks, user_id, id);
			continue;
		}
		ring.n = (unsigned)((n - 2) % RING);
		thread_key(&ring, user_id, id);
	}
	if (n < 2)
		return;
	/* identifier k (k >= 2) went to slot (k - 2) % RING: once the ring
	 * has wrapped, the oldest one kept is at (n - 1) % RING */
	size_t kept = n - 1 < RING ? n - 1 : RING;
	size_t start = n - 1 > RING ? (n - 1) % RING : 0;
	for (size_t i = 0; i < kept && ks->n < THREAD_KEYS_MAX; i++)
		memcpy(ks->k[ks->n++], ring.k[(start + i) % RING], sizeof(ks->k[0]));
}

int
store__thread_assign(struct store_ctx *x, uint32_t user_id, const void *meta, size_t metalen,
                     uint64_t new_id, uint64_t *thread_r)
{
	struct thread_keys ks = {.n = 0};
	struct mime_tree_summary s;
	*thread_r = new_id;
	/* First every key, from meta, which may point into the map: no
	 * write happens before it has been read whole. */
	if (metalen > 0 && mime_tree_summary(meta, metalen, &s) == 0) {
		struct nbuf id;
		nbuf_init(&id, MIME_MSGID_MAX + 1);
		if (s.has_references)
			thread_refs(&ks, user_id, &s.references, &id);
		thread_first_id(&ks, user_id, &s.env[MIME_ENV_IN_REPLY_TO], &id);
		thread_first_id(&ks, user_id, &s.env[MIME_ENV_MESSAGE_ID], &id);
		nbuf_deinit(&id);
	}
	uint8_t found[THREAD_KEYS_MAX] = {0};
	int joined = 0;
	for (unsigned i = 0; i < ks.n; i++) {
		struct idx_val v;
		int rc = idx_get(x->t, IDX_DB_THREADS, ks.k[i], sizeof(ks.k[i]), &v);
		if (rc < 0 || (rc == 1 && v.len != 8))
			return -EIO;
		found[i] = (uint8_t)rc;
		if (rc == 1 && !joined) {
			*thread_r = wire_rd64(v.p);
			joined = 1;
		}
	}
	uint8_t tv[8];
	wire_be64(tv, *thread_r);
	for (unsigned i = 0; i < ks.n; i++) {
		if (found[i])
			continue;
		int rc = idx_put(x->t, IDX_DB_THREADS, ks.k[i], sizeof(ks.k[i]), tv, sizeof(tv));
		if (rc != 0)
			return rc;
	}
	return 0;
}
