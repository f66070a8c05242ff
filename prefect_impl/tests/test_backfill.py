"""A 3-day backfill through the deployment and the process worker, at most 2 runs at once,
every partition identical to the direct runner's."""

from __future__ import annotations

from datetime import date, datetime

from pipelines_core.runner import date_range
from pipelines_core.verify import output_checksums

from conftest import BACKFILL_DAYS


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_backfill_three_days_identical_to_direct(stack, backfill):
    days = date_range(*BACKFILL_DAYS)
    assert backfill.dates == [d.isoformat() for d in days]
    assert [r.state for r in backfill.runs] == ["success"] * 3
    assert sorted(r.date for r in backfill.runs) == backfill.dates
    for day in days:
        assert output_checksums(stack.config, "customer_daily_etl", day) == \
            stack.reference("customer_daily_etl", day)


def test_backfill_parallelism_bounded(backfill):
    spans = [(_ts(r.start), _ts(r.end)) for r in backfill.runs]
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert 1 <= peak <= backfill.parallelism == 2


def test_backfill_runs_read_back_with_steps(stack, backfill):
    runs = stack.adapter.read_runs("customer_daily_etl", date(2026, 10, 6))
    assert len(runs) == 1 and runs[0].state == "success"
    run = runs[0]
    assert sorted(s.map_key for s in run.steps if s.step == "gold_region_aggregates") == [
        "amer", "apac", "emea", "latam"]
    assert run.step("daily_report").state == "success"
    assert run.step("monthly_report") is None
    attempt = run.step("ingest_cdc").attempts[0]
    assert attempt.state == "success" and attempt.duration_s > 0
    assert "ingest_cdc 2026-10-06 attempt 1" in (attempt.log_excerpt or "")
    # the core's own line (logger "workbench"), shipped by PREFECT_LOGGING_EXTRA_LOGGERS
    assert "customer_daily_etl.ingest_cdc 2026-10-06 attempt 1 started" in attempt.log_excerpt
