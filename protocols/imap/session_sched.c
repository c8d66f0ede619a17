/*
 * session_sched: what an IMAP session waits for, and what runs it again.
 *
 * - Waiting: a command that cannot answer at once pauses the connection's
 *   input (pipelined commands stay buffered, RFC 3501 §5.5) and resumes it
 *   when it answered.
 * - Deferring: a long FETCH yields the loop after IMAP_RUN_MSGS_MAX
 *   messages; the deferred sessions run again from one shared uv_idle
 *   handle at the next iteration. No session owns a timer or handle.
 * - Throttle: a token bucket per session of imap.commands_per_second
 *   (burst twice that, 0 turns it off); a session out of tokens stops
 *   being read and one shared timer resumes it when it has tokens again.
 *   Slowing down instead of refusing keeps well-behaved pipelining
 *   clients working.
 * - Submitting: a batch goes to repl_submit; the callback runs after this
 *   node applied it (read-your-writes), or with REPL_EUNAVAILABLE, which
 *   becomes NO [UNAVAILABLE] (RFC 5530 §3).
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/cmd.h"
#include "protocols/imap/imap_private.h"
#include "replication/repl.h"

#define IMAP_THROTTLE_TICK_MS 50
#define IMAP_RATE_CACHE_MS    1000

static struct {
	uv_idle_t idle;
	uv_timer_t timer;
	int ready;
	struct imap_session *deferred;  /* IMAP_W_DEFER, run at the next iteration */
	struct imap_session *throttled; /* IMAP_W_THROTTLE */
	uint64_t rate;                  /* commands per second, 0: unlimited */
	uint64_t rate_read_ms;
} sched;

static void sched_idle_cb(uv_idle_t *h);
static void sched_timer_cb(uv_timer_t *t);

void
imap__sched_init(struct node *n)
{
	memset(&sched, 0, sizeof(sched));
	uv_idle_init(n->loop, &sched.idle);
	uv_timer_init(n->loop, &sched.timer);
	/* Neither keeps the loop alive: the node's shutdown walk closes them. */
	uv_unref((uv_handle_t *)&sched.idle);
	uv_unref((uv_handle_t *)&sched.timer);
	sched.ready = 1;
	sched.rate = IMAP_RATE_DEFAULT;
}

void
imap__sched_deinit(void)
{
	sched.ready = 0;
	sched.deferred = sched.throttled = NULL;
}

static void
list_remove(struct imap_session **head, struct imap_session *s)
{
	for (struct imap_session **pp = head; *pp; pp = &(*pp)->next_queued) {
		if (*pp == s) {
			*pp = s->next_queued;
			s->next_queued = NULL;
			return;
		}
	}
}

void
imap__sched_forget(struct imap_session *s)
{
	if (s->flags & IMAP_SF_QUEUED) {
		list_remove(&sched.deferred, s);
		list_remove(&sched.throttled, s);
		s->flags &= ~(uint32_t)IMAP_SF_QUEUED;
	}
	if (s->req) {
		repl_cancel(s->req);
		s->req = NULL;
	}
}

void
imap__wait(struct imap_session *s, enum imap_wait w)
{
	s->wait = (uint8_t)w;
	conn_pause(s->conn);
}

void
imap__resume(struct imap_session *s)
{
	s->wait = IMAP_W_NONE;
	if (!(s->flags & IMAP_SF_DRAIN_WAIT))
		conn_resume(s->conn); /* delivers from the loop, never from here */
}

/* --- deferred continuations ------------------------------------------ */

void
imap__defer(struct imap_session *s, imap_cont_fn *fn)
{
	s->cont = fn;
	imap__wait(s, IMAP_W_DEFER);
	if (!sched.ready || (s->flags & IMAP_SF_QUEUED))
		return;
	s->flags |= IMAP_SF_QUEUED;
	s->next_queued = sched.deferred;
	sched.deferred = s;
	if (!uv_is_active((uv_handle_t *)&sched.idle))
		uv_idle_start(&sched.idle, sched_idle_cb);
}

static void
sched_idle_cb(uv_idle_t *h)
{
	struct imap_session *list = sched.deferred;
	sched.deferred = NULL;
	/* Sessions deferred again while this runs go to the next round. */
	while (list != NULL) {
		struct imap_session *s = list;
		list = s->next_queued;
		s->next_queued = NULL;
		s->flags &= ~(uint32_t)IMAP_SF_QUEUED;
		if (conn_closing(s->conn) || s->wait != IMAP_W_DEFER)
			continue;
		imap_cont_fn *fn = s->cont;
		s->wait = IMAP_W_NONE;
		if (fn != NULL)
			fn(s);
	}
	if (sched.deferred == NULL)
		uv_idle_stop(&sched.idle);
}

/* --- commands per second --------------------------------------------- */

static uint64_t
sched_rate(void)
{
	uint64_t now = now_mono_ms();
	if (now - sched.rate_read_ms >= IMAP_RATE_CACHE_MS || sched.rate_read_ms == 0) {
		sched.rate = imap__config_u64("imap.commands_per_second", IMAP_RATE_DEFAULT);
		sched.rate_read_ms = now;
	}
	return sched.rate;
}

static void
rate_refill(struct imap_session *s, uint64_t rate, uint64_t now)
{
	uint64_t burst = rate * 2;
	uint64_t dt = now - s->rate_ms;
	uint64_t add = dt * rate / 1000;
	if (s->rate_tokens > burst)
		s->rate_tokens = (uint32_t)MIN(burst, (uint64_t)UINT32_MAX);
	if (add == 0)
		return;
	s->rate_tokens =
	        (uint32_t)MIN(burst, MIN((uint64_t)s->rate_tokens + add, (uint64_t)UINT32_MAX));
	s->rate_ms = now;
}

int
imap__rate_take(struct imap_session *s)
{
	uint64_t rate = sched_rate();
	if (rate == 0)
		return 1;
	rate_refill(s, rate, now_mono_ms());
	if (s->rate_tokens > 0) {
		s->rate_tokens--;
		return 1;
	}
	if (!sched.ready)
		return 1;
	log_debug("imap", "event=throttled user=%s peer=%s", s->user ? s->user : "-",
	          s->conn->peer);
	imap__wait(s, IMAP_W_THROTTLE);
	s->flags |= IMAP_SF_QUEUED;
	s->next_queued = sched.throttled;
	sched.throttled = s;
	if (!uv_is_active((uv_handle_t *)&sched.timer))
		uv_timer_start(&sched.timer, sched_timer_cb, IMAP_THROTTLE_TICK_MS,
		               IMAP_THROTTLE_TICK_MS);
	return 0;
}

static void
sched_timer_cb(uv_timer_t *t)
{
	uint64_t rate = sched_rate(), now = now_mono_ms();
	struct imap_session **pp = &sched.throttled;
	while (*pp != NULL) {
		struct imap_session *s = *pp;
		if (rate != 0)
			rate_refill(s, rate, now);
		if (rate == 0 || s->rate_tokens > 0 || conn_closing(s->conn)) {
			*pp = s->next_queued;
			s->next_queued = NULL;
			s->flags &= ~(uint32_t)IMAP_SF_QUEUED;
			if (s->wait == IMAP_W_THROTTLE)
				imap__resume(s);
			continue;
		}
		pp = &s->next_queued;
	}
	if (sched.throttled == NULL)
		uv_timer_stop(&sched.timer);
}

/* --- submitting to the replicated log -------------------------------- */

static void
submit_done(void *arg, int status, struct cmd_results *rs)
{
	struct imap_session *s = arg;
	s->req = NULL;
	imap_submit_fn *cb = s->submit_cb;
	s->submit_cb = NULL;
	s->wait = IMAP_W_NONE;
	if (cb == NULL) {
		cmd_results_free(&rs);
		imap__resume(s);
		return;
	}
	cb(s, status, rs);
}

void
imap__submit(struct imap_session *s, struct cmd_batch *b, imap_submit_fn *cb)
{
	struct repl *r = node_repl();
	if (r == NULL) {
		cb(s, REPL_EUNAVAILABLE, NULL);
		return;
	}
	s->submit_cb = cb;
	imap__wait(s, IMAP_W_SUBMIT);
	/* The session may close while the batch is in the log: on_close
	 * cancels the callback through imap__sched_forget. */
	s->req = repl_submit(r, b, submit_done, s);
}

int
imap__submit_one(struct imap_session *s, const struct cmd *c, imap_submit_fn *cb)
{
	struct node *n = node_get();
	struct cmd_batch b;
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, 0);
	if (cmd_batch_add(&b, c) != 0) {
		cmd_batch_deinit(&b);
		return -1;
	}
	imap__submit(s, &b, cb);
	cmd_batch_deinit(&b);
	return 0;
}

void
imap__submit_failed(struct imap_session *s, int status)
{
	switch (status) {
	case REPL_ETOOBIG:
		imap__no(s, IMAP_CODE_LIMIT, "Request too large");
		break;
	case REPL_ESHUTDOWN:
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Server shutting down, try again later");
		break;
	default:
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cluster unavailable, try again later");
		break;
	}
}

void
imap__cmd_status_no(struct imap_session *s, enum cmd_status st, const char *what)
{
	switch (st) {
	case CMD_ENOTFOUND:
		imap__no(s, IMAP_CODE_NONEXISTENT, "%s: no such mailbox", what);
		break;
	case CMD_EEXISTS:
		imap__no(s, IMAP_CODE_ALREADYEXISTS, "%s: mailbox already exists", what);
		break;
	case CMD_EQUOTA:
		imap__no(s, IMAP_CODE_OVERQUOTA, "%s: quota exceeded", what);
		break;
	case CMD_EINVALID:
		imap__no(s, IMAP_CODE_CANNOT, "%s: invalid name or argument", what);
		break;
	case CMD_ENOPERM:
		imap__no(s, IMAP_CODE_CANNOT, "%s: not permitted", what);
		break;
	case CMD_ESTALE:
		imap__no(s, IMAP_CODE_NONE, "%s: mailbox was recreated meanwhile", what);
		break;
	case CMD_ELIMIT:
		imap__no(s, IMAP_CODE_LIMIT, "%s: too many keywords", what);
		break;
	default:
		imap__no(s, IMAP_CODE_SERVERBUG, "%s failed (%s)", what, cmd_status_name(st));
		break;
	}
}
