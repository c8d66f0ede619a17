"""IMAP on a three-node cluster: a message delivered over LMTP to one node
is readable over IMAP on the others; a session on a follower reads its
own writes at once (STORE, APPEND, COPY go through the leader and are
answered after the follower applied them), without waiting for raft's
heartbeat when the cluster is idle; IDLE on one node reports a
delivery made on another within one second; a second session on another
node sees the first one's flag changes and expunges."""
import imaplib
import re
import smtplib
import socket
import time

import pytest

import conftest
import harness

T = 30


@pytest.fixture(scope="module")
def icluster():
    c = harness.Cluster(3)
    c.start()
    conftest.fast_passwords(c.nodes[0])
    yield c
    try:
        c.stop()
    finally:
        c.cleanup()


def deliver(node, rcpt, i):
    msg = ("From: s@example.org\r\nSubject: cluster %d\r\nMessage-ID: <c%d@x>\r\n\r\n"
           "replicated body %d\r\n" % (i, i, i)).encode()
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        l.sendmail("s@example.org", [rcpt], msg)


def login(node, addr, timeout=T):
    """Log in on node (the account may still be replicating to it)."""
    deadline = time.time() + timeout
    while True:
        c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=T)
        try:
            c.login(addr, "pw")
            return c
        except imaplib.IMAP4.error:
            c.shutdown()
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def wait_exists(c, n, timeout=T):
    deadline = time.time() + timeout
    while True:
        typ, data = c.select("INBOX")
        if int(data[0]) >= n:
            return int(data[0])
        assert time.time() < deadline, "only %s messages" % data
        time.sleep(0.05)


class Raw:
    def __init__(self, node, addr):
        self.s = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=T)
        self.buf = b""
        self.line()
        deadline = time.time() + T
        while not self.cmd("L", "LOGIN %s pw" % addr)[-1].startswith("L OK"):
            assert time.time() < deadline
            time.sleep(0.2)

    def send(self, data):
        self.s.sendall(data.encode())

    def line(self, timeout=T):
        self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + " "):
                return out


def test_lmtp_on_one_node_readable_on_the_others(icluster):
    n1, n2, n3 = icluster.nodes
    addr = "reader@imapcluster.test"
    n1.add_user(addr, "pw")
    deliver(n1, addr, 1)
    for node in (n2, n3):
        c = login(node, addr)
        wait_exists(c, 1)
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        assert b"replicated body 1" in data[0][1]
        c.logout()


def follower_session(icluster, addr):
    """A new user with one message, logged in on a follower."""
    lead = icluster.leader()
    follower = [n for n in icluster.nodes if n is not lead][0]
    lead.add_user(addr, "pw")
    deliver(lead, addr, 1)
    c = login(follower, addr)
    wait_exists(c, 1)
    return c


def test_read_your_writes_on_a_follower(icluster):
    c = follower_session(icluster, "ryw@imapcluster.test")
    for i in range(5):
        typ, data = c.store("1", "+FLAGS", "(kw%d)" % i)
        assert typ == "OK" and ("kw%d" % i).encode() in data[0]
        typ, data = c.fetch("1", "(FLAGS)")
        assert ("kw%d" % i).encode() in data[0], data
    typ, data = c.append("INBOX", r"(\Seen)", None, b"Subject: via follower\r\n\r\nx\r\n")
    assert typ == "OK" and data[0].startswith(b"[APPENDUID")
    typ, data = c.noop()
    typ, data = c.search(None, "ALL")
    assert data == [b"1 2"]
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK" and b"[COPYUID" in data[0]
    assert c.status("Archive", "(MESSAGES)")[1] == [b'"Archive" (MESSAGES 2)']
    c.create("Made.On.Follower")
    assert any(b"Made.On.Follower" in d for d in c.list()[1])
    c.logout()


def test_a_write_on_an_idle_follower_does_not_wait_for_a_heartbeat(icluster):
    """A follower answers a write once it applied it itself, and raft tells
    followers what is committed only with its next message to them: on an
    idle cluster that was the next heartbeat (100 ms; each STORE here took
    ~150 ms). The leader now sends the commit index on soon after it
    answered a forwarded write."""
    c = follower_session(icluster, "quick@imapcluster.test")
    took = []
    for i in range(11):
        time.sleep(0.05)
        t0 = time.monotonic()
        typ, data = c.store("1", "+FLAGS" if i % 2 == 0 else "-FLAGS", r"(\Flagged)")
        took.append(time.monotonic() - t0)
        assert typ == "OK"
    c.logout()
    took.sort()
    print("STORE on a follower: median %.1f ms, max %.1f ms" % (took[5] * 1000, took[-1] * 1000))
    assert took[5] < 0.075, took


def test_idle_sees_delivery_on_another_node(icluster):
    n1, n2, n3 = icluster.nodes
    addr = "idler@imapcluster.test"
    n1.add_user(addr, "pw")
    r = Raw(n3, addr)
    assert r.cmd("s", "SELECT INBOX")[-1].startswith("s OK")
    r.send("i IDLE\r\n")
    assert r.line() == "+ idling"
    for k in range(3):
        t0 = time.time()
        deliver(n1, addr, 10 + k)
        line = r.line(timeout=5)
        took = time.time() - t0
        assert line == "* %d EXISTS" % (k + 1), line
        assert took < 1.0, "EXISTS after %.2fs" % took
        r.line()  # RECENT
    r.send("DONE\r\n")
    assert r.cmd("n", "NOOP")[0] == "i OK IDLE terminated"


def test_sessions_on_two_nodes(icluster):
    n1, n2, n3 = icluster.nodes
    addr = "pair@imapcluster.test"
    n1.add_user(addr, "pw")
    for i in range(3):
        deliver(n1, addr, 20 + i)
    a, b = Raw(n2, addr), Raw(n3, addr)
    deadline = time.time() + T
    while "* 3 EXISTS" not in b.cmd("s", "SELECT INBOX"):
        assert time.time() < deadline
        time.sleep(0.1)
    while "* 3 EXISTS" not in a.cmd("s", "SELECT INBOX"):
        assert time.time() < deadline
        time.sleep(0.1)
    a.cmd("f", "STORE 2 +FLAGS.SILENT (\\Flagged \\Deleted)")
    a.cmd("x", "EXPUNGE")
    deadline = time.time() + 5
    seen = []
    while time.time() < deadline and not any("EXPUNGE" in l for l in seen):
        seen += b.cmd("n", "NOOP")
        time.sleep(0.05)
    assert "* 2 EXPUNGE" in seen, seen
    out = b.cmd("q", "FETCH 1:* (UID)")
    assert [l for l in out if l.startswith("* ")] == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]


def test_urlauth_and_multiappend_across_nodes(icluster):
    """GENURLAUTH on a follower makes the mailbox's access key through the
    replicated log: the URL it gives works on every node; RESETKEY on
    another node invalidates it everywhere. A MULTIAPPEND on a follower
    appends all its messages in one atomic batch, seen on the others."""
    lead = icluster.leader()
    f1, f2 = [n for n in icluster.nodes if n is not lead]
    joe, fred = "ujoe@imapcluster.test", "ufred@imapcluster.test"
    lead.add_user(joe, "pw")
    lead.add_user(fred, "pw")
    r = Raw(f1, joe)
    msgs = [b"Subject: m%d\r\n\r\nmulti %d\r\n" % (i, i) for i in range(3)]
    r.s.sendall(b"a APPEND INBOX " + b" ".join(b"{%d+}\r\n%s" % (len(m), m) for m in msgs) +
                b"\r\n")
    out = []
    while not out or not out[-1].startswith("a "):
        out.append(r.line())
    assert out[-1].startswith("a OK [APPENDUID "), out
    rump = ("imap://ujoe%40imapcluster.test@x/INBOX/;UID=2/;SECTION=TEXT;"
            "URLAUTH=user+ufred@imapcluster.test")
    out = r.cmd("g", 'GENURLAUTH "%s" INTERNAL' % rump)
    assert out[-1].startswith("g OK"), out
    full = re.match(r'\* GENURLAUTH "([^"]+)"', out[0]).group(1)
    for node in (lead, f2, f1):
        f = Raw(node, fred)
        deadline = time.time() + T
        while True:
            out = f.cmd("u", 'URLFETCH "%s"' % full)
            if "multi 1" in "\n".join(out):
                break
            assert time.time() < deadline, out
            time.sleep(0.1)
        f.s.close()
    r2 = Raw(f2, joe)
    assert r2.cmd("k", "RESETKEY INBOX")[-1].startswith("k OK")
    for node in (lead, f1, f2):
        f = Raw(node, fred)
        deadline = time.time() + T
        while True:
            out = f.cmd("u", 'URLFETCH "%s"' % full)
            if out[0].endswith(" NIL"):
                break
            assert time.time() < deadline, out
            time.sleep(0.1)
        f.s.close()
    r.s.close()
    r2.s.close()
