"""pytest fixtures shared by the end-to-end tests."""
import pytest

import harness


@pytest.fixture
def node():
    """A single initialised node (a cluster of one), started and healthy."""
    n = harness.Node()
    n.init()
    n.start()
    yield n
    try:
        n.stop()
    finally:
        n.cleanup()
