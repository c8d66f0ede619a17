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
