"""A backfill range with one bad day through the webserver and the daemon: the other days
finish, the bad day's blocking quality check fails its run, and after the fix the adapter's
re-run launches only the failed partition; a re-run of the complete range launches nothing,
and a partition emptied in the lake runs again. The quality check's evaluations and the asset
materialisations are read back from the webserver's GraphQL API, as the benchmark's probes
read them."""

from __future__ import annotations

from datetime import date

from pipelines_core import lake
from pipelines_core.alerts import read_alerts
from pipelines_core.config import PROJECT_ROOT
from pipelines_core.generator import write_customer_export
from pipelines_core.ledger import Ledger
from pipelines_core.testing import generate_exports
from pipelines_core.verify import output_partitions

import sys

sys.path.append(str(PROJECT_ROOT))  # the benchmark adapter (stdlib + pipelines_core only)
from benchmarks.adapters.dagster import DagsterAdapter  # noqa: E402

ETL = "customer_daily_etl"


def test_rerun_after_a_bad_day_runs_only_that_day(config):
    days = [date(2026, 10, 20), date(2026, 10, 21), date(2026, 10, 22)]
    keys = [d.isoformat() for d in days]
    bad = days[1]
    adapter = DagsterAdapter(config, in_process=True, max_concurrent_runs=2)
    cfg = adapter.config  # the adapter's namespace, "dagster"
    generate_exports(cfg.replace(bad_days=(bad,)), days)
    try:
        first = adapter.backfill(ETL, days[0], days[-1], parallelism=2, timeout_s=900)
        assert {r.date: r.state for r in first.runs} == {
            keys[0]: "success", keys[1]: "failed", keys[2]: "success"}
        assert "none, no backfill launched" not in first.mechanism
        gate = [(r.step, r.status) for r in Ledger(cfg.ledger_path).read_attempts(
            namespace=cfg.namespace, date=keys[1])]
        assert gate == [("wait_for_export", "success"), ("ingest_cdc", "success"),
                        ("quality_gate", "gate_failed")]  # stopped by the gate, not before
        # the backfill returns once the run-failure sensor has acted: the alert is there
        alerts = read_alerts(cfg, kind="failure", date=keys[1])
        assert [a["failed_steps"][0] for a in alerts] == ["quality_gate"]

        write_customer_export(adapter.config, bad)  # the fix: a clean export of the bad day
        since = Ledger(adapter.config.ledger_path).read_attempts(namespace=cfg.namespace)
        second = adapter.backfill(ETL, days[0], days[-1], parallelism=2, timeout_s=900)
        assert [(r.date, r.state) for r in second.runs] == [(keys[1], "success")]
        assert f"emptied partitions only: ['{keys[1]}']" in second.mechanism
        after = Ledger(adapter.config.ledger_path).read_attempts(namespace=cfg.namespace)
        rerun = after[len(since):]
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
        quality = adapter.quality_probe(keys[0], keys[1])
        assert quality["passed"] is True, quality
        evals = adapter.services.check_executions([ETL, "ingest_cdc"], "quality_gate", keys[1])
        assert [e["passed"] for e in evals] == [True, False]  # newest first
        assert "FAILED" in evals[1]["description"] or "failed" in evals[1]["description"]

        # lineage: the good day's run materialised every asset step for its date
        run = next(r for r in first.runs if r.date == keys[0])
        ledger = [a.to_dict() for a in Ledger(adapter.config.ledger_path).read_attempts(
            namespace=cfg.namespace, date=keys[0])]
        lineage = adapter.lineage_probe({"date": keys[0], "run": {"run_id": run.run_id},
                                         "ledger": ledger})
        assert lineage["passed"] is True, lineage
        mats = adapter.services.materializations(run.run_id)
        paths = {m["asset"]: m["paths"] for m in mats}
        assert any(p.endswith(f"/silver/customers/date={keys[0]}")
                   for p in paths[f"{ETL}/ingest_cdc"])

        probes = {p["name"]: p for p in adapter.probes({
            "happy": [{"date": keys[0], "run": {"run_id": run.run_id}, "ledger": ledger}],
            "backfill": {"bad_day": {"bad_date": keys[1]}}})}
        assert probes["metrics_endpoint"]["passed"] is None
        assert "no metrics endpoint" in probes["metrics_endpoint"]["evidence"]
    finally:
        adapter.stop()
