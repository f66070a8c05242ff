"""A new data-quality rule for silver customers, added to the core's checks, behind a gate."""

from __future__ import annotations

from typing import Any

from pipelines_core import transforms
from pipelines_core.errors import GateFailed  # noqa: F401 - the gate raises it


def negative_value_check(silver: Any) -> dict[str, Any]:
    """``negative_lifetime_value``: active (not deleted) customers whose ``lifetime_value`` is
    below zero; none allowed. Returns ``{"name", "passed", "observed", "limit"}`` like the
    core's checks (``observed`` = how many such customers, ``limit`` = 0).

    TODO: write it with Spark (filter, count); no collecting rows to the driver.
    """
    raise NotImplementedError("negative_value_check is not written yet")


def all_checks(bronze: Any, silver: Any, expected_rows: int) -> list[dict[str, Any]]:
    """The core's checks plus the new rule.

    TODO: add the new rule to the list.
    """
    return transforms.quality_checks(bronze, silver, expected_rows=expected_rows)


def gate(checks: list[dict[str, Any]]) -> None:
    """Stop the run when any check failed: raise ``GateFailed`` naming every failed check.

    TODO: a gate that never raises lets bad data through to gold.
    """
