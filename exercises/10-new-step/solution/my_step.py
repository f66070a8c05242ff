"""The new step: active customers per segment, for the date, into gold."""

from __future__ import annotations

from pipelines_core import lake
from pipelines_core.runtime import RunContext, StepResult

GOLD_TABLE = "customer_segments"


def segment_counts(ctx: RunContext) -> StepResult:
    """Active customers per segment for the date, written atomically to gold."""
    from pyspark.sql import functions as F

    silver = ctx.spark.read.parquet(ctx.partition("silver", "customers").uri())
    counts = (silver.where(~F.col("is_deleted")).groupBy("segment")
              .agg(F.count("*").alias("customers")).coalesce(1))
    out = lake.write_parquet(counts, ctx.partition("gold", GOLD_TABLE))
    metrics = {r["segment"]: r["customers"] for r in counts.collect()}
    return StepResult(rows_in=silver.count(), rows_out=len(metrics), outputs=[str(out)],
                      metrics=metrics)
