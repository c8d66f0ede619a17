"""A node on BTRFS, the file system it is deployed on (a loop image; needs
root and mkfs.btrfs, and says so when it skips).

The index (LMDB rewrites pages at random) and raft's log (preallocated
segments, overwritten) are made no-copy-on-write; message bodies, written
once, keep copy-on-write and BTRFS's checksums.
"""
import os
import shutil
import smtplib
import subprocess
import tempfile

import pytest

import harness
from conftest import fast_passwords


@pytest.fixture
def btrfs_dir():
    if os.geteuid() != 0:
        pytest.skip("SKIPPED: BTRFS test needs root to loop-mount an image")
    if shutil.which("mkfs.btrfs") is None:
        pytest.skip("SKIPPED: BTRFS test needs mkfs.btrfs (btrfs-progs)")
    base = tempfile.mkdtemp(prefix="mailnode-btrfs-")
    img, mnt = os.path.join(base, "fs.img"), os.path.join(base, "mnt")
    os.mkdir(mnt)
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    subprocess.run(["mkfs.btrfs", "-q", "-f", img], check=True)
    r = subprocess.run(["mount", "-o", "loop", img, mnt], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(base)
        pytest.skip("SKIPPED: cannot loop-mount a BTRFS image here: " + r.stderr.strip())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt])
        shutil.rmtree(base, ignore_errors=True)


def nocow(path):
    out = subprocess.run(["lsattr", "-d", path], capture_output=True, text=True,
                         check=True).stdout
    return "C" in out.split()[0]


def test_index_and_log_are_nocow_bodies_are_not(btrfs_dir):
    n = harness.Node(base=btrfs_dir)
    try:
        n.init()
        n.start()
        n.wait_leader()
        fast_passwords(n)
        n.add_user("u@btrfs.test", "pw")
        c = smtplib.LMTP("127.0.0.1", n.ports["lmtp"], timeout=30)
        c.sendmail("a@example.org", ["u@btrfs.test"], "Subject: x\r\n\r\nbody\r\n")
        c.quit()
        d = n.data_dir
        assert nocow(os.path.join(d, "index"))
        assert nocow(os.path.join(d, "index", "data.mdb"))
        assert nocow(os.path.join(d, "raft"))
        segments = [f for f in os.listdir(os.path.join(d, "raft")) if f[0].isdigit()
                    or f.startswith("open-")]
        assert segments and all(nocow(os.path.join(d, "raft", f)) for f in segments)
        bodies = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(d, "mail"))
                  for f in fs]
        assert len(bodies) == 1 and not nocow(bodies[0])
        n.stop()
    finally:
        n.cleanup()
