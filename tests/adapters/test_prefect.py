"""The Prefect adapter against real services: Prefect's server and a process worker started by
``python -m workbench_prefect.service`` (in the Prefect environment), every record read back
through the REST API. Beyond the contract suite: the backfill's mechanism and bound, the
retry delays as Prefect recorded them, the Prefect probes, and a crashed flow-run process."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from benchmarks.adapters.base import Probe
from benchmarks.adapters.prefect import PrefectAdapter
from pipelines_core import testing
from pipelines_core.alerts import read_alerts
from pipelines_core.ledger import Ledger
from pipelines_core.procs import poll_until
from pipelines_core.runner import date_range
from pipelines_core.spec import CUSTOMER_DAILY_ETL, retry_policy
from pipelines_core.verify import output_checksums

ETL = "customer_daily_etl"
BACKFILL = (date(2026, 10, 5), date(2026, 10, 7))
RETRY_DAY = date(2026, 10, 9)
CRASH_DAY = date(2026, 10, 16)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def adapter(connect_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("prefect-adapter")
    cfg = connect_config.replace(lake_root=root / "lake", state_dir=root / "state")
    adapter = PrefectAdapter(cfg, home=root / "prefect_home", worker_limit=4)
    testing.generate_exports(adapter.config, [*date_range(*BACKFILL), RETRY_DAY, CRASH_DAY])
    adapter.start()
    try:
        yield adapter
    finally:
        adapter.stop()


@pytest.fixture(scope="module")
def backfill(adapter):
    return adapter.backfill(ETL, *BACKFILL, parallelism=2, timeout_s=900)


@pytest.fixture(scope="module")
def retried(adapter):
    """One date through the worker with ingest_cdc failing its first two attempts."""
    plan = {"ingest_cdc": {"kind": "raise", "times": 2, "dates": [RETRY_DAY.isoformat()]}}
    return adapter.run_date(ETL, RETRY_DAY, env={"WORKBENCH_FAULTS": json.dumps(plan)})


def test_start_runs_the_service_and_records_its_settings(adapter):
    status = adapter.service.status()
    parts = {c["name"]: c for c in status["components"]}
    assert [(n, c["health"]) for n, c in parts.items()] == [("server", "healthy"),
                                                           ("worker", "healthy")]
    assert parts["server"]["port"] == adapter.port and parts["worker"]["pgid"]
    assert adapter.settings["PREFECT_SERVER_METRICS_ENABLED"] == "true"
    assert adapter.settings["PREFECT_WORKER_QUERY_SECONDS"] == "2"
    assert adapter.settings["PREFECT_HOME"] == str(adapter.service.home)
    assert adapter.settings["prefect worker start --limit"] == "4"
    assert adapter.settings["lead_scoring_mlops event trigger"] == "disabled"


def test_backfill_is_deployment_runs_in_a_bounded_work_queue(adapter, backfill):
    days = date_range(*BACKFILL)
    assert backfill.dates == [d.isoformat() for d in days]
    assert [(r.date, r.state) for r in backfill.runs] == [(d.isoformat(), "success")
                                                          for d in days]
    assert "'backfill' work queue, concurrency_limit=2" in backfill.mechanism
    spans = [(_ts(r.start), _ts(r.end)) for r in backfill.runs]
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak == backfill.parallelism == 2  # two side by side, the third waited
    for day in days:
        assert output_checksums(adapter.config, ETL, day) == testing.reference_outputs(
            adapter.config, ETL, day)


def test_backfilled_run_read_back_with_steps_attempts_and_logs(adapter, backfill):
    [run] = adapter.read_runs(ETL, date(2026, 10, 6))
    assert run.run_id == backfill.runs[1].run_id and run.state == "success"
    assert run.url == f"{adapter.url}/runs/flow-run/{run.run_id}"
    assert sorted(s.map_key for s in run.steps if s.step == "gold_region_aggregates") == [
        "amer", "apac", "emea", "latam"]
    assert run.step("daily_report").state == "success"
    assert run.step("monthly_report") is None
    [attempt] = run.step("ingest_cdc").attempts
    assert attempt.state == "success" and attempt.duration_s > 0
    assert "ingest_cdc 2026-10-06 attempt 1" in attempt.log_excerpt
    # the core's own line (logger "workbench"), shipped by PREFECT_LOGGING_EXTRA_LOGGERS
    assert "customer_daily_etl.ingest_cdc 2026-10-06 attempt 1 started" in attempt.log_excerpt


def test_retries_reported_as_the_ledger_saw_them_with_the_configured_delays(adapter, retried):
    assert retried.state == "success"
    ledger = Ledger(adapter.config.ledger_path).read_attempts(
        pipeline=ETL, step="ingest_cdc", date=RETRY_DAY.isoformat(),
        namespace=adapter.config.namespace)
    attempts = retried.step("ingest_cdc").attempts
    assert [a.state for a in attempts] == [r.status for r in ledger] == [
        "failed", "failed", "success"]
    assert "InjectedFault" in attempts[0].error
    policy = retry_policy(CUSTOMER_DAILY_ETL, adapter.config)
    for n in (1, 2):
        want = policy.delay_before(n)
        gap = (_ts(attempts[n].start) - _ts(attempts[n - 1].end)).total_seconds()
        assert want - 0.05 <= gap < want + 2.0, (n, gap, want)


def test_probes_are_callables_answering_from_the_server(adapter, retried):
    mine = {"happy": [{"run": {"run_id": retried.run_id}, "date": RETRY_DAY.isoformat()}]}
    # Asset events reach the server as events, a moment after the run's final state; the
    # harness asks long after its runs: wait here for the last task's.
    poll_until(lambda: any(e["resource"]["prefect.resource.id"].endswith(
        "/customer_daily_etl_notifications") for e in adapter.asset_events(retried.run_id)),
        timeout_s=60, what="the notify task's materialisation event")
    probes = {p.name: p for p in (probe() for probe in adapter.probes(mine))}
    assert all(isinstance(p, Probe) for p in probes.values())
    assert probes["lineage_events"].passed is True, probes["lineage_events"]
    assert probes["quality_results"].passed is True, probes["quality_results"]
    assert "passed" in probes["quality_results"].evidence
    # Prefect 3.8's /api/metrics has no series counting flow or task runs
    assert probes["metrics_endpoint"].passed is False
    assert "metric families" in probes["metrics_endpoint"].evidence


def test_a_probe_that_raises_fails_alone(adapter):
    """Without a happy run the run-based probes raise when called; the metrics probe still
    answers."""
    probes = adapter.probes({})
    assert probes[0]().name == "metrics_endpoint"
    for probe in probes[1:]:
        with pytest.raises(KeyError):
            probe()


def test_crashed_flow_run_process_is_failed_lost_and_alerts_once(adapter, backfill):
    config = adapter.config
    plan = {"ingest_cdc": {"kind": "crash", "times": 1, "dates": [CRASH_DAY.isoformat()]}}
    run = adapter.run_date(ETL, CRASH_DAY, env={"WORKBENCH_FAULTS": json.dumps(plan)},
                           timeout_s=600)
    assert run.state == "failed"
    assert adapter.api.get(f"/flow_runs/{run.run_id}")["state"]["type"] == "CRASHED"
    attempts = Ledger(config.ledger_path).read_attempts(
        namespace=config.namespace, date=CRASH_DAY.isoformat(), step="ingest_cdc")
    assert [(r.attempt, r.status) for r in attempts] == [(1, "lost")]
    # run_date returned once the on_crashed hook (run by the worker in a new process) had
    # logged: its alert is already in the sink
    alerts = read_alerts(config, kind="failure", namespace=config.namespace,
                         date=CRASH_DAY.isoformat())
    assert [(a["orchestrator"], a["state"], a["flow_run_id"]) for a in alerts] == [
        ("prefect", "Crashed", run.run_id)]


def test_a_flow_called_in_process_reports_its_run_to_the_server(adapter):
    """The faster mode Prefect documents: the flow called in a process of its own, no
    worker, no deployment; the run is still the server's record, read back the same way."""
    day = date(2026, 10, 9)
    testing.generate_exports(adapter.config, [day])
    adapter.in_process = True
    try:
        run = adapter.run_date(ETL, day, env={"WORKBENCH_NOOP": "true"}, timeout_s=600)
    finally:
        adapter.in_process = False
    assert run.state == "success" and run.date == day.isoformat()
    flow_run = adapter.api.get(f"/flow_runs/{run.run_id}")
    assert flow_run["deployment_id"] is None  # not a deployment run: nothing went to the worker
    executed = {a.step for a in Ledger(adapter.config.ledger_path).read_attempts(
        namespace="prefect", date=day.isoformat())}
    assert executed and executed <= {s.step for s in run.steps}
