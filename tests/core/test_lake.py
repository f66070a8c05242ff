"""Atomic partition writes: stage, then swap; a failure before the swap changes nothing."""

import pytest

from pipelines_core import lake


def part(tmp_path):
    return lake.Partition(tmp_path / "ns", "silver", "t", "2026-11-02")


def test_write_replaces_the_partition_and_keeps_one_version(spark, tmp_path):
    p = part(tmp_path)
    lake.write_parquet(spark.range(5), p)
    lake.write_parquet(spark.range(7), p)
    assert spark.read.parquet(p.uri()).count() == 7
    assert p.path.is_symlink()
    assert len(list(p.versions_path.iterdir())) == 1


def test_failure_before_the_swap_leaves_the_last_good_state(spark, tmp_path):
    p = part(tmp_path)
    lake.write_parquet(spark.range(3), p)
    before = lake.checksum_spark(spark.read.parquet(p.uri()))

    def boom():
        raise RuntimeError("crash between stage and swap")

    token = lake.before_swap.set(boom)
    try:
        with pytest.raises(RuntimeError):
            lake.write_parquet(spark.range(100), p)
    finally:
        lake.before_swap.reset(token)
    assert lake.checksum_spark(spark.read.parquet(p.uri())) == before
    lake.write_parquet(spark.range(100), p)  # the next write cleans the orphaned stage
    assert spark.read.parquet(p.uri()).count() == 100
    assert len(list(p.versions_path.iterdir())) == 1


def test_checksum_ignores_row_order_and_partitioning_but_not_content(spark):
    a = spark.range(1000).repartition(7)
    b = spark.range(1000).orderBy("id", ascending=False).coalesce(1)
    c = spark.range(1001)
    assert lake.checksum_spark(a) == lake.checksum_spark(b)
    assert lake.checksum_spark(a) != lake.checksum_spark(c)


def test_json_partitions_are_swapped_too(tmp_path):
    p = lake.Partition(tmp_path / "ns", "reports", "r", "2026-11-02")
    lake.write_json({"a": 1}, p)
    lake.write_json({"a": 2}, p)
    assert lake.read_json(p) == {"a": 2}
