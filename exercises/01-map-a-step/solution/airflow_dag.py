"""The step ``choose_report`` of customer_daily_etl as an Airflow 3 DAG of one task."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import dag, get_current_context, task

from pipelines_core.runtime import run_step


@dag(dag_id="exercise_choose_report", schedule="0 2 * * *", catchup=False,
     start_date=datetime(2026, 10, 1, tzinfo=timezone.utc), tags=["exercise"])
def exercise_choose_report():
    @task(task_id="choose_report")
    def choose_report() -> dict:
        context = get_current_context()
        return run_step("customer_daily_etl", "choose_report", context["logical_date"].date(),
                        attempt=context["ti"].try_number, orchestrator="airflow")

    choose_report()


exercise_choose_report()
