/*
 * repl_members: who is in the cluster, and changing it.
 *
 * Peers' addresses come from raft's configuration and are handed to the
 * cluster links. Membership changes run on the leader; a follower forwards
 * them. A joining node is added as a spare and then assigned the voter
 * role, which makes raft catch it up (snapshot, then log) before it
 * counts in the quorum. A voter that joins again (its data was lost) is
 * made a spare and then a voter. `mailnode status` gathers every member's own view
 * (role, applied index) and the leader's (match index, last contact).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "replication/proto.h"
#include "replication/repl_internal.h"

#define MEMBER_OP_TIMEOUT_MS 15000
#define STATUS_TIMEOUT_MS    1500

void
repl__peers_refresh(struct repl *r)
{
	const struct raft_configuration *c = &r->raft.configuration;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id != r->id)
			cluster_peer_set(r->cl, c->servers[i].id, c->servers[i].address);
}

/* --- operations on the leader --------------------------------------- */

struct member_op {
	struct raft_change change;
	struct repl *r;
	uint64_t id;
	repl_op_cb cb;
	void *arg;
	int step; /* add: 0 adding, 1 assigning */
};

static void
op_done(struct member_op *op, int status, const char *msg)
{
	log_info("repl", "event=membership-change id=%llu status=%d message=\"%s\"",
	         (unsigned long long)op->id, status, msg);
	if (op->cb)
		op->cb(op->arg, status, msg);
	free(op);
}

static const struct raft_server *
config_find(struct repl *r, uint64_t id)
{
	const struct raft_configuration *c = &r->raft.configuration;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return &c->servers[i];
	return NULL;
}

static void
assign_cb(struct raft_change *req, int status)
{
	struct member_op *op = req->data;
	if (status != 0)
		op_done(op, -EIO, raft_strerror(status));
	else
		op_done(op, 0, "member is a voter");
}

/* A voter that lost its data (it asks to join again) lost its record of
 * the term and of its vote with it, and could vote twice in one term.
 * Made a spare first, it votes no more; promoted again, raft catches it up
 * first, and by then it has learnt a term later than any it voted in. */
static void
demoted_cb(struct raft_change *req, int status)
{
	struct member_op *op = req->data;
	if (status != 0) {
		op_done(op, -EIO, raft_strerror(status));
		return;
	}
	log_info("repl", "event=rejoin-demoted id=%llu", (unsigned long long)op->id);
	int rc = raft_assign(&op->r->raft, &op->change, op->id, RAFT_VOTER, assign_cb);
	if (rc != 0)
		op_done(op, -EIO, raft_strerror(rc));
}

static void
add_cb(struct raft_change *req, int status)
{
	struct member_op *op = req->data;
	if (status != 0) {
		op_done(op, -EIO, raft_strerror(status));
		return;
	}
	int rc = raft_assign(&op->r->raft, &op->change, op->id, RAFT_VOTER, assign_cb);
	if (rc != 0)
		op_done(op, -EIO, raft_strerror(rc));
}

static void
remove_cb(struct raft_change *req, int status)
{
	struct member_op *op = req->data;
	op_done(op, status ? -EIO : 0, status ? raft_strerror(status) : "member removed");
}

static void
leader_add(struct repl *r, uint64_t id, const char *address, repl_op_cb cb, void *arg)
{
	struct member_op *op = xcalloc(1, sizeof(*op));
	op->r = r;
	op->id = id;
	op->cb = cb;
	op->arg = arg;
	op->change.data = op;
	const struct raft_server *s = config_find(r, id);
	int rc;
	if (s != NULL) {
		if (strcmp(s->address, address) != 0) {
			op_done(op, -EEXIST, "that id is a member with another address");
			return;
		}
		if (s->role == RAFT_VOTER)
			rc = raft_assign(&r->raft, &op->change, id, RAFT_SPARE, demoted_cb);
		else
			rc = raft_assign(&r->raft, &op->change, id, RAFT_VOTER, assign_cb);
	} else {
		rc = raft_add(&r->raft, &op->change, id, address, add_cb);
	}
	if (rc != 0)
		op_done(op, rc == RAFT_CANTCHANGE ? -EBUSY : -EIO,
		        rc == RAFT_CANTCHANGE ? "another membership change is in progress"
		                              : raft_strerror(rc));
}

static void
leader_remove(struct repl *r, uint64_t id, repl_op_cb cb, void *arg)
{
	struct member_op *op = xcalloc(1, sizeof(*op));
	op->r = r;
	op->id = id;
	op->cb = cb;
	op->arg = arg;
	op->change.data = op;
	if (config_find(r, id) == NULL) {
		op_done(op, -ENOENT, "no such member");
		return;
	}
	int rc = raft_remove(&r->raft, &op->change, id, remove_cb);
	if (rc != 0)
		op_done(op, -EIO, raft_strerror(rc));
}

static void
transfer_done_cb(struct raft_transfer *req)
{
	struct member_op *op = req->data;
	op->r->transfer_pending = 0;
	uint64_t leader = repl__leader(op->r);
	if (leader != op->r->id)
		op_done(op, 0, "leadership transferred");
	else
		op_done(op, -EAGAIN, "leadership was not transferred");
}

static void
leader_transfer(struct repl *r, uint64_t id, repl_op_cb cb, void *arg)
{
	struct member_op *op = xcalloc(1, sizeof(*op));
	op->r = r;
	op->id = id;
	op->cb = cb;
	op->arg = arg;
	if (id == r->id) {
		op_done(op, 0, "already the leader");
		return;
	}
	if (r->transfer_pending) {
		op_done(op, -EBUSY, "a transfer is in progress");
		return;
	}
	uint64_t voters[16];
	if (repl__voters(r, voters, 16) < 2) {
		op_done(op, -EINVAL, "there is no other voter to hand leadership to");
		return;
	}
	r->transfer.data = op;
	int rc = raft_transfer(&r->raft, &r->transfer, id, transfer_done_cb);
	if (rc != 0) {
		op_done(op, -EIO, raft_strerror(rc));
		return;
	}
	r->transfer_pending = 1;
}

/* --- forwarding to the leader ---------------------------------------- */

struct op_fwd {
	repl_op_cb cb;
	void *arg;
};

static void
op_fwd_cb(void *arg, int status, uint8_t type, const uint8_t *p, size_t len)
{
	struct op_fwd *f = arg;
	char msg[256] = "no answer from the leader";
	int st = -EAGAIN;
	if (status == 0 && type == PROTO_RESULT && len >= 4) {
		struct wire_reader rd;
		wire_reader_init(&rd, p, len);
		st = (int32_t)wire_get_u32(&rd);
		uint16_t n;
		const char *m = wire_get_str(&rd, sizeof(msg) - 1, &n);
		if (m) {
			memcpy(msg, m, n);
			msg[n] = '\0';
		}
	}
	if (f->cb)
		f->cb(f->arg, st, msg);
	free(f);
}

static void
op_forward(struct repl *r, uint8_t type, uint64_t id, const char *address, repl_op_cb cb, void *arg)
{
	uint64_t leader = repl__leader(r);
	if (leader == 0) {
		cb(arg, -EAGAIN, "no leader is known; try again");
		return;
	}
	struct nbuf b;
	struct wire_writer w;
	nbuf_init(&b, 1024);
	wire_writer_init(&w, &b);
	wire_put_u64(&w, id);
	if (address)
		wire_put_str(&w, address, strlen(address));
	struct op_fwd *f = xmalloc(sizeof(*f));
	f->cb = cb;
	f->arg = arg;
	if (cluster_request(r->cl, leader, type, nbuf_head(&b), nbuf_avail(&b),
	                    MEMBER_OP_TIMEOUT_MS, op_fwd_cb, f) != 0) {
		free(f);
		cb(arg, -EAGAIN, "the leader is not reachable");
	}
	nbuf_deinit(&b);
}

void
repl_member_add(struct repl *r, uint64_t id, const char *address, repl_op_cb cb, void *arg)
{
	if (repl__is_leader(r))
		leader_add(r, id, address, cb, arg);
	else
		op_forward(r, PROTO_JOIN, id, address, cb, arg);
}

void
repl_member_remove(struct repl *r, uint64_t id, repl_op_cb cb, void *arg)
{
	if (repl__is_leader(r))
		leader_remove(r, id, cb, arg);
	else
		op_forward(r, PROTO_REMOVE, id, NULL, cb, arg);
}

void
repl_transfer(struct repl *r, uint64_t id, repl_op_cb cb, void *arg)
{
	if (repl__is_leader(r))
		leader_transfer(r, id, cb, arg);
	else
		op_forward(r, PROTO_TRANSFER, id, NULL, cb, arg);
}

void
repl_join(struct repl *r, const char *peer_address, repl_op_cb cb, void *arg)
{
	cluster_peer_set(r->cl, 0, peer_address);
	struct nbuf b;
	struct wire_writer w;
	nbuf_init(&b, 1024);
	wire_writer_init(&w, &b);
	wire_put_u64(&w, r->id);
	wire_put_str(&w, r->address, strlen(r->address));
	struct op_fwd *f = xmalloc(sizeof(*f));
	f->cb = cb;
	f->arg = arg;
	if (cluster_request(r->cl, 0, PROTO_JOIN, nbuf_head(&b), nbuf_avail(&b),
	                    MEMBER_OP_TIMEOUT_MS, op_fwd_cb, f) != 0) {
		free(f);
		cb(arg, -EAGAIN, "cannot reach the peer");
	}
	nbuf_deinit(&b);
}

/* --- requests from peers --------------------------------------------- */

static void
call_result_cb(void *arg, int status, const char *message)
{
	struct cluster_call *call = arg;
	struct nbuf b;
	struct wire_writer w;
	nbuf_init(&b, 1024);
	wire_writer_init(&w, &b);
	wire_put_u32(&w, (uint32_t)status);
	wire_put_str(&w, message, MIN(strlen(message), (size_t)255));
	cluster_reply(call, PROTO_RESULT, nbuf_head(&b), nbuf_avail(&b));
	nbuf_deinit(&b);
}

static json_t *status_local_json(struct repl *r);

void
repl__members_request(struct repl *r, struct cluster_call *call, uint8_t type, const uint8_t *p,
                      size_t len)
{
	struct wire_reader rd;
	wire_reader_init(&rd, p, len);
	uint64_t id = 0;
	char addr[301] = "";
	if (type == PROTO_JOIN || type == PROTO_REMOVE || type == PROTO_TRANSFER) {
		id = wire_get_u64(&rd);
		if (type == PROTO_JOIN) {
			uint16_t n;
			const char *a = wire_get_str(&rd, 300, &n);
			if (a) {
				memcpy(addr, a, n);
				addr[n] = '\0';
			}
		}
		if (wire_done(&rd) != 0 || (type != PROTO_TRANSFER && id == 0)) {
			call_result_cb(call, -EINVAL, "malformed request");
			return;
		}
	}
	switch (type) {
	case PROTO_JOIN:
		repl_member_add(r, id, addr, call_result_cb, call);
		return;
	case PROTO_REMOVE:
		repl_member_remove(r, id, call_result_cb, call);
		return;
	case PROTO_TRANSFER:
		repl_transfer(r, id, call_result_cb, call);
		return;
	case PROTO_STATUS: {
		json_t *j = status_local_json(r);
		char *text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		cluster_reply(call, PROTO_STATUS_REPLY, text, strlen(text));
		free(text);
		return;
	}
	default:
		call_result_cb(call, -EINVAL, "unknown request");
		return;
	}
}

/* --- status ---------------------------------------------------------- */

static json_t *
status_local_json(struct repl *r)
{
	struct repl_status s;
	repl_status_get(r, &s);
	json_t *members = json_array();
	for (size_t i = 0; i < s.nmembers; i++) {
		const struct repl_member *m = &s.members[i];
		json_t *jm = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)m->id, "address",
		                       m->address, "role", m->role, "leader", m->is_leader);
		if (m->last_contact_ms >= 0) {
			json_object_set_new(jm, "last_contact_ms",
			                    json_integer((json_int_t)m->last_contact_ms));
			json_object_set_new(jm, "match_index",
			                    json_integer((json_int_t)m->match_index));
		}
		json_array_append_new(members, jm);
	}
	return json_pack("{s:I, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:o}", "id",
	                 (json_int_t)s.id, "state", s.state, "leader", (json_int_t)s.leader_id,
	                 "leader_address", s.leader_address, "term", (json_int_t)s.term,
	                 "commit_index", (json_int_t)s.commit_index, "applied_index",
	                 (json_int_t)s.applied_index, "last_index", (json_int_t)s.last_index,
	                 "bodies_missing", (json_int_t)s.bodies_missing, "failed", s.fatal,
	                 "members", members);
}

struct status_gather {
	struct repl *r;
	void (*cb)(void *arg, char *json);
	void *arg;
	json_t *self;
	json_t *views; /* id (string) -> that node's own status */
	int waiting;
};

static void
gather_finish(struct status_gather *g)
{
	/* The leader's view of progress, each member's view of itself. */
	json_t *leader_view = NULL;
	json_int_t leader = json_integer_value(json_object_get(g->self, "leader"));
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)leader);
	if (leader == (json_int_t)g->r->id)
		leader_view = g->self;
	else
		leader_view = json_object_get(g->views, key);
	json_t *members = json_array();
	json_t *src = json_object_get(leader_view ? leader_view : g->self, "members");
	json_int_t last =
	        leader_view ? json_integer_value(json_object_get(leader_view, "last_index")) : 0;
	size_t i;
	json_t *m;
	json_array_foreach(src, i, m)
	{
		json_t *out = json_deep_copy(m);
		snprintf(key, sizeof(key), "%lld",
		         (long long)json_integer_value(json_object_get(m, "id")));
		json_t *own = json_integer_value(json_object_get(m, "id")) == (json_int_t)g->r->id
		                      ? g->self
		                      : json_object_get(g->views, key);
		if (own) {
			json_int_t applied =
			        json_integer_value(json_object_get(own, "applied_index"));
			json_object_set(out, "state", json_object_get(own, "state"));
			json_object_set_new(out, "applied_index", json_integer(applied));
			json_object_set(out, "bodies_missing",
			                json_object_get(own, "bodies_missing"));
			if (last)
				json_object_set_new(
				        out, "lag",
				        json_integer(last > applied ? last - applied : 0));
		} else {
			json_object_set_new(out, "state", json_string("unreachable"));
		}
		json_array_append_new(members, out);
	}
	json_t *j = json_pack("{s:O, s:O, s:O, s:O, s:o}", "node", json_object_get(g->self, "id"),
	                      "leader", json_object_get(g->self, "leader"), "term",
	                      json_object_get(g->self, "term"), "commit_index",
	                      json_object_get(leader_view ? leader_view : g->self, "commit_index"),
	                      "members", members);
	char *text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	json_decref(g->self);
	json_decref(g->views);
	g->cb(g->arg, text);
	free(g);
}

struct gather_one {
	struct status_gather *g;
	uint64_t id;
};

static void
gather_reply_cb(void *arg, int status, uint8_t type, const uint8_t *p, size_t len)
{
	struct gather_one *o = arg;
	struct status_gather *g = o->g;
	if (status == 0 && type == PROTO_STATUS_REPLY) {
		json_t *j = json_loadb((const char *)p, len, 0, NULL);
		if (j) {
			char key[32];
			snprintf(key, sizeof(key), "%llu", (unsigned long long)o->id);
			json_object_set_new(g->views, key, j);
		}
	}
	free(o);
	if (--g->waiting == 0)
		gather_finish(g);
}

void
repl_status_json(struct repl *r, void (*cb)(void *arg, char *json), void *arg)
{
	struct status_gather *g = xcalloc(1, sizeof(*g));
	g->r = r;
	g->cb = cb;
	g->arg = arg;
	g->self = status_local_json(r);
	g->views = json_object();
	g->waiting = 1;
	const struct raft_configuration *c = &r->raft.configuration;
	for (unsigned i = 0; r->started && !r->closing && i < c->n; i++) {
		if (c->servers[i].id == r->id)
			continue;
		struct gather_one *o = xmalloc(sizeof(*o));
		o->g = g;
		o->id = c->servers[i].id;
		g->waiting++;
		if (cluster_request(r->cl, o->id, PROTO_STATUS, "", 0, STATUS_TIMEOUT_MS,
		                    gather_reply_cb, o) != 0) {
			free(o);
			g->waiting--;
		}
	}
	if (--g->waiting == 0)
		gather_finish(g);
}
