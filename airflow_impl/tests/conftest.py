"""Shared fixtures: a temporary AIRFLOW_HOME with a migrated SQLite metadata DB, one Spark
Connect server for the whole session, and the workbench configuration in the environment.

Airflow reads its configuration when it is first imported, so the home is chosen here, at
import time, before any test module imports Airflow.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from datetime import date
from pathlib import Path

import pytest

from workbench_airflow import DAGS_FOLDER

_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.update({
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
})

from pipelines_core.testing import connect_server, make_config  # noqa: E402
from workbench_airflow.service import migrate  # noqa: E402

DAY = "2026-10-02"  # a weekday of the spec's first month


def pytest_unconfigure(config):  # noqa: ARG001
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The in-process tests' AIRFLOW_HOME, with its SQLite metadata DB migrated."""
    migrate(os.environ)
    return _HOME


@pytest.fixture(scope="session")
def workbench(tmp_path_factory):
    """A connect-mode configuration, exported to the environment the DAGs and tasks read."""
    root = tmp_path_factory.mktemp("workbench")
    with connect_server(make_config(root, namespace="airflow")) as cfg:
        plan = cfg.state_dir / "fault_plan.json"
        plan.parent.mkdir(parents=True, exist_ok=True)
        plan.write_text("{}")
        os.environ.update(cfg.to_env())
        os.environ["WORKBENCH_FAULTS"] = str(plan)
        yield cfg


@pytest.fixture
def fault_plan(workbench):
    """Write a fault plan the tasks read on their next attempt; cleared afterwards."""
    path = Path(os.environ["WORKBENCH_FAULTS"])

    def set_plan(plan: dict) -> None:
        path.write_text(json.dumps(plan))

    yield set_plan
    path.write_text("{}")


class Reference:
    """Direct-runner outputs in the ``reference`` namespace, each date computed once."""

    def __init__(self, config) -> None:
        self.config = config.replace(namespace="reference", orchestrator="direct")
        self.done: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def checksums(self, pipeline: str, days: list[date]) -> dict[date, dict[str, str]]:
        from pipelines_core.runner import backfill, run_pipeline
        from pipelines_core.spec import get_pipeline
        from pipelines_core.testing import generate_exports
        from pipelines_core.verify import output_checksums

        with self.lock:
            todo = [d for d in days if ("customer_daily_etl", d.isoformat()) not in self.done]
            if todo:
                generate_exports(self.config, todo)
                for out in backfill(get_pipeline("customer_daily_etl"), todo, self.config,
                                    parallelism=2):
                    assert out.state == "success", out.steps
                self.done |= {("customer_daily_etl", d.isoformat()) for d in todo}
            if pipeline != "customer_daily_etl":
                for day in [d for d in days if (pipeline, d.isoformat()) not in self.done]:
                    out = run_pipeline(get_pipeline(pipeline), day, self.config)
                    assert out.state == "success", out.steps
                    self.done.add((pipeline, day.isoformat()))
            return {d: output_checksums(self.config, pipeline, d) for d in days}


@pytest.fixture(scope="session")
def reference(workbench) -> Reference:
    return Reference(workbench)


def load_dagbag():
    """The DAGs as Airflow's DAG processor loads them (bundle path on sys.path), parsed with
    the environment of the moment (retry settings and sensor timings are read at parse time)."""
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER)


@pytest.fixture(scope="session")
def dagbag():
    """The DAGs as deployed (spec retry policy unless overridden, deadline alert on)."""
    return load_dagbag()


@pytest.fixture(scope="session")
def test_dags(workbench, airflow_home):
    """The DAGs parsed with the test configuration (short retry delays), ready for dag.test()
    (without the deadline alert, which dag.test() of Airflow 3.3.2 cannot handle)."""
    os.environ["WORKBENCH_AIRFLOW_DEADLINE_H"] = "0"
    try:
        bag = load_dagbag()
    finally:
        del os.environ["WORKBENCH_AIRFLOW_DEADLINE_H"]
    assert not bag.import_errors, bag.import_errors
    return bag.dags
