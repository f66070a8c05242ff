"""Browser check of the four orchestrators' UIs over real runs.

For each orchestrator the benchmark adapter runs ``customer_daily_etl`` for one date over a
temporary store (a floor run: the orchestrator's real graph, steps without Spark) and stops
its services; ``benchmarks.services`` then brings the same services up over that same home
on a free port through the orchestrator's service command, as ``make ui`` does after a
benchmark. Headless Debian chromium opens the pipeline's page and must find a successful run
of that date (and none of a date that never ran), a screenshot is saved, and ``down`` leaves
no process of the UI behind.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from benchmarks import services
from benchmarks.harness import load_adapter
from benchmarks.ui import Browser, UiCheckError, check_ui
from pipelines_core.procs import free_port, group_alive, port_open
from pipelines_core.testing import make_config

# A past date after the DAGs' start date: Airflow refuses logical dates in the future.
DAY = date(2026, 10, 14)
PIPELINE = "customer_daily_etl"
# Dagster's in-process executor: one process per run, quicker than one per step.
OPTIONS = {"dagster": {"in_process": True}}


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", services.ORCHESTRATORS)
def test_ui_shows_the_pipeline_and_a_successful_run(name, tmp_path, browser):
    config = make_config(tmp_path, noop=True)
    adapter = load_adapter(name, config, **OPTIONS.get(name, {}))
    try:
        adapter.start()
        run = adapter.run_date(PIPELINE, DAY, timeout_s=600)
    finally:
        adapter.stop()
    assert (run.state, run.date) == ("success", DAY.isoformat())

    port = free_port()
    info = services.start_ui(name, config, port=port)
    try:
        assert (info.url, info.port) == (f"http://127.0.0.1:{port}", port)
        assert info.home == str(services.home_of(config, name).resolve())
        assert services.running_ui(config, name) == info
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
    assert sorted(line.split(" over ")[0] for line in stopped) == \
        sorted(f"{name} {c}" for c in services.COMPONENTS[name])
    assert services.status(config) == []
    assert not any(group_alive(pgid) for pgid in info.pgids)
    assert not port_open(info.port)
    assert services.running_ui(config, name) is None
