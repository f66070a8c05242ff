"""The Airflow adapter through Airflow's real scheduler: api-server, scheduler, dag-processor
and triggerer started by the service command on the production profile (the metadata in
PostgreSQL, as Airflow's docs ask for anything beyond development: on SQLite, a backfill whose
creation meets the database's write lock is deleted again while the scheduler is already
creating its task instances, and the scheduler dies of it), driven and read back through the
REST API v2. One set of services for the whole module:

- a 3-day backfill created with ``POST /api/v2/backfills`` runs 2 runs at a time; its
  partitions equal the direct runner's;
- each backfilled ETL run emits a ``silver_customers`` event whose partition key is its date;
  the partition-aware ML DAG gets one run per date, whose outputs equal the direct runner's;
- two of those ML runs suffer a fault (a crash of ``train``, a hang of ``deploy`` past its
  timeout): Airflow records the failed try, retries, recovers, and its tries match the ledger;
- the hung run misses its deadline: the Deadline Alert's callback reaches the alert sink;
- Airflow's statsd metrics, received by the adapter, count what the ledger saw;
- a scheduler that dies is found by the adapter and recorded as an incident; nothing restarts
  it, and the run waiting on it ends with the reason.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from urllib.parse import quote

import pytest

from benchmarks.adapters.airflow import AirflowAdapter
from benchmarks.adapters.base import ComponentDied
from pipelines_core.alerts import read_alerts
from pipelines_core.faults import plan_to_env
from pipelines_core.ledger import Ledger
from pipelines_core import testing
from pipelines_core.postgres import PostgresServer
from pipelines_core.procs import free_port, poll_until, port_open
from pipelines_core.runner import backfill as direct_backfill
from pipelines_core.runner import date_range, run_pipeline
from pipelines_core.spec import get_pipeline
from pipelines_core.steps.etl import regions
from pipelines_core.verify import output_checksums

ETL, ML = "customer_daily_etl", "lead_scoring_mlops"
# The 1st of a month (the monthly branch) and two weekdays of the spec's first month.
START, END = date(2026, 10, 1), date(2026, 10, 3)
DAYS = date_range(START, END)
# Faults in the asset-triggered ML runs of two backfilled dates.
HANG_DAY, CRASH_DAY = DAYS[1].isoformat(), DAYS[2].isoformat()
FAULTS = {"deploy": {"kind": "hang", "times": 1, "dates": [HANG_DAY]},
          "train": {"kind": "crash", "times": 1, "dates": [CRASH_DAY]}}
# Short enough for a test, long enough for any step on a loaded machine; the deadline is
# shorter than one timeout, so the hung run misses it whatever the machine's speed.
STEP_TIMEOUT_S, DEADLINE_S = 90.0, 45.0
WAIT_S = 1800  # an upper bound for a machine shared by many


@pytest.fixture(scope="module")
def adapter(connect_config):
    # The sensor pokes seldom: the backfilled dates' exports are there at once, and the
    # scheduler's own latest cron run (today, no export) should not keep it busy for long.
    # A folder the postgres user may pass through: the server runs as that user under root.
    with testing.traversable_root("wb-airflow-adapter-") as root:
        cfg = connect_config.replace(lake_root=root / "lake", state_dir=root / "state",
                                     postgres_port=free_port(), step_timeout_s=STEP_TIMEOUT_S,
                                     sensor_poke_s=5.0, sensor_timeout_s=20.0)
        adapter = AirflowAdapter(cfg, home=root / "home", namespace="airflow_scheduler",
                                 sql_alchemy_conn="", asset_triggers=True,
                                 task_env={"WORKBENCH_AIRFLOW_DEADLINE_S": str(DEADLINE_S)})
        adapter.use_profile("production")
        try:
            adapter.start()
            adapter.api.unpause(ML)  # so that fresh silver customers start it
            # Unpaused now, the scheduler's latest cron run (today, no export: its sensor
            # times out) is created before the backfill rather than beside it.
            adapter.api.unpause(ETL)
            yield adapter
        finally:
            adapter.stop()
            PostgresServer(adapter.config).stop()  # started by the services' up
        status = adapter.service.status()
        assert [c["health"] for c in status["components"]] == ["down"] * 4
        assert not port_open(adapter.service.port)
        if adapter.incidents:
            print(f"\nAirflow incidents: {[(i['time'], i['component']) for i in adapter.incidents]}")


@pytest.fixture(scope="module")
def reference(adapter):
    """The direct runner's checksums of both pipelines for every date, per pipeline."""
    ref = adapter.config.replace(namespace="reference", orchestrator="direct")
    testing.generate_exports(ref, DAYS)
    assert [o.state for o in direct_backfill(get_pipeline(ETL), DAYS, ref, parallelism=2)] \
        == ["success"] * len(DAYS)
    for day in DAYS:
        assert run_pipeline(get_pipeline(ML), day, ref).state == "success"
    return {p: {d: output_checksums(ref, p, d) for d in DAYS} for p in (ETL, ML)}


@pytest.fixture(scope="module")
def backfill(adapter, request):
    testing.generate_exports(adapter.config, DAYS)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(adapter.backfill, ETL, START, END, parallelism=2,
                              env=plan_to_env(FAULTS), timeout_s=WAIT_S)
        request.getfixturevalue("reference")  # the direct runs, meanwhile
        return running.result()


@pytest.fixture(scope="module")
def ml_runs(backfill, adapter):
    """The ML DAG's asset-triggered runs, once all of them (one per date) are finished."""
    def ended():
        adapter.watch()
        runs = [r for r in adapter.api.dag_runs(ML) if r["run_type"] == "asset_triggered"]
        done = len(runs) >= len(DAYS) and all(r["state"] in ("success", "failed")
                                              for r in runs)
        return runs if done else None

    runs = poll_until(ended, timeout_s=WAIT_S, interval_s=2, what="the ML runs ended")
    assert sorted(r.get("partition_key") or "" for r in runs) == [d.isoformat() for d in DAYS]
    return {r["partition_key"]: r for r in runs}


def test_backfill_runs_every_date_through_the_scheduler(backfill):
    assert backfill.mechanism.startswith("POST /api/v2/backfills")
    assert sorted(r.date for r in backfill.runs) == [d.isoformat() for d in DAYS]
    assert [r.state for r in backfill.runs] == ["success"] * 3
    first = next(r for r in backfill.runs if r.date == START.isoformat())
    assert first.step("monthly_report").state == "success"  # the 1st of the month
    assert first.step("daily_report").state == "skipped"
    assert {s.map_key for s in first.steps if s.step == "gold_region_aggregates"} == set(regions())


def test_backfill_runs_as_many_runs_at_once_as_max_active_runs(backfill):
    spans = [(datetime.fromisoformat(r.start), datetime.fromisoformat(r.end))
             for r in backfill.runs]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == backfill.parallelism == 2


def test_backfill_partitions_equal_direct_runner(backfill, adapter, reference):
    for day in DAYS:
        actual = output_checksums(adapter.config, ETL, day)
        assert len(actual) >= 8 and actual == reference[ETL][day], day


def test_rest_api_tries_and_logs_match_ledger(backfill, adapter):
    ledger = Ledger(adapter.config.ledger_path)
    for run in backfill.runs:
        for step in run.steps:
            if step.state != "success":
                continue
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
    for day, run in ml_runs.items():
        events = adapter.api.get(f"/api/v2/dags/{ML}/dagRuns/"
                                 f"{quote(run['dag_run_id'], safe='')}/upstreamAssetEvents"
                                 )["asset_events"]
        assert [(e["name"], e["partition_key"], e["extra"]["date"], e["source_dag_id"],
                 e["source_task_id"]) for e in events] == [
            ("silver_customers", day, day, ETL, "ingest_cdc")]
        assert run["logical_date"] is None and run["state"] == "success"
    views = {v.run_id: v for v in adapter.read_runs(ML)}
    assert {views[r["dag_run_id"]].date for r in ml_runs.values()} == set(ml_runs)


def test_ml_outputs_of_every_date_equal_direct_runner(ml_runs, adapter, reference):
    for day in DAYS:
        actual = output_checksums(adapter.config, ML, day)
        assert actual and actual == reference[ML][day], day


def test_lake_outputs_have_asset_events_per_date(backfill, adapter):
    events = adapter.api.get("/api/v2/assets/events", source_dag_id=ETL,
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
    alerts = poll_until(lambda: [a for a in read_alerts(adapter.config, kind="deadline",
                                                        pipeline=ML, date=HANG_DAY)
                                 if a["run_id"] == run_id],
                        timeout_s=120, interval_s=2, what="the deadline alert")
    assert len(alerts) == 1
    assert alerts[0]["orchestrator"] == "airflow" and alerts[0]["step"] is None
    assert f"within {timedelta(seconds=DEADLINE_S)} of being queued" in alerts[0]["error"]


def test_statsd_metrics_count_what_the_ledger_saw(ml_runs, adapter):
    metrics = adapter.metrics
    for pipeline, step in ((ETL, "notify"), (ML, "notify"), (ML, "deploy")):
        truth = Ledger(adapter.config.ledger_path).read_attempts(
            pipeline=pipeline, step=step, namespace=adapter.config.namespace)
        ok = sum(r.status == "success" for r in truth)
        failed = sum(r.status == "failed" for r in truth)
        assert metrics.counter("airflow.ti.finish", dag_id=pipeline, task_id=step,
                               state="success") == ok == len(DAYS), (pipeline, step)
        assert metrics.counter("airflow.ti_failures", dag_id=pipeline, task_id=step) \
            == failed, (pipeline, step)
    assert metrics.counter("airflow.ti_failures", dag_id=ML, task_id="deploy") == 1
    assert metrics.timer_count("airflow.dagrun.duration.success", dag_id=ML) == len(DAYS)


def test_settings_name_what_the_adapter_changed(adapter):
    settings = adapter.settings
    assert settings["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "True"  # asset_triggers
    assert settings["AIRFLOW__METRICS__STATSD_PORT"] == str(adapter.metrics.port)
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert settings["AIRFLOW__API__PORT"] == str(adapter.service.port)


def test_a_dead_scheduler_is_recorded_and_nothing_restarts_it(ml_runs, adapter):
    """Killed (as a write conflict on SQLite kills it), the scheduler is found down
    before the next run and recorded with its log's tail; the run ends at once with the
    reason, and nothing starts the scheduler again. Restarted by hand, as an operator would,
    the next run goes through and no new incident appears."""
    before = len(adapter.incidents)
    adapter.api.pause(ML)  # the no-op ETL run's asset event should start nothing
    killed = adapter.service.kill("scheduler")
    assert adapter.service.component(killed, "scheduler")["health"] == "down"
    day, noop = date(2026, 10, 5), {"WORKBENCH_NOOP": "1"}
    with pytest.raises(ComponentDied, match="scheduler died, found at "):
        adapter.run_date(ETL, day, env=noop, timeout_s=600)
    new = adapter.incidents[before:]
    assert [i["component"] for i in new] == ["scheduler"]
    assert "scheduler" in new[0]["log_tail"].lower() and new[0]["time"]
    assert "nothing restarted it" in new[0]["reason"]
    status = adapter.service.status()
    assert adapter.service.component(status, "scheduler")["health"] == "down"
    assert status["healthy"] is False

    adapter.service.restart("scheduler")
    run = adapter.checked(adapter.run_date(ETL, day, env=noop, timeout_s=600))
    assert run.state == "success" and run.error is None
    assert len(adapter.incidents) == before + 1
