"""
### lead_scoring_mlops

Daily lead scoring, scheduled by data rather than by the clock: each update of the
`silver_customers` Asset (written by `customer_daily_etl.ingest_cdc`) starts a run for the
date carried on the asset event as its partition key (a `PartitionedAssetTimetable`: one
run per date, even when several dates are backfilled together). Generate the day's leads, train a seeded Spark ML model,
evaluate it, stop unless AUC >= 0.75 (gate), deploy it atomically to `production/latest`,
score the day's leads and notify.

Every task is named as its step in `pipelines_core.spec` and only calls
`pipelines_core.runtime.run_step`; metrics travel between tasks as XCom (return values).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from pipelines_core.config import config_for
from pipelines_core.spec import get_pipeline
from workbench_airflow.common import (ORCHESTRATOR, RUN_PARAMS, deadline, default_args, run,
                                      silver_customers_schedule, start_date, step_args)

SPEC = get_pipeline("lead_scoring_mlops")
CONFIG = config_for(ORCHESTRATOR)


@dag(
    dag_id=SPEC.name,
    description=SPEC.description,
    doc_md=__doc__,
    schedule=silver_customers_schedule(),
    start_date=start_date(SPEC),
    catchup=SPEC.catchup,
    max_active_runs=2,
    default_args=default_args(SPEC, CONFIG),
    params=RUN_PARAMS,
    tags=[*SPEC.tags, "workbench"],
    deadline=deadline(SPEC),
)
def lead_scoring_mlops():
    @task(**step_args(SPEC, "generate_leads"))
    def generate_leads() -> dict:
        return run(SPEC, "generate_leads")

    @task(**step_args(SPEC, "train"))
    def train(leads: dict) -> dict:
        return run(SPEC, "train", inputs={"generate_leads": leads})

    @task(**step_args(SPEC, "evaluate"))
    def evaluate(model: dict) -> dict:
        return run(SPEC, "evaluate", inputs={"train": model})

    @task(**step_args(SPEC, "auc_gate"))
    def auc_gate(metrics: dict) -> dict:
        return run(SPEC, "auc_gate", inputs={"evaluate": metrics})

    @task(**step_args(SPEC, "deploy"))
    def deploy(verdict: dict) -> dict:
        return run(SPEC, "deploy", inputs={"auc_gate": verdict})

    @task(**step_args(SPEC, "batch_predictions"))
    def batch_predictions(deployed: dict) -> dict:
        return run(SPEC, "batch_predictions", inputs={"deploy": deployed})

    @task(**step_args(SPEC, "notify"))
    def notify(predictions: dict) -> dict:
        return run(SPEC, "notify", inputs={"batch_predictions": predictions})

    notify(batch_predictions(deploy(auc_gate(evaluate(train(generate_leads()))))))


lead_scoring_mlops()
