"""Fixtures for the project's own tests: one moto server per session, reset between tests."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from spacelift_dr.demo import DemoServer, seed
from spacelift_dr.disk_cache import CACHE_ENV
from tests.scenario import Outcome, run_checks

# The tests keep derived data (spacelift_dr.disk_cache) in a cache of their own, which the runs they start
# inherit: never the user's.
if CACHE_ENV not in os.environ:
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="spacelift-dr-test-cache-")
    atexit.register(shutil.rmtree, os.environ[CACHE_ENV], True)

# pytest.ini keeps hypothesis's pytest plugin out of compliance runs; the project's own tests want it (its
# reporting of falsifying examples, its health checks). Allowed here: this conftest is loaded before pytest
# is configured whenever tests/ is on the command line.
# (Unless it is loaded already: a run that lost pytest.ini, e.g. plain pytest given a config file elsewhere,
# autoloads it, and registering it twice would crash before the suite can say what went wrong.)
pytest_plugins = [] if "_hypothesis_pytestplugin" in sys.modules else ["_hypothesis_pytestplugin"]

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[DemoServer]:
    server = DemoServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: DemoServer) -> DemoServer:
    """The session's moto server, emptied before the test."""
    moto_server.reset()
    return moto_server


@pytest.fixture(scope="session")
def dr_ready(moto_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The whole suite's verdicts on the DR-ready demo installation: what every mutation is compared to."""
    moto_server.reset()
    outcome = run_checks(seed(moto_server.url), tmp_path_factory.mktemp("dr-ready"))
    moto_server.reset()
    return outcome
