"""Smaller IMAP extensions end to end: OBJECTID (RFC 8474: MAILBOXID in
CREATE, SELECT, STATUS and LIST-STATUS, stable across RENAME; EMAILID kept
by COPY and MOVE; THREADID from In-Reply-To/References, kept by COPY and
MOVE, with SEARCH THREADID), UNAUTHENTICATE (RFC 8437), REPLACE and
UID REPLACE (RFC 8508, one atomic step, seen by a second session), SAVEDATE
(RFC 8514), LITERAL- before authentication and LITERAL+ after (RFC 7888),
APPENDLIMIT (RFC 7889) in CAPABILITY and STATUS."""
import imaplib
import re
import time

import conftest
from imap_raw import Raw, code, fetches, items

OBJECTID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
T = 20


def new_user(node, messages=0):
    addr = conftest.unique_user(node, "misc")
    if messages:
        r = session(node, addr)
        for i in range(messages):
            r.literal_cmd("APPEND INBOX", "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        r.close()
    return addr


def session(node, addr):
    r = Raw(node)
    r.login(addr)
    return r


def mailboxid(r, name):
    st = r.ok("STATUS %s (MAILBOXID)" % name)
    return re.search(r"MAILBOXID \(([^)]*)\)", st[-1]).group(1)


def caps(r):
    return [l for l in r.ok("CAPABILITY") if l.startswith("* CAPABILITY")][0].split()[2:]


# --- OBJECTID ------------------------------------------------------------------

def test_mailboxid(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    untagged, tagged = r.cmd("CREATE Projects")
    created = code(tagged, "MAILBOXID").strip("()")
    assert OBJECTID.match(created)
    assert mailboxid(r, "Projects") == created
    untagged = r.ok("SELECT Projects")
    assert any(code(l, "MAILBOXID") == "(%s)" % created for l in untagged), untagged
    # another session renames the mailbox: the id stays (RFC 8474 §4.2)
    other = session(inode, addr)
    other.ok("RENAME Projects Work.Projects")
    assert mailboxid(r, "Work.Projects") == created
    # different mailboxes, different ids; a new mailbox of an old name is new
    assert mailboxid(r, "INBOX") != created
    r.ok("UNSELECT")
    other.ok("DELETE Work.Projects")
    _, tagged = other.cmd("CREATE Projects")
    assert code(tagged, "MAILBOXID").strip("()") != created
    # RENAME INBOX: INBOX keeps its id, the new mailbox gets another one
    inbox = mailboxid(r, "INBOX")
    r.ok("RENAME INBOX Old")
    assert mailboxid(r, "INBOX") == inbox and mailboxid(r, "Old") != inbox
    r.close()
    other.close()


def test_emailid_threadid(inode):
    addr = new_user(inode, 2)
    r = session(inode, addr)
    r.ok("SELECT INBOX")
    f = fetches(r.ok("FETCH 1:2 (EMAILID THREADID)"))
    e1 = re.search(r"EMAILID \(([^)]*)\)", f[1]).group(1)
    e2 = re.search(r"EMAILID \(([^)]*)\)", f[2]).group(1)
    assert OBJECTID.match(e1) and e1 != e2
    # no Message-ID, no references: each message is a thread of its own
    t1 = re.search(r"THREADID \(([^)]*)\)", f[1]).group(1)
    t2 = re.search(r"THREADID \(([^)]*)\)", f[2]).group(1)
    assert OBJECTID.match(t1) and OBJECTID.match(t2) and t1 != t2
    # COPY and MOVE (by another session) keep the EMAILID and the THREADID
    other = session(inode, addr)
    other.ok("SELECT INBOX")
    other.ok("COPY 1 Archive")
    other.ok("MOVE 2 Drafts")
    r.ok("NOOP")
    for box, want, tid in (("Archive", e1, t1), ("Drafts", e2, t2)):
        other.ok("EXAMINE " + box)
        f = fetches(other.ok("FETCH 1 (EMAILID THREADID)"))
        assert f[1] == "EMAILID (%s) THREADID (%s)" % (want, tid)
    r.close()
    other.close()

    # A reply (In-Reply-To and References) joins its parent's thread, an
    # unrelated message starts another; UID SEARCH THREADID finds the pair.
    c = imaplib.IMAP4("127.0.0.1", inode.ports["imap"], timeout=T)
    c.login(addr, "pw")
    assert c.create("Threads")[0] == "OK"
    parent = (b"From: ann@example.org\r\nSubject: plan\r\n"
              b"Message-ID: <plan-1@example.org>\r\n\r\nshall we?\r\n")
    reply = (b"From: bob@example.org\r\nSubject: Re: plan\r\n"
             b"Message-ID: <plan-2@example.org>\r\nIn-Reply-To: <plan-1@example.org>\r\n"
             b"References: <plan-1@example.org>\r\n\r\nyes\r\n")
    unrelated = (b"From: cat@example.org\r\nSubject: lunch\r\n"
                 b"Message-ID: <lunch@example.org>\r\n\r\nnoon\r\n")
    for m in (parent, reply, unrelated):
        assert c.append("Threads", None, None, m)[0] == "OK"
    assert c.select("Threads")[0] == "OK"
    typ, data = c.uid("FETCH", "1:*", "(THREADID)")
    assert typ == "OK"
    tids = {}
    for line in data:
        line = line if isinstance(line, bytes) else line[0]
        uid = re.search(rb"UID (\d+)", line).group(1)
        tids[int(uid)] = re.search(rb"THREADID \(([^)]*)\)", line).group(1).decode()
    assert sorted(tids) == [1, 2, 3]
    assert all(OBJECTID.match(t) for t in tids.values())
    assert tids[1] == tids[2] and tids[3] != tids[1]
    assert tids[1] not in (t1, t2)
    typ, data = c.uid("SEARCH", "THREADID", tids[1])
    assert typ == "OK" and data[0].split() == [b"1", b"2"]
    typ, data = c.uid("SEARCH", "THREADID", tids[3])
    assert typ == "OK" and data[0].split() == [b"3"]
    typ, data = c.search(None, "NOT", "THREADID", tids[1])
    assert typ == "OK" and data[0].split() == [b"3"]
    c.logout()


def test_search_objectid(inode):
    addr = new_user(inode, 3)
    r = session(inode, addr)
    assert "OBJECTID" in caps(r)
    r.ok("SELECT INBOX")
    f = fetches(r.ok("FETCH 1:3 (EMAILID)"))
    ids = {k: re.search(r"EMAILID \(([^)]*)\)", v).group(1) for k, v in f.items()}
    assert r.ok("SEARCH EMAILID %s" % ids[2]) == ["* SEARCH 2"]
    assert r.ok("UID SEARCH NOT EMAILID %s" % ids[2])[0].count(" ") == 3
    assert r.ok("SEARCH OR EMAILID %s EMAILID %s" % (ids[1], ids[3])) == ["* SEARCH 1 3"]
    assert r.ok("SEARCH EMAILID Enothere") == ["* SEARCH"]
    # THREADID: an id no thread has matches none
    assert r.ok("SEARCH THREADID T1") == ["* SEARCH"]
    st, _, t = r.status("SEARCH EMAILID a.b")
    assert st == "BAD", t
    # a copy keeps its EMAILID: found in the other mailbox too
    r.ok("COPY 2 Archive")
    r.ok("EXAMINE Archive")
    assert r.ok("SEARCH EMAILID %s" % ids[2]) == ["* SEARCH 1"]
    r.close()


# --- UNAUTHENTICATE ------------------------------------------------------------

def test_unauthenticate(inode):
    addr = new_user(inode, 2)
    addr2 = new_user(inode, 1)
    r = session(inode, addr)
    assert "UNAUTHENTICATE" in caps(r)
    r.ok("ENABLE CONDSTORE")
    r.ok("SELECT INBOX")
    r.ok("STORE 1 +FLAGS (\\Deleted)")
    untagged, tagged = r.cmd("UNAUTHENTICATE")
    assert tagged.split()[1] == "OK" and untagged == [], (untagged, tagged)
    # not authenticated: the selected mailbox was left without expunging
    other = session(inode, addr)
    assert "MESSAGES 2" in other.ok("STATUS INBOX (MESSAGES)")[0]
    assert r.status("SELECT INBOX")[0] == "BAD"
    assert r.status("FETCH 1 (FLAGS)")[0] == "BAD"
    assert r.status("UNAUTHENTICATE")[0] == "BAD"
    c = caps(r)
    assert "LITERAL-" in c and "UNAUTHENTICATE" not in c and "LITERAL+" not in c
    # another user logs in on the same connection; ENABLE state is gone
    r.login(addr2)
    r.ok("SELECT INBOX")
    f = fetches(r.ok("FETCH 1 (FLAGS)"))
    assert "MODSEQ" not in f[1]
    assert r.status("UNAUTHENTICATE extra")[0] == "BAD"
    r.close()
    other.close()


def test_unauthenticate_before_login(inode):
    r = Raw(inode)
    assert r.status("UNAUTHENTICATE")[0] == "BAD"
    r.close()


# --- REPLACE -------------------------------------------------------------------

def test_replace(inode):
    addr = new_user(inode, 3)
    r = session(inode, addr)
    assert "REPLACE" in caps(r)
    other = session(inode, addr)
    other.ok("SELECT INBOX")
    r.ok("SELECT INBOX")
    untagged, tagged = r.literal_cmd("REPLACE 2 INBOX (\\Seen \\Draft)",
                                     "Subject: draft v2\r\n\r\nnew text\r\n")
    assert tagged.split()[1] == "OK", (untagged, tagged)
    assert code(untagged[0], "APPENDUID") is not None, untagged
    uv, new_uid = map(int, code(untagged[0], "APPENDUID").split())
    assert new_uid == 4
    assert "* 2 EXPUNGE" in untagged and "* 3 EXISTS" in untagged
    # the other session sees both: one step
    untagged = other.ok("NOOP")
    assert "* 2 EXPUNGE" in untagged and "* 3 EXISTS" in untagged, untagged
    f = fetches(other.ok("UID FETCH 4 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert "\\Draft" in f[3] and "draft v2" in f[3]
    # UID REPLACE into another mailbox, with a date
    untagged, tagged = r.literal_cmd(
        'UID REPLACE 4 Drafts "01-Feb-2024 10:00:00 +0000"', "Subject: v3\r\n\r\nx\r\n",
        nonsync=False)
    assert tagged.split()[1] == "OK", (untagged, tagged)
    assert "* 3 EXPUNGE" in untagged
    other.ok("EXAMINE Drafts")
    f = fetches(other.ok("FETCH 1 (INTERNALDATE)"))
    assert "01-Feb-2024 10:00:00 +0000" in f[1]
    r.close()
    other.close()


def test_replace_errors(inode):
    addr = new_user(inode, 2)
    r = session(inode, addr)
    msg = "Subject: r\r\n\r\nr\r\n"
    # not selected: BAD, and a synchronizing literal gets no "+"
    _, tagged = r.literal_cmd("REPLACE 1 INBOX", msg, nonsync=False)
    assert tagged.split()[1] == "BAD", tagged
    r.ok("SELECT INBOX")
    # a number that is no message: BAD before the "+"
    _, tagged = r.literal_cmd("REPLACE 3 INBOX", msg, nonsync=False)
    assert tagged.split()[1] == "BAD", tagged
    _, tagged = r.literal_cmd("REPLACE 0 INBOX", msg, nonsync=False)
    assert tagged.split()[1] == "BAD", tagged
    # a UID that is not there: NO
    _, tagged = r.literal_cmd("UID REPLACE 77 INBOX", msg)
    assert tagged.split()[1] == "NO", tagged
    # no such target: TRYCREATE, and the old message stays
    _, tagged = r.literal_cmd("REPLACE 1 Nowhere", msg, nonsync=False)
    assert code(tagged, "TRYCREATE") is not None, tagged
    assert "MESSAGES 2" in r.ok("STATUS INBOX (MESSAGES)")[-1]
    # read-only: NO [READ-ONLY] before the "+"
    r.ok("EXAMINE INBOX")
    _, tagged = r.literal_cmd("REPLACE 1 INBOX", msg, nonsync=False)
    assert code(tagged, "READ-ONLY") is not None, tagged
    # the connection is still in step
    assert r.status("NOOP")[0] == "OK"
    r.close()


# --- SAVEDATE ------------------------------------------------------------------

def test_savedate(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    assert "SAVEDATE" in caps(r)
    r.literal_cmd('APPEND INBOX "01-Jan-2020 00:00:00 +0000"', "Subject: s\r\n\r\ns\r\n")
    r.ok("SELECT INBOX")
    f = items(fetches(r.ok("FETCH 1 (INTERNALDATE SAVEDATE)"))[1])
    assert f["INTERNALDATE"] == '"01-Jan-2020 00:00:00 +0000"'
    saved = time.mktime(time.strptime(f["SAVEDATE"].strip('"'), "%d-%b-%Y %H:%M:%S +0000"))
    assert abs(saved - time.mktime(time.gmtime())) < 120
    # a copy made later by another session has its own save date
    other = session(inode, addr)
    other.ok("SELECT INBOX")
    other.ok("COPY 1 Archive")
    other.ok("EXAMINE Archive")
    g = items(fetches(other.ok("FETCH 1 (INTERNALDATE SAVEDATE)"))[1])
    assert g["INTERNALDATE"] == f["INTERNALDATE"] and g["SAVEDATE"] >= f["SAVEDATE"]
    r.close()
    other.close()


# --- LITERAL-, LITERAL+, APPENDLIMIT -------------------------------------------

def test_literal_minus_before_login(inode):
    addr = new_user(inode)
    r = Raw(inode)
    c = caps(r)
    assert "LITERAL-" in c and "LITERAL+" not in c
    # a non-synchronizing literal of up to 4096 octets is fine
    r.send("a1 LOGIN {%d+}\r\n%s {2+}\r\npw\r\n" % (len(addr), addr))
    _, tagged = r.until("a1")
    assert tagged.startswith("a1 OK"), tagged
    r.cmd("LOGOUT")
    r.close()
    # above 4096: BAD [TOOBIG] (RFC 7888 §5), and the connection goes on
    r = Raw(inode)
    big = "x" * 5000
    r.send("a2 LOGIN {5000+}\r\n%s pw\r\n" % big)
    _, tagged = r.until("a2")
    assert tagged.startswith("a2 BAD") and "[TOOBIG]" in tagged, tagged
    assert r.status("NOOP")[0] == "OK"
    r.close()


def test_literal_plus_and_appendlimit(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    c = caps(r)
    assert "LITERAL+" in c and "LITERAL-" not in c
    limit = int([x for x in c if x.startswith("APPENDLIMIT=")][0].split("=")[1])
    st = r.ok("STATUS INBOX (APPENDLIMIT)")[0]
    assert st == '* STATUS "INBOX" (APPENDLIMIT %d)' % limit
    # a non-synchronizing literal well above 4096 octets after login
    body = "Subject: big\r\n\r\n" + ("y" * 76 + "\r\n") * 200
    _, tagged = r.literal_cmd("APPEND INBOX", body)
    assert " OK " in tagged, tagged
    # above the limit: NO [TOOBIG] before any "+"
    r.send("a9 APPEND INBOX {%d}\r\n" % (limit + 1))
    line = r.line()
    assert line.startswith("a9 NO") and "[TOOBIG]" in line, line
    r.close()
