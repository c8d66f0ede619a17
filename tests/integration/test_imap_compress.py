"""IMAP COMPRESS=DEFLATE (RFC 4978) end to end, with Python's zlib as the
peer's raw DEFLATE (windowBits -15) around a real socket: commands and
responses after the tagged OK, IDLE (the server flushes every burst), a
large FETCH, TLS + COMPRESS on the IMAPS port, COMPRESS twice
(NO [COMPRESSIONACTIVE]), an unknown algorithm (BAD), a corrupt stream
(the connection closes, the node carries on), a decompression bomb
(memory stays bounded), and what an idle compressed connection costs."""
import os
import re
import socket
import ssl
import time
import zlib

import conftest
import harness
from imap_raw import Raw, code

T = 30


def new_user(node):
    addr = conftest.unique_user(node, "compress")
    return addr


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ZRaw(Raw):
    """Raw whose bytes go through zlib once compress() succeeded."""

    def __init__(self, node, tls=False, timeout=T):
        self.zc = self.zd = None
        self.wire_in = self.wire_out = 0
        if not tls:
            super().__init__(node, timeout=timeout)
            return
        s = socket.create_connection(("127.0.0.1", node.ports["imaps"]), timeout=timeout)
        self.s = tls_context().wrap_socket(s)
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def send(self, data):
        data = data if isinstance(data, bytes) else data.encode()
        if self.zc is not None:
            data = self.zc.compress(data) + self.zc.flush(zlib.Z_SYNC_FLUSH)
        self.wire_out += len(data)
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError(self.buf)
        self.wire_in += len(d)
        self.buf += self.zd.decompress(d) if self.zd is not None else d

    def compress(self):
        untagged, tagged = self.cmd("COMPRESS DEFLATE")
        assert tagged.split(" ")[1] == "OK", tagged
        self.zc = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.zd = zlib.decompressobj(-15)
        # anything after the OK's CRLF is compressed already
        rest, self.buf = self.buf, b""
        self.buf = self.zd.decompress(rest)
        return tagged


def session(node, addr, tls=False):
    r = ZRaw(node, tls=tls)
    r.login(addr)
    return r


def caps(lines):
    for l in lines:
        if l.startswith("* CAPABILITY "):
            return l.split()[2:]
    raise AssertionError(lines)


def message(i, size=0):
    body = "".join("line %d of message %d, some text to compress\r\n" % (k, i)
                   for k in range(max(1, size // 45)))
    return ("From: a@example.com\r\nSubject: m%d\r\n\r\n" % i + body).encode()


def test_capability_after_login_only(inode):
    r = ZRaw(inode)
    assert "COMPRESS=DEFLATE" not in caps(r.ok("CAPABILITY"))
    st, _, tagged = r.status("COMPRESS DEFLATE")
    assert st == "BAD", tagged
    r.login(new_user(inode))
    assert "COMPRESS=DEFLATE" in caps(r.ok("CAPABILITY"))


def test_commands_and_responses_compressed(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    r.compress()
    r.ok("SELECT INBOX")
    for i in range(3):
        _, t = r.literal_cmd("APPEND INBOX", message(i, 2000))
        assert " OK " in t, t
    lines = r.ok("FETCH 1:3 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert len([l for l in lines if " FETCH " in l]) == 3
    assert "Subject: m2" in lines[-1] or any("Subject: m2" in l for l in lines)
    # the wire carried fewer bytes than the text
    assert r.wire_in > 0 and r.wire_out > 0
    r.ok("NOOP")
    r.cmd("LOGOUT")
    r.close()


def test_compress_twice_and_bad_algorithm(inode):
    r = session(inode, new_user(inode))
    st, _, tagged = r.status("COMPRESS GZIP")
    assert st == "BAD", tagged
    st, _, tagged = r.status("COMPRESS")
    assert st == "BAD", tagged
    r.compress()
    st, _, tagged = r.status("COMPRESS DEFLATE")
    assert st == "NO" and code(tagged, "COMPRESSIONACTIVE") == "", tagged
    # still usable, still compressed
    r.ok("NOOP")
    # UNAUTHENTICATE keeps COMPRESS; TLS can no longer go under it
    r.ok("UNAUTHENTICATE")
    st, _, tagged = r.status("STARTTLS")
    assert st == "BAD", tagged
    r.ok("NOOP")
    r.close()


def test_idle_over_compression(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    r.compress()
    r.ok("SELECT INBOX")
    tag = r.tag()
    r.send("%s IDLE\r\n" % tag)
    assert r.line().startswith("+")
    w = Raw(inode)
    w.login(addr)
    _, t = w.literal_cmd("APPEND INBOX", message(1))
    assert " OK " in t
    # the EXISTS arrives on its own: the server flushed its burst
    assert r.line() == "* 1 EXISTS"
    r.send("DONE\r\n")
    _, tagged = r.until(tag)
    assert tagged.startswith(tag + " OK"), tagged
    w.close()
    r.close()


def test_large_fetch_over_compression(inode):
    addr = new_user(inode)
    w = Raw(inode)
    w.login(addr)
    big = message(7, 3 * 1024 * 1024)
    _, t = w.literal_cmd("APPEND INBOX", big)
    assert " OK " in t, t
    w.close()
    r = session(inode, addr)
    r.compress()
    r.ok("SELECT INBOX")
    tag = r.tag()
    r.send("%s FETCH 1 BODY.PEEK[]\r\n" % tag)
    head = r.line()
    m = re.match(r"\* 1 FETCH \(BODY\[\] \{(\d+)\}$", head)
    assert m, head
    n = int(m.group(1))
    while len(r.buf) < n:
        r._fill()
    data, r.buf = r.buf[:n], r.buf[n:]
    assert data == big
    assert r.line() == ")"
    _, tagged = r.until(tag)
    assert tagged.startswith(tag + " OK"), tagged
    # text this repetitive compresses well
    assert r.wire_in < len(big) // 4, (r.wire_in, len(big))
    r.close()


def test_tls_and_compress(inode):
    addr = new_user(inode)
    r = session(inode, addr, tls=True)
    r.compress()
    r.ok("SELECT INBOX")
    _, t = r.literal_cmd("APPEND INBOX", message(3, 200000))
    assert " OK " in t, t
    lines = r.ok("FETCH 1 (BODY.PEEK[TEXT]<0.60>)")
    assert "line 0 of message 3" in "\n".join(lines)
    st, _, tagged = r.status("COMPRESS DEFLATE")
    assert st == "NO" and code(tagged, "COMPRESSIONACTIVE") == ""
    r.cmd("LOGOUT")
    r.close()


def test_pipelined_after_compress_ok(inode):
    """A command that follows the tagged OK in the same packet is read as
    compressed input (the client sent it after seeing the OK)."""
    r = session(inode, new_user(inode))
    r.compress()
    # two commands in one compressed write
    r.send("a NOOP\r\nb CAPABILITY\r\n")
    _, ta = r.until("a")
    _, tb = r.until("b")
    assert ta.startswith("a OK") and tb.startswith("b OK")
    r.close()


def wait_closed(sock, timeout=10):
    sock.settimeout(timeout)
    end = time.time() + timeout
    while time.time() < end:
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
    return False


def test_corrupt_stream_closes_cleanly(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    r.compress()
    r.ok("NOOP")
    # not a deflate stream: reserved block type 3 and then junk
    r.s.sendall(b"\xff" * 64 + os.urandom(256))
    assert wait_closed(r.s)
    r.close()
    # the node is fine
    r2 = session(inode, addr)
    r2.compress()
    r2.ok("NOOP")
    r2.close()


def test_garbage_after_compress_command(inode):
    """Garbage sent right behind COMPRESS, before the OK was read."""
    r = session(inode, new_user(inode))
    r.send(b"c COMPRESS DEFLATE\r\n" + b"\x07garbage that is no deflate data\r\n" * 4)
    assert r.line().startswith("c OK")
    assert wait_closed(r.s)
    r.close()


def test_decompression_bomb_bounded(small_quarantine_node):
    node = small_quarantine_node
    addr = new_user(node)
    warm = session(node, addr)
    warm.compress()
    warm.ok("NOOP")
    before = harness.rss_kb(node.proc.pid)
    r = session(node, addr)
    r.compress()
    # 100 MB of one overlong line, about 100 KB compressed, then a NOOP
    zc = r.zc
    chunk = b"x" * (1 << 20)
    wire = 0
    r.s.sendall(zc.compress(b"bomb NOOP "))
    peak = before
    for _ in range(100):
        data = zc.compress(chunk)
        wire += len(data)
        r.s.sendall(data)
        peak = max(peak, harness.rss_kb(node.proc.pid))
    r.s.sendall(zc.compress(b"\r\nz NOOP\r\n") + zc.flush(zlib.Z_SYNC_FLUSH))
    r.zc = None  # sent by hand
    untagged, tagged = r.until("z")
    assert tagged.startswith("z OK"), tagged
    assert any("LIMIT" in l or "BAD" in l for l in untagged), untagged
    peak = max(peak, harness.rss_kb(node.proc.pid))
    assert wire < 1024 * 1024, wire
    # 100 MB expanded went through a bounded buffer
    assert peak - before < 16 * 1024, (before, peak)
    r.close()
    warm.close()


def test_idle_compressed_connection_cost(small_quarantine_node):
    """What N idle compressed sessions cost beyond N idle plain ones."""
    node = small_quarantine_node
    addr = new_user(node)
    n = 40

    def open_many(compressed):
        conns = []
        for _ in range(n):
            r = session(node, addr)
            if compressed:
                r.compress()
            r.ok("SELECT INBOX")
            r.ok("NOOP")
            conns.append(r)
        time.sleep(0.5)
        return conns

    base = harness.rss_kb(node.proc.pid)
    plain = open_many(False)
    with_plain = harness.rss_kb(node.proc.pid)
    zs = open_many(True)
    with_z = harness.rss_kb(node.proc.pid)
    per_plain = (with_plain - base) * 1024 / n
    per_z = (with_z - with_plain) * 1024 / n
    print("idle session: plain %.0f B, compressed %.0f B (RSS deltas over %d)" %
          (per_plain, per_z, n))
    # the deflate state (~260 KB) is released while idle; what is left is
    # the inflate window in use and the session
    assert per_z < 64 * 1024, per_z
    for r in plain + zs:
        r.ok("NOOP")
        r.close()
