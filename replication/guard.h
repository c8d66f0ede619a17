/*
 * guard: a raft_io that forwards to raft_uv and turns any local storage
 * failure into a stop of the node.
 *
 * libraft 0.15 keeps a leader leading after its own disk write failed, and
 * may then reuse an index for a different entry (fixed upstream in 0.16).
 * mailnode's guard: any error from append, truncate, snapshot put, or
 * persisting term/vote is fail-stop — report unhealthy, stop, let the
 * supervisor restart the node, which then recovers from its log.
 *
 * Owner: the repl embeds the guard; the inner io outlives it.
 */
#ifndef MAILNODE_REPL_GUARD_H
#define MAILNODE_REPL_GUARD_H

#include <raft.h>

struct repl_guard {
	struct raft_io io; /* what raft_init is given */
	struct raft_io *inner;
	void (*on_fatal)(void *arg, const char *why);
	void *arg;
	int failed;
	raft_io_close_cb close_cb;
	struct repl_guard *next;
};

void repl_guard_init(struct repl_guard *g, struct raft_io *inner,
                     void (*on_fatal)(void *arg, const char *why), void *arg);

#endif
