"""One real stack for the whole session: a Spark Connect server and a Prefect server on
127.0.0.1 (temporary PREFECT_HOME, free ports), both deployments on a process work pool and a
process worker; flows run either in this process against that server or through the worker.
Everything is stopped at the end and the ports are checked free."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipelines_core import spark as core_spark
from pipelines_core import testing
from pipelines_core.config import WorkbenchConfig
from pipelines_core.runner import date_range

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the benchmark adapter lives in the root project

from benchmarks.adapters.prefect import PrefectAdapter  # noqa: E402
from workbench_prefect.server import port_in_use  # noqa: E402

E2E_DAY = date(2026, 11, 1)  # the 1st of a month: the monthly branch
E2E_NAMESPACE = "prefect_e2e"
RETRY_FAULTS = '{"ingest_cdc": {"kind": "raise", "times": 2}}'
BACKFILL_DAYS = (date(2026, 10, 5), date(2026, 10, 7))


@dataclass
class Stack:
    config: WorkbenchConfig  # connect-mode config, namespace "prefect"
    adapter: PrefectAdapter
    references: dict[tuple[str, str, str], dict[str, str]]
    backfill: Future  # the 3-day backfill, started as soon as the stack is up

    def reference(self, pipeline: str, day: date, namespace: str = "reference") -> dict:
        """Direct-runner checksums for (pipeline, day), computed once per namespace."""
        key = (pipeline, day.isoformat(), namespace)
        if key not in self.references:
            self.references[key] = testing.reference_outputs(self.config, pipeline, day,
                                                             namespace=namespace)
        return self.references[key]

    def in_namespace(self, namespace: str) -> WorkbenchConfig:
        return self.config.replace(namespace=namespace, orchestrator="prefect")


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Any:
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    root = tmp_path_factory.mktemp("workbench")
    config = testing.make_config(root, namespace="prefect").replace(
        spark_mode="connect", spark_connect_port=testing.free_port(), spark_url="")
    adapter = PrefectAdapter(config, port=testing.free_port(), home=root / "prefect_home")
    ports = [config.spark_connect_port, adapter.server.port]

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
    pool = None
    try:
        adapter.start()
        spark_thread.join()
        if spark_error:
            raise spark_error[0]
        os.environ.update(config.to_env())
        # The backfill runs in the worker's processes while the in-process tests run here:
        # the two overlap instead of queueing on this small machine.
        start, end = BACKFILL_DAYS
        testing.generate_exports(config, date_range(start, end))
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill")
        future = pool.submit(adapter.backfill, "customer_daily_etl", start, end,
                             parallelism=2, timeout_s=600)
        with temporary_settings(updates={PREFECT_API_URL: adapter.api_url,
                                         PREFECT_HOME: str(adapter.server.home)}):
            yield Stack(config, adapter, {}, future)
    finally:
        spark_thread.join()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        os.environ.clear()
        os.environ.update(saved_env)
        core_spark.stop_sessions()
        adapter.stop()
        core_spark.stop_connect_server(config)
        busy = [p for p in ports if port_in_use(p)]
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
def backfill(stack):
    """The 3-day backfill of customer_daily_etl through the deployment and the worker, with
    the direct runner's reference outputs computed while it runs."""
    for day in date_range(*BACKFILL_DAYS):
        stack.reference("customer_daily_etl", day)
    return stack.backfill.result(timeout=900)


def pytest_collection_modifyitems(items):
    """Tests that wait for the backfill go last, so the in-process runs overlap with it."""
    items.sort(key=lambda item: "backfill" in getattr(item, "fixturenames", ()))
