"""The direct adapter implements the benchmark's interface over real runs."""

import json
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from benchmarks.adapters.base import AttemptView, RunView, StepView
from benchmarks.adapters.direct import DirectAdapter
from pipelines_core import testing
from pipelines_core.spec import DateOutOfRange


def test_run_date_and_backfill_are_read_back_in_the_normalised_shape(connect_config, tmp_path):
    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    days = [date(2026, 11, 3), date(2026, 11, 4)]
    adapter = DirectAdapter(cfg)
    testing.generate_exports(adapter.config, days)

    faults = {"WORKBENCH_FAULTS": json.dumps({"ingest_cdc": {"kind": "raise", "times": 1}})}
    run = adapter.run_date("customer_daily_etl", days[0], env=faults)
    assert isinstance(run, RunView) and run.state == "success"
    ingest = run.step("ingest_cdc")
    assert [a.state for a in ingest.attempts] == ["failed", "success"]
    assert "injected raise fault" in ingest.attempts[0].error
    assert run.step("monthly_report").state == "skipped"
    assert {s.map_key for s in run.steps if s.step == "gold_region_aggregates"} == {
        "amer", "apac", "emea", "latam"}

    bf = adapter.backfill("customer_daily_etl", days[0], days[1], parallelism=2)
    assert [r.state for r in bf.runs] == ["success", "success"]
    assert bf.dates == ["2026-11-03", "2026-11-04"]
    assert len(adapter.read_runs("customer_daily_etl", days[0])) == 2

    # the evidence of every step the runs should have run is in the ledger: they stand
    for r in [run, *bf.runs]:
        assert adapter.checked(r).state == "success" and r.error is None
    assert adapter.evidence_gaps(run) == []


def test_a_date_out_of_the_pipeline_s_range_is_refused_before_anything_starts(tmp_path):
    adapter = DirectAdapter(testing.make_config(tmp_path))
    early = date(2026, 9, 30)
    with pytest.raises(DateOutOfRange, match="^2026-09-30 is before the start date of "
                       "customer_daily_etl \\(2026-10-01\\): it has no run for that date$"):
        adapter.run_date("customer_daily_etl", early)
    with pytest.raises(DateOutOfRange, match="is before the start date of lead_scoring_mlops"):
        adapter.backfill("lead_scoring_mlops", early, date(2026, 10, 2))
    later = datetime.now(timezone.utc).date() + timedelta(days=1)
    with pytest.raises(DateOutOfRange, match=f"^{later} is after today"):
        adapter.run_date("customer_daily_etl", later)
    assert not adapter.config.ledger_path.exists()  # no step started


def test_a_success_without_evidence_counts_as_failed(tmp_path):
    """An orchestrator that says success for a run whose steps never ran (Airflow, given a
    date it has no run for, once did): the run counts as failed, with the first missing
    step named."""
    adapter = DirectAdapter(testing.make_config(tmp_path))
    run = RunView("r1", "customer_daily_etl", "2026-11-05", "success",
                  start="2026-11-05T02:00:00+00:00")
    checked = adapter.checked(run)
    assert checked.state == "failed"
    assert checked.error == (
        "orchestrator reported success but step ingest_cdc never ran (nor "
        "gold_region_aggregates, gold_summary, choose_report, monthly_report or daily_report, "
        "notify)")


def test_a_step_found_complete_counts_only_with_an_earlier_success_in_the_ledger(tmp_path):
    """Luigi does not run a task whose outputs an earlier run wrote: a step of which the
    orchestrator reports no attempt in this run is evidenced by that earlier success, and by
    nothing else (the false success above reported no attempt either)."""
    from pipelines_core.ledger import Ledger
    from pipelines_core.spec import get_pipeline

    adapter = DirectAdapter(testing.make_config(tmp_path))
    ledger, day = Ledger(adapter.config.ledger_path), "2026-11-05"
    steps = [s.name for s in get_pipeline("customer_daily_etl").steps]
    ns = dict(pipeline="customer_daily_etl", date=day, namespace=adapter.config.namespace,
              orchestrator="direct", attempt=1)
    ledger.finish(ledger.start(step="ingest_cdc", **ns), status="success")  # an earlier run
    time.sleep(1.2)  # past the second of clock slack the check allows
    start = datetime.now(timezone.utc).isoformat()
    for step in steps[2:]:  # this run: everything after ingest_cdc (the sensor aside)
        keys = ["amer", "apac", "emea", "latam"] if step == "gold_region_aggregates" else [None]
        for key in keys:
            ledger.finish(ledger.start(step=step, map_key=key, **ns), status="success")

    def run(reported):
        attempts = [AttemptView(1, reported, start)] if reported == "success" else []
        return RunView("r", "customer_daily_etl", day, "success", start=start,
                       steps=[StepView("ingest_cdc", reported, attempts=attempts)])
    assert adapter.checked(run("skipped")).state == "success"
    checked = adapter.checked(run("success"))  # an attempt it says ran, not in the ledger
    assert (checked.state, checked.error) == (
        "failed", "orchestrator reported success but step ingest_cdc never ran")
    other = DirectAdapter(testing.make_config(tmp_path / "other"))  # no earlier success
    assert other.checked(run("skipped")).state == "failed"


def test_a_double_trigger_ends_twice_with_the_data_of_one_run(connect_config, tmp_path):
    """Two runs of one date at once: both end, the ledger shows both, and every output is
    the one a single run writes (each write swaps a whole version; neither is lost)."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines_core.ledger import Ledger
    from pipelines_core.verify import output_checksums

    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    adapter = DirectAdapter(cfg)
    day = date(2026, 11, 5)
    testing.generate_exports(adapter.config, [day])
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: adapter.run_date("customer_daily_etl", day), range(2)))
    assert [r.state for r in runs] == ["success", "success"]
    attempts = Ledger(adapter.config.ledger_path).read_attempts(
        namespace=adapter.config.namespace, step="gold_summary", date=day.isoformat())
    # both runs ended their summary with a success (a retry on the way is the ledger's too)
    assert [a.status for a in attempts].count("success") == 2
    assert len({a.pid for a in attempts if a.status == "success"}) == 2  # two processes
    reference = testing.reference_outputs(cfg, "customer_daily_etl", day)
    assert output_checksums(adapter.config, "customer_daily_etl", day) == reference


def test_a_broken_export_of_an_old_date_is_put_back(connect_config, tmp_path):
    """The bad-input scenario puts the good export back after each case, even one written
    longer ago than the lake keeps replaced versions (its copy must not look that old)."""
    import os

    from benchmarks.plan import BenchPlan
    from benchmarks.scenarios import Scenarios, truncate_export
    from pipelines_core import lake
    from pipelines_core.steps.etl import export_partition

    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    adapter = DirectAdapter(cfg)
    day = date(2026, 10, 26)
    testing.generate_exports(adapter.config, [day])
    part = export_partition(adapter.config, day)
    before = lake.checksum_files(part.path)
    old = time.time() - 2 * lake.VERSION_RETENTION_S
    os.utime(os.path.realpath(part.path), (old, old))
    x = Scenarios(BenchPlan(["direct"]), progress=lambda _: None)._broken(
        adapter, day, truncate_export)
    assert x["verdict"] == "stopped at the contract, not retried", x
    assert lake.checksum_files(part.path) == before  # the good export, whole, in place
