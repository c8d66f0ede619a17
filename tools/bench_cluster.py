#!/usr/bin/python3
"""LMTP delivery rate into a single node and into a three-node cluster on
loopback, with the same load generator (tools/lmtp_bench.c).

    tools/bench_cluster.py [--build DIR] [--dir DATA] [--node-dirs A,B,C]
                           [--rounds R] [-n MESSAGES] [-c CONNECTIONS] [-s SIZE]

Starts the nodes from DIR/mailnode (a release build: `make build`), creates
50 users, runs DIR/lmtp_bench against the leader, prints both rates and
their ratio. With --rounds R the two alternate R times (each round on
fresh data) and the medians are compared: on a shared machine the rate
moves with whatever else runs. Data goes to a temporary directory under DATA (default
/var/tmp); give a BTRFS mount to measure on the file system mailnode is
deployed on (tools/btrfs_scratch.sh makes one from a loop image).
--node-dirs gives each cluster node its own parent directory (one file
system each, as on real machines; the single node uses the first).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))


def setup(nodes_or_cluster, first):
    for key, value in (("password.argon2_memory_kib", "1024"),
                       ("password.argon2_passes", "1")):
        first.set_config(key, value)
    first.admin("POST", "/v1/domains", {"name": "bench.test"})
    for i in range(50):
        first.admin("POST", "/v1/users", {"address": "user%d@bench.test" % i,
                                          "password": "pw"}, expect=200)


def run_bench(build, port, args):
    out = subprocess.run([os.path.join(build, "lmtp_bench"), "-p", str(port),
                          "-c", str(args.c), "-n", str(args.n), "-s", str(args.s),
                          "-u", "50", "-d", "bench.test"],
                         capture_output=True, text=True, timeout=1200)
    print(out.stdout.strip())
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
    for tok in out.stdout.split():
        if tok.startswith("rate="):
            return float(tok[5:])
    return 0.0


def bench_single(args, harness):
    base = tempfile.mkdtemp(prefix="mailnode-node-", dir=args.node_dirs[0]) \
        if args.node_dirs else None
    node = harness.Node(base=base, listeners=["lmtp", "http", "cluster"])
    try:
        node.init()
        node.start()
        node.wait_leader()
        setup(node, node)
        rate = run_bench(args.build, node.ports["lmtp"], args)
        node.stop()
    finally:
        node.cleanup()
    return rate


def bench_cluster(args, harness):
    cluster = harness.Cluster(3, node_dirs=args.node_dirs)
    for n in cluster.nodes:
        n.listeners = ["lmtp", "http", "cluster"]
        n.write_config()
    try:
        cluster.start()
        lead = cluster.leader()
        setup(cluster, lead)
        rate = run_bench(args.build, lead.ports["lmtp"], args)
        cluster.stop()
    finally:
        cluster.cleanup()
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-c", type=int, default=16)
    ap.add_argument("-s", type=int, default=8192)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--node-dirs", type=lambda v: v.split(","), default=None)
    args = ap.parse_args()
    os.environ["MAILNODE_BIN"] = os.path.abspath(os.path.join(args.build, "mailnode"))
    os.environ.setdefault("MAILNODE_LOG_LEVEL", "warn")
    tempfile.tempdir = args.dir
    import harness

    singles, threes = [], []
    for rnd in range(args.rounds):
        print("round %d, single node:" % (rnd + 1))
        singles.append(bench_single(args, harness))
        print("round %d, three-node cluster:" % (rnd + 1))
        threes.append(bench_cluster(args, harness))
    single, three = statistics.median(singles), statistics.median(threes)
    print("single %.0f msgs/s, three nodes %.0f msgs/s, ratio %.0f%%%s" %
          (single, three, 100.0 * three / single if single else 0,
           " (medians of %d rounds)" % args.rounds if args.rounds > 1 else ""))

if __name__ == "__main__":
    main()
