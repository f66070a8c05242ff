"""The new step: active customers per segment, for the date, into gold."""

from __future__ import annotations

from pipelines_core import lake  # noqa: F401
from pipelines_core.runtime import RunContext, StepResult

GOLD_TABLE = "customer_segments"


def segment_counts(ctx: RunContext) -> StepResult:
    """Read the date's silver customers, count the active ones (not ``is_deleted``) per
    ``segment``, write the counts (columns ``segment``, ``customers``) as the date's partition
    of ``gold/customer_segments`` atomically, and return a small result: ``rows_in`` (silver
    rows), ``rows_out`` (segments), ``outputs`` (the path), ``metrics`` ({segment: count}).

    TODO
    """
    raise NotImplementedError("segment_counts is not written yet")
