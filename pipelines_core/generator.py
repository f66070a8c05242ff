"""Deterministic synthetic data: bronze customer CDC exports and the day's leads.

Every value is a hash of (seed, date, row number, purpose), computed by Spark, so the same
(seed, date, scale) gives the same rows on any machine, partitioning or Spark mode, and 5M
rows a day are generated without collecting anything to the driver.

The CDC export carries the mess a real one does: inserts, updates and deletes of the same
customer within a day, exact duplicate events, late events whose operation time lies days
before the export date, and a few null e-mails. A "bad day" adds null keys and unknown
regions that must trip the quality gate.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime, timezone
from typing import Any

from pipelines_core.spec import REGIONS

SEGMENTS = ("smb", "mid_market", "enterprise")
CUSTOMER_UNIVERSE_FACTOR = 3  # distinct customers ~ scale * factor
DUPLICATE_RATE = 0.02
LATE_RATE = 0.03
NULL_EMAIL_RATE = 0.02
BAD_DAY_NULL_KEY_RATE = 0.25
BAD_DAY_BAD_REGION_RATE = 0.10


def _u01(F: Any, seed: int, day: str, purpose: str, *cols: Any) -> Any:
    """A uniform number in [0, 1) from a hash: deterministic, independent per purpose."""
    h = F.xxhash64(F.lit(seed), F.lit(day), F.lit(purpose), *cols)
    return (F.pmod(h, F.lit(1_000_003)).cast("double") / F.lit(1_000_003.0))


def _pick(F: Any, u: Any, values: tuple[str, ...]) -> Any:
    idx = F.least((u * len(values)).cast("int"), F.lit(len(values) - 1))
    return F.element_at(F.array(*[F.lit(v) for v in values]), idx + 1)


def customer_cdc(spark: Any, *, day: Date, scale: int, seed: int, bad_day: bool = False) -> Any:
    """The bronze CDC export of ``day``: ``scale`` events (plus ~2% duplicates).

    Columns: event_id, customer_id, op (I/U/D), op_ts, name, email, region, segment,
    lifetime_value (decimal), export_date.
    """
    from pyspark.sql import functions as F

    ds = day.isoformat()
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
    universe = max(scale * CUSTOMER_UNIVERSE_FACTOR, 10)
    i = F.col("id")
    u = lambda purpose: _u01(F, seed, ds, purpose, i)  # noqa: E731
    # A customer's id spreads over the universe; the same customer recurs within a day.
    customer_id = (F.pmod(F.xxhash64(F.lit(seed), F.lit(ds), F.lit("cust"), i),
                          F.lit(universe)) + 1).cast("long")
    op_u = u("op")
    op = F.when(op_u < 0.30, "I").when(op_u < 0.90, "U").otherwise("D")
    late_days = F.when(u("late") < LATE_RATE, (u("late_days") * 3).cast("int") + 1).otherwise(0)
    op_epoch = F.lit(midnight) + (u("ts") * 86_399).cast("long") - late_days * 86_400
    cid = F.col("customer_id")
    # Attributes are stable per customer (hash of the id, not the row) except the value.
    region = _pick(F, _u01(F, seed, "static", "region", cid), REGIONS)
    segment = _pick(F, _u01(F, seed, "static", "segment", cid), SEGMENTS)
    email = F.when(u("null_email") < NULL_EMAIL_RATE, F.lit(None).cast("string")).otherwise(
        F.concat(F.lit("c"), cid.cast("string"), F.lit("@example.com")))
    ltv = (u("ltv") * 50_000).cast("decimal(12,2)")
    deleted = F.col("op") == "D"

    df = (spark.range(0, scale, 1, numPartitions=max(1, min(64, scale // 250_000 + 1)))
          .withColumn("customer_id", customer_id)
          .withColumn("op", op)
          .withColumn("event_id", F.concat(F.lit(ds + "-"), i.cast("string")))
          .withColumn("op_ts", F.timestamp_seconds(op_epoch))
          .withColumn("name", F.when(deleted, None).otherwise(
              F.concat(F.lit("Customer "), cid.cast("string"))))
          .withColumn("email", F.when(deleted, None).otherwise(email))
          .withColumn("region", F.when(deleted, None).otherwise(region))
          .withColumn("segment", F.when(deleted, None).otherwise(segment))
          .withColumn("lifetime_value", F.when(deleted, None).otherwise(ltv)))
    if bad_day:
        df = (df.withColumn("customer_id", F.when(u("bad_key") < BAD_DAY_NULL_KEY_RATE, None)
                            .otherwise(F.col("customer_id")))
                .withColumn("region", F.when(~deleted & (u("bad_region") < BAD_DAY_BAD_REGION_RATE),
                                             F.lit("??")).otherwise(F.col("region"))))
    # Exact duplicates of ~2% of events, as an at-least-once exporter produces.
    dupes = df.where(u("dup") < DUPLICATE_RATE)
    return (df.unionByName(dupes)
              .withColumn("export_date", F.lit(ds).cast("date"))
              .select("event_id", "customer_id", "op", "op_ts", "name", "email", "region",
                      "segment", "lifetime_value", "export_date"))


def leads_from_customers(customers: Any, *, day: Date, seed: int, separable: bool = True) -> Any:
    """The day's leads: one per active silver customer, with features and a known outcome.

    The outcome follows a logistic model of the features, so a seeded model reaches an AUC
    well above 0.75; ``separable=False`` draws it at random (AUC near 0.5, trips the gate).
    """
    from pyspark.sql import functions as F

    ds = day.isoformat()
    cid = F.col("customer_id")
    u = lambda purpose: _u01(F, seed, ds, purpose, cid)  # noqa: E731
    visits = (u("visits") * 30).cast("int")
    opens = (u("opens") * 20).cast("int")
    size = F.pow(F.lit(10.0), u("size") * 4).cast("int") + 1
    recency = (u("recency") * 90).cast("int")
    segment_w = (F.when(F.col("segment") == "enterprise", 1.0)
                 .when(F.col("segment") == "mid_market", 0.4).otherwise(-0.4))
    score = (-2.0 + 0.12 * F.col("visits") + 0.15 * F.col("email_opens")
             - 0.03 * F.col("days_since_contact") + 0.35 * F.log10(F.col("company_size"))
             + segment_w)
    p = F.lit(1.0) / (F.lit(1.0) + F.exp(-score))
    label = F.when(u("outcome") < p, 1.0).otherwise(0.0)
    if not separable:
        label = F.when(u("outcome") < 0.3, 1.0).otherwise(0.0)
    return (customers.where(~F.col("is_deleted"))
            .select(cid, "region", "segment")
            .withColumn("lead_id", F.concat(F.lit(ds + "-L"), cid.cast("string")))
            .withColumn("visits", visits)
            .withColumn("email_opens", opens)
            .withColumn("company_size", size)
            .withColumn("days_since_contact", recency)
            .withColumn("converted", label)
            .withColumn("split", F.when(u("split") < 0.8, "train").otherwise("test"))
            .withColumn("lead_date", F.lit(ds).cast("date"))
            .select("lead_id", "customer_id", "region", "segment", "visits", "email_opens",
                    "company_size", "days_since_contact", "converted", "split", "lead_date"))


def write_customer_export(config: Any, day: Date) -> dict[str, Any]:
    """Generate and publish the bronze CDC export of ``day`` in ``config``'s namespace.

    The export is complete when its ``_SUCCESS`` marker exists (what the sensors wait for).
    """
    from pipelines_core import lake
    from pipelines_core.spark import get_session

    spark = get_session(config)
    part = lake.Partition(config.namespace_root(), "bronze", "customers_cdc", day.isoformat())
    df = customer_cdc(spark, day=day, scale=config.scale, seed=config.seed,
                      bad_day=day in config.bad_days)
    path = lake.write_parquet(df, part)
    return {"date": day.isoformat(), "path": str(path), "bad_day": day in config.bad_days}
