"""IMAP BINARY (RFC 3516) end to end: FETCH BINARY[section]<partial>,
BINARY.PEEK and BINARY.SIZE with base64 and quoted-printable undone,
literal8 exactly when the data holds a NUL, \\Seen set by BINARY and not by
BINARY.PEEK, [UNKNOWN-CTE] for an encoding the server cannot undo, a part
that does not exist, bad syntax, APPEND of binary data as literal8 fetched
back, and a 4 MB base64 attachment decoded while it streams."""
import base64
import random
import re

import pytest

import conftest
from imap_raw import Raw, code


def new_user(node):
    addr = conftest.unique_user(node, "binary")
    return addr


PAYLOAD = bytes(range(256)) * 4


def b64lines(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


MIXED = (b"From: a@example.com\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
         b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
         b"caf=C3=A9 au lait=\r\n and =3D signs\r\n"
         b"--b\r\nContent-Type: application/octet-stream\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\n" + b64lines(PAYLOAD) +
         b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         b"plain 8bit \xc3\xa9\r\n"
         b"--b\r\nContent-Type: application/x-thing\r\n"
         b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n`\r\nend\r\n"
         b"--b--\r\n")


class BRaw(Raw):
    def fetch_one(self, text):
        """FETCH returning [(item name, bytes or str)] of the first response,
        literals (and literal8) read as bytes; and the tagged line."""
        tag = self.tag()
        self.send("%s %s\r\n" % (tag, text))
        items, tagged = [], None
        while True:
            line = self._rawline()
            if line.startswith((tag + " ").encode()):
                return items, line.decode()
            if not line.startswith(b"* ") or b" FETCH (" not in line:
                continue
            rest = line.split(b" FETCH (", 1)[1]
            while True:
                m = re.match(rb" ?([A-Z0-9.\[\]<>]+) (\"\"|\d+|\([^)]*\))", rest)
                if m:
                    items.append((m.group(1).decode(), m.group(2).decode(), False))
                    rest = rest[m.end():]
                    continue
                m = re.match(rb" ?([A-Z0-9.\[\]<>]+) (~?)\{(\d+)\}$", rest)
                if not m:
                    break
                n = int(m.group(3))
                while len(self.buf) < n:
                    self._fill()
                data, self.buf = self.buf[:n], self.buf[n:]
                items.append((m.group(1).decode(), data, m.group(2) == b"~"))
                rest = self._rawline()

    def _rawline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line


def session(node, addr):
    r = BRaw(node)
    r.login(addr)
    return r


@pytest.fixture(scope="module")
def mixed(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    _, t = r.literal_cmd("APPEND INBOX", MIXED)
    assert " OK " in t, t
    r.close()
    return addr


def test_capability(inode):
    r = session(inode, new_user(inode))
    caps = [l for l in r.ok("CAPABILITY") if l.startswith("* CAPABILITY")][0].split()
    assert "BINARY" in caps
    r.close()


def test_decoded_parts(inode, mixed):
    r = session(inode, mixed)
    r.ok("EXAMINE INBOX")
    items, t = r.fetch_one("FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] BINARY.PEEK[3] "
                           "BINARY.SIZE[1] BINARY.SIZE[2])")
    assert t.split()[1] == "OK", t
    got = {name: (v, l8) for name, v, l8 in items}
    assert got["BINARY[1]"] == ("café au lait and = signs".encode(), False)
    assert got["BINARY[2]"] == (PAYLOAD, True)  # NUL inside: literal8
    assert got["BINARY[3]"] == ("plain 8bit é".encode(), False)
    assert got["BINARY.SIZE[1]"][0] == "25"
    assert got["BINARY.SIZE[2]"][0] == str(len(PAYLOAD))
    r.close()


def test_partial(inode, mixed):
    r = session(inode, mixed)
    r.ok("EXAMINE INBOX")
    items, t = r.fetch_one("FETCH 1 (BINARY.PEEK[2]<65.3> BINARY.PEEK[2]<256.1> "
                           "BINARY.PEEK[2]<1020.100> BINARY.PEEK[2]<5000.1>)")
    assert t.split()[1] == "OK", t
    got = {name: (v, l8) for name, v, l8 in items}
    assert got["BINARY[2]<65>"] == (b"ABC", False)
    assert got["BINARY[2]<256>"] == (b"\x00", True)
    assert got["BINARY[2]<1020>"] == (bytes([252, 253, 254, 255]), False)
    assert got["BINARY[2]<5000>"][0] == '""'
    r.close()


def test_seen(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    r.literal_cmd("APPEND INBOX", MIXED)
    r.ok("SELECT INBOX")
    r.ok("FETCH 1 BINARY.PEEK[1]")
    r.ok("FETCH 1 BINARY.SIZE[1]")
    assert "\\Seen" not in r.ok("FETCH 1 FLAGS")[0]
    lines = r.ok("FETCH 1 BINARY[1]")
    assert "\\Seen" in "\n".join(lines)
    assert "\\Seen" in r.ok("FETCH 1 FLAGS")[0]
    r.close()


def test_unknown_cte_and_missing_part(inode, mixed):
    r = session(inode, mixed)
    r.ok("EXAMINE INBOX")
    st, _, t = r.status("FETCH 1 BINARY.PEEK[4]")
    assert st == "NO" and code(t, "UNKNOWN-CTE") == "", t
    st, _, t = r.status("FETCH 1 BINARY.SIZE[4]")
    assert st == "NO" and code(t, "UNKNOWN-CTE") == "", t
    # BODY of that part is still fine
    r.ok("FETCH 1 BODY.PEEK[4]")
    items, t = r.fetch_one("FETCH 1 (BINARY.PEEK[9] BINARY.SIZE[9] BINARY.PEEK[1.2])")
    got = {name: v for name, v, _ in items}
    assert got == {"BINARY[9]": '""', "BINARY.SIZE[9]": "0", "BINARY[1.2]": '""'}, items
    r.close()


def test_whole_message(inode, mixed):
    r = session(inode, mixed)
    r.ok("EXAMINE INBOX")
    items, t = r.fetch_one("FETCH 1 BINARY.PEEK[]")
    assert items[0][0] == "BINARY[]" and items[0][1] == MIXED
    r.close()


def test_syntax(inode, mixed):
    r = session(inode, mixed)
    r.ok("EXAMINE INBOX")
    for bad in ["BINARY", "BINARY[0]", "BINARY[1.MIME]", "BINARY[HEADER]", "BINARY[1.]",
                "BINARY.SIZE[1]<0.10>", "BINARY.PEEK[TEXT]"]:
        st, _, t = r.status("FETCH 1 " + bad)
        assert st == "BAD", (bad, t)
    r.ok("NOOP")
    r.close()


def test_append_literal8_round_trip(inode):
    r = session(inode, new_user(inode))
    body = bytes(random.Random(5).randrange(256) for _ in range(5000))
    msg = (b"Subject: raw\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: binary\r\n\r\n" + body)
    tag = r.tag()
    r.send(b"%s APPEND INBOX ~{%d}\r\n" % (tag.encode(), len(msg)))
    assert r.line().startswith("+")
    r.send(msg + b"\r\n")
    _, t = r.until(tag)
    assert t.split()[1] == "OK", t
    r.ok("EXAMINE INBOX")
    items, t = r.fetch_one("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
    got = {name: (v, l8) for name, v, l8 in items}
    assert got["BINARY[1]"][0] == body
    assert got["BINARY[1]"][1] == (b"\x00" in body)
    assert got["BINARY.SIZE[1]"][0] == str(len(body))
    r.close()


def test_large_base64_attachment(inode):
    r = session(inode, new_user(inode))
    rnd = random.Random(9)
    data = bytes(rnd.randrange(256) for _ in range(3 * 1024 * 1024))
    msg = (b"Subject: big\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + b64lines(data) + b"--z--\r\n")
    _, t = r.literal_cmd("APPEND INBOX", msg)
    assert " OK " in t, t
    r.ok("EXAMINE INBOX")
    items, t = r.fetch_one("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[1]<3000000.10>)")
    assert t.split()[1] == "OK", t
    got = {name: (v, l8) for name, v, l8 in items}
    assert got["BINARY.SIZE[1]"][0] == str(len(data))
    assert got["BINARY[1]"][0] == data
    assert got["BINARY[1]<3000000>"][0] == data[3000000:3000010]
    r.close()
