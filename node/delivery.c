/*
 * delivery: recipients, the body, the stage driver, the outcome, its log
 * lines and metrics. See delivery.h for the pipeline.
 *
 * Happy path: delivery_new at MAIL FROM; delivery_rcpt_add per RCPT
 * (resolve, synchronous: one short read transaction); delivery_body_begin
 * and _write while the data streams in; delivery_run at the end of data
 * drives the stages, each of which may finish now or later; when the last
 * one is done every recipient gets a status from the users it reached, one
 * log line per (recipient, user) is written and the callback runs.
 *
 * A recipient reaching several users (an alias) is accepted when at least
 * one of them got the message; when none did, a temporary failure wins
 * over a permanent one, so that a retry can still deliver. Users already
 * served are not served twice on a retry only if the sender's retry is
 * for the failed recipients alone, which is what LMTP clients do with
 * per-recipient replies (RFC 2033 §4.2).
 *
 * Failure modes: a body too big or not writable ends the delivery at
 * once (delivery_run returns 1); the body not durable on a quorum, or the
 * store unable to commit (no leader, deadline), is a temporary failure
 * for every recipient; per-user results (quota, user gone) come from the
 * store's apply() and differ per recipient.
 */
#include "node/delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/delivery_internal.h"
#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/msgin.h"
#include "node/node.h"
#include "node/recipient.h"
#include "node/store/store.h"
#include "replication/repl.h"

/* The message stages, run in this order at the end of data (resolve ran
 * per recipient already). */
static const struct {
	const char *name;
	void (*run)(struct delivery *d);
} delivery_stages[] = {
        {"body", delivery__stage_body},
        {"scan", delivery__stage_scan},
        {"filter", delivery__stage_filter},
        {"store", delivery__stage_store},
};

static struct {
	struct metric *accepted, *deferred, *rejected;
	struct metric *bytes, *latency;
} dm;

static const char *const status_names[DELIVERY_STATUS_MAX] = {
        [DELIVERY_OK] = "ok",
        [DELIVERY_EUNKNOWN] = "unknown user",
        [DELIVERY_EQUOTA] = "over quota",
        [DELIVERY_ETOOBIG] = "message too big",
        [DELIVERY_ETEMP] = "store unavailable",
        [DELIVERY_ELOOP] = "alias nesting too deep",
        [DELIVERY_ETOOMANY] = "too many recipients",
};

const char *
delivery_status_name(enum delivery_status st)
{
	return (unsigned)st < DELIVERY_STATUS_MAX ? status_names[st] : "?";
}

int
delivery_status_temporary(enum delivery_status st)
{
	return st == DELIVERY_EQUOTA || st == DELIVERY_ETEMP || st == DELIVERY_ETOOMANY;
}

static void
delivery_metrics_init(void)
{
	if (dm.accepted)
		return;
	const char *help = "Recipients of delivered messages by outcome";
	dm.accepted = metric_counter("mailnode_deliveries_total", "result=\"accepted\"", help);
	dm.deferred = metric_counter("mailnode_deliveries_total", "result=\"deferred\"", help);
	dm.rejected = metric_counter("mailnode_deliveries_total", "result=\"rejected\"", help);
	dm.bytes = metric_counter("mailnode_delivery_bytes_total", NULL,
	                          "Bytes of messages stored by deliveries (once per message)");
	dm.latency = metric_histogram("mailnode_delivery_seconds", NULL,
	                              "From the end of data to every recipient's outcome",
	                              metric_latency_bounds, metric_latency_nbounds);
}

static void
count_outcome(enum delivery_status st)
{
	if (st == DELIVERY_OK)
		metric_inc(dm.accepted);
	else if (delivery_status_temporary(st))
		metric_inc(dm.deferred);
	else
		metric_inc(dm.rejected);
}

static const char *
result_name(enum delivery_status st)
{
	return st == DELIVERY_OK               ? "accepted"
	       : delivery_status_temporary(st) ? "deferred"
	                                       : "rejected";
}

struct delivery *
delivery_new(const char *proto, const char *peer, const char *sender)
{
	delivery_metrics_init();
	struct delivery *d = xcalloc(1, sizeof(*d));
	uint8_t r[DELIVERY_TRACE_LEN / 2];
	if (random_bytes(r, sizeof(r)) != 0) {
		uint64_t t = now_wall_ms() ^ ((uint64_t)(uintptr_t)d << 16);
		memcpy(r, &t, MIN(sizeof(r), sizeof(t)));
	}
	hex_encode(r, sizeof(r), d->trace);
	d->proto = proto;
	snprintf(d->peer, sizeof(d->peer), "%s", peer);
	d->sender = xstrdup(sender);
	return d;
}

const char *
delivery_trace_id(const struct delivery *d)
{
	return d->trace;
}

/* --- recipients ------------------------------------------------------ */

static void
log_refused(struct delivery *d, const char *address, size_t len, enum delivery_status st)
{
	count_outcome(st);
	log_info("delivery",
	         "event=delivery trace=%s proto=%s peer=%s from=<%s> rcpt=<%.*s> result=%s "
	         "error=\"%s\" stage=resolve",
	         d->trace, d->proto, d->peer, d->sender, (int)MIN(len, 320), address,
	         result_name(st), delivery_status_name(st));
}

static size_t
user_find(const struct delivery *d, uint32_t id)
{
	for (size_t i = 0; i < d->nusers; i++)
		if (d->users[i].id == id)
			return i;
	return SIZE_MAX;
}

enum delivery_status
delivery_rcpt_add(struct delivery *d, const char *address, size_t len)
{
	struct node *n = node_get();
	struct store_txn *t;
	struct recipient rc;
	enum delivery_status st = DELIVERY_OK;
	if (n == NULL || n->store == NULL || store_read_begin(n->store, &t) != 0) {
		log_refused(d, address, len, DELIVERY_ETEMP);
		return DELIVERY_ETEMP;
	}
	int found = recipient_resolve(t, address, len, &rc);
	store_read_end(&t);
	switch (found) {
	case 1:
		break;
	case 0:
		st = DELIVERY_EUNKNOWN;
		break;
	case RECIPIENT_ELOOP:
		st = DELIVERY_ELOOP;
		break;
	case RECIPIENT_ETOOMANY:
		st = DELIVERY_ETOOMANY;
		break;
	default:
		st = DELIVERY_ETEMP;
		break;
	}
	size_t fresh = 0;
	for (size_t i = 0; st == DELIVERY_OK && i < rc.nusers; i++)
		fresh += user_find(d, rc.users[i].id) == SIZE_MAX;
	if (st == DELIVERY_OK && d->nusers + fresh > DELIVERY_USERS_MAX)
		st = DELIVERY_ETOOMANY;
	if (st != DELIVERY_OK) {
		log_refused(d, address, len, st);
		recipient_deinit(&rc);
		return st;
	}
	d->rcpts = xrealloc(d->rcpts, (d->nrcpts + 1) * sizeof(*d->rcpts));
	struct delivery_rcpt *r = &d->rcpts[d->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->address = xstrndup(address, len);
	r->detail = xstrdup(rc.detail);
	r->via = rc.via;
	r->users = xcalloc(rc.nusers, sizeof(*r->users));
	if (fresh > 0)
		d->users = xrealloc(d->users, (d->nusers + fresh) * sizeof(*d->users));
	for (size_t i = 0; i < rc.nusers; i++) {
		size_t k = user_find(d, rc.users[i].id);
		if (k == SIZE_MAX) {
			k = d->nusers++;
			memset(&d->users[k], 0, sizeof(d->users[k]));
			d->users[k].id = rc.users[i].id;
			d->users[k].address = xstrdup(rc.users[i].address);
		}
		r->users[r->nusers++] = (uint32_t)k;
	}
	recipient_deinit(&rc);
	return DELIVERY_OK;
}

size_t
delivery_rcpt_count(const struct delivery *d)
{
	return d->nrcpts;
}

const char *
delivery_rcpt_address(const struct delivery *d, size_t i)
{
	return i < d->nrcpts ? d->rcpts[i].address : NULL;
}

enum delivery_status
delivery_rcpt_status(const struct delivery *d, size_t i)
{
	return i < d->nrcpts ? d->rcpts[i].status : DELIVERY_ETEMP;
}

/* --- body ------------------------------------------------------------ */

int
delivery_body_begin(struct delivery *d, uint64_t max_size, const void *hdr, size_t hlen)
{
	struct node *n = node_get();
	if (d->body != NULL || hlen > DELIVERY_HEADER_MAX)
		return -EINVAL;
	d->max_size = max_size;
	d->body = n && n->store ? msgin_new(n->store, max_size + DELIVERY_HEADER_MAX) : NULL;
	if (d->body == NULL || msgin_write(d->body, hdr, hlen) != 0) {
		d->body_failed = 1;
		msgin_free(&d->body);
		return -EIO;
	}
	return 0;
}

int
delivery_body_write(struct delivery *d, const void *p, size_t n)
{
	d->received += n;
	if (d->too_big)
		return -EFBIG;
	if (d->received > d->max_size) {
		/* Drop what was written at once: nothing of it will be kept. */
		d->too_big = 1;
		msgin_free(&d->body);
		return -EFBIG;
	}
	if (d->body_failed || d->body == NULL) {
		d->body_failed = 1;
		return -EIO;
	}
	if (msgin_write(d->body, p, n) != 0) {
		d->body_failed = 1;
		msgin_free(&d->body);
		return -EIO;
	}
	return 0;
}

uint64_t
delivery_body_received(const struct delivery *d)
{
	return d->received;
}

int
delivery_body_status(const struct delivery *d)
{
	if (d->too_big)
		return -EFBIG;
	return d->body_failed || d->body == NULL ? -EIO : 0;
}

/* --- outcome --------------------------------------------------------- */

static enum delivery_status
rcpt_outcome(const struct delivery *d, const struct delivery_rcpt *r)
{
	enum delivery_status temp = DELIVERY_OK, perm = DELIVERY_OK;
	for (uint32_t i = 0; i < r->nusers; i++) {
		enum delivery_status st = d->users[r->users[i]].status;
		if (st == DELIVERY_OK)
			return DELIVERY_OK;
		if (delivery_status_temporary(st)) {
			if (temp == DELIVERY_OK || st == DELIVERY_EQUOTA)
				temp = st;
		} else if (perm == DELIVERY_OK) {
			perm = st;
		}
	}
	if (temp != DELIVERY_OK)
		return temp;
	return perm != DELIVERY_OK ? perm : DELIVERY_ETEMP;
}

static void
delivery_log_outcome(struct delivery *d, uint64_t elapsed_us)
{
	unsigned long long ms = (unsigned long long)(elapsed_us / 1000);
	unsigned long long size = (unsigned long long)(d->size ? d->size : d->received);
	for (size_t i = 0; i < d->nrcpts; i++) {
		struct delivery_rcpt *r = &d->rcpts[i];
		r->status = rcpt_outcome(d, r);
		count_outcome(r->status);
		for (uint32_t k = 0; k < r->nusers; k++) {
			struct delivery_user *u = &d->users[r->users[k]];
			if (u->status == DELIVERY_OK)
				log_info("delivery",
				         "event=delivery trace=%s proto=%s peer=%s from=<%s> "
				         "rcpt=<%s> via=%s user=%s mailbox=%s uid=%" PRIu32
				         " size=%llu ms=%llu result=accepted",
				         d->trace, d->proto, d->peer, d->sender, r->address, r->via,
				         u->address, u->mailbox ? u->mailbox : "-", u->uid, size,
				         ms);
			else
				log_info("delivery",
				         "event=delivery trace=%s proto=%s peer=%s from=<%s> "
				         "rcpt=<%s> via=%s user=%s size=%llu ms=%llu result=%s "
				         "error=\"%s\"",
				         d->trace, d->proto, d->peer, d->sender, r->address, r->via,
				         u->address, size, ms, result_name(u->status),
				         delivery_status_name(u->status));
		}
	}
}

static void
delivery_conclude(struct delivery *d)
{
	uint64_t elapsed = d->data_end_us ? now_mono_us() - d->data_end_us : 0;
	d->done = 1;
	delivery_log_outcome(d, elapsed);
	int stored = 0;
	for (size_t i = 0; i < d->nusers; i++)
		stored |= d->users[i].status == DELIVERY_OK;
	if (stored)
		metric_add(dm.bytes, d->size);
	metric_observe(dm.latency, (double)elapsed / 1e6);
}

void
delivery_fail(struct delivery *d, enum delivery_status st)
{
	for (size_t i = 0; i < d->nusers; i++)
		if (d->users[i].status == DELIVERY_OK)
			d->users[i].status = st;
	d->stage = ARRAY_SIZE(delivery_stages);
	msgin_free(&d->body);
	delivery_conclude(d);
}

/* --- the stage driver ------------------------------------------------ */

static void
delivery_drive(struct delivery *d)
{
	d->in_driver = 1;
	while (d->stage < ARRAY_SIZE(delivery_stages)) {
		d->advanced = 0;
		log_debug("delivery", "event=stage trace=%s stage=%s", d->trace,
		          delivery_stages[d->stage].name);
		delivery_stages[d->stage].run(d);
		if (!d->advanced) {
			d->in_driver = 0;
			return; /* the stage finishes later */
		}
	}
	d->in_driver = 0;
	delivery_conclude(d);
	d->cb(d->arg, d); /* may free d */
}

void
delivery__stage_done(struct delivery *d, enum delivery_status st)
{
	if (st != DELIVERY_OK) {
		for (size_t i = 0; i < d->nusers; i++)
			if (d->users[i].status == DELIVERY_OK)
				d->users[i].status = st;
		d->stage = ARRAY_SIZE(delivery_stages);
	} else {
		d->stage++;
	}
	if (d->in_driver) {
		d->advanced = 1;
		return;
	}
	delivery_drive(d);
}

int
delivery_run(struct delivery *d, delivery_done_cb cb, void *arg)
{
	d->data_end_us = now_mono_us();
	if (d->too_big || d->body_failed || d->body == NULL) {
		delivery_fail(d, d->too_big ? DELIVERY_ETOOBIG : DELIVERY_ETEMP);
		return 1;
	}
	d->size = msgin_size(d->body);
	d->cb = cb;
	d->arg = arg;
	d->stage = 0;
	/* The body stage never finishes inside this call (msgin_finish
	 * answers from the loop), so neither does the callback. */
	delivery_drive(d);
	return 0;
}

void
delivery_free(struct delivery **pd)
{
	struct delivery *d = *pd;
	if (d == NULL)
		return;
	*pd = NULL;
	if (d->req)
		repl_cancel(d->req);
	msgin_free(&d->body);
	for (size_t i = 0; i < d->nrcpts; i++) {
		free(d->rcpts[i].address);
		free(d->rcpts[i].detail);
		free(d->rcpts[i].users);
	}
	free(d->rcpts);
	for (size_t i = 0; i < d->nusers; i++)
		free(d->users[i].address);
	free(d->users);
	free(d->sender);
	free(d);
}
