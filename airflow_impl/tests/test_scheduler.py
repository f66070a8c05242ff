"""Through the real scheduler: ``airflow standalone`` on 127.0.0.1 (SQLite metadata DB in a
temporary AIRFLOW_HOME), driven and read back through the REST API v2 by the benchmark's
Airflow adapter. A 3-day backfill created with ``POST /api/v2/backfills`` runs with at most 2
runs at a time; its partitions equal the direct runner's."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from urllib.parse import quote

import pytest

from benchmarks.adapters.airflow import AirflowAdapter
from conftest import BACKFILL
from pipelines_core.ledger import Ledger
from pipelines_core.runner import date_range
from pipelines_core.steps.etl import regions
from pipelines_core.testing import generate_exports
from pipelines_core.verify import output_checksums

ETL, ML = "customer_daily_etl", "lead_scoring_mlops"
START, END = (date.fromisoformat(d) for d in BACKFILL)
DAYS = date_range(START, END)


@pytest.fixture(scope="module")
def adapter(workbench, tmp_path_factory):
    # Its own namespace, beside the in-process runs' one, in the same lake and ledger.
    # SQLite in its own home, not the in-process tests' metadata DB.
    adapter = AirflowAdapter(workbench, home=tmp_path_factory.mktemp("airflow_home"),
                             namespace="airflow_scheduler", sql_alchemy_conn="",
                             asset_triggers=True)
    adapter.start()
    server = adapter.server
    server.unpause(ML)  # so that fresh silver customers start it
    try:
        yield adapter
    finally:
        adapter.stop()
        assert server.ports_in_use() == []
        assert server.proc.poll() is not None


@pytest.fixture(scope="module")
def backfill(adapter, reference):
    generate_exports(adapter.config, DAYS)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(adapter.backfill, ETL, START, END, parallelism=2, timeout_s=600)
        reference.checksums(ETL, DAYS)  # the direct runs, meanwhile
        return running.result()


def test_backfill_runs_every_date_through_the_scheduler(backfill):
    assert backfill.mechanism.startswith("POST /api/v2/backfills")
    assert sorted(r.date for r in backfill.runs) == [d.isoformat() for d in DAYS]
    assert [r.state for r in backfill.runs] == ["success"] * 3
    first = next(r for r in backfill.runs if r.date == START.isoformat())
    assert first.step("monthly_report").state == "success"  # the 1st of the month
    assert first.step("daily_report").state == "skipped"
    assert {s.map_key for s in first.steps if s.step == "gold_region_aggregates"} == set(regions())


def test_backfill_respects_max_active_runs(backfill):
    spans = [(datetime.fromisoformat(r.start), datetime.fromisoformat(r.end))
             for r in backfill.runs]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert 1 <= overlap <= backfill.parallelism


def test_backfill_partitions_equal_direct_runner(backfill, adapter, reference):
    expected = reference.checksums(ETL, DAYS)
    for day in DAYS:
        actual = output_checksums(adapter.config, ETL, day)
        assert len(actual) >= 8 and actual == expected[day], day


def test_rest_api_tries_and_logs_match_ledger(backfill, adapter):
    ledger = Ledger(adapter.config.ledger_path)
    for run in backfill.runs:
        for step in run.steps:
            if step.state != "success" or step.step == "wait_for_export":
                continue  # the native sensor calls export_ready, not run_step
            recs = ledger.read_attempts(pipeline=ETL, step=step.step, date=run.date,
                                        namespace=adapter.config.namespace,
                                        map_key=step.map_key)
            assert [a.attempt for a in step.attempts] == [r.attempt for r in recs] == [1]
            attempt = step.attempts[0]
            assert attempt.state == "success" and attempt.duration_s >= recs[0].duration_s
            assert f"{ETL}.{step.step}" in attempt.log_excerpt  # the core's own log line


def test_fresh_silver_customers_trigger_the_ml_dag(backfill, adapter):
    """Each backfilled ETL run's ``ingest_cdc`` updates the silver_customers Asset; the
    scheduler starts asset-triggered ML runs (events arriving together share one run)."""
    server = adapter.server
    deadline = time.monotonic() + 600
    while True:
        runs = [r for r in server.dag_runs(ML) if r["run_type"] == "asset_triggered"]
        events = {r["dag_run_id"]: server.get(
            f"/api/v2/dags/{ML}/dagRuns/{quote(r['dag_run_id'], safe='')}/upstreamAssetEvents"
        )["asset_events"] for r in runs}
        covered = {e["extra"]["date"] for evs in events.values() for e in evs}
        if covered == {d.isoformat() for d in DAYS} and all(
                r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, (covered, [(r["dag_run_id"], r["state"]) for r in runs])
        time.sleep(2)
    assert all(e["source_dag_id"] == ETL and e["source_task_id"] == "ingest_cdc"
               for evs in events.values() for e in evs)
    views = [v for v in adapter.read_runs(ML) if v.run_id in events]
    assert [v.state for v in views] == ["success"] * len(runs)
    ledger = Ledger(adapter.config.ledger_path)
    for view in views:  # the run's data date is the earliest date on its events
        assert view.date == min(e["extra"]["date"] for e in events[view.run_id])
        done = ledger.read_attempts(pipeline=ML, step="notify", date=view.date,
                                    namespace=adapter.config.namespace, status="success")
        assert len(done) == 1
