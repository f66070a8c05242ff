"""Steps of ``lead_scoring_mlops``: leads from fresh silver customers, a Spark ML model trained,
evaluated, gated on AUC, deployed atomically and used for the date's batch predictions."""

from __future__ import annotations

import json
import os
import uuid

from pipelines_core import generator, lake, transforms
from pipelines_core.errors import GateFailed
from pipelines_core.procs import locked
from pipelines_core.runtime import RunContext, StepResult
from pipelines_core.spec import AUC_THRESHOLD
from pipelines_core.steps.etl import SILVER_TABLE, notify_done

LEADS_TABLE = "leads"
MODEL_TABLE = "lead_scoring"
PREDICTIONS_TABLE = "lead_predictions"


def generate_leads(ctx: RunContext) -> StepResult:
    """The date's leads, one per active customer in the date's silver partition."""
    silver_part = ctx.partition("silver", SILVER_TABLE)
    if not silver_part.exists():
        raise FileNotFoundError(f"no silver customers for {ctx.ds}: run customer_daily_etl first")
    customers = ctx.spark.read.parquet(silver_part.uri())
    leads = generator.leads_from_customers(
        customers, day=ctx.date, seed=ctx.config.seed,
        separable=ctx.date not in ctx.config.noisy_lead_days)
    out = lake.write_parquet(leads, ctx.partition("silver", LEADS_TABLE))
    rows = ctx.spark.read.parquet(str(out)).count()
    return StepResult(rows_in=rows, rows_out=rows, outputs=[str(out)])


def _leads(ctx: RunContext, split: str | None = None):
    df = transforms.lead_features(ctx.spark.read.parquet(ctx.partition("silver", LEADS_TABLE).uri()))
    return df.where(df.split == split) if split else df


def train(ctx: RunContext) -> StepResult:
    """Fit the model on the training split and save it as the date's model version."""
    data = _leads(ctx, "train")
    model = transforms.model_pipeline().fit(data)
    part = ctx.partition("models", MODEL_TABLE)
    version = lake.stage_dir(part)
    model.write().save(str(version / "model"))
    out = lake.swap_in(part, version)
    rows = data.count()
    return StepResult(rows_in=rows, outputs=[str(out)], metrics={"train_rows": rows})


def _load_model(path: str):
    from pyspark.ml import PipelineModel

    return PipelineModel.load(path)


def evaluate(ctx: RunContext) -> StepResult:
    """AUC, area under PR and accuracy on the held-out split, written to metrics.json."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import functions as F

    test = _leads(ctx, "test")
    model_dir = ctx.partition("models", MODEL_TABLE).path / "model"
    scored = _load_model(str(model_dir)).transform(test)
    evaluator = BinaryClassificationEvaluator(labelCol="converted",
                                              rawPredictionCol="rawPrediction")
    auc = evaluator.evaluate(scored, {evaluator.metricName: "areaUnderROC"})
    pr = evaluator.evaluate(scored, {evaluator.metricName: "areaUnderPR"})
    acc = scored.agg(F.avg((F.col("prediction") == F.col("converted")).cast("double"))).first()[0]
    metrics = {"auc": round(auc, 6), "area_under_pr": round(pr, 6),
               "accuracy": round(acc or 0.0, 6), "test_rows": test.count(),
               "threshold": AUC_THRESHOLD}
    out = lake.write_json(metrics, ctx.partition("models", f"{MODEL_TABLE}_metrics"),
                          name="metrics.json")
    return StepResult(rows_in=metrics["test_rows"], outputs=[str(out)], metrics=metrics)


def auc_gate(ctx: RunContext) -> StepResult:
    """Stop everything downstream unless the date's model reaches the AUC threshold."""
    metrics = lake.read_json(ctx.partition("models", f"{MODEL_TABLE}_metrics"), "metrics.json")
    if metrics["auc"] < AUC_THRESHOLD:
        raise GateFailed(f"AUC gate failed for {ctx.ds}: auc={metrics['auc']:.4f} "
                         f"< {AUC_THRESHOLD}")
    return StepResult(metrics={"auc": metrics["auc"], "passed": True})


def _production_root(ctx: RunContext):
    return ctx.config.namespace_root() / "production" / MODEL_TABLE


def deploy(ctx: RunContext) -> StepResult:
    """Record the date's deployment and move ``production/lead_scoring/latest`` to it.

    ``latest`` is a symbolic link switched with one ``os.replace``; it only moves forward in
    time, so a backfill of older dates never replaces a newer production model, even when
    several dates deploy at once (the read and the move happen under one lock).
    """
    model_part = ctx.partition("models", MODEL_TABLE)
    metrics = lake.read_json(ctx.partition("models", f"{MODEL_TABLE}_metrics"), "metrics.json")
    model_target = os.path.realpath(model_part.path)
    record = {"date": ctx.ds, "model": os.path.relpath(model_target, ctx.config.namespace_root()),
              "auc": metrics["auc"]}
    out = lake.write_json(record, ctx.partition("production", MODEL_TABLE), name="deployment.json")
    latest = _production_root(ctx) / "latest"
    # read, decide and move under one lock: two dates deploying at once (a backfill, a double
    # trigger) must not move it back
    with locked(latest.parent / ".latest.lock"):
        current = (json.loads((latest / "deployment.json").read_text())
                   if latest.exists() else None)
        moved = current is None or current["date"] <= ctx.ds
        if moved:
            tmp = latest.parent / f".latest.{uuid.uuid4().hex}.tmp"
            os.symlink(os.path.relpath(os.path.realpath(out), latest.parent), tmp)
            os.replace(tmp, latest)
    return StepResult(outputs=[str(out)], metrics={"latest_moved": moved, "auc": metrics["auc"]})


def batch_predictions(ctx: RunContext) -> StepResult:
    """Score the date's leads with the model deployed for the date."""
    from pyspark.sql import functions as F
    from pyspark.ml.functions import vector_to_array

    deployment = lake.read_json(ctx.partition("production", MODEL_TABLE), "deployment.json")
    model_dir = ctx.config.namespace_root() / deployment["model"] / "model"
    leads = _leads(ctx)
    scored = (_load_model(str(model_dir)).transform(leads)
              .select("lead_id", "customer_id", "region",
                      F.round(vector_to_array("probability")[1], 6).alias("score"),
                      F.col("prediction").cast("int").alias("predicted_conversion"),
                      F.lit(deployment["date"]).alias("model_date")))
    out = lake.write_parquet(scored, ctx.partition("gold", PREDICTIONS_TABLE))
    rows = ctx.spark.read.parquet(str(out)).count()
    return StepResult(rows_in=rows, rows_out=rows, outputs=[str(out)])


def notify(ctx: RunContext) -> StepResult:
    """Record that the date's predictions are ready."""
    return notify_done(ctx, [ctx.partition("gold", PREDICTIONS_TABLE)])
