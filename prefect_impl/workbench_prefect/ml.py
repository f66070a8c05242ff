"""Daily lead scoring: generate the day's leads from fresh silver customers, train a seeded
Spark ML model, evaluate it, stop unless AUC >= 0.75, deploy it atomically to
production/latest, score the day's leads and notify.

Prefect idioms: one task per spec step, each handing its small result to the next as a
task return value; the model metrics are a table artifact; the deployment of this flow is
started by the event ``customer_daily_etl`` emits when silver customers are written.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from pipelines_core.config import config_for
from pipelines_core.spec import AUC_THRESHOLD
from pipelines_core.spec import LEAD_SCORING_MLOPS as SPEC

from workbench_prefect import ORCHESTRATOR
from workbench_prefect.common import (alert_flow_failure, bind_tasks, call_step, data_date,
                                      run_name)

PIPELINE = SPEC.name
TAGS = list(SPEC.tags)


def _doc(step: str) -> str:
    return SPEC.step(step).doc


@task(name="generate_leads", description=_doc("generate_leads"), tags=TAGS,
      task_run_name="generate_leads")
def generate_leads(ds: str) -> dict[str, Any]:
    return call_step(PIPELINE, "generate_leads", ds)


@task(name="train", description=_doc("train"), tags=TAGS,
      task_run_name="train")
def train(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "train", ds, upstream=upstream)


@task(name="evaluate", description=_doc("evaluate"), tags=TAGS,
      task_run_name="evaluate")
def evaluate(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "evaluate", ds, upstream=upstream)


@task(name="auc_gate", description=_doc("auc_gate"), tags=TAGS,
      task_run_name="auc_gate")
def auc_gate(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "auc_gate", ds, upstream=upstream)


@task(name="deploy", description=_doc("deploy"), tags=TAGS,
      task_run_name="deploy")
def deploy(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "deploy", ds, upstream=upstream)


@task(name="batch_predictions", description=_doc("batch_predictions"), tags=TAGS,
      task_run_name="batch_predictions")
def batch_predictions(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "batch_predictions", ds, upstream=upstream)


@task(name="notify", description=_doc("notify"), tags=TAGS,
      task_run_name="notify")
def notify(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "notify", ds, upstream=upstream)


TASKS = (generate_leads, train, evaluate, auc_gate, deploy, batch_predictions, notify)


@flow(name=PIPELINE, description=__doc__, flow_run_name=run_name(PIPELINE),
      on_failure=[alert_flow_failure], on_crashed=[alert_flow_failure], log_prints=True)
def lead_scoring_mlops(day: date | None = None) -> dict[str, Any]:
    ds = data_date(day)
    config = config_for(ORCHESTRATOR)
    t = bind_tasks(SPEC, config, ds, TASKS)

    leads = t.generate_leads(ds)
    model = t.train(ds, upstream={"generate_leads": leads})
    scores = t.evaluate(ds, upstream={"train": model})
    metrics = scores["metrics"]
    create_table_artifact(
        key="lead-scoring-metrics",
        table=[{"metric": k, "value": v} for k, v in sorted(metrics.items())],
        description=f"Model of {ds}: AUC {metrics['auc']:.4f} "
                    f"({'passes' if metrics['auc'] >= AUC_THRESHOLD else 'fails'} the "
                    f"{AUC_THRESHOLD} gate)")
    verdict = t.auc_gate(ds, upstream={"evaluate": scores})
    deployed = t.deploy(ds, upstream={"auc_gate": verdict})
    predictions = t.batch_predictions(ds, upstream={"deploy": deployed})
    t.notify(ds, upstream={"batch_predictions": predictions})
    return {"date": ds, "auc": metrics["auc"], "leads": leads["rows_out"],
            "predictions": predictions["rows_out"],
            "latest_moved": deployed["metrics"].get("latest_moved")}
