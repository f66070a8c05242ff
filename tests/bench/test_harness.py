"""The benchmark harness at tiny scale with the direct adapter: every scenario fills its cells,
results validate against the versioned schema, and the report renders with its charts."""

import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from benchmarks import report
from benchmarks.harness import (BenchPlan, Harness, interleaved, load_adapter, max_gap_s,
                                retry_delays, write_results)
from pipelines_core.ledger import Ledger
from pipelines_core.procs import free_port

SCHEMA = json.loads((Path(__file__).parents[2] / "benchmarks/results.schema.json").read_text())


def test_rounds_interleave_every_orchestrator():
    assert interleaved(["direct", "a", "b"], 2) == [
        (0, "direct"), (0, "a"), (0, "b"), (1, "direct"), (1, "a"), (1, "b")]


def test_unknown_orchestrator_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown orchestrator 'nifi'"):
        load_adapter("nifi", None)


def test_gaps_and_delays_come_from_the_ledger(tmp_path):
    ledger = Ledger(tmp_path / "l.jsonl")
    for step in ("wait_for_export", "ingest_cdc"):
        rec = ledger.start(pipeline="customer_daily_etl", step=step, date="d", namespace="n",
                           orchestrator="o", attempt=1)
        ledger.finish(rec, status="failed" if step == "ingest_cdc" else "success")
    rec = ledger.start(pipeline="customer_daily_etl", step="ingest_cdc", date="d",
                       namespace="n", orchestrator="o", attempt=2)
    ledger.finish(rec, status="success")
    attempts = ledger.read_attempts()
    assert 0 <= max_gap_s(attempts) < 1
    [delay] = retry_delays([a for a in attempts if a.step == "ingest_cdc"])
    assert 0 <= delay < 1


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
    hp = d["scenarios"]["happy_path"]
    assert hp["states"] == ["success"]
    assert hp["overhead_ratio"] == 1.0
    assert 0 < hp["floor_wall_s"] < hp["wall_s"]
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
    assert b["states"] == ["success", "success"] and b["identical_to_direct"] is True
    assert b["rerun_steps_executed"] == 2 * 11  # the direct runner skips nothing
    assert b["bad_day"]["others_finished"] and b["bad_day"]["bad_failed"]
    assert b["bad_day"]["rerun_dates_executed"] == b["bad_day"]["dates"]
    # No fault of the retry scenarios reached the bad range: its only failure is the bad
    # day's quality gate.
    failed = {(a.date, a.step) for a in Ledger(cfg.ledger_path).read_attempts(
        namespace="direct") if a.date in b["bad_day"]["dates"] and a.status != "success"}
    assert failed == {(b["bad_day"]["bad_date"], "quality_gate")}
    res = results["resources"]
    # The Connect server alone holds a JVM: the sample must have seen it and this process.
    assert res["peak_rss_bytes"] > 300e6 and res["wall_s"] > 0
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
    assert turn > 0 and len(start) == 1 and 0 <= start[0] < turn
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


def test_plan_refuses_unknown_scenarios():
    with pytest.raises(ValueError, match="unknown scenario"):
        BenchPlan(["direct"], scenarios=("happy_path", "chaos"))


def test_one_orchestrator_side_by_side_with_the_baseline(connect_config, tmp_path):
    """Luigi next to the direct runner: a fault plan reaches the right attempt, Luigi's own
    record of the run agrees with the ledger, and the ratio to the baseline is measured."""
    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    plan = BenchPlan(["luigi"], scale=1_000, repetitions=1, scenarios=("happy_path", "retries"),
                     retry_kinds=("transient",))
    results = Harness(cfg, plan, progress=lambda m: None,
                      adapter_options={"luigi": {"port": free_port()}}).run()
    luigi = results["orchestrators"]["luigi"]
    assert luigi["errors"] == []
    hp = luigi["scenarios"]["happy_path"]
    assert hp["states"] == ["success"] and hp["overhead_ratio"] > 0
    assert hp["floor_wall_s"] > 0 and hp["max_gap_s"] >= 0
    t = luigi["scenarios"]["retries"]["transient"]
    assert t["recovered"] is True
    # Two injected failures then a success: the third attempt is the one that gets through.
    assert (t["attempts_recorded"], t["attempts_truth"]) == (3, 3)
    truth = sorted((a for a in Ledger(cfg.ledger_path).read_attempts(
        step=t["step"], namespace="luigi") if a.date == t["date"]), key=lambda a: a.start)
    assert [a.status for a in truth] == ["failed", "failed", "success"]
    assert len(t["delays_observed_s"]) == 2
    assert set(results["resources"]["peak_rss_gb_by_orchestrator"]) >= {"direct", "luigi"}

    # A second benchmark over the same state measures the same work: the dates run again
    # from empty, and the fault gets its full retries again (luigid would otherwise still
    # count the first benchmark's two failures and disable the task at its first new one).
    again = Harness(cfg, plan, progress=lambda m: None,
                    adapter_options={"luigi": {"port": free_port()}}).run()
    luigi = again["orchestrators"]["luigi"]
    assert luigi["errors"] == []
    assert luigi["scenarios"]["happy_path"]["runs"][-1]["step_s"] > 0
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
        proc = subprocess.run([sys.executable, "-m", "pipelines_core.cli", "bench"], env=env,
                              capture_output=True, text=True, timeout=60)
    finally:
        held.close()
    assert proc.returncode == 2
    assert f"a benchmark is already running over {tmp_path / 'state'} (pid {os.getpid()})" \
        in proc.stderr


def test_exports_of_another_scale_are_written_again(connect_config, tmp_path):
    """A benchmark at one scale never reuses exports an earlier one wrote at another."""
    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    plan = BenchPlan(["direct"], scale=500, repetitions=1, backfill_days=2)
    harness = Harness(cfg, plan, progress=lambda m: None)
    adapter = load_adapter("direct", harness.bench_config())
    day = plan.happy_dates()[0]
    export = adapter.config.namespace_root() / f"bronze/customers_cdc/date={day}"

    harness.prepare_data(adapter)
    first = export.resolve()
    harness.prepare_data(adapter)  # same scale: kept
    assert export.resolve() == first
    plan.scale = 700
    harness.prepare_data(load_adapter("direct", harness.bench_config()))
    assert export.resolve() != first
    written = json.loads((cfg.state_dir / "bench" / "exports-direct.json").read_text())
    assert written[day.isoformat()].startswith("scale=700 ")
    bad = plan.bad_range()[1].isoformat()
    assert written[bad].endswith("bad=True") and written[day.isoformat()].endswith("bad=False")


def test_exports_are_copied_from_the_first_namespace(connect_config, tmp_path, monkeypatch):
    """Every namespace gets the same bytes: the first one's exports, copied, none generated
    again (the bad day's too)."""
    from types import SimpleNamespace

    from benchmarks import harness as harness_mod
    from pipelines_core.lake import checksum_files

    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    plan = BenchPlan(["direct"], scale=500, repetitions=1, backfill_days=2)
    harness = Harness(cfg, plan, progress=lambda m: None)
    first = load_adapter("direct", harness.bench_config()).config
    harness.prepare_data(SimpleNamespace(config=first))
    other = first.replace(namespace="copied")

    def generate(*args, **kwargs):
        raise AssertionError("an export was generated instead of copied")

    monkeypatch.setattr(harness_mod, "write_customer_export", generate)
    harness.prepare_data(SimpleNamespace(config=other), source=first)
    for day in plan.all_data_dates():
        a, b = (c.namespace_root() / f"bronze/customers_cdc/date={day}" for c in (first, other))
        assert (b / "_SUCCESS").exists() and b.resolve() != a.resolve()
        assert checksum_files(b) == checksum_files(a)
    records = [json.loads((cfg.state_dir / "bench" / f"exports-{n}.json").read_text())
               for n in (first.namespace, "copied")]
    assert records[0] == records[1] and "bad=True" in records[1][plan.bad_range()[1].isoformat()]


def test_tree_memory_counts_pages_shared_by_a_fork_once():
    """A forked child shares its parent's pages: summed RSS counts them twice, PSS once.
    The fork happens in a process of its own: pytest's holds Spark and gRPC threads, which a
    fork would copy half-way."""
    import subprocess
    import sys

    from benchmarks.scale import tree_memory

    script = (
        "import os, sys\n"
        "ballast = bytearray(os.urandom(200 * 2**20))  # 200 MiB, resident before the fork\n"
        "r, w = os.pipe()\n"
        "if os.fork() == 0:  # the child touches nothing of the ballast\n"
        "    os.write(w, b'x'); os.close(w); sys.stdin.read(); os._exit(0)\n"
        "os.read(r, 1)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()  # until the test closes stdin\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "ready"
        rss, pss = tree_memory(parent.pid)
        assert rss > 400 * 2**20  # parent and child each hold the ballast as resident
        assert rss - pss > 150 * 2**20  # ... which PSS counts once for the pair
    finally:
        parent.stdin.close()  # the child holds the same stdin: both read EOF and end
        parent.wait(timeout=30)


def test_memory_sampler_reads_pss_only_when_it_could_raise_a_peak(monkeypatch, tmp_path):
    """PSS (costly to read) is read while the summed RSS is above the phase's PSS peak, at
    most every pss_every_s; RSS on every sample."""
    from benchmarks import harness as harness_mod
    from pipelines_core import testing

    rss, reads = {"now": 100}, []
    monkeypatch.setattr(harness_mod, "descendants", lambda roots: [1, 2])
    monkeypatch.setattr(harness_mod, "rss_of", lambda pid: rss["now"])
    monkeypatch.setattr(harness_mod, "pss_of", lambda pid: reads.append(pid) or rss["now"] - 10)
    sampler = harness_mod.PhaseSampler(testing.make_config(tmp_path), pss_every_s=0)
    sampler.phase = "airflow"
    sampler.sample_once()
    rss["now"] = 80  # RSS below the PSS peak (180): PSS cannot be higher, not read
    sampler.sample_once()
    assert len(reads) == 2 and sampler.peak_pss == 180 and sampler.peak == 200
    rss["now"] = 300
    sampler.sample_once()
    assert len(reads) == 4 and sampler.pss_peaks == {"airflow": 580}
    sampler.phase, rss["now"] = "luigi", 50  # a new phase has a peak of its own
    sampler.sample_once()
    assert sampler.pss_peaks == {"airflow": 580, "luigi": 80} and sampler.peak_pss == 580
    sampler.pss_every_s = 3600
    rss["now"] = 1000
    sampler.sample_once()  # above the peak, but read too recently
    assert len(reads) == 6 and sampler.peak == 2000 and sampler.peaks["luigi"] == 2000
