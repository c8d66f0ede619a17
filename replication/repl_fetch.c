/*
 * repl_fetch: fetching message bodies this node lacks.
 *
 * An applied append whose body this node does not hold (it was down, or it
 * installed a snapshot) is reported by the store (hooks->body_missing). The
 * body is then fetched from the voters in turn (PROTO_BODY_GET, piece by
 * piece, FETCH_INFLIGHT_MAX bodies at once), hashed as it comes, refused if
 * the hash differs, made durable by the stager and linked into
 * place (store_body_arrived). Until then /health reports the node
 * unavailable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/metrics.h"
#include "node/stager.h"
#include "replication/proto.h"
#include "replication/repl_internal.h"

#define FETCH_INFLIGHT_MAX 4
#define FETCH_RETRY_MS     2000
#define FETCH_TIMEOUT_MS   10000
#define FETCH_PEERS_MAX    16

struct repl_fetch {
	struct repl_fetch *next;
	struct repl *r;
	uint8_t hash[CMD_HASH_LEN];
	uint64_t offset;
	uint64_t total;
	int fd;
	char *path;
	struct sha256_ctx *sha;
	size_t peer_idx;
	int tried;
	int inflight;
	int staging;
	uint64_t retry_at;
	struct stage_req stage;
};

static struct metric *m_fetched;

static void
fetch_free(struct repl *r, struct repl_fetch *f)
{
	for (struct repl_fetch **pp = &r->fetches; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	if (f->fd >= 0)
		close(f->fd);
	if (f->path) {
		unlink(f->path);
		free(f->path);
	}
	sha256_free(&f->sha);
	free(f);
}

static void
fetch_reset(struct repl_fetch *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->path) {
		unlink(f->path);
		free(f->path);
	}
	f->fd = -1;
	f->path = NULL;
	f->offset = 0;
	sha256_free(&f->sha);
}

void
repl__body_missing(void *arg, const uint8_t hash[CMD_HASH_LEN])
{
	struct repl *r = arg;
	if (m_fetched == NULL)
		m_fetched = metric_counter("mailnode_bodies_fetched_total", NULL,
		                           "Missing message bodies fetched from peers");
	for (struct repl_fetch *f = r->fetches; f; f = f->next)
		if (memcmp(f->hash, hash, CMD_HASH_LEN) == 0)
			return;
	struct repl_fetch *f = xcalloc(1, sizeof(*f));
	f->r = r;
	f->fd = -1;
	memcpy(f->hash, hash, CMD_HASH_LEN);
	f->next = r->fetches;
	r->fetches = f;
	log_info("repl", "event=body-missing");
}

static void
fetch_staged(struct stage_req *q, int rc)
{
	struct repl_fetch *f =
	        (struct repl_fetch *)((char *)q - offsetof(struct repl_fetch, stage));
	struct repl *r = f->r;
	f->staging = 0;
	if (rc == 0) {
		free(f->path); /* renamed away */
		f->path = NULL;
	}
	if (r->closing) {
		fetch_free(r, f);
		return;
	}
	if (rc == 0 && store_body_arrived(r->st, f->hash) == 0) {
		metric_inc(m_fetched);
		fetch_free(r, f);
		return;
	}
	fetch_reset(f);
	f->retry_at = now_mono_ms() + FETCH_RETRY_MS;
}

static void fetch_next_peer(struct repl_fetch *f);

static void
fetch_reply_cb(void *arg, int status, uint8_t type, const uint8_t *p, size_t len)
{
	struct repl_fetch *f = arg;
	struct repl *r = f->r;
	f->inflight = 0;
	if (r->closing) {
		fetch_free(r, f);
		return;
	}
	if (status != 0 || type != PROTO_BODY_DATA || len < 4 || wire_rd32(p) != PROTO_OK ||
	    len < 20) {
		fetch_next_peer(f);
		return;
	}
	uint64_t total = wire_rd64(p + 4), offset = wire_rd64(p + 12);
	size_t dlen = len - 20;
	if (offset != f->offset || dlen > total - offset) {
		fetch_next_peer(f);
		return;
	}
	if (f->offset == 0) {
		f->total = total;
		f->fd = store_body_tmp(r->st, &f->path);
		if (f->fd < 0) {
			f->path = NULL;
			f->retry_at = now_mono_ms() + FETCH_RETRY_MS;
			return;
		}
		f->sha = sha256_new();
	}
	if (write_all(f->fd, p + 20, dlen) != 0) {
		fetch_reset(f);
		f->retry_at = now_mono_ms() + FETCH_RETRY_MS;
		return;
	}
	sha256_update(f->sha, p + 20, dlen);
	f->offset += dlen;
	if (f->offset < f->total) {
		f->retry_at = 0; /* next piece at the next tick */
		repl__wake(r);
		return;
	}
	uint8_t got[SHA256_LEN];
	sha256_final(f->sha, got);
	if (memcmp(got, f->hash, CMD_HASH_LEN) != 0) {
		log_warn("repl", "event=fetched-body-hash-mismatch");
		fetch_next_peer(f);
		return;
	}
	close(f->fd);
	f->fd = -1;
	f->staging = 1;
	f->stage.tmp_path = f->path;
	memcpy(f->stage.hash, f->hash, CMD_HASH_LEN);
	f->stage.cb = fetch_staged;
	stager_submit(r->stager, &f->stage);
}

static void
fetch_next_peer(struct repl_fetch *f)
{
	fetch_reset(f);
	f->peer_idx++;
	f->tried++;
	uint64_t voters[FETCH_PEERS_MAX];
	size_t nv = repl__voters(f->r, voters, FETCH_PEERS_MAX);
	if ((size_t)f->tried >= nv) {
		f->tried = 0;
		f->retry_at = now_mono_ms() + FETCH_RETRY_MS;
	}
}

static void
fetch_send(struct repl *r, struct repl_fetch *f)
{
	uint64_t voters[FETCH_PEERS_MAX];
	size_t nv = repl__voters(r, voters, FETCH_PEERS_MAX);
	if (nv < 2)
		return;
	uint64_t peer = voters[f->peer_idx % nv];
	if (peer == r->id) {
		f->peer_idx++;
		peer = voters[f->peer_idx % nv];
	}
	uint8_t req[40];
	memcpy(req, f->hash, CMD_HASH_LEN);
	wire_be64(req + 32, f->offset);
	if (cluster_request(r->cl, peer, PROTO_BODY_GET, req, sizeof(req), FETCH_TIMEOUT_MS,
	                    fetch_reply_cb, f) == 0)
		f->inflight = 1;
	else
		fetch_next_peer(f);
}

void
repl__fetch_tick(struct repl *r, uint64_t now)
{
	int inflight = 0;
	for (struct repl_fetch *f = r->fetches; f; f = f->next)
		inflight += f->inflight || f->staging;
	for (struct repl_fetch *f = r->fetches, *next; f; f = next) {
		next = f->next;
		if (f->inflight || f->staging || now < f->retry_at)
			continue;
		if (f->offset == 0 && !store_body_wanted(r->st, f->hash)) {
			/* No longer referenced (expunged before it came). */
			fetch_free(r, f);
			continue;
		}
		if (repl__body_present(r, f->hash) && f->offset == 0) {
			/* Arrived some other way (a push). */
			if (store_body_arrived(r->st, f->hash) == 0) {
				fetch_free(r, f);
				continue;
			}
		}
		if (inflight >= FETCH_INFLIGHT_MAX)
			break;
		fetch_send(r, f);
		inflight += f->inflight;
	}
}

void
repl__fetch_shutdown(struct repl *r)
{
	for (struct repl_fetch *f = r->fetches, *next; f; f = next) {
		next = f->next;
		if (!f->staging && !f->inflight)
			fetch_free(r, f);
	}
}

void
repl__fetch_free(struct repl *r)
{
	while (r->fetches)
		fetch_free(r, r->fetches);
}
