"""The step ``choose_report`` of customer_daily_etl as a daily-partitioned Dagster asset."""

from __future__ import annotations

from typing import Any

from dagster import DailyPartitionsDefinition, Definitions, asset

from pipelines_core.config import parse_date
from pipelines_core.runtime import run_step

DAILY = DailyPartitionsDefinition(start_date="2026-10-01")


@asset(partitions_def=DAILY)
def choose_report(context) -> dict[str, Any]:
    return run_step("customer_daily_etl", "choose_report", parse_date(context.partition_key),
                    attempt=context.retry_number + 1, orchestrator="dagster")


defs = Definitions(assets=[choose_report])
