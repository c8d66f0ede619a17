/*
 * guard: fail-stop wrapper around raft_uv. See guard.h.
 */
#include "replication/guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"

static struct repl_guard *
guard_of(struct raft_io *io)
{
	return io->impl;
}

static void
guard_fail(struct repl_guard *g, const char *what, int status)
{
	if (status == 0 || status == RAFT_CANCELED)
		return;
	if (!g->failed)
		log_error("repl", "event=raft-io-failed op=%s status=%d error=\"%s\" detail=\"%s\"",
		          what, status, raft_strerror(status), g->inner->errmsg);
	g->failed = 1;
	if (g->on_fatal)
		g->on_fatal(g->arg, what);
}

static void
guard_sync_errmsg(struct repl_guard *g)
{
	memcpy(g->io.errmsg, g->inner->errmsg, sizeof(g->io.errmsg));
}

static int
guard_init_io(struct raft_io *io, raft_id id, const char *address)
{
	struct repl_guard *g = guard_of(io);
	int rc = g->inner->init(g->inner, id, address);
	guard_sync_errmsg(g);
	return rc;
}

/* raft_uv's close callback gets only the inner io, whose data must stay
 * raft's until the very end: find the guard in this list instead. */
static struct repl_guard *guards;

static void
guard_close_cb(struct raft_io *inner)
{
	struct repl_guard *g = guards;
	for (struct repl_guard **pp = &guards; *pp; pp = &(*pp)->next) {
		if ((*pp)->inner == inner) {
			g = *pp;
			*pp = g->next;
			break;
		}
	}
	if (g && g->close_cb)
		g->close_cb(&g->io);
}

static void
guard_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct repl_guard *g = guard_of(io);
	g->close_cb = cb;
	g->next = guards;
	guards = g;
	g->inner->close(g->inner, guard_close_cb);
}

static int
guard_load(struct raft_io *io, raft_term *term, raft_id *voted_for, struct raft_snapshot **snapshot,
           raft_index *start_index, struct raft_entry *entries[], size_t *n_entries)
{
	struct repl_guard *g = guard_of(io);
	int rc = g->inner->load(g->inner, term, voted_for, snapshot, start_index, entries,
	                        n_entries);
	guard_sync_errmsg(g);
	return rc;
}

/* raft_uv calls tick and recv with its own io; raft finds itself through
 * io->data, so the inner io carries the same data as ours and raft's
 * callbacks are passed through as they are. */
static int
guard_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
	struct repl_guard *g = guard_of(io);
	g->inner->data = io->data;
	int rc = g->inner->start(g->inner, msecs, tick, recv);
	guard_sync_errmsg(g);
	return rc;
}

static int
guard_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
	struct repl_guard *g = guard_of(io);
	int rc = g->inner->bootstrap(g->inner, conf);
	guard_sync_errmsg(g);
	return rc;
}

static int
guard_recover(struct raft_io *io, const struct raft_configuration *conf)
{
	struct repl_guard *g = guard_of(io);
	int rc = g->inner->recover(g->inner, conf);
	guard_sync_errmsg(g);
	return rc;
}

static int
guard_set_term(struct raft_io *io, raft_term term)
{
	struct repl_guard *g = guard_of(io);
	int rc = g->inner->set_term(g->inner, term);
	guard_sync_errmsg(g);
	guard_fail(g, "set-term", rc);
	return rc;
}

static int
guard_set_vote(struct raft_io *io, raft_id server_id)
{
	struct repl_guard *g = guard_of(io);
	int rc = g->inner->set_vote(g->inner, server_id);
	guard_sync_errmsg(g);
	guard_fail(g, "set-vote", rc);
	return rc;
}

static int
guard_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *message,
           raft_io_send_cb cb)
{
	struct repl_guard *g = guard_of(io);
	return g->inner->send(g->inner, req, message, cb);
}

struct guard_append {
	struct raft_io_append inner;
	struct raft_io_append *outer;
	raft_io_append_cb cb;
	struct repl_guard *g;
};

static void
guard_append_cb(struct raft_io_append *req, int status)
{
	struct guard_append *w = req->data;
	guard_fail(w->g, "append", status);
	w->cb(w->outer, status);
	free(w);
}

static int
guard_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
             unsigned n, raft_io_append_cb cb)
{
	struct repl_guard *g = guard_of(io);
	if (g->failed)
		return RAFT_IOERR;
	struct guard_append *w = xcalloc(1, sizeof(*w));
	w->inner.data = w;
	w->outer = req;
	w->cb = cb;
	w->g = g;
	int rc = g->inner->append(g->inner, &w->inner, entries, n, guard_append_cb);
	guard_sync_errmsg(g);
	if (rc != 0) {
		free(w);
		guard_fail(g, "append", rc);
	}
	return rc;
}

static int
guard_truncate(struct raft_io *io, raft_index index)
{
	struct repl_guard *g = guard_of(io);
	int rc = g->inner->truncate(g->inner, index);
	guard_sync_errmsg(g);
	guard_fail(g, "truncate", rc);
	return rc;
}

struct guard_put {
	struct raft_io_snapshot_put inner;
	struct raft_io_snapshot_put *outer;
	raft_io_snapshot_put_cb cb;
	struct repl_guard *g;
};

static void
guard_put_cb(struct raft_io_snapshot_put *req, int status)
{
	struct guard_put *w = req->data;
	guard_fail(w->g, "snapshot-put", status);
	w->cb(w->outer, status);
	free(w);
}

static int
guard_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                   const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
	struct repl_guard *g = guard_of(io);
	struct guard_put *w = xcalloc(1, sizeof(*w));
	w->inner.data = w;
	w->outer = req;
	w->cb = cb;
	w->g = g;
	int rc = g->inner->snapshot_put(g->inner, trailing, &w->inner, snapshot, guard_put_cb);
	guard_sync_errmsg(g);
	if (rc != 0) {
		free(w);
		guard_fail(g, "snapshot-put", rc);
	}
	return rc;
}

static int
guard_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req, raft_io_snapshot_get_cb cb)
{
	struct repl_guard *g = guard_of(io);
	return g->inner->snapshot_get(g->inner, req, cb);
}

static raft_time
guard_time(struct raft_io *io)
{
	struct repl_guard *g = guard_of(io);
	return g->inner->time(g->inner);
}

static int
guard_random(struct raft_io *io, int min, int max)
{
	struct repl_guard *g = guard_of(io);
	return g->inner->random(g->inner, min, max);
}

static int
guard_async_work(struct raft_io *io, struct raft_io_async_work *req, raft_io_async_work_cb cb)
{
	struct repl_guard *g = guard_of(io);
	return g->inner->async_work(g->inner, req, cb);
}

void
repl_guard_init(struct repl_guard *g, struct raft_io *inner,
                void (*on_fatal)(void *arg, const char *why), void *arg)
{
	memset(g, 0, sizeof(*g));
	g->inner = inner;
	g->on_fatal = on_fatal;
	g->arg = arg;
	struct raft_io *io = &g->io;
	io->version = inner->version;
	io->impl = g;
	io->init = guard_init_io;
	io->close = guard_close;
	io->load = guard_load;
	io->start = guard_start;
	io->bootstrap = guard_bootstrap;
	io->recover = guard_recover;
	io->set_term = guard_set_term;
	io->set_vote = guard_set_vote;
	io->send = guard_send;
	io->append = guard_append;
	io->truncate = guard_truncate;
	io->snapshot_put = guard_snapshot_put;
	io->snapshot_get = guard_snapshot_get;
	io->time = guard_time;
	io->random = guard_random;
	io->async_work = inner->version >= 2 ? guard_async_work : NULL;
}
