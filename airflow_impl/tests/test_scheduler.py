"""Through the real scheduler: scheduler, dag-processor, triggerer and api-server on 127.0.0.1
(SQLite metadata DB in a temporary AIRFLOW_HOME), driven and read back through the REST API v2
by the benchmark's Airflow adapter. One server for the whole module:

- a 3-day backfill created with ``POST /api/v2/backfills`` runs with at most 2 runs at a time;
  its partitions equal the direct runner's;
- each backfilled ETL run emits a ``silver_customers`` event whose partition key is its date;
  the partition-aware ML DAG gets one run per date, whose outputs equal the direct runner's;
- two of those ML runs suffer a fault (a crash of ``train``, a hang of ``deploy`` past its
  timeout): Airflow records the failed try, retries, recovers, and its tries match the ledger;
- the hung run misses its deadline: the Deadline Alert's callback reaches the alert sink;
- Airflow's statsd metrics, received by the adapter, count what the ledger saw.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest

from benchmarks.adapters.airflow import AirflowAdapter
from conftest import BACKFILL
from pipelines_core.alerts import read_alerts
from pipelines_core.faults import plan_to_env
from pipelines_core.ledger import Ledger
from pipelines_core.runner import date_range
from pipelines_core.steps.etl import regions
from pipelines_core.testing import generate_exports
from pipelines_core.verify import output_checksums

ETL, ML = "customer_daily_etl", "lead_scoring_mlops"
START, END = (date.fromisoformat(d) for d in BACKFILL)
DAYS = date_range(START, END)
# Faults in the asset-triggered ML runs of two backfilled dates.
HANG_DAY, CRASH_DAY = DAYS[1].isoformat(), DAYS[2].isoformat()
FAULTS = {"deploy": {"kind": "hang", "times": 1, "dates": [HANG_DAY]},
          "train": {"kind": "crash", "times": 1, "dates": [CRASH_DAY]}}
# Short enough for a test, long enough for any step on a loaded machine; the deadline is
# shorter than one timeout, so the hung run misses it whatever the machine's speed.
STEP_TIMEOUT_S, DEADLINE_S = 90.0, 45.0


@pytest.fixture(scope="module")
def adapter(workbench, tmp_path_factory):
    # Its own namespace, beside the in-process runs' one, in the same lake and ledger.
    # SQLite in its own home, not the in-process tests' metadata DB.
    # The sensor pokes seldom: the backfilled dates' exports are there at once, and the
    # scheduler's own latest cron run (today, no export) should not load SQLite for long.
    adapter = AirflowAdapter(workbench.replace(step_timeout_s=STEP_TIMEOUT_S, sensor_poke_s=5.0,
                                               sensor_timeout_s=20.0),
                             home=tmp_path_factory.mktemp("airflow_home"),
                             namespace="airflow_scheduler", sql_alchemy_conn="",
                             asset_triggers=True,
                             task_env={"WORKBENCH_AIRFLOW_DEADLINE_S": str(DEADLINE_S)})
    adapter.start()
    server = adapter.server
    server.unpause(ML)  # so that fresh silver customers start it
    # Unpaused now, the scheduler's latest cron run (today, no export: its sensor times out)
    # is created before the backfill rather than racing its creation for SQLite's lock.
    server.unpause(ETL)
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
        running = pool.submit(adapter.backfill, ETL, START, END, parallelism=2,
                              env=plan_to_env(FAULTS), timeout_s=1800)
        reference.checksums(ML, DAYS)  # the direct runs, meanwhile
        return running.result()


@pytest.fixture(scope="module")
def ml_runs(backfill, adapter):
    """The ML DAG's asset-triggered runs, once all of them (one per date) are finished."""
    server = adapter.server
    deadline = time.monotonic() + 1800  # an upper bound for a machine shared by many
    while True:
        runs = [r for r in server.dag_runs(ML) if r["run_type"] == "asset_triggered"]
        keys = sorted(r.get("partition_key") or "" for r in runs)
        if len(runs) >= len(DAYS) and all(r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, [(r["dag_run_id"], r["state"], r.get("partition_key"))
                                             for r in runs]
        time.sleep(2)
    assert keys == [d.isoformat() for d in DAYS]
    return {r["partition_key"]: r for r in runs}


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


def test_each_etl_date_starts_its_own_ml_run(ml_runs, adapter):
    """Each backfilled ETL run's ``ingest_cdc`` emits a ``silver_customers`` event keyed by its
    date; the partition-aware ML DAG starts one run per key, even for events that arrive
    together, and each run consumes only its own date's event."""
    server = adapter.server
    for day, run in ml_runs.items():
        events = server.get(f"/api/v2/dags/{ML}/dagRuns/{quote(run['dag_run_id'], safe='')}"
                            "/upstreamAssetEvents")["asset_events"]
        assert [(e["name"], e["partition_key"], e["extra"]["date"], e["source_dag_id"],
                 e["source_task_id"]) for e in events] == [
            ("silver_customers", day, day, ETL, "ingest_cdc")]
        assert run["logical_date"] is None and run["state"] == "success"
    views = {v.run_id: v for v in adapter.read_runs(ML)}
    assert {views[r["dag_run_id"]].date for r in ml_runs.values()} == set(ml_runs)


def test_ml_outputs_of_every_date_equal_direct_runner(ml_runs, adapter, reference):
    expected = reference.checksums(ML, DAYS)
    for day in DAYS:
        actual = output_checksums(adapter.config, ML, day)
        assert actual and actual == expected[day], day


def test_lake_outputs_have_asset_events_per_date(backfill, adapter):
    events = adapter.server.get("/api/v2/assets/events", source_dag_id=ETL,
                                limit=100)["asset_events"]
    keyed = sorted((e["name"], e["partition_key"]) for e in events)
    assert keyed == sorted((name, d.isoformat()) for d in DAYS
                           for name in ("silver_customers", "gold_customer_daily_summary"))
    gold = [e for e in events if e["name"] == "gold_customer_daily_summary"]
    assert all(e["extra"]["outputs"] and e["extra"]["date"] == e["partition_key"] for e in gold)


def _ml_view(adapter, ml_runs, day):
    return next(v for v in adapter.read_runs(ML) if v.run_id == ml_runs[day]["dag_run_id"])


def _ledger(adapter, step, day):
    return Ledger(adapter.config.ledger_path).read_attempts(
        pipeline=ML, step=step, date=day, namespace=adapter.config.namespace)


def test_crash_is_recorded_as_a_failed_try_and_retried(ml_runs, adapter):
    view = _ml_view(adapter, ml_runs, CRASH_DAY)
    tries = view.step("train").attempts
    truth = _ledger(adapter, "train", CRASH_DAY)
    # The killed attempt never finished in the ledger (``lost``); Airflow saw its process die.
    assert [(t.attempt, t.state) for t in tries] == [(1, "failed"), (2, "success")]
    assert [(r.attempt, r.status) for r in truth] == [(1, "lost"), (2, "success")]
    assert tries[0].end is not None and tries[0].end <= tries[1].start
    assert view.state == "success"


def test_hang_is_cut_by_the_timeout_and_retried(ml_runs, adapter):
    view = _ml_view(adapter, ml_runs, HANG_DAY)
    tries = view.step("deploy").attempts
    truth = _ledger(adapter, "deploy", HANG_DAY)
    assert [(t.attempt, t.state) for t in tries] == [(1, "failed"), (2, "success")]
    assert [(r.attempt, r.status) for r in truth] == [(1, "failed"), (2, "success")]
    assert "AirflowTaskTimeout" in truth[0].error
    # Cut at the timeout, long before the fault's own end (2 x timeout + 5 s). Airflow's
    # clock starts a moment before the step writes its start to the ledger.
    assert STEP_TIMEOUT_S - 1 <= truth[0].duration_s < 2 * STEP_TIMEOUT_S
    assert tries[0].duration_s >= truth[0].duration_s
    assert view.state == "success"


def test_deadline_alert_of_the_hung_run_reaches_the_alert_sink(ml_runs, adapter):
    """The ML run of the hung date outlives its deadline (queued + DEADLINE_S < one step
    timeout): the scheduler marks it missed and the triggerer runs the callback."""
    run_id = ml_runs[HANG_DAY]["dag_run_id"]
    wait_until = time.monotonic() + 120
    while True:
        alerts = [a for a in read_alerts(adapter.config, kind="deadline", pipeline=ML,
                                         date=HANG_DAY) if a["run_id"] == run_id]
        if alerts or time.monotonic() > wait_until:
            break
        time.sleep(2)
    assert len(alerts) == 1
    assert alerts[0]["orchestrator"] == "airflow" and alerts[0]["step"] is None
    assert f"within {timedelta(seconds=DEADLINE_S)} of being queued" in alerts[0]["error"]


def test_statsd_metrics_count_what_the_ledger_saw(ml_runs, adapter):
    metrics = adapter.metrics
    for pipeline, step in ((ETL, "notify"), (ML, "notify"), (ML, "deploy")):
        truth = [r for r in Ledger(adapter.config.ledger_path).read_attempts(
            pipeline=pipeline, step=step, namespace=adapter.config.namespace)]
        ok = sum(r.status == "success" for r in truth)
        failed = sum(r.status == "failed" for r in truth)
        assert metrics.counter("airflow.ti.finish", dag_id=pipeline, task_id=step,
                               state="success") == ok == len(DAYS), (pipeline, step)
        assert metrics.counter("airflow.ti_failures", dag_id=pipeline, task_id=step) \
            == failed, (pipeline, step)
    assert metrics.counter("airflow.ti_failures", dag_id=ML, task_id="deploy") == 1
    assert metrics.timer_count("airflow.dagrun.duration.success", dag_id=ML) == len(DAYS)
