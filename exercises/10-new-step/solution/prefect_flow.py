"""customer_segments as a Prefect 3 flow built from my_spec."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, runtime, task

from my_spec import PIPELINE
from pipelines_core.runtime import run_step


def run(step: str, ds: str) -> dict[str, Any]:
    return run_step(PIPELINE, step, ds, attempt=runtime.task_run.run_count or 1,
                    orchestrator="prefect")


@task(name="ingest_cdc")
def ingest_cdc(ds: str) -> dict[str, Any]:
    return run("ingest_cdc", ds)


@task(name="segment_counts")
def segment_counts(ds: str, silver: dict[str, Any]) -> dict[str, Any]:
    return run("segment_counts", ds)


@flow(name=PIPELINE.name)
def customer_segments(day: date) -> dict[str, Any]:
    ds = day.isoformat()
    return segment_counts(ds, ingest_cdc(ds))
