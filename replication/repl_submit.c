/*
 * repl_submit: submissions from sessions, their proposal on the leader,
 * their forwarding from followers, and their completion when the local
 * store applied them. See repl.h for the contract.
 *
 * Every outstanding batch is kept by request id. On the leader, batches
 * queued during a loop iteration become one raft entry (a frame of
 * batches) at its end. On a follower, each is sent to the leader
 * (PROTO_FWD); the leader proposes it and answers when its own store has
 * applied it; the follower's callback waits for its own store. A batch
 * whose proposal failed, or whose leader went away, is proposed again with
 * the same request id (apply() takes it once) until its deadline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/metrics.h"
#include "replication/proto.h"
#include "replication/repl_internal.h"

#define REPL_ENTRY_MAX      (4u * 1024 * 1024)
#define REPL_COMMITTED_WAIT 30000
#define REPL_FWD_TIMEOUT_MS 5000

static struct metric *m_submitted, *m_forwarded, *m_failed, *m_latency;

static void
repl_submit_metrics(void)
{
	if (m_submitted)
		return;
	m_submitted = metric_counter("mailnode_writes_total", "result=\"submitted\"",
	                             "Write batches submitted through raft");
	m_failed = metric_counter("mailnode_writes_total", "result=\"failed\"",
	                          "Write batches submitted through raft");
	m_forwarded = metric_counter("mailnode_writes_forwarded_total", NULL,
	                             "Write batches forwarded to the leader");
	m_latency =
	        metric_histogram("mailnode_write_seconds", NULL, "From submission to local apply",
	                         metric_latency_bounds, metric_latency_nbounds);
}

static size_t
bucket_of(const uint8_t *id)
{
	return (size_t)(wire_rd32(id) % REPL_REQ_BUCKETS);
}

static struct repl_req *
req_find(struct repl *r, const uint8_t *id)
{
	for (struct repl_req *q = r->buckets[bucket_of(id)]; q; q = q->hnext)
		if (memcmp(q->reqid, id, CMD_REQID_LEN) == 0)
			return q;
	return NULL;
}

static void
req_insert(struct repl *r, struct repl_req *q)
{
	size_t b = bucket_of(q->reqid);
	q->hnext = r->buckets[b];
	r->buckets[b] = q;
	q->qnext = r->reqs;
	r->reqs = q;
	r->nreqs++;
}

static void
req_remove(struct repl *r, struct repl_req *q)
{
	for (struct repl_req **pp = &r->buckets[bucket_of(q->reqid)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == q) {
			*pp = q->hnext;
			break;
		}
	}
	for (struct repl_req **pp = &r->reqs; *pp; pp = &(*pp)->qnext) {
		if (*pp == q) {
			*pp = q->qnext;
			break;
		}
	}
	r->nreqs--;
	free(q->batch);
	free(q);
}

static void
fwd_answer(struct cluster_call *call, int32_t status, uint64_t leader, uint64_t index)
{
	uint8_t b[20];
	wire_be32(b, (uint32_t)status);
	wire_be64(b + 4, leader);
	wire_be64(b + 12, index);
	cluster_reply(call, PROTO_FWD_ACK, b, sizeof(b));
}

/* Finish a request with a failure. */
static void
req_fail(struct repl *r, struct repl_req *q, int status)
{
	if (q->fwd_call) {
		fwd_answer(q->fwd_call, status == REPL_ETOOBIG ? PROTO_EBADREQ : PROTO_EUNKNOWN,
		           repl__leader(r), 0);
		q->fwd_call = NULL;
	}
	repl_submit_cb cb = q->canceled ? NULL : q->cb;
	void *arg = q->arg;
	req_remove(r, q);
	if (cb) {
		metric_inc(m_failed);
		cb(arg, status, NULL);
	}
}

struct repl_req *
repl_submit(struct repl *r, const struct cmd_batch *b, repl_submit_cb cb, void *arg)
{
	repl_submit_metrics();
	size_t len;
	const uint8_t *data = cmd_batch_data(b, &len);
	struct repl_req *q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	q->deadline = now_mono_ms() + REPL_SUBMIT_DEADLINE_MS;
	q->started_us = now_mono_us();
	memcpy(q->reqid, b->hdr.reqid, CMD_REQID_LEN);
	q->batch = xmalloc(len);
	memcpy(q->batch, data, len);
	q->len = len;
	q->state = RQ_QUEUED;
	if (req_find(r, q->reqid) != NULL)
		panic("repl: request id submitted twice");
	req_insert(r, q);
	metric_inc(m_submitted);
	if (b->err || len + 64 > REPL_ENTRY_MAX)
		q->deadline = 0; /* fails at the next flush */
	repl__wake(r);
	return q;
}

void
repl_cancel(struct repl_req *q)
{
	if (q == NULL)
		return;
	q->canceled = 1;
	q->cb = NULL;
}

/* --- proposing on the leader ----------------------------------------- */

struct repl_apply {
	struct raft_apply req;
	struct repl *r;
	size_t n;
	uint8_t ids[][CMD_REQID_LEN];
};

static void
repl_apply_cb(struct raft_apply *req, int status, void *result)
{
	struct repl_apply *a = (struct repl_apply *)req;
	struct repl *r = a->r;
	if (status != 0) {
		log_info("repl", "event=proposal-failed status=\"%s\" batches=%zu",
		         raft_strerror(status), a->n);
		for (size_t i = 0; i < a->n; i++) {
			struct repl_req *q = req_find(r, a->ids[i]);
			if (q && q->state == RQ_INFLIGHT)
				q->state = RQ_QUEUED; /* outcome unknown: propose again */
		}
		if (!r->closing)
			repl__wake(r);
	}
	free(a);
}

static void
repl_propose(struct repl *r)
{
	for (;;) {
		struct nbuf frame;
		size_t n = 0, bytes = 8;
		for (struct repl_req *q = r->reqs; q; q = q->qnext) {
			if (q->state != RQ_QUEUED)
				continue;
			if (n > 0 &&
			    (bytes + q->len + 4 > REPL_ENTRY_MAX || n >= CMD_FRAME_BATCHES_MAX))
				break;
			bytes += q->len + 4;
			n++;
		}
		if (n == 0)
			return;
		struct repl_apply *a = xmalloc(sizeof(*a) + n * CMD_REQID_LEN);
		a->r = r;
		a->n = 0;
		a->req.data = a;
		nbuf_init(&frame, bytes);
		struct wire_writer w;
		wire_writer_init(&w, &frame);
		wire_put_u32(&w, CMD_FRAME_MAGIC);
		wire_put_u32(&w, (uint32_t)n);
		for (struct repl_req *q = r->reqs; q && a->n < n; q = q->qnext) {
			if (q->state != RQ_QUEUED)
				continue;
			wire_put_bytes(&w, q->batch, (uint32_t)q->len);
			memcpy(a->ids[a->n++], q->reqid, CMD_REQID_LEN);
			q->state = RQ_INFLIGHT;
		}
		struct raft_buffer buf;
		size_t flen = nbuf_avail(&frame);
		buf.len = (flen + CMD_FRAME_ALIGN - 1) & ~(size_t)(CMD_FRAME_ALIGN - 1);
		buf.base = raft_malloc(buf.len);
		memcpy(buf.base, nbuf_head(&frame), flen);
		memset((char *)buf.base + flen, 0, buf.len - flen);
		nbuf_deinit(&frame);
		int rc = raft_apply(&r->raft, &a->req, &buf, 1, repl_apply_cb);
		if (rc != 0) {
			raft_free(buf.base);
			for (size_t i = 0; i < a->n; i++) {
				struct repl_req *q = req_find(r, a->ids[i]);
				if (q)
					q->state = RQ_QUEUED;
			}
			free(a);
			log_debug("repl", "event=propose-refused error=\"%s\"", raft_strerror(rc));
			return;
		}
		uint64_t now = now_mono_ms();
		r->proposed++;
		r->propose_gap_ms = now - r->proposed_ms;
		r->proposed_ms = now;
	}
}

static void
notify_cb(struct raft_barrier *req, int status)
{
	struct repl *r = req->data;
	r->notify_pending = 0;
}

static void
notify_timer_cb(uv_timer_t *t)
{
	struct repl *r = t->data;
	if (r->proposed != r->proposed_then || r->notify_pending || r->closing ||
	    !repl__is_leader(r))
		return; /* an entry went out since, carrying the commit index */
	r->notify.data = r;
	if (raft_barrier(&r->raft, &r->notify, notify_cb) == 0)
		r->notify_pending = 1;
}

/* The followers whose forwarded writes this leader answered wait for
 * their own apply, so for the commit index, which raft sends only with
 * its next append (a heartbeat every 100 ms when idle). If no entry is
 * proposed soon, a barrier carries it: after REPL_NOTIFY_MS when entries
 * are rare, after REPL_NOTIFY_BUSY_MS when they come faster than that (the
 * next one is then likely to come first, and a barrier would cost every
 * node a log write). One at a time. */
static void
repl_notify_later(struct repl *r)
{
	r->proposed_then = r->proposed;
	if (r->notify_pending || r->closing || uv_is_active((uv_handle_t *)&r->notify_timer))
		return;
	uint64_t wait =
	        r->propose_gap_ms < REPL_NOTIFY_BUSY_MS ? REPL_NOTIFY_BUSY_MS : REPL_NOTIFY_MS;
	uv_timer_start(&r->notify_timer, notify_timer_cb, wait, 0);
}

/* --- forwarding from a follower ------------------------------------- */

struct fwd_ctx {
	struct repl *r;
	uint8_t id[CMD_REQID_LEN];
};

static void
fwd_reply_cb(void *arg, int status, uint8_t type, const uint8_t *p, size_t len)
{
	struct fwd_ctx *x = arg;
	struct repl *r = x->r;
	struct repl_req *q = r->closing ? NULL : req_find(r, x->id);
	free(x);
	if (q == NULL || q->state != RQ_FORWARDED)
		return;
	if (status != 0 || type != PROTO_FWD_ACK || len != 20) {
		q->state = RQ_QUEUED;
		return;
	}
	int32_t st = (int32_t)wire_rd32(p);
	if (st == PROTO_OK) {
		q->state = RQ_COMMITTED;
		q->deadline = now_mono_ms() + REPL_COMMITTED_WAIT;
	} else if (st == PROTO_EBADREQ) {
		req_fail(r, q, REPL_ETOOBIG);
	} else {
		q->state = RQ_QUEUED;
	}
}

static void
repl_forward(struct repl *r, uint64_t leader)
{
	for (struct repl_req *q = r->reqs; q; q = q->qnext) {
		if (q->state != RQ_QUEUED || q->fwd_call)
			continue;
		struct fwd_ctx *x = xmalloc(sizeof(*x));
		x->r = r;
		memcpy(x->id, q->reqid, CMD_REQID_LEN);
		if (cluster_request(r->cl, leader, PROTO_FWD, q->batch, q->len, REPL_FWD_TIMEOUT_MS,
		                    fwd_reply_cb, x) != 0) {
			free(x);
			continue;
		}
		q->state = RQ_FORWARDED;
		metric_inc(m_forwarded);
	}
}

void
repl__forward_request(struct repl *r, struct cluster_call *call, const uint8_t *p, size_t len)
{
	repl_submit_metrics();
	struct cmd_batch_iter it;
	if (len + 64 > REPL_ENTRY_MAX || cmd_batch_iter_init(&it, p, len) != 0) {
		fwd_answer(call, PROTO_EBADREQ, 0, 0);
		return;
	}
	if (!repl__is_leader(r)) {
		fwd_answer(call, PROTO_ENOTLEADER, repl__leader(r), 0);
		return;
	}
	struct repl_req *q = req_find(r, it.hdr.reqid);
	if (q != NULL) {
		/* A retry of a batch still outstanding here: answer the newest
		 * asker; tell the old one to ask again. */
		if (q->fwd_call)
			fwd_answer(q->fwd_call, PROTO_EUNKNOWN, r->id, 0);
		q->fwd_call = call;
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->fwd_call = call;
	q->deadline = now_mono_ms() + REPL_SUBMIT_DEADLINE_MS;
	q->started_us = now_mono_us();
	memcpy(q->reqid, it.hdr.reqid, CMD_REQID_LEN);
	q->batch = xmalloc(len);
	memcpy(q->batch, p, len);
	q->len = len;
	q->state = RQ_QUEUED;
	req_insert(r, q);
	repl__wake(r);
}

/* --- driving --------------------------------------------------------- */

void
repl__submit_flush(struct repl *r)
{
	if (r->nreqs == 0)
		return;
	/* Batches that cannot go anywhere. */
	for (struct repl_req *q = r->reqs, *next; q; q = next) {
		next = q->qnext;
		if (q->deadline == 0)
			req_fail(r, q, REPL_ETOOBIG);
	}
	if (repl__is_leader(r)) {
		repl_propose(r);
		return;
	}
	/* Not the leader: forwarded batches go back to their senders. */
	for (struct repl_req *q = r->reqs, *next; q; q = next) {
		next = q->qnext;
		if (q->fwd_call && q->state == RQ_QUEUED) {
			fwd_answer(q->fwd_call, PROTO_ENOTLEADER, repl__leader(r), 0);
			q->fwd_call = NULL;
			req_remove(r, q);
		}
	}
	uint64_t leader = repl__leader(r);
	if (leader != 0 && leader != r->id)
		repl_forward(r, leader);
}

void
repl__submit_tick(struct repl *r)
{
	uint64_t now = now_mono_ms();
	int queued = 0;
	for (struct repl_req *q = r->reqs, *next; q; q = next) {
		next = q->qnext;
		if (q->state != RQ_INFLIGHT && now > q->deadline) {
			log_info("repl", "event=write-unavailable state=%d", (int)q->state);
			req_fail(r, q, REPL_EUNAVAILABLE);
			continue;
		}
		if (q->state == RQ_QUEUED)
			queued = 1;
	}
	if (queued)
		repl__wake(r);
}

void
repl__applied(void *arg, const struct cmd_batch_hdr *hdr, struct cmd_results *rs)
{
	struct repl *r = arg;
	struct repl_req *q = req_find(r, hdr->reqid);
	if (q == NULL) {
		cmd_results_free(&rs);
		return;
	}
	if (q->fwd_call) {
		fwd_answer(q->fwd_call, PROTO_OK, r->id, rs->index);
		q->fwd_call = NULL;
		repl_notify_later(r);
	}
	metric_observe(m_latency, (double)(now_mono_us() - q->started_us) / 1e6);
	repl_submit_cb cb = q->canceled ? NULL : q->cb;
	void *cbarg = q->arg;
	req_remove(r, q);
	if (cb)
		cb(cbarg, REPL_OK, rs);
	else
		cmd_results_free(&rs);
}

void
repl__submit_shutdown(struct repl *r)
{
	while (r->reqs) {
		struct repl_req *q = r->reqs;
		if (q->fwd_call) {
			fwd_answer(q->fwd_call, PROTO_EUNKNOWN, 0, 0);
			q->fwd_call = NULL;
		}
		repl_submit_cb cb = q->canceled ? NULL : q->cb;
		void *arg = q->arg;
		req_remove(r, q);
		if (cb)
			cb(arg, REPL_ESHUTDOWN, NULL);
	}
}

void
repl__submit_free(struct repl *r)
{
	while (r->reqs) {
		struct repl_req *q = r->reqs;
		if (q->fwd_call) {
			cluster_reply(q->fwd_call, PROTO_FWD_ACK, NULL, 0);
			q->fwd_call = NULL;
		}
		req_remove(r, q);
	}
}
