"""pytest fixtures shared by the end-to-end tests."""
import pytest

import harness


def fast_passwords(node):
    """Cheap Argon2id for test users (the defaults cost 64 MiB and ~0.2 s)."""
    node.set_config("password.argon2_memory_kib", 4096)
    node.set_config("password.argon2_passes", 1)
    node.set_config("password.scram_iterations", 4096)


@pytest.fixture
def node():
    """A single initialised node (a cluster of one), started and healthy."""
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
