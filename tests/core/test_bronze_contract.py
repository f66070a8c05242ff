"""The bronze export's contract: a broken export stops ``customer_daily_etl`` at once, with
one error naming the file or the column and the expected schema, one alert, no retry, and
silver and gold exactly as they were; an empty export is legal."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines_core import contract, lake
from pipelines_core.alerts import read_alerts
from pipelines_core.errors import ContractViolation
from pipelines_core.generator import write_customer_export
from pipelines_core.ledger import Ledger
from pipelines_core.runner import run_pipeline
from pipelines_core.spec import get_pipeline
from pipelines_core.steps.etl import export_partition
from pipelines_core.verify import output_checksums

ETL = get_pipeline("customer_daily_etl")
DAY = date(2026, 11, 3)
EXPECTED = f"(expected: {contract.describe(contract.BRONZE_EXPORT)})"


@pytest.fixture
def good_day(config, spark):
    """A date whose outputs exist from a good export: what a broken re-export must not
    touch."""
    write_customer_export(config, DAY)
    assert run_pipeline(ETL, DAY, config).state == "success"
    return output_checksums(config, ETL.name, DAY, spark=spark)


def republish(config, spark, df):
    """A new export of DAY (what a source system re-sends), swapped in atomically."""
    lake.write_parquet(df, export_partition(config, DAY))
    (export_partition(config, DAY).path / "_SUCCESS").touch()


def rerun_fails_alone(config, spark, before, message):
    """Run DAY again: it fails at ingest_cdc with ``message``, once, with one alert, and the
    outputs are as they were."""
    alerts_before = len(read_alerts(config))
    outcome = run_pipeline(ETL, DAY, config)
    assert outcome.state == "failed"
    ingest = next(s for s in outcome.steps if s.step == "ingest_cdc")
    assert ingest.state == "failed" and ingest.attempts == 1  # never retried
    assert ingest.error.endswith(message), ingest.error
    assert {s.step: s.state for s in outcome.steps}["gold_summary"] == "upstream_failed"
    new_alerts = read_alerts(config)[alerts_before:]
    assert [(a["step"], a["error"].endswith(message)) for a in new_alerts] == [
        ("ingest_cdc", True)]
    assert output_checksums(config, ETL.name, DAY, spark=spark) == before
    last = Ledger(config.ledger_path).read_attempts(step="ingest_cdc", date="2026-11-03")[-1]
    assert last.status == "gate_failed"


def test_an_export_missing_a_column(config, spark, good_day):
    df = spark.read.parquet(export_partition(config, DAY).uri()).drop("op_ts")
    republish(config, spark, df)
    rerun_fails_alone(config, spark, good_day, "lacks column op_ts (in " +
                      next(p.name for p in export_partition(config, DAY).path.glob("*.parquet"))
                      + f") {EXPECTED}")


def test_an_export_with_a_column_of_another_type(config, spark, good_day):
    from pyspark.sql import functions as F

    df = spark.read.parquet(export_partition(config, DAY).uri()).withColumn(
        "customer_id", F.col("customer_id").cast("string"))
    republish(config, spark, df)
    with pytest.raises(ContractViolation, match="has column customer_id as string, not bigint"):
        contract.check_export(export_partition(config, DAY).path, DAY)
    rerun_fails_alone(config, spark, good_day, EXPECTED)


def test_an_unreadable_export_file(config, spark, good_day):
    folder = export_partition(config, DAY).path
    broken = sorted(folder.glob("*.parquet"))[0]
    # the folder is an immutable version: a corrupted copy is published as a new version
    version = lake.stage_dir(export_partition(config, DAY))
    version.mkdir()
    (version / broken.name).write_bytes(broken.read_bytes()[: len(broken.read_bytes()) // 2])
    (version / "_SUCCESS").touch()
    lake.swap_in(export_partition(config, DAY), version)
    rerun_fails_alone(config, spark, good_day, EXPECTED)
    with pytest.raises(ContractViolation, match=f"cannot be read: {broken.name} is not a "
                                                f"readable parquet file"):
        contract.check_export(export_partition(config, DAY).path, DAY)


def test_an_empty_export_is_legal_and_gives_empty_outputs(config, spark):
    write_customer_export(config, DAY)
    empty = spark.read.parquet(export_partition(config, DAY).uri()).limit(0)
    republish(config, spark, empty)
    assert contract.check_export(export_partition(config, DAY).path, DAY) >= 1
    outcome = run_pipeline(ETL, DAY, config)
    assert outcome.state == "success", [(s.step, s.error) for s in outcome.steps if s.error]
    root = config.namespace_root()
    assert spark.read.parquet(str(root / "silver/customers/date=2026-11-03")).count() == 0
    # the region's aggregate of nothing: one row of zeros
    emea = spark.read.parquet(
        str(root / "gold/customer_region_daily/date=2026-11-03/region=emea")).collect()
    assert [r["customers_touched"] for r in emea] in ([], [0])
