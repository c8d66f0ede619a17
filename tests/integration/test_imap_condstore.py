"""CONDSTORE and QRESYNC (RFC 7162) end to end, each against a mailbox that
a second session changes: HIGHESTMODSEQ in SELECT/EXAMINE and STATUS, the
CONDSTORE select parameter, MODSEQ in FETCH and in the FETCH responses that
flag changes cause once CONDSTORE is enabled (by ENABLE or by the commands
that enable it), FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE with [MODIFIED],
ENABLE QRESYNC, SELECT (QRESYNC ...) reconnecting after flag changes and
expunges and receiving exactly those changes, UID FETCH (CHANGEDSINCE n
VANISHED), VANISHED instead of EXPUNGE, HIGHESTMODSEQ below an expunge
held back during FETCH, [CLOSED], and the BAD answers the RFC prescribes
for bad input."""
import re

import conftest
from imap_raw import Raw, code, fetches, items, uidset

MODSEQ_MAX = 2**63 - 1


def new_user(node, messages=0):
    """A user with `messages` messages in INBOX (UIDs 1..messages)."""
    addr = conftest.unique_user(node, "cond")
    if messages:
        r = session(node, addr)
        for i in range(messages):
            _, tagged = r.literal_cmd(
                "APPEND INBOX", "Subject: m%d\r\nMessage-ID: <m%d@t>\r\n\r\nbody %d\r\n" % (i, i, i))
            assert " OK " in tagged, tagged
        r.close()
    return addr


def session(node, addr):
    r = Raw(node)
    r.login(addr)
    return r


def select(r, args="INBOX", cmd="SELECT"):
    """SELECT; returns (untagged, tagged, uidvalidity, highestmodseq)."""
    untagged, tagged = r.cmd("%s %s" % (cmd, args))
    assert tagged.split(" ")[1] == "OK", (untagged, tagged)
    uv = hms = None
    for l in untagged:
        if code(l, "UIDVALIDITY") is not None:
            uv = int(code(l, "UIDVALIDITY"))
        if code(l, "HIGHESTMODSEQ") is not None:
            hms = int(code(l, "HIGHESTMODSEQ"))
    return untagged, tagged, uv, hms


def status_hms(r, mailbox="INBOX"):
    untagged = r.ok("STATUS %s (HIGHESTMODSEQ)" % mailbox)
    return int(re.search(r"HIGHESTMODSEQ (\d+)", untagged[0]).group(1))


def modseqs(r, uids="1:*"):
    """{uid: modseq} through UID FETCH (MODSEQ)."""
    out = {}
    for l in r.ok("UID FETCH %s (MODSEQ)" % uids):
        m = re.search(r"UID (\d+) MODSEQ \((\d+)\)|MODSEQ \((\d+)\) UID (\d+)", l)
        if m:
            uid = int(m.group(1) or m.group(4))
            out[uid] = int(m.group(2) or m.group(3))
    return out


def by_uid(lines):
    """{uid: {item: value}} of FETCH lines that carry UID."""
    out = {}
    for seq, text in fetches(lines).items():
        it = items(text)
        it["SEQ"] = seq
        out[int(it["UID"])] = it
    return out


# --- CONDSTORE -----------------------------------------------------------------

def test_capabilities(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    caps = r.ok("CAPABILITY")[0].split()
    assert "CONDSTORE" in caps and "QRESYNC" in caps
    r.close()


def test_highestmodseq_select_examine_status(inode):
    addr = new_user(inode, 3)
    r = session(inode, addr)
    # Every SELECT and EXAMINE reports HIGHESTMODSEQ (never NOMODSEQ).
    untagged, _, uv, hms = select(r, cmd="EXAMINE")
    assert hms is not None and hms >= 1
    assert not any("NOMODSEQ" in l for l in untagged)
    # STATUS gives the same value and makes the session CONDSTORE-aware.
    assert status_hms(r) == hms
    other = session(inode, addr)
    select(other)
    other.ok("STORE 2 +FLAGS (\\Flagged)")
    untagged = r.ok("STATUS INBOX (HIGHESTMODSEQ)")
    st = [l for l in untagged if l.startswith("* STATUS")]
    assert int(re.search(r"HIGHESTMODSEQ (\d+)", st[0]).group(1)) > hms
    # the change reaches the CONDSTORE-aware session with its MODSEQ
    f = fetches(untagged)
    assert list(f) == [2] and "MODSEQ (" in f[2] and "\\Flagged" in f[2], untagged
    # An empty mailbox has a HIGHESTMODSEQ too (a mod-sequence-value >= 1).
    r.ok("CREATE Empty")
    _, _, _, hms = select(r, "Empty")
    assert hms >= 1
    r.close()
    other.close()


def test_condstore_select_parameter(inode):
    addr = new_user(inode, 2)
    r = session(inode, addr)
    _, tagged, _, hms = select(r, "INBOX (CONDSTORE)")
    assert hms is not None
    # FETCH FLAGS now carries MODSEQ, without being asked.
    f = fetches(r.ok("FETCH 1 (FLAGS)"))
    assert "MODSEQ (" in f[1]
    # and so do the responses to STORE
    f = fetches(r.ok("STORE 1 +FLAGS (\\Seen)"))
    assert re.search(r"MODSEQ \(\d+\)", f[1]) and "\\Seen" in f[1]
    # EXAMINE (CONDSTORE) too; a parameter it does not know is BAD
    select(r, "INBOX (CONDSTORE)", cmd="EXAMINE")
    st, _, tagged = r.status("SELECT INBOX (FOO)")
    assert st == "BAD", tagged
    st, _, tagged = r.status("SELECT INBOX (CONDSTORE CONDSTORE)")
    assert st == "BAD", tagged
    r.close()


def test_fetch_modseq_enables_condstore(inode):
    addr = new_user(inode, 3)
    r = session(inode, addr)
    _, _, _, hms = select(r)
    # Before: a flag change by another session comes without MODSEQ.
    other = session(inode, addr)
    select(other)
    other.ok("STORE 1 +FLAGS (\\Answered)")
    f = fetches(r.ok("NOOP"))
    assert "MODSEQ" not in f[1]
    # FETCH MODSEQ is a CONDSTORE enabling command (RFC 7162 §3.1); enabled
    # with a mailbox selected, the reply says where the client stands.
    untagged = r.ok("FETCH 2 (MODSEQ)")
    assert re.search(r"^\* 2 FETCH \(MODSEQ \(\d+\)\)$", untagged[0]), untagged
    assert any(code(l, "HIGHESTMODSEQ") for l in untagged), untagged
    other.ok("STORE 3 +FLAGS (\\Draft)")
    f = fetches(r.ok("NOOP"))
    assert re.search(r"MODSEQ \((\d+)\)", f[3]), f
    ms = int(re.search(r"MODSEQ \((\d+)\)", f[3]).group(1))
    assert ms == status_hms(r)
    r.close()
    other.close()


def test_fetch_changedsince(inode):
    addr = new_user(inode, 6)
    r = session(inode, addr)
    _, _, _, hms = select(r)
    other = session(inode, addr)
    select(other)
    other.ok("STORE 2,5 +FLAGS (\\Seen)")
    other.ok("STORE 5 +FLAGS (\\Flagged)")
    # Only what changed after hms, with MODSEQ although not asked for.
    untagged = r.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % hms)
    got = by_uid([l for l in untagged if " FETCH " in l and "UID" in l])
    assert sorted(got) == [2, 5], untagged
    assert "\\Flagged" in got[5]["FLAGS"] and "MODSEQ" in got[5]
    # FETCH (by sequence number) with CHANGEDSINCE inside a range
    untagged = r.ok("FETCH 1:4 (UID) (CHANGEDSINCE %d)" % hms)
    assert sorted(fetches(untagged)) == [2]
    ms = modseqs(r)
    untagged = r.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % ms[2])
    assert sorted(by_uid(untagged)) == [5]
    # nothing changed since the highest: nothing
    assert fetches(r.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % max(ms.values()))) == {}
    r.close()
    other.close()


def test_fetch_bad_modifiers(inode):
    addr = new_user(inode, 1)
    r = session(inode, addr)
    select(r)
    for bad in ["FETCH 1 (FLAGS) (CHANGEDSINCE 0)",          # mod-sequence-value >= 1
                "FETCH 1 (FLAGS) (CHANGEDSINCE %d)" % (MODSEQ_MAX + 1),
                "FETCH 1 (FLAGS) (CHANGEDSINCE 99999999999999999999)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE)",
                "FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)",
                "FETCH 1 (FLAGS) (FOO 1)",
                # VANISHED without ENABLE QRESYNC (RFC 7162 §3.2.3)
                "UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)"]:
        st, _, tagged = r.status(bad)
        assert st == "BAD", (bad, tagged)
    # the largest mod-sequence is fine
    assert r.status("FETCH 1 (FLAGS) (CHANGEDSINCE %d)" % MODSEQ_MAX)[0] == "OK"
    r.close()


def test_store_unchangedsince(inode):
    addr = new_user(inode, 4)
    r = session(inode, addr)
    select(r, "INBOX (CONDSTORE)")
    ms = modseqs(r)
    base = max(ms.values())
    other = session(inode, addr)
    select(other)
    other.ok("STORE 2 +FLAGS ($Other)")
    # Message 2 changed after base: refused, reported as [MODIFIED 2]; the
    # others are stored and reported with FLAGS and their new MODSEQ.
    untagged, tagged = r.cmd("STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % base)
    assert tagged.split(" ")[1] == "OK" and code(tagged, "MODIFIED") == "2", tagged
    f = fetches(untagged)
    assert "\\Flagged" in f[1] and "\\Flagged" in f[3]
    assert "\\Flagged" not in f.get(2, "")
    new = modseqs(r)
    assert new[1] > base and new[1] == new[3] and new[2] < new[1]
    # UID STORE: the MODIFIED set holds UIDs; .SILENT still reports MODSEQ.
    other.ok("STORE 2 -FLAGS ($Other)")
    untagged, tagged = r.cmd("UID STORE 1:4 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Seen)"
                             % new[3])
    assert code(tagged, "MODIFIED") == "2", tagged
    # the other session's change of message 2 comes as any such change
    # does (FLAGS, UID, MODSEQ); the stored ones as MODSEQ only
    got = by_uid([l for l in untagged if "FLAGS" not in l])
    assert sorted(got) == [1, 3, 4], untagged
    assert list(by_uid([l for l in untagged if "FLAGS" in l])) == [2]
    for uid in (1, 3, 4):
        assert set(got[uid]) == {"UID", "MODSEQ", "SEQ"}, got[uid]
    # UNCHANGEDSINCE 0 fails for every message, and nothing changes.
    before = modseqs(r)
    untagged, tagged = r.cmd("STORE 1:4 (UNCHANGEDSINCE 0) +FLAGS (\\Deleted)")
    assert uidset(code(tagged, "MODIFIED")) == [1, 2, 3, 4], tagged
    assert modseqs(r) == before
    # A message changed by nobody since: stored.
    untagged, tagged = r.cmd("STORE 4 (UNCHANGEDSINCE %d) -FLAGS (\\Seen)" % before[4])
    assert code(tagged, "MODIFIED") is None and "\\Seen" not in fetches(untagged)[4]
    r.close()
    other.close()


def test_store_bad_modifiers(inode):
    addr = new_user(inode, 1)
    r = session(inode, addr)
    select(r)
    for bad in ["STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % (MODSEQ_MAX + 1),
                "STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
                "STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)",
                "STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS (\\Seen)",
                "STORE 1 (FOO 1) +FLAGS (\\Seen)",
                "STORE 1 () +FLAGS (\\Seen)"]:
        st, _, tagged = r.status(bad)
        assert st == "BAD", (bad, tagged)
    r.close()


def test_store_silent_condstore(inode):
    """.SILENT without UNCHANGEDSINCE: a CONDSTORE-aware client still gets
    the new MODSEQ of what changed (and only of that)."""
    addr = new_user(inode, 3)
    r = session(inode, addr)
    select(r, "INBOX (CONDSTORE)")
    r.ok("STORE 2 +FLAGS (\\Seen)")
    untagged = r.ok("STORE 1:3 +FLAGS.SILENT (\\Seen)")
    f = fetches(untagged)
    assert sorted(f) == [1, 3] and all(re.fullmatch(r"MODSEQ \(\d+\)", v) for v in f.values()), f
    # Without CONDSTORE, .SILENT is silent.
    plain = session(inode, addr)
    select(plain)
    assert fetches(plain.ok("STORE 1:3 -FLAGS.SILENT (\\Seen)")) == {}
    r.close()
    plain.close()


def test_expunge_held_back_lowers_highestmodseq(inode):
    """While FETCH runs no EXPUNGE may be sent; the MODSEQs the FETCH shows
    may be above that expunge's, so the reply gives a HIGHESTMODSEQ below
    it (RFC 7162 §3.2), and the next command reports the expunge."""
    addr = new_user(inode, 3)
    r = session(inode, addr)
    select(r, "INBOX (CONDSTORE)")
    other = session(inode, addr)
    select(other)
    other.ok("STORE 1 +FLAGS (\\Deleted)")
    other.ok("EXPUNGE")
    other.ok("STORE 2 +FLAGS (\\Flagged)")
    untagged, tagged = r.cmd("FETCH 1:* (FLAGS)")
    # message 1 is gone: NO [EXPUNGEISSUED] (RFC 5530), the others answered
    assert code(tagged, "EXPUNGEISSUED") is not None, tagged
    assert not any("EXPUNGE" in l for l in untagged), untagged
    hms = [int(code(l, "HIGHESTMODSEQ")) for l in untagged if code(l, "HIGHESTMODSEQ")]
    ms = [int(m) for m in re.findall(r"MODSEQ \((\d+)\)", "\n".join(untagged))]
    assert hms and ms and hms[-1] < max(ms), untagged
    exp_modseq = max(ms) - 1  # the expunge came just before the \Flagged change
    assert hms[-1] < exp_modseq + 1
    untagged = r.ok("NOOP")
    assert "* 1 EXPUNGE" in untagged, untagged
    r.close()
    other.close()


# --- QRESYNC -------------------------------------------------------------------

def test_enable(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    untagged = r.ok("ENABLE X-UNKNOWN CONDSTORE")
    assert untagged == ["* ENABLED CONDSTORE"]
    untagged = r.ok("ENABLE QRESYNC X-OTHER")
    assert untagged == ["* ENABLED QRESYNC"]
    assert r.ok("ENABLE X-UNKNOWN") == ["* ENABLED"]
    # ENABLE is for the authenticated state only (RFC 5161 §3.1)
    select(r)
    assert r.status("ENABLE QRESYNC")[0] == "BAD"
    r.close()


def test_qresync_without_enable_is_bad(inode):
    addr = new_user(inode, 2)
    r = session(inode, addr)
    _, _, uv, hms = select(r, cmd="EXAMINE")
    r.ok("UNSELECT")
    st, _, tagged = r.status("SELECT INBOX (QRESYNC (%d %d))" % (uv, hms))
    assert st == "BAD", tagged
    select(r)
    st, _, tagged = r.status("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert st == "BAD", tagged
    r.close()


def test_qresync_bad_parameters(inode):
    addr = new_user(inode, 2)
    r = session(inode, addr)
    r.ok("ENABLE QRESYNC")
    _, _, uv, hms = select(r)
    for bad in ["(QRESYNC (0 %d))" % hms,                        # UIDVALIDITY is nz-number
                "(QRESYNC (%d 0))" % uv,                         # mod-sequence-value >= 1
                "(QRESYNC (%d %d))" % (uv, MODSEQ_MAX + 1),
                "(QRESYNC (%d %d 1:*))" % (uv, hms),             # "*" not allowed
                "(QRESYNC (%d %d 1:5 (1:2 *)))" % (uv, hms),
                "(QRESYNC (%d %d 1:5 (1:2)))" % (uv, hms),
                "(QRESYNC (%d))" % uv,
                "(QRESYNC)",
                "(QRESYNC (%d %d x))" % (uv, hms),
                "(QRESYNC (%d %d) QRESYNC (%d %d))" % (uv, hms, uv, hms)]:
        st, _, tagged = r.status("SELECT INBOX " + bad)
        assert st == "BAD", (bad, tagged)
    # VANISHED: UID FETCH only, with CHANGEDSINCE
    select(r)
    assert r.status("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")[0] == "BAD"
    assert r.status("UID FETCH 1:* (FLAGS) (VANISHED)")[0] == "BAD"
    # seq-match-data is accepted (and not needed)
    _, tagged = r.cmd("SELECT INBOX (QRESYNC (%d %d 1:2 (1:2 1:2)))" % (uv, hms))
    assert " OK " in tagged, tagged
    r.close()


def test_qresync_reconnect(inode):
    """The client knew the mailbox at HIGHESTMODSEQ h; meanwhile another
    session changed flags, expunged messages and a message arrived.
    Reconnecting with SELECT (QRESYNC (uidvalidity h known-uids)) brings
    exactly those changes: the expunged UIDs in VANISHED (EARLIER), a FETCH
    (UID FLAGS MODSEQ) per changed or new message, and nothing else."""
    addr = new_user(inode, 10)
    a = session(inode, addr)
    a.ok("ENABLE QRESYNC")
    _, _, uv, h = select(a)
    known = "1:10"
    a.cmd("LOGOUT")
    a.close()

    b = session(inode, addr)
    select(b)
    b.ok("STORE 2 +FLAGS (\\Seen)")
    b.ok("STORE 7 +FLAGS (\\Flagged $Work)")
    b.ok("STORE 3,5,9 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")                       # UIDs 3, 5 and 9 go
    b.ok("UID STORE 4 +FLAGS (\\Deleted)")
    b.ok("UID STORE 4 -FLAGS (\\Deleted)")  # changed back: still a change
    b.literal_cmd("APPEND INBOX", "Subject: new\r\n\r\nnew\r\n")  # UID 11
    b.close()

    a = session(inode, addr)
    assert a.ok("ENABLE QRESYNC") == ["* ENABLED QRESYNC"]
    untagged, tagged, uv2, h2 = select(a, "INBOX (QRESYNC (%d %d %s))" % (uv, h, known))
    assert uv2 == uv and h2 > h
    vanished = [l for l in untagged if l.startswith("* VANISHED")]
    assert len(vanished) == 1 and vanished[0].startswith("* VANISHED (EARLIER) ")
    assert uidset(vanished[0].split()[-1]) == [3, 5, 9]
    # VANISHED (EARLIER) comes before any FETCH (RFC 7162 §3.2.6)
    first_fetch = min(i for i, l in enumerate(untagged) if " FETCH " in l)
    assert untagged.index(vanished[0]) < first_fetch
    # the new message (UID 11) is not among the known UIDs: EXISTS and
    # UIDNEXT tell about it, not a FETCH (§3.2.5.1: as UID FETCH known-uids)
    got = by_uid([l for l in untagged if " FETCH " in l])
    assert sorted(got) == [2, 4, 7], untagged
    assert got[2]["FLAGS"] == "(\\Seen)"
    assert set(got[7]["FLAGS"].strip("()").split()) == {"\\Flagged", "$Work"}
    assert got[4]["FLAGS"] == "()"
    for it in got.values():
        assert int(it["MODSEQ"].strip("()")) > h
    # sequence numbers are those of the mailbox now: 1,2,4,6,7,8,10,11 left
    assert got[2]["SEQ"] == 2 and got[4]["SEQ"] == 3 and got[7]["SEQ"] == 5
    # nothing else: no EXPUNGE, no other FETCH, no other VANISHED
    others = [l for l in untagged
              if not re.match(r"\* (FLAGS|OK|\d+ EXISTS|\d+ RECENT|VANISHED|\d+ FETCH)", l)]
    assert others == [], others
    assert "* 8 EXISTS" in untagged
    # without known UIDs: every UID up to UIDNEXT-1, so the new one too
    a.ok("UNSELECT")
    untagged, _, _, _ = select(a, "INBOX (QRESYNC (%d %d))" % (uv, h))
    got = by_uid([l for l in untagged if " FETCH " in l])
    assert sorted(got) == [2, 4, 7, 11] and got[11]["SEQ"] == 8, untagged
    assert [uidset(l.split()[-1]) for l in untagged if "VANISHED" in l] == [[3, 5, 9]]
    # the known UIDs restrict both reports
    a.ok("UNSELECT")
    untagged, _, _, _ = select(a, "INBOX (QRESYNC (%d %d 1:4))" % (uv, h))
    vanished = [l for l in untagged if l.startswith("* VANISHED")]
    assert [uidset(v.split()[-1]) for v in vanished] == [[3]]
    assert sorted(by_uid([l for l in untagged if " FETCH " in l])) == [2, 4]
    # already up to date: nothing
    a.ok("UNSELECT")
    untagged, _, _, _ = select(a, "INBOX (QRESYNC (%d %d))" % (uv, h2))
    assert not any(" FETCH " in l or "VANISHED" in l for l in untagged)
    # another UIDVALIDITY: the cache is void, nothing is reported
    a.ok("UNSELECT")
    untagged, _, _, _ = select(a, "INBOX (QRESYNC (%d %d))" % (uv + 1, h))
    assert not any(" FETCH " in l or "VANISHED" in l for l in untagged)
    # EXAMINE takes the parameter too
    a.ok("UNSELECT")
    untagged, tagged, _, _ = select(a, "INBOX (QRESYNC (%d %d))" % (uv, h), cmd="EXAMINE")
    assert "READ-ONLY" in tagged and any("VANISHED (EARLIER)" in l for l in untagged)
    a.close()


def test_vanished_instead_of_expunge(inode):
    addr = new_user(inode, 5)
    a = session(inode, addr)
    a.ok("ENABLE QRESYNC")
    select(a)
    b = session(inode, addr)
    select(b)
    b.ok("STORE 2,4 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    # another session's expunges: one VANISHED, no EXPUNGE; flag changes
    # carry UID and MODSEQ
    untagged = a.ok("NOOP")
    assert not any("EXPUNGE" in l for l in untagged), untagged
    assert [uidset(l.split()[-1]) for l in untagged if l.startswith("* VANISHED ")] == [[2, 4]]
    # this session's expunge: VANISHED and HIGHESTMODSEQ in the tagged OK
    a.ok("STORE 1 +FLAGS (\\Deleted)")
    untagged, tagged = a.cmd("EXPUNGE")
    assert untagged == ["* VANISHED 1"], untagged
    assert int(code(tagged, "HIGHESTMODSEQ")) == status_hms(b)
    # UID EXPUNGE and MOVE too
    a.ok("STORE 1 +FLAGS (\\Deleted)")  # seq 1 is UID 3 now
    untagged, tagged = a.cmd("UID EXPUNGE 3")
    assert untagged == ["* VANISHED 3"] and code(tagged, "HIGHESTMODSEQ"), (untagged, tagged)
    untagged, tagged = a.cmd("UID MOVE 5 Archive")
    assert "* VANISHED 5" in untagged and code(tagged, "HIGHESTMODSEQ"), (untagged, tagged)
    # unsolicited FETCH carries UID (RFC 7162 §3.2.4)
    a.literal_cmd("APPEND INBOX", "Subject: x\r\n\r\nx\r\n")
    a.ok("NOOP")
    b.ok("NOOP")
    b.ok("STORE 1 +FLAGS (\\Answered)")
    f = fetches(a.ok("NOOP"))
    assert list(f) == [1] and "UID " in f[1] and "MODSEQ (" in f[1], f
    a.close()
    b.close()


def test_uid_fetch_vanished(inode):
    addr = new_user(inode, 8)
    a = session(inode, addr)
    a.ok("ENABLE QRESYNC")
    _, _, _, h = select(a)
    b = session(inode, addr)
    select(b)
    b.ok("STORE 1,8 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    b.ok("UID STORE 3 +FLAGS (\\Seen)")
    a.ok("NOOP")  # the session learns of the expunges
    untagged = a.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
    assert untagged[0].startswith("* VANISHED (EARLIER) "), untagged
    # "*" covers the expunged highest UID too
    assert uidset(untagged[0].split()[-1]) == [1, 8]
    assert sorted(by_uid(untagged[1:])) == [3]
    # a set that holds none of them: no VANISHED
    untagged = a.ok("UID FETCH 2:7 (FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
    assert not any("VANISHED" in l for l in untagged)
    a.close()
    b.close()


def test_closed_when_reselecting(inode):
    addr = new_user(inode, 1)
    r = session(inode, addr)
    untagged, _, _, _ = select(r)
    assert not any("[CLOSED]" in l for l in untagged)
    untagged, _, _, _ = select(r, cmd="EXAMINE")
    assert untagged[0].startswith("* OK [CLOSED]"), untagged
    # a SELECT that fails leaves the state unselected, after [CLOSED]
    untagged, tagged = r.cmd("SELECT Nope")
    assert tagged.split(" ")[1] == "NO" and "[CLOSED]" in untagged[0]
    assert r.status("FETCH 1 (FLAGS)")[0] == "BAD"
    # UNSELECT and CLOSE send no [CLOSED]
    select(r)
    assert r.ok("UNSELECT") == []
    r.close()
