/*
 * testutil: helpers shared by the unit tests.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
