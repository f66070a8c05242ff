"""Write one date partition so that a re-run gives identical data and a failed write leaves
the previous data in place; and prove it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pipelines_core import lake


def write_partition(df: Any, part: lake.Partition) -> Path:
    """Write ``df`` as the partition ``part`` and return the partition's path.

    TODO: this appends, so running the same date twice doubles its rows, and a write that
    fails half-way leaves half a partition behind. Make it idempotent and atomic.
    """
    df.write.mode("append").parquet(str(part.path))
    return part.path


def prove_idempotent(write: Callable[[Any, lake.Partition], Path], df: Any,
                     part: lake.Partition) -> bool:
    """Write ``df`` twice with ``write`` and say whether the partition is identical both times.

    TODO: a proof that cannot fail proves nothing. Compare the partition's content after the
    first and after the second write (``lake.checksum_spark`` of what you read back).
    """
    write(df, part)
    write(df, part)
    return True
