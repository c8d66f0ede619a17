"""pytest fixtures shared by the end-to-end tests."""
import random

import pytest

import harness


def fast_passwords(node):
    """Cheap Argon2id for test users (the defaults cost 64 MiB and ~0.2 s)."""
    node.set_config("password.argon2_memory_kib", 4096)
    node.set_config("password.argon2_passes", 1)
    node.set_config("password.scram_iterations", 4096)


def running_node():
    """A single initialised node (a cluster of one), started and healthy;
    stopped (a clean exit asserted) and removed after."""
    n = harness.Node()
    n.init()
    n.start()
    n.wait_leader()
    fast_passwords(n)
    yield n
    try:
        n.stop()
    finally:
        n.cleanup()


@pytest.fixture
def node():
    """A node of its own for one test."""
    yield from running_node()


@pytest.fixture(scope="module")
def inode():
    """One node for a whole test module; its tests keep apart by each
    making its own users (unique_user)."""
    yield from running_node()


_seq = [0]


def unique_user(node, tag, pw="pw", **kw):
    """A new user in a domain of its own; returns the address."""
    _seq[0] += 1
    addr = "%s%d-%d@%s%d.test" % (tag[0], _seq[0], random.randrange(10**6), tag, _seq[0])
    node.add_user(addr, pw, **kw)
    return addr


@pytest.fixture
def small_quarantine_node(monkeypatch):
    """A node whose AddressSanitizer keeps little freed memory aside, so
    that its RSS says what the node holds."""
    if harness.SANITIZED:
        monkeypatch.setenv("ASAN_OPTIONS",
                           "detect_leaks=1:abort_on_error=0:exitcode=99:"
                           "detect_stack_use_after_return=0:quarantine_size_mb=1")
    yield from running_node()


@pytest.fixture
def cluster():
    """Three initialised, started nodes forming one cluster."""
    c = harness.Cluster(3)
    c.start()
    fast_passwords(c.nodes[0])
    yield c
    try:
        c.stop()
    finally:
        c.cleanup()
