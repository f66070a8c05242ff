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


# TODO: the task segment_counts, called in the flow after ingest_cdc


@flow(name=PIPELINE.name)
def customer_segments(day: date) -> dict[str, Any]:
    return ingest_cdc(day.isoformat())
