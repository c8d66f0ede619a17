/*
 * imap_idle_bench: what an idle IMAP connection costs the node.
 *
 *   imap_idle_bench -P node-pid [-h host] [-p port] [-u user] [-w password]
 *                   [-n connections] [-W window] [-t] [-H hold-seconds]
 *
 * Opens a warm-up batch of connections, reads the node's resident set size
 * from /proc/<pid>/status, then opens N more (at most W handshaking at a
 * time), each of which logs in, selects INBOX and enters IDLE (RFC 2177);
 * once all are idling and the node settled, it reads the RSS again and
 * prints the difference per connection. -t uses implicit TLS (the IMAPS
 * port). All connections log in as the same user: give that user cheap
 * Argon2id parameters (set password.argon2_memory_kib before creating it)
 * or the logins take minutes.
 *
 * The tool raises its own RLIMIT_NOFILE; the node needs the same:
 *   (ulimit -n 65536; mailnode --config node.conf serve)
 * and the kernel's local port range must hold N connections to one port.
 *
 * One libuv loop on the node's own connection module (node/net/conn.h),
 * which also gives the tool TLS. Exits 1 if a connection fails.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/net/tls.h"

#define IDLE_WARMUP 16

enum idle_phase { PH_GREETING, PH_LOGIN, PH_IDLE, PH_FAILED };

struct idle_conn {
	struct conn *c;
	enum idle_phase phase;
};

static struct {
	uv_loop_t *loop;
	const char *host, *user, *password;
	int port, tls, window, hold;
	long target, launched, idling, failed, inflight;
	long pid;
	struct sockaddr_storage addr;
	struct tls_ctx *ctx;
	struct idle_conn *conns;
	long rss0;
	int measuring;
	uv_timer_t timer;
	uint64_t t0;
} I;

static long
rss_kb(long pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

static void launch(void);

static void
idle_done(struct idle_conn *ic, int ok)
{
	I.inflight--;
	if (ok)
		I.idling++;
	else
		I.failed++;
	launch();
}

static void
on_read(struct conn *c)
{
	struct idle_conn *ic = c->data;
	const char *line;
	size_t len;
	int rc;
	while ((rc = conn_getline(c, 8192, &line, &len)) == 1) {
		switch (ic->phase) {
		case PH_GREETING:
			if (len < 4 || strncmp(line, "* OK", 4) != 0) {
				ic->phase = PH_FAILED;
				idle_done(ic, 0);
				break;
			}
			conn_printf(c, "a LOGIN \"%s\" \"%s\"\r\nb SELECT INBOX\r\nc IDLE\r\n",
			            I.user, I.password);
			ic->phase = PH_LOGIN;
			break;
		case PH_LOGIN:
			if ((len >= 5 && strncmp(line, "a NO", 4) == 0) ||
			    (len >= 5 && strncmp(line, "b NO", 4) == 0) ||
			    (len >= 5 && strncmp(line, "a BAD", 5) == 0)) {
				fprintf(stderr, "imap_idle_bench: %.*s\n", (int)len, line);
				ic->phase = PH_FAILED;
				idle_done(ic, 0);
			} else if (len >= 1 && line[0] == '+') {
				ic->phase = PH_IDLE;
				idle_done(ic, 1);
			}
			break;
		default:
			break; /* untagged updates and keepalives while idling */
		}
		conn_line_consume(c);
	}
}

static void
on_close(struct conn *c)
{
	struct idle_conn *ic = c->data;
	if (ic->phase != PH_IDLE && ic->phase != PH_FAILED) {
		ic->phase = PH_FAILED;
		idle_done(ic, 0);
	}
	ic->c = NULL;
}

static const struct conn_handler handler = {
        .on_read = on_read,
        .on_close = on_close,
};

static void
finish(uv_timer_t *t)
{
	long rss1 = rss_kb(I.pid);
	long n = I.target - IDLE_WARMUP;
	double per = n > 0 ? (double)(rss1 - I.rss0) * 1024.0 / (double)n : 0;
	printf("imap_idle_bench: tls=%s connections=%ld idle=%ld failed=%ld setup_s=%.1f\n",
	       I.tls ? "yes" : "no", n, I.idling - IDLE_WARMUP, I.failed,
	       (double)(now_mono_ms() - I.t0) / 1000.0);
	printf("imap_idle_bench: node_rss_before_kb=%ld node_rss_after_kb=%ld "
	       "bytes_per_connection=%.0f\n",
	       I.rss0, rss1, per);
	fflush(stdout);
	uv_stop(I.loop);
}

static void
launch(void)
{
	if (!I.measuring && I.idling + I.failed == IDLE_WARMUP) {
		usleep(500 * 1000);
		I.rss0 = rss_kb(I.pid);
		I.measuring = 1;
		I.t0 = now_mono_ms();
	}
	long limit = I.measuring ? I.target : IDLE_WARMUP;
	while (I.launched < limit && I.inflight < I.window) {
		struct idle_conn *ic = &I.conns[I.launched++];
		I.inflight++;
		ic->phase = PH_GREETING;
		ic->c = conn_connect((struct sockaddr *)&I.addr, &handler, ic, 16 * 1024, "bench");
		if (ic->c && I.tls)
			conn_start_tls(ic->c, I.ctx, 0);
	}
	if (I.measuring && I.idling + I.failed == I.target &&
	    !uv_is_active((uv_handle_t *)&I.timer))
		uv_timer_start(&I.timer, finish, (uint64_t)I.hold * 1000, 0);
}

int
main(int argc, char **argv)
{
	int opt;
	I.host = "127.0.0.1";
	I.port = 1143;
	I.user = "bench@bench.test";
	I.password = "bench";
	I.target = 1000;
	I.window = 200;
	I.hold = 2;
	while ((opt = getopt(argc, argv, "h:p:u:w:n:W:tH:P:")) != -1) {
		switch (opt) {
		case 'h':
			I.host = optarg;
			break;
		case 'p':
			I.port = atoi(optarg);
			break;
		case 'u':
			I.user = optarg;
			break;
		case 'w':
			I.password = optarg;
			break;
		case 'n':
			I.target = atol(optarg);
			break;
		case 'W':
			I.window = atoi(optarg);
			break;
		case 't':
			I.tls = 1;
			break;
		case 'H':
			I.hold = atoi(optarg);
			break;
		case 'P':
			I.pid = atol(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: %s -P node-pid [-h host] [-p port] [-u user] "
			        "[-w password] [-n connections] [-W window] [-t] [-H seconds]\n",
			        argv[0]);
			return 2;
		}
	}
	if (I.pid <= 0 || I.target < 1 || I.window < 1 || rss_kb(I.pid) < 0) {
		fprintf(stderr, "imap_idle_bench: -P must name the running node's pid\n");
		return 2;
	}
	I.target += IDLE_WARMUP;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if ((long)rl.rlim_cur < I.target + 64)
			fprintf(stderr,
			        "imap_idle_bench: RLIMIT_NOFILE is %ld, fewer than needed\n",
			        (long)rl.rlim_cur);
	}
	if (uv_ip4_addr(I.host, I.port, (struct sockaddr_in *)&I.addr) != 0 &&
	    uv_ip6_addr(I.host, I.port, (struct sockaddr_in6 *)&I.addr) != 0) {
		fprintf(stderr, "imap_idle_bench: bad host %s\n", I.host);
		return 2;
	}
	const char *err;
	if (I.tls && tls_ctx_create_client(NULL, NULL, NULL, &I.ctx, &err) != 0) {
		fprintf(stderr, "imap_idle_bench: %s\n", err);
		return 1;
	}
	I.loop = uv_default_loop();
	net_init(I.loop);
	uv_timer_init(I.loop, &I.timer);
	I.conns = xcalloc((size_t)I.target, sizeof(*I.conns));
	launch();
	uv_run(I.loop, UV_RUN_DEFAULT);
	int rc = I.failed ? 1 : 0;
	net_shutdown(0);
	uv_run(I.loop, UV_RUN_DEFAULT);
	tls_ctx_free(&I.ctx);
	free(I.conns);
	return rc;
}
