/*
 * stager: bodies made durable in groups. See stager.h.
 */
#include "node/stager.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/store/store.h"

struct stager {
	uv_loop_t *loop;
	char *data_dir;
	uv_work_t work;
	int inflight;
	struct stage_req *waiting, **waiting_tail;
	struct stage_req *group; /* the job's */
};

static struct metric *m_groups, *m_bodies;

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

/* In the pool: data, names, flushed. */
static void
stager_work(uv_work_t *w)
{
	struct stager *s = w->data;
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
stager_done(uv_work_t *w, int status)
{
	struct stager *s = w->data;
	struct stage_req *q = s->group;
	s->group = NULL;
	s->inflight = 0;
	metric_inc(m_groups);
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
	if (s->inflight || s->waiting == NULL)
		return;
	s->group = s->waiting;
	s->waiting = NULL;
	s->waiting_tail = &s->waiting;
	s->inflight = 1;
	s->work.data = s;
	int rc = uv_queue_work(s->loop, &s->work, stager_work, stager_done);
	if (rc != 0) { /* only for a missing callback: a programming error */
		log_error("stager", "event=queue-failed error=\"%s\"", uv_strerror(rc));
		abort();
	}
}

struct stager *
stager_new(uv_loop_t *loop, const char *data_dir)
{
	if (m_groups == NULL) {
		m_groups = metric_counter("mailnode_stage_flushes_total", NULL,
		                          "File system flushes that made staged bodies durable");
		m_bodies = metric_counter("mailnode_bodies_staged_total", NULL,
		                          "Bodies made durable in blobs/staged");
	}
	struct stager *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->data_dir = xstrdup(data_dir);
	s->waiting_tail = &s->waiting;
	return s;
}

void
stager_submit(struct stager *s, struct stage_req *req)
{
	req->next = NULL;
	req->rc = 0;
	*s->waiting_tail = req;
	s->waiting_tail = &req->next;
	stager_start(s);
}

void
stager_free(struct stager **ps)
{
	struct stager *s = *ps;
	if (s == NULL)
		return;
	*ps = NULL;
	free(s->data_dir);
	free(s);
}
