"""Retries, failures and alerts against a real luigid (127.0.0.1, free port, task history in
SQLite, Prometheus metrics).

Each test starts from a copy of the lake of one finished ETL date and removes the results of
the pipeline's tail (``choose_report`` and what follows), so Luigi, which re-runs only
incomplete tasks, runs just that tail: the retried and the stopped steps are real, the
Spark work upstream of them is not paid again.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import timedelta

import pytest

from pipelines_core.alerts import read_alerts
from pipelines_core.faults import plan_to_env
from pipelines_core.ledger import Ledger
from pipelines_core.testing import free_port

from workbench_luigi import server
from workbench_luigi.base import results_root
from conftest import ETL_DAY, copy_lake, run_luigi

sys.path.insert(0, str(server.Path(__file__).resolve().parents[2]))
from benchmarks.adapters.luigi_api import LuigidClient  # noqa: E402

pytestmark = [pytest.mark.connect, pytest.mark.luigid]
TAIL = ("choose_report", "monthly_report", "notify")
DAY = ETL_DAY.isoformat()


@pytest.fixture
def luigid(config, tmp_path):
    port = free_port()
    srv = server.start(config, port, tmp_path / "luigid")
    try:
        yield srv
    finally:
        server.stop(tmp_path / "luigid")
        assert not server.port_open(port), "luigid still listens after stop"


@pytest.fixture
def tail_to_run(etl_done, config):
    source, rc, _ = etl_done
    assert rc == 0
    copy_lake(source, config)
    for step in TAIL:
        shutil.rmtree(results_root(config) / "customer_daily_etl" / step)
    return config


def _client(srv) -> LuigidClient:
    return LuigidClient(srv.url, srv.history_db)


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

    client = _client(luigid)
    [task] = client.history("customer_daily_etl.choose_report", date=DAY)
    attempts = task.attempts()
    assert [a.state for a in attempts] == ["failed", "failed", "success"]
    for ours, theirs in zip(attempts, ledger):
        # luigid stamps RUNNING when it hands out the task and the end when the worker
        # reports back: the ledger's attempt lies inside that interval
        start, end = ours.start, ours.end
        assert start - timedelta(seconds=1) <= _ts(theirs.start) <= end + timedelta(seconds=1)
        assert _ts(theirs.end) <= end + timedelta(seconds=1)
    # Luigi's retry: a fixed delay (retry_delay = the spec's base delay, 1 s here), no backoff
    gaps = [(b.start - a.end).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert all(g >= 1.0 for g in gaps), gaps
    for later in ("monthly_report", "notify"):
        [t] = client.history(f"customer_daily_etl.{later}", date=DAY)
        assert [a.state for a in t.attempts()] == ["success"]

    metrics = client.metrics()
    labels = frozenset({("family", "customer_daily_etl.choose_report"), ("date", DAY)})
    assert metrics[("luigi_task_failed_total", labels)] == 2
    assert metrics[("luigi_task_done_total", labels)] == 1
    assert metrics[("luigi_task_started_total", labels)] == 3

    states = {v["name"]: v["status"] for v in client.task_list().values()}
    assert states["customer_daily_etl.notify"] == "DONE"
    assert read_alerts(cfg, kind="failure") == []


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

    client = _client(luigid)
    tasks = client.task_list()
    by_name = {v["name"]: (k, v["status"]) for k, v in tasks.items()}
    assert by_name["customer_daily_etl.choose_report"][1] == "DISABLED"
    blocked = client.task_list(status="PENDING", upstream_status="UPSTREAM_DISABLED")
    assert {v["name"] for v in blocked.values()} == {"customer_daily_etl.monthly_report",
                                                     "customer_daily_etl.notify"}
    assert "InjectedFault" in client.fetch_error(by_name["customer_daily_etl.choose_report"][0])
    [task] = client.history("customer_daily_etl.choose_report", date=DAY)
    assert [a.state for a in task.attempts()] == ["failed"] * 3
    for later in ("monthly_report", "notify"):
        assert all(t.attempts() == [] for t in client.history(f"customer_daily_etl.{later}"))


def _ts(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


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
    status message, which the benchmark adapter reads back."""
    from pipelines_core import testing

    from benchmarks.adapters.luigi import LuigiAdapter

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

    adapter = LuigiAdapter(config)
    adapter.url = luigid.url
    messages = adapter.quality_messages([bad.isoformat()])
    assert messages[bad.isoformat()].startswith(f"quality FAILED for {bad.isoformat()}: ")
    assert "duplicate_keys " in messages[bad.isoformat()]  # every check is listed
    assert " FAILED (" in messages[bad.isoformat()]       # and the failed one is marked
    probe = adapter.quality_probe([bad.isoformat()])
    assert probe["passed"] is True and "quality FAILED" in probe["evidence"]
