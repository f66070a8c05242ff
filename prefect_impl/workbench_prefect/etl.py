"""Daily customer ETL: wait for the bronze CDC export of the date, resolve it into silver
customers, stop on a data-quality violation, aggregate gold metrics per region, then write
the monthly (1st of the month) or daily report and notify.

Prefect idioms: one task per spec step; ``.map()`` over the regions and fan-in by passing
the mapped futures to ``gold_summary``; the branch is plain Python on ``choose_report``'s
return value, so only the chosen report appears among the run's task runs; the quality
results are a table artifact; writing silver customers emits the event that triggers the
``lead_scoring_mlops`` deployment.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, task, unmapped
from prefect.utilities.annotations import quote
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from pipelines_core import lake
from pipelines_core.config import config_for
from pipelines_core.spec import CUSTOMER_DAILY_ETL as SPEC
from pipelines_core.steps import etl as core_etl

from workbench_prefect import ORCHESTRATOR
from workbench_prefect.common import (alert_flow_failure, bind_tasks, call_step, data_date,
                                      run_name)

PIPELINE = SPEC.name
TAGS = list(SPEC.tags)
SILVER_EVENT = "workbench.silver.customers.written"


def _doc(step: str) -> str:
    return SPEC.step(step).doc


@task(name="wait_for_export", description=_doc("wait_for_export"), tags=TAGS,
      task_run_name="wait_for_export")
def wait_for_export(ds: str) -> dict[str, Any]:
    return call_step(PIPELINE, "wait_for_export", ds)


@task(name="ingest_cdc", description=_doc("ingest_cdc"), tags=TAGS,
      task_run_name="ingest_cdc")
def ingest_cdc(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "ingest_cdc", ds, upstream=upstream)


@task(name="quality_gate", description=_doc("quality_gate"), tags=TAGS,
      task_run_name="quality_gate")
def quality_gate(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "quality_gate", ds, upstream=upstream)


@task(name="gold_region_aggregates", description=_doc("gold_region_aggregates"), tags=TAGS,
      task_run_name="gold_region_aggregates[{region}]")
def gold_region_aggregates(ds: str, region: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "gold_region_aggregates", ds, upstream=upstream, region=region)


@task(name="gold_summary", description=_doc("gold_summary"), tags=TAGS,
      task_run_name="gold_summary")
def gold_summary(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "gold_summary", ds, upstream=upstream)


@task(name="choose_report", description=_doc("choose_report"), tags=TAGS,
      task_run_name="choose_report")
def choose_report(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "choose_report", ds, upstream=upstream)


@task(name="monthly_report", description=_doc("monthly_report"), tags=TAGS,
      task_run_name="monthly_report")
def monthly_report(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "monthly_report", ds, upstream=upstream)


@task(name="daily_report", description=_doc("daily_report"), tags=TAGS,
      task_run_name="daily_report")
def daily_report(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "daily_report", ds, upstream=upstream)


@task(name="notify", description=_doc("notify"), tags=TAGS,
      task_run_name="notify")
def notify(ds: str, upstream: dict[str, Any]) -> dict[str, Any]:
    return call_step(PIPELINE, "notify", ds, upstream=upstream)


TASKS = (wait_for_export, ingest_cdc, quality_gate, gold_region_aggregates, gold_summary,
         choose_report, monthly_report, daily_report, notify)
# The lake tables each step writes (layer, table): these tasks materialise them as assets.
WRITES = {
    "ingest_cdc": (("silver", core_etl.SILVER_TABLE),),
    "quality_gate": (("quality", core_etl.SILVER_TABLE),),
    "gold_region_aggregates": (("gold", core_etl.GOLD_REGION_TABLE),),
    "gold_summary": (("gold", core_etl.GOLD_SUMMARY_TABLE),),
    "monthly_report": (("reports", "customer_monthly"),),
    "daily_report": (("reports", "customer_daily"),),
    "notify": (("reports", f"{PIPELINE}_notifications"),),
}


def silver_resource(namespace: str) -> str:
    """Prefect resource id of a namespace's silver customers table."""
    return f"workbench.lake.{namespace}.silver.customers"


def announce_silver(namespace: str, ds: str, result: dict[str, Any]) -> None:
    """Tell Prefect's event system that the date's silver customers are written; the
    ``lead_scoring_mlops`` deployment's trigger listens for this event."""
    emit_event(event=SILVER_EVENT,
               resource={"prefect.resource.id": silver_resource(namespace),
                         "workbench.date": ds},
               payload={"date": ds, "rows": result.get("rows_out"),
                        "outputs": result.get("outputs", [])})


def publish_quality(config, ds: str) -> None:
    """The quality checks the gate wrote, as a table artifact (also when the gate failed)."""
    part = lake.Partition(config.namespace_root(), "quality", core_etl.SILVER_TABLE, ds)
    if not part.exists():
        return
    report = lake.read_json(part)
    create_table_artifact(
        key="customer-quality", table=report["checks"],
        description=f"Data-quality checks of silver customers for {ds}: "
                    f"{'passed' if report['passed'] else 'FAILED'}")


@flow(name=PIPELINE, description=__doc__, flow_run_name=run_name(PIPELINE),
      on_failure=[alert_flow_failure], on_crashed=[alert_flow_failure], log_prints=True)
def customer_daily_etl(day: date | None = None) -> dict[str, Any]:
    ds = data_date(day)
    config = config_for(ORCHESTRATOR)
    t = bind_tasks(SPEC, config, ds, TASKS, WRITES)

    export = t.wait_for_export(ds)
    silver = t.ingest_cdc(ds, upstream={"wait_for_export": export})
    announce_silver(config.namespace, ds, silver)
    try:
        gate = t.quality_gate(ds, upstream={"ingest_cdc": silver})
    finally:
        publish_quality(config, ds)

    parts = t.gold_region_aggregates.map(ds=unmapped(ds), region=core_etl.regions(),
                                         upstream=unmapped({"quality_gate": gate}))
    parts.result()  # raises if any region failed: nothing downstream runs
    summary = t.gold_summary(ds, upstream={"gold_region_aggregates": parts})

    choice = t.choose_report(ds, upstream={"gold_summary": summary})
    branch = choice["next_step"]
    if branch == "monthly_report":
        report = t.monthly_report(ds, upstream={"choose_report": choice})
    else:
        report = t.daily_report(ds, upstream={"choose_report": choice})
    # Prefect links inputs to upstream task runs by object identity, dict keys included, and
    # the key (an interned string) is also a value of choose_report's result: quoted, the
    # mapping is not searched, and wait_for records the one real edge, report -> notify.
    done = t.notify(ds, upstream=quote({branch: report}), wait_for=[report])

    create_markdown_artifact(
        key="customer-daily-etl",
        markdown=(f"# customer_daily_etl {ds}\n\n"
                  f"| measure | value |\n|---|---|\n"
                  f"| bronze rows | {silver['rows_in']} |\n"
                  f"| silver customers | {silver['rows_out']} |\n"
                  f"| deleted | {silver['metrics'].get('deleted')} |\n"
                  f"| customers touched | {summary['metrics'].get('customers_touched')} |\n"
                  f"| report | {branch} |\n"),
        description=f"customer_daily_etl {ds}")
    return {"date": ds, "branch": branch, "silver_rows": silver["rows_out"],
            "customers_touched": summary["metrics"].get("customers_touched"),
            "outputs": done["outputs"]}
