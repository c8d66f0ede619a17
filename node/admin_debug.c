/*
 * admin_debug: GET /v1/debug/dump on the admin socket: the canonical text
 * dump of the replicated index (node/store/store.h store_dump), so that
 * tests and operators can check that replicas are identical.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/admin.h"
#include "node/http.h"
#include "node/lib/util.h"
#include "node/node.h"
#include "node/store/store.h"

static void
debug_dump(struct http_req *req, void *arg)
{
	struct node *n = node_get();
	int fd = memfd_create("mailnode-dump", MFD_CLOEXEC);
	struct stat sb;
	if (fd < 0 || store_dump(n->store, fd) != 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		http_respond(req, 500, "text/plain", "dump failed\n", 12);
		return;
	}
	size_t len = (size_t)sb.st_size;
	char *buf = xmalloc(len + 1);
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	http_respond(req, 200, "text/plain", buf, got);
	free(buf);
}

void
admin_debug_init(struct node *n)
{
	http_route("GET", "/v1/debug/dump", HTTP_ADMIN, debug_dump, n);
}
