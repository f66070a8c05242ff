"""Daily lead scoring: generate the day's leads from fresh silver customers, train a seeded
Spark ML model, evaluate it, stop unless AUC >= 0.75, deploy it atomically to
production/latest, score the day's leads and notify.

Every asset carries an automation condition: when the ETL's silver customers
(``customer_daily_etl/ingest_cdc``) of a date update, the chain of this date is requested.
The AUC gate is a blocking asset check on ``evaluate``: a weak model is never deployed.
"""

from __future__ import annotations

from typing import Any

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetIn, AutomationCondition,
                     MetadataValue, Output, asset, asset_check)

from pipelines_core.errors import GateFailed
from pipelines_core.spec import AUC_THRESHOLD

from workbench_dagster.common import (DAILY, ETL, KINDS, ML, dagster_retry_policy, key, output,
                                      result_metadata, run_core_step)
from workbench_dagster.resources import SparkResource, WorkbenchResource

RETRY = dagster_retry_policy(ML)
PREFIX = [ML]

# Fresh upstream data of a partition (any date, not only the latest) starts it, once both
# its upstreams are present and nothing of it is in flight. Unlike ``eager()`` it neither
# limits itself to the latest partition nor fills partitions that were always missing.
FRESH_UPSTREAM = (
    AutomationCondition.any_deps_updated().since_last_handled()
    & ~AutomationCondition.any_deps_missing()
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("fresh_upstream")

COMMON = dict(key_prefix=PREFIX, partitions_def=DAILY, group_name=ML, kinds=KINDS,
              retry_policy=RETRY, automation_condition=FRESH_UPSTREAM)


@asset(deps=[key(ETL, "ingest_cdc")], **COMMON)
def generate_leads(context, workbench: WorkbenchResource, spark: SparkResource) -> Output:
    """Leads of the date, joined to fresh silver customers."""
    return output(run_core_step(context, workbench, spark, ML, "generate_leads"))


@asset(ins={"generate_leads": AssetIn(key=key(ML, "generate_leads"))}, **COMMON)
def train(context, workbench: WorkbenchResource, spark: SparkResource,
          generate_leads: dict[str, Any]) -> Output:
    """Fit a seeded Spark ML pipeline on the training split."""
    return output(run_core_step(context, workbench, spark, ML, "train",
                                inputs={"generate_leads": generate_leads}))


@asset(ins={"train": AssetIn(key=key(ML, "train"))}, **COMMON)
def evaluate(context, workbench: WorkbenchResource, spark: SparkResource,
             train: dict[str, Any]) -> Output:
    """AUC and friends on the held-out split, to metrics.json."""
    return output(run_core_step(context, workbench, spark, ML, "evaluate",
                                inputs={"train": train}))


@asset_check(asset=key(ML, "evaluate"), name="auc_gate", blocking=True, partitions_def=DAILY,
             retry_policy=RETRY)
def auc_gate(context, workbench: WorkbenchResource, spark: SparkResource) -> AssetCheckResult:
    """Stop unless AUC >= 0.75.

    Blocking: a model under the threshold is never deployed nor used for predictions.
    """
    try:
        result = run_core_step(context, workbench, spark, ML, "auc_gate")
    except GateFailed as exc:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                                description=str(exc),
                                metadata={"error": str(exc),
                                          "threshold": MetadataValue.float(AUC_THRESHOLD)})
    return AssetCheckResult(passed=True, metadata={
        **result_metadata(result), "threshold": MetadataValue.float(AUC_THRESHOLD)})


@asset(ins={"evaluate": AssetIn(key=key(ML, "evaluate"))}, **COMMON)
def deploy(context, workbench: WorkbenchResource, spark: SparkResource,
           evaluate: dict[str, Any]) -> Output:
    """Atomically switch production/latest to this model."""
    return output(run_core_step(context, workbench, spark, ML, "deploy",
                                inputs={"evaluate": evaluate}))


@asset(ins={"deploy": AssetIn(key=key(ML, "deploy"))}, **COMMON)
def batch_predictions(context, workbench: WorkbenchResource, spark: SparkResource,
                      deploy: dict[str, Any]) -> Output:
    """Score the date's leads with the deployed model."""
    return output(run_core_step(context, workbench, spark, ML, "batch_predictions",
                                inputs={"deploy": deploy}))


@asset(name="notify", ins={"batch_predictions": AssetIn(key=key(ML, "batch_predictions"))},
       **COMMON)
def notify_ml(context, workbench: WorkbenchResource, spark: SparkResource,
              batch_predictions: dict[str, Any]) -> Output:
    """Tell the sink that the date is done."""
    return output(run_core_step(context, workbench, spark, ML, "notify",
                                inputs={"batch_predictions": batch_predictions}))


assets = [generate_leads, train, evaluate, deploy, batch_predictions, notify_ml]
checks = [auc_gate]
