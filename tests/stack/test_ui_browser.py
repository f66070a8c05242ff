"""Browser check of the four orchestrators' UIs over real runs.

For Prefect, Dagster and Luigi: the benchmark adapter runs ``customer_daily_etl`` for one
date over a temporary store (a floor run: the orchestrator's real graph, steps without
Spark) and stops its services; ``benchmarks.services`` then starts the UI over that same
store on a free port, as ``make ui`` does after a benchmark. Airflow, the slowest to start,
runs the date through the UI's own scheduler instead (triggered over its REST API, as the
adapter does). Then headless Debian chromium opens the pipeline's page and must find a
successful run of that date (and none of a date that never ran), a screenshot is saved, and
``down`` leaves no process of the UI behind.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from benchmarks import services
from benchmarks.ui import Browser, UiCheckError, check_ui
from pipelines_core.procs import free_port, port_open
from pipelines_core.testing import make_config

# A past date after the DAGs' start date: Airflow refuses logical dates in the future.
DAY = date(2026, 10, 14)
PIPELINE = "customer_daily_etl"


def adapter_for(name: str, config):
    """The benchmark's adapter of ``name`` with every server on a free port."""
    if name == "prefect":
        from benchmarks.adapters.prefect import PrefectAdapter
        return PrefectAdapter(config, port=free_port())
    if name == "dagster":
        from benchmarks.adapters.dagster import DagsterAdapter
        return DagsterAdapter(config, in_process=True)  # one process per run: quicker
    from benchmarks.adapters.luigi import LuigiAdapter
    return LuigiAdapter(config, port=free_port())


def run_through_airflow_ui(info: services.UiInfo) -> str:
    """Trigger the date's run on the UI's Airflow and wait for its end; its final state."""
    from benchmarks.adapters.airflow import logical_date
    from benchmarks.adapters.airflow_server import AirflowServer

    client = AirflowServer(Path(info.store), api_port=info.port)  # a client: nothing started
    client.unpause(PIPELINE)
    run_id = f"workbench__{DAY.isoformat()}__ui"
    client.trigger(PIPELINE, logical_date(DAY), run_id=run_id)
    return client.wait_for_runs(PIPELINE, [run_id], timeout_s=600)[0]["state"]


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", services.ORCHESTRATORS)
def test_ui_shows_the_pipeline_and_a_successful_run(name, tmp_path, browser):
    config = make_config(tmp_path, noop=True)
    if name != "airflow":
        adapter = adapter_for(name, config)
        try:
            adapter.start()
            run = adapter.run_date(PIPELINE, DAY, timeout_s=600)
        finally:
            adapter.stop()
        assert (run.state, run.date) == ("success", DAY.isoformat())

    info = services.start_ui(name, config, port=free_port())
    try:
        if name == "airflow":
            assert run_through_airflow_ui(info) == "success"
        assert services.read_record(config, name) == info
        result = check_ui(browser, info, DAY, tmp_path / "shots")
        assert result.screenshot == tmp_path / "shots" / f"{name}.png"
        assert result.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert DAY.isoformat() in result.run
        # The same check on a date that never ran must fail: the check reads the page.
        browser.timeout_ms = 15_000
        with pytest.raises(UiCheckError):
            check_ui(browser, info, DAY + timedelta(days=1), tmp_path / "shots")
    finally:
        browser.timeout_ms = None
        stopped = services.down(config, say=lambda _: None)
    assert any(line.startswith(f"{name} UI") for line in stopped), stopped
    assert services.status(config) == []
    assert not any(services.group_members(pgid) for pgid in info.pids)
    assert not port_open(info.port)
    assert services.read_record(config, name) is None
