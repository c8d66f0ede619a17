/*
 * bootstrap: start-up tasks driven by marker files. See bootstrap.h.
 */
#include "node/bootstrap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/accounts.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/node.h"
#include "replication/repl.h"

#define BOOTSTRAP_TICK_MS 300

static char *
marker(const struct config *cfg, const char *name)
{
	return config_path(cfg, name);
}

static int
write_marker(const struct config *cfg, const char *name, const char *text)
{
	char *path = marker(cfg, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -1 : write_all(fd, text, strlen(text));
	if (fd >= 0) {
		if (fsync(fd) != 0)
			rc = -1;
		close(fd);
	}
	free(path);
	return rc == 0 ? 0 : -1;
}

static char *
read_marker(const struct config *cfg, const char *name)
{
	char *path = marker(cfg, name);
	FILE *f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return NULL;
	char buf[512];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return xstrdup(buf);
}

static void
remove_marker(const struct config *cfg, const char *name)
{
	char *path = marker(cfg, name);
	unlink(path);
	free(path);
}

int
bootstrap_join_pending(const struct config *cfg)
{
	char *path = marker(cfg, "join.pending");
	int yes = access(path, F_OK) == 0;
	free(path);
	return yes;
}

int
bootstrap_mark_init(const struct config *cfg, int demo)
{
	return write_marker(cfg, "bootstrap.pending", demo ? "init\ndemo\n" : "init\n");
}

int
bootstrap_mark_join(const struct config *cfg, const char *peer)
{
	char *text = xasprintf("%s\n", peer);
	int rc = write_marker(cfg, "join.pending", text);
	free(text);
	return rc;
}

static void
join_cb(void *arg, int status, const char *message)
{
	struct node *n = arg;
	n->bootstrap_inflight = 0;
	if (n->stopping)
		return;
	if (status == 0) {
		log_info("node", "event=joined message=\"%s\"", message);
		remove_marker(n->cfg, "join.pending");
		n->join_pending = 0;
	} else {
		log_info("node", "event=join-retry message=\"%s\"", message);
	}
}

static void
init_cb(void *arg, int status, const char *message)
{
	struct node *n = arg;
	n->bootstrap_inflight = 0;
	if (n->stopping)
		return;
	if (status == 0) {
		log_info("node", "event=cluster-initialised message=\"%s\"", message);
		remove_marker(n->cfg, "bootstrap.pending");
		n->bootstrap_pending = 0;
	} else {
		log_warn("node", "event=cluster-init-retry message=\"%s\"", message);
	}
}

static void
bootstrap_tick(uv_timer_t *t)
{
	struct node *n = t->data;
	if (n->stopping || n->bootstrap_inflight)
		return;
	if (n->join_pending) {
		char *peer = read_marker(n->cfg, "join.pending");
		if (peer == NULL || peer[0] == '\0') {
			free(peer);
			n->join_pending = 0;
			return;
		}
		n->bootstrap_inflight = 1;
		repl_join(n->repl, peer, join_cb, n);
		free(peer);
		return;
	}
	if (n->bootstrap_pending) {
		if (!repl_ready_leader(n->repl))
			return;
		char *what = read_marker(n->cfg, "bootstrap.pending");
		int demo = what && strstr(what, "demo") != NULL;
		free(what);
		n->bootstrap_inflight = 1;
		accounts_cluster_init(demo, init_cb, n);
		return;
	}
	uv_timer_stop(&n->tasks);
}

void
bootstrap_start(struct node *n)
{
	char *path = marker(n->cfg, "bootstrap.pending");
	n->bootstrap_pending = access(path, F_OK) == 0;
	free(path);
	n->join_pending = bootstrap_join_pending(n->cfg);
	if (n->bootstrap_pending || n->join_pending)
		uv_timer_start(&n->tasks, bootstrap_tick, BOOTSTRAP_TICK_MS, BOOTSTRAP_TICK_MS);
}
