"""IMAP4rev1 session basics end to end with Python's imaplib and raw
sockets: greeting and CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE,
SELECT/EXAMINE responses, UNSELECT, CLOSE, CHECK, STATUS, pipelining, the
autologout timer and the command-rate throttle."""
import imaplib
import re
import smtplib
import socket
import time

import pytest

import conftest

T = 20


def new_user(node, pw="pw-basic"):
    addr = conftest.unique_user(node, "basic", pw=pw)
    return addr, pw


def login(node, addr, pw):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=T)
    c.login(addr, pw)
    return c


def deliver(node, rcpt, msg):
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        l.sendmail("sender@example.org", [rcpt], msg)


def message(i, body="hello"):
    return ("From: sender@example.org\r\nTo: someone@example.test\r\n"
            "Subject: message %d\r\nMessage-ID: <m%d@example.org>\r\n\r\n%s %d\r\n"
            % (i, i, body, i)).encode()


def wait_log(node, pattern, timeout=T):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if re.search(pattern, node.log()):
            return
        time.sleep(0.05)
    raise AssertionError("no %r in the log" % pattern)


class Raw:
    """A line-level IMAP client for what imaplib does not let us send."""

    def __init__(self, node, port="imap"):
        self.s = socket.create_connection(("127.0.0.1", node.ports[port]), timeout=T)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until(self, tag):
        """Lines up to and including the tagged one."""
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + " "):
                return out

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def login(self, addr, pw):
        r = self.cmd("L", 'LOGIN "%s" "%s"' % (addr, pw))
        assert r[-1].startswith("L OK"), r

    def eof(self, timeout=T):
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.s.close()


# --- greeting, CAPABILITY, universal commands ---------------------------------

def test_greeting_and_capability(inode):
    r = Raw(inode)
    assert r.greeting.startswith("* OK [CAPABILITY IMAP4rev1 ")
    caps = r.cmd("a", "CAPABILITY")
    assert caps[-1] == "a OK Capability completed"
    line = [l for l in caps if l.startswith("* CAPABILITY ")][0].split()
    for c in ("IMAP4rev1", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "NAMESPACE", "ID",
              "ENABLE", "UNSELECT", "CHILDREN", "SASL-IR", "STARTTLS", "AUTH=PLAIN",
              "AUTH=SCRAM-SHA-256", "XLIST", "CREATE-SPECIAL-USE"):
        assert c in line, (c, line)
    # Loopback may use plaintext by default: no LOGINDISABLED.
    assert "LOGINDISABLED" not in line
    addr, pw = new_user(inode)
    r.login(addr, pw)
    caps = r.cmd("b", "CAPABILITY")
    line = [l for l in caps if l.startswith("* CAPABILITY ")][0].split()
    assert "LITERAL+" in line and "STARTTLS" not in line
    assert any(c.startswith("APPENDLIMIT=") for c in line)
    assert not any(c.startswith("AUTH=") for c in line)
    r.close()


def test_noop_logout_id_namespace_enable(inode):
    addr, pw = new_user(inode)
    c = login(inode, addr, pw)
    assert c.noop()[0] == "OK"
    typ, data = c.xatom("ID", '("name" "pytest" "version" "1.0")')
    assert typ == "OK"
    assert b'"name" "mailnode"' in c.untagged_responses.pop("ID")[0]
    typ, data = c.namespace()
    assert typ == "OK" and data[0] == b'(("" ".")) NIL NIL'
    typ, data = c.enable("CONDSTORE")  # unknown here: ignored (RFC 5161)
    assert typ == "OK"
    typ, data = c.logout()
    assert typ == "BYE"
    assert 'event=id user=%s' % addr in inode.log()
    wait_log(inode, r"event=logout user=%s .*commands=\d+ .*reason=logout" % re.escape(addr))


def test_commands_in_wrong_state(inode):
    r = Raw(inode)
    assert r.cmd("a", "SELECT INBOX")[-1].startswith("a BAD")
    assert r.cmd("b", "FETCH 1 FLAGS")[-1].startswith("b BAD")
    assert r.cmd("c", "FROBNICATE")[-1].startswith("c BAD")
    addr, pw = new_user(inode)
    r.login(addr, pw)
    assert r.cmd("d", "LOGIN x y")[-1].startswith("d BAD")
    assert r.cmd("e", "FETCH 1 FLAGS")[-1].startswith("e BAD")
    assert r.cmd("f", "CLOSE")[-1].startswith("f BAD")
    assert r.cmd("g", "UID NOOP")[-1].startswith("g BAD")
    assert r.cmd("h", "NOOP")[-1] == "h OK NOOP completed"
    r.close()


# --- SELECT and friends -------------------------------------------------------

def test_select_responses(inode):
    addr, pw = new_user(inode)
    for i in range(3):
        deliver(inode, addr, message(i))
    r = Raw(inode)
    r.login(addr, pw)
    out = r.cmd("s", "SELECT INBOX")
    text = "\n".join(out)
    assert "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in out
    assert "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]" in text
    assert "* 3 EXISTS" in out
    assert "* 3 RECENT" in out
    assert "* OK [UNSEEN 1]" in text
    assert re.search(r"\* OK \[UIDVALIDITY \d+\]", text)
    assert "* OK [UIDNEXT 4]" in text
    assert out[-1].startswith("s OK [READ-WRITE]")
    # \Recent went to that session: a second SELECT sees none.
    r2 = Raw(inode)
    r2.login(addr, pw)
    out2 = r2.cmd("s", "SELECT inbox")
    assert "* 3 EXISTS" in out2 and "* 0 RECENT" in out2
    f = r.cmd("f", "FETCH 1:* FLAGS")
    assert all("\\Recent" in l for l in f if l.startswith("* ")), f
    # EXAMINE is read-only and claims nothing.
    deliver(inode, addr, message(9))
    out3 = r2.cmd("e", "EXAMINE INBOX")
    assert "* OK [PERMANENTFLAGS ()] Read-only mailbox" in out3
    assert "* 1 RECENT" in out3
    assert out3[-1].startswith("e OK [READ-ONLY]")
    assert r2.cmd("t", "STORE 1 +FLAGS \\Seen")[-1].startswith("t NO [READ-ONLY]")
    assert r2.cmd("x", "EXPUNGE")[-1].startswith("x NO [READ-ONLY]")
    assert r2.cmd("u", "SELECT INBOX")[-1].startswith("u OK [READ-WRITE]")
    r.close()
    r2.close()


def test_select_missing_leaves_selected_state(inode):
    addr, pw = new_user(inode)
    r = Raw(inode)
    r.login(addr, pw)
    assert r.cmd("a", "SELECT INBOX")[-1].startswith("a OK")
    out = r.cmd("b", "SELECT Nowhere")
    assert out[-1].startswith("b NO [NONEXISTENT]")
    assert r.cmd("c", "FETCH 1 FLAGS")[-1].startswith("c BAD")
    r.close()


def test_unselect_close_check(inode):
    addr, pw = new_user(inode)
    for i in range(3):
        deliver(inode, addr, message(i))
    c = login(inode, addr, pw)
    c.select("INBOX")
    assert c.check()[0] == "OK"
    c.store("1:2", "+FLAGS", "(\\Deleted)")
    typ, data = c._simple_command("UNSELECT")
    assert typ == "OK"
    c.select("INBOX")
    assert c.search(None, "DELETED")[1] == [b"1 2"]
    typ, data = c.close()
    assert typ == "OK"
    # CLOSE expunged silently.
    assert "EXPUNGE" not in c.untagged_responses
    typ, data = c.select("INBOX")
    assert data == [b"1"]
    c.logout()


def test_status(inode):
    addr, pw = new_user(inode)
    for i in range(4):
        deliver(inode, addr, message(i))
    c = login(inode, addr, pw)
    typ, data = c.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE)")
    assert typ == "OK"
    m = re.match(rb'"INBOX" \(MESSAGES 4 RECENT 4 UIDNEXT 5 UIDVALIDITY (\d+) UNSEEN 4 '
                 rb'DELETED 0 SIZE (\d+)\)', data[0])
    assert m, data
    assert int(m.group(2)) >= sum(len(message(i)) for i in range(4))
    assert c.status("Nowhere", "(MESSAGES)")[0] == "NO"
    with pytest.raises(imaplib.IMAP4.error):
        c.status("INBOX", "(BOGUS)")
    c.logout()


# --- pipelining and timeouts ----------------------------------------------

def test_pipelining_in_order(inode):
    addr, pw = new_user(inode)
    r = Raw(inode)
    batch = 'p1 LOGIN "%s" "%s"\r\np2 SELECT INBOX\r\np3 NOOP\r\n' % (addr, pw)
    batch += "".join("q%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(message(i)), message(i).decode())
                     for i in range(5))
    batch += "p4 FETCH 1:* (UID)\r\np5 LOGOUT\r\n"
    r.send(batch)
    lines = r.until("p5")
    tags = [l.split()[0] for l in lines if not l.startswith("*") and not l.startswith("+")]
    assert tags == ["p1", "p2", "p3", "q0", "q1", "q2", "q3", "q4", "p4", "p5"], lines
    assert all("OK" in l.split()[1] for l in lines if l.split()[0] in tags), lines
    assert sum(1 for l in lines if " FETCH (UID" in l) == 5
    r.close()


def test_autologout(inode):
    addr, pw = new_user(inode)
    inode.set_config("imap.login_timeout", 2)
    try:
        r = Raw(inode)
        assert r.eof(timeout=6), "not logged out"
        assert "* BYE Autologout" in r.buf.decode()
    finally:
        inode.set_config("imap.login_timeout", 120)
    inode.set_config("imap.idle_timeout", 2)
    try:
        r = Raw(inode)
        r.login(addr, pw)
        assert r.eof(timeout=6)
        assert "* BYE Autologout" in r.buf.decode()
    finally:
        inode.set_config("imap.idle_timeout", 1800)


def test_command_rate_throttle(inode):
    """A client over imap.commands_per_second is slowed down, not refused."""
    addr, pw = new_user(inode)
    inode.set_config("imap.commands_per_second", 50)
    time.sleep(1.2)  # the node reads the setting at most once a second
    try:
        r = Raw(inode)
        r.login(addr, pw)
        t0 = time.time()
        r.send("".join("n%d NOOP\r\n" % i for i in range(250)))
        lines = r.until("n249")
        took = time.time() - t0
        assert sum(1 for l in lines if l.endswith("OK NOOP completed")) == 250
        # 100 of burst, then 50 a second.
        assert took > 2.0, took
        r.close()
    finally:
        inode.set_config("imap.commands_per_second", 500)
