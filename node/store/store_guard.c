/*
 * store_guard: whether the index outlived the machine's last stop.
 *
 * The index commits without flushing (IDX_OPEN_NOSYNC): every entry it
 * applies is already durable in raft's log, so a commit need only be
 * visible, and the flush leaves the write path (the next flush of the file
 * system, or the one at a clean close, takes it to disk). A process that
 * dies leaves all its writes in the kernel's page cache: the index stays
 * consistent, and raft replays what it had not applied. A machine that
 * stops (power, kernel crash) may keep a commit's meta page without its
 * data pages, a corruption LMDB cannot detect.
 *
 * So while the index is open for writing it holds the boot id of the kernel
 * running it (index/open-boot, flushed before the first write, removed
 * after the last flush of a clean close). A start that finds the file with
 * another boot id knows the machine stopped while the index was open: the
 * index is moved aside (index.untrusted, replacing an older one) and a new
 * one is rebuilt from raft's snapshot and log, which raft keeps durably
 * (store.h: store_rebuilding). index/rebuilding marks a rebuild not yet
 * finished, so that one cut short by another stop goes on at the next
 * start.
 *
 * Without a readable boot id the index flushes at every commit instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/store/store_internal.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define BOOT_ID_MAX  64

/* The kernel's boot id, without the newline; 0, or -1 if unreadable. */
static int
boot_id_read(const char *path, char out[BOOT_ID_MAX])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, out, BOOT_ID_MAX - 1);
	close(fd);
	if (n <= 0)
		return -1;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return out[0] ? 0 : -1;
}

int
store__guard_check(const char *data_dir, int *nosync_r, int *rebuild_r, const char **error_r)
{
	static char err[512];
	char now[BOOT_ID_MAX], then[BOOT_ID_MAX];
	*nosync_r = boot_id_read(BOOT_ID_PATH, now) == 0;
	char *marker = xasprintf("%s/index/open-boot", data_dir);
	char *unfinished = xasprintf("%s/index/rebuilding", data_dir);
	int open_before = boot_id_read(marker, then) == 0;
	*rebuild_r = access(unfinished, F_OK) == 0; /* a rebuild goes on */
	free(marker);
	free(unfinished);
	if (!open_before || (*nosync_r && strcmp(now, then) == 0))
		return 0; /* closed cleanly, new, or only the process stopped */

	/* Open when the machine stopped: not to be trusted. */
	char *ix = xasprintf("%s/index", data_dir);
	char *aside = xasprintf("%s/index.untrusted", data_dir);
	int rc = store__rmtree(aside);
	if (rc == 0 && rename(ix, aside) != 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_dir(data_dir);
	if (rc != 0) {
		snprintf(err, sizeof(err), "cannot move the index aside to %s: %s", aside,
		         strerror(-rc));
		*error_r = err;
	} else {
		log_warn("store",
		         "event=index-untrusted reason=\"the machine stopped while the index was "
		         "open\" moved_to=%s action=rebuild-from-raft",
		         aside);
		*rebuild_r = 1;
	}
	free(ix);
	free(aside);
	return rc == 0 ? 0 : -1;
}

/* dir/name holding text, on disk. 0 or -errno. */
static int
marker_write(const char *dir, const char *name, const char *text)
{
	char *tmp = xasprintf("%s/%s.tmp", dir, name);
	char *path = xasprintf("%s/%s", dir, name);
	int rc = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = -errno;
	if (rc == 0) {
		rc = write_all(fd, text, strlen(text));
		if (rc == 0 && fsync(fd) != 0)
			rc = -errno;
		close(fd);
	}
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_dir(dir);
	free(tmp);
	free(path);
	return rc;
}

static int
marker_remove(const char *data_dir, const char *name)
{
	char *dir = xasprintf("%s/index", data_dir);
	char *path = xasprintf("%s/%s", dir, name);
	int rc = unlink(path) == 0 ? fsync_dir(dir) : (errno == ENOENT ? 0 : -errno);
	free(dir);
	free(path);
	return rc;
}

int
store__guard_arm(const char *data_dir, int rebuild)
{
	char now[BOOT_ID_MAX + 1];
	char *dir = xasprintf("%s/index", data_dir);
	int rc = rebuild ? marker_write(dir, "rebuilding", "") : 0;
	if (rc == 0 && boot_id_read(BOOT_ID_PATH, now) == 0) {
		strcat(now, "\n");
		rc = marker_write(dir, "open-boot", now);
	}
	free(dir);
	return rc;
}

/* Only an index known to be on disk may lose a mark. */
static int
marker_remove_synced(const char *data_dir, struct idx *ix, const char *name)
{
	int rc = idx_sync(ix);
	return rc == 0 ? marker_remove(data_dir, name) : rc;
}

int
store__guard_rebuilt(const char *data_dir, struct idx *ix)
{
	return marker_remove_synced(data_dir, ix, "rebuilding");
}

void
store__guard_disarm(const char *data_dir, struct idx *ix)
{
	(void)marker_remove_synced(data_dir, ix, "open-boot");
}

int
store_rebuilding(const struct store *st)
{
	return st->rebuilding;
}

int
store_nosync(const struct store *st)
{
	return st->nosync;
}

int
store_rebuild_finish(struct store *st)
{
	if (!st->rebuilding)
		return 0;
	int rc = store_commit(st);
	if (rc != 0)
		return rc;
	st->rebuilding = 0;
	rc = store__maildirs_reconcile(st);
	if (rc == 0)
		rc = store__guard_rebuilt(st->data_dir, st->ix);
	if (rc != 0) {
		st->rebuilding = 1;
		return rc;
	}
	log_info("store", "event=index-rebuilt applied=%llu",
	         (unsigned long long)st->applied_index);
	return 0;
}
