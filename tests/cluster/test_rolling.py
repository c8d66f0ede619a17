"""Rolling restart of all three nodes (SIGTERM, restart, wait healthy, next)
under LMTP load and with IMAP clients working throughout. Nothing that
was acknowledged is lost, and no IMAP client needs more than one reconnect
to carry on: it is moved to another node by its own retry, as a load
balancer would, and its next attempt there succeeds."""
import imaplib
import threading
import time

from cluster.test_fault import USERS, Load, check_node


class ImapClient(threading.Thread):
    def __init__(self, cluster, idx, user, password):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.idx = idx
        self.user = user
        self.password = password
        self.stop = threading.Event()
        self.ops = 0
        self.reconnects = 0
        self.worst_streak = 0  # consecutive failed attempts
        self.errors = []

    def connect(self):
        node = self.cluster.nodes[self.idx % len(self.cluster.nodes)]
        c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=20)
        c.login(self.user, self.password)
        typ, _ = c.select("INBOX")
        assert typ == "OK"
        return c

    def run(self):
        conn = None
        streak = 0
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = self.connect()
                typ, data = conn.noop()
                assert typ == "OK", data
                typ, data = conn.fetch("1:*", "(FLAGS)")
                assert typ == "OK", data
                typ, data = conn.store("1", "+FLAGS", "(\\Flagged)")
                assert typ == "OK", data
                self.ops += 1
                streak = 0
                time.sleep(0.05)
            except (imaplib.IMAP4.error, imaplib.IMAP4.abort, OSError,
                    AssertionError) as e:
                streak += 1
                self.worst_streak = max(self.worst_streak, streak)
                self.errors.append("%s: %r" % (time.strftime("%H:%M:%S"), e))
                try:
                    if conn is not None:
                        conn.shutdown()
                except Exception:
                    pass
                conn = None
                self.reconnects += 1
                self.idx += 1  # the next node, as a load balancer would
                time.sleep(0.2)
        if conn is not None:
            try:
                conn.logout()
            except Exception:
                pass


def test_rolling_restart_under_load(cluster):
    lead = cluster.leader()
    for u in USERS:
        lead.add_user(u, "secret-%s" % u)
    load = Load(cluster, threads=4)
    load.start()
    time.sleep(1)
    clients = [ImapClient(cluster, i, USERS[i], "secret-%s" % USERS[i]) for i in range(3)]
    for c in clients:
        c.start()
    time.sleep(2)
    for n in cluster.nodes:
        n.stop()  # SIGTERM: a leader hands over first; asserts a clean exit
        n.start()
        for m in cluster.nodes:
            m.wait_healthy(60)
        time.sleep(1.5)
    time.sleep(1)
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(30)
    load.finish()
    acked = list(load.acked)
    print("deliveries %d, failed attempts %d" % (len(acked), load.failed))
    for c in clients:
        print("imap client %s: %d rounds, %d reconnects, worst streak %d, %s" % (
            c.user, c.ops, c.reconnects, c.worst_streak, c.errors[:4]))
        assert c.ops > 10
        assert c.worst_streak <= 1, c.errors
    for n in cluster.nodes:
        n.wait_healthy(60)
    dumps = cluster.dumps_equal(timeout=60)
    assert len(set(dumps)) == 1
    for n in cluster.nodes:
        check_node(n, acked)
