"""A small raw IMAP client for tests that need the exact bytes: commands
imaplib does not know (ENABLE QRESYNC, SELECT parameters, GETQUOTA,
REPLACE, UNAUTHENTICATE...), untagged responses in the order they came,
and literals sent or received as they are."""
import re
import socket

T = 30


class Raw:
    """One connection. cmd() sends a tagged command and returns
    (untagged lines, tagged line) as str, literals inlined with a marker."""

    def __init__(self, node, timeout=T, port=None):
        self.s = socket.create_connection(
            ("127.0.0.1", port or node.ports["imap"]), timeout=timeout)
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError(self.buf)
        self.buf += d

    def line(self):
        """One line without CRLF, as str."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def _response(self):
        """One response line with its literals read and inlined."""
        out = self.line()
        while True:
            m = re.search(r"\{(\d+)\}$", out)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n:]
            out += "\r\n" + data.decode("utf-8", "replace") + self.line()

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def until(self, tag):
        untagged = []
        while True:
            l = self._response()
            if l.startswith(tag + " "):
                return untagged, l
            untagged.append(l)

    def cmd(self, text, tag=None):
        tag = tag or self.tag()
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def ok(self, text):
        """cmd() that must answer OK; returns the untagged lines."""
        untagged, tagged = self.cmd(text)
        assert tagged.split(" ", 2)[1] == "OK", (text, untagged, tagged)
        return untagged

    def status(self, text):
        """cmd() returning (status word, untagged, tagged)."""
        untagged, tagged = self.cmd(text)
        return tagged.split(" ", 2)[1], untagged, tagged

    def login(self, addr, pw="pw"):
        untagged, tagged = self.cmd("LOGIN %s %s" % (addr, pw))
        assert tagged.split(" ")[1] == "OK", tagged
        return tagged

    def literal_cmd(self, head, data, tail="", nonsync=True):
        """A command whose last argument is a literal: head {n} data tail."""
        tag = self.tag()
        data = data if isinstance(data, bytes) else data.encode()
        if nonsync:
            self.send(("%s %s {%d+}\r\n" % (tag, head, len(data))).encode() + data +
                      tail.encode() + b"\r\n")
            return self.until(tag)
        self.send("%s %s {%d}\r\n" % (tag, head, len(data)))
        l = self.line()
        if not l.startswith("+"):
            return [], l
        self.send(data + tail.encode() + b"\r\n")
        return self.until(tag)


def fetches(lines):
    """{seq: text inside FETCH (...)} of untagged FETCH lines."""
    out = {}
    for l in lines:
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", l, re.S)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def items(text):
    """'UID 4 FLAGS (\\Seen) MODSEQ (7)' -> {'UID': '4', 'FLAGS': '(\\Seen)',
    'MODSEQ': '(7)'} for simple (non-literal) FETCH data."""
    out = {}
    for m in re.finditer(r"([A-Z0-9.\[\]]+) (\([^)]*\)|\"[^\"]*\"|\S+)", text):
        out[m.group(1)] = m.group(2)
    return out


def uidset(text):
    """'1:3,7' -> [1, 2, 3, 7]."""
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            out.extend(range(min(a, b), max(a, b) + 1))
        elif part:
            out.append(int(part))
    return out


def code(line, name):
    """The value of response code [NAME value] in line, or None."""
    m = re.search(r"\[" + re.escape(name) + r"(?: ([^\]]*))?\]", line)
    if not m:
        return None
    return m.group(1) if m.group(1) is not None else ""
