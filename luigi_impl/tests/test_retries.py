"""Retries, failures and alerts against a real luigid (127.0.0.1, free port, task history in
SQLite, Prometheus metrics), read back with Luigi's own clients.

Each test starts from a copy of the lake of one finished ETL date without the results of the
pipeline's tail (``tail_to_run``), so only the tail runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipelines_core.alerts import read_alerts
from pipelines_core.faults import plan_to_env
from pipelines_core.ledger import Ledger

from conftest import TAIL, ETL_DAY, history_events, metrics, run_luigi, scheduler

pytestmark = [pytest.mark.connect, pytest.mark.luigid]
DAY = ETL_DAY.isoformat()


def test_transient_failure_is_retried_and_recorded_like_the_ledger(tail_to_run, luigid):
    cfg = tail_to_run
    plan = plan_to_env({"choose_report": {"kind": "raise", "times": 2}})
    rc, summary = run_luigi(cfg, "run", "--pipeline", "customer_daily_etl", "--date", DAY,
                            "--scheduler-url", luigid.url, env=plan)
    assert rc == 0 and summary["status"] == "SUCCESS_WITH_RETRY", summary["details"]

    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="luigi", step="choose_report")
    assert [(r.attempt, r.status) for r in ledger] == [(1, "failed"), (2, "failed"),
                                                       (3, "success")]
    # only the tail ran: nothing upstream of the branch was executed again
    ran = {r.step for r in Ledger(cfg.ledger_path).read_attempts(namespace="luigi")}
    assert ran == set(TAIL)

    events = history_events(luigid, "customer_daily_etl.choose_report", date=DAY)
    assert [name for name, _ in events] == ["RUNNING", "FAILED"] * 2 + ["RUNNING", "DONE"]
    spans = list(zip(events[::2], events[1::2]))
    for ((_, start), (_, end)), rec in zip(spans, ledger):
        # luigid stamps RUNNING when it hands out the task and the end when the worker
        # reports back: the ledger's attempt lies inside that interval
        assert start - timedelta(seconds=1) <= _ts(rec.start) <= end + timedelta(seconds=1)
        assert _ts(rec.end) <= end + timedelta(seconds=1)
    # Luigi's retry: a fixed delay (retry_delay = the spec's base delay, 1 s here), no backoff
    gaps = [(b[0][1] - a[1][1]).total_seconds() for a, b in zip(spans, spans[1:])]
    assert len(gaps) == 2 and all(g >= 1.0 for g in gaps), gaps
    for later in ("monthly_report", "notify"):
        events = history_events(luigid, f"customer_daily_etl.{later}", date=DAY)
        assert [name for name, _ in events][-2:] == ["RUNNING", "DONE"]
        assert "FAILED" not in [name for name, _ in events]

    samples = metrics(luigid)
    labels = frozenset({("family", "customer_daily_etl.choose_report"), ("date", DAY)})
    assert samples[("luigi_task_failed_total", labels)] == 2
    assert samples[("luigi_task_done_total", labels)] == 1
    assert samples[("luigi_task_started_total", labels)] == 3

    states = {v["name"]: v["status"] for v in scheduler(luigid.url).task_list("", "").values()}
    assert states["customer_daily_etl.notify"] == "DONE"
    assert read_alerts(cfg, kind="failure") == []


def test_a_fault_on_the_branch_is_retried_and_the_run_completes(tail_to_run):
    """The branch is a step like the others: a fault plan on ``choose_report`` reaches it,
    Luigi retries it, and the report its successful attempt chose runs."""
    cfg = tail_to_run
    plan = plan_to_env({"choose_report": {"kind": "raise", "times": 1}})
    rc, summary = run_luigi(cfg, "run", "--pipeline", "customer_daily_etl", "--date", DAY,
                            env=plan)
    assert rc == 0 and summary["status"] == "SUCCESS_WITH_RETRY", summary["details"]
    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="luigi")
    assert [(r.step, r.attempt, r.status) for r in ledger] == [
        ("choose_report", 1, "failed"), ("choose_report", 2, "success"),
        ("monthly_report", 1, "success"), ("notify", 1, "success")]
    assert "InjectedFault" in ledger[0].error
    assert ledger[1].metrics == {"branch": "monthly_report"}


def test_permanent_failure_stops_dependents_and_alerts_once(tail_to_run, luigid):
    cfg = tail_to_run
    plan = plan_to_env({"choose_report": {"kind": "permanent"}})
    rc, summary = run_luigi(cfg, "run", "--pipeline", "customer_daily_etl", "--date", DAY,
                            "--scheduler-url", luigid.url, env=plan)
    assert rc == 1 and summary["status"] == "FAILED", summary["details"]

    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="luigi")
    assert [(r.step, r.attempt, r.status) for r in ledger] == [
        ("choose_report", n, "failed") for n in (1, 2, 3)]

    alerts = read_alerts(cfg, kind="failure")
    assert len(alerts) == 1
    assert alerts[0]["step"] == "choose_report" and alerts[0]["orchestrator"] == "luigi"
    assert alerts[0]["attempts"] == 3 and "InjectedFault" in alerts[0]["error"]

    client = scheduler(luigid.url)
    by_name = {v["name"]: (k, v["status"]) for k, v in client.task_list("", "").items()}
    assert by_name["customer_daily_etl.choose_report"][1] == "DISABLED"
    blocked = client.task_list("PENDING", "UPSTREAM_DISABLED")
    # notify waits on the branch's decision; no report was chosen, so none was scheduled
    assert {v["name"] for v in blocked.values()} == {"customer_daily_etl.notify"}
    assert "customer_daily_etl.monthly_report" not in by_name
    error = client.fetch_error(by_name["customer_daily_etl.choose_report"][0])["error"]
    assert "InjectedFault" in error
    events = history_events(luigid, "customer_daily_etl.choose_report", date=DAY)
    assert [name for name, _ in events] == ["RUNNING", "FAILED"] * 3
    assert "RUNNING" not in [n for n, _ in history_events(luigid, "customer_daily_etl.notify",
                                                          date=DAY)]


def _ts(text: str) -> datetime:
    # the ledger's times are UTC-aware; luigid's history (TZ=UTC) is naive
    return datetime.fromisoformat(text).replace(tzinfo=None)


def test_crash_and_hang_are_retried_with_a_local_scheduler(tail_to_run):
    """A killed attempt (crash) and one past ``worker_timeout`` (hang) fail and are retried."""
    cfg = tail_to_run.replace(step_timeout_s=15.0)
    plan = plan_to_env({"choose_report": {"kind": "crash", "times": 1},
                        "notify": {"kind": "hang", "times": 1}})
    rc, summary = run_luigi(cfg, "run", "--pipeline", "customer_daily_etl", "--date", DAY,
                            env=plan)
    assert rc == 0 and summary["status"] == "SUCCESS_WITH_RETRY", summary["details"]
    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="luigi")
    by_step = {s: [r.status for r in ledger if r.step == s] for s in TAIL}
    # neither killed attempt could record its end: the ledger shows them lost
    assert by_step == {"choose_report": ["lost", "success"], "monthly_report": ["success"],
                       "notify": ["lost", "success"]}
    assert [r.attempt for r in ledger if r.step == "choose_report"] == [1, 2]
    log = open(summary["log"]).read()
    assert "died unexpectedly with exit code -9" in log
    assert "timed out after 15 seconds and was terminated" in log
    hung = [r for r in ledger if r.step == "notify"][0]
    retried = [r for r in ledger if r.step == "notify"][1]
    assert (_ts(retried.start) - _ts(hung.start)).total_seconds() >= 15
    assert read_alerts(cfg, kind="failure") == []


def test_quality_gate_stops_the_run_and_shows_its_checks_in_luigid(config, luigid):
    """A bad day: the gate fails on its first (and only) attempt, numbered 1 in the ledger,
    nothing downstream runs, one alert, and luigid holds the gate's checks as the task's
    status message."""
    from pipelines_core import testing

    bad = ETL_DAY + timedelta(days=20)
    testing.generate_exports(config.replace(bad_days=(bad,)), [bad])
    rc, summary = run_luigi(config, "run", "--pipeline", "customer_daily_etl",
                            "--date", bad.isoformat(), "--scheduler-url", luigid.url)
    assert rc == 1 and summary["status"] == "FAILED", summary["details"]

    ledger = Ledger(config.ledger_path).read_attempts(namespace="luigi", date=bad.isoformat())
    assert [(r.step, r.attempt, r.status) for r in ledger] == [
        ("ingest_cdc", 1, "success"), ("quality_gate", 1, "gate_failed")]
    alerts = read_alerts(config, kind="failure")
    assert [(a["step"], a["attempts"]) for a in alerts] == [("quality_gate", 1)]

    client = scheduler(luigid.url)
    [task_id] = client.task_list("", "", search=f"quality_gate(date={bad.isoformat()})")
    message = client.get_task_status_message(task_id)["statusMessage"]
    assert message.startswith(f"quality FAILED for {bad.isoformat()}: ")
    assert "duplicate_keys " in message  # every check is listed
    assert " FAILED (" in message        # and the failed one is marked
