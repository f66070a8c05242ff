"""A 3-day backfill through the deployment and the process worker (one deployment run per
date in a work queue with a concurrency limit), at most 2 runs at once, every partition
identical to the direct runner's."""

from __future__ import annotations

from datetime import datetime

from pipelines_core.runner import date_range
from pipelines_core.verify import output_checksums

from conftest import BACKFILL_DAYS, BACKFILL_PARALLELISM


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_backfill_three_days_identical_to_direct(stack, backfill):
    days = date_range(*BACKFILL_DAYS)
    assert [r["parameters"]["day"] for r in backfill] == [d.isoformat() for d in days]
    assert [r["state"]["type"] for r in backfill] == ["COMPLETED"] * 3
    assert {r["work_queue_name"] for r in backfill} == {"backfill"}
    for day in days:
        assert output_checksums(stack.config, "customer_daily_etl", day) == \
            stack.reference("customer_daily_etl", day)


def test_backfill_runs_at_most_its_parallelism_at_once(stack, backfill):
    queue = stack.api.get("/work_pools/workbench-process/queues/backfill")
    assert queue["concurrency_limit"] == BACKFILL_PARALLELISM
    spans = [(_ts(r["start_time"]), _ts(r["end_time"])) for r in backfill]
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    # three runs, two slots: two ran side by side, the third waited for a slot
    assert peak == BACKFILL_PARALLELISM


def test_backfilled_run_recorded_with_its_tasks_and_logs(stack, backfill):
    run = next(r for r in backfill if r["parameters"]["day"] == "2026-10-06")
    assert run["name"] == "customer_daily_etl 2026-10-06"
    tasks = {t["name"]: t for t in stack.task_runs(run["id"])}
    assert sorted(n for n in tasks if n.startswith("gold_region_aggregates[")) == [
        f"gold_region_aggregates[{r}]" for r in ("amer", "apac", "emea", "latam")]
    assert tasks["daily_report"]["state"]["type"] == "COMPLETED"
    assert "monthly_report" not in tasks
    ingest = tasks["ingest_cdc"]
    assert ingest["run_count"] == 1 and ingest["total_run_time"] > 0
    lines = [lg["message"] for lg in stack.logs(task_run_id=[ingest["id"]])]
    assert "ingest_cdc 2026-10-06 attempt 1" in lines
    # the core's own line (logger "workbench"), shipped by PREFECT_LOGGING_EXTRA_LOGGERS
    assert any("customer_daily_etl.ingest_cdc 2026-10-06 attempt 1 started" in ln
               for ln in lines), lines
