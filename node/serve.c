/*
 * serve: `mailnode serve`, the daemon.
 *
 * Start-up: configuration (validated before anything is touched), the data
 * directory (prepared by `mailnode init` or `join`), the store, TLS, the
 * replication engine, the listeners (all bound, or none), raft started
 * (which replays the log into the store), then the loop.
 *
 * Stop (SIGINT/SIGTERM): a leader first hands leadership to another voter;
 * then listeners close, connections get a bounded time to finish their
 * writes, raft closes, the store commits and closes, everything is freed.
 * A fatal storage error stops the node the same way with exit code 1.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/admin.h"
#include "node/bootstrap.h"
#include "node/health.h"
#include "node/http.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/net/conn.h"
#include "node/net/tls.h"
#include "node/node.h"
#include "node/protocols.h"
#include "node/stager.h"
#include "node/store/body_journal.h"
#include "node/store/store.h"
#include "replication/repl.h"

#define NODE_SHUTDOWN_GRACE_MS 5000

static struct node *the_node;

struct node *
node_get(void)
{
	return the_node;
}

const char *
node_cluster_address(const struct config *cfg)
{
	return cfg->advertise ? cfg->advertise : cfg->listen[LISTEN_CLUSTER];
}

static void
node_close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
node_repl_stopped(void *arg)
{
	log_info("node", "event=replication-stopped");
}

/* Second half of stopping, once leadership is handed over. */
static void
node_stop_now(void *arg)
{
	struct node *n = arg;
	for (int i = 0; i < LISTEN_COUNT; i++)
		listener_close(&n->listeners[i]);
	listener_close(&n->admin);
	uv_timer_stop(&n->tasks);
	uv_close((uv_handle_t *)&n->tasks, NULL);
	net_shutdown(NODE_SHUTDOWN_GRACE_MS);
	if (n->repl)
		repl_stop(n->repl, node_repl_stopped, n);
}

void
node_stop(struct node *n, int exit_code, const char *why)
{
	if (n->stopping) {
		if (exit_code > n->exit_code)
			n->exit_code = exit_code;
		return;
	}
	n->stopping = 1;
	n->exit_code = exit_code;
	log_info("node", "event=stopping reason=\"%s\"", why);
	uv_close((uv_handle_t *)&n->sigint, NULL);
	uv_close((uv_handle_t *)&n->sigterm, NULL);
	if (n->repl && exit_code == 0)
		repl_step_down(n->repl, node_stop_now, n);
	else
		node_stop_now(n);
}

static void
node_signal_cb(uv_signal_t *h, int signum)
{
	struct node *n = h->data;
	node_stop(n, 0, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void
node_fatal(void *arg, const char *why)
{
	node_stop(arg, 1, why);
}

/* The client-facing certificate: the configured one, or a self-signed one
 * created under the data directory on first start. */
static int
node_tls_setup(struct node *n, const char **error_r)
{
	char *cert = n->cfg->tls_cert ? xstrdup(n->cfg->tls_cert)
	                              : config_path(n->cfg, "tls/server.crt");
	char *key =
	        n->cfg->tls_key ? xstrdup(n->cfg->tls_key) : config_path(n->cfg, "tls/server.key");
	int rc = 0;
	if (n->cfg->tls_cert == NULL && access(cert, R_OK) != 0) {
		char *dir = config_path(n->cfg, "tls");
		mkdir_p(dir, 0700);
		free(dir);
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		rc = tls_selfsigned_create(cert, key, host, error_r);
		if (rc == 0)
			log_info("node", "event=tls-selfsigned cert=%s", cert);
	}
	if (rc == 0)
		rc = tls_ctx_create_server(cert, key, NULL, &n->tls_server, error_r);
	free(cert);
	free(key);
	return rc;
}

static int
node_bind(struct node *n, const char **error_r)
{
	for (int i = 0; i < LISTEN_COUNT; i++) {
		const char *addr = n->cfg->listen[i];
		if (addr == NULL)
			continue;
		listener_accept_cb cb = protocols_accept_cb((enum listen_kind)i);
		void *data = n;
		if (i == LISTEN_HTTP)
			data = &n->public_flag;
		else if (i == LISTEN_CLUSTER) {
			cb = repl_cluster_accept;
			data = repl_cluster_listener_data(n->repl);
		}
		if (cb == NULL)
			continue;
		if (listener_bind_tcp(&n->listeners[i], n->loop, config_listen_names[i], addr, cb,
		                      data, error_r) != 0)
			return -1;
	}
	char *sock = config_path(n->cfg, "admin.sock");
	int rc = listener_bind_unix(&n->admin, n->loop, "admin", sock, 0600, http_accept,
	                            &n->admin_flag, error_r);
	free(sock);
	return rc;
}

static int
node_check_data_dir(struct config *cfg)
{
	struct stat st;
	if (stat(cfg->data_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    (!repl_initialised(cfg->data_dir) && !bootstrap_join_pending(cfg))) {
		fprintf(stderr,
		        "mailnode: %s is not an initialised data directory: run `mailnode init` "
		        "(first node) or `mailnode join` (other nodes) first\n",
		        cfg->data_dir);
		return -1;
	}
	return 0;
}

int
node_serve(struct config *cfg)
{
	struct node node;
	struct node *n = &node;
	const char *err = NULL;
	memset(n, 0, sizeof(*n));
	n->cfg = cfg;
	n->admin_flag = 1;
	n->started_ms = now_mono_ms();
	the_node = n;
	log_set_level(cfg->log_level);
	signal(SIGPIPE, SIG_IGN);

	if (config_check_files(cfg, &err) != 0) {
		fprintf(stderr, "mailnode: %s\n", err);
		return 1;
	}
	if (node_cluster_address(cfg) == NULL) {
		fprintf(stderr,
		        "mailnode: %s: [listen] cluster (or [cluster] advertise) is required\n",
		        cfg->path ? cfg->path : "(default)");
		return 1;
	}
	if (node_check_data_dir(cfg) != 0)
		return 1;

	n->loop = xmalloc(sizeof(*n->loop));
	uv_loop_init(n->loop);
	net_init(n->loop);
	uv_timer_init(n->loop, &n->tasks);
	n->tasks.data = n;
	/* Signals first: a SIGTERM during start-up stops the node cleanly
	 * once the loop runs. */
	uv_signal_init(n->loop, &n->sigint);
	uv_signal_init(n->loop, &n->sigterm);
	n->sigint.data = n->sigterm.data = n;
	uv_signal_start(&n->sigint, node_signal_cb, SIGINT);
	uv_signal_start(&n->sigterm, node_signal_cb, SIGTERM);
	if (store_open(cfg->data_dir, NULL, &n->store, &err) != 0)
		goto err_after_loop;
	struct body_journal *journal = NULL;
	if (store_nosync(n->store) &&
	    body_journal_open(cfg->data_dir, store_rebuilding(n->store), 0, &journal, &err) != 0)
		goto err_after_store;
	n->stager = stager_new(n->loop, cfg->data_dir, journal);
	if (node_tls_setup(n, &err) != 0)
		goto err_after_store;
	struct repl_params rp = {
	        .loop = n->loop,
	        .st = n->store,
	        .stager = n->stager,
	        .id = cfg->node_id,
	        .address = node_cluster_address(cfg),
	        .data_dir = cfg->data_dir,
	        .snapshot_threshold = cfg->snapshot_threshold,
	        .snapshot_trailing = cfg->snapshot_trailing,
	        .on_fatal = node_fatal,
	        .arg = n,
	};
	if (repl_create(&rp, &n->repl, &err) != 0)
		goto err_after_store;
	health_init(n);
	admin_init(n);
	admin_debug_init(n);
	protocols_init(n);
	if (node_bind(n, &err) != 0)
		goto err_after_bind;
	if (repl_start(n->repl, &err) != 0)
		goto err_after_bind;
	bootstrap_start(n);

	log_info("node", "event=started node_id=%llu data_dir=%s version=%s",
	         (unsigned long long)cfg->node_id, cfg->data_dir, MAILNODE_VERSION);
	uv_run(n->loop, UV_RUN_DEFAULT);
	log_info("node", "event=stopped exit_code=%d", n->exit_code);
	goto out;

err_after_bind:
	fprintf(stderr, "mailnode: %s\n", err);
	n->exit_code = 1;
	n->stopping = 1;
	for (int i = 0; i < LISTEN_COUNT; i++)
		listener_close(&n->listeners[i]);
	listener_close(&n->admin);
	net_shutdown(0);
	repl_stop(n->repl, NULL, NULL);
	goto out;
err_after_store:
	fprintf(stderr, "mailnode: %s\n", err);
	n->exit_code = 1;
	net_shutdown(0);
	goto out;
err_after_loop:
	fprintf(stderr, "mailnode: %s\n", err);
	n->exit_code = 1;
	net_shutdown(0);
out:
	if (!uv_is_closing((uv_handle_t *)&n->sigint)) {
		uv_close((uv_handle_t *)&n->sigint, NULL);
		uv_close((uv_handle_t *)&n->sigterm, NULL);
	}
	/* Close whatever is left and let the close callbacks run. */
	uv_run(n->loop, UV_RUN_DEFAULT);
	uv_walk(n->loop, node_close_walk_cb, NULL);
	uv_run(n->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(n->loop) != 0)
		log_warn("node", "event=loop-not-closed");
	free(n->loop);
	protocols_deinit(n);
	repl_free(&n->repl);
	stager_free(&n->stager);
	store_close(&n->store);
	tls_ctx_free(&n->tls_server);
	http_routes_free();
	metrics_free_all();
	the_node = NULL;
	return n->exit_code;
}
