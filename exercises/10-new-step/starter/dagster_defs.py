"""customer_segments as daily-partitioned Dagster assets built from my_spec."""

from __future__ import annotations

from typing import Any

from dagster import DailyPartitionsDefinition, Definitions, asset

from my_spec import PIPELINE
from pipelines_core.config import parse_date
from pipelines_core.runtime import run_step

DAILY = DailyPartitionsDefinition(start_date="2026-10-01")


def run(context, step: str) -> dict[str, Any]:
    return run_step(PIPELINE, step, parse_date(context.partition_key),
                    attempt=context.retry_number + 1, orchestrator="dagster")


@asset(partitions_def=DAILY, group_name=PIPELINE.name)
def ingest_cdc(context) -> dict[str, Any]:
    return run(context, "ingest_cdc")


# TODO: the asset segment_counts, depending on ingest_cdc

defs = Definitions(assets=[ingest_cdc])
