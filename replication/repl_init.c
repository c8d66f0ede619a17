/*
 * repl_init: `mailnode init` writes a raft log whose configuration holds
 * only this node as a voter (raft_bootstrap through raft_uv, with a
 * transport that never connects: nothing is sent at bootstrap).
 */
#include "replication/repl.h"

#include <raft.h>
#include <raft/uv.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "replication/repl_internal.h"

int
repl_initialised(const char *data_dir)
{
	char *meta1 = xasprintf("%s/raft/metadata1", data_dir);
	char *meta2 = xasprintf("%s/raft/metadata2", data_dir);
	int yes = access(meta1, F_OK) == 0 || access(meta2, F_OK) == 0;
	free(meta1);
	free(meta2);
	return yes;
}

static int
boot_transport_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	return 0;
}

static int
boot_transport_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	return 0;
}

static int
boot_transport_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                       const char *address, raft_uv_connect_cb cb)
{
	return RAFT_NOCONNECTION;
}

static void
boot_transport_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	if (cb)
		cb(t);
}

static void
boot_raft_closed(struct raft *raft)
{
}

int
repl_bootstrap(const char *data_dir, uint64_t id, const char *address, const char **error_r)
{
	static char err[512];
	char *dir = xasprintf("%s/raft", data_dir);
	int rc = mkdir_p(dir, 0700);
	if (rc != 0) {
		snprintf(err, sizeof(err), "cannot create %s: %s", dir, strerror(-rc));
		*error_r = err;
		free(dir);
		return -1;
	}
	dir_nocow(dir); /* raft_uv preallocates and overwrites segments */
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct raft_uv_transport t = {
	        .init = boot_transport_init,
	        .listen = boot_transport_listen,
	        .connect = boot_transport_connect,
	        .close = boot_transport_close,
	};
	struct raft_io io;
	struct raft raft;
	struct raft_fsm fsm = {.version = 1};
	struct raft_configuration conf;
	raft_configuration_init(&conf);
	rc = raft_uv_init(&io, &loop, dir, &t);
	if (rc == 0) {
		rc = raft_init(&raft, &io, &fsm, id, address);
		if (rc == 0) {
			raft_configuration_add(&conf, id, address, RAFT_VOTER);
			rc = raft_bootstrap(&raft, &conf);
			if (rc != 0)
				snprintf(err, sizeof(err), "raft bootstrap: %s",
				         raft_errmsg(&raft));
			raft_close(&raft, boot_raft_closed);
			uv_run(&loop, UV_RUN_DEFAULT);
		} else {
			snprintf(err, sizeof(err), "raft: %s", raft_errmsg(&raft));
		}
		raft_uv_close(&io);
	} else {
		snprintf(err, sizeof(err), "raft: %s", io.errmsg);
	}
	raft_configuration_close(&conf);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(dir);
	if (rc != 0) {
		*error_r = err;
		return -1;
	}
	return 0;
}
