/*
 * stager: bodies made durable in groups. See stager.h.
 */
#include "node/stager.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/store/body_journal.h"
#include "node/store/store.h"

/* Under load (a group started less than STAGER_BUSY_MS before), a
 * journal group waits STAGER_LINGER_US in the pool for the rest of the
 * burst: bodies arrive in bursts (the replies of one raft commit go out
 * together), and each group's fdatasync is a BTRFS log commit that queues
 * behind raft's own, so fewer, fuller groups move more bodies. */
#define STAGER_BUSY_MS   20
#define STAGER_LINGER_US 1000

struct stager {
	uv_loop_t *loop;
	char *data_dir;
	struct body_journal *journal; /* NULL: every group flushes the file system */
	uv_work_t work;
	int inflight;
	pthread_mutex_t mu; /* waiting: the job takes late arrivals */
	struct stage_req *waiting, **waiting_tail;
	struct stage_req *group; /* the job's */
	int linger;
	uint64_t last_start_ms;
	uv_work_t checkpoint;
	int checkpoint_inflight;
	int checkpoint_rc;
	uint64_t checkpoint_token;
};

static struct metric *m_groups, *m_bodies, *m_checkpoints;

static void stager_start(struct stager *s);

/* The group's data on disk: one flush of the file system, whatever the
 * number of bodies (it also carries the file operations a barrier asked
 * for). */
static void
stager_sync_data(struct stager *s)
{
	int rc = store_fileops_sync(s->data_dir);
	for (struct stage_req *q = s->group; q; q = q->next)
		q->rc = rc;
}

/* In the pool: the group's bodies into the journal, then their names
 * (which the next file system flush takes to disk: until a checkpoint
 * the journal holds them). 0, or -1 when the group is for a flush. */
static int
stager_journal(struct stager *s)
{
	size_t n = 0;
	for (struct stage_req *q = s->group; q; q = q->next) {
		if (q->tmp_path == NULL)
			return -1; /* a barrier wants the file system flushed */
		n++;
	}
	struct body_journal_rec *recs = xcalloc(n, sizeof(*recs));
	size_t i = 0;
	for (struct stage_req *q = s->group; q; q = q->next, i++)
		recs[i] = (struct body_journal_rec){.path = q->tmp_path, .hash = q->hash};
	int rc = body_journal_append(s->journal, recs, n);
	if (rc == -EFBIG) {
		free(recs);
		return -1;
	}
	i = 0;
	for (struct stage_req *q = s->group; q; q = q->next, i++) {
		q->rc = rc != 0 ? rc : recs[i].rc;
		if (q->rc != 0)
			continue;
		char *staged = store_staged_path(s->data_dir, q->hash);
		if (rename(q->tmp_path, staged) != 0)
			q->rc = -errno;
		free(staged);
	}
	free(recs);
	return 0;
}

/* In the pool, lingering: what arrived meanwhile joins the group. */
static void
stager_gather(struct stager *s)
{
	usleep(STAGER_LINGER_US);
	struct stage_req **tail = &s->group;
	while (*tail)
		tail = &(*tail)->next;
	pthread_mutex_lock(&s->mu);
	*tail = s->waiting;
	s->waiting = NULL;
	s->waiting_tail = &s->waiting;
	pthread_mutex_unlock(&s->mu);
}

/* In the pool: data, names, flushed. */
static void
stager_work(uv_work_t *w)
{
	struct stager *s = w->data;
	if (s->linger)
		stager_gather(s);
	if (s->journal && stager_journal(s) == 0)
		return;
	int renamed = 0;
	stager_sync_data(s);
	for (struct stage_req *q = s->group; q; q = q->next) {
		if (q->rc != 0 || q->tmp_path == NULL)
			continue;
		char *staged = store_staged_path(s->data_dir, q->hash);
		if (rename(q->tmp_path, staged) != 0)
			q->rc = -errno;
		else
			renamed = 1;
		free(staged);
	}
	if (!renamed)
		return;
	char *dir = xasprintf("%s/blobs/staged", s->data_dir);
	int rc = fsync_dir(dir);
	if (rc != 0)
		for (struct stage_req *q = s->group; q; q = q->next)
			if (q->rc == 0 && q->tmp_path != NULL)
				q->rc = rc; /* renamed, but not known durable: not staged */
	free(dir);
}

static void
stager_checkpoint_work(uv_work_t *w)
{
	struct stager *s = w->data;
	s->checkpoint_rc = store_fileops_sync(s->data_dir);
}

static void stager_checkpoint_start(struct stager *s);

static void
stager_checkpoint_done(uv_work_t *w, int status)
{
	struct stager *s = w->data;
	s->checkpoint_inflight = 0;
	if (status == 0 && s->checkpoint_rc == 0) {
		body_journal_checkpointed(s->journal, s->checkpoint_token);
		metric_inc(m_checkpoints);
	} else { /* the next pass over that file flushes first */
		log_error("stager", "event=checkpoint-failed error=\"%s\"",
		          strerror(status ? EIO : -s->checkpoint_rc));
	}
	stager_checkpoint_start(s);
}

/* A journal file left behind is flushed for in the background, so that
 * the next pass over it need not wait. */
static void
stager_checkpoint_start(struct stager *s)
{
	if (s->journal == NULL || s->checkpoint_inflight ||
	    !body_journal_checkpoint_due(s->journal, &s->checkpoint_token))
		return;
	s->checkpoint_inflight = 1;
	s->checkpoint.data = s;
	if (uv_queue_work(s->loop, &s->checkpoint, stager_checkpoint_work,
	                  stager_checkpoint_done) != 0)
		abort(); /* only for a missing callback */
}

static void
stager_done(uv_work_t *w, int status)
{
	struct stager *s = w->data;
	struct stage_req *q = s->group;
	s->group = NULL;
	s->inflight = 0;
	metric_inc(m_groups);
	stager_checkpoint_start(s);
	/* Start the next group before the callbacks, which may submit. */
	stager_start(s);
	while (q) {
		struct stage_req *next = q->next;
		if (status != 0 && q->rc == 0)
			q->rc = -EIO;
		if (q->rc == 0 && q->tmp_path != NULL)
			metric_inc(m_bodies);
		else if (q->rc != 0)
			log_error("stager", "event=stage-failed error=\"%s\"", strerror(-q->rc));
		q->next = NULL;
		q->cb(q, q->rc);
		q = next;
	}
}

static void
stager_start(struct stager *s)
{
	if (s->inflight)
		return;
	pthread_mutex_lock(&s->mu);
	s->group = s->waiting;
	s->waiting = NULL;
	s->waiting_tail = &s->waiting;
	pthread_mutex_unlock(&s->mu);
	if (s->group == NULL)
		return;
	uint64_t now = now_mono_ms();
	s->linger = s->journal && s->last_start_ms && now - s->last_start_ms < STAGER_BUSY_MS;
	s->last_start_ms = now;
	s->inflight = 1;
	s->work.data = s;
	int rc = uv_queue_work(s->loop, &s->work, stager_work, stager_done);
	if (rc != 0) { /* only for a missing callback: a programming error */
		log_error("stager", "event=queue-failed error=\"%s\"", uv_strerror(rc));
		abort();
	}
}

struct stager *
stager_new(uv_loop_t *loop, const char *data_dir, struct body_journal *journal)
{
	if (m_groups == NULL) {
		m_groups = metric_counter("mailnode_stage_flushes_total", NULL,
		                          "File system flushes that made staged bodies durable");
		m_bodies = metric_counter("mailnode_bodies_staged_total", NULL,
		                          "Bodies made durable in blobs/staged");
		m_checkpoints =
		        metric_counter("mailnode_journal_checkpoints_total", NULL,
		                       "File system flushes that freed a body journal file");
	}
	struct stager *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->data_dir = xstrdup(data_dir);
	s->journal = journal;
	pthread_mutex_init(&s->mu, NULL);
	s->waiting_tail = &s->waiting;
	return s;
}

void
stager_submit(struct stager *s, struct stage_req *req)
{
	req->next = NULL;
	req->rc = 0;
	pthread_mutex_lock(&s->mu);
	*s->waiting_tail = req;
	s->waiting_tail = &req->next;
	pthread_mutex_unlock(&s->mu);
	stager_start(s);
}

void
stager_free(struct stager **ps)
{
	struct stager *s = *ps;
	if (s == NULL)
		return;
	*ps = NULL;
	body_journal_close(&s->journal);
	pthread_mutex_destroy(&s->mu);
	free(s->data_dir);
	free(s);
}
