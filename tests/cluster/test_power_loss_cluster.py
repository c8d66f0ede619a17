"""A follower whose machine stopped while its index was open rebuilds the
index from its raft log (and the leader's snapshot) and ends identical to
the others; the cluster takes writes meanwhile."""
import os
import smtplib

import harness


def deliver(node, rcpt, n, tag):
    c = smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=30)
    for i in range(n):
        c.sendmail("a@example.org", [rcpt], "Subject: %s %d\r\n\r\nbody %s %d\r\n" %
                   (tag, i, tag, i))
    c.quit()


def test_follower_rebuilds_its_index_after_a_machine_stop():
    c = harness.Cluster(3, extra=harness.SMALL_SNAPSHOTS)
    try:
        c.start()
        lead = c.leader()
        lead.add_user("u@pl.test", "pw")
        deliver(lead, "u@pl.test", 40, "before")
        victim = c.followers()[0]
        c.dumps_equal(timeout=60)
        victim.kill()
        with open(os.path.join(victim.data_dir, "index", "open-boot"), "w") as f:
            f.write("00000000-0000-0000-0000-000000000000\n")
        data = os.path.join(victim.data_dir, "index", "data.mdb")
        with open(data, "r+b") as f:
            f.write(os.urandom(min(os.path.getsize(data), 1 << 20)))
        deliver(lead, "u@pl.test", 20, "while-down")
        victim.start(wait=False)
        victim.wait_healthy(60)
        log = victim.log()
        assert "event=index-untrusted" in log and "event=index-rebuilt" in log
        deliver(lead, "u@pl.test", 5, "after")
        dumps = c.dumps_equal(timeout=60)
        assert len(set(dumps)) == 1
        mail = os.path.join(victim.data_dir, "mail", "pl.test", "u", "cur")
        assert len(os.listdir(mail)) == 65
        c.stop()
    finally:
        c.cleanup()
