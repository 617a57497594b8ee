"""The chaos suite (issue 14): the production shape on loopback, faults injected, outcomes counted.
`make chaos` runs all of it (CHAOS=1); `make test` runs only the cases not marked `chaos` (the quickest)."""
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _restarted_servers():
    """A server a chaos case started again (test_mariadb_restart.py) stops with the session."""
    yield
    from tests.chaos.test_mariadb_restart import Restartable

    for process in Restartable.started:
        if process.poll() is None:
            process.terminate()
            process.wait(60)


def pytest_configure(config):
    config.addinivalue_line("markers", "chaos: long fault-injection case, run by `make chaos` (CHAOS=1)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CHAOS"):
        return
    skip = pytest.mark.skip(reason="long chaos case: `make chaos` runs it")
    for item in items:
        if "chaos" in item.keywords and item.get_closest_marker("chaos"):
            item.add_marker(skip)
