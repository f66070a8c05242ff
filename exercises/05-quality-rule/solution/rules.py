"""A new data-quality rule for silver customers, added to the core's checks, behind a gate."""

from __future__ import annotations

from typing import Any

from pipelines_core import transforms
from pipelines_core.errors import GateFailed


def negative_value_check(silver: Any) -> dict[str, Any]:
    """``negative_lifetime_value``: active (not deleted) customers whose ``lifetime_value`` is
    below zero; none allowed."""
    from pyspark.sql import functions as F

    bad = silver.where(~F.col("is_deleted") & (F.col("lifetime_value") < 0)).count()
    return {"name": "negative_lifetime_value", "passed": bad == 0, "observed": bad, "limit": 0}


def all_checks(bronze: Any, silver: Any, expected_rows: int) -> list[dict[str, Any]]:
    """The core's checks plus the new rule."""
    return [*transforms.quality_checks(bronze, silver, expected_rows=expected_rows),
            negative_value_check(silver)]


def gate(checks: list[dict[str, Any]]) -> None:
    """Stop the run when any check failed: raise ``GateFailed`` naming every failed check.

    ``GateFailed`` (not any exception) matters: every implementation treats it as a verdict
    on the data and does not retry it.
    """
    failed = [c for c in checks if not c["passed"]]
    if failed:
        raise GateFailed("quality gate failed: " + "; ".join(
            f"{c['name']}={c['observed']} (limit {c['limit']})" for c in failed))
