"""The generator is deterministic and produces the mess the pipeline must handle."""

from datetime import date

from pyspark.sql import functions as F

from pipelines_core import generator, lake

DAY = date(2026, 11, 2)


def test_same_inputs_same_rows_other_seed_other_rows(spark):
    a = generator.customer_cdc(spark, day=DAY, scale=3000, seed=1)
    b = generator.customer_cdc(spark, day=DAY, scale=3000, seed=1)
    c = generator.customer_cdc(spark, day=DAY, scale=3000, seed=2)
    assert lake.checksum_spark(a) == lake.checksum_spark(b)
    assert lake.checksum_spark(a) != lake.checksum_spark(c)


def test_export_carries_duplicates_late_events_deletes_and_nulls(spark):
    df = generator.customer_cdc(spark, day=DAY, scale=5000, seed=42)
    total = df.count()
    distinct_events = df.select("event_id").distinct().count()
    assert distinct_events == 5000
    assert 0.01 * 5000 < total - distinct_events < 0.03 * 5000  # ~2% duplicates
    ops = {r["op"]: r["count"] for r in df.groupBy("op").count().collect()}
    assert set(ops) == {"I", "U", "D"}
    late = df.where(F.to_date("op_ts") < F.lit(DAY)).count()
    assert 0.01 * total < late < 0.06 * total
    null_email = df.where((F.col("op") != "D") & F.col("email").isNull()).count()
    assert null_email > 0
    repeated = df.groupBy("customer_id").count().where("count > 1").count()
    assert repeated > 0  # the same customer changes several times a day
    assert df.where(F.col("customer_id").isNull()).count() == 0


def test_bad_day_has_null_keys_and_unknown_regions(spark):
    df = generator.customer_cdc(spark, day=DAY, scale=2000, seed=42, bad_day=True)
    share = df.where(F.col("customer_id").isNull()).count() / df.count()
    assert 0.2 < share < 0.3
    assert df.where(F.col("region") == "??").count() > 0
