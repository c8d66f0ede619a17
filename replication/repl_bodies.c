/*
 * repl_bodies: message bodies beside the raft log.
 *
 * Push: before an append is proposed, its staged body is sent to every
 * other voter in PROTO_CHUNK pieces (PROTO_BODY_PUT, one piece in flight
 * per peer); a peer acknowledges the last piece only after the body is
 * durable in its blobs/staged/ (node/stager.h). Once a majority of voters (this node
 * included) hold it, the session may submit the append; the other peers
 * keep receiving in the background.
 *
 * Receive: pieces are written to a temporary file and hashed as they come;
 * a body whose SHA-256 differs from its name is refused.
 *
 * Fetching bodies this node lacks is in repl_fetch.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/metrics.h"
#include "node/stager.h"
#include "replication/proto.h"
#include "replication/repl_internal.h"

#define PUSH_PEERS_MAX   16
#define PUSH_TIMEOUT_MS  10000
#define PUSH_DEADLINE_MS 30000
#define XFER_IDLE_MS     60000

struct push_peer {
	uint64_t id;
	uint64_t offset;
	int done;
	int failed;
};

struct repl_body_req {
	struct repl_body_req *next;
	struct repl *r;
	uint8_t hash[CMD_HASH_LEN];
	uint64_t size;
	repl_body_cb cb;
	void *arg;
	int fd;
	int need; /* acknowledgements needed from peers */
	int acks;
	int npeers;
	int inflight; /* requests outstanding */
	int reported; /* cb called (or cancelled) */
	int status;
	uint64_t deadline;
	struct push_peer peers[PUSH_PEERS_MAX];
};

struct repl_body_xfer {
	struct repl_body_xfer *next;
	struct repl *r;
	uint64_t from;
	uint8_t hash[CMD_HASH_LEN];
	uint64_t total;
	uint64_t offset;
	int fd;
	char *path;
	struct sha256_ctx *sha;
	uint64_t touched_ms;
	struct cluster_call *call; /* answered when staged */
	struct stage_req stage;
	int staging;
};

static struct metric *m_pushed;

void
repl__bodies_metrics(void)
{
	if (m_pushed)
		return;
	m_pushed = metric_counter("mailnode_bodies_pushed_total", NULL,
	                          "Message bodies pushed to peers");
}

char *
repl__staged_path(struct repl *r, const uint8_t *hash)
{
	return store_staged_path(r->data_dir, hash);
}

int
repl__body_present(struct repl *r, const uint8_t *hash)
{
	char *a = repl__staged_path(r, hash);
	char *b = store_body_path(r->data_dir, hash);
	int yes = access(a, F_OK) == 0 || access(b, F_OK) == 0;
	free(a);
	free(b);
	return yes;
}

/* --- push ------------------------------------------------------------ */

static void push_step(struct repl_body_req *q);

static void
push_report(struct repl_body_req *q, int status)
{
	if (q->reported)
		return;
	q->reported = 1;
	q->status = status;
	if (q->cb)
		q->cb(q->arg, status);
}

static void
push_maybe_free(struct repl_body_req *q)
{
	if (q->inflight > 0 || !q->reported)
		return;
	for (int i = 0; i < q->npeers; i++)
		if (!q->peers[i].done && !q->peers[i].failed && !q->r->closing)
			return;
	struct repl *r = q->r;
	for (struct repl_body_req **pp = &r->pushes; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}

struct push_ctx {
	struct repl_body_req *q;
	int peer;
};

static void
push_reply_cb(void *arg, int status, uint8_t type, const uint8_t *p, size_t len)
{
	struct push_ctx *x = arg;
	struct repl_body_req *q = x->q;
	struct push_peer *pp = &q->peers[x->peer];
	free(x);
	q->inflight--;
	if (status == 0 && type == PROTO_BODY_ACK && len == 12 && wire_rd32(p) == PROTO_OK) {
		pp->offset = wire_rd64(p + 4);
		if (pp->offset >= q->size && !pp->done) {
			pp->done = 1;
			q->acks++;
		}
	} else {
		log_debug("repl", "event=body-push-failed peer=%llu status=%d",
		          (unsigned long long)pp->id, status);
		pp->failed = 1;
	}
	if (q->acks >= q->need) {
		metric_inc(m_pushed);
		push_report(q, 0);
	} else {
		int possible = q->acks;
		for (int i = 0; i < q->npeers; i++)
			if (!q->peers[i].done && !q->peers[i].failed)
				possible++;
		if (possible < q->need)
			push_report(q, REPL_EUNAVAILABLE);
	}
	if (!q->r->closing && !pp->done && !pp->failed)
		push_step(q);
	push_maybe_free(q);
}

static void
push_send(struct repl_body_req *q, int i)
{
	struct push_peer *pp = &q->peers[i];
	size_t chunk = (size_t)MIN((uint64_t)PROTO_CHUNK, q->size - pp->offset);
	uint8_t *buf = xmalloc(48 + chunk);
	memcpy(buf, q->hash, CMD_HASH_LEN);
	wire_be64(buf + 32, q->size);
	wire_be64(buf + 40, pp->offset);
	size_t got = 0;
	while (got < chunk) {
		ssize_t n = pread(q->fd, buf + 48 + got, chunk - got, (off_t)(pp->offset + got));
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < chunk) {
		free(buf);
		pp->failed = 1;
		return;
	}
	struct push_ctx *x = xmalloc(sizeof(*x));
	x->q = q;
	x->peer = i;
	if (cluster_request(q->r->cl, pp->id, PROTO_BODY_PUT, buf, 48 + chunk, PUSH_TIMEOUT_MS,
	                    push_reply_cb, x) != 0) {
		free(x);
		pp->failed = 1;
	} else {
		q->inflight++;
	}
	free(buf);
}

static void
push_step(struct repl_body_req *q)
{
	for (int i = 0; i < q->npeers; i++) {
		struct push_peer *pp = &q->peers[i];
		if (pp->done || pp->failed)
			continue;
		push_send(q, i);
	}
}

struct repl_body_req *
repl_body_push(struct repl *r, const uint8_t hash[CMD_HASH_LEN], uint64_t size, const char *path,
               repl_body_cb cb, void *arg)
{
	repl__bodies_metrics();
	struct repl_body_req *q = xcalloc(1, sizeof(*q));
	q->r = r;
	memcpy(q->hash, hash, CMD_HASH_LEN);
	q->size = size;
	q->cb = cb;
	q->arg = arg;
	q->fd = -1;
	q->deadline = now_mono_ms() + PUSH_DEADLINE_MS;
	q->next = r->pushes;
	r->pushes = q;
	uint64_t voters[PUSH_PEERS_MAX];
	size_t nv = r->started ? repl__voters(r, voters, PUSH_PEERS_MAX) : 0;
	int self_voter = 0;
	for (size_t i = 0; i < nv; i++) {
		if (voters[i] == r->id)
			self_voter = 1;
		else
			q->peers[q->npeers++].id = voters[i];
	}
	q->need = (int)(nv / 2 + 1) - self_voter;
	if (q->need <= 0 || q->npeers == 0) {
		/* A cluster of one: the local fsync was the quorum. Report
		 * from the loop's check phase. */
		q->need = 0;
		repl__wake(r);
		return q;
	}
	char *staged = path ? NULL : repl__staged_path(r, hash);
	q->fd = open(path ? path : staged, O_RDONLY | O_CLOEXEC);
	free(staged);
	if (q->fd < 0) {
		q->need = -1; /* reported as a failure at the next flush */
		repl__wake(r);
		return q;
	}
	push_step(q);
	return q;
}

void
repl_body_cancel(struct repl_body_req *q)
{
	if (q == NULL)
		return;
	q->cb = NULL;
	q->reported = 1;
	push_maybe_free(q);
}

/* Completions that must not run inside repl_body_push. */
void
repl__bodies_flush(struct repl *r)
{
	for (struct repl_body_req *q = r->pushes, *next; q; q = next) {
		next = q->next;
		if (q->reported || (q->need > 0 && q->npeers > 0))
			continue;
		push_report(q, q->need == 0 ? 0 : REPL_EUNAVAILABLE);
		push_maybe_free(q);
	}
}

/* --- receive --------------------------------------------------------- */

static void
ack(struct cluster_call *call, int32_t status, uint64_t offset)
{
	uint8_t b[12];
	wire_be32(b, (uint32_t)status);
	wire_be64(b + 4, offset);
	cluster_reply(call, PROTO_BODY_ACK, b, sizeof(b));
}

static void
xfer_free(struct repl *r, struct repl_body_xfer *x)
{
	for (struct repl_body_xfer **pp = &r->xfers; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (x->fd >= 0)
		close(x->fd);
	if (x->path) {
		unlink(x->path); /* gone after a successful stage anyway */
		free(x->path);
	}
	sha256_free(&x->sha);
	free(x);
}

static void
xfer_staged(struct stage_req *q, int rc)
{
	struct repl_body_xfer *x =
	        (struct repl_body_xfer *)((char *)q - offsetof(struct repl_body_xfer, stage));
	x->staging = 0;
	if (x->call)
		ack(x->call, rc == 0 ? PROTO_OK : PROTO_EFAILED, x->total);
	x->call = NULL;
	xfer_free(x->r, x);
}

static void
body_put(struct repl *r, struct cluster_call *call, uint64_t from, const uint8_t *p, size_t len)
{
	if (len < 48) {
		ack(call, PROTO_EBADREQ, 0);
		return;
	}
	const uint8_t *hash = p;
	uint64_t total = wire_rd64(p + 32), offset = wire_rd64(p + 40);
	const uint8_t *data = p + 48;
	size_t dlen = len - 48;
	struct repl_body_xfer *x = NULL;
	for (x = r->xfers; x; x = x->next)
		if (x->from == from && memcmp(x->hash, hash, CMD_HASH_LEN) == 0)
			break;
	if (offset == 0) {
		if (x != NULL && !x->staging)
			xfer_free(r, x);
		else if (x != NULL) {
			ack(call, PROTO_EFAILED, 0);
			return;
		}
		if (repl__body_present(r, hash)) {
			ack(call, PROTO_OK, total);
			return;
		}
		x = xcalloc(1, sizeof(*x));
		x->r = r;
		x->from = from;
		memcpy(x->hash, hash, CMD_HASH_LEN);
		x->total = total;
		x->fd = store_body_tmp(r->st, &x->path);
		x->sha = sha256_new();
		x->next = r->xfers;
		r->xfers = x;
		if (x->fd < 0) {
			x->path = NULL;
			xfer_free(r, x);
			ack(call, PROTO_EFAILED, 0);
			return;
		}
	}
	if (x == NULL || x->staging || offset != x->offset || total != x->total ||
	    dlen > total - offset) {
		ack(call, PROTO_EFAILED, x ? x->offset : 0);
		return;
	}
	if (write_all(x->fd, data, dlen) != 0) {
		xfer_free(r, x);
		ack(call, PROTO_EFAILED, 0);
		return;
	}
	sha256_update(x->sha, data, dlen);
	x->offset += dlen;
	x->touched_ms = now_mono_ms();
	if (x->offset < x->total) {
		ack(call, PROTO_OK, x->offset);
		return;
	}
	uint8_t got[SHA256_LEN];
	sha256_final(x->sha, got);
	if (memcmp(got, x->hash, CMD_HASH_LEN) != 0) {
		log_warn("repl", "event=body-hash-mismatch from=%llu", (unsigned long long)from);
		xfer_free(r, x);
		ack(call, PROTO_EFAILED, 0);
		return;
	}
	close(x->fd);
	x->fd = -1;
	x->call = call;
	x->staging = 1;
	x->stage.tmp_path = x->path;
	memcpy(x->stage.hash, x->hash, CMD_HASH_LEN);
	x->stage.cb = xfer_staged;
	stager_submit(r->stager, &x->stage);
}

static void
body_get(struct repl *r, struct cluster_call *call, const uint8_t *p, size_t len)
{
	uint8_t hdr[20];
	if (len != 40) {
		wire_be32(hdr, PROTO_EBADREQ);
		cluster_reply(call, PROTO_BODY_DATA, hdr, 4);
		return;
	}
	uint64_t offset = wire_rd64(p + 32);
	int fd = store_body_open(r->st, p);
	if (fd < 0) {
		char *sp = repl__staged_path(r, p);
		fd = open(sp, O_RDONLY | O_CLOEXEC);
		free(sp);
	}
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || offset > (uint64_t)sb.st_size) {
		if (fd >= 0)
			close(fd);
		wire_be32(hdr, PROTO_EMISSING);
		cluster_reply(call, PROTO_BODY_DATA, hdr, 4);
		return;
	}
	size_t chunk = (size_t)MIN((uint64_t)PROTO_CHUNK, (uint64_t)sb.st_size - offset);
	uint8_t *buf = xmalloc(20 + chunk);
	wire_be32(buf, PROTO_OK);
	wire_be64(buf + 4, (uint64_t)sb.st_size);
	wire_be64(buf + 12, offset);
	size_t got = 0;
	while (got < chunk) {
		ssize_t n = pread(fd, buf + 20 + got, chunk - got, (off_t)(offset + got));
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	cluster_reply(call, PROTO_BODY_DATA, buf, 20 + got);
	free(buf);
}

void
repl__bodies_request(struct repl *r, struct cluster_call *call, uint64_t from, uint8_t type,
                     const uint8_t *p, size_t len)
{
	repl__bodies_metrics();
	if (type == PROTO_BODY_PUT)
		body_put(r, call, from, p, len);
	else
		body_get(r, call, p, len);
}

void
repl__bodies_tick(struct repl *r)
{
	uint64_t now = now_mono_ms();
	repl__fetch_tick(r, now);
	for (struct repl_body_xfer *x = r->xfers, *next; x; x = next) {
		next = x->next;
		if (!x->staging && now - x->touched_ms > XFER_IDLE_MS)
			xfer_free(r, x);
	}
	for (struct repl_body_req *q = r->pushes, *next; q; q = next) {
		next = q->next;
		if (!q->reported && now > q->deadline)
			push_report(q, REPL_EUNAVAILABLE);
	}
}

void
repl__bodies_shutdown(struct repl *r)
{
	/* Pushes with requests in flight are freed by their last reply,
	 * which the cluster delivers (as a failure) when it closes. */
	for (struct repl_body_req *q = r->pushes, *next; q; q = next) {
		next = q->next;
		push_report(q, REPL_ESHUTDOWN);
		push_maybe_free(q);
	}
	for (struct repl_body_xfer *x = r->xfers, *next; x; x = next) {
		next = x->next;
		if (!x->staging)
			xfer_free(r, x);
	}
	repl__fetch_shutdown(r);
}

void
repl__bodies_free(struct repl *r)
{
	while (r->pushes) {
		struct repl_body_req *q = r->pushes;
		r->pushes = q->next;
		if (q->fd >= 0)
			close(q->fd);
		free(q);
	}
	while (r->xfers)
		xfer_free(r, r->xfers);
	repl__fetch_free(r);
}
