"""The step ``choose_report`` of customer_daily_etl as a Prefect 3 task inside a flow."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, runtime, task

from pipelines_core.runtime import run_step


@task(name="choose_report")
def choose_report(ds: str) -> dict[str, Any]:
    return run_step("customer_daily_etl", "choose_report", ds,
                    attempt=runtime.task_run.run_count or 1, orchestrator="prefect")


@flow(name="exercise_choose_report")
def exercise_choose_report(day: date) -> dict[str, Any]:
    return choose_report(day.isoformat())
