"""Write one date partition so that a re-run gives identical data and a failed write leaves
the previous data in place; and prove it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pipelines_core import lake


def write_partition(df: Any, part: lake.Partition) -> Path:
    """Write ``df`` as the partition ``part`` and return the partition's path.

    Stage, then swap: Spark writes a new, never-seen version folder; only when that write has
    succeeded does one ``os.replace`` point the partition's link at it. A re-run replaces the
    partition (same data, same content); a failed write never reaches the swap, so readers
    keep the last good version. (``lake.write_parquet`` does exactly this.)
    """
    version = lake.new_version(part)
    df.write.mode("error").parquet(str(version))
    return lake.swap_in(part, version)


def prove_idempotent(write: Callable[[Any, lake.Partition], Path], df: Any,
                     part: lake.Partition) -> bool:
    """Write ``df`` twice with ``write`` and say whether the partition is identical both times."""
    spark = df.sparkSession
    write(df, part)
    first = lake.checksum_spark(spark.read.parquet(part.uri()))
    write(df, part)
    second = lake.checksum_spark(spark.read.parquet(part.uri()))
    return first == second
