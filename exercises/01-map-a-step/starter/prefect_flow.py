"""The step ``choose_report`` of customer_daily_etl as a Prefect 3 task inside a flow."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, runtime, task  # noqa: F401

from pipelines_core.runtime import run_step  # noqa: F401


# TODO: a task named as the step; its body calls run_step with Prefect's attempt number
# (runtime.task_run.run_count) and orchestrator="prefect", and returns the result.
@task(name="todo")
def todo(ds: str) -> dict[str, Any]:
    raise NotImplementedError


@flow(name="exercise_choose_report")
def exercise_choose_report(day: date) -> dict[str, Any]:
    return todo(day.isoformat())
