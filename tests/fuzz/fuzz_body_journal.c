/*
 * Fuzz: the body journal's recovery scan (node/store/body_journal.c),
 * which reads whatever a machine stop left in the journal files. The input
 * is the first file's content (its size is FUZZ_FILE bytes; the second
 * file is empty). Invariants:
 *  - opening with recovery never fails on content alone, reads nothing
 *    past the file and allocates nothing the input sizes;
 *  - every body it writes back into blobs/staged/ hashes to its name;
 *  - a second recovery over the same journal finds those and adds none.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/store/body_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FILE (64u * 1024)

static char *dir;

static int
remove_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void
cleanup(void)
{
	nftw(dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	char tmpl[] = "/dev/shm/fuzz-journal-XXXXXX";
	char tmpl2[] = "/tmp/fuzz-journal-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (d == NULL)
		d = mkdtemp(tmpl2);
	if (d == NULL)
		abort();
	dir = xstrdup(d);
	atexit(cleanup);
	char *sub = xasprintf("%s/blobs/journal", dir);
	char *staged = xasprintf("%s/blobs/staged", dir);
	char *tmp = xasprintf("%s/blobs/tmp", dir);
	if (mkdir_p(sub, 0700) != 0 || mkdir_p(staged, 0700) != 0 || mkdir_p(tmp, 0700) != 0)
		abort();
	free(sub);
	free(staged);
	free(tmp);
}

/* Check what the recovery wrote back (and remove it with clear); the
 * count. */
static size_t
staged_check(int clear)
{
	char *staged = xasprintf("%s/blobs/staged", dir);
	DIR *d = opendir(staged);
	struct dirent *e;
	size_t n = 0;
	static uint8_t buf[BODY_JOURNAL_BODY_MAX + 1];
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", staged, e->d_name);
		int fd = open(p, O_RDONLY);
		ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
		if (fd >= 0)
			close(fd);
		uint8_t h[SHA256_LEN];
		char hex[SHA256_HEX_LEN + 1];
		if (len < 0)
			abort();
		sha256(buf, (size_t)len, h);
		hex_encode(h, SHA256_LEN, hex);
		if (strcmp(hex, e->d_name) != 0)
			abort(); /* a body written back under another name */
		if (clear)
			unlink(p);
		free(p);
		n++;
	}
	if (d != NULL)
		closedir(d);
	free(staged);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir == NULL)
		setup();
	if (size > FUZZ_FILE)
		size = FUZZ_FILE;
	for (int f = 0; f < 2; f++) {
		char *p = xasprintf("%s/blobs/journal/%d", dir, f);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || (f == 0 && write_all(fd, data, size) != 0))
			abort();
		close(fd);
		free(p);
	}
	struct body_journal *j;
	const char *err;
	if (body_journal_open(dir, 1, FUZZ_FILE, &j, &err) != 0)
		abort();
	body_journal_close(&j);
	size_t first = staged_check(0);
	/* The open started a new pass but wrote nothing: the same records are
	 * read again, and bodies already in staged/ are left as they are. */
	if (body_journal_open(dir, 1, FUZZ_FILE, &j, &err) != 0)
		abort();
	body_journal_close(&j);
	if (staged_check(1) != first)
		abort();
	return 0;
}
