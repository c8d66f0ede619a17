/*
 * fsm: the store as canonical raft's state machine.
 *
 * apply() hands each committed entry to store_apply() with its index
 * (raft_last_applied + 1: raft does not pass it), snapshot() copies the
 * LMDB index into one buffer, restore() installs such a copy unless the
 * store already holds that index or a later one (raft restores the local
 * snapshot at every start and replays the log after it).
 *
 * Owner: whoever embeds struct repl_fsm (the repl, or a test fixture).
 */
#ifndef MAILNODE_REPL_FSM_H
#define MAILNODE_REPL_FSM_H

#include <raft.h>
#include <stdint.h>

struct store;

struct repl_fsm {
	struct raft_fsm fsm;
	struct raft *raft; /* set once raft_init has run */
	struct store *st;
	int commit_each; /* commit after every apply (tests) */
	int failed;      /* a local failure happened: the node must stop */
	void (*on_fatal)(void *arg, const char *why);
	void (*on_apply)(void *arg); /* an entry was applied (not yet committed) */
	void *arg;
	uint64_t snapshots;      /* taken */
	uint64_t snapshot_bytes; /* size of the last one */
	uint64_t restores;       /* installed */
};

void repl_fsm_init(struct repl_fsm *f, struct store *st);

#endif
