"""The step ``choose_report`` of customer_daily_etl as an Airflow 3 DAG of one task."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import dag, get_current_context, task  # noqa: F401

from pipelines_core.runtime import run_step  # noqa: F401


@dag(dag_id="exercise_choose_report", schedule=None,
     start_date=datetime(2026, 10, 1, tzinfo=timezone.utc), tags=["exercise"])
def exercise_choose_report():
    # TODO: the task must be named as the step, read the run's logical date and try number
    # from get_current_context(), call run_step(..., orchestrator="airflow") and return its
    # result (it becomes the task's XCom). The DAG runs daily at 02:00 with no catch-up.
    @task(task_id="todo")
    def todo() -> dict:
        raise NotImplementedError

    todo()


exercise_choose_report()
