"""Retries as Prefect records them, against the ledger; a permanent failure, a failed gate and
hanging attempts each stop downstream and send exactly one alert."""

from __future__ import annotations

import json
import re
from datetime import date, datetime

from pipelines_core import testing
from pipelines_core.alerts import read_alerts
from pipelines_core.ledger import Ledger
from pipelines_core.spec import CUSTOMER_DAILY_ETL, retry_policy

from conftest import E2E_DAY, E2E_NAMESPACE


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _task_run(stack, flow_run_id: str, name: str) -> dict:
    runs = stack.task_runs(flow_run_id)
    return next(t for t in runs if t["name"] == name)


def test_transient_fault_retried_as_ledger_saw_it(stack, e2e):
    assert e2e.etl_state == "COMPLETED"
    config = stack.in_namespace(E2E_NAMESPACE)
    ledger = Ledger(config.ledger_path).read_attempts(
        pipeline="customer_daily_etl", step="ingest_cdc", date=E2E_DAY.isoformat(),
        namespace=E2E_NAMESPACE)
    assert [(r.attempt, r.status, r.orchestrator) for r in ledger] == [
        (1, "failed", "prefect"), (2, "failed", "prefect"), (3, "success", "prefect")]

    tr = _task_run(stack, e2e.etl_run_id, "ingest_cdc")
    assert tr["run_count"] == 3
    assert tr["state"]["type"] == "COMPLETED"
    states = stack.task_states(tr["id"])
    assert [s["name"] for s in states if s["type"] in ("RUNNING", "SCHEDULED")] == [
        "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying"]

    # Prefect's record of the backoff: each AwaitingRetry is scheduled `delay` seconds out.
    policy = retry_policy(CUSTOMER_DAILY_ETL, config)
    assert policy.delays() == [1.0, 2.0]
    waits = [s for s in states if s["name"] == "AwaitingRetry"]
    planned = [(_ts(s["state_details"]["scheduled_time"]) - _ts(s["timestamp"])).total_seconds()
               for s in waits]
    for got, want in zip(planned, policy.delays(), strict=True):
        assert abs(got - want) < 0.5, (planned, policy.delays())

    # The observed gaps follow the configured backoff, in the ledger and in Prefect's record
    # (from the state that ended an attempt to the next attempt's Retrying state).
    began = [s for s in states if s["type"] == "RUNNING"]
    ended = [states[states.index(s) + 1] for s in began]
    assert [s["name"] for s in ended] == ["AwaitingRetry", "AwaitingRetry", "Completed"]
    failures = [lg["message"] for lg in stack.logs(task_run_id=[tr["id"]])
                if "Retry" in lg["message"] and "InjectedFault" in lg["message"]]
    assert len(failures) == 2, failures
    for n in (1, 2):
        want = policy.delay_before(n)
        gap = (_ts(ledger[n].start) - _ts(ledger[n - 1].end)).total_seconds()
        assert want - 0.05 <= gap < want + 2.0, (n, gap, want)
        prefect_gap = (_ts(began[n]["timestamp"])
                       - _ts(ended[n - 1]["timestamp"])).total_seconds()
        assert want - 0.05 <= prefect_gap < want + 2.0, (n, prefect_gap, want)


def test_permanent_failure_stops_downstream_and_alerts_once(stack, workbench_env):
    from workbench_prefect.etl import customer_daily_etl

    day, namespace = date(2026, 10, 9), "prefect_fail"
    config = stack.in_namespace(namespace)
    testing.generate_exports(config, [day])
    workbench_env(namespace, '{"ingest_cdc": {"kind": "permanent"}}')
    state = customer_daily_etl(day=day, return_state=True)
    assert state.is_failed()

    names = [t["name"] for t in stack.task_runs(str(state.state_details.flow_run_id))]
    assert sorted(names) == ["ingest_cdc", "wait_for_export"]
    attempts = Ledger(config.ledger_path).read_attempts(namespace=namespace, date=day.isoformat())
    assert [(r.step, r.status) for r in attempts] == [
        ("wait_for_export", "success"), ("ingest_cdc", "failed"), ("ingest_cdc", "failed"),
        ("ingest_cdc", "failed")]
    alerts = read_alerts(config, kind="failure", namespace=namespace)
    assert len(alerts) == 1
    assert alerts[0]["step"] == "ingest_cdc" and alerts[0]["orchestrator"] == "prefect"
    assert "InjectedFault" in alerts[0]["error"] or "permanent" in alerts[0]["error"]
    assert alerts[0]["attempts"] == 3


def test_quality_gate_stops_downstream_without_retry(stack, workbench_env):
    """A bad day: the gate's verdict is final (retry_condition_fn), nothing downstream runs,
    one alert names the gate, and the failed checks are published as an artifact."""
    from workbench_prefect.etl import customer_daily_etl

    day, namespace = date(2026, 10, 12), "prefect_gate"
    config = stack.in_namespace(namespace)
    testing.generate_exports(config.replace(bad_days=(day,)), [day])
    workbench_env(namespace)
    state = customer_daily_etl(day=day, return_state=True)
    assert state.is_failed()

    run_id = str(state.state_details.flow_run_id)
    runs = {t["name"]: t for t in stack.task_runs(run_id)}
    assert sorted(runs) == ["ingest_cdc", "quality_gate", "wait_for_export"]
    assert runs["quality_gate"]["run_count"] == 1
    assert runs["quality_gate"]["state"]["type"] == "FAILED"
    alerts = read_alerts(config, kind="failure", namespace=namespace)
    assert [a["step"] for a in alerts] == ["quality_gate"]
    assert "GateFailed" in alerts[0]["error"] or "quality gate failed" in alerts[0]["error"]
    artifacts = stack.api.post("/artifacts/filter",
                               {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    quality = next(a for a in artifacts if a["key"] == "customer-quality")
    assert "FAILED" in quality["description"]
    checks = quality["data"] if isinstance(quality["data"], list) else json.loads(quality["data"])
    assert any(not c["passed"] for c in checks)


def test_hanging_attempts_cut_by_timeout_seconds(stack, workbench_env, monkeypatch):
    """timeout_seconds interrupts a hanging attempt (SIGALRM in the flow's main thread); the
    retries follow, and when every attempt hangs the run fails with one alert."""
    from workbench_prefect.etl import customer_daily_etl

    day, namespace = date(2026, 10, 14), "prefect_hang"
    config = stack.in_namespace(namespace)
    testing.generate_exports(config, [day])
    workbench_env(namespace, '{"ingest_cdc": {"kind": "hang", "times": 5, "hang_s": 60}}')
    monkeypatch.setenv("WORKBENCH_STEP_TIMEOUT_S", "3")
    state = customer_daily_etl(day=day, return_state=True)
    assert state.is_failed()

    attempts = Ledger(config.ledger_path).read_attempts(namespace=namespace, step="ingest_cdc")
    assert [(r.attempt, r.status) for r in attempts] == [(1, "failed"), (2, "failed"),
                                                         (3, "failed")]
    for r in attempts:
        assert 2.9 <= r.duration_s < 8, r.duration_s  # cut at 3 s, not the 60 s hang
        assert (r.error or "").startswith("CancelledError")  # how the cut reaches the step
    run_id = str(state.state_details.flow_run_id)
    runs = {t["name"]: t for t in stack.task_runs(run_id)}
    assert sorted(runs) == ["ingest_cdc", "wait_for_export"]
    assert runs["ingest_cdc"]["run_count"] == 3
    assert runs["ingest_cdc"]["state"]["name"] == "TimedOut"
    states = stack.task_states(runs["ingest_cdc"]["id"])
    began = [s for s in states if s["type"] == "RUNNING"]
    ended = [states[states.index(s) + 1] for s in began]
    assert [s["name"] for s in ended] == ["AwaitingRetry", "AwaitingRetry", "TimedOut"]
    cut = re.compile(r"time(d out after|out of) 3\.0 second")
    assert cut.search(ended[-1]["message"]), ended[-1]
    retried = [lg["message"] for lg in stack.logs(task_run_id=[runs["ingest_cdc"]["id"]])
               if "Retry" in lg["message"] and cut.search(lg["message"])]
    assert len(retried) == 2, retried
    assert len(read_alerts(config, kind="failure", namespace=namespace)) == 1
