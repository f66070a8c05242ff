"""Checksums of a run's outputs, to prove two runs (two orchestrators, or a re-run) identical.

Parquet partitions are compared by content (row count and an order-independent sum of row
hashes, plus the schema), so file names and partitioning do not matter. JSON outputs are
compared by bytes (they are written with sorted keys and no timestamps). Model folders are
left out: Spark ML writes a timestamp into their metadata; the model is compared through its
metrics and its predictions instead.
"""

from __future__ import annotations

from datetime import date as Date
from typing import Any

from pipelines_core import lake
from pipelines_core.config import WorkbenchConfig

# Per pipeline, the (layer, table, per-region?) of every output it writes for a date.
OUTPUTS: dict[str, list[tuple[str, str, bool]]] = {
    "customer_daily_etl": [
        ("silver", "customers", False),
        ("quality", "customers", False),
        ("gold", "customer_region_daily", True),
        ("gold", "customer_daily_summary", False),
        ("reports", "customer_daily", False),
        ("reports", "customer_monthly", False),
        ("reports", "customer_daily_etl_notifications", False),
    ],
    "lead_scoring_mlops": [
        ("silver", "leads", False),
        ("models", "lead_scoring_metrics", False),
        ("gold", "lead_predictions", False),
        ("reports", "lead_scoring_mlops_notifications", False),
    ],
}


def output_partitions(config: WorkbenchConfig, pipeline: str, day: Date,
                      namespace: str | None = None) -> list[lake.Partition]:
    """Every partition ``pipeline`` writes for ``day`` in ``namespace`` (present or not)."""
    from pipelines_core.spec import REGIONS

    root = config.namespace_root(namespace)
    parts = []
    for layer, table, per_region in OUTPUTS[pipeline]:
        keys = [f"region={r}" for r in REGIONS] if per_region else [None]
        parts += [lake.Partition(root, layer, table, day.isoformat(), k) for k in keys]
    return parts


def outputs_present(config: WorkbenchConfig, pipeline: str, day: Date,
                    namespace: str | None = None) -> bool:
    """Whether ``pipeline``'s last output of ``day`` (its notification, written once every
    other output is) is in the lake: what an orchestrator that judges a date by its own
    records cannot see."""
    return output_partitions(config, pipeline, day, namespace)[-1].exists()


def output_checksums(config: WorkbenchConfig, pipeline: str, day: Date,
                     namespace: str | None = None, spark: Any = None) -> dict[str, str]:
    """``{relative partition path: checksum}`` of every output present for ``day``."""
    out = {}
    for part in output_partitions(config, pipeline, day, namespace):
        if not part.exists():
            continue
        if any(part.path.glob("*.parquet")):
            if spark is None:
                from pipelines_core.spark import get_session

                spark = get_session(config)
            out[part.relative] = lake.checksum_spark(spark.read.parquet(part.uri()))
        else:
            out[part.relative] = lake.checksum_files(part.path)
    return out
