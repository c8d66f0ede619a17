/*
 * lmtp_bench: an LMTP load generator (RFC 2033, with PIPELINING).
 *
 *   lmtp_bench [-h host] [-p port[,port...]] [-c connections] [-n messages]
 *              [-s size] [-u users] [-d domain] [-r rcpts]
 *
 * With several ports the connections go to them in turn (the nodes of a
 * cluster, as a load balancer would spread them).
 * N connections share M messages of S bytes (headers included), each to
 * R recipients chosen at random among user0..user(U-1)@domain. Each
 * connection sends LHLO once, then per message "MAIL, RCPT..., DATA" in
 * one write, waits for the 354, sends the body and the end marker in one
 * write and waits for one reply per recipient. Every message is distinct
 * (an X-Bench-Seq header), so the store cannot share bodies between them.
 * Latency is from the MAIL command to the last per-recipient reply.
 * Prints messages per second, p50/p99/max latency and the replies that
 * were not 2xx/3xx. Exits 1 if any message was refused or a connection
 * failed.
 *
 * One libuv loop, one thread: the generator costs little next to the
 * server it measures (check with `top` that it is not the bottleneck).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BENCH_LINE_MAX  4096
#define BENCH_CONNS_MAX 1024
#define BENCH_PORTS_MAX 16

struct bench_conn;

static struct {
	uv_loop_t *loop;
	const char *host, *domain;
	int ports[BENCH_PORTS_MAX], nports, nconns, users, rcpts;
	long messages, size;
	long next;   /* messages handed out */
	long done;   /* messages answered */
	long failed; /* messages with a non-2xx reply */
	long conn_errors;
	uint32_t *lat_us;
	char *body; /* shared body after the per-message header */
	size_t bodylen;
	uint64_t start_ns, end_ns;
	unsigned seed;
} B;

enum bench_phase { PH_GREETING, PH_LHLO, PH_ENVELOPE, PH_DATA, PH_DONE };

struct bench_conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	enum bench_phase phase;
	char in[BENCH_LINE_MAX];
	size_t inlen;
	int expect; /* replies still awaited in this phase */
	int bad;    /* a non-success reply in this message */
	long seq;
	uint64_t t0;
	char hdr[512];
	char cmds[BENCH_LINE_MAX];
};

struct bench_wreq {
	uv_write_t req;
};

static void conn_next_message(struct bench_conn *c);

static void
write_cb(uv_write_t *req, int status)
{
	if (status != 0)
		fprintf(stderr, "write: %s\n", uv_strerror(status));
	free(req);
}

static void
send_bufs(struct bench_conn *c, uv_buf_t *bufs, unsigned n)
{
	uv_write_t *req = malloc(sizeof(*req));
	if (uv_write(req, (uv_stream_t *)&c->tcp, bufs, n, write_cb) != 0) {
		free(req);
		B.conn_errors++;
	}
}

static void
send_str(struct bench_conn *c, const char *s)
{
	uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
	send_bufs(c, &b, 1);
}

static void
close_cb(uv_handle_t *h)
{
}

static void
conn_finish(struct bench_conn *c)
{
	if (c->phase == PH_DONE)
		return;
	c->phase = PH_DONE;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, close_cb);
}

static void
conn_next_message(struct bench_conn *c)
{
	if (B.next >= B.messages) {
		send_str(c, "QUIT\r\n");
		conn_finish(c);
		return;
	}
	c->seq = B.next++;
	size_t o = (size_t)snprintf(c->cmds, sizeof(c->cmds), "MAIL FROM:<bench@%s> SIZE=%ld\r\n",
	                            B.domain, B.size);
	for (int i = 0; i < B.rcpts; i++)
		o += (size_t)snprintf(c->cmds + o, sizeof(c->cmds) - o, "RCPT TO:<user%d@%s>\r\n",
		                      (int)(rand_r(&B.seed) % (unsigned)B.users), B.domain);
	o += (size_t)snprintf(c->cmds + o, sizeof(c->cmds) - o, "DATA\r\n");
	c->phase = PH_ENVELOPE;
	c->expect = 2 + B.rcpts;
	c->bad = 0;
	c->t0 = uv_hrtime();
	send_str(c, c->cmds);
}

/* One complete reply line (the last of a reply) arrived. */
static void
conn_reply(struct bench_conn *c, int code)
{
	int ok = code >= 200 && code < 400;
	switch (c->phase) {
	case PH_GREETING:
		c->phase = PH_LHLO;
		send_str(c, "LHLO bench.client\r\n");
		return;
	case PH_LHLO:
		conn_next_message(c);
		return;
	case PH_ENVELOPE:
		if (!ok)
			c->bad = 1;
		if (--c->expect > 0)
			return;
		if (code != 354) {
			/* No DATA: the transaction failed as a whole. */
			B.failed++;
			B.done++;
			send_str(c, "RSET\r\n");
			c->phase = PH_LHLO; /* the RSET reply starts the next */
			return;
		}
		snprintf(c->hdr, sizeof(c->hdr), "X-Bench-Seq: %ld\r\n", c->seq);
		uv_buf_t b[3] = {uv_buf_init(c->hdr, (unsigned)strlen(c->hdr)),
		                 uv_buf_init(B.body, (unsigned)B.bodylen), uv_buf_init(".\r\n", 3)};
		send_bufs(c, b, 3);
		c->phase = PH_DATA;
		c->expect = B.rcpts;
		return;
	case PH_DATA:
		if (!ok)
			c->bad = 1;
		if (--c->expect > 0)
			return;
		B.lat_us[B.done] = (uint32_t)((uv_hrtime() - c->t0) / 1000);
		B.done++;
		if (c->bad)
			B.failed++;
		if (B.done == B.messages)
			B.end_ns = uv_hrtime();
		conn_next_message(c);
		return;
	default:
		return;
	}
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct bench_conn *c = h->data;
	buf->base = c->in + c->inlen;
	buf->len = sizeof(c->in) - c->inlen;
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct bench_conn *c = s->data;
	if (nread < 0) {
		if (c->phase != PH_DONE) {
			fprintf(stderr, "connection lost: %s\n", uv_strerror((int)nread));
			B.conn_errors++;
		}
		conn_finish(c);
		return;
	}
	c->inlen += (size_t)nread;
	for (;;) {
		char *lf = memchr(c->in, '\n', c->inlen);
		if (lf == NULL) {
			if (c->inlen == sizeof(c->in)) {
				fprintf(stderr, "reply line too long\n");
				B.conn_errors++;
				conn_finish(c);
			}
			return;
		}
		size_t len = (size_t)(lf - c->in) + 1;
		if (len >= 4 && c->in[3] != '-') {
			int code = atoi(c->in);
			if (code >= 400)
				fprintf(stderr, "reply: %.*s", (int)len, c->in);
			conn_reply(c, code);
		}
		memmove(c->in, c->in + len, c->inlen - len);
		c->inlen -= len;
		if (c->phase == PH_DONE)
			return;
	}
}

static void
connect_cb(uv_connect_t *req, int status)
{
	struct bench_conn *c = req->data;
	if (status != 0) {
		fprintf(stderr, "connect: %s\n", uv_strerror(status));
		B.conn_errors++;
		c->phase = PH_DONE;
		uv_close((uv_handle_t *)&c->tcp, close_cb);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
make_body(void)
{
	B.body = malloc((size_t)B.size + 256);
	size_t o = (size_t)snprintf(B.body, 256,
	                            "From: bench@%s\r\nTo: users@%s\r\nSubject: lmtp_bench\r\n"
	                            "\r\n",
	                            B.domain, B.domain);
	/* Lines of 78 characters and CRLF, none starting with a dot. */
	while (o + 80 <= (size_t)B.size) {
		for (int i = 0; i < 78; i++, o++)
			B.body[o] = (char)('a' + (o % 26));
		B.body[o++] = '\r';
		B.body[o++] = '\n';
	}
	while (o + 2 < (size_t)B.size)
		B.body[o++] = 'z';
	B.body[o++] = '\r';
	B.body[o++] = '\n';
	B.bodylen = o;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: lmtp_bench [-h host] [-p port[,port...]] [-c connections]\n"
	        "                  [-n messages] [-s size] [-u users] [-d domain] [-r rcpts]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	B.host = "127.0.0.1";
	B.ports[0] = 2424;
	B.nports = 1;
	B.nconns = 16;
	B.messages = 10000;
	B.size = 8192;
	B.users = 100;
	B.rcpts = 1;
	B.domain = "bench.test";
	B.seed = 42;
	int opt;
	while ((opt = getopt(argc, argv, "h:p:c:n:s:u:d:r:")) != -1) {
		switch (opt) {
		case 'h':
			B.host = optarg;
			break;
		case 'p':
			B.nports = 0;
			for (char *p = strtok(optarg, ","); p && B.nports < BENCH_PORTS_MAX;
			     p = strtok(NULL, ","))
				B.ports[B.nports++] = atoi(p);
			if (B.nports == 0)
				usage();
			break;
		case 'c':
			B.nconns = atoi(optarg);
			break;
		case 'n':
			B.messages = atol(optarg);
			break;
		case 's':
			B.size = atol(optarg);
			break;
		case 'u':
			B.users = atoi(optarg);
			break;
		case 'd':
			B.domain = optarg;
			break;
		case 'r':
			B.rcpts = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (B.nconns < 1 || B.nconns > BENCH_CONNS_MAX || B.messages < 1 || B.size < 128 ||
	    B.users < 1 || B.rcpts < 1 || B.rcpts > 50)
		usage();
	B.loop = uv_default_loop();
	B.lat_us = calloc((size_t)B.messages, sizeof(*B.lat_us));
	make_body();
	struct sockaddr_in addr[BENCH_PORTS_MAX];
	for (int i = 0; i < B.nports; i++)
		if (uv_ip4_addr(B.host, B.ports[i], &addr[i]) != 0)
			usage();
	struct bench_conn *conns = calloc((size_t)B.nconns, sizeof(*conns));
	B.start_ns = uv_hrtime();
	for (int i = 0; i < B.nconns; i++) {
		struct bench_conn *c = &conns[i];
		uv_tcp_init(B.loop, &c->tcp);
		c->tcp.data = c;
		c->creq.data = c;
		c->phase = PH_GREETING;
		uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&addr[i % B.nports],
		               connect_cb);
	}
	uv_run(B.loop, UV_RUN_DEFAULT);
	if (B.end_ns == 0)
		B.end_ns = uv_hrtime();
	double secs = (double)(B.end_ns - B.start_ns) / 1e9;
	long n = B.done;
	qsort(B.lat_us, (size_t)n, sizeof(*B.lat_us), cmp_u32);
	double p50 = n ? B.lat_us[n / 2] / 1000.0 : 0;
	double p99 = n ? B.lat_us[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0 : 0;
	double max = n ? B.lat_us[n - 1] / 1000.0 : 0;
	printf("connections=%d messages=%ld size=%ld rcpts=%d users=%d\n", B.nconns, n, B.size,
	       B.rcpts, B.users);
	printf("elapsed=%.2fs rate=%.0f msgs/s p50=%.2fms p99=%.2fms max=%.2fms failed=%ld "
	       "conn_errors=%ld\n",
	       secs, n / secs, p50, p99, max, B.failed, B.conn_errors);
	free(conns);
	free(B.body);
	free(B.lat_us);
	uv_loop_close(B.loop);
	return (B.failed || B.conn_errors || n != B.messages) ? 1 : 0;
}
