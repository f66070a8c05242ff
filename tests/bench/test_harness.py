"""The benchmark harness end to end at tiny scale: every scenario fills its cells for the
direct baseline, one real orchestrator (Luigi, the cheapest to start) is measured against it,
results validate against the versioned schema, the report renders with its charts, and
``workbench bench`` runs any subset of scenarios and orchestrators."""

import argparse
import io
import json
from datetime import datetime
from html.parser import HTMLParser

import jsonschema
import pytest

from benchmarks import report
from benchmarks import scenarios as scenarios_mod
from benchmarks.harness import BenchPlan, Harness, load_adapter, write_results
from benchmarks.measures import max_gap_s
from benchmarks.results import SCHEMA_PATH
from pipelines_core import testing
from pipelines_core.ledger import AttemptRecord, Ledger
from pipelines_core.postgres import PostgresServer
from pipelines_core.procs import free_port

SCHEMA = json.loads(SCHEMA_PATH.read_text())


def test_unknown_orchestrator_is_refused():
    with pytest.raises(ValueError, match="unknown orchestrator 'nifi'"):
        load_adapter("nifi", None)


@pytest.fixture(scope="module")
def bench(connect_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    cfg = connect_config.replace(lake_root=root / "lake", state_dir=root / "state")
    plan = BenchPlan(["direct"], scale=1_000, repetitions=1, backfill_days=2,
                     step_timeout_s=12.0)
    results = Harness(cfg, plan, progress=lambda m: None).run()
    folder = write_results(results, root / "reports")
    return results, folder, cfg


def test_every_scenario_is_measured_for_the_baseline(bench):
    results, _, cfg = bench
    d = results["orchestrators"]["direct"]
    assert d["errors"] == []
    assert (d["settings"], d["incidents"]) == ({}, [])
    hp = d["scenarios"]["happy_path"]
    assert hp["states"] == ["success"]
    assert 0 < hp["floor_wall_s"] < hp["wall_s"]
    [warmup, counted] = hp["runs"]
    assert (warmup["warmup"], counted["warmup"]) == (True, False)
    # The figures of the counted run, from its own ledger attempts.
    ledger = [AttemptRecord(**{k: v for k, v in a.items() if k != "duration_s"})
              for a in counted["ledger"]]
    # Nine steps, four of them one per region, less the monthly report the branch skipped.
    assert len(ledger) == 11 and {a.status for a in ledger} == {"success"}
    assert "monthly_report" not in {a.step for a in ledger}
    assert counted["step_s"] == round(sum(a["duration_s"] for a in counted["ledger"]), 3)
    assert counted["overhead_s"] == pytest.approx(counted["wall_s"] - counted["step_s"],
                                                  abs=0.002)  # each rounded apart
    assert hp["max_gap_s"] == counted["max_gap_s"] == max_gap_s(ledger)
    # The direct runner goes from one step to the next in the same process: no wait.
    assert hp["max_gap_s"] < 0.1
    # The direct runner's own record of the run: inside the wall time, which adds the
    # process start.
    assert 0 < counted["run_s"] < counted["wall_s"]
    r = d["scenarios"]["retries"]
    assert r["transient"]["recovered"] is True
    assert (r["transient"]["attempts_recorded"], r["transient"]["attempts_truth"]) == (3, 3)
    assert r["transient"]["delays_configured_s"] == [1.0, 2.0]
    assert [round(x) for x in r["transient"]["delays_observed_s"]] == [1, 2]
    assert r["hang"]["recovered"] is True and r["hang"]["attempts_truth"] == 2
    # The hang sleeps 17 s, 5 s past the plan's 12 s timeout, which cut it at 12 s.
    assert r["hang"]["fault"]["hang_s"] == 17.0
    assert results["configuration"]["retry"]["step_timeout_s"] == 12.0
    [hung] = [a for a in Ledger(cfg.ledger_path).read_attempts(
        step="daily_report", date=r["hang"]["date"], namespace="direct") if a.attempt == 1]
    assert hung.status == "failed" and 11.5 <= hung.duration_s < 14
    assert r["crash"]["recovered"] is False  # no supervisor brings a killed process back
    assert r["permanent"]["recovered"] is False
    assert r["permanent"]["attempts_truth"] == 3
    assert r["permanent"]["downstream_skipped"] is True
    assert r["permanent"]["alert_delivered"] is True
    # The four fault runs go together under one plan: the hang's run overlaps every other
    # one, and each fault still hit only its own date.
    hang, others = r["hang"]["run"], [r[k]["run"] for k in ("transient", "crash", "permanent")]
    assert all(o["start"] < hang["end"] and hang["start"] < (o["end"] or hang["end"])
               for o in others)
    assert {r[k]["runs_at_once"] for k in r} == {4}
    b = d["scenarios"]["backfill"]
    assert b["states"] == ["success", "success"]
    assert b["rerun_steps_executed"] == 2 * 11  # the direct runner skips nothing
    assert b["bad_day"]["others_finished"] and b["bad_day"]["bad_failed"]
    assert b["bad_day"]["rerun_dates_executed"] == b["bad_day"]["dates"]
    # No fault of the retry scenarios reached the bad range: its only failure is the bad
    # day's quality gate.
    failed = {(a.date, a.step) for a in Ledger(cfg.ledger_path).read_attempts(
        namespace="direct") if a.date in b["bad_day"]["dates"] and a.status != "success"}
    assert failed == {(b["bad_day"]["bad_date"], "quality_gate")}
    probes = {p["name"]: p["passed"] for p in d["scenarios"]["observability"]["probes"]}
    assert probes == {"run_state": True, "step_states": True, "attempts_match": True,
                      "durations": True, "per_attempt_logs": None, "failure_message": True,
                      "failure_visible": True, "alert_delivered": True,
                      "metrics_endpoint": None, "lineage_events": None,
                      "quality_results": None}
    assert d["scenarios"]["observability"]["score"] == round(7 / 11, 3)
    res = results["resources"]
    # The Connect server alone holds a JVM: the sample must have seen it and this process.
    assert res["peak_rss_bytes"] > 300e6
    assert res["turn_s_by_orchestrator"]["direct"] <= res["wall_s"]
    assert set(res["peak_rss_gb_by_orchestrator"]) >= {"direct"}
    # Shared pages count once in PSS: never more than the summed RSS, never far below it
    # for a JVM that holds its own heap.
    assert 300e6 < res["peak_pss_bytes"] <= res["peak_rss_bytes"]
    assert set(res["peak_pss_gb_by_orchestrator"]) == set(res["peak_rss_gb_by_orchestrator"])


def test_results_validate_against_the_schema(bench):
    results, folder, _ = bench
    jsonschema.validate(json.loads((folder / "results.json").read_text()), SCHEMA)
    broken = json.loads(json.dumps(results))
    del broken["orchestrators"]["direct"]["scenarios"]["happy_path"]["wall_s"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
    assert (folder.parent / "latest").resolve() == folder.resolve()


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids |= {v for k, v in attrs if k == "id"}


def test_report_renders_with_charts_and_a_cell_per_scenario(bench):
    results, folder, _ = bench
    md, html = report.render(results, folder)
    parser = _Collect()
    parser.feed(html.read_text())
    assert parser.tags.count("svg") == 4
    assert {"chart-overhead", "chart-gantt", "chart-retries", "chart-backfill",
            "headline-table", "observability"} <= parser.ids
    text = md.read_text()
    for kind in ("transient", "crash", "hang", "permanent"):
        assert f"| direct | {kind} (" in text
    assert "| direct | workbench backfill (thread pool) | 2 |" in text
    assert "not supported" in text  # e.g. the direct runner has no metrics endpoint
    assert f"peak memory {results['resources']['peak_pss_gb']} GB" in text
    turn = results["resources"]["turn_s_by_orchestrator"]["direct"]
    start = results["resources"]["services_start_s_by_orchestrator"]["direct"]
    assert start == [0.0]  # the direct runner has no services to start
    phases = results["resources"]["phase_s_by_orchestrator"]["direct"]
    assert set(phases) == {"happy_path", "retries", "backfill", "bad_day", "observability",
                           "stop"}
    assert start[0] + sum(phases.values()) <= turn + 0.5  # parts of the turn, rounded
    assert phases["happy_path"] > 0 and phases["backfill"] > 0
    row = (f"| direct | {turn} | {start[0]} | " + " | ".join(
        str(phases[p]) for p in ("happy_path", "retries", "backfill", "bad_day",
                                     "observability", "stop")) + " |")
    assert row in text
    assert 'id="time-table"' in html.read_text()


@pytest.fixture
def production_config(connect_config):
    """A state folder the postgres user can reach (pytest's own are closed to it), with the
    production profile's PostgreSQL on a free port, stopped at the end."""
    with testing.traversable_root("wb-harness-") as root:
        cfg = connect_config.replace(lake_root=root / "lake", state_dir=root / "state",
                                     postgres_port=free_port())
        try:
            yield cfg
        finally:
            PostgresServer(cfg).stop()


@pytest.mark.timeout(1800)  # two benchmarks on a real orchestrator: 4 to 10 min on 2 cores
def test_one_orchestrator_side_by_side_with_the_baseline(production_config):
    """Luigi next to the direct runner, on the production profile (its task history in the
    workbench's PostgreSQL): its wall time against the baseline's, its backfill's outputs
    against the baseline's, a fault plan that reaches the right attempt, and Luigi's own
    record of the run agreeing with the ledger."""
    cfg = production_config
    plan = BenchPlan(["luigi"], scale=1_000, repetitions=1, backfill_days=2, bad_range_days=2,
                     scenarios=("happy_path", "retries", "backfill"),
                     retry_kinds=("transient",), extra_rows=("luigi (default profile)",))
    assert plan.profile == "production"  # the benchmark's default
    results = Harness(cfg, plan, progress=lambda m: None,
                      adapter_options={"luigi": {"port": free_port()}}).run()
    direct, luigi = (results["orchestrators"][n] for n in ("direct", "luigi"))
    assert direct["errors"] == [] and luigi["errors"] == []
    assert (luigi["profile"], direct["profile"]) == ("production", None)
    assert luigi["mode"].startswith("central scheduler (luigid)")
    assert luigi["settings"]["task_history.db_connection"] == (
        f"postgresql+psycopg2://luigi:***@127.0.0.1:{cfg.postgres_port}/luigi")
    pg = results["configuration"]["postgres"]
    assert pg["port"] == cfg.postgres_port and pg["settings"]["listen_addresses"] == "127.0.0.1"
    assert PostgresServer(cfg).query("SELECT count(*) FROM tasks", user="luigi",
                                     database="luigi")[0][0] != "0"
    # the extra row: Luigi on its quickstart's SQLite, the happy path and the floor only
    extra = results["orchestrators"]["luigi (default profile)"]
    assert (extra["orchestrator"], extra["profile"], extra["errors"]) == ("luigi", "default", [])
    assert extra["scenarios"]["happy_path"]["states"] == ["success"]
    assert extra["scenarios"]["retries"] == {} and extra["scenarios"]["observability"][
        "score"] is None
    assert extra["settings"]["task_history.db_connection"].startswith("sqlite:///")
    [pair] = report.profile_rows(results)
    assert pair["orchestrator"] == "luigi" and pair["wall_production_s"] == report._fmt(
        luigi["scenarios"]["happy_path"]["wall_s"])
    jsonschema.validate(results, SCHEMA)
    hp, base = luigi["scenarios"]["happy_path"], direct["scenarios"]["happy_path"]
    assert hp["states"] == ["success"]
    assert hp["overhead_ratio"] == round(hp["wall_s"] / base["wall_s"], 3)
    assert hp["wall_s"] != base["wall_s"]  # two runs measured, not one compared with itself
    counted = hp["runs"][-1]
    assert counted["ledger"] and {a["orchestrator"] for a in counted["ledger"]} == {"luigi"}
    assert counted["step_s"] == round(sum(a["duration_s"] for a in counted["ledger"]), 3)
    assert 0 < hp["max_gap_s"] < hp["wall_s"]
    assert 0 < hp["floor_wall_s"] < hp["wall_s"]
    t = luigi["scenarios"]["retries"]["transient"]
    assert t["recovered"] is True
    # Two injected failures then a success: the third attempt is the one that gets through.
    assert (t["attempts_recorded"], t["attempts_truth"]) == (3, 3)
    truth = sorted((a for a in Ledger(cfg.ledger_path).read_attempts(
        step=t["step"], namespace="luigi") if a.date == t["date"]), key=lambda a: a.start)
    assert [a.status for a in truth] == ["failed", "failed", "success"]
    # Each delay runs from one failed attempt's end to the next attempt's start.
    assert t["delays_observed_s"] == [
        round((datetime.fromisoformat(nxt.start) - datetime.fromisoformat(prev.end))
              .total_seconds(), 3) for prev, nxt in zip(truth, truth[1:])]
    b = luigi["scenarios"]["backfill"]
    assert b["states"] == ["success", "success"] and b["mechanism"] != \
        direct["scenarios"]["backfill"]["mechanism"]
    # Luigi's partitions, checksum for checksum, are the direct runner's.
    assert b["identical_to_direct"] is True
    assert b["rerun_steps_executed"] == 0  # Luigi's targets exist: nothing runs again
    assert b["bad_day"]["others_finished"] and b["bad_day"]["bad_failed"]
    assert b["bad_day"]["rerun_dates_executed"] == [b["bad_day"]["bad_date"]]
    assert set(results["resources"]["peak_rss_gb_by_orchestrator"]) >= {"direct", "luigi"}

    # A second benchmark over the same state measures the same work: the dates run again
    # from empty, and the fault gets its full retries again (luigid would otherwise still
    # count the first benchmark's two failures and disable the task at its first new one).
    plan.scenarios = ("happy_path", "retries")
    again = Harness(cfg, plan, progress=lambda m: None,
                    adapter_options={"luigi": {"port": free_port()}}).run()
    luigi = again["orchestrators"]["luigi"]
    assert luigi["errors"] == []
    assert len(luigi["scenarios"]["happy_path"]["runs"][-1]["ledger"]) == len(counted["ledger"])
    t = luigi["scenarios"]["retries"]["transient"]
    assert t["recovered"] is True and (t["attempts_recorded"], t["attempts_truth"]) == (3, 3)


def test_a_second_benchmark_over_the_same_state_is_refused(tmp_path):
    import os
    import subprocess
    import sys

    from benchmarks.cli import _exclusive
    from pipelines_core.config import load_config

    env = {**os.environ, "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
           "WORKBENCH_LAKE_ROOT": str(tmp_path / "lake")}
    held = _exclusive(load_config(env=env))
    try:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.cli", "--orchestrators",
                               "direct"], env=env, capture_output=True, text=True, timeout=60)
    finally:
        held.close()
    assert proc.returncode == 2
    assert f"a benchmark is already running over {tmp_path / 'state'} (pid {os.getpid()})" \
        in proc.stderr


def test_bench_runs_the_happy_path_alone(connect_config, tmp_path):
    """``workbench bench --scenarios happy_path --orchestrators direct``: the overhead
    figures and nothing else, written and rendered."""
    from rich.console import Console

    from benchmarks.cli import add_arguments, run_bench
    from pipelines_core.spark import connect_server_status

    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    # The session's Connect server, recorded in this state folder too: the benchmark uses
    # it rather than starting a second one, and leaves it running.
    server = connect_server_status(connect_config)["pid"]
    pid_file = cfg.state_dir / "pids" / f"spark-connect-{cfg.spark_connect_port}.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(str(server))
    args = add_arguments(argparse.ArgumentParser()).parse_args(
        ["--scenarios", "happy_path", "--orchestrators", "direct", "--repetitions", "2",
         "--out", str(tmp_path / "reports")])
    args.scale = 300
    out = io.StringIO()
    assert run_bench(args, cfg, Console(file=out, width=200)) == 0
    assert connect_server_status(cfg)["pid"] == server
    results = json.loads((tmp_path / "reports/latest/results.json").read_text())
    assert results["configuration"]["plan"]["scenarios"] == ["happy_path"]
    assert results["configuration"]["plan"]["scale"] == 300
    d = results["orchestrators"]["direct"]
    hp = d["scenarios"]["happy_path"]
    assert [r["warmup"] for r in hp["runs"]] == [True, False, False]
    assert hp["states"] == ["success", "success"]
    assert hp["wall_s_min"] <= hp["wall_s"] <= hp["wall_s_max"]
    assert (d["scenarios"]["retries"], d["scenarios"]["backfill"]["wall_s"]) == ({}, None)
    assert d["scenarios"]["observability"] == {"probes": [], "score": None}  # not run
    assert set(results["resources"]["phase_s_by_orchestrator"]["direct"]) == {
        "happy_path", "stop"}
    jsonschema.validate(results, SCHEMA)
    assert (tmp_path / "reports/latest/report.html").exists()
    assert "| direct |" in (tmp_path / "reports/latest/report.md").read_text()
    assert "report: " in out.getvalue()


def test_exports_of_another_scale_are_written_again(connect_config, tmp_path):
    """A benchmark at one scale never reuses exports an earlier one wrote at another."""
    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    plan = BenchPlan(["direct"], scale=500, repetitions=1, backfill_days=2)
    harness = Harness(cfg, plan, progress=lambda m: None)
    adapter = load_adapter("direct", harness.bench_config())
    day = plan.happy_dates()[0]
    export = adapter.config.namespace_root() / f"bronze/customers_cdc/date={day}"

    harness.scenarios.prepare_data(adapter)
    first = export.resolve()
    harness.scenarios.prepare_data(adapter)  # same scale: kept
    assert export.resolve() == first
    plan.scale = 700
    harness.scenarios.prepare_data(load_adapter("direct", harness.bench_config()))
    assert export.resolve() != first
    written = json.loads((cfg.state_dir / "bench" / "exports-direct.json").read_text())
    assert written[day.isoformat()].startswith("scale=700 ")
    bad = plan.bad_range()[1].isoformat()
    assert written[bad].endswith("bad=True") and written[day.isoformat()].endswith("bad=False")


def test_exports_are_copied_from_the_first_namespace(connect_config, tmp_path, monkeypatch):
    """Every namespace gets the same bytes: the first one's exports, copied, none generated
    again (the bad day's too)."""
    from types import SimpleNamespace

    from pipelines_core.lake import checksum_files

    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    plan = BenchPlan(["direct"], scale=500, repetitions=1, backfill_days=2)
    harness = Harness(cfg, plan, progress=lambda m: None)
    first = load_adapter("direct", harness.bench_config()).config
    harness.scenarios.prepare_data(SimpleNamespace(config=first))
    other = first.replace(namespace="copied")

    def generate(*args, **kwargs):
        raise AssertionError("an export was generated instead of copied")

    monkeypatch.setattr(scenarios_mod, "write_customer_export", generate)
    harness.scenarios.prepare_data(SimpleNamespace(config=other), source=first)
    for day in plan.all_data_dates():
        a, b = (c.namespace_root() / f"bronze/customers_cdc/date={day}" for c in (first, other))
        assert (b / "_SUCCESS").exists() and b.resolve() != a.resolve()
        assert checksum_files(b) == checksum_files(a)
    records = [json.loads((cfg.state_dir / "bench" / f"exports-{n}.json").read_text())
               for n in (first.namespace, "copied")]
    assert records[0] == records[1] and "bad=True" in records[1][plan.bad_range()[1].isoformat()]
