"""The Luigi adapter against a real luigid (its service command, a free port) and real
workers: what it reads back from luigid's API, its task history, ``/metrics`` and the worker
logs agrees with the ledger; the branch's dynamic dependency is not an attempt; a disabled
task is re-enabled after a fix; the quality gate's checks are read from luigid; a run past
its timeout leaves no attempt running.

One date (the 1st: the monthly branch) runs in full once; the later tests empty the results
of its tail (``choose_report`` and what follows) so only the tail runs again.
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date, datetime, timedelta, timezone

import pytest

from benchmarks.adapters.base import Probe, RunView
from benchmarks.adapters.luigi import LuigiAdapter
from pipelines_core import faults, testing
from pipelines_core.ledger import Ledger
from pipelines_core.procs import pid_alive, port_open
from pipelines_core.service import tail

ETL = "customer_daily_etl"
DAY = date(2026, 10, 1)
BAD = DAY + timedelta(days=20)
TAIL = ("choose_report", "monthly_report", "notify")


@pytest.fixture(scope="module")
def adapter(connect_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("luigi-adapter")
    adapter = LuigiAdapter(connect_config.replace(lake_root=root / "lake",
                                                  state_dir=root / "state"))
    testing.generate_exports(adapter.config, [DAY])
    testing.generate_exports(adapter.config.replace(bad_days=(BAD,)), [BAD])
    adapter.start()
    try:
        yield adapter
    finally:
        adapter.stop()
        assert not port_open(adapter.port)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def run(adapter: LuigiAdapter, plan: dict | None = None, timeout_s: float = 900) -> RunView:
    faults.reset(adapter.config.state_dir)
    return adapter.run_date(ETL, DAY, env=faults.plan_to_env(plan or {}), timeout_s=timeout_s)


def attempts(adapter: LuigiAdapter, step: str, day: date = DAY) -> list:
    return Ledger(adapter.config.ledger_path).read_attempts(
        namespace="luigi", pipeline=ETL, step=step, date=day.isoformat())


def forget_tail(adapter: LuigiAdapter) -> None:
    """Empty the tail's results (``workbench_luigi.base.results_root``), so it runs again."""
    results = adapter.config.namespace_root() / "reports" / "_luigi" / ETL
    for step in TAIL:
        shutil.rmtree(results / step / f"date={DAY.isoformat()}")


@pytest.fixture(scope="module")
def first_run(adapter) -> RunView:
    return run(adapter, {"choose_report": {"kind": "raise", "times": 1}})


def test_service_and_settings(adapter):
    status = adapter.service.status()
    [luigid] = status["components"]
    assert (luigid["name"], luigid["health"], luigid["port"]) == ("luigid", "healthy",
                                                                  adapter.port)
    assert adapter.url == f"http://127.0.0.1:{adapter.port}"
    assert adapter.settings["scheduler.retry_delay"] == "1"  # the spec's base delay
    assert adapter.settings["worker.keep_alive"] == "true"
    assert adapter.settings["luigid --fresh-state"].startswith("scheduler state deleted")


def test_the_branch_and_its_retry_as_the_ledger_saw_them(adapter, first_run):
    assert first_run.state == "success"
    branch = first_run.step("choose_report")
    assert [a.state for a in branch.attempts] == ["failed", "success"]
    assert "injected raise fault" in branch.attempts[0].error
    for attempt, rec in zip(branch.attempts, attempts(adapter, "choose_report")):
        assert f"(pid {rec.pid})" in attempt.log_excerpt  # the attempt's own process
        assert attempt.duration_s > 0
    # notify ran twice in Luigi's eyes (once to yield the chosen report): one attempt
    notify = first_run.step("notify")
    assert [(a.attempt, a.state) for a in notify.attempts] == [(1, "success")]
    assert [r.status for r in attempts(adapter, "notify")] == ["success"]
    assert first_run.step("monthly_report").state == "success"
    assert first_run.step("daily_report") is None  # the branch not taken: never scheduled


def test_probes_are_callables_answering_from_luigid(adapter, first_run):
    failed = [r for r in attempts(adapter, "choose_report") if r.status == "failed"]
    mine = {"happy": [{"date": DAY.isoformat()}],
            "retries": {"transient": {"step": "choose_report", "date": DAY.isoformat(),
                                      "attempts_truth": len(failed) + 1}},
            "backfill": {}}
    probes = [probe() for probe in adapter.probes(mine)]
    assert all(isinstance(p, Probe) for p in probes)
    by_name = {p.name: p for p in probes}
    assert set(by_name) == {"metrics_endpoint", "lineage_events", "quality_results"}
    assert by_name["metrics_endpoint"].passed is True, by_name["metrics_endpoint"].evidence
    assert by_name["lineage_events"].passed is None
    assert by_name["quality_results"].passed is True  # the happy day's gate: passed checks
    assert f"{DAY.isoformat()}: quality passed" in by_name["quality_results"].evidence


def test_permanent_failure_then_the_fix(adapter, first_run):
    forget_tail(adapter)
    earlier = attempts(adapter, "choose_report")
    failed = run(adapter, {"choose_report": {"kind": "permanent"}})
    assert failed.state == "failed"
    ledger = attempts(adapter, "choose_report")[len(earlier):]
    branch = failed.step("choose_report")
    # luigid still counts first_run's failure (disable_window, an hour): one attempt fewer
    allowed = 3 - sum(r.status == "failed" for r in earlier)
    assert [a.state for a in branch.attempts] == [r.status for r in ledger] == [
        "failed"] * allowed
    assert all("injected permanent fault" in a.error for a in branch.attempts)
    assert failed.step("notify").state == "upstream_failed"
    assert failed.step("monthly_report") is None  # no decision: no report scheduled
    # gold_summary was found complete (luigid holds it DONE since first_run, so its history
    # has no new event) and Luigi did not look further upstream
    assert [s.step for s in failed.steps] == ["choose_report", "notify"]

    labels = frozenset({("family", f"{ETL}.choose_report"), ("date", DAY.isoformat())})
    assert adapter.read_metrics()[("luigi_task_disabled_total", labels)] == 1
    again = next(r for r in adapter.read_runs(ETL, DAY) if r.run_id == failed.run_id)
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(failed.to_dict(),
                                                                     sort_keys=True)

    # after the fix: luigid still holds choose_report DISABLED; the adapter re-enables it
    fixed = run(adapter)
    assert fixed.state == "success"
    assert [a.state for a in fixed.step("choose_report").attempts] == ["success"]
    assert fixed.step("notify").state == "success"


def test_quality_gate_checks_are_read_from_luigid(adapter):
    faults.reset(adapter.config.state_dir)
    bad = adapter.run_date(ETL, BAD)
    assert bad.state == "failed"
    gate = bad.step("quality_gate")
    assert gate.state == "failed" and [a.state for a in gate.attempts] == ["failed"]
    assert [r.status for r in attempts(adapter, "quality_gate", BAD)] == ["gate_failed"]
    assert bad.step("gold_summary").state == "upstream_failed"
    message = adapter.quality_messages([BAD.isoformat()])[BAD.isoformat()]
    assert message.startswith(f"quality FAILED for {BAD.isoformat()}: ")
    assert "duplicate_keys " in message and " FAILED (" in message
    probe = adapter.quality_results([BAD.isoformat()])
    assert probe.passed is True and "quality FAILED" in probe.evidence


def test_a_run_past_its_timeout_leaves_no_attempt_running(adapter, first_run):
    forget_tail(adapter)
    before = len(attempts(adapter, "choose_report"))
    hung = run(adapter, {"choose_report": {"kind": "hang", "times": 1, "hang_s": 300}},
               timeout_s=40)
    assert hung.state == "failed"
    [rec] = attempts(adapter, "choose_report")[before:]
    assert rec.status == "lost"  # stopped with the worker, it never recorded its end
    assert not pid_alive(rec.pid)


def test_a_component_that_dies_is_reported_and_its_runs_count_as_failed(adapter, first_run):
    """Nothing restarts a dead component: the adapter records it once in ``incidents`` (which,
    when, its log's tail), and a run it reads afterwards counts as failed, with the reason.
    Last in the module: luigid stays dead until the fixture's ``stop``."""
    assert adapter.components_died() == [] and adapter.incidents == []
    assert adapter.checked(copy.deepcopy(first_run)).state == "success"
    luigid = adapter.service.component(adapter.service.up_status, "luigid")
    adapter.service.kill("luigid")  # SIGKILL to its process group, as an OOM killer would

    run = adapter.checked(copy.deepcopy(first_run))  # what luigid had reported: success
    assert run.state == "failed"
    assert run.error == "luigid of luigi died (see incidents); the orchestrator reported 'success'"
    [incident] = adapter.incidents
    assert incident["component"] == "luigid" and incident["orchestrator"] == "luigi"
    assert f"process group {luigid['pgid']} is gone" in incident["reason"]
    assert incident["log_tail"] == tail(luigid["log"], 40)  # its log, as it was left
    assert adapter.components_died() == []  # reported once
    status = adapter.service.status()
    assert adapter.service.component(status, "luigid")["health"] == "down"  # not restarted
    assert not pid_alive(luigid["pid"])
