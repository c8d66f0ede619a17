"""Start and stop real mailnode processes for end-to-end tests.

Each Node gets its own data directory, its own free loopback ports and a
bootstrap file written the way an operator would write one. stderr goes to
a log file that the tests can read; a sanitizer report in it, or an exit
code other than 0 after SIGTERM, fails the test that owned the node.
"""
import atexit
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

BIN = os.environ.get("MAILNODE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "build", "mailnode")
SANITIZED = os.environ.get("MAILNODE_SANITIZE", "") in ("ON", "1", "TRUE", "true")

LISTENERS = ["imap", "imaps", "pop3", "pop3s", "lmtp", "managesieve", "http",
             "cluster"]

SANITIZER_PATTERNS = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"WARNING: ThreadSanitizer|panic: ")


_handed_out = set()


def rss_kb(pid):
    """Resident memory of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


# Ports handed out by any test process on this machine, one file each,
# removed when that process ends (a claim older than an hour is stale).
PORT_CLAIMS = "/tmp/mailnode-test-ports"
_claimed = []


def _release_claims():
    for path in _claimed:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_release_claims)


def _claim(port):
    os.makedirs(PORT_CLAIMS, exist_ok=True)
    path = os.path.join(PORT_CLAIMS, str(port))
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        try:
            if time.time() - os.path.getmtime(path) < 3600:
                return False
            os.utime(path)  # left by a process that died
        except OSError:
            return False
    _claimed.append(path)
    return True


def free_port():
    """A loopback port nothing listens on, handed out once on this machine
    while this process runs: test processes run side by side (ctest -j),
    and a port one drew may not be bound yet when another probes it. It is
    drawn below the kernel's ephemeral range, which outgoing connections
    take from."""
    low = _ephemeral_low()
    while True:
        # No SO_REUSEADDR: a port with connections in TIME_WAIT is skipped
        # too (a test may probe that a port is free the same way).
        with socket.socket() as s:
            if low > 12000:
                port = random.randrange(10000, low)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            else:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        if port not in _handed_out and _claim(port):
            _handed_out.add(port)
            return port


def sanitizer_env():
    env = dict(os.environ)
    # Reports go to stderr (the node's log); leaks are checked at exit.
    env.setdefault("ASAN_OPTIONS",
                   "detect_leaks=1:abort_on_error=0:exitcode=99:"
                   "detect_stack_use_after_return=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def run_cli(args, input=None, timeout=60, check=True):
    """Run `mailnode ARGS` and return the CompletedProcess."""
    p = subprocess.run([BIN] + list(args), input=input, capture_output=True,
                       text=True, timeout=timeout, env=sanitizer_env())
    for stream in (p.stdout, p.stderr):
        assert not SANITIZER_PATTERNS.search(stream), stream
    if check and p.returncode != 0:
        raise AssertionError("mailnode %s failed (%d): %s%s" %
                             (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


# Raft snapshots every 32 entries: tests that need snapshots reach them.
SMALL_SNAPSHOTS = "[cluster]\nsnapshot_threshold = 32\nsnapshot_trailing = 8\n"


class Node:
    def __init__(self, node_id=1, base=None, ports=None, extra=None,
                 listeners=None, log_level=None):
        self.node_id = node_id
        self.base = base or tempfile.mkdtemp(prefix="mailnode-test-")
        self.dir = os.path.join(self.base, "node%d" % node_id)
        os.makedirs(self.dir, exist_ok=True)
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "node.log")
        self.ports = ports or {name: free_port() for name in LISTENERS}
        self.listeners = listeners or LISTENERS
        self.extra = extra or ""
        self.log_level = log_level or os.environ.get("MAILNODE_LOG_LEVEL", "debug")
        self.config_path = os.path.join(self.dir, "mailnode.conf")
        self.proc = None
        self.log_file = None
        self.write_config()

    def addr(self, name):
        return "127.0.0.1:%d" % self.ports[name]

    def write_config(self):
        lines = ["[node]", "id = %d" % self.node_id,
                 "data_dir = %s" % self.data_dir, "log_level = %s" % self.log_level, "",
                 "[listen]"]
        for name in LISTENERS:
            lines.append("%s = %s" % (name, self.addr(name)
                                      if name in self.listeners else ""))
        lines.append("")
        lines.append(self.extra)
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def cli(self, *args, **kw):
        return run_cli(["--config", self.config_path] + list(args), **kw)

    def init(self, *args):
        return self.cli("init", *args)

    def start(self, wait=True, timeout=30):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "--config", self.config_path, "serve"],
            stdout=self.log_file, stderr=subprocess.STDOUT,
            env=sanitizer_env())
        if wait:
            self.wait_healthy(timeout)
        return self

    def health(self):
        """(status code, parsed JSON) of GET /health, or (None, None)."""
        url = "http://%s/health" % self.addr("http")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")
        except OSError:
            return None, None

    def wait_healthy(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("node %d exited with %s:\n%s" %
                                     (self.node_id, self.proc.returncode,
                                      self.log()))
            code, body = self.health()
            if code == 200:
                return
            time.sleep(0.1)
        raise AssertionError("node %d not healthy after %ss (health: %s %s):\n%s\n%s" %
                             (self.node_id, timeout, code, body, self.log()[-5000:],
                              self.stacks()))

    def stacks(self):
        """Every thread's stack of the running node (gdb), for a failure
        message: what a node that does not answer is waiting for."""
        if self.proc is None or self.proc.poll() is not None or not shutil.which("gdb"):
            return ""
        try:
            out = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-nx",
                                  "-ex", "thread apply all bt 25"],
                                 capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return "(gdb timed out)"
        return "stacks:\n" + "\n".join(l for l in out.stdout.splitlines()
                                       if l.startswith(("#", "Thread")))

    def admin(self, method, path, body=None, expect=None, timeout=60):
        """Call the admin API on the node's Unix socket; return (status, json)."""
        conn = UnixHTTPConnection(os.path.join(self.data_dir, "admin.sock"),
                                  timeout=timeout)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        text = r.read()
        conn.close()
        parsed = json.loads(text) if text else None
        if expect is not None:
            assert r.status == expect, "%s %s -> %d %s" % (method, path, r.status, text)
        return r.status, parsed

    def dump(self):
        """The canonical text dump of this node's replicated index."""
        conn = UnixHTTPConnection(os.path.join(self.data_dir, "admin.sock"))
        conn.request("GET", "/v1/debug/dump")
        r = conn.getresponse()
        text = r.read().decode()
        conn.close()
        assert r.status == 200, text
        return text

    def add_user(self, address, password, quota_bytes=0, quota_messages=0):
        """Create the user (and its domain) through the admin API."""
        domain = address.split("@", 1)[1]
        st, _ = self.admin("POST", "/v1/domains", {"name": domain})
        assert st in (200, 409), st
        self.admin("POST", "/v1/users", {"address": address, "password": password,
                                          "quota_bytes": quota_bytes,
                                          "quota_messages": quota_messages},
                   expect=200)

    def set_config(self, key, value):
        self.admin("PUT", "/v1/config/" + key, {"value": str(value)}, expect=200)

    def wait_leader(self, timeout=30):
        """Wait until /health says the node serves and the cluster's first
        commands are applied (the bootstrap marker is gone)."""
        deadline = time.time() + timeout
        marker = os.path.join(self.data_dir, "bootstrap.pending")
        while time.time() < deadline:
            code, body = self.health()
            if code == 200 and not os.path.exists(marker):
                return body
            time.sleep(0.05)
        raise AssertionError("node %d has no leader after %ss:\n%s" %
                             (self.node_id, timeout, self.log()[-5000:]))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def check_log(self):
        text = self.log()
        m = SANITIZER_PATTERNS.search(text)
        assert m is None, "sanitizer or panic report in node %d log:\n%s" % (
            self.node_id, text[max(0, m.start() - 2000):m.start() + 6000])

    def stop(self, timeout=30):
        """SIGTERM; the node must exit 0 with a clean log."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("node %d did not stop in %ss:\n%s" %
                                     (self.node_id, timeout, self.log()[-5000:]))
        rc = self.proc.returncode
        self.proc = None
        self.log_file.close()
        self.check_log()
        assert rc == 0, "node %d exited %d:\n%s" % (self.node_id, rc,
                                                     self.log()[-5000:])

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None:
            self.proc.send_signal(sig)
            if sig == signal.SIGKILL:
                self.proc.wait()
                self.proc = None
                self.log_file.close()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


class Cluster:
    """Three (or five) real nodes on loopback: node 1 initialises the
    cluster, the others join it with its token, all are started."""

    def __init__(self, size=3, node_dirs=None, extra=None):
        """node_dirs: a parent directory per node (for example one file
        system each); by default all under one temporary directory.
        extra: configuration text every node gets."""
        self.base = tempfile.mkdtemp(prefix="mailnode-cluster-")
        self.node_bases = [tempfile.mkdtemp(prefix="mailnode-node-", dir=d)
                           for d in node_dirs] if node_dirs else []
        self.nodes = [Node(node_id=i + 1,
                           base=self.node_bases[i] if node_dirs else self.base,
                           extra=extra)
                      for i in range(size)]

    def start(self, timeout=60):
        first = self.nodes[0]
        first.init()
        token = first.cli("token").stdout.strip()
        token_file = os.path.join(self.base, "token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        for n in self.nodes[1:]:
            n.cli("join", "--peer", first.addr("cluster"), "--token-file", token_file)
        for n in self.nodes:
            n.start(wait=False)
        self.wait_members(len(self.nodes), timeout)
        for n in self.nodes:
            n.wait_healthy(timeout)
        first.wait_leader(timeout)
        return self

    def status(self, node=None):
        n = node or self.alive()[0]
        code, body = n.admin("GET", "/v1/status")
        assert code == 200, body
        return body

    def alive(self):
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def wait_members(self, count, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for n in self.alive():
                try:
                    st = self.status(n)
                except (OSError, AssertionError, ValueError):
                    continue
                voters = [m for m in st["members"] if m["role"] == "voter"]
                if len(voters) == count:
                    return st
            time.sleep(0.1)
        raise AssertionError("cluster did not reach %d voters:\n%s" % (
            count, "\n".join(n.log()[-3000:] for n in self.nodes)))

    def leader(self, timeout=30, exclude=()):
        """The node every live node agrees leads (not in exclude)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            views = set()
            for n in self.alive():
                code, body = n.health()
                if body:
                    views.add(body.get("leader", 0))
            if len(views) == 1:
                lid = views.pop()
                for n in self.alive():
                    if n.node_id == lid and lid not in exclude:
                        return n
            time.sleep(0.05)
        raise AssertionError("no agreed leader")

    def followers(self):
        lead = self.leader()
        return [n for n in self.alive() if n is not lead]

    def dumps_equal(self, timeout=30):
        """Every live node's index dump, once they applied the same index."""
        deadline = time.time() + timeout
        while True:
            dumps = [n.dump() for n in self.alive()]
            if len(set(dumps)) == 1 or time.time() > deadline:
                return dumps
            time.sleep(0.2)

    def stop(self):
        errors = []
        for n in self.nodes:
            try:
                n.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))

    def cleanup(self):
        for n in self.nodes:
            n.cleanup()
        shutil.rmtree(self.base, ignore_errors=True)
