/*
 * body_journal: bodies made durable by one small flush. See body_journal.h.
 */
#include "node/store/body_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store.h"

#define REC_MAGIC 0x4d4e424aU /* "MNBJ" */
#define REC_HDR   64

struct body_journal {
	char *data_dir;
	int fd[2];
	int cur;       /* the file being written; the writer's */
	uint64_t off;  /* where the next record goes in it */
	uint64_t gen;  /* of the records going into it */
	uint64_t size; /* of each file */
	uint8_t *buf;  /* one body; the writer's */
	pthread_mutex_t mu;
	int clean[2];     /* may be overwritten: a flush covered its records */
	uint64_t pass[2]; /* times it was taken for writing */
	int due;          /* the file left behind, waiting for a checkpoint; -1 */
};

static uint64_t
pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* Whether path holds exactly the body (len bytes hashing to hash). */
static int
file_holds(const char *path, const uint8_t *hash, uint64_t len, uint8_t *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat sb;
	ssize_t n = -1;
	if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == len)
		n = pread(fd, buf, len, 0);
	close(fd);
	uint8_t h[SHA256_LEN];
	if (n < 0 || (uint64_t)n != len)
		return 0;
	sha256(buf, len, h);
	return memcmp(h, hash, SHA256_LEN) == 0;
}

/* A recorded body whose file is gone (or wrong) goes back to staged/. */
static int
restore_body(struct body_journal *j, const uint8_t *hash, const uint8_t *data, uint64_t len,
             uint8_t *scratch, size_t *restored)
{
	char *staged = store_staged_path(j->data_dir, hash);
	char *blob = store_body_path(j->data_dir, hash);
	int rc = 0;
	if (!file_holds(staged, hash, len, scratch) && !file_holds(blob, hash, len, scratch)) {
		char hex[SHA256_HEX_LEN + 1];
		hex_encode(hash, CMD_HASH_LEN, hex);
		char *tmp = xasprintf("%s/blobs/tmp/journal-%s", j->data_dir, hex);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		rc = fd < 0 ? -errno : write_all(fd, data, len);
		if (fd >= 0)
			close(fd);
		if (rc == 0 && rename(tmp, staged) != 0)
			rc = -errno;
		if (rc != 0)
			unlink(tmp);
		else
			(*restored)++;
		free(tmp);
	}
	free(staged);
	free(blob);
	return rc;
}

/* Every whole record of one file's last pass. Returns 0 or -errno; *gen_r
 * is the pass's generation (0: none). */
static int
recover_file(struct body_journal *j, int f, uint8_t *scratch, size_t *restored, uint64_t *gen_r)
{
	uint64_t off = 0, gen = 0;
	uint8_t h[REC_HDR], sum[SHA256_LEN];
	*gen_r = 0;
	while (off + REC_HDR <= j->size) {
		if (pread(j->fd[f], h, REC_HDR, (off_t)off) != REC_HDR)
			break;
		uint64_t g = wire_rd64(h + 8), len = wire_rd64(h + 16);
		if (wire_rd32(h) != REC_MAGIC || wire_rd32(h + 4) != 0 || g == 0 ||
		    (gen != 0 && g != gen) || len > BODY_JOURNAL_BODY_MAX ||
		    off + REC_HDR + len > j->size)
			break;
		if (pread(j->fd[f], j->buf, len, (off_t)(off + REC_HDR)) != (ssize_t)len)
			break;
		sha256(j->buf, len, sum);
		if (memcmp(sum, h + 24, SHA256_LEN) != 0)
			break; /* torn: written by an append that never returned */
		if (gen == 0)
			*gen_r = gen = g;
		int rc = restore_body(j, h + 24, j->buf, len, scratch, restored);
		if (rc != 0)
			return rc;
		off += REC_HDR + pad8(len);
	}
	return 0;
}

/* One file: in a no-copy-on-write directory, its full size allocated. */
static int
open_file(struct body_journal *j, const char *dir, int f, int *fd_r)
{
	char *path = xasprintf("%s/%d", dir, f);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : 0;
	free(path);
	struct stat sb;
	if (rc == 0 && fstat(fd, &sb) != 0)
		rc = -errno;
	if (rc == 0 && (uint64_t)sb.st_size < j->size)
		rc = -posix_fallocate(fd, 0, j->size);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc != 0 && fd >= 0)
		close(fd);
	*fd_r = rc == 0 ? fd : -1;
	return rc;
}

int
body_journal_open(const char *data_dir, int recover, uint64_t file_size, struct body_journal **j_r,
                  const char **error_r)
{
	static char err[512];
	struct body_journal *j = xcalloc(1, sizeof(*j));
	j->size = file_size ? file_size : BODY_JOURNAL_FILE_SIZE;
	j->data_dir = xstrdup(data_dir);
	j->fd[0] = j->fd[1] = -1;
	j->buf = xmalloc(BODY_JOURNAL_BODY_MAX);
	pthread_mutex_init(&j->mu, NULL);
	char *dir = xasprintf("%s/blobs/journal", data_dir);
	const char *what = "create";
	int rc = mkdir_p(dir, 0700);
	if (rc == 0) {
		dir_nocow(dir);
		for (int f = 0; f < 2 && rc == 0; f++)
			rc = open_file(j, dir, f, &j->fd[f]);
	}
	if (rc == 0)
		rc = fsync_dir(dir);
	uint64_t maxgen = 0;
	size_t restored = 0;
	if (rc == 0) {
		what = "recover bodies from";
		uint8_t *scratch = xmalloc(BODY_JOURNAL_BODY_MAX);
		for (int f = 0; f < 2 && rc == 0; f++) {
			uint64_t g = 0;
			if (recover)
				rc = recover_file(j, f, scratch, &restored, &g);
			else { /* only the generation: the first record's */
				uint8_t h[REC_HDR];
				if (pread(j->fd[f], h, REC_HDR, 0) == REC_HDR &&
				    wire_rd32(h) == REC_MAGIC)
					g = wire_rd64(h + 8);
			}
			if (g > maxgen)
				maxgen = g;
		}
		free(scratch);
	}
	if (rc == 0) {
		what = "flush the file system under";
		rc = store_fileops_sync(data_dir);
	}
	if (rc != 0) {
		snprintf(err, sizeof(err), "cannot %s the body journal %s: %s", what, dir,
		         strerror(-rc));
		*error_r = err;
		free(dir);
		body_journal_close(&j);
		return -1;
	}
	if (recover)
		log_info("store", "event=journal-recovered bodies_restored=%zu", restored);
	free(dir);
	j->clean[0] = 0;
	j->clean[1] = 1;
	j->pass[0] = 1;
	j->due = -1;
	j->cur = 0;
	j->gen = maxgen + 1;
	*j_r = j;
	return 0;
}

void
body_journal_close(struct body_journal **pj)
{
	struct body_journal *j = *pj;
	if (j == NULL)
		return;
	*pj = NULL;
	for (int f = 0; f < 2; f++)
		if (j->fd[f] >= 0)
			close(j->fd[f]);
	pthread_mutex_destroy(&j->mu);
	free(j->buf);
	free(j->data_dir);
	free(j);
}

/* The other file, once a flush covers what it holds. */
static int
take_other(struct body_journal *j)
{
	int o = 1 - j->cur;
	pthread_mutex_lock(&j->mu);
	int clean = j->clean[o];
	pthread_mutex_unlock(&j->mu);
	if (!clean) { /* the checkpoint has not run yet: flush here */
		int rc = store_fileops_sync(j->data_dir);
		if (rc != 0)
			return rc;
	}
	pthread_mutex_lock(&j->mu);
	j->clean[o] = 0;
	j->pass[o]++;
	j->due = j->cur;
	pthread_mutex_unlock(&j->mu);
	j->cur = o;
	j->off = 0;
	j->gen++;
	return 0;
}

/* Append one body; *wrote_r is set once something went to the current
 * file. 1 written, 0 the body's own error (in rec->rc), -errno journal. */
static int
append_one(struct body_journal *j, struct body_journal_rec *rec, int *wrote_r)
{
	int fd = open(rec->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rec->rc = -errno;
		return 0;
	}
	struct stat sb;
	ssize_t n = -1;
	if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size <= BODY_JOURNAL_BODY_MAX)
		n = pread(fd, j->buf, (size_t)sb.st_size, 0);
	int e = errno;
	close(fd);
	if (n < 0 || n != sb.st_size) {
		rec->rc = n < 0 ? -e : -EIO;
		return 0;
	}
	uint64_t len = (uint64_t)n, size = REC_HDR + pad8(len);
	if (j->off + size > j->size) {
		if (*wrote_r && fdatasync(j->fd[j->cur]) != 0)
			return -errno;
		int rc = take_other(j);
		if (rc != 0)
			return rc;
		*wrote_r = 0;
	}
	uint8_t h[REC_HDR] = {0}, pad[8] = {0};
	wire_be32(h, REC_MAGIC);
	wire_be64(h + 8, j->gen);
	wire_be64(h + 16, len);
	memcpy(h + 24, rec->hash, CMD_HASH_LEN);
	struct iovec iov[3] = {{h, REC_HDR}, {j->buf, len}, {pad, pad8(len) - len}};
	ssize_t w = pwritev(j->fd[j->cur], iov, 3, (off_t)j->off);
	if (w < 0)
		return -errno;
	if ((uint64_t)w != size)
		return -EIO;
	j->off += size;
	*wrote_r = 1;
	rec->rc = 0;
	return 1;
}

int
body_journal_append(struct body_journal *j, struct body_journal_rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		if (stat(recs[i].path, &sb) == 0 &&
		    ((uint64_t)sb.st_size > BODY_JOURNAL_BODY_MAX ||
		     REC_HDR + pad8((uint64_t)sb.st_size) > j->size))
			return -EFBIG;
	}
	int wrote = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = append_one(j, &recs[i], &wrote);
		if (rc < 0)
			return rc;
	}
	if (wrote && fdatasync(j->fd[j->cur]) != 0)
		return -errno;
	return 0;
}

int
body_journal_checkpoint_due(struct body_journal *j, uint64_t *token_r)
{
	pthread_mutex_lock(&j->mu);
	int f = j->due;
	if (f >= 0)
		*token_r = j->pass[f] << 1 | (uint64_t)f;
	j->due = -1;
	pthread_mutex_unlock(&j->mu);
	return f >= 0;
}

void
body_journal_checkpointed(struct body_journal *j, uint64_t token)
{
	int f = (int)(token & 1);
	pthread_mutex_lock(&j->mu);
	if (j->pass[f] == token >> 1) /* not taken again since */
		j->clean[f] = 1;
	pthread_mutex_unlock(&j->mu);
}
