"""The index after the node's process or its machine stopped.

The index commits without flushing; raft's log is what makes a delivery
durable. A killed process leaves its writes in the kernel's page cache, so
the index is used as it is. A machine that stopped while the index was open
(another boot id in index/open-boot) may have lost pages of it without a
trace, so the node moves it aside and rebuilds it from raft's snapshot and
log. A power cut cannot be made here; the test makes what the node sees
after one: the mark of another boot, and an index file that is garbage.
"""
import hashlib
import imaplib
import os
import re
import smtplib
import time

import harness
from conftest import fast_passwords

PW = "pw"


def deliver(node, rcpt, n, tag):
    c = smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=30)
    for i in range(n):
        msg = ("From: a@example.org\r\nTo: %s\r\nSubject: %s %d\r\n"
               "Message-ID: <%s.%d@example.org>\r\n\r\nbody %s %d\r\n" %
               (rcpt, tag, i, tag, i, tag, i))
        c.sendmail("a@example.org", [rcpt], msg)
    c.quit()


def imap(node, user):
    m = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=30)
    m.login(user, PW)
    return m


def view(node, users):
    """Every mailbox of every user: UIDVALIDITY, and per UID its flags and
    the hash of its text."""
    out = {}
    for user in users:
        m = imap(node, user)
        typ, boxes = m.list()
        assert typ == "OK"
        for line in boxes:
            name = re.match(r'\(.*?\) (?:NIL|"[^"]*") (.*)$', line.decode()).group(1).strip('"')
            typ, _ = m.select('"%s"' % name, readonly=True)
            assert typ == "OK"
            uidvalidity = m.response("UIDVALIDITY")[1][0]
            typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
            msgs = []
            for item in data:
                if isinstance(item, tuple):
                    meta = item[0].decode()
                    uid = meta.split("UID ", 1)[1].split()[0]
                    flags = meta.split("FLAGS (", 1)[1].split(")", 1)[0]
                    msgs.append((int(uid), flags, hashlib.sha256(item[1]).hexdigest()))
            out[(user, name)] = (uidvalidity, sorted(msgs))
        m.logout()
    return out


def mail_files(node):
    root = os.path.join(node.data_dir, "mail")
    found = set()
    for d, _, files in os.walk(root):
        found.add(os.path.relpath(d, root) + "/")
        for f in files:
            found.add(os.path.relpath(os.path.join(d, f), root))
    return found


def wait_log(node, text, timeout=60):
    deadline = time.time() + timeout
    while text not in node.log():
        assert time.time() < deadline, "no %r in the log:\n%s" % (text, node.log()[-3000:])
        time.sleep(0.1)


def make_history(node, a, b):
    """Enough entries for raft snapshots, and changes whose file operations
    a naive replay over the newer maildir tree would get wrong: a mailbox
    renamed, messages expunged, a user removed and made again receiving a
    body it had before."""
    deliver(node, a, 30, "a")
    deliver(node, b, 10, "b")
    m = imap(node, a)
    m.create("Work")
    m.select("INBOX")
    m.uid("COPY", "1:5", "Work")
    m.uid("STORE", "1:10", "+FLAGS", r"(\Seen)")
    m.uid("STORE", "11:15", "+FLAGS", r"(\Deleted)")
    m.expunge()
    m.rename("Work", "Projects")
    m.create("Work")
    m.logout()
    node.admin("DELETE", "/v1/users/" + b, expect=200)
    node.add_user(b, PW)
    deliver(node, b, 3, "b")
    deliver(node, a, 5, "a2")


def started_with_users(node, *users):
    node.init()
    node.start()
    node.wait_leader()
    fast_passwords(node)
    for user in users:
        node.add_user(user, PW)


def test_index_survives_a_killed_process_and_is_rebuilt_after_a_machine_stop():
    n = harness.Node(extra=harness.SMALL_SNAPSHOTS)
    try:
        a, b = "ann@power.test", "bob@power.test"
        started_with_users(n, a, b)
        make_history(n, a, b)
        wait_log(n, "event=snapshot-taken")
        before_view, before_dump = view(n, [a, b]), n.dump()
        before_files = mail_files(n)
        assert len([f for f in before_files if "/cur/" in f and not f.endswith("/")]) == 38

        # The process dies: the page cache keeps the index, used as it is.
        n.kill()
        marker = os.path.join(n.data_dir, "index", "open-boot")
        assert os.path.exists(marker)
        n.start(wait=False)
        n.wait_healthy(60)
        assert "event=index-untrusted" not in n.log()
        assert n.dump() == before_dump

        # The machine stops: another boot id, and an index that is garbage.
        n.kill()
        with open(marker, "w") as f:
            f.write("00000000-0000-0000-0000-000000000000\n")
        data = os.path.join(n.data_dir, "index", "data.mdb")
        size = os.path.getsize(data)
        with open(data, "r+b") as f:
            f.write(os.urandom(min(size, 1 << 20)))
        n.start(wait=False)
        n.wait_healthy(60)
        wait_log(n, "event=index-rebuilt")
        log = n.log()
        assert "event=index-untrusted" in log
        assert "event=snapshot-installed" in log.split("event=index-untrusted", 1)[1]
        assert os.path.isdir(os.path.join(n.data_dir, "index.untrusted"))
        assert not os.path.exists(os.path.join(n.data_dir, "index", "rebuilding"))
        assert n.dump() == before_dump
        assert view(n, [a, b]) == before_view
        assert mail_files(n) == before_files

        # It goes on as before, and a clean stop leaves no mark.
        deliver(n, a, 1, "after")
        m = imap(n, a)
        typ, data = m.select("INBOX")
        assert int(data[0]) == 31
        m.logout()
        n.stop()
        assert not os.path.exists(marker)
        n.start(wait=False)
        n.wait_healthy(60)
        assert n.log().count("event=index-untrusted") == 1
        n.stop()
    finally:
        n.cleanup()


def test_rebuild_cut_short_goes_on_at_the_next_start():
    """index/rebuilding left by a rebuild that did not finish (the process
    died during it): the next start goes on rebuilding, reconciles the
    maildir tree with the index, and only then drops the mark."""
    n = harness.Node()
    try:
        a = "cut@power.test"
        started_with_users(n, a)
        deliver(n, a, 5, "cut")
        before_view, before_files = view(n, [a]), mail_files(n)
        n.kill()
        mark = os.path.join(n.data_dir, "index", "rebuilding")
        with open(mark, "w"):
            pass
        # What the unfinished rebuild had not done yet: the tree lacks a
        # message file and holds a stray one.
        cur = os.path.join(n.data_dir, "mail", "power.test", "cut", "cur")
        victim = sorted(os.listdir(cur))[0]
        os.unlink(os.path.join(cur, victim))
        stray = os.path.join(cur, "1.M1U999.mailnode,S=1:2,")
        with open(stray, "w") as f:
            f.write("x")
        n.start(wait=False)
        n.wait_healthy(60)
        wait_log(n, "event=index-rebuilt")
        assert "event=index-untrusted" not in n.log()
        assert not os.path.exists(mark)
        assert mail_files(n) == before_files
        assert view(n, [a]) == before_view
        n.stop()
    finally:
        n.cleanup()


def lose_newest_bodies(node, count):
    """What a machine stop takes with the page cache: the files of the
    newest bodies (blob, staged copy, and every maildir link to them)."""
    blobs = os.path.join(node.data_dir, "blobs")
    files = []
    for d in os.listdir(blobs):
        if len(d) == 2:
            for f in os.listdir(os.path.join(blobs, d)):
                files.append(os.path.join(blobs, d, f))
    files.sort(key=lambda p: os.stat(p).st_mtime_ns)
    victims = files[-count:]
    inodes = {os.stat(p).st_ino for p in victims}
    for d, _, names in os.walk(os.path.join(node.data_dir, "mail")):
        for f in names:
            p = os.path.join(d, f)
            if os.stat(p).st_ino in inodes:
                os.unlink(p)
    for p in victims:
        staged = os.path.join(blobs, "staged", os.path.basename(p))
        if os.path.exists(staged):
            os.unlink(staged)
        os.unlink(p)
    return len(victims)


def test_bodies_a_machine_stop_lost_come_back_from_the_journal():
    """A body counts as stored once it is in the body journal (one small
    flush), before its own files reach the disk. The machine stops and the
    files of the newest bodies are gone: the node writes them back from the
    journal before the index is rebuilt, and every message reads as before,
    in every maildir."""
    n = harness.Node(extra=harness.SMALL_SNAPSHOTS)
    try:
        a, b = "journal@power.test", "copy@power.test"
        started_with_users(n, a, b)
        deliver(n, a, 40, "j")
        m = imap(n, a)
        m.select("INBOX")
        m.uid("COPY", "35:40", "INBOX")  # a second maildir link to a body
        m.logout()
        c = smtplib.LMTP("127.0.0.1", n.ports["lmtp"], timeout=30)
        c.sendmail("a@example.org", [a, b], "Subject: both\r\n\r\nfor two\r\n")
        c.quit()
        wait_log(n, "event=snapshot-taken")
        before_view, before_files = view(n, [a, b]), mail_files(n)

        n.kill()
        with open(os.path.join(n.data_dir, "index", "open-boot"), "w") as f:
            f.write("00000000-0000-0000-0000-000000000000\n")
        lost = lose_newest_bodies(n, 8)
        assert lost == 8
        assert mail_files(n) != before_files
        n.start(wait=False)
        n.wait_healthy(60)
        wait_log(n, "event=index-rebuilt")
        log = n.log()
        assert "event=journal-recovered bodies_restored=8" in log, log[-3000:]
        assert view(n, [a, b]) == before_view
        assert mail_files(n) == before_files
        n.stop()
    finally:
        n.cleanup()
