#!/usr/bin/python3
"""Fill mailboxes for tools/pop3_bench: create the domain and USERS users
(prefix0..prefixN-1@domain) through a node's admin socket, then deliver
MESSAGES distinct messages of about SIZE bytes to each INBOX over LMTP, with
PROCS processes in parallel (one LMTP connection each, one recipient per
message, so every body is its own file, as in a real mailbox).

usage: pop3_bench_fill.py --admin DATA_DIR/admin.sock --lmtp HOST:PORT
                          [--users 16] [--messages 1000] [--size 20000]
                          [--procs 4] [--prefix user] [--domain bench.test]
                          [--password bench-password]
"""
import argparse
import http.client
import json
import multiprocessing
import smtplib
import socket
import sys
import time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path_)


def admin(path, method, url, body):
    c = UnixHTTP(path)
    c.request(method, url, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read()
    c.close()
    return r.status, text


def message(user, i, size):
    head = ("From: bench@example.org\r\nTo: %s\r\nSubject: bench %d\r\n"
            "Message-ID: <bench-%s-%d@example.org>\r\n\r\n" % (user, i, user, i))
    # 76-character lines, one in ten starting with a dot (stuffed by POP3).
    lines, n = [], len(head)
    k = 0
    while n < size:
        line = ("." if k % 10 == 0 else "") + ("%s %d line %d " % (user, i, k)).ljust(74, "x")
        lines.append(line)
        n += len(line) + 2
        k += 1
    return head + "\r\n".join(lines) + "\r\n"


def fill(job):
    host, port, users, messages, size = job
    with smtplib.LMTP(host, port, timeout=60) as l:
        for user in users:
            for i in range(messages):
                l.sendmail("bench@example.org", [user], message(user, i, size))
    return len(users) * messages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin", required=True)
    ap.add_argument("--lmtp", required=True)
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--prefix", default="user")
    ap.add_argument("--domain", default="bench.test")
    ap.add_argument("--password", default="bench-password")
    a = ap.parse_args()
    st, text = admin(a.admin, "POST", "/v1/domains", {"name": a.domain})
    if st not in (200, 409):
        sys.exit("domain: %d %s" % (st, text))
    users = ["%s%d@%s" % (a.prefix, i, a.domain) for i in range(a.users)]
    for u in users:
        st, text = admin(a.admin, "POST", "/v1/users",
                         {"address": u, "password": a.password, "quota_bytes": 0,
                          "quota_messages": 0})
        if st not in (200, 409):
            sys.exit("user %s: %d %s" % (u, st, text))
    host, port = a.lmtp.rsplit(":", 1)
    jobs = [(host, int(port), users[i::a.procs], a.messages, a.size)
            for i in range(a.procs) if users[i::a.procs]]
    t0 = time.time()
    with multiprocessing.Pool(len(jobs)) as pool:
        n = sum(pool.map(fill, jobs))
    dt = time.time() - t0
    print("delivered %d messages of ~%d bytes to %d users in %.1f s (%.0f/s)" %
          (n, a.size, len(users), dt, n / dt))


if __name__ == "__main__":
    main()
