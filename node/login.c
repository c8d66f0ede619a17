/*
 * login: SASL against the replicated accounts. See login.h.
 *
 * The SCRAM "fake salt" secret must be the same on every node and stable:
 * it is derived from the cluster CA key, which every member holds.
 */
#include "node/login.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/accounts.h"
#include "node/auth/password.h"
#include "node/auth/sasl.h"
#include "node/auth/throttle.h"
#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/store.h"
#include "replication/repl.h"

static struct {
	struct node *node;
	struct throttle *throttle;
	uint8_t secret[SHA256_LEN];
} login_g;

struct login {
	struct sasl_server *sasl;
	struct conn *conn;
	struct sockaddr_storage peer;
	int have_peer;
	const char *proto;
	login_cb cb;
	void *arg;
	struct nbuf challenge;
	struct login_user user;
	int user_found;
	uint32_t delay_ms;
	uint64_t started_ms;
	/* verification in the pool */
	uv_work_t work;
	int in_pool;
	int verify_result;
	int freed;
	/* holding back the answer */
	uv_timer_t *timer;
	int status;
};

static int64_t
login_throttled(void *arg)
{
	struct throttle_stats st;
	if (login_g.throttle == NULL)
		return 0;
	throttle_stats(login_g.throttle, now_mono_ms(), &st);
	return (int64_t)(st.throttled_ips + st.throttled_users);
}

void
login_init(struct node *n)
{
	login_g.node = n;
	login_g.throttle = throttle_create(NULL);
	if (login_g.throttle == NULL)
		panic("login: cannot create the throttle");
	char *ca = config_path(n->cfg, REPL_CA_KEY);
	FILE *f = fopen(ca, "r");
	uint8_t buf[8192];
	size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	free(ca);
	/* Without the CA key (not expected on a member) fall back to the
	 * node id: stable, though then not the same on every node. */
	if (len == 0)
		len = (size_t)snprintf((char *)buf, sizeof(buf), "node-%llu",
		                       (unsigned long long)n->cfg->node_id);
	hmac_sha256("mailnode scram secret", 21, buf, len, login_g.secret);
	explicit_bzero(buf, sizeof(buf));
	metric_gauge_fn("mailnode_auth_throttled", NULL,
	                "Addresses and users whose next authentication is held back",
	                login_throttled, NULL);
}

void
login_deinit(void)
{
	throttle_free(&login_g.throttle);
}

int
login_plaintext_ok(struct conn *c)
{
	if (conn_is_tls(c))
		return 1;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (c->flags & CONN_F_PIPE)
		return 0;
	if (uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	int loopback = 0;
	if (ss.ss_family == AF_INET)
		loopback = (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	else if (ss.ss_family == AF_INET6)
		loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
	if (!loopback)
		return 0;
	char v[16];
	struct store_txn *t;
	int allowed = 1;
	if (login_g.node && login_g.node->store && store_read_begin(login_g.node->store, &t) == 0) {
		if (store_config_get(t, "auth.plaintext_loopback", v, sizeof(v)) == 1)
			allowed = strcmp(v, "false") != 0;
		store_read_end(&t);
	}
	return allowed;
}

const char *
login_mechs(int plaintext_ok)
{
	return sasl_server_mechs(plaintext_ok);
}

static void
login_count(const char *proto, const char *result)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "proto=\"%s\",result=\"%s\"", proto, result);
	metric_inc(metric_counter("mailnode_auth_total", labels, "Authentication attempts"));
}

static void
login_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void
login_deliver(struct login *l)
{
	int st = l->status;
	if (st == LOGIN_OK)
		l->cb(l->arg, LOGIN_OK, nbuf_head(&l->challenge), nbuf_avail(&l->challenge),
		      &l->user);
	else
		l->cb(l->arg, st, NULL, 0, NULL);
}

static void
login_timer_cb(uv_timer_t *t)
{
	struct login *l = t->data;
	uv_close((uv_handle_t *)t, login_timer_closed);
	l->timer = NULL;
	login_deliver(l);
}

/* The outcome is known: record it, then answer no sooner than the
 * throttle says. */
static void
login_finish(struct login *l, int status)
{
	const char *user = sasl_server_username(l->sasl);
	const struct sockaddr *peer = l->have_peer ? (const struct sockaddr *)&l->peer : NULL;
	uint64_t now = now_mono_ms();
	l->status = status;
	if (status == LOGIN_OK) {
		throttle_success(login_g.throttle, peer, user, now);
		login_count(l->proto, "ok");
		log_info(l->proto, "event=login user=%s peer=%s mech=%s", l->user.address,
		         l->conn ? l->conn->peer : "-", sasl_server_mech_name(l->sasl));
	} else if (status == LOGIN_FAIL) {
		throttle_fail(login_g.throttle, peer, user, now);
		login_count(l->proto, "failed");
		log_info(l->proto, "event=auth-failed user=%s peer=%s mech=%s delay_ms=%u",
		         user ? user : "-", l->conn ? l->conn->peer : "-",
		         sasl_server_mech_name(l->sasl), l->delay_ms);
	} else {
		login_count(l->proto, status == LOGIN_MALFORMED ? "malformed" : "error");
	}
	uint64_t waited = now - l->started_ms;
	if (status != LOGIN_MALFORMED && l->delay_ms > waited) {
		l->timer = xmalloc(sizeof(*l->timer));
		uv_timer_init(login_g.node->loop, l->timer);
		l->timer->data = l;
		uv_timer_start(l->timer, login_timer_cb, l->delay_ms - waited, 0);
		return;
	}
	login_deliver(l);
}

static void login_run(struct login *l, int rc);

static void
login_verify_work(uv_work_t *w)
{
	struct login *l = w->data;
	l->verify_result = sasl_server_verify(l->sasl);
}

static void
login_verify_done(uv_work_t *w, int status)
{
	struct login *l = w->data;
	l->in_pool = 0;
	if (l->freed) {
		login_free(&l);
		return;
	}
	sasl_server_verified(l->sasl, status == 0 ? l->verify_result : -1);
	nbuf_reset(&l->challenge);
	login_run(l, sasl_server_step(l->sasl, NULL, 0, &l->challenge));
}

/* Look up the user the mechanism named. */
static void
login_lookup(struct login *l)
{
	const char *name = sasl_server_username(l->sasl);
	const char *err;
	char addr[CMD_ADDRESS_MAX + 1];
	struct auth_credentials cred;
	int have = 0;
	const struct sockaddr *peer = l->have_peer ? (const struct sockaddr *)&l->peer : NULL;
	l->delay_ms = throttle_delay_ms(login_g.throttle, peer, name, now_mono_ms());
	if (name && accounts_address_normalize(name, addr, 0, &err) == 0 && login_g.node->store) {
		struct store_txn *t;
		struct store_user u;
		if (store_read_begin(login_g.node->store, &t) == 0) {
			if (store_user_get(t, addr, &u) == 1 && u.enabled &&
			    auth_credentials_decode(u.cred, u.credlen, &cred) == 0) {
				have = 1;
				l->user.id = u.id;
				snprintf(l->user.address, sizeof(l->user.address), "%s", addr);
			}
			store_read_end(&t);
		}
	}
	l->user_found = have;
	sasl_server_set_credentials(l->sasl, have ? &cred : NULL);
	auth_credentials_wipe(&cred);
}

static void
login_run(struct login *l, int rc)
{
	for (;;) {
		switch (rc) {
		case SASL_CONTINUE:
			l->cb(l->arg, LOGIN_CONTINUE, nbuf_head(&l->challenge),
			      nbuf_avail(&l->challenge), NULL);
			return;
		case SASL_NEED_CREDENTIALS:
			login_lookup(l);
			nbuf_reset(&l->challenge);
			rc = sasl_server_step(l->sasl, NULL, 0, &l->challenge);
			continue;
		case SASL_NEED_VERIFY:
			l->work.data = l;
			l->in_pool = 1;
			uv_queue_work(login_g.node->loop, &l->work, login_verify_work,
			              login_verify_done);
			return;
		case SASL_OK:
			login_finish(l, l->user_found ? LOGIN_OK : LOGIN_FAIL);
			return;
		case SASL_FAIL: {
			enum sasl_fail why = sasl_server_fail_reason(l->sasl);
			login_finish(l, why == SASL_FAIL_CREDENTIALS || why == SASL_FAIL_AUTHZID
			                        ? LOGIN_FAIL
			                : why == SASL_FAIL_INTERNAL ? LOGIN_TEMP
			                                            : LOGIN_MALFORMED);
			return;
		}
		default:
			login_finish(l, LOGIN_MALFORMED);
			return;
		}
	}
}

static struct login *
login_new(const char *mech, int plaintext_ok, struct conn *c, const char *proto, login_cb cb,
          void *arg)
{
	struct password_params pw;
	password_params_default(&pw);
	struct sasl_server_params p = {
	        .secret = login_g.secret,
	        .secret_len = sizeof(login_g.secret),
	        .plaintext_ok = plaintext_ok,
	        .pw = &pw,
	};
	struct sasl_server *s = sasl_server_new(mech, &p);
	if (s == NULL)
		return NULL;
	struct login *l = xcalloc(1, sizeof(*l));
	l->sasl = s;
	l->conn = c;
	l->proto = proto;
	l->cb = cb;
	l->arg = arg;
	l->started_ms = now_mono_ms();
	nbuf_init(&l->challenge, SASL_CHALLENGE_MAX * 2);
	if (c && !(c->flags & CONN_F_PIPE)) {
		int len = sizeof(l->peer);
		l->have_peer =
		        uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&l->peer, &len) == 0;
	}
	return l;
}

struct login *
login_sasl(const char *mech, int plaintext_ok, struct conn *c, const char *proto, login_cb cb,
           void *arg)
{
	return login_new(mech, plaintext_ok, c, proto, cb, arg);
}

void
login_step(struct login *l, const void *in, size_t len, int has_data)
{
	nbuf_reset(&l->challenge);
	l->started_ms = now_mono_ms();
	int rc = sasl_server_step(l->sasl, has_data ? in : NULL, has_data ? len : 0, &l->challenge);
	login_run(l, rc);
}

struct login *
login_password(const char *user, const char *pw, size_t pwlen, struct conn *c, const char *proto,
               login_cb cb, void *arg)
{
	struct login *l = login_new("PLAIN", 1, c, proto, cb, arg);
	size_t ulen = strlen(user);
	if (l == NULL)
		return NULL;
	if (ulen > SASL_USERNAME_MAX || pwlen > PASSWORD_LEN_MAX) {
		l->status = LOGIN_FAIL;
		login_finish(l, LOGIN_MALFORMED);
		return l;
	}
	/* PLAIN's message: NUL user NUL password. */
	size_t n = 2 + ulen + pwlen;
	uint8_t *msg = xmalloc(n);
	msg[0] = '\0';
	memcpy(msg + 1, user, ulen);
	msg[1 + ulen] = '\0';
	memcpy(msg + 2 + ulen, pw, pwlen);
	login_step(l, msg, n, 1);
	explicit_bzero(msg, n);
	free(msg);
	return l;
}

void
login_free(struct login **pl)
{
	struct login *l = *pl;
	if (l == NULL)
		return;
	*pl = NULL;
	if (l->in_pool) {
		l->freed = 1; /* freed when the pool job returns */
		return;
	}
	if (l->timer) {
		uv_timer_stop(l->timer);
		uv_close((uv_handle_t *)l->timer, login_timer_closed);
	}
	sasl_server_free(&l->sasl);
	nbuf_deinit(&l->challenge);
	free(l);
}
