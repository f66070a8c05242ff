"""Steps of ``customer_daily_etl``: each reads its inputs from the lake, calls the transforms,
writes only its own date partition (atomically) and returns a small result."""

from __future__ import annotations

from datetime import date as Date
from datetime import timedelta

from pipelines_core import contract, lake, transforms
from pipelines_core.config import WorkbenchConfig
from pipelines_core.errors import ExportNotReady, GateFailed
from pipelines_core.procs import poll_until
from pipelines_core.runtime import RunContext, StepResult
from pipelines_core.spec import REGIONS

BRONZE_TABLE = "customers_cdc"
SILVER_TABLE = "customers"
GOLD_REGION_TABLE = "customer_region_daily"
GOLD_SUMMARY_TABLE = "customer_daily_summary"


def export_partition(config: WorkbenchConfig, day: Date) -> lake.Partition:
    return lake.Partition(config.namespace_root(), "bronze", BRONZE_TABLE, day.isoformat())


def export_ready(config: WorkbenchConfig, day: Date) -> bool:
    """Whether the bronze export of ``day`` is complete (its ``_SUCCESS`` marker exists).

    Orchestrators' native sensors call this; the direct runner's ``wait_for_export`` polls it.
    """
    if config.noop:  # a floor run measures the orchestrator, not the data's arrival
        return True
    return (export_partition(config, day).path / "_SUCCESS").exists()


def wait_for_export(ctx: RunContext) -> StepResult:
    """Poll for the bronze export of the date until ``sensor_timeout_s``."""
    where = export_partition(ctx.config, ctx.date).path
    poll_until(lambda: export_ready(ctx.config, ctx.date), timeout_s=ctx.config.sensor_timeout_s,
               interval_s=ctx.config.sensor_poke_s, error=ExportNotReady,
               what=f"bronze export of {ctx.ds} at {where}")
    return StepResult(outputs=[str(export_partition(ctx.config, ctx.date).path)])


def ingest_cdc(ctx: RunContext) -> StepResult:
    """Check the date's CDC export against its contract, then resolve it into silver
    customers (one row per customer touched). A broken export stops here, before Spark reads
    it and before anything is written, and is not retried (``ContractViolation``)."""
    part = export_partition(ctx.config, ctx.date)
    contract.check_export(part.path, ctx.date)
    spark = ctx.spark
    bronze = spark.read.parquet(part.uri())
    silver = transforms.resolve_cdc(bronze, ctx.date)
    out = lake.write_parquet(silver, ctx.partition("silver", SILVER_TABLE))
    from pyspark.sql import functions as F

    counts = spark.read.parquet(str(out)).agg(
        F.count("*").alias("rows"), F.sum(F.col("is_deleted").cast("int")).alias("deleted")).first()
    rows_out, deleted = counts["rows"], counts["deleted"] or 0
    return StepResult(rows_in=bronze.count(), rows_out=rows_out, outputs=[str(out)],
                      metrics={"deleted": deleted, "active": rows_out - deleted})


def quality_gate(ctx: RunContext) -> StepResult:
    """Run the quality checks, record them, and stop the run if any fails."""
    spark = ctx.spark
    bronze = spark.read.parquet(export_partition(ctx.config, ctx.date).uri())
    silver = spark.read.parquet(ctx.partition("silver", SILVER_TABLE).uri())
    checks = transforms.quality_checks(bronze, silver, expected_rows=ctx.config.scale)
    passed = all(c["passed"] for c in checks)
    out = lake.write_json({"date": ctx.ds, "passed": passed, "checks": checks},
                          ctx.partition("quality", SILVER_TABLE))
    failed = [c["name"] for c in checks if not c["passed"]]
    if failed:
        detail = "; ".join(f"{c['name']}={c['observed']} (limit {c['limit']})"
                           for c in checks if not c["passed"])
        raise GateFailed(f"quality gate failed for {ctx.ds}: {detail}")
    return StepResult(outputs=[str(out)],
                      metrics={"passed": True, "checks": len(checks), "regions": list(REGIONS)})


def regions(ctx: RunContext | None = None) -> list[str]:
    """The fan-out values of ``gold_region_aggregates`` (the reference list of regions)."""
    return list(REGIONS)


def gold_region_aggregates(ctx: RunContext) -> StepResult:
    """Gold metrics of one region (``ctx.map_key``) for the date."""
    if ctx.map_key not in REGIONS:
        raise ValueError(f"gold_region_aggregates needs a region, got {ctx.map_key!r}")
    silver = ctx.spark.read.parquet(ctx.partition("silver", SILVER_TABLE).uri())
    agg = transforms.region_aggregates(silver, ctx.map_key)
    out = lake.write_parquet(agg.coalesce(1),
                             ctx.partition("gold", GOLD_REGION_TABLE, key=f"region={ctx.map_key}"))
    row = agg.first()
    return StepResult(rows_in=0, rows_out=1, outputs=[str(out)],
                      metrics={"region": ctx.map_key, "customers_touched": row["customers_touched"]})


def gold_summary(ctx: RunContext) -> StepResult:
    """Fan-in: every region's partition, combined into the date's summary."""
    parts = [ctx.partition("gold", GOLD_REGION_TABLE, key=f"region={r}") for r in REGIONS]
    missing = [p.relative for p in parts if not p.exists()]
    if missing:
        raise FileNotFoundError(f"fan-in incomplete for {ctx.ds}: missing {', '.join(missing)}")
    summary = ctx.spark.read.parquet(*[p.uri() for p in parts])
    out = lake.write_parquet(summary.coalesce(1), ctx.partition("gold", GOLD_SUMMARY_TABLE))
    totals = transforms.report_totals([r.asDict() for r in summary.collect()])
    return StepResult(rows_in=len(parts), rows_out=len(parts), outputs=[str(out)],
                      metrics={"customers_touched": totals["customers_touched"]})


def choose_report(ctx: RunContext) -> StepResult:
    """Branch: the monthly report on the 1st of a month, the daily report otherwise."""
    nxt = "monthly_report" if ctx.date.day == 1 else "daily_report"
    return StepResult(next_step=nxt, metrics={"branch": nxt})


def _summary_rows(ctx: RunContext, day: Date) -> list[dict] | None:
    part = ctx.partition("gold", GOLD_SUMMARY_TABLE, date=day)
    if not part.exists():
        return None
    return [r.asDict() for r in ctx.spark.read.parquet(part.uri()).collect()]


def daily_report(ctx: RunContext) -> StepResult:
    """The date's report: totals and per-region figures."""
    rows = _summary_rows(ctx, ctx.date)
    if rows is None:
        raise FileNotFoundError(f"no gold summary for {ctx.ds}")
    report = {"kind": "daily", "date": ctx.ds, "totals": transforms.report_totals(rows),
              "regions": sorted((_plain(r) for r in rows), key=lambda r: r["region"])}
    out = lake.write_json(report, ctx.partition("reports", "customer_daily"))
    return StepResult(rows_in=len(rows), rows_out=1, outputs=[str(out)])


def monthly_report(ctx: RunContext) -> StepResult:
    """The previous month's report, over the daily summaries present (and the date's own)."""
    first = (ctx.date.replace(day=1) - timedelta(days=1)).replace(day=1)
    days = [first + timedelta(days=n) for n in range((ctx.date.replace(day=1) - first).days)]
    covered, rows = [], []
    for d in days:
        found = _summary_rows(ctx, d)
        if found is not None:
            covered.append(d.isoformat())
            rows.extend(found)
    today = _summary_rows(ctx, ctx.date) or []
    report = {"kind": "monthly", "date": ctx.ds, "month": first.strftime("%Y-%m"),
              "days_covered": covered, "days_in_month": len(days),
              "totals": transforms.report_totals(rows),
              "today": transforms.report_totals(today)}
    out = lake.write_json(report, ctx.partition("reports", "customer_monthly"))
    return StepResult(rows_in=len(rows), rows_out=1, outputs=[str(out)],
                      metrics={"days_covered": len(covered)})


def notify(ctx: RunContext) -> StepResult:
    """Record that the date is done (idempotent), pointing at the report that was written."""
    return notify_done(ctx, [ctx.partition("reports", "customer_monthly"),
                             ctx.partition("reports", "customer_daily")])


def notify_done(ctx: RunContext, parts: list[lake.Partition]) -> StepResult:
    """Write the date's notification record and send it to the alert sink."""
    from pipelines_core.alerts import send_alert

    written = [p.relative for p in parts if p.exists()]
    note = {"pipeline": ctx.pipeline.name, "date": ctx.ds, "status": "done",
            "outputs": written}
    out = lake.write_json(note, ctx.partition("reports", f"{ctx.pipeline.name}_notifications"))
    send_alert(ctx.config, pipeline=ctx.pipeline.name, date=ctx.ds, step=ctx.step,
               error="", kind="notification", extra={"outputs": written})
    return StepResult(rows_out=1, outputs=[str(out)])


def _plain(row: dict) -> dict:
    return {k: (str(v) if not isinstance(v, (int, float, str, type(None))) else v)
            for k, v in row.items()}
