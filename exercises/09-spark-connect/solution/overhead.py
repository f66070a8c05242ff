"""How much of a run's wall time is not spent inside its steps."""

from __future__ import annotations

from pipelines_core.ledger import AttemptRecord


def step_seconds(records: list[AttemptRecord]) -> float:
    """Seconds spent inside steps: the sum of every attempt's duration."""
    return sum(r.duration_s or 0.0 for r in records)


def overhead(wall_s: float, records: list[AttemptRecord]) -> dict[str, float]:
    """The run's wall time, the time in steps, their difference, and its share of the wall."""
    step_s = step_seconds(records)
    over = wall_s - step_s
    return {"wall_s": wall_s, "step_s": step_s, "overhead_s": over,
            "overhead_share": over / wall_s if wall_s > 0 else 0.0}
