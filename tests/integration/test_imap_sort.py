"""SORT and THREAD end to end (RFC 5256, SORT=DISPLAY RFC 5957, ESORT and
CONTEXT=SORT's PARTIAL RFC 5267): a generated conversation delivered by LMTP
sorted by every key (REVERSE, several keys, ties by sequence number, UID SORT
after an expunge), threaded by ORDEREDSUBJECT and REFERENCES (a reply whose
References were lost joins by subject, a missing parent, In-Reply-To alone);
the MIME corpus sorted by every key (a permutation, sizes and arrival in
order); a message too complex for a cached tree sorted and threaded from its
header; SORT combined with search keys that read bodies; ESORT return
options; and bad input: unknown keys and algorithms (BAD), an unknown charset
(NO [BADCHARSET]), missing arguments, no mailbox selected."""
import glob
import imaplib
import os
import re
import smtplib
import time

import pytest

import conftest

T = 60
MIME = os.path.join(os.path.dirname(__file__), "..", "data", "mime")


@pytest.fixture(scope="module")
def snode():
    yield from conftest.running_node()


def new_user(node):
    addr = conftest.unique_user(node, "sort")
    return addr


def login(node, addr):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=T)
    c.login(addr, "pw")
    return c


def deliver(node, rcpt, msgs):
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        for m in msgs:
            l.sendmail("sender@example.org", [rcpt], m)


def raw(c, text):
    """Send a command as it is; (tagged line, untagged lines) as str."""
    tag = c._new_tag().decode()
    c.send(("%s %s\r\n" % (tag, text)).encode())
    lines = []
    while True:
        l = c.readline().decode("utf-8", "replace").rstrip("\r\n")
        if l.startswith(tag + " "):
            return l[len(tag) + 1:], lines
        lines.append(l)


def nums(data):
    return [int(x) for x in data[0].split()] if data and data[0] else []


# --- the conversation -----------------------------------------------------

def message(frm=None, to=None, cc=None, subject=None, date=None, mid=None, refs=None,
            irt=None, body="hello\r\n"):
    h = []
    for name, v in (("From", frm), ("To", to), ("Cc", cc), ("Subject", subject),
                    ("Date", date), ("Message-ID", mid), ("References", refs),
                    ("In-Reply-To", irt)):
        if v is not None:
            h.append("%s: %s" % (name, v))
    return ("\r\n".join(h) + "\r\n\r\n" + body).encode()


CONV = [
    # 1
    message("Carol <carol@c.test>", "dave@d.test", "zed@z.test", "Project kickoff",
            "Mon, 02 Mar 2026 09:00:00 +0000", "<k1@conv>"),
    # 2
    message("alice@a.test", "Bob <bob@b.test>", None, "Re: Project kickoff",
            "Mon, 02 Mar 2026 10:30:00 +0100", "<k2@conv>", "<k1@conv>", "<k1@conv>"),
    # 3
    message("=?UTF-8?Q?=C3=89mile?= <emile@e.test>", "carol@c.test", None, "Lunch?",
            "Sun, 01 Mar 2026 12:00:00 -0500", "<l1@conv>"),
    # 4
    message("bob@b.test", "alice@a.test", "amy@a.test", "Re: Re: project kickoff",
            "Mon, 02 Mar 2026 11:00:00 +0000", "<k3@conv>", "<k1@conv> <k2@conv>"),
    # 5: a forward that lost its References: joins 3 by subject
    message("Zed <zed@z.test>", '"Adams, Ann" <ann@a.test>', None, "[team] Fwd: Lunch?",
            "Tue, 03 Mar 2026 08:00:00 +0000", "<l2@conv>"),
    # 6: no To, a Date that cannot be parsed, a missing first reference
    message("dave@d.test", None, None, "Status (fwd)", "sometime soon", "<s1@conv>",
            "<missing@conv> <k3@conv>"),
    # 7: no Message-ID, no subject, In-Reply-To only
    message("alice@a.test", None, None, "", "Mon, 02 Mar 2026 09:15:00 +0000", None, None,
            "<l1@conv>"),
]

EXPECT = {
    "(DATE)": [3, 1, 7, 2, 4, 5, 6],
    "(REVERSE DATE)": [6, 5, 4, 2, 7, 1, 3],
    "(SUBJECT)": [7, 3, 5, 1, 2, 4, 6],
    "(SUBJECT DATE)": [7, 3, 5, 1, 2, 4, 6],
    "(SUBJECT REVERSE DATE)": [7, 5, 3, 4, 2, 1, 6],
    "(REVERSE SUBJECT)": [6, 1, 2, 4, 3, 5, 7],
    "(FROM)": [2, 7, 4, 1, 6, 3, 5],
    "(REVERSE FROM)": [5, 3, 6, 1, 4, 2, 7],
    "(DISPLAYFROM)": [2, 7, 4, 1, 6, 5, 3],
    "(TO)": [6, 7, 4, 5, 2, 3, 1],
    "(DISPLAYTO)": [6, 7, 5, 4, 2, 3, 1],
    "(CC)": [2, 3, 5, 6, 7, 4, 1],
    "(REVERSE CC DATE)": [1, 4, 3, 7, 2, 5, 6],
    "(FROM SUBJECT)": [7, 2, 4, 1, 6, 3, 5],
}


@pytest.fixture(scope="module")
def conv(snode):
    """A user with a filler message expunged, then the conversation: UID =
    sequence number + 1."""
    addr = new_user(snode)
    deliver(snode, addr, [message("x@x.test", subject="filler")])
    deliver(snode, addr, CONV)
    c = login(snode, addr)
    c.select("INBOX")
    c.store("1", "+FLAGS", "\\Deleted")
    c.expunge()
    c.logout()
    return addr


def test_sort_every_key(snode, conv):
    c = login(snode, conv)
    c.select("INBOX")
    for crit, want in EXPECT.items():
        typ, data = c.sort(crit, "UTF-8", "ALL")
        assert typ == "OK", crit
        assert nums(data) == want, crit
        typ, data = c.uid("SORT", crit, "UTF-8", "ALL")
        assert typ == "OK", crit
        assert nums(data) == [x + 1 for x in want], crit
    # ARRIVAL and SIZE against what FETCH says (ties by sequence number)
    typ, data = c.fetch("1:*", "(INTERNALDATE RFC822.SIZE)")
    info = {}
    for line in data:
        m = re.match(rb'(\d+) \(INTERNALDATE "([^"]+)" RFC822\.SIZE (\d+)\)', line)
        t = time.mktime(imaplib.Internaldate2tuple(b'INTERNALDATE "' + m.group(2) + b'"'))
        info[int(m.group(1))] = (t, int(m.group(3)))
    typ, data = c.sort("(ARRIVAL)", "UTF-8", "ALL")
    assert nums(data) == sorted(info, key=lambda s: (info[s][0], s))
    typ, data = c.sort("(SIZE)", "UTF-8", "ALL")
    assert nums(data) == sorted(info, key=lambda s: (info[s][1], s))
    typ, data = c.sort("(REVERSE SIZE)", "US-ASCII", "ALL")
    assert nums(data) == sorted(info, key=lambda s: (-info[s][1], s))
    c.logout()


def test_sort_with_search(snode, conv):
    c = login(snode, conv)
    c.select("INBOX")
    # record keys, header keys and body keys (the pool) before sorting
    typ, data = c.sort("(DATE)", "UTF-8", "FROM", "alice")
    assert nums(data) == [7, 2]
    typ, data = c.sort("(REVERSE DATE)", "UTF-8", "TEXT", "hello", "NOT", "SUBJECT", "lunch")
    assert nums(data) == [6, 4, 2, 7, 1]
    typ, data = c.sort("(SUBJECT)", "UTF-8", "2:4")
    assert nums(data) == [3, 2, 4]
    typ, data = c.sort("(SUBJECT)", "UTF-8", "SUBJECT", "nothing-like-this")
    assert typ == "OK" and nums(data) == []
    c.logout()


def test_thread(snode, conv):
    c = login(snode, conv)
    c.select("INBOX")
    typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK"
    assert data[0] == b"(3 (7)(5))(1 2 4 6)"
    typ, data = c.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
    assert data[0] == b"(3 5)(1 (2)(4))(7)(6)"
    typ, data = c.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
    assert data[0] == b"(4 (8)(6))(2 3 5 7)"
    # a subset: 2's parent is not among the results
    typ, data = c.thread("REFERENCES", "US-ASCII", "2:4")
    assert data[0] == b"(3)(2 4)"
    typ, data = c.thread("REFERENCES", "UTF-8", "SUBJECT", "nothing-like-this")
    assert typ == "OK" and data[0] in (None, b"")
    c.logout()


def test_esort(snode, conv):
    c = login(snode, conv)
    c.select("INBOX")
    st, lines = raw(c, "SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL")
    assert st.startswith("OK")
    tag = lines[0].split('"')[1]
    assert lines == ['* ESEARCH (TAG "%s") MIN 3 MAX 6 ALL 3,1,7,2,4:6 COUNT 7' % tag]
    st, lines = raw(c, "UID SORT RETURN () (REVERSE DATE) UTF-8 ALL")
    assert re.match(r'\* ESEARCH \(TAG "[^"]+"\) UID ALL 7,6,5,3,8,2,4$', lines[0])
    st, lines = raw(c, "SORT RETURN (PARTIAL 2:4) (SUBJECT) UTF-8 ALL")
    assert re.match(r'\* ESEARCH \(TAG "[^"]+"\) PARTIAL \(2:4 3,5,1\)$', lines[0])
    st, lines = raw(c, "SORT RETURN (PARTIAL 7:9 COUNT) (SUBJECT) UTF-8 ALL")
    assert re.match(r'\* ESEARCH \(TAG "[^"]+"\) COUNT 7 PARTIAL \(7:9 6\)$', lines[0])
    st, lines = raw(c, "SORT RETURN (PARTIAL 8:9) (SUBJECT) UTF-8 ALL")
    assert re.match(r'\* ESEARCH \(TAG "[^"]+"\) PARTIAL \(8:9 NIL\)$', lines[0])
    st, lines = raw(c, "SORT RETURN (COUNT) (SUBJECT) UTF-8 SUBJECT nothing-like-this")
    assert re.match(r'\* ESEARCH \(TAG "[^"]+"\) COUNT 0$', lines[0])
    # SAVE with SORT: "$" is the set, MIN the first in sort order
    st, lines = raw(c, "SORT RETURN (SAVE MIN) (REVERSE DATE) UTF-8 ALL")
    assert st.startswith("OK") and len(lines) == 1 and "MIN 6" in lines[0]
    typ, data = c.search(None, "$")
    assert nums(data) == [6]
    c.logout()


def test_corpus(snode):
    addr = new_user(snode)
    files = sorted(glob.glob(os.path.join(MIME, "*.eml")))
    deliver(snode, addr, [open(f, "rb").read() for f in files])
    c = login(snode, addr)
    typ, data = c.select("INBOX")
    n = int(data[0])
    assert n == len(files)
    for crit in ("(ARRIVAL)", "(CC)", "(DATE)", "(FROM)", "(SIZE)", "(SUBJECT)", "(TO)",
                 "(DISPLAYFROM)", "(DISPLAYTO)", "(REVERSE SUBJECT REVERSE DATE)"):
        typ, data = c.sort(crit, "UTF-8", "ALL")
        assert typ == "OK", crit
        assert sorted(nums(data)) == list(range(1, n + 1)), crit
    typ, sizes = c.fetch("1:*", "RFC822.SIZE")
    size = {int(l.split()[0]): int(l.split()[-1].rstrip(b")")) for l in sizes}
    typ, data = c.sort("(SIZE)", "UTF-8", "ALL")
    assert nums(data) == sorted(size, key=lambda s: (size[s], s))
    for alg in ("REFERENCES", "ORDEREDSUBJECT"):
        typ, data = c.thread(alg, "UTF-8", "ALL")
        assert typ == "OK"
        got = [int(x) for x in re.findall(rb"\d+", data[0])]
        assert sorted(got) == list(range(1, n + 1))
    c.logout()


def big_tree_message(mid, refs, subject):
    """A message whose MIME tree is over the cached tree's limit (1 MiB): no
    tree is cached, and SORT/THREAD read its header from the file."""
    parts = []
    desc = "d" * 600
    for i in range(1850):
        parts.append("--b\r\nContent-Description: %s%d\r\n\r\nx\r\n" % (desc, i))
    body = "".join(parts) + "--b--\r\n"
    return ("From: Big <big@b.test>\r\nSubject: %s\r\nMessage-ID: %s\r\nReferences: %s\r\n"
            "Date: Mon, 02 Mar 2026 12:00:00 +0000\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n%s" % (subject, mid, refs, body)
            ).encode()


def test_uncached_tree(snode):
    addr = new_user(snode)
    deliver(snode, addr, [
        message("a@a.test", subject="Topic", date="Mon, 02 Mar 2026 09:00:00 +0000",
                mid="<t1@big>"),
        big_tree_message("<t2@big>", "<t1@big>", "Re: Topic"),
        message("c@c.test", subject="Re: Topic", date="Mon, 02 Mar 2026 13:00:00 +0000",
                mid="<t3@big>", refs="<t1@big> <t2@big>"),
    ])
    c = login(snode, addr)
    c.select("INBOX")
    typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
    assert data[0] == b"(1 2 3)"
    typ, data = c.sort("(REVERSE DATE)", "UTF-8", "ALL")
    assert nums(data) == [3, 2, 1]
    typ, data = c.sort("(DISPLAYFROM)", "UTF-8", "ALL")
    assert nums(data) == [1, 2, 3]  # A@A.TEST, BIG, C@C.TEST
    typ, data = c.fetch("2", "(PREVIEW)")
    assert typ == "OK" and b"PREVIEW" in data[0]
    c.logout()
    # the big one's header came from its file: that path was taken
    assert "event=sort-header-reads user=%s count=1" % addr in snode.log()


def test_bad_input(snode, conv):
    c = login(snode, conv)
    st, lines = raw(c, "SORT (DATE) UTF-8 ALL")
    assert st.startswith("BAD")  # no mailbox selected
    c.select("INBOX")
    for cmd in ("SORT (DATUM) UTF-8 ALL", "SORT () UTF-8 ALL", "SORT DATE UTF-8 ALL",
                "SORT (REVERSE) UTF-8 ALL", "SORT (REVERSE REVERSE DATE) UTF-8 ALL",
                "SORT (DATE) UTF-8", "SORT (DATE)", "SORT", "SORT (DATE) UTF-8 FROB",
                "SORT RETURN (FOO) (DATE) UTF-8 ALL", "SORT RETURN (ALL PARTIAL 1:5) (DATE) UTF-8 ALL",
                "SORT RETURN (PARTIAL 0:5) (DATE) UTF-8 ALL", "THREAD FROB UTF-8 ALL",
                "THREAD UTF-8 ALL", "THREAD", "THREAD REFERENCES UTF-8", "THREAD REFERENCES",
                "UID THREAD ORDEREDSUBJECT UTF-8 NOT"):
        st, lines = raw(c, cmd)
        assert st.startswith("BAD"), cmd
    for cmd in ("SORT (DATE) KOI8-R ALL", "THREAD REFERENCES ISO-8859-1 ALL",
                "UID SORT (SUBJECT) x-unknown ALL"):
        st, lines = raw(c, cmd)
        assert st.startswith("NO [BADCHARSET (UTF-8 US-ASCII)]"), cmd
    # the session goes on
    typ, data = c.sort("(DATE)", "UTF-8", "ALL")
    assert nums(data) == EXPECT["(DATE)"]
    c.logout()


def test_capabilities(snode, conv):
    c = login(snode, conv)
    for cap in ("SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "ESORT",
                "CONTEXT=SORT"):
        assert cap in c.capabilities
    c.logout()
