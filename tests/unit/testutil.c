/*
 * testutil: helpers shared by the unit tests.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/nbuf.h"
#include "node/store/store.h"

char *
test_tmpdir(const char *name)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = NULL;
	if (asprintf(&tmpl, "%s/%s.XXXXXX", base && *base ? base : "/tmp", name) < 0)
		abort();
	if (mkdtemp(tmpl) == NULL)
		abort();
	return tmpl;
}

void
test_rmtree(const char *path)
{
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s'", path) < 0)
		abort();
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
	free(cmd);
}

char *
test_data_path(const char *rel)
{
	const char *base = getenv("MAILNODE_TEST_DATA");
	char *p = NULL;
	if (asprintf(&p, "%s/%s", base ? base : "tests/data", rel) < 0)
		abort();
	return p;
}

char *
test_file_read(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	size_t cap = 65536, len = 0, n;
	char *data = malloc(cap + 1);
	assert_non_null(data);
	while ((n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			data = realloc(data, cap + 1);
			assert_non_null(data);
		}
	}
	assert_int_equal(ferror(f), 0);
	fclose(f);
	data[len] = '\0';
	*len_r = len;
	return data;
}

char *
test_data_read(const char *rel, size_t *len_r)
{
	char *path = test_data_path(rel);
	char *data = test_file_read(path, len_r);
	free(path);
	return data;
}

const char *const test_mime_corpus[] = {
        "plain",
        "thunderbird_alternative",
        "apple_mixed_attachment",
        "outlook_nested",
        "forward_rfc822",
        "rfc2047_subjects",
        "rfc2231_filenames",
        "groups_addresses",
        "digest",
        "missing_boundary",
        "unclosed_boundary",
        "nested_1000",
        "headers_10000",
        "no_colon",
        "nul_bytes",
        "bare_lf",
        "cr_only",
        "truncated_base64",
        "bad_encoded_words",
        "bad_addresses",
        "eight_bit_headers",
        "header_only",
        "empty",
};
const size_t test_mime_corpus_n = sizeof(test_mime_corpus) / sizeof(test_mime_corpus[0]);

void
test_store_applied(void *arg, const struct cmd_batch_hdr *hdr, struct cmd_results *rs)
{
	struct test_store *f = arg;
	cmd_results_free(&f->last);
	f->last = rs;
}

void
test_store_open(struct test_store *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->dir = test_tmpdir(name);
	struct store_hooks h = {.applied = test_store_applied, .arg = f};
	const char *err;
	assert_int_equal(store_open(f->dir, &h, &f->st, &err), 0);
}

void
test_store_close(struct test_store *f)
{
	store_close(&f->st);
	cmd_results_free(&f->last);
	test_rmtree(f->dir);
	free(f->dir);
	f->dir = NULL;
}

struct cmd_results *
test_store_apply(struct test_store *f, struct cmd_batch *b)
{
	size_t len;
	const uint8_t *data = cmd_batch_data(b, &len);
	struct nbuf frame;
	nbuf_init(&frame, CMD_FRAME_MAX);
	assert_int_equal(cmd_frame_encode(&data, &len, 1, &frame), 0);
	assert_int_equal(store_apply(f->st, ++f->index, nbuf_head(&frame), nbuf_avail(&frame)), 0);
	assert_int_equal(store_commit(f->st), 0);
	nbuf_deinit(&frame);
	assert_non_null(f->last);
	return f->last;
}

struct cmd_result
test_store_apply1(struct test_store *f, const struct cmd *c)
{
	struct cmd_batch b;
	cmd_batch_init(&b, 1, 0);
	assert_int_equal(cmd_batch_add(&b, c), 0);
	struct cmd_results *rs = test_store_apply(f, &b);
	cmd_batch_deinit(&b);
	return rs->r[0];
}
