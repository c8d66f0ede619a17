"""The node as a process: start-up, configuration errors, health, metrics,
bounded input, clean shutdown."""
import os
import socket
import subprocess
import time
import urllib.request

import pytest

import harness


def test_health_and_metrics(node):
    code, body = node.health()
    assert code == 200
    assert body["node_id"] == 1
    assert body["status"] == "ok"
    assert body["reasons"] == []
    with urllib.request.urlopen("http://%s/metrics" % node.addr("http")) as r:
        text = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE mailnode_uptime_seconds gauge" in text
    assert 'mailnode_http_requests_total{code="200"}' in text


def test_unknown_path_and_method(node):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://%s/nope" % node.addr("http"))
    assert e.value.code == 404
    req = urllib.request.Request("http://%s/health" % node.addr("http"),
                                 method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 405


def test_admin_api_not_on_public_port(node):
    # The admin API lives on a Unix socket only; the public port has none.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://%s/v1/users" % node.addr("http"))
    assert e.value.code == 404
    sock = os.path.join(node.data_dir, "admin.sock")
    assert oct(os.stat(sock).st_mode & 0o777) == "0o600"


def test_help_and_version():
    p = harness.run_cli(["--help"])
    assert "serve" in p.stdout and "init" in p.stdout
    p = harness.run_cli(["--version"])
    assert p.stdout.startswith("mailnode ")
    p = harness.run_cli(["serve", "--help"])
    assert p.stdout.startswith("usage: mailnode")
    p = harness.run_cli(["no-such-command"], check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr


@pytest.mark.parametrize("extra,listen_override,problem", [
    ("[node]\nnmae = x\n", None, "unknown key 'nmae'"),
    ("", ("imap", "127.0.0.1:70000"), "port out of range"),
    ("[tls]\ncert = /nonexistent/server.crt\nkey = /nonexistent/server.key\n",
     None, "/nonexistent/server.crt"),
    ("[nosuch]\na = b\n", None, "unknown section"),
    ("[node]\nlog_level = loud\n", None, "log_level"),
])
def test_bad_config_exits_before_binding(tmp_path, extra, listen_override,
                                         problem):
    n = harness.Node(base=str(tmp_path), extra=extra)
    if listen_override:
        with open(n.config_path) as f:
            text = f.read()
        name, value = listen_override
        text = text.replace("%s = %s" % (name, n.addr(name)),
                            "%s = %s" % (name, value))
        with open(n.config_path, "w") as f:
            f.write(text)
    os.makedirs(n.data_dir)
    before = sorted(os.listdir(n.data_dir))
    p = subprocess.run([harness.BIN, "--config", n.config_path, "serve"],
                       capture_output=True, text=True, timeout=30,
                       env=harness.sanitizer_env())
    assert p.returncode != 0
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert problem in lines[0]
    assert n.config_path in lines[0]
    # Nothing bound: every port is still free.
    for name in harness.LISTENERS:
        with socket.socket() as s:
            s.bind(("127.0.0.1", n.ports[name]))
    assert sorted(os.listdir(n.data_dir)) == before


def test_config_error_names_line(tmp_path):
    n = harness.Node(base=str(tmp_path))
    with open(n.config_path, "a") as f:
        f.write("[listen]\nimap = localhost\n")
    lineno = open(n.config_path).read().splitlines().index("imap = localhost") + 1
    p = subprocess.run([harness.BIN, "--config", n.config_path, "serve"],
                       capture_output=True, text=True, timeout=30,
                       env=harness.sanitizer_env())
    assert p.returncode == 1
    assert p.stderr.strip() == "mailnode: %s:%d: listen imap: expected host:port" % (
        n.config_path, lineno)


def test_port_in_use_binds_nothing(tmp_path):
    n = harness.Node(base=str(tmp_path))
    n.init()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", n.ports["http"]))
    blocker.listen()
    try:
        p = subprocess.run([harness.BIN, "--config", n.config_path, "serve"],
                           capture_output=True, text=True, timeout=30,
                           env=harness.sanitizer_env())
        assert p.returncode == 1
        assert "cannot bind http" in p.stderr
    finally:
        blocker.close()


def test_endless_line_costs_bounded_memory(node):
    """10 MB without a newline: an error, bounded memory, others served."""
    pid = node.proc.pid
    before = harness.rss_kb(pid)
    s = socket.create_connection(("127.0.0.1", node.ports["http"]))
    chunk = b"A" * 65536
    sent = 0
    try:
        while sent < 10 * 1024 * 1024:
            s.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    # Another client is served meanwhile.
    code, _ = node.health()
    assert code == 200
    s.settimeout(5)
    try:
        reply = s.recv(4096)
    except (ConnectionResetError, socket.timeout):
        reply = b""
    s.close()
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4")
    growth = harness.rss_kb(pid) - before
    limit = 4096 if not harness.SANITIZED else 16384
    assert growth < limit, "RSS grew by %d KB" % growth


def test_sigterm_stops_cleanly(tmp_path):
    n = harness.Node(base=str(tmp_path))
    n.init()
    n.start()
    s = socket.create_connection(("127.0.0.1", n.ports["http"]))
    t0 = time.time()
    n.stop()  # asserts exit code 0 and a clean log
    assert time.time() - t0 < 10
    s.close()
    assert "event=stopped exit_code=0" in n.log()


def test_sigterm_says_goodbye_to_clients(tmp_path):
    """Stopping a node tells IMAP clients BYE and LMTP clients 421 (RFC 3501
    §7.1.5, RFC 5321 §3.8), so that they reconnect rather than fail."""
    n = harness.Node(base=str(tmp_path))
    n.init()
    n.start()
    socks = {}
    for kind in ("imap", "lmtp"):
        s = socket.create_connection(("127.0.0.1", n.ports[kind]))
        s.settimeout(10)
        s.recv(4096)  # greeting
        socks[kind] = s
    n.stop()
    got = {}
    for kind, s in socks.items():
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        got[kind] = data
    assert got["imap"].startswith(b"* BYE "), got["imap"]
    assert got["lmtp"].startswith(b"421 4.3.2 "), got["lmtp"]


@pytest.mark.parametrize("listener,expect", [
    ("imap", b"BAD"), ("pop3", b"-ERR"), ("lmtp", b"500"), ("http", b"HTTP/1.1 4"),
])
def test_endless_line_on_every_listener(node, listener, expect):
    """10 MB without a newline to each front end: a protocol error, memory
    bounded by the line limit, and other clients still served."""
    pid = node.proc.pid
    before = harness.rss_kb(pid)
    s = socket.create_connection(("127.0.0.1", node.ports[listener]))
    s.settimeout(10)
    if listener != "http":
        s.recv(4096)  # greeting
    chunk = b"A" * 65536
    sent = 0
    try:
        while sent < 10 * 1024 * 1024:
            s.sendall(chunk)
            sent += len(chunk)
        s.sendall(b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = b""
    try:
        while expect not in reply and len(reply) < 65536:
            data = s.recv(4096)
            if not data:
                break
            reply += data
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert expect in reply, reply[:200]
    code, _ = node.health()
    assert code == 200
    growth = harness.rss_kb(pid) - before
    limit = 4096 if not harness.SANITIZED else 16384
    assert growth < limit, "RSS grew by %d KB on %s" % (growth, listener)
