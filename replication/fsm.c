/*
 * fsm: the raft FSM over the store. See fsm.h.
 *
 * A local failure inside apply (disk full, I/O error) must not let this
 * node go on: raft would count the entry applied. The FSM reports it
 * (on_fatal) and returns an error; the node stops and restarts, and raft
 * replays the entry then (guard for libraft 0.15, which cannot recover
 * from a failed apply by itself).
 */
#include "replication/fsm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/store/store.h"

static void
fsm_fatal(struct repl_fsm *f, const char *why)
{
	f->failed = 1;
	log_error("repl", "event=fsm-failed reason=\"%s\"", why);
	if (f->on_fatal)
		f->on_fatal(f->arg, why);
}

static int
fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct repl_fsm *f = fsm->data;
	*result = NULL;
	if (f->failed)
		return RAFT_IOERR;
	uint64_t index = raft_last_applied(f->raft) + 1;
	int rc = store_apply(f->st, index, buf->base, buf->len);
	if (rc == 0 && f->commit_each)
		rc = store_commit(f->st);
	if (rc != 0) {
		fsm_fatal(f, strerror(-rc));
		return RAFT_IOERR;
	}
	if (f->on_apply)
		f->on_apply(f->arg);
	return 0;
}

static int
fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct repl_fsm *f = fsm->data;
	const char *err = "memfd";
	int fd = memfd_create("mailnode-snapshot", MFD_CLOEXEC);
	if (fd < 0 || store_snapshot_write(f->st, fd, &err) != 0) {
		log_error("repl", "event=snapshot-failed error=\"%s\"", err);
		if (fd >= 0)
			close(fd);
		return RAFT_IOERR;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
		close(fd);
		return RAFT_IOERR;
	}
	size_t len = (size_t)sb.st_size;
	struct raft_buffer *b = raft_malloc(sizeof(*b));
	void *data = raft_malloc(len);
	if (b == NULL || data == NULL) {
		raft_free(b);
		raft_free(data);
		close(fd);
		return RAFT_NOMEM;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, (char *)data + got, len - got, (off_t)got);
		if (r <= 0) {
			raft_free(b);
			raft_free(data);
			close(fd);
			return RAFT_IOERR;
		}
		got += (size_t)r;
	}
	close(fd);
	b->base = data;
	b->len = len;
	*bufs = b;
	*n_bufs = 1;
	f->snapshots++;
	f->snapshot_bytes = len;
	log_info("repl", "event=snapshot-taken index=%llu bytes=%zu",
	         (unsigned long long)store_applied_index(f->st), len);
	return 0;
}

static int
fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	for (unsigned i = 0; i < *n_bufs; i++)
		raft_free((*bufs)[i].base);
	raft_free(*bufs);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int
fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct repl_fsm *f = fsm->data;
	char *path = xasprintf("%s/index-restore.mdb", store_data_dir(f->st));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : write_all(fd, buf->base, buf->len);
	if (fd >= 0)
		close(fd);
	const char *err = "cannot write the snapshot";
	uint64_t theirs = 0;
	if (rc == 0 && store_snapshot_applied_index(path, &theirs, &err) != 0)
		rc = -EIO;
	if (rc == 0) {
		uint64_t ours = store_applied_index(f->st);
		if (theirs <= ours) {
			/* raft_start restores the local snapshot; the store is
			 * already there or past it. */
			log_info("repl", "event=snapshot-skipped snapshot_index=%llu applied=%llu",
			         (unsigned long long)theirs, (unsigned long long)ours);
		} else if (store_snapshot_restore(f->st, path, &err) != 0) {
			rc = -EIO;
		} else {
			f->restores++;
			log_info("repl", "event=snapshot-installed index=%llu",
			         (unsigned long long)theirs);
		}
	}
	unlink(path);
	free(path);
	if (rc != 0) {
		fsm_fatal(f, err);
		return RAFT_IOERR;
	}
	raft_free(buf->base);
	return 0;
}

void
repl_fsm_init(struct repl_fsm *f, struct store *st)
{
	memset(f, 0, sizeof(*f));
	f->st = st;
	f->fsm.version = 2;
	f->fsm.data = f;
	f->fsm.apply = fsm_apply;
	f->fsm.snapshot = fsm_snapshot;
	f->fsm.snapshot_finalize = fsm_snapshot_finalize;
	f->fsm.restore = fsm_restore;
}
