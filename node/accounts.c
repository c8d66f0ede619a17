/*
 * accounts: account and configuration commands. See accounts.h.
 */
#include "node/accounts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/auth/credentials.h"
#include "node/auth/password.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/node.h"
#include "node/store/store.h"
#include "replication/repl.h"

struct acct_op {
	accounts_cb cb;
	void *arg;
	struct cmd_batch batch;
	const char *what; /* for messages: "user", "domain", ... */
	/* password hashing */
	uv_work_t work;
	char *password;
	size_t pwlen;
	struct password_params params;
	struct auth_credentials cred;
	int hash_rc;
	struct cmd cmd; /* the command waiting for its credentials */
	char address[CMD_ADDRESS_MAX + 1];
	int demo;
};

static const char *
status_message(enum cmd_status s, const char *what, int *errno_r)
{
	switch (s) {
	case CMD_OK:
		*errno_r = 0;
		return "done";
	case CMD_ENOTFOUND:
		*errno_r = -ENOENT;
		return "not found";
	case CMD_EEXISTS:
		*errno_r = -EEXIST;
		return "already exists";
	case CMD_EINVALID:
		*errno_r = -EINVAL;
		return "invalid";
	case CMD_ENOPERM:
		*errno_r = -EPERM;
		return "not permitted";
	case CMD_ENOTEMPTY:
		*errno_r = -ENOTEMPTY;
		return "still in use";
	case CMD_ELOOP:
		*errno_r = -ELOOP;
		return "that alias would create a loop";
	case CMD_ELIMIT:
		*errno_r = -E2BIG;
		return "a limit was reached";
	default:
		*errno_r = -EIO;
		return cmd_status_name(s);
	}
}

static void
op_free(struct acct_op *op)
{
	cmd_batch_deinit(&op->batch);
	if (op->password) {
		explicit_bzero(op->password, op->pwlen);
		free(op->password);
	}
	auth_credentials_wipe(&op->cred);
	free(op);
}

static void
op_submitted(void *arg, int status, struct cmd_results *rs)
{
	struct acct_op *op = arg;
	char msg[256];
	int st = -EAGAIN;
	if (status != REPL_OK) {
		snprintf(msg, sizeof(msg), "the cluster cannot accept writes now (%s); try again",
		         status == REPL_ESHUTDOWN ? "node stopping" : "no leader");
	} else {
		/* The first failing command decides. */
		st = 0;
		snprintf(msg, sizeof(msg), "done");
		for (uint32_t i = 0; i < rs->n; i++) {
			if (rs->r[i].status == CMD_OK || rs->r[i].status == CMD_EABORTED)
				continue;
			const char *m = status_message(rs->r[i].status, op->what, &st);
			snprintf(msg, sizeof(msg), "%s %s", op->what, m);
			break;
		}
		cmd_results_free(&rs);
	}
	op->cb(op->arg, st, msg);
	op_free(op);
}

static struct acct_op *
op_new(accounts_cb cb, void *arg, const char *what, uint8_t flags)
{
	struct acct_op *op = xcalloc(1, sizeof(*op));
	op->cb = cb;
	op->arg = arg;
	op->what = what;
	struct node *n = node_get();
	cmd_batch_init(&op->batch, n ? n->cfg->node_id : 0, flags);
	return op;
}

static void
op_submit(struct acct_op *op)
{
	struct repl *r = node_repl();
	if (r == NULL || op->batch.err) {
		op->cb(op->arg, r ? -EINVAL : -EAGAIN, r ? "request too large" : "node not ready");
		op_free(op);
		return;
	}
	repl_submit(r, &op->batch, op_submitted, op);
}

static void
op_fail(struct acct_op *op, int status, const char *msg)
{
	op->cb(op->arg, status, msg);
	op_free(op);
}

static struct cmd_str
S(const char *s) {
	return (struct cmd_str){s, strlen(s)};
}

int
accounts_domain_normalize(const char *in, char *out, const char **error_r)
{
	size_t n = strlen(in);
	if (n == 0 || n > 253) {
		*error_r = "a domain is 1 to 253 characters";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)ascii_tolower((unsigned char)in[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
			*error_r = "invalid domain: letters, digits, '-' and '.' only";
			return -1;
		}
		if (c == '.' && (i == 0 || i + 1 == n || in[i + 1] == '.')) {
			*error_r = "invalid domain: empty label";
			return -1;
		}
		out[i] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int
accounts_address_normalize(const char *in, char *out, int catchall, const char **error_r)
{
	const char *at = strrchr(in, '@');
	size_t n = strlen(in);
	if (at == NULL || n > CMD_ADDRESS_MAX) {
		*error_r = "invalid address: expected local@domain";
		return -1;
	}
	size_t llen = (size_t)(at - in);
	if (llen == 0 && !catchall) {
		*error_r = "invalid address: empty local part";
		return -1;
	}
	if (llen > 64) {
		*error_r = "invalid address: local part longer than 64";
		return -1;
	}
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= ' ' || c >= 0x7f || strchr("\"(),:;<>@[\\]/", c) ||
		    (c == '.' && (i == 0 || i + 1 == llen || in[i + 1] == '.'))) {
			*error_r = "invalid address: bad character in the local part";
			return -1;
		}
		out[i] = (char)ascii_tolower(c);
	}
	out[llen] = '@';
	if (accounts_domain_normalize(at + 1, out + llen + 1, error_r) != 0)
		return -1;
	return 0;
}

static void
accounts_domain_cmd(enum cmd_type type, const char *domain, accounts_cb cb, void *arg)
{
	char d[CMD_ADDRESS_MAX + 1];
	const char *err;
	struct acct_op *op = op_new(cb, arg, "domain", 0);
	if (accounts_domain_normalize(domain, d, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	struct cmd c = {.type = type, .name = S(d)};
	cmd_batch_add(&op->batch, &c);
	op_submit(op);
}

void
accounts_domain_add(const char *domain, accounts_cb cb, void *arg)
{
	accounts_domain_cmd(CMD_DOMAIN_ADD, domain, cb, arg);
}

void
accounts_domain_del(const char *domain, accounts_cb cb, void *arg)
{
	accounts_domain_cmd(CMD_DOMAIN_DEL, domain, cb, arg);
}

/* --- passwords ------------------------------------------------------ */

static void
params_from_config(struct password_params *p)
{
	password_params_default(p);
	struct node *n = node_get();
	struct store_txn *t;
	if (n == NULL || n->store == NULL || store_read_begin(n->store, &t) != 0)
		return;
	p->argon2_m_kib =
	        (uint32_t)store_config_u64(t, "password.argon2_memory_kib", p->argon2_m_kib);
	p->argon2_t = (uint32_t)store_config_u64(t, "password.argon2_passes", p->argon2_t);
	p->scram_iterations =
	        (uint32_t)store_config_u64(t, "password.scram_iterations", p->scram_iterations);
	store_read_end(&t);
	const char *err;
	if (password_params_check(p, &err) != 0)
		password_params_default(p);
}

static void
hash_work(uv_work_t *w)
{
	struct acct_op *op = w->data;
	op->hash_rc = password_hash(op->password, op->pwlen, &op->params, &op->cred);
}

static void
hash_done(uv_work_t *w, int status)
{
	struct acct_op *op = w->data;
	explicit_bzero(op->password, op->pwlen);
	if (status != 0 || op->hash_rc != 0) {
		op_fail(op, -EIO, "cannot hash the password");
		return;
	}
	struct nbuf blob;
	nbuf_init(&blob, CMD_CRED_MAX);
	if (auth_credentials_encode(&op->cred, &blob) != 0) {
		nbuf_deinit(&blob);
		op_fail(op, -EIO, "cannot encode the credentials");
		return;
	}
	op->cmd.address = S(op->address);
	op->cmd.blob = (struct cmd_str){(const char *)nbuf_head(&blob), nbuf_avail(&blob)};
	if (op->demo) {
		struct cmd c0 = {.type = CMD_CLUSTER_INIT};
		struct cmd c1 = {.type = CMD_DOMAIN_ADD, .name = S("example.test")};
		cmd_batch_add(&op->batch, &c0);
		cmd_batch_add(&op->batch, &c1);
	}
	cmd_batch_add(&op->batch, &op->cmd);
	nbuf_deinit(&blob);
	op_submit(op);
}

/* Hash the password off the loop, then submit op->cmd with it. */
static void
op_hash_then_submit(struct acct_op *op, const char *password, size_t pwlen)
{
	const char *err;
	if (password_policy_check(password, pwlen, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	op->password = xmalloc(pwlen + 1);
	memcpy(op->password, password, pwlen);
	op->password[pwlen] = '\0';
	op->pwlen = pwlen;
	params_from_config(&op->params);
	op->work.data = op;
	struct node *n = node_get();
	if (n == NULL || uv_queue_work(n->loop, &op->work, hash_work, hash_done) != 0)
		op_fail(op, -EAGAIN, "node not ready");
}

void
accounts_user_add(const char *address, const char *password, size_t pwlen, uint64_t quota_bytes,
                  uint64_t quota_msgs, accounts_cb cb, void *arg)
{
	const char *err;
	struct acct_op *op = op_new(cb, arg, "user", 0);
	if (accounts_address_normalize(address, op->address, 0, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	op->cmd = (struct cmd){.type = CMD_USER_ADD,
	                       .quota_bytes = quota_bytes,
	                       .quota_msgs = quota_msgs,
	                       .enabled = 1};
	op_hash_then_submit(op, password, pwlen);
}

void
accounts_user_passwd(const char *address, const char *password, size_t pwlen, accounts_cb cb,
                     void *arg)
{
	const char *err;
	struct acct_op *op = op_new(cb, arg, "user", 0);
	if (accounts_address_normalize(address, op->address, 0, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	op->cmd = (struct cmd){.type = CMD_USER_SET_PASSWORD};
	op_hash_then_submit(op, password, pwlen);
}

void
accounts_cluster_init(int demo, accounts_cb cb, void *arg)
{
	struct acct_op *op = op_new(cb, arg, "cluster", 0);
	if (!demo) {
		struct cmd c = {.type = CMD_CLUSTER_INIT};
		cmd_batch_add(&op->batch, &c);
		op_submit(op);
		return;
	}
	/* The demo account: CLUSTER_INIT, the domain and the user in one
	 * batch once the password is hashed. A demo domain or user that
	 * exists already (an operator made it) is fine. */
	op->demo = 1;
	snprintf(op->address, sizeof(op->address), "demo@example.test");
	op->cmd = (struct cmd){.type = CMD_USER_ADD, .enabled = 1};
	op_hash_then_submit(op, "demo", 4);
}

static void
op_simple_user(enum cmd_type type, const char *address, accounts_cb cb, void *arg, struct cmd *c)
{
	const char *err;
	struct acct_op *op = op_new(cb, arg, "user", 0);
	if (accounts_address_normalize(address, op->address, 0, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	c->type = type;
	c->address = S(op->address);
	cmd_batch_add(&op->batch, c);
	op_submit(op);
}

void
accounts_user_del(const char *address, accounts_cb cb, void *arg)
{
	struct cmd c = {0};
	op_simple_user(CMD_USER_DEL, address, cb, arg, &c);
}

void
accounts_user_enable(const char *address, int enabled, accounts_cb cb, void *arg)
{
	struct cmd c = {.enabled = enabled ? 1 : 0};
	op_simple_user(CMD_USER_SET_ENABLED, address, cb, arg, &c);
}

void
accounts_quota_set(const char *address, uint64_t bytes, uint64_t msgs, accounts_cb cb, void *arg)
{
	struct cmd c = {.quota_bytes = bytes, .quota_msgs = msgs};
	op_simple_user(CMD_USER_SET_QUOTA, address, cb, arg, &c);
}

void
accounts_alias_add(const char *address, const char *const *targets, size_t n, accounts_cb cb,
                   void *arg)
{
	const char *err;
	struct acct_op *op = op_new(cb, arg, "alias", 0);
	if (accounts_address_normalize(address, op->address, 1, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	if (n == 0 || n > CMD_TARGETS_MAX) {
		op_fail(op, -EINVAL, "an alias needs 1 to 256 targets");
		return;
	}
	char(*norm)[CMD_ADDRESS_MAX + 1] = xmalloc(n * sizeof(*norm));
	const char **v = xmalloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		if (accounts_address_normalize(targets[i], norm[i], 0, &err) != 0) {
			free(norm);
			free(v);
			op_fail(op, -EINVAL, err);
			return;
		}
		if (strcmp(norm[i], op->address) == 0) {
			free(norm);
			free(v);
			op_fail(op, -ELOOP, "an alias cannot point to itself");
			return;
		}
		v[i] = norm[i];
	}
	struct cmd c = {.type = CMD_ALIAS_ADD,
	                .address = S(op->address),
	                .targets = {.n = (uint32_t)n, .v = v}};
	cmd_batch_add(&op->batch, &c);
	free(norm);
	free(v);
	op_submit(op);
}

void
accounts_alias_del(const char *address, accounts_cb cb, void *arg)
{
	const char *err;
	struct acct_op *op = op_new(cb, arg, "alias", 0);
	if (accounts_address_normalize(address, op->address, 1, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	struct cmd c = {.type = CMD_ALIAS_DEL, .address = S(op->address)};
	cmd_batch_add(&op->batch, &c);
	op_submit(op);
}

/* Known configuration keys and what their values must be. */
static const struct {
	const char *key;
	const char *kind; /* "u64", "bool", "string" */
	const char *help;
} config_keys[] = {
        {"quota.storage", "u64", "default storage quota per user, bytes (0: none)"},
        {"quota.messages", "u64", "default message quota per user (0: none)"},
        {"limits.message_size", "u64", "largest message accepted, bytes"},
        {"limits.imap_line", "u64", "longest IMAP command line, bytes"},
        {"password.argon2_memory_kib", "u64", "Argon2id memory for new passwords, KiB"},
        {"password.argon2_passes", "u64", "Argon2id passes for new passwords"},
        {"password.scram_iterations", "u64", "PBKDF2 iterations of SCRAM keys"},
        {"auth.plaintext_loopback", "bool", "allow PLAIN/LOGIN without TLS from loopback"},
        {"health.max_lag", "u64", "largest applied-index lag a healthy node may have"},
        {"pop3.seen_on_retr", "bool", "mark messages \\Seen when RETRieved over POP3"},
        {"pop3.login_delay", "u64", "seconds between POP3 logins (LOGIN-DELAY), 0: none"},
        {"pop3.expire", "string", "EXPIRE advertised by POP3 (days, NEVER, or 0)"},
        {"pop3.idle_timeout", "u64", "seconds a POP3 session may idle"},
        {"imap.login_timeout", "u64", "seconds to log in before the connection closes"},
        {"imap.idle_timeout", "u64", "seconds an IMAP session may idle outside IDLE"},
        {"imap.idle_keepalive", "u64", "seconds between '* OK Still here' during IDLE"},
        {"imap.commands_per_second", "u64", "IMAP commands per second before slowing down, 0: off"},
        {"limits.imap_depth", "u64", "deepest parenthesis nesting in an IMAP command"},
};

int
accounts_config_check(const char *key, const char *value, const char **error_r)
{
	size_t kl = strlen(key);
	if (kl == 0 || kl > CMD_CONFIG_KEY_MAX) {
		*error_r = "invalid key";
		return -1;
	}
	for (size_t i = 0; i < kl; i++) {
		char c = key[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-')) {
			*error_r = "invalid key: lower-case letters, digits, '.', '_' and '-' only";
			return -1;
		}
	}
	if (value == NULL)
		return 0;
	if (strlen(value) > CMD_VALUE_MAX) {
		*error_r = "value too long";
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		if (strcmp(config_keys[i].key, key) != 0)
			continue;
		uint64_t v;
		if (strcmp(config_keys[i].kind, "u64") == 0 &&
		    parse_u64(value, UINT64_MAX, &v) != 0) {
			*error_r = "this key takes a non-negative integer";
			return -1;
		}
		if (strcmp(config_keys[i].kind, "bool") == 0 && strcmp(value, "true") != 0 &&
		    strcmp(value, "false") != 0) {
			*error_r = "this key takes true or false";
			return -1;
		}
	}
	return 0;
}

void
accounts_config_set(const char *key, const char *value, accounts_cb cb, void *arg)
{
	const char *err;
	struct acct_op *op = op_new(cb, arg, "config key", 0);
	if (accounts_config_check(key, value, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	struct cmd c = {.type = CMD_CONFIG_SET, .name = S(key), .value = S(value)};
	cmd_batch_add(&op->batch, &c);
	op_submit(op);
}

void
accounts_config_del(const char *key, accounts_cb cb, void *arg)
{
	const char *err;
	struct acct_op *op = op_new(cb, arg, "config key", 0);
	if (accounts_config_check(key, NULL, &err) != 0) {
		op_fail(op, -EINVAL, err);
		return;
	}
	struct cmd c = {.type = CMD_CONFIG_DEL, .name = S(key)};
	cmd_batch_add(&op->batch, &c);
	op_submit(op);
}
