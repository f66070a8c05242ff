"""How much of a run's wall time is not spent inside its steps."""

from __future__ import annotations

from pipelines_core.ledger import AttemptRecord


def step_seconds(records: list[AttemptRecord]) -> float:
    """Seconds spent inside steps: the sum of every attempt's duration (``duration_s``;
    ``None`` for an attempt that never ended counts as 0).

    TODO
    """
    return 0.0


def overhead(wall_s: float, records: list[AttemptRecord]) -> dict[str, float]:
    """``{"wall_s", "step_s", "overhead_s", "overhead_share"}``: the run's wall time, the time
    in steps, their difference, and that difference as a share of the wall time (0..1).

    TODO
    """
    return {"wall_s": wall_s, "step_s": 0.0, "overhead_s": 0.0, "overhead_share": 0.0}
