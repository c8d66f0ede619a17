/*
 * imap_bench: an IMAP load against one mailbox, with latencies per command.
 *
 *   imap_bench [-h host] [-p port] [-u user] [-w password] [-c connections]
 *              [-d seconds] [-f fill-to] [-F fill-connections] [-s size]
 *
 * First fills INBOX up to -f messages (APPEND with LITERAL+, -F
 * connections in parallel; about -s bytes each, one in ten containing the
 * word "needle"), then runs -c connections for -d seconds, each one
 * command at a time in a fixed rotation:
 *
 *   SELECT INBOX                      (the whole view is built)
 *   FETCH 1:* (FLAGS)                 (every message's flags)
 *   UID FETCH <random> (BODY.PEEK[])  (one body, streamed from its file)
 *   SEARCH TEXT needle                (body search in the node's pool)
 *   UID STORE <random> +FLAGS.SILENT / -FLAGS.SILENT (\Flagged)
 *                                     (a write through the replicated log)
 *
 * Prints, per command, how many ran, the rate, and latency p50/p99/max.
 * Responses are parsed line by line with literals skipped by their
 * announced size, so every byte is accounted for. One libuv loop on the
 * node's connection module; exits 1 on NO/BAD or a lost connection. Set
 * imap.commands_per_second to 0 on the node first, or the throttle is
 * what gets measured.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/lib/util.h"
#include "node/net/conn.h"

#define BENCH_CONNS_MAX 512
#define BENCH_LINE_MAX  (1024 * 1024)

enum op {
	OP_SELECT,
	OP_FETCH_FLAGS,
	OP_FETCH_BODY,
	OP_SEARCH,
	OP_STORE,
	OP_COUNT,
	OP_FILL,
	OP_LOGIN,
	OP_STATUS
};
static const char *const op_names[OP_COUNT] = {"SELECT", "FETCH 1:* FLAGS", "FETCH BODY[]",
                                               "SEARCH TEXT", "STORE"};

struct lat {
	uint32_t *us;
	size_t n, cap;
};

struct bconn {
	struct conn *c;
	int idx;
	int filling;
	enum op op;
	unsigned rot;
	uint64_t sent_us;
	unsigned tag;
	uint64_t lit_left; /* bytes of a literal still to skip */
	long exists;
};

static struct {
	uv_loop_t *loop;
	const char *host, *user, *password;
	int port, nconns, nfill, duration, size;
	long fill_to, appended, exists, fill_base, need;
	int ready;
	struct sockaddr_storage addr;
	struct bconn conns[BENCH_CONNS_MAX];
	struct lat lat[OP_COUNT];
	int phase; /* 0 fill, 1 run */
	int active;
	uint64_t start_us, end_us;
	long errors;
	uint32_t maxuid;
	unsigned seed;
} B;

static void
lat_add(struct lat *l, uint32_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->us = xrealloc(l->us, l->cap * sizeof(*l->us));
	}
	l->us[l->n++] = us;
}

static int
u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static const char *
filler_message(long i, size_t *len_r)
{
	static char buf[1 << 20];
	size_t n =
	        (size_t)snprintf(buf, sizeof(buf),
	                         "From: Bench <bench@example.org>\r\nTo: user@example.test\r\n"
	                         "Subject: bench message %ld\r\nMessage-ID: <b%ld@bench>\r\n\r\n",
	                         i, i);
	static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit ";
	while (n + sizeof(words) + 16 < (size_t)B.size && n + sizeof(words) + 16 < sizeof(buf)) {
		memcpy(buf + n, words, sizeof(words) - 1);
		n += sizeof(words) - 1;
		if (n % 76 < sizeof(words)) {
			memcpy(buf + n, "\r\n", 2);
			n += 2;
		}
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n%s %ld\r\n",
	                      i % 10 == 0 ? "needle" : "haystack", i);
	*len_r = n;
	return buf;
}

static void next_command(struct bconn *b);
static void fill_next(struct bconn *b);

static void send_cmd(struct bconn *b, enum op op, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void
send_cmd(struct bconn *b, enum op op, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->op = op;
	b->tag++;
	b->sent_us = now_mono_us();
	conn_printf(b->c, "t%u %s\r\n", b->tag, line);
}

static void
start_run(void)
{
	B.phase = 1;
	fprintf(stderr, "imap_bench: %ld messages in INBOX, running %d s\n",
	        B.fill_base + B.appended, B.duration);
	B.start_us = now_mono_us();
	B.end_us = B.start_us + (uint64_t)B.duration * 1000000;
	for (int i = 0; i < B.nconns; i++)
		if (B.conns[i].c)
			next_command(&B.conns[i]);
}

static void
fill_next(struct bconn *b)
{
	if (B.appended >= B.need) {
		b->filling = 0;
		if (--B.active == 0)
			start_run();
		return;
	}
	size_t len;
	const char *msg = filler_message(B.fill_base + B.appended++, &len);
	b->op = OP_FILL;
	b->tag++;
	b->sent_us = now_mono_us();
	conn_printf(b->c, "t%u APPEND INBOX {%zu+}\r\n", b->tag, len);
	conn_write(b->c, msg, len);
	conn_puts(b->c, "\r\n");
}

/* Every connection logged in and selected INBOX: fill, then run. */
static void
start_fill(void)
{
	B.fill_base = B.exists;
	B.need = B.fill_to - B.fill_base;
	if (B.need <= 0) {
		start_run();
		return;
	}
	fprintf(stderr, "imap_bench: appending %ld messages\n", B.need);
	B.active = (int)MIN((long)B.nfill, B.need);
	for (int i = 0; i < B.active; i++)
		B.conns[i].filling = 1;
	for (int i = 0; i < B.nconns; i++)
		if (B.conns[i].filling)
			fill_next(&B.conns[i]);
}

static void
next_command(struct bconn *b)
{
	if (B.phase == 0) {
		if (b->filling)
			fill_next(b);
		return;
	}
	if (now_mono_us() >= B.end_us) {
		conn_close(b->c);
		return;
	}
	uint32_t uid = B.maxuid ? 1 + (uint32_t)(rand_r(&B.seed) % B.maxuid) : 1;
	switch ((enum op)(b->rot++ % OP_COUNT)) {
	case OP_SELECT:
		send_cmd(b, OP_SELECT, "SELECT INBOX");
		break;
	case OP_FETCH_FLAGS:
		send_cmd(b, OP_FETCH_FLAGS, "FETCH 1:* (FLAGS)");
		break;
	case OP_FETCH_BODY:
		send_cmd(b, OP_FETCH_BODY, "UID FETCH %u (BODY.PEEK[])", uid);
		break;
	case OP_SEARCH:
		send_cmd(b, OP_SEARCH, "SEARCH TEXT needle");
		break;
	default:
		send_cmd(b, OP_STORE, "UID STORE %u %cFLAGS.SILENT (\\Flagged)", uid,
		         b->rot % 2 ? '+' : '-');
		break;
	}
}

/* One response line (literals already skipped). */
static void
on_line(struct bconn *b, const char *line, size_t len)
{
	char tag[32];
	int tl = snprintf(tag, sizeof(tag), "t%u ", b->tag);
	if (len >= 8 && strncmp(line, "* OK [CAPABILITY", 16) == 0 && b->op == OP_COUNT) {
		b->op = OP_LOGIN;
		conn_printf(b->c, "t%u LOGIN \"%s\" \"%s\"\r\n", ++b->tag, B.user, B.password);
		return;
	}
	if (len > 9 && line[0] == '*') {
		char *end;
		long n = strtol(line + 2, &end, 10);
		if (end != line + 2 && strncmp(end, " EXISTS", 7) == 0) {
			b->exists = n;
			if (n > B.exists)
				B.exists = n;
		}
		const char *u = strstr(line, "[UIDNEXT ");
		if (u)
			B.maxuid = (uint32_t)strtoul(u + 9, NULL, 10) - 1;
		return;
	}
	if (len < (size_t)tl || strncmp(line, tag, (size_t)tl) != 0)
		return;
	if (strncmp(line + tl, "OK", 2) != 0) {
		fprintf(stderr, "imap_bench: %.*s\n", (int)MIN(len, (size_t)300), line);
		B.errors++;
		conn_close(b->c);
		return;
	}
	uint32_t us = (uint32_t)MIN(now_mono_us() - b->sent_us, (uint64_t)UINT32_MAX);
	if (b->op == OP_LOGIN) {
		send_cmd(b, OP_STATUS, "SELECT INBOX");
		return;
	}
	if (b->op == OP_STATUS) {
		if (++B.ready == B.nconns)
			start_fill();
		return;
	}
	if (b->op == OP_FILL) {
		B.maxuid++;
	} else if (b->op < OP_COUNT) {
		lat_add(&B.lat[b->op], us);
	}
	next_command(b);
}

static void
on_read(struct conn *c)
{
	struct bconn *b = c->data;
	while (nbuf_avail(&c->in) > 0 && !conn_closing(c)) {
		if (b->lit_left > 0) {
			size_t k = (size_t)MIN((uint64_t)nbuf_avail(&c->in), b->lit_left);
			nbuf_consume(&c->in, k);
			b->lit_left -= k;
			continue;
		}
		long lf = nbuf_find_lf(&c->in);
		if (lf < 0) {
			if (nbuf_avail(&c->in) > BENCH_LINE_MAX) {
				fprintf(stderr, "imap_bench: line too long\n");
				B.errors++;
				conn_abort(c);
			}
			return;
		}
		const char *line = (const char *)nbuf_head(&c->in);
		size_t len = (size_t)lf;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		/* "... {n}": n bytes of literal follow this line. */
		if (len > 2 && line[len - 1] == '}') {
			const char *o = memrchr(line, '{', len);
			if (o) {
				b->lit_left = strtoull(o + 1, NULL, 10);
				nbuf_consume(&c->in, (size_t)lf + 1);
				continue;
			}
		}
		on_line(b, line, len);
		nbuf_consume(&c->in, (size_t)lf + 1);
	}
}

static void
on_close(struct conn *c)
{
	struct bconn *b = c->data;
	b->c = NULL;
	if (B.phase == 0) {
		fprintf(stderr, "imap_bench: connection %d lost during set-up\n", b->idx);
		B.errors++;
	}
}

static const struct conn_handler handler = {.on_read = on_read, .on_close = on_close};

static void
report(void)
{
	double secs = (double)(now_mono_us() - B.start_us) / 1e6;
	if (secs > B.duration)
		secs = B.duration;
	uint64_t total = 0;
	printf("imap_bench: %d connections, %ld messages in INBOX, %.1f s\n", B.nconns, B.exists,
	       secs);
	printf("%-18s %8s %10s %10s %10s %10s\n", "command", "count", "ops/s", "p50 ms", "p99 ms",
	       "max ms");
	for (int i = 0; i < OP_COUNT; i++) {
		struct lat *l = &B.lat[i];
		if (l->n == 0)
			continue;
		qsort(l->us, l->n, sizeof(*l->us), u32cmp);
		total += l->n;
		printf("%-18s %8zu %10.1f %10.2f %10.2f %10.2f\n", op_names[i], l->n,
		       (double)l->n / secs, l->us[l->n / 2] / 1000.0,
		       l->us[MIN(l->n - 1, l->n * 99 / 100)] / 1000.0, l->us[l->n - 1] / 1000.0);
	}
	printf("%-18s %8llu %10.1f\n", "all", (unsigned long long)total, (double)total / secs);
}

int
main(int argc, char **argv)
{
	int opt;
	B.host = "127.0.0.1";
	B.port = 1143;
	B.user = "bench@bench.test";
	B.password = "bench";
	B.nconns = 4;
	B.duration = 10;
	B.fill_to = 10000;
	B.nfill = 8;
	B.size = 4096;
	B.seed = 42;
	while ((opt = getopt(argc, argv, "h:p:u:w:c:d:f:F:s:")) != -1) {
		switch (opt) {
		case 'h':
			B.host = optarg;
			break;
		case 'p':
			B.port = atoi(optarg);
			break;
		case 'u':
			B.user = optarg;
			break;
		case 'w':
			B.password = optarg;
			break;
		case 'c':
			B.nconns = atoi(optarg);
			break;
		case 'd':
			B.duration = atoi(optarg);
			break;
		case 'f':
			B.fill_to = atol(optarg);
			break;
		case 'F':
			B.nfill = atoi(optarg);
			break;
		case 's':
			B.size = atoi(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: %s [-h host] [-p port] [-u user] [-w password] "
			        "[-c connections] [-d seconds] [-f fill-to] [-F fill-connections] "
			        "[-s size]\n",
			        argv[0]);
			return 2;
		}
	}
	if (B.nconns < 1 || B.nconns > BENCH_CONNS_MAX || B.duration < 1 || B.size < 256 ||
	    B.size > 512 * 1024) {
		fprintf(stderr, "imap_bench: bad arguments\n");
		return 2;
	}
	if (B.nfill > B.nconns)
		B.nfill = B.nconns;
	if (uv_ip4_addr(B.host, B.port, (struct sockaddr_in *)&B.addr) != 0 &&
	    uv_ip6_addr(B.host, B.port, (struct sockaddr_in6 *)&B.addr) != 0) {
		fprintf(stderr, "imap_bench: bad host %s\n", B.host);
		return 2;
	}
	B.loop = uv_default_loop();
	net_init(B.loop);
	for (int i = 0; i < B.nconns; i++) {
		struct bconn *b = &B.conns[i];
		b->idx = i;
		b->op = OP_COUNT; /* greeting */
		b->c = conn_connect((struct sockaddr *)&B.addr, &handler, b, 256 * 1024, "bench");
	}
	uv_run(B.loop, UV_RUN_DEFAULT);
	report();
	net_shutdown(0);
	uv_run(B.loop, UV_RUN_DEFAULT);
	for (int i = 0; i < OP_COUNT; i++)
		free(B.lat[i].us);
	return B.errors ? 1 : 0;
}
