"""A 3-partition backfill through Dagster's own machinery: the webserver's GraphQL API creates
it, the daemon submits one run per partition to the queue (at most two at once), and every
partition's outputs equal the direct runner's."""

from __future__ import annotations

import json
import sys
from datetime import date

from pipelines_core.config import PROJECT_ROOT
from pipelines_core.ledger import Ledger
from pipelines_core.testing import generate_exports
from pipelines_core.verify import output_checksums

from workbench_dagster.services import DagsterServices, in_process, port_open

sys.path.append(str(PROJECT_ROOT))  # the benchmark adapter (stdlib + pipelines_core only)
from benchmarks.adapters.dagster import DagsterAdapter  # noqa: E402

ETL = "customer_daily_etl"


def test_backfill_through_the_daemon(config, reference, tmp_path):
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    keys = [d.isoformat() for d in days]
    cfg = config.replace(namespace="dagster_backfill")  # its own lake: the monthly report
    generate_exports(cfg, days)                          # of 11-01 sees only these dates
    # The queue would take 4 runs at once; the backfill tag's limit holds them to 2.
    services = DagsterServices(cfg, tmp_path / "dagster_home", max_concurrent_runs=4,
                               backfill_runs=2, automation=False)
    try:
        services.start()
        # The fault plan travels in the backfill's run config (the workbench resource's env).
        run_config = {**in_process(), "resources": {"workbench": {"config": {"env": {
            "WORKBENCH_FAULTS": json.dumps({"ingest_cdc": {
                "kind": "raise", "times": 2, "dates": [keys[1]]}})}}}}}
        backfill_id = services.launch_backfill(ETL, keys, run_config=run_config)
        runs = services.wait_runs({"dagster/backfill": backfill_id}, count=3, timeout_s=900)
        events = {r["tags"]["dagster/partition"]: services.events(r["runId"]) for r in runs}
        adapter = DagsterAdapter(cfg)
        adapter.services = services
        views = {v.date: v for v in adapter.read_runs(ETL)}
    finally:
        services.stop()
    assert not port_open(services.port)

    assert sorted(r["tags"]["dagster/partition"] for r in runs) == keys
    assert {r["status"] for r in runs} == {"SUCCESS"}
    spans = sorted((r["startTime"], r["endTime"]) for r in runs)
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert 1 <= overlap <= 2  # the dagster/backfill tag's limit

    for day in days:
        assert output_checksums(cfg, ETL, day) == reference(ETL, day), day
    # The 1st of the month took the monthly branch, the others the daily one.
    for key, evs in events.items():
        done = {e["step_key"] for e in evs if e["type"] == "ExecutionStepSuccessEvent"}
        skipped = {e["step_key"] for e in evs if e["type"] == "ExecutionStepSkippedEvent"}
        chosen, other = (("monthly", "daily") if key.endswith("-01") else ("daily", "monthly"))
        assert f"{ETL}__report.{chosen}_report" in done
        assert f"{ETL}__report.{other}_report" in skipped
        # The core's log lines are captured into Dagster's event log.
        assert any(e["type"] == "LogMessageEvent" and "ingest_cdc" in (e["message"] or "")
                   and "succeeded" in e["message"] for e in evs)
    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="dagster_backfill",
                                                   step="ingest_cdc")
    assert sorted((r.date, r.attempt, r.status, r.orchestrator) for r in ledger) == [
        (keys[0], 1, "success", "dagster"), (keys[1], 1, "failed", "dagster"),
        (keys[1], 2, "failed", "dagster"), (keys[1], 3, "success", "dagster"),
        (keys[2], 1, "success", "dagster")]

    # The adapter's view, read from the webserver's GraphQL API, matches the ledger.
    assert sorted(views) == keys and {v.state for v in views.values()} == {"success"}
    for key in keys:
        truth = [r for r in ledger if r.date == key]
        seen = views[key].step("ingest_cdc").attempts
        assert [(a.attempt, a.state) for a in seen] == [(r.attempt, r.status) for r in truth]
        for a, r in zip(seen, truth):
            assert a.duration_s >= r.duration_s - 0.5
            if r.error:
                assert a.error == r.error
        assert f"attempt {truth[-1].attempt} succeeded" in seen[-1].log_excerpt
        assert [views[key].step("gold_region_aggregates", region).state
                for region in ("amer", "apac", "emea", "latam")] == ["success"] * 4
    assert views[keys[0]].step("daily_report").state == "skipped"
    assert views[keys[1]].step("monthly_report").state == "skipped"
