/*
 * pop3_bench: RETR throughput of a POP3 server (RFC 1939, with RFC 2449
 * PIPELINING).
 *
 *   pop3_bench [-h host] [-p port] [-c users] [-u prefix] [-d domain]
 *              [-w password] [-W window] [-m max-messages] [-r rounds]
 *
 * C connections log in at once, one user each (prefix0..prefix(C-1)@domain,
 * all with the same password), with USER, PASS and STAT pipelined; each
 * then retrieves every message of its mailbox (at most M) R times, keeping
 * W RETR commands in flight, and QUITs without deleting anything, so runs
 * can be repeated on the same data. Responses are parsed byte by byte: the
 * status line, then the body up to the CRLF.CRLF terminator (stuffed dot
 * lines included), so every octet the server sends is checked to arrive.
 * Latency is from sending a RETR to its terminator; with W > 1 it includes
 * waiting behind the RETRs pipelined before it.
 *
 * Prints messages and megabytes per second, latency p50/p99/max and the
 * login time; exits 1 on any -ERR, short mailbox or connection failure.
 * One libuv loop, one thread: check with `top` that it is not the
 * bottleneck.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BENCH_LINE_MAX   1024
#define BENCH_CONNS_MAX  1024
#define BENCH_WINDOW_MAX 64
#define BENCH_READ_BUF   (64 * 1024)

enum bench_phase { PH_GREETING, PH_LOGIN, PH_RETR, PH_QUIT, PH_DONE };

struct bench_conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	int idx;
	enum bench_phase phase;
	int login_replies; /* of USER, PASS, STAT */
	char line[BENCH_LINE_MAX];
	size_t linelen;
	int in_body; /* reading a RETR body */
	int term;    /* terminator scanner state */
	long nmsgs;  /* messages to retrieve per round */
	long total;  /* RETRs to do (nmsgs * rounds) */
	long sent, done;
	uint64_t sent_ns[BENCH_WINDOW_MAX];
	uint64_t t0;
	char rbuf[BENCH_READ_BUF];
};

static struct {
	uv_loop_t *loop;
	const char *host, *prefix, *domain, *password;
	int port, nconns, window, rounds;
	long max_msgs;
	long retrs, errors, conn_errors, short_boxes;
	uint64_t bytes;
	uint32_t *lat_us;
	size_t nlat, caplat;
	uint32_t login_us[BENCH_CONNS_MAX];
	int logged_in;
	uint64_t start_ns, end_ns;
	int open;
} B;

static void
write_cb(uv_write_t *req, int status)
{
	free(req->data);
}

static void
bench_write(struct bench_conn *c, const char *s)
{
	size_t n = strlen(s);
	char *copy = malloc(sizeof(uv_write_t) + n);
	uv_write_t *req = (uv_write_t *)copy;
	memcpy(copy + sizeof(uv_write_t), s, n);
	uv_buf_t b = uv_buf_init(copy + sizeof(uv_write_t), (unsigned)n);
	req->data = copy;
	if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
		free(copy);
		B.conn_errors++;
	}
}

static struct bench_conn *conns[BENCH_CONNS_MAX];

static void conn_send_retrs(struct bench_conn *c);

/* A connection logged in (or gave up): once all have, the clock starts and
 * every one starts retrieving, so logins (Argon2id in the server's thread
 * pool) are timed apart from RETR. */
static void
bench_logged_in(void)
{
	if (++B.logged_in < B.nconns)
		return;
	B.start_ns = uv_hrtime();
	for (int i = 0; i < B.nconns; i++)
		if (conns[i] != NULL && conns[i]->phase == PH_RETR)
			conn_send_retrs(conns[i]);
}

static void
conn_closed(uv_handle_t *h)
{
	struct bench_conn *c = h->data;
	conns[c->idx] = NULL;
	free(c);
	if (--B.open == 0)
		B.end_ns = uv_hrtime();
}

static void
conn_finish(struct bench_conn *c, int failed)
{
	if (c->phase == PH_DONE)
		return;
	int waiting = c->phase < PH_RETR;
	if (failed)
		B.conn_errors++;
	c->phase = PH_DONE;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
	if (waiting)
		bench_logged_in(); /* do not hold the others back */
}

static void
conn_send_retrs(struct bench_conn *c)
{
	char cmd[64];
	while (c->sent < c->total && c->sent - c->done < B.window) {
		snprintf(cmd, sizeof(cmd), "RETR %ld\r\n", c->sent % c->nmsgs + 1);
		c->sent_ns[c->sent % BENCH_WINDOW_MAX] = uv_hrtime();
		c->sent++;
		bench_write(c, cmd);
	}
	if (c->done == c->total) {
		c->phase = PH_QUIT;
		bench_write(c, "QUIT\r\n");
	}
}

static void
lat_push(uint64_t ns)
{
	if (B.nlat == B.caplat) {
		B.caplat = B.caplat ? 2 * B.caplat : 65536;
		B.lat_us = realloc(B.lat_us, B.caplat * sizeof(*B.lat_us));
	}
	B.lat_us[B.nlat++] = (uint32_t)(ns / 1000);
}

/* A status line arrived. */
static void
conn_line(struct bench_conn *c, const char *l)
{
	int ok = strncmp(l, "+OK", 3) == 0;
	if (!ok) {
		fprintf(stderr, "conn %d: %s\n", c->idx, l);
		B.errors++;
	}
	switch (c->phase) {
	case PH_GREETING: {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "USER %s%d@%s\r\nPASS %s\r\nSTAT\r\n", B.prefix, c->idx,
		         B.domain, B.password);
		c->phase = PH_LOGIN;
		c->t0 = uv_hrtime();
		bench_write(c, cmd);
		break;
	}
	case PH_LOGIN:
		if (!ok) {
			conn_finish(c, 1);
			return;
		}
		if (++c->login_replies < 3)
			return;
		B.login_us[c->idx] = (uint32_t)((uv_hrtime() - c->t0) / 1000);
		c->nmsgs = strtol(l + 4, NULL, 10);
		if (B.max_msgs > 0 && c->nmsgs > B.max_msgs)
			c->nmsgs = B.max_msgs;
		if (c->nmsgs == 0 || (B.max_msgs > 0 && c->nmsgs < B.max_msgs)) {
			fprintf(stderr, "conn %d: mailbox holds %ld messages\n", c->idx, c->nmsgs);
			B.short_boxes++;
			if (c->nmsgs == 0) {
				conn_finish(c, 1);
				return;
			}
		}
		c->total = c->nmsgs * B.rounds;
		c->phase = PH_RETR;
		bench_logged_in();
		break;
	case PH_RETR:
		if (ok) {
			c->in_body = 1;
			c->term = 1; /* the status line ended: at a line start */
		} else {
			c->done++;
			conn_send_retrs(c);
		}
		break;
	case PH_QUIT:
		conn_finish(c, 0);
		break;
	case PH_DONE:
		break;
	}
}

/* Scan body bytes for CRLF "." CRLF; returns the bytes consumed, which is
 * all of them unless the body ended inside. */
static size_t
conn_body(struct bench_conn *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		switch (c->term) {
		case 1: /* at a line start */
			c->term = ch == '.' ? 2 : ch == '\n' ? 1 : 0;
			break;
		case 2: /* "." at a line start */
			c->term = ch == '\r' ? 3 : ch == '\n' ? 1 : 0;
			break;
		case 3: /* ".\r" */
			if (ch == '\n') {
				B.bytes += i + 1;
				B.retrs++;
				lat_push(uv_hrtime() - c->sent_ns[c->done % BENCH_WINDOW_MAX]);
				c->in_body = 0;
				c->done++;
				conn_send_retrs(c);
				return i + 1;
			}
			c->term = 0;
			break;
		default:
			c->term = ch == '\n' ? 1 : 0;
			break;
		}
	}
	B.bytes += n;
	return n;
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct bench_conn *c = h->data;
	buf->base = c->rbuf;
	buf->len = sizeof(c->rbuf);
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct bench_conn *c = s->data;
	if (nread < 0) {
		conn_finish(c, c->phase != PH_QUIT);
		return;
	}
	const char *p = buf->base;
	size_t n = (size_t)nread;
	while (n > 0 && c->phase != PH_DONE) {
		if (c->in_body) {
			size_t k = conn_body(c, p, n);
			p += k;
			n -= k;
			continue;
		}
		const char *lf = memchr(p, '\n', n);
		size_t k = lf ? (size_t)(lf - p) + 1 : n;
		if (c->linelen + k >= sizeof(c->line)) {
			fprintf(stderr, "conn %d: status line too long\n", c->idx);
			conn_finish(c, 1);
			return;
		}
		memcpy(c->line + c->linelen, p, k);
		c->linelen += k;
		p += k;
		n -= k;
		if (lf) {
			c->line[c->linelen -
			        (c->linelen > 1 && c->line[c->linelen - 2] == '\r' ? 2 : 1)] = '\0';
			c->linelen = 0;
			conn_line(c, c->line);
		}
	}
}

static void
connect_cb(uv_connect_t *req, int status)
{
	struct bench_conn *c = req->data;
	if (status != 0) {
		fprintf(stderr, "conn %d: connect: %s\n", c->idx, uv_strerror(status));
		conn_finish(c, 1);
		return;
	}
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: pop3_bench [-h host] [-p port] [-c users] [-u prefix] [-d domain]\n"
	        "                  [-w password] [-W window] [-m max-messages] [-r rounds]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	B.host = "127.0.0.1";
	B.port = 110;
	B.nconns = 16;
	B.prefix = "user";
	B.domain = "bench.test";
	B.password = "bench-password";
	B.window = 4;
	B.rounds = 1;
	int opt;
	while ((opt = getopt(argc, argv, "h:p:c:u:d:w:W:m:r:")) != -1) {
		switch (opt) {
		case 'h':
			B.host = optarg;
			break;
		case 'p':
			B.port = atoi(optarg);
			break;
		case 'c':
			B.nconns = atoi(optarg);
			break;
		case 'u':
			B.prefix = optarg;
			break;
		case 'd':
			B.domain = optarg;
			break;
		case 'w':
			B.password = optarg;
			break;
		case 'W':
			B.window = atoi(optarg);
			break;
		case 'm':
			B.max_msgs = atol(optarg);
			break;
		case 'r':
			B.rounds = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (B.nconns < 1 || B.nconns > BENCH_CONNS_MAX || B.window < 1 ||
	    B.window > BENCH_WINDOW_MAX || B.rounds < 1 || B.port < 1 || B.port > 65535)
		usage();
	struct sockaddr_storage addr;
	if (uv_ip4_addr(B.host, B.port, (struct sockaddr_in *)&addr) != 0 &&
	    uv_ip6_addr(B.host, B.port, (struct sockaddr_in6 *)&addr) != 0) {
		fprintf(stderr, "pop3_bench: bad host %s\n", B.host);
		return 2;
	}
	B.loop = uv_default_loop();
	uint64_t t_start = uv_hrtime();
	for (int i = 0; i < B.nconns; i++) {
		struct bench_conn *c = calloc(1, sizeof(*c));
		conns[i] = c;
		c->idx = i;
		uv_tcp_init(B.loop, &c->tcp);
		uv_tcp_nodelay(&c->tcp, 1);
		c->tcp.data = c;
		c->creq.data = c;
		B.open++;
		if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&addr, connect_cb) != 0)
			conn_finish(c, 1);
	}
	uv_run(B.loop, UV_RUN_DEFAULT);
	if (B.start_ns == 0)
		B.start_ns = t_start;
	double secs = (double)(B.end_ns - B.start_ns) / 1e9;
	qsort(B.lat_us, B.nlat, sizeof(*B.lat_us), cmp_u32);
	qsort(B.login_us, (size_t)B.nconns, sizeof(*B.login_us), cmp_u32);
	printf("users %d, window %d, rounds %d: %ld RETRs, %.1f MB in %.2f s\n", B.nconns, B.window,
	       B.rounds, B.retrs, (double)B.bytes / 1e6, secs);
	printf("throughput: %.0f messages/s, %.1f MB/s\n", secs > 0 ? (double)B.retrs / secs : 0,
	       secs > 0 ? (double)B.bytes / 1e6 / secs : 0);
	if (B.nlat > 0)
		printf("RETR latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		       B.lat_us[B.nlat / 2] / 1e3, B.lat_us[B.nlat * 99 / 100] / 1e3,
		       B.lat_us[B.nlat - 1] / 1e3);
	printf("login (USER+PASS+STAT): p50 %.1f ms, max %.1f ms\n", B.login_us[B.nconns / 2] / 1e3,
	       B.login_us[B.nconns - 1] / 1e3);
	printf("errors: %ld -ERR, %ld connection failures, %ld short mailboxes\n", B.errors,
	       B.conn_errors, B.short_boxes);
	free(B.lat_us);
	uv_loop_close(B.loop);
	return B.errors || B.conn_errors || B.short_boxes ? 1 : 0;
}
