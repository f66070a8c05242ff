"""The Dagster adapter's backfill and probes against real services: a range with one bad day
finishes the other days, the bad day's blocking quality check fails its run, and after the fix
the adapter's re-run launches only the failed partition; a re-run of the complete range
launches nothing, and a partition emptied in the lake runs again. The quality check's
evaluations and the asset materialisations are read back from the webserver's GraphQL API, as
the benchmark's probes read them."""

from __future__ import annotations

from datetime import date

import pytest

from benchmarks.adapters.dagster import DagsterAdapter
from pipelines_core import lake, testing
from pipelines_core.alerts import read_alerts
from pipelines_core.generator import write_customer_export
from pipelines_core.ledger import Ledger
from pipelines_core.verify import output_partitions

ETL = "customer_daily_etl"


@pytest.fixture
def adapter(connect_config, tmp_path):
    cfg = connect_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")
    adapter = DagsterAdapter(cfg, in_process=True, max_concurrent_runs=2)
    try:
        yield adapter
    finally:
        adapter.stop()


def test_rerun_after_a_bad_day_runs_only_that_day(adapter):
    days = [date(2026, 10, 20), date(2026, 10, 21), date(2026, 10, 22)]
    keys = [d.isoformat() for d in days]
    bad = days[1]
    cfg = adapter.config  # the adapter's namespace, "dagster"
    testing.generate_exports(cfg.replace(bad_days=(bad,)), days)
    ledger = Ledger(cfg.ledger_path)

    first = adapter.backfill(ETL, days[0], days[-1], parallelism=2, timeout_s=900)
    assert {r.date: r.state for r in first.runs} == {
        keys[0]: "success", keys[1]: "failed", keys[2]: "success"}
    assert "none, no backfill launched" not in first.mechanism
    gate = [(r.step, r.status) for r in ledger.read_attempts(namespace=cfg.namespace,
                                                              date=keys[1])]
    assert gate == [("wait_for_export", "success"), ("ingest_cdc", "success"),
                    ("quality_gate", "gate_failed")]  # stopped by the gate, not before
    bad_run = next(r for r in first.runs if r.date == keys[1])
    assert bad_run.step("quality_gate").state == "failed"
    assert bad_run.step("gold_summary").state == "upstream_failed"
    # the backfill returns once the run-failure sensor has acted: the alert is there
    alerts = read_alerts(cfg, kind="failure", date=keys[1])
    assert [a["failed_steps"][0] for a in alerts] == ["quality_gate"]
    # what the adapter reads of a good day's run agrees with the ledger, attempt by attempt
    good = next(r for r in first.runs if r.date == keys[0])
    for rec in ledger.read_attempts(namespace=cfg.namespace, date=keys[0]):
        [seen] = good.step(rec.step, rec.map_key).attempts
        assert seen.state == rec.status == "success", rec.step
        assert seen.duration_s >= rec.duration_s - 0.5, rec.step
    assert "attempt 1 succeeded" in good.step("ingest_cdc").attempts[0].log_excerpt

    write_customer_export(cfg, bad)  # the fix: a clean export of the bad day
    since = len(ledger.read_attempts(namespace=cfg.namespace))
    second = adapter.backfill(ETL, days[0], days[-1], parallelism=2, timeout_s=900)
    assert [(r.date, r.state) for r in second.runs] == [(keys[1], "success")]
    assert f"emptied partitions only: ['{keys[1]}']" in second.mechanism
    rerun = ledger.read_attempts(namespace=cfg.namespace)[since:]
    assert {r.date for r in rerun} == {keys[1]}
    assert {"ingest_cdc", "quality_gate", "notify"} <= {r.step for r in rerun}

    # an immediate re-run of the complete range launches nothing; a date whose outputs
    # were deleted from the lake since its successful run is launched again
    third = adapter.backfill(ETL, days[0], days[-1], parallelism=2, timeout_s=900)
    assert third.runs == [] and "none, no backfill launched" in third.mechanism
    for part in output_partitions(cfg, ETL, days[2]):
        lake.drop_partition(part)
    fourth = adapter.backfill(ETL, days[0], days[-1], parallelism=2, timeout_s=900)
    assert [(r.date, r.state) for r in fourth.runs] == [(keys[2], "success")]

    # the quality gate's evaluations: passed on a good day, failed then passed on the bad
    assert adapter.quality_probe(keys[0], keys[1]).passed is True
    evals = adapter.check_executions([ETL, "ingest_cdc"], "quality_gate", keys[1])
    assert [e["passed"] for e in evals] == [True, False]  # newest first
    assert "failed" in evals[1]["description"].lower()

    # lineage: the good day's run materialised every asset step for its date
    happy = {"date": keys[0], "run": {"run_id": good.run_id},
             "ledger": [a.to_dict() for a in ledger.read_attempts(namespace=cfg.namespace,
                                                                   date=keys[0])]}
    lineage = adapter.lineage_probe(happy)
    assert lineage.passed is True, lineage
    paths = {m["asset"]: m["paths"] for m in adapter.materializations(good.run_id)}
    assert any(p.endswith(f"/silver/customers/date={keys[0]}")
               for p in paths[f"{ETL}/ingest_cdc"])

    probes = [probe() for probe in adapter.probes(
        {"happy": [happy], "backfill": {"bad_day": {"bad_date": keys[1]}}})]
    assert [(p.name, p.passed) for p in probes] == [
        ("metrics_endpoint", None), ("lineage_events", True), ("quality_results", True)]
    assert "no metrics endpoint" in probes[0].evidence
    # the settings the services ran with, as the service command reported them
    assert adapter.settings["run_coordinator.config.max_concurrent_runs"] == "2"
    assert adapter.settings["executor"] == "in_process"
