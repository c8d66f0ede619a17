/*
 * cmd: command codec. See cmd.h for the format.
 *
 * Each command type has a fixed list of fields (cmd_fields); encode and
 * decode walk the same list, so they cannot disagree. The decoder checks
 * each field against its limit, and then the semantic invariants that
 * apply() relies on (ranges ordered and non-zero, flags within the mask,
 * modes known).
 */
#include "node/store/cmd.h"

#include <stdlib.h>
#include <string.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"

enum cmd_field {
	F_END = 0,
	F_USER_ID,
	F_MAILBOX_ID,
	F_MAILBOX_ID2,
	F_UIDVALIDITY,
	F_UID,
	F_FLAGS,
	F_SPECIAL,
	F_MODE,
	F_ENABLED,
	F_SIZE,
	F_MODSEQ,
	F_QUOTA_BYTES,
	F_QUOTA_MSGS,
	F_INTERNALDATE,
	F_HASH,
	F_ADDRESS,
	F_NAME,
	F_NAME2,
	F_VALUE,
	F_META,
	F_BLOB,
	F_RANGES,
	F_KEYWORDS,
	F_TARGETS,
	F_KEY, /* config key: name, shorter limit */
};

#define FIELDS_MAX 10

static const uint8_t cmd_fields[CMD_TYPE_MAX][FIELDS_MAX] = {
        [CMD_CLUSTER_INIT] = {F_END},
        [CMD_DOMAIN_ADD] = {F_NAME},
        [CMD_DOMAIN_DEL] = {F_NAME},
        [CMD_USER_ADD] = {F_ADDRESS, F_BLOB, F_QUOTA_BYTES, F_QUOTA_MSGS, F_ENABLED},
        [CMD_USER_DEL] = {F_ADDRESS},
        [CMD_USER_SET_PASSWORD] = {F_ADDRESS, F_BLOB},
        [CMD_USER_SET_ENABLED] = {F_ADDRESS, F_ENABLED},
        [CMD_USER_SET_QUOTA] = {F_ADDRESS, F_QUOTA_BYTES, F_QUOTA_MSGS},
        [CMD_ALIAS_ADD] = {F_ADDRESS, F_TARGETS},
        [CMD_ALIAS_DEL] = {F_ADDRESS},
        [CMD_CONFIG_SET] = {F_KEY, F_VALUE},
        [CMD_CONFIG_DEL] = {F_KEY},
        [CMD_MAILBOX_CREATE] = {F_USER_ID, F_NAME, F_SPECIAL},
        [CMD_MAILBOX_DELETE] = {F_USER_ID, F_NAME},
        [CMD_MAILBOX_RENAME] = {F_USER_ID, F_NAME, F_NAME2},
        [CMD_MAILBOX_SUBSCRIBE] = {F_USER_ID, F_NAME},
        [CMD_MAILBOX_UNSUBSCRIBE] = {F_USER_ID, F_NAME},
        [CMD_MAILBOX_SET_SPECIAL] = {F_USER_ID, F_NAME, F_SPECIAL},
        [CMD_MAILBOX_CLAIM_RECENT] = {F_USER_ID, F_MAILBOX_ID, F_UID},
        [CMD_MSG_APPEND] = {F_USER_ID, F_MAILBOX_ID, F_HASH, F_SIZE, F_FLAGS, F_KEYWORDS,
                            F_INTERNALDATE, F_META},
        [CMD_MSG_STORE] = {F_USER_ID, F_MAILBOX_ID, F_UIDVALIDITY, F_RANGES, F_MODE, F_FLAGS,
                           F_KEYWORDS, F_MODSEQ},
        [CMD_MSG_EXPUNGE] = {F_USER_ID, F_MAILBOX_ID, F_UIDVALIDITY, F_MODE, F_RANGES},
        [CMD_MSG_COPY] = {F_USER_ID, F_MAILBOX_ID, F_UIDVALIDITY, F_RANGES, F_MAILBOX_ID2},
        [CMD_MSG_MOVE] = {F_USER_ID, F_MAILBOX_ID, F_UIDVALIDITY, F_RANGES, F_MAILBOX_ID2},
        [CMD_SIEVE_PUT] = {F_USER_ID, F_NAME, F_VALUE},
        [CMD_SIEVE_DEL] = {F_USER_ID, F_NAME},
        [CMD_SIEVE_ACTIVATE] = {F_USER_ID, F_NAME},
        [CMD_URLAUTH_KEY] = {F_USER_ID, F_MAILBOX_ID, F_MODE, F_BLOB},
};

static const char *const cmd_names[CMD_TYPE_MAX] = {
        [CMD_CLUSTER_INIT] = "cluster-init",
        [CMD_DOMAIN_ADD] = "domain-add",
        [CMD_DOMAIN_DEL] = "domain-del",
        [CMD_USER_ADD] = "user-add",
        [CMD_USER_DEL] = "user-del",
        [CMD_USER_SET_PASSWORD] = "user-set-password",
        [CMD_USER_SET_ENABLED] = "user-set-enabled",
        [CMD_USER_SET_QUOTA] = "user-set-quota",
        [CMD_ALIAS_ADD] = "alias-add",
        [CMD_ALIAS_DEL] = "alias-del",
        [CMD_CONFIG_SET] = "config-set",
        [CMD_CONFIG_DEL] = "config-del",
        [CMD_MAILBOX_CREATE] = "mailbox-create",
        [CMD_MAILBOX_DELETE] = "mailbox-delete",
        [CMD_MAILBOX_RENAME] = "mailbox-rename",
        [CMD_MAILBOX_SUBSCRIBE] = "mailbox-subscribe",
        [CMD_MAILBOX_UNSUBSCRIBE] = "mailbox-unsubscribe",
        [CMD_MAILBOX_SET_SPECIAL] = "mailbox-set-special",
        [CMD_MAILBOX_CLAIM_RECENT] = "mailbox-claim-recent",
        [CMD_MSG_APPEND] = "append",
        [CMD_MSG_STORE] = "store",
        [CMD_MSG_EXPUNGE] = "expunge",
        [CMD_MSG_COPY] = "copy",
        [CMD_MSG_MOVE] = "move",
        [CMD_SIEVE_PUT] = "sieve-put",
        [CMD_SIEVE_DEL] = "sieve-del",
        [CMD_SIEVE_ACTIVATE] = "sieve-activate",
        [CMD_URLAUTH_KEY] = "urlauth-key",
};

const char *
cmd_type_name(enum cmd_type t)
{
	return (t > 0 && t < CMD_TYPE_MAX && cmd_names[t]) ? cmd_names[t] : "unknown";
}

static const char *const status_names[CMD_STATUS_MAX] = {
        [CMD_OK] = "ok",
        [CMD_ENOTFOUND] = "not found",
        [CMD_EEXISTS] = "already exists",
        [CMD_EQUOTA] = "over quota",
        [CMD_EINVALID] = "invalid",
        [CMD_ENOPERM] = "not permitted",
        [CMD_ESTALE] = "UIDVALIDITY changed",
        [CMD_ELIMIT] = "limit reached",
        [CMD_ENOTEMPTY] = "not empty",
        [CMD_EABORTED] = "aborted",
        [CMD_ELOOP] = "alias loop",
};

const char *
cmd_status_name(enum cmd_status s)
{
	return (s < CMD_STATUS_MAX && status_names[s]) ? status_names[s] : "unknown";
}

/* --- encoding ------------------------------------------------------- */

#define BATCH_HDR_LEN (1 + 1 + 2 + 4 + CMD_REQID_LEN + 8 + 8)

void
cmd_batch_init(struct cmd_batch *b, uint64_t origin, uint8_t flags)
{
	memset(b, 0, sizeof(*b));
	b->hdr.version = CMD_BATCH_VERSION;
	b->hdr.flags = flags;
	b->hdr.origin = origin;
	b->hdr.time_ms = now_wall_ms();
	if (random_bytes(b->hdr.reqid, sizeof(b->hdr.reqid)) != 0)
		panic("cmd: no randomness for a request id");
	nbuf_init(&b->buf, CMD_FRAME_MAX);
	struct wire_writer w;
	wire_writer_init(&w, &b->buf);
	wire_put_u8(&w, b->hdr.version);
	wire_put_u8(&w, b->hdr.flags);
	wire_put_u16(&w, 0);
	wire_put_u32(&w, 0);
	wire_put_raw(&w, b->hdr.reqid, CMD_REQID_LEN);
	wire_put_u64(&w, b->hdr.time_ms);
	wire_put_u64(&w, b->hdr.origin);
	b->err = w.err;
}

void
cmd_batch_deinit(struct cmd_batch *b)
{
	nbuf_deinit(&b->buf);
}

static void
put_strlist(struct wire_writer *w, const struct cmd_strlist *l, size_t max_n, size_t max_len)
{
	if (l->n > max_n) {
		w->err = 1;
		return;
	}
	wire_put_u32(w, l->n);
	uint32_t pos = 0, count = 0;
	struct cmd_str s;
	while (cmd_strlist_next(l, &pos, &s)) {
		if (s.len == 0 || s.len > max_len)
			w->err = 1;
		wire_put_str(w, s.p, s.len);
		count++;
	}
	if (count != l->n)
		w->err = 1;
}

static void
put_str(struct wire_writer *w, const struct cmd_str *s, size_t max)
{
	if (s->len > max || (s->len && memchr(s->p, 0, s->len))) {
		w->err = 1;
		return;
	}
	wire_put_str(w, s->p, s->len);
}

static void
put_blob(struct wire_writer *w, const struct cmd_str *s, size_t max)
{
	if (s->len > max) {
		w->err = 1;
		return;
	}
	wire_put_bytes(w, s->p, (uint32_t)s->len);
}

static void
cmd_encode_fields(struct wire_writer *w, const struct cmd *c)
{
	for (int i = 0; i < FIELDS_MAX && cmd_fields[c->type][i] != F_END; i++) {
		switch ((enum cmd_field)cmd_fields[c->type][i]) {
		case F_USER_ID:
			wire_put_u32(w, c->user_id);
			break;
		case F_MAILBOX_ID:
			wire_put_u32(w, c->mailbox_id);
			break;
		case F_MAILBOX_ID2:
			wire_put_u32(w, c->mailbox_id2);
			break;
		case F_UIDVALIDITY:
			wire_put_u32(w, c->uidvalidity);
			break;
		case F_UID:
			wire_put_u32(w, c->uid);
			break;
		case F_FLAGS:
			wire_put_u32(w, c->flags);
			break;
		case F_SPECIAL:
			wire_put_u32(w, c->special_use);
			break;
		case F_MODE:
			wire_put_u8(w, c->mode);
			break;
		case F_ENABLED:
			wire_put_u8(w, c->enabled);
			break;
		case F_SIZE:
			wire_put_u64(w, c->size);
			break;
		case F_MODSEQ:
			wire_put_u64(w, c->modseq);
			break;
		case F_QUOTA_BYTES:
			wire_put_u64(w, c->quota_bytes);
			break;
		case F_QUOTA_MSGS:
			wire_put_u64(w, c->quota_msgs);
			break;
		case F_INTERNALDATE:
			wire_put_u64(w, (uint64_t)c->internaldate);
			break;
		case F_HASH:
			if (c->hash == NULL)
				w->err = 1;
			else
				wire_put_raw(w, c->hash, CMD_HASH_LEN);
			break;
		case F_ADDRESS:
			put_str(w, &c->address, CMD_ADDRESS_MAX);
			break;
		case F_NAME:
			put_str(w, &c->name, CMD_MAILBOX_NAME_MAX);
			break;
		case F_NAME2:
			put_str(w, &c->name2, CMD_MAILBOX_NAME_MAX);
			break;
		case F_KEY:
			put_str(w, &c->name, CMD_CONFIG_KEY_MAX);
			break;
		case F_VALUE:
			put_blob(w, &c->value, CMD_VALUE_MAX);
			break;
		case F_META:
			put_blob(w, &c->meta, CMD_META_MAX);
			break;
		case F_BLOB:
			put_blob(w, &c->blob, CMD_CRED_MAX);
			break;
		case F_RANGES:
			if (c->ranges.n > CMD_RANGES_MAX) {
				w->err = 1;
				break;
			}
			wire_put_u32(w, c->ranges.n);
			for (uint32_t k = 0; k < c->ranges.n; k++) {
				struct uid_range r;
				cmd_ranges_get(&c->ranges, k, &r);
				wire_put_u32(w, r.lo);
				wire_put_u32(w, r.hi);
			}
			break;
		case F_KEYWORDS:
			put_strlist(w, &c->keywords, CMD_KEYWORDS_MAX, CMD_KEYWORD_MAX);
			break;
		case F_TARGETS:
			put_strlist(w, &c->targets, CMD_TARGETS_MAX, CMD_ADDRESS_MAX);
			break;
		case F_END:
			break;
		}
	}
}

int
cmd_batch_add(struct cmd_batch *b, const struct cmd *c)
{
	if (b->err || c->type <= 0 || c->type >= CMD_TYPE_MAX ||
	    b->hdr.ncmds >= CMD_BATCH_CMDS_MAX) {
		b->err = 1;
		return -1;
	}
	struct wire_writer w;
	wire_writer_init(&w, &b->buf);
	size_t start = nbuf_avail(&b->buf);
	wire_put_u16(&w, (uint16_t)c->type);
	wire_put_u32(&w, 0); /* length, patched below */
	cmd_encode_fields(&w, c);
	if (w.err) {
		b->err = 1;
		return -1;
	}
	uint8_t *base = nbuf_head(&b->buf);
	wire_be32(base + start + 2, (uint32_t)(nbuf_avail(&b->buf) - start - 6));
	b->hdr.ncmds++;
	base[2] = (uint8_t)(b->hdr.ncmds >> 8);
	base[3] = (uint8_t)b->hdr.ncmds;
	return 0;
}

const uint8_t *
cmd_batch_data(const struct cmd_batch *b, size_t *len_r)
{
	*len_r = nbuf_avail(&b->buf);
	return nbuf_head(&b->buf);
}

int
cmd_frame_encode(const uint8_t *const *batches, const size_t *lens, size_t n, struct nbuf *out)
{
	if (n == 0 || n > CMD_FRAME_BATCHES_MAX)
		return -1;
	struct wire_writer w;
	wire_writer_init(&w, out);
	wire_put_u32(&w, CMD_FRAME_MAGIC);
	wire_put_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		wire_put_bytes(&w, batches[i], (uint32_t)lens[i]);
	return w.err ? -1 : 0;
}

/* --- decoding ------------------------------------------------------- */

int
cmd_frame_iter_init(struct cmd_frame_iter *it, const void *buf, size_t len)
{
	struct wire_reader r;
	wire_reader_init(&r, buf, len);
	uint32_t magic = wire_get_u32(&r);
	uint32_t n = wire_get_u32(&r);
	if (r.err || magic != CMD_FRAME_MAGIC || n == 0 || n > CMD_FRAME_BATCHES_MAX ||
	    len > CMD_FRAME_MAX)
		return -1;
	it->p = r.p;
	it->end = r.end;
	it->left = n;
	return 0;
}

int
cmd_frame_next(struct cmd_frame_iter *it, const uint8_t **batch_r, size_t *len_r)
{
	struct wire_reader r;
	wire_reader_init(&r, it->p, (size_t)(it->end - it->p));
	if (it->left == 0) {
		/* Up to 7 zero bytes pad a frame to raft's 8-byte entries. */
		size_t left = wire_left(&r);
		if (left >= CMD_FRAME_ALIGN)
			return -1;
		for (size_t i = 0; i < left; i++)
			if (it->p[i] != 0)
				return -1;
		return 0;
	}
	uint32_t len;
	const uint8_t *p = wire_get_bytes(&r, CMD_FRAME_MAX, &len);
	if (p == NULL)
		return -1;
	it->p = r.p;
	it->left--;
	*batch_r = p;
	*len_r = len;
	return 1;
}

int
cmd_batch_iter_init(struct cmd_batch_iter *it, const void *buf, size_t len)
{
	struct wire_reader r;
	wire_reader_init(&r, buf, len);
	it->hdr.version = wire_get_u8(&r);
	it->hdr.flags = wire_get_u8(&r);
	it->hdr.ncmds = wire_get_u16(&r);
	it->hdr.shard = wire_get_u32(&r);
	const uint8_t *id = wire_get_raw(&r, CMD_REQID_LEN);
	it->hdr.time_ms = wire_get_u64(&r);
	it->hdr.origin = wire_get_u64(&r);
	if (r.err || it->hdr.version != CMD_BATCH_VERSION || it->hdr.ncmds == 0 ||
	    it->hdr.ncmds > CMD_BATCH_CMDS_MAX || (it->hdr.flags & ~CMD_BATCH_ATOMIC) ||
	    it->hdr.shard != 0)
		return -1;
	memcpy(it->hdr.reqid, id, CMD_REQID_LEN);
	it->p = r.p;
	it->end = r.end;
	it->left = it->hdr.ncmds;
	return 0;
}

static void
get_str(struct wire_reader *r, struct cmd_str *s, size_t max)
{
	uint16_t n;
	s->p = wire_get_str(r, max, &n);
	s->len = n;
}

static void
get_blob(struct wire_reader *r, struct cmd_str *s, size_t max)
{
	uint32_t n;
	s->p = (const char *)wire_get_bytes(r, max, &n);
	s->len = n;
}

static void
get_strlist(struct wire_reader *r, struct cmd_strlist *l, size_t max_n, size_t max_len)
{
	l->n = wire_get_u32(r);
	l->v = NULL;
	l->raw = r->p;
	if (l->n > max_n) {
		r->err = 1;
		return;
	}
	for (uint32_t i = 0; i < l->n && !r->err; i++) {
		uint16_t n;
		wire_get_str(r, max_len, &n);
		if (n == 0)
			r->err = 1;
	}
	l->rawlen = r->err ? 0 : (uint32_t)(r->p - l->raw);
}

static int
cmd_decode_fields(struct wire_reader *r, struct cmd *c, const char **error_r)
{
	for (int i = 0; i < FIELDS_MAX && cmd_fields[c->type][i] != F_END; i++) {
		switch ((enum cmd_field)cmd_fields[c->type][i]) {
		case F_USER_ID:
			c->user_id = wire_get_u32(r);
			break;
		case F_MAILBOX_ID:
			c->mailbox_id = wire_get_u32(r);
			break;
		case F_MAILBOX_ID2:
			c->mailbox_id2 = wire_get_u32(r);
			break;
		case F_UIDVALIDITY:
			c->uidvalidity = wire_get_u32(r);
			break;
		case F_UID:
			c->uid = wire_get_u32(r);
			break;
		case F_FLAGS:
			c->flags = wire_get_u32(r);
			break;
		case F_SPECIAL:
			c->special_use = wire_get_u32(r);
			break;
		case F_MODE:
			c->mode = wire_get_u8(r);
			break;
		case F_ENABLED:
			c->enabled = wire_get_u8(r);
			break;
		case F_SIZE:
			c->size = wire_get_u64(r);
			break;
		case F_MODSEQ:
			c->modseq = wire_get_u64(r);
			break;
		case F_QUOTA_BYTES:
			c->quota_bytes = wire_get_u64(r);
			break;
		case F_QUOTA_MSGS:
			c->quota_msgs = wire_get_u64(r);
			break;
		case F_INTERNALDATE:
			c->internaldate = (int64_t)wire_get_u64(r);
			break;
		case F_HASH:
			c->hash = wire_get_raw(r, CMD_HASH_LEN);
			break;
		case F_ADDRESS:
			get_str(r, &c->address, CMD_ADDRESS_MAX);
			break;
		case F_NAME:
			get_str(r, &c->name, CMD_MAILBOX_NAME_MAX);
			break;
		case F_NAME2:
			get_str(r, &c->name2, CMD_MAILBOX_NAME_MAX);
			break;
		case F_KEY:
			get_str(r, &c->name, CMD_CONFIG_KEY_MAX);
			break;
		case F_VALUE:
			get_blob(r, &c->value, CMD_VALUE_MAX);
			break;
		case F_META:
			get_blob(r, &c->meta, CMD_META_MAX);
			break;
		case F_BLOB:
			get_blob(r, &c->blob, CMD_CRED_MAX);
			break;
		case F_RANGES: {
			uint32_t n = wire_get_u32(r);
			if (n > CMD_RANGES_MAX) {
				*error_r = "too many ranges";
				return -1;
			}
			c->ranges.n = n;
			c->ranges.v = NULL;
			c->ranges.raw = wire_get_raw(r, (size_t)n * 8);
			break;
		}
		case F_KEYWORDS:
			get_strlist(r, &c->keywords, CMD_KEYWORDS_MAX, CMD_KEYWORD_MAX);
			break;
		case F_TARGETS:
			get_strlist(r, &c->targets, CMD_TARGETS_MAX, CMD_ADDRESS_MAX);
			break;
		case F_END:
			break;
		}
		if (r->err) {
			*error_r = "truncated or oversized field";
			return -1;
		}
	}
	return 0;
}

/* Invariants apply() relies on, beyond field sizes. */
static int
cmd_check(const struct cmd *c, const char **error_r)
{
	if ((c->flags & ~(uint32_t)MSG_FLAGS_ALL) || (c->special_use & ~(uint32_t)SPECIAL_MASK)) {
		*error_r = "unknown flag bits";
		return -1;
	}
	uint32_t prev_hi = 0;
	for (uint32_t i = 0; i < c->ranges.n; i++) {
		struct uid_range r;
		cmd_ranges_get(&c->ranges, i, &r);
		if (r.lo == 0 || r.lo > r.hi || (i > 0 && r.lo <= prev_hi)) {
			*error_r = "ranges must be non-zero, ordered and disjoint";
			return -1;
		}
		prev_hi = r.hi;
	}
	switch (c->type) {
	case CMD_MSG_STORE:
		if (c->mode < STORE_ADD || c->mode > STORE_REPLACE) {
			*error_r = "unknown store mode";
			return -1;
		}
		break;
	case CMD_MSG_EXPUNGE:
		if (c->mode < EXPUNGE_ALL_DELETED || c->mode > EXPUNGE_UIDS) {
			*error_r = "unknown expunge mode";
			return -1;
		}
		break;
	case CMD_URLAUTH_KEY:
		/* a key is exactly CMD_URLAUTH_KEY_LEN bytes, for one mailbox;
		 * a reset carries none */
		if (!(c->mode == URLAUTH_KEY_ADD && c->blob.len == CMD_URLAUTH_KEY_LEN &&
		      c->mailbox_id != 0) &&
		    !(c->mode == URLAUTH_KEY_RESET && c->blob.len == 0)) {
			*error_r = "malformed URLAUTH key command";
			return -1;
		}
		break;
	case CMD_USER_ADD:
	case CMD_USER_SET_ENABLED:
		if (c->enabled > 1) {
			*error_r = "enabled must be 0 or 1";
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

int
cmd_batch_next(struct cmd_batch_iter *it, struct cmd *c, const char **error_r)
{
	if (it->left == 0) {
		if (it->p != it->end) {
			*error_r = "trailing bytes after the last command";
			return -1;
		}
		return 0;
	}
	struct wire_reader r;
	wire_reader_init(&r, it->p, (size_t)(it->end - it->p));
	uint16_t type = wire_get_u16(&r);
	uint32_t len;
	const uint8_t *payload = wire_get_bytes(&r, CMD_FRAME_MAX, &len);
	if (payload == NULL) {
		*error_r = "truncated command";
		return -1;
	}
	if (type == 0 || type >= CMD_TYPE_MAX) {
		*error_r = "unknown command type";
		return -1;
	}
	memset(c, 0, sizeof(*c));
	c->type = (enum cmd_type)type;
	struct wire_reader pr;
	wire_reader_init(&pr, payload, len);
	if (cmd_decode_fields(&pr, c, error_r) != 0)
		return -1;
	if (wire_done(&pr) != 0) {
		*error_r = "trailing bytes in command";
		return -1;
	}
	if (cmd_check(c, error_r) != 0)
		return -1;
	it->p = r.p;
	it->left--;
	return 1;
}

int
cmd_frame_validate(const void *buf, size_t len, const char **error_r)
{
	struct cmd_frame_iter fi;
	if (cmd_frame_iter_init(&fi, buf, len) != 0) {
		*error_r = "bad frame header";
		return -1;
	}
	const uint8_t *b;
	size_t blen;
	int rc;
	while ((rc = cmd_frame_next(&fi, &b, &blen)) == 1) {
		struct cmd_batch_iter bi;
		if (cmd_batch_iter_init(&bi, b, blen) != 0) {
			*error_r = "bad batch header";
			return -1;
		}
		struct cmd c;
		int crc;
		while ((crc = cmd_batch_next(&bi, &c, error_r)) == 1)
			;
		if (crc < 0)
			return -1;
	}
	if (rc < 0) {
		*error_r = "truncated frame";
		return -1;
	}
	return 0;
}

void
cmd_ranges_get(const struct cmd_ranges *r, uint32_t i, struct uid_range *out)
{
	if (r->v) {
		*out = r->v[i];
		return;
	}
	out->lo = wire_rd32(r->raw + (size_t)i * 8);
	out->hi = wire_rd32(r->raw + (size_t)i * 8 + 4);
}

int
cmd_strlist_next(const struct cmd_strlist *l, uint32_t *pos, struct cmd_str *s_r)
{
	if (l->v) {
		if (*pos >= l->n)
			return 0;
		s_r->p = l->v[*pos];
		s_r->len = strlen(l->v[*pos]);
		(*pos)++;
		return 1;
	}
	if (*pos >= l->rawlen)
		return 0;
	const uint8_t *p = l->raw + *pos;
	size_t n = (size_t)p[0] << 8 | p[1];
	s_r->p = (const char *)p + 2;
	s_r->len = n;
	*pos += 2 + (uint32_t)n;
	return 1;
}
