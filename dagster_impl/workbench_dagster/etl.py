"""Daily customer ETL: wait for the bronze CDC export of the date, resolve it into silver
customers, stop on a data-quality violation, aggregate gold metrics per region, then write the
monthly (1st of the month) or daily report and notify.

Each asset is named as its step in ``pipelines_core.spec`` (key ``customer_daily_etl/<step>``)
and its body only calls the core. The quality gate is a blocking asset check on the silver
customers; the regions fan out as dynamic outputs inside a graph-backed asset; the branch is
a graph-backed multi-asset whose report outputs are optional, so only the chosen report
materialises and ``notify`` joins whichever ran.
"""

from __future__ import annotations

from typing import Any

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetIn, AssetsDefinition,
                     DynamicOut, DynamicOutput, GraphOut, In, MetadataValue, Nothing, Out,
                     Output, asset, asset_check, graph, graph_asset, op)

from pipelines_core.errors import GateFailed
from pipelines_core.steps.etl import regions
from pipelines_core.spec import get_pipeline

from workbench_dagster.common import (DAILY, ETL, KINDS, dagster_retry_policy, key, output,
                                      result_metadata, run_core_step)
from workbench_dagster.resources import SparkResource, WorkbenchResource

SPEC = get_pipeline(ETL)
RETRY = dagster_retry_policy(ETL)
PREFIX = [ETL]


@asset(key_prefix=PREFIX, partitions_def=DAILY, group_name=ETL, kinds={"python"},
       tags={"workbench/kind": "sensor"})
def wait_for_export(context, workbench: WorkbenchResource, spark: SparkResource) -> Output:
    """Wait until the bronze CDC export of the date exists (with a timeout).

    Runs started by ``customer_export_sensor`` find the export at once; a scheduled run polls
    up to ``sensor_timeout_s`` and then fails (no retry: waiting longer is the timeout's job).
    """
    return output(run_core_step(context, workbench, spark, ETL, "wait_for_export"))


@asset(key_prefix=PREFIX, partitions_def=DAILY, group_name=ETL, kinds=KINDS,
       retry_policy=RETRY, ins={"wait_for_export": AssetIn(key=key(ETL, "wait_for_export"))})
def ingest_cdc(context, workbench: WorkbenchResource, spark: SparkResource,
               wait_for_export: dict[str, Any]) -> Output:
    """Resolve CDC events by operation time into silver customers.

    Upserts, deletes, duplicate and late events are resolved by operation timestamp; the
    date's partition of ``silver/customers`` is replaced atomically.
    """
    return output(run_core_step(context, workbench, spark, ETL, "ingest_cdc",
                                inputs={"wait_for_export": wait_for_export}))


@asset_check(asset=key(ETL, "ingest_cdc"), name="quality_gate", blocking=True,
             partitions_def=DAILY, retry_policy=RETRY)
def quality_gate(context, workbench: WorkbenchResource, spark: SparkResource) -> AssetCheckResult:
    """Nulls, duplicate keys, row-count bounds, referential checks.

    Blocking: a failed gate stops every asset downstream of the silver customers.
    """
    try:
        result = run_core_step(context, workbench, spark, ETL, "quality_gate")
    except GateFailed as exc:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                                description=str(exc), metadata={"error": str(exc)})
    return AssetCheckResult(passed=True, metadata=result_metadata(result))


@op(out=DynamicOut(str), tags={"workbench/step": "gold_region_aggregates"})
def split_regions(ingest_cdc: dict[str, Any]):
    """One dynamic output per region: the fan-out values come from the core."""
    for region in regions():
        yield DynamicOutput(region, mapping_key=region)


@op(retry_policy=RETRY, tags={"workbench/step": "gold_region_aggregates"})
def aggregate_region(context, workbench: WorkbenchResource, spark: SparkResource,
                     region: str) -> Output:
    """Gold metrics of one region for the date (one mapped step per region)."""
    return output(run_core_step(context, workbench, spark, ETL, "gold_region_aggregates",
                                map_key=region))


@op(tags={"workbench/step": "gold_region_aggregates"})
def collect_regions(results: list[dict[str, Any]]) -> Output:
    """Fan-in of the mapped steps: every region's small result, in region order."""
    # A floor run (WORKBENCH_NOOP) returns empty results: no region, no paths.
    ordered = sorted(results, key=lambda r: r["metrics"].get("region", ""))
    return Output(ordered, metadata={
        "regions": MetadataValue.json([r["metrics"].get("region") for r in ordered]),
        "customers_touched": MetadataValue.json(
            {r["metrics"]["region"]: r["metrics"].get("customers_touched")
             for r in ordered if "region" in r["metrics"]}),
        "paths": MetadataValue.json([r["outputs"][0] for r in ordered if r["outputs"]])})


@graph_asset(key_prefix=PREFIX, partitions_def=DAILY, group_name=ETL, kinds=KINDS,
             ins={"ingest_cdc": AssetIn(key=key(ETL, "ingest_cdc"))})
def gold_region_aggregates(ingest_cdc):
    """Gold metrics of one region (mapped over regions).

    A graph-backed asset: the regions fan out as dynamic outputs, one retried step each,
    and are collected again, so the asset is one partition of ``gold/customer_region_daily``
    per region and date.
    """
    return collect_regions(split_regions(ingest_cdc).map(aggregate_region).collect())


@asset(key_prefix=PREFIX, partitions_def=DAILY, group_name=ETL, kinds=KINDS,
       retry_policy=RETRY,
       ins={"gold_region_aggregates": AssetIn(key=key(ETL, "gold_region_aggregates"))})
def gold_summary(context, workbench: WorkbenchResource, spark: SparkResource,
                 gold_region_aggregates: list[dict[str, Any]]) -> Output:
    """Fan-in: combine the regions into the daily summary."""
    return output(run_core_step(context, workbench, spark, ETL, "gold_summary",
                                inputs={"gold_region_aggregates": gold_region_aggregates}))


# --- the branch: choose_report -> monthly_report | daily_report -> notify -------------------

@op(retry_policy=RETRY,
    out={"choose_report": Out(dict), "monthly": Out(dict, is_required=False),
         "daily": Out(dict, is_required=False)})
def choose_report(context, workbench: WorkbenchResource, spark: SparkResource,
                  gold_summary: dict[str, Any]):
    """Monthly report on the 1st of a month, daily otherwise."""
    result = run_core_step(context, workbench, spark, ETL, "choose_report",
                           inputs={"gold_summary": gold_summary})
    yield output(result, "choose_report")
    # Only the chosen branch's output is yielded; the other report step is skipped.
    yield Output(result, output_name=result["next_step"].removesuffix("_report"))


@op(retry_policy=RETRY)
def monthly_report(context, workbench: WorkbenchResource, spark: SparkResource,
                   choice: dict[str, Any]) -> Output:
    """Report over the previous month's summaries."""
    return output(run_core_step(context, workbench, spark, ETL, "monthly_report",
                                inputs={"choose_report": choice}))


@op(retry_policy=RETRY)
def daily_report(context, workbench: WorkbenchResource, spark: SparkResource,
                 choice: dict[str, Any]) -> Output:
    """Report of the date."""
    return output(run_core_step(context, workbench, spark, ETL, "daily_report",
                                inputs={"choose_report": choice}))


@op(retry_policy=RETRY, ins={"reports": In(Nothing)})
def notify(context, workbench: WorkbenchResource, spark: SparkResource) -> Output:
    """Tell the sink that the date is done (joins whichever report ran).

    The join is an ordering-only (``Nothing``) fan-in: with a data fan-in, Dagster 1.13
    tried to load the skipped report's output when it was the second source, and failed.
    """
    return output(run_core_step(context, workbench, spark, ETL, "notify"))


@graph(name=f"{ETL}__report", out={"choose_report": GraphOut(), "monthly_report": GraphOut(),
            "daily_report": GraphOut(), "notify": GraphOut()})
def report(gold_summary):
    """Branch and join: choose the report, write it, notify."""
    choice, monthly, daily = choose_report(gold_summary)
    monthly_done = monthly_report(monthly)
    daily_done = daily_report(daily)
    # A fan-in input is skipped only when all its sources are: the join runs after either.
    done = notify([monthly_done, daily_done])
    return {"choose_report": choice, "monthly_report": monthly_done,
            "daily_report": daily_done, "notify": done}


def _report_assets() -> AssetsDefinition:
    steps = ("choose_report", "monthly_report", "daily_report", "notify")
    descriptions = {s: SPEC.step(s).doc for s in steps}
    return AssetsDefinition.from_graph(
        report,
        keys_by_input_name={"gold_summary": key(ETL, "gold_summary")},
        keys_by_output_name={s: key(ETL, s) for s in steps},
        internal_asset_deps={
            "choose_report": {key(ETL, "gold_summary")},
            "monthly_report": {key(ETL, "choose_report")},
            "daily_report": {key(ETL, "choose_report")},
            "notify": {key(ETL, "monthly_report"), key(ETL, "daily_report")},
        },
        partitions_def=DAILY, group_name=ETL, descriptions_by_output_name=descriptions,
        tags_by_output_name={s: {"dagster/kind/python": "", "dagster/kind/spark": ""}
                             for s in steps},
    )


report_assets = _report_assets()

assets = [wait_for_export, ingest_cdc, gold_region_aggregates, gold_summary, report_assets]
checks = [quality_gate]
