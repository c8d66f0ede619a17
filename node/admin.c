/*
 * admin: the admin API's routes. See admin.h.
 *
 * A path segment that names an object (ADDRESS, NAME, KEY, ID) is
 * percent-decoded, so that any address a user may have reaches its route.
 */
#include "node/admin.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/accounts.h"
#include "node/http.h"
#include "node/lib/util.h"
#include "node/node.h"
#include "node/store/store.h"
#include "replication/repl.h"

#define ADMIN_LIST_MAX 100000

static void
reply_json(struct http_req *req, int status, json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	size_t len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	http_respond(req, status, "application/json", text, len);
	free(text);
}

static void
reply_error(struct http_req *req, int status, const char *msg)
{
	reply_json(req, status, json_pack("{s:s}", "error", msg));
}

static int
http_status_of(int err)
{
	switch (err) {
	case 0:
		return 200;
	case -EINVAL:
		return 400;
	case -ENOENT:
		return 404;
	case -EEXIST:
	case -ELOOP:
	case -ENOTEMPTY:
	case -EBUSY:
		return 409;
	case -EPERM:
		return 403;
	case -E2BIG:
		return 413;
	case -EAGAIN:
		return 503;
	default:
		return 500;
	}
}

/* The answer to a write, once it is applied on this node. */
static void
write_done(void *arg, int status, const char *message)
{
	struct http_req *req = arg;
	if (status == 0)
		reply_json(req, 200, json_pack("{s:b, s:s}", "ok", 1, "message", message));
	else
		reply_error(req, http_status_of(status), message);
}

static json_t *
body_json(struct http_req *req)
{
	json_error_t e;
	json_t *j = json_loadb(req->body, req->body_len, 0, &e);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		reply_error(req, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static const char *
jstr(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
ju64(json_t *j, const char *key, uint64_t *v_r)
{
	json_t *v = json_object_get(j, key);
	if (v == NULL || json_is_null(v)) {
		*v_r = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*v_r = (uint64_t)json_integer_value(v);
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* The path component after prefix ("/v1/users/" -> "a@b.test"),
 * percent-decoded in place (the CLI escapes what is not [A-Za-z0-9._~@-],
 * RFC 3986 §2.1). NULL if absent, malformed, or decoding to a NUL or a
 * '/' (which would change the route). Call once per request. */
static const char *
path_arg(struct http_req *req, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(req->path, prefix, n) != 0 || req->path[n] == '\0')
		return NULL;
	char *in = req->path + n, *out = in;
	for (; *in; in++) {
		if (*in != '%') {
			*out++ = *in;
			continue;
		}
		int hi = hexval(in[1]), lo = hi < 0 ? -1 : hexval(in[2]);
		if (lo < 0 || hi * 16 + lo == 0 || hi * 16 + lo == '/')
			return NULL;
		*out++ = (char)(hi * 16 + lo);
		in += 2;
	}
	*out = '\0';
	return req->path + n;
}

/* --- status and members ---------------------------------------------- */

static void
status_done(void *arg, char *json)
{
	struct http_req *req = arg;
	http_respond(req, 200, "application/json", json, strlen(json));
	free(json);
}

static void
get_status(struct http_req *req, void *arg)
{
	struct repl *r = node_repl();
	if (r == NULL) {
		reply_error(req, 503, "replication not started");
		return;
	}
	repl_status_json(r, status_done, req);
}

static void
members(struct http_req *req, void *arg)
{
	struct repl *r = node_repl();
	if (r == NULL) {
		reply_error(req, 503, "replication not started");
		return;
	}
	if (strcmp(req->method, "POST") == 0 && strcmp(req->path, "/v1/members") == 0) {
		json_t *j = body_json(req);
		uint64_t id;
		const char *addr = j ? jstr(j, "address") : NULL;
		if (j == NULL)
			return;
		if (ju64(j, "id", &id) != 0 || id == 0 || addr == NULL) {
			json_decref(j);
			reply_error(req, 400, "id (a positive integer) and address are required");
			return;
		}
		char *a = xstrdup(addr);
		json_decref(j);
		repl_member_add(r, id, a, write_done, req);
		free(a);
		return;
	}
	const char *ids = path_arg(req, "/v1/members/");
	uint64_t id;
	if (strcmp(req->method, "DELETE") != 0 || ids == NULL ||
	    parse_u64(ids, UINT64_MAX, &id) != 0 || id == 0) {
		reply_error(req, 400, "DELETE /v1/members/ID");
		return;
	}
	repl_member_remove(r, id, write_done, req);
}

static void
leadership(struct http_req *req, void *arg)
{
	struct repl *r = node_repl();
	json_t *j = body_json(req);
	uint64_t id;
	if (j == NULL)
		return;
	if (r == NULL || ju64(j, "id", &id) != 0) {
		json_decref(j);
		reply_error(req, r ? 400 : 503, r ? "id must be an integer" : "not started");
		return;
	}
	json_decref(j);
	repl_transfer(r, id, write_done, req);
}

/* --- lists ----------------------------------------------------------- */

struct list_ctx {
	json_t *arr;
	enum store_table table;
	size_t n;
};

static int
list_cb(void *arg, const char *key, size_t klen, const void *val, size_t vlen)
{
	struct list_ctx *l = arg;
	if (l->n++ >= ADMIN_LIST_MAX)
		return 1;
	json_t *k = json_stringn(key, klen);
	if (l->table == STORE_T_DOMAINS || l->table == STORE_T_USERS) {
		json_array_append_new(l->arr, k);
		return 0;
	}
	json_t *o = json_object();
	if (l->table == STORE_T_CONFIG) {
		json_object_set_new(o, "key", k);
		json_object_set_new(o, "value", json_stringn(val, vlen));
	} else {
		json_t *targets = json_array();
		struct cmd_strlist sl = {.raw = val, .rawlen = (uint32_t)vlen};
		uint32_t pos = 0;
		struct cmd_str s;
		while (cmd_strlist_next(&sl, &pos, &s))
			json_array_append_new(targets, json_stringn(s.p, s.len));
		json_object_set_new(o, "address", k);
		json_object_set_new(o, "targets", targets);
	}
	json_array_append_new(l->arr, o);
	return 0;
}

static void
list_table(struct http_req *req, enum store_table table, const char *name)
{
	struct node *n = node_get();
	struct store_txn *t;
	if (store_read_begin(n->store, &t) != 0) {
		reply_error(req, 500, "cannot read the index");
		return;
	}
	struct list_ctx l = {.arr = json_array(), .table = table};
	store_table_foreach(t, table, NULL, list_cb, &l);
	store_read_end(&t);
	reply_json(req, 200, json_pack("{s:o}", name, l.arr));
}

/* --- domains --------------------------------------------------------- */

static void
domains(struct http_req *req, void *arg)
{
	if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/v1/domains") == 0) {
		list_table(req, STORE_T_DOMAINS, "domains");
		return;
	}
	if (strcmp(req->method, "POST") == 0 && strcmp(req->path, "/v1/domains") == 0) {
		json_t *j = body_json(req);
		if (j == NULL)
			return;
		const char *name = jstr(j, "name");
		if (name == NULL) {
			json_decref(j);
			reply_error(req, 400, "name is required");
			return;
		}
		accounts_domain_add(name, write_done, req);
		json_decref(j);
		return;
	}
	const char *name = path_arg(req, "/v1/domains/");
	if (strcmp(req->method, "DELETE") == 0 && name) {
		accounts_domain_del(name, write_done, req);
		return;
	}
	reply_error(req, 405, "unsupported method or path");
}

/* --- users ----------------------------------------------------------- */

static void
user_show(struct http_req *req, const char *address)
{
	struct node *n = node_get();
	char addr[CMD_ADDRESS_MAX + 1];
	const char *err;
	if (accounts_address_normalize(address, addr, 0, &err) != 0) {
		reply_error(req, 400, err);
		return;
	}
	struct store_txn *t;
	if (store_read_begin(n->store, &t) != 0) {
		reply_error(req, 500, "cannot read the index");
		return;
	}
	struct store_user u;
	int rc = store_user_get(t, addr, &u);
	if (rc != 1) {
		store_read_end(&t);
		reply_error(req, rc == 0 ? 404 : 500, rc == 0 ? "no such user" : "read error");
		return;
	}
	struct store_usage us;
	store_usage_get(t, u.id, &us);
	uint64_t qb = u.quota_bytes ? u.quota_bytes : store_config_u64(t, "quota.storage", 0);
	uint64_t qm = u.quota_msgs ? u.quota_msgs : store_config_u64(t, "quota.messages", 0);
	store_read_end(&t);
	/* user_quota_*: the user's own setting (0: the cluster default), so
	 * that a client can change one limit and keep the other. */
	reply_json(req, 200,
	           json_pack("{s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "address", addr, "id",
	                     (json_int_t)u.id, "enabled", u.enabled, "quota_bytes", (json_int_t)qb,
	                     "quota_messages", (json_int_t)qm, "used_bytes", (json_int_t)us.bytes,
	                     "used_messages", (json_int_t)us.messages, "user_quota_bytes",
	                     (json_int_t)u.quota_bytes, "user_quota_messages",
	                     (json_int_t)u.quota_msgs));
}

static void
users(struct http_req *req, void *arg)
{
	if (strcmp(req->path, "/v1/users") == 0) {
		if (strcmp(req->method, "GET") == 0) {
			list_table(req, STORE_T_USERS, "users");
			return;
		}
		if (strcmp(req->method, "POST") != 0) {
			reply_error(req, 405, "GET or POST");
			return;
		}
		json_t *j = body_json(req);
		if (j == NULL)
			return;
		const char *addr = jstr(j, "address"), *pw = jstr(j, "password");
		uint64_t qb, qm;
		if (addr == NULL || pw == NULL || ju64(j, "quota_bytes", &qb) != 0 ||
		    ju64(j, "quota_messages", &qm) != 0) {
			json_decref(j);
			reply_error(req, 400,
			            "address and password are required; quotas are integers");
			return;
		}
		accounts_user_add(addr, pw, strlen(pw), qb, qm, write_done, req);
		json_decref(j);
		return;
	}
	const char *rest = path_arg(req, "/v1/users/");
	if (rest == NULL) {
		reply_error(req, 404, "not found");
		return;
	}
	char address[CMD_ADDRESS_MAX + 1];
	const char *slash = strchr(rest, '/');
	size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (alen > CMD_ADDRESS_MAX) {
		reply_error(req, 400, "address too long");
		return;
	}
	memcpy(address, rest, alen);
	address[alen] = '\0';
	if (slash == NULL) {
		if (strcmp(req->method, "GET") == 0)
			user_show(req, address);
		else if (strcmp(req->method, "DELETE") == 0)
			accounts_user_del(address, write_done, req);
		else
			reply_error(req, 405, "GET or DELETE");
		return;
	}
	if (strcmp(req->method, "POST") != 0) {
		reply_error(req, 405, "POST");
		return;
	}
	json_t *j = body_json(req);
	if (j == NULL)
		return;
	if (strcmp(slash, "/password") == 0) {
		const char *pw = jstr(j, "password");
		if (pw == NULL)
			reply_error(req, 400, "password is required");
		else
			accounts_user_passwd(address, pw, strlen(pw), write_done, req);
	} else if (strcmp(slash, "/enabled") == 0) {
		json_t *v = json_object_get(j, "enabled");
		if (!json_is_boolean(v))
			reply_error(req, 400, "enabled must be true or false");
		else
			accounts_user_enable(address, json_is_true(v), write_done, req);
	} else if (strcmp(slash, "/quota") == 0) {
		uint64_t qb, qm;
		if (ju64(j, "bytes", &qb) != 0 || ju64(j, "messages", &qm) != 0)
			reply_error(req, 400, "bytes and messages are non-negative integers");
		else
			accounts_quota_set(address, qb, qm, write_done, req);
	} else {
		reply_error(req, 404, "not found");
	}
	json_decref(j);
}

/* --- aliases --------------------------------------------------------- */

static void
aliases(struct http_req *req, void *arg)
{
	if (strcmp(req->path, "/v1/aliases") == 0 && strcmp(req->method, "GET") == 0) {
		list_table(req, STORE_T_ALIASES, "aliases");
		return;
	}
	if (strcmp(req->path, "/v1/aliases") == 0 && strcmp(req->method, "POST") == 0) {
		json_t *j = body_json(req);
		if (j == NULL)
			return;
		const char *addr = jstr(j, "address");
		json_t *t = json_object_get(j, "targets");
		size_t n = json_is_array(t) ? json_array_size(t) : 0;
		if (addr == NULL || n == 0 || n > CMD_TARGETS_MAX) {
			json_decref(j);
			reply_error(req, 400, "address and 1 to 256 targets are required");
			return;
		}
		const char **v = xcalloc(n, sizeof(*v));
		for (size_t i = 0; i < n; i++) {
			v[i] = json_string_value(json_array_get(t, i));
			if (v[i] == NULL) {
				free(v);
				json_decref(j);
				reply_error(req, 400, "targets are addresses");
				return;
			}
		}
		accounts_alias_add(addr, v, n, write_done, req);
		free(v);
		json_decref(j);
		return;
	}
	const char *addr = path_arg(req, "/v1/aliases/");
	if (strcmp(req->method, "DELETE") == 0 && addr) {
		accounts_alias_del(addr, write_done, req);
		return;
	}
	reply_error(req, 405, "unsupported method or path");
}

/* --- configuration --------------------------------------------------- */

static void
config(struct http_req *req, void *arg)
{
	if (strcmp(req->path, "/v1/config") == 0 && strcmp(req->method, "GET") == 0) {
		list_table(req, STORE_T_CONFIG, "config");
		return;
	}
	const char *key = path_arg(req, "/v1/config/");
	if (key == NULL) {
		reply_error(req, 404, "not found");
		return;
	}
	if (strcmp(req->method, "GET") == 0) {
		struct node *n = node_get();
		struct store_txn *t;
		char *val = xmalloc(CMD_VALUE_MAX + 1);
		if (store_read_begin(n->store, &t) != 0) {
			free(val);
			reply_error(req, 500, "cannot read the index");
			return;
		}
		int rc = store_config_get(t, key, val, CMD_VALUE_MAX + 1);
		store_read_end(&t);
		if (rc == 1)
			reply_json(req, 200, json_pack("{s:s, s:s}", "key", key, "value", val));
		else
			reply_error(req, 404, "no such key");
		free(val);
		return;
	}
	if (strcmp(req->method, "DELETE") == 0) {
		accounts_config_del(key, write_done, req);
		return;
	}
	if (strcmp(req->method, "PUT") == 0) {
		json_t *j = body_json(req);
		if (j == NULL)
			return;
		const char *v = jstr(j, "value");
		if (v == NULL)
			reply_error(req, 400, "value (a string) is required");
		else
			accounts_config_set(key, v, write_done, req);
		json_decref(j);
		return;
	}
	reply_error(req, 405, "GET, PUT or DELETE");
}

void
admin_init(struct node *n)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	http_route("GET", "/v1/status", HTTP_ADMIN, get_status, n);
	http_route("POST", "/v1/leadership", HTTP_ADMIN, leadership, n);
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		http_route(methods[i], "/v1/members", HTTP_ADMIN | HTTP_PREFIX, members, n);
		http_route(methods[i], "/v1/domains", HTTP_ADMIN | HTTP_PREFIX, domains, n);
		http_route(methods[i], "/v1/users", HTTP_ADMIN | HTTP_PREFIX, users, n);
		http_route(methods[i], "/v1/aliases", HTTP_ADMIN | HTTP_PREFIX, aliases, n);
		http_route(methods[i], "/v1/config", HTTP_ADMIN | HTTP_PREFIX, config, n);
	}
}
