"""Shared fixtures: one classic local Spark session and, for the tests that need it, one real
Spark Connect server on a free 127.0.0.1 port, both for the whole test session."""

from __future__ import annotations

import os
import sys
from datetime import date

import pytest

from pipelines_core import spark as spark_mod
from pipelines_core import testing

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
for key in [k for k in os.environ if k.startswith("WORKBENCH_")]:
    del os.environ[key]  # the suite's configuration comes from make_config only

DAY = date(2026, 11, 2)
FIRST_OF_MONTH = date(2026, 11, 1)


@pytest.fixture(scope="session")
def session_root(tmp_path_factory):
    return tmp_path_factory.mktemp("wb")


@pytest.fixture(scope="session")
def local_config(session_root):
    return testing.make_config(session_root / "local", namespace="local")


@pytest.fixture
def spark(local_config):
    """The shared classic session (created once). Asked for anew in every test because
    pyspark picks its Connect or classic code path from the environment, which a Connect
    test changes."""
    return spark_mod.get_session(local_config)


@pytest.fixture(scope="session")
def connect_config(session_root):
    cfg = testing.make_config(session_root / "connect", namespace="connect")
    with testing.connect_server(cfg) as connected:
        yield connected


@pytest.fixture
def config(tmp_path, spark):
    """A fresh lake and state folder per test, on the shared local session."""
    return testing.make_config(tmp_path, namespace="t")
