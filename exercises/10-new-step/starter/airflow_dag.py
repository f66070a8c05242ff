"""customer_segments as an Airflow 3 DAG built from my_spec."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import dag, get_current_context, task

from my_spec import PIPELINE
from pipelines_core.runtime import run_step


def run(step: str) -> dict:
    context = get_current_context()
    return run_step(PIPELINE, step, context["logical_date"].date(),
                    attempt=context["ti"].try_number, orchestrator="airflow")


@dag(dag_id=PIPELINE.name, schedule=PIPELINE.schedule, catchup=False,
     start_date=datetime(2026, 10, 1, tzinfo=timezone.utc), tags=list(PIPELINE.tags))
def customer_segments():
    @task
    def ingest_cdc() -> dict:
        return run("ingest_cdc")

    # TODO: the task segment_counts, downstream of ingest_cdc
    ingest_cdc()


customer_segments()
