"""Pure Spark transforms: DataFrame in, DataFrame (or small dict) out, no I/O.

The steps in ``pipelines_core.steps`` read and write the lake and call these; tests call them
on tiny hand-built frames.
"""

from __future__ import annotations

from datetime import date as Date
from typing import Any

from pipelines_core.spec import REGIONS

# When two events of one customer share an operation time, a delete wins over an update,
# an update over an insert; then the later event id.
OP_PRIORITY = {"D": 3, "U": 2, "I": 1}
SILVER_COLUMNS = ("customer_id", "name", "email", "region", "segment", "lifetime_value",
                  "updated_at", "last_op", "is_deleted", "is_late")


def resolve_cdc(events: Any, day: Date) -> Any:
    """Resolve one export's CDC events into the latest state of each customer touched.

    Exact duplicate events (same ``event_id``) count once; events without a key are dropped
    (the quality gate counts them); per customer the event with the latest ``op_ts`` wins,
    whatever order the events arrived in, so a late update never resurrects a deleted
    customer. A delete leaves a tombstone (``is_deleted``).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    prio = F.create_map(*[x for k, v in OP_PRIORITY.items() for x in (F.lit(k), F.lit(v))])
    w = Window.partitionBy("customer_id").orderBy(
        F.col("op_ts").desc(), prio[F.col("op")].desc(), F.col("event_id").desc())
    return (events.dropDuplicates(["event_id"])
            .where(F.col("customer_id").isNotNull())
            .withColumn("_rank", F.row_number().over(w))
            .where(F.col("_rank") == 1)
            .select(
                "customer_id", "name", "email", "region", "segment", "lifetime_value",
                F.col("op_ts").alias("updated_at"),
                F.col("op").alias("last_op"),
                (F.col("op") == "D").alias("is_deleted"),
                (F.to_date("op_ts") < F.lit(day.isoformat()).cast("date")).alias("is_late"),
            ))


def quality_checks(bronze: Any, silver: Any, *, expected_rows: int) -> list[dict[str, Any]]:
    """The data-quality checks of one date: each ``{name, passed, observed, limit}``.

    - null_keys: share of export rows without a customer id, at most 1%;
    - duplicate_keys: customers with more than one silver row, none allowed;
    - row_count: export rows within 50%..200% of the expected daily volume, or none at all
      (an empty export is legal: a day without changes gives empty outputs);
    - referential_region: active silver customers whose region is not a known region, none;
    - null_email: share of active silver customers without e-mail, at most 5%.
    """
    from pyspark.sql import functions as F

    b = bronze.agg(F.count("*").alias("rows"),
                   F.sum(F.col("customer_id").isNull().cast("int")).alias("null_keys")).first()
    active = silver.where(~F.col("is_deleted"))
    s = silver.agg(F.count("*").alias("rows"),
                   F.countDistinct("customer_id").alias("keys")).first()
    a = active.agg(
        F.count("*").alias("rows"),
        F.sum((~F.col("region").isin(*REGIONS) | F.col("region").isNull()).cast("int"))
        .alias("bad_region"),
        F.sum(F.col("email").isNull().cast("int")).alias("null_email")).first()
    rows = b["rows"] or 0
    null_key_share = (b["null_keys"] or 0) / rows if rows else 0.0
    null_email_share = (a["null_email"] or 0) / a["rows"] if a["rows"] else 0.0
    return [
        _check("null_keys", null_key_share <= 0.01, round(null_key_share, 6), 0.01),
        _check("duplicate_keys", s["rows"] == s["keys"], s["rows"] - s["keys"], 0),
        _check("row_count", rows == 0 or 0.5 * expected_rows <= rows <= 2.0 * expected_rows,
               rows,
               [int(0.5 * expected_rows), int(2.0 * expected_rows)]),
        _check("referential_region", (a["bad_region"] or 0) == 0, a["bad_region"] or 0, 0),
        _check("null_email", null_email_share <= 0.05, round(null_email_share, 6), 0.05),
    ]


def _check(name: str, passed: bool, observed: Any, limit: Any) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "observed": observed, "limit": limit}


def region_aggregates(silver: Any, region: str) -> Any:
    """Gold metrics of one region: customers touched, new, updated, deleted, late, value."""
    from pyspark.sql import functions as F

    rows = silver.where(F.col("region") == region) if region else silver
    # Deletes carry no region; they are counted in the summary, not per region.
    return rows.agg(
        F.count("*").alias("customers_touched"),
        F.sum((F.col("last_op") == "I").cast("int")).alias("new_customers"),
        F.sum((F.col("last_op") == "U").cast("int")).alias("updated_customers"),
        F.sum(F.col("is_late").cast("int")).alias("late_events"),
        F.coalesce(F.sum("lifetime_value"), F.lit(0).cast("decimal(22,2)"))
        .cast("decimal(22,2)").alias("lifetime_value_total"),
    ).withColumn("region", F.lit(region)).select(
        "region", "customers_touched", "new_customers", "updated_customers", "late_events",
        "lifetime_value_total")


def report_totals(summary_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over per-region summary rows (plain dicts), for the reports."""
    totals: dict[str, Any] = {"customers_touched": 0, "new_customers": 0,
                              "updated_customers": 0, "late_events": 0,
                              "lifetime_value_total": "0.00"}
    value = 0
    for r in summary_rows:
        for k in ("customers_touched", "new_customers", "updated_customers", "late_events"):
            totals[k] += int(r[k] or 0)
        value += round(float(r["lifetime_value_total"]) * 100)
    totals["lifetime_value_total"] = f"{value / 100:.2f}"
    return totals


def model_pipeline() -> Any:
    """The Spark ML pipeline that scores leads: logistic regression, which is deterministic
    for the same data, so no seed is needed (the data's seed decides everything)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    numeric = ["visits", "email_opens", "company_size_log", "days_since_contact"]
    return Pipeline(stages=[
        StringIndexer(inputCol="segment", outputCol="segment_idx", handleInvalid="keep",
                      stringOrderType="alphabetAsc"),
        OneHotEncoder(inputCol="segment_idx", outputCol="segment_vec"),
        VectorAssembler(inputCols=numeric, outputCol="numeric"),
        StandardScaler(inputCol="numeric", outputCol="numeric_scaled"),
        VectorAssembler(inputCols=["numeric_scaled", "segment_vec"], outputCol="features"),
        LogisticRegression(featuresCol="features", labelCol="converted", maxIter=50,
                           regParam=0.01, tol=1e-8),
    ])


def lead_features(leads: Any) -> Any:
    """Model inputs derived from raw lead columns."""
    from pyspark.sql import functions as F

    return leads.withColumn("company_size_log", F.log10(F.col("company_size").cast("double")))
