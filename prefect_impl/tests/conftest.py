"""One real stack for the whole session: a Spark Connect server, and Prefect's server and
process worker started by the service command's class (temporary PREFECT_HOME, free ports on
127.0.0.1) with both deployments on the process work pool; flows run either in this process
against that server or through the worker. Everything is stopped at the end and the ports
are checked free."""

from __future__ import annotations

import argparse
import os
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from pipelines_core import spark as core_spark
from pipelines_core import testing
from pipelines_core.config import WorkbenchConfig
from pipelines_core.http import HttpClient
from pipelines_core.procs import poll_until, wait_port_free
from pipelines_core.runner import date_range

from workbench_prefect.service import PrefectService

E2E_DAY = date(2026, 11, 1)  # the 1st of a month: the monthly branch
E2E_NAMESPACE = "prefect_e2e"
RETRY_FAULTS = '{"ingest_cdc": {"kind": "raise", "times": 2}}'
BACKFILL_DAYS = (date(2026, 10, 5), date(2026, 10, 7))
BACKFILL_PARALLELISM = 2
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Stack:
    config: WorkbenchConfig  # connect-mode config, namespace "prefect" (the worker's)
    service: PrefectService
    api: HttpClient
    references: dict[tuple[str, str, str], dict[str, str]]
    backfill_ids: list[str]  # the 3-day backfill's runs, created as soon as the stack is up

    def reference(self, pipeline: str, day: date, namespace: str = "reference") -> dict:
        """Direct-runner checksums for (pipeline, day), computed once per namespace."""
        key = (pipeline, day.isoformat(), namespace)
        if key not in self.references:
            self.references[key] = testing.reference_outputs(self.config, pipeline, day,
                                                             namespace=namespace)
        return self.references[key]

    def in_namespace(self, namespace: str) -> WorkbenchConfig:
        return self.config.replace(namespace=namespace, orchestrator="prefect")

    def flow_runs(self, run_ids: list[str]) -> list[dict]:
        runs = self.api.post("/flow_runs/filter", {"flow_runs": {"id": {"any_": run_ids}}},
                             idempotent=True)
        return sorted(runs, key=lambda r: run_ids.index(r["id"]))

    def wait_runs(self, run_ids: list[str], timeout_s: float = 900) -> list[dict]:
        """The runs once every one is in a terminal state (the worker runs them)."""
        def ended() -> list[dict] | None:
            runs = self.flow_runs(run_ids)
            return runs if all(r["state"]["type"] in TERMINAL for r in runs) else None

        return poll_until(ended, timeout_s=timeout_s, interval_s=1.0,
                          what=f"flow runs {run_ids} terminal")

    def task_runs(self, flow_run_id: str) -> list[dict]:
        return self.api.post("/task_runs/filter",
                             {"flow_runs": {"id": {"any_": [flow_run_id]}},
                              "sort": "EXPECTED_START_TIME_ASC", "limit": 200},
                             idempotent=True)

    def task_states(self, task_run_id: str) -> list[dict]:
        states = self.api.get("/task_run_states/", task_run_id=task_run_id)
        return sorted(states, key=lambda s: s["timestamp"])

    def logs(self, **match: Any) -> list[dict]:
        """Log lines of the runs named by ``flow_run_id=[...]`` or ``task_run_id=[...]``."""
        return self.api.post("/logs/filter",
                             {"logs": {k: {"any_": v} for k, v in match.items()},
                              "sort": "TIMESTAMP_ASC", "limit": 200}, idempotent=True)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Any:
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    from workbench_prefect.deployments import backfill

    root = tmp_path_factory.mktemp("workbench")
    config = testing.make_config(root, namespace="prefect").replace(
        spark_mode="connect", spark_connect_port=testing.free_port(), spark_url="")
    service = PrefectService(root / "prefect_home", testing.free_port(), config=config,
                             options=argparse.Namespace(worker_limit=4, ml_trigger=False))
    ports = {"spark connect": config.spark_connect_port, "prefect server": service.port}

    # The JVM and the Prefect server take the longest to come up: start them side by side.
    spark_error: list[BaseException] = []

    def start_spark() -> None:
        try:
            core_spark.start_connect_server(config)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            spark_error.append(exc)

    spark_thread = threading.Thread(target=start_spark)
    spark_thread.start()
    saved_env = dict(os.environ)
    try:
        service.up()
        spark_thread.join()
        if spark_error:
            raise spark_error[0]
        os.environ.update(config.to_env())
        with temporary_settings(updates={PREFECT_API_URL: service.api_url,
                                         PREFECT_HOME: str(service.home)}):
            # The backfill runs in the worker's processes while the in-process tests run
            # here: the two overlap instead of queueing on this small machine.
            testing.generate_exports(config, date_range(*BACKFILL_DAYS))
            ids = backfill("customer_daily_etl", date_range(*BACKFILL_DAYS),
                           BACKFILL_PARALLELISM)
            yield Stack(config, service, service.client(), {}, ids)
    finally:
        spark_thread.join()
        os.environ.clear()
        os.environ.update(saved_env)
        core_spark.stop_sessions()
        service.down()
        core_spark.stop_connect_server(config)
        # A stopped JVM's last threads can hold its socket a moment after the group is gone.
        taken = wait_port_free(list(ports.values()))
        busy = {name: p for name, p in ports.items() if p in taken}
        assert not busy, f"ports still in use after stopping the stack: {busy}"


@pytest.fixture
def workbench_env(monkeypatch):
    """Set the workbench environment of flows run in this process for one test."""

    def apply(namespace: str, faults: str | None = None) -> None:
        monkeypatch.setenv("WORKBENCH_NAMESPACE", namespace)
        if faults:
            monkeypatch.setenv("WORKBENCH_FAULTS", faults)
        else:
            monkeypatch.delenv("WORKBENCH_FAULTS", raising=False)

    return apply


@dataclass
class FlowRuns:
    etl_run_id: str
    ml_run_id: str
    etl_state: str
    ml_state: str


@pytest.fixture(scope="session")
def e2e(stack) -> FlowRuns:
    """Both flows for E2E_DAY in this process against the stack's server, in their own
    namespace, with ingest_cdc failing its first two attempts."""
    from workbench_prefect.etl import customer_daily_etl
    from workbench_prefect.ml import lead_scoring_mlops

    testing.generate_exports(stack.in_namespace(E2E_NAMESPACE), [E2E_DAY])
    saved = dict(os.environ)
    os.environ.update({"WORKBENCH_NAMESPACE": E2E_NAMESPACE, "WORKBENCH_FAULTS": RETRY_FAULTS})
    try:
        etl = customer_daily_etl(day=E2E_DAY, return_state=True)
        os.environ.pop("WORKBENCH_FAULTS")
        ml = lead_scoring_mlops(day=E2E_DAY, return_state=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return FlowRuns(str(etl.state_details.flow_run_id), str(ml.state_details.flow_run_id),
                    etl.type.value, ml.type.value)


@pytest.fixture(scope="session")
def backfill(stack) -> list[dict]:
    """The 3-day backfill of customer_daily_etl through the deployment and the worker (its
    flow runs, in date order, once all ended), with the direct runner's reference outputs
    computed while it runs."""
    for day in date_range(*BACKFILL_DAYS):
        stack.reference("customer_daily_etl", day)
    return stack.wait_runs(stack.backfill_ids)


def pytest_collection_modifyitems(items):
    """Tests that wait for the backfill go last, so the in-process runs overlap with it; the
    service command's own test, which starts its own server, goes first."""
    items.sort(key=lambda item: ("backfill" in getattr(item, "fixturenames", ()),
                                 item.module.__name__ != "test_service"))
