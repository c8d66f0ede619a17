/*
 * health: /health and /metrics. See health.h.
 *
 * /health JSON: {"node_id", "role", "leader", "applied_index",
 * "commit_index", "status": "ok"|"unavailable", "reasons": [...]}.
 * The data-directory check writes and removes a probe file at most once a
 * second, so a read-only or full file system turns the node unhealthy.
 */
#include "node/health.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "node/http.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/node.h"
#include "node/status.h"

#define HEALTH_DISK_MIN_FREE (64ull * 1024 * 1024)

static uint64_t disk_checked_ms;
static const char *disk_problem;

static const char *
health_disk(struct node *n)
{
	uint64_t now = now_mono_ms();
	if (disk_checked_ms && now - disk_checked_ms < 1000)
		return disk_problem;
	disk_checked_ms = now;
	char *probe = config_path(n->cfg, ".health-probe");
	int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "ok\n", 3) != 3) {
		disk_problem = "data directory not writable";
	} else {
		struct statvfs st;
		disk_problem = NULL;
		if (statvfs(n->cfg->data_dir, &st) == 0 &&
		    (uint64_t)st.f_bavail * st.f_frsize < HEALTH_DISK_MIN_FREE)
			disk_problem = "data directory almost full";
	}
	if (fd >= 0)
		close(fd);
	unlink(probe);
	free(probe);
	return disk_problem;
}

static void
health_get(struct http_req *req, void *arg)
{
	struct node *n = arg;
	struct node_status st;
	node_status_get(n, &st);
	json_t *reasons = json_array();
	for (size_t i = 0; i < st.nreasons; i++)
		json_array_append_new(reasons, json_string(st.reasons[i]));
	const char *disk = health_disk(n);
	if (disk)
		json_array_append_new(reasons, json_string(disk));
	int ok = json_array_size(reasons) == 0;
	json_t *j =
	        json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:o}", "node_id",
	                  (json_int_t)n->cfg->node_id, "role", st.role, "leader",
	                  (json_int_t)st.leader_id, "term", (json_int_t)st.term, "applied_index",
	                  (json_int_t)st.applied_index, "commit_index", (json_int_t)st.commit_index,
	                  "status", ok ? "ok" : "unavailable", "reasons", reasons);
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	size_t len = strlen(body);
	body = xrealloc(body, len + 2);
	body[len++] = '\n';
	body[len] = '\0';
	http_respond(req, ok ? 200 : 503, "application/json", body, len);
	free(body);
}

static void
metrics_get(struct http_req *req, void *arg)
{
	struct nbuf out;
	nbuf_init(&out, 16 * 1024 * 1024);
	if (metrics_render(&out) != 0) {
		nbuf_deinit(&out);
		http_respond(req, 500, "text/plain", "metrics too large\n", 18);
		return;
	}
	http_respond(req, 200, "text/plain; version=0.0.4", (const char *)nbuf_head(&out),
	             nbuf_avail(&out));
	nbuf_deinit(&out);
}

static int64_t
health_uptime(void *arg)
{
	struct node *n = arg;
	return (int64_t)((now_mono_ms() - n->started_ms) / 1000);
}

void
health_init(struct node *n)
{
	http_route("GET", "/health", HTTP_PUBLIC, health_get, n);
	http_route("GET", "/metrics", HTTP_PUBLIC, metrics_get, n);
	metric_gauge_fn("mailnode_uptime_seconds", NULL, "Seconds since the node started",
	                health_uptime, n);
}
