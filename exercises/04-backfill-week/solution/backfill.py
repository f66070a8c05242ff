"""Backfill one week of customer_daily_etl with the direct runner, two dates at a time."""

from __future__ import annotations

from datetime import date, timedelta

from pipelines_core.config import WorkbenchConfig
from pipelines_core.runner import RunOutcome, backfill, date_range
from pipelines_core.spec import get_pipeline


def backfill_week(config: WorkbenchConfig, start: date, parallelism: int = 2) -> list[RunOutcome]:
    """Run ``customer_daily_etl`` for the seven dates from ``start``, at most ``parallelism``
    at a time, through the core's own backfill (one shared Spark session)."""
    spec = get_pipeline("customer_daily_etl")
    return backfill(spec, date_range(start, start + timedelta(days=6)), config,
                    parallelism=parallelism)
