"""Figures read from the run ledger, the ground truth every step attempt writes whoever runs
it: the attempts of one run, the time spent in steps, the longest wait between steps and the
delays between retries."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timezone

from benchmarks.plan import PIPELINE
from pipelines_core.config import WorkbenchConfig
from pipelines_core.ledger import AttemptRecord, Ledger
from pipelines_core.spec import get_pipeline


def ledger_attempts(config: WorkbenchConfig, namespace: str, day: date, since: float,
                    pipeline: str = PIPELINE) -> list[AttemptRecord]:
    """The attempts of ``pipeline`` for ``day`` in ``namespace`` that started at ``since``
    (a Unix time) or after it, less half a second of clock slack."""
    lo = datetime.fromtimestamp(since - 0.5, timezone.utc).isoformat()
    return [r for r in Ledger(config.ledger_path).read_attempts(
        pipeline=pipeline, date=day.isoformat(), namespace=namespace) if r.start >= lo]


def step_seconds(attempts: list[AttemptRecord]) -> float:
    """Time spent inside steps: the attempts' durations summed (one without an end adds 0)."""
    return sum(r.duration_s or 0.0 for r in attempts)


def max_gap_s(attempts: list[AttemptRecord], pipeline: str = PIPELINE) -> float:
    """Largest wait between the last upstream attempt ending and a step's first attempt
    starting: time the orchestrator spent between steps, not in them. Negative when every
    step started before its upstreams' last success ended (an overlap); 0.0 when no step has
    both a start and an upstream success."""
    spec = get_pipeline(pipeline)
    ends: dict[str, float] = {}
    firsts: dict[str, float] = {}
    for r in attempts:
        start = datetime.fromisoformat(r.start).timestamp()
        firsts[r.step] = min(firsts.get(r.step, start), start)
        if r.end and r.status == "success":
            ends[r.step] = max(ends.get(r.step, 0.0), datetime.fromisoformat(r.end).timestamp())
    gaps = []
    for s in spec.steps:
        ups = [ends[u] for u in s.upstream if u in ends]
        if s.name in firsts and ups:
            gaps.append(firsts[s.name] - max(ups))
    return round(max(gaps), 3) if gaps else 0.0


def retry_delays(attempts: list[AttemptRecord],
                 recorded_ends: list[str | None] | None = None) -> list[float]:
    """Observed delays between one attempt ending and the next starting (ledger truth).

    An attempt whose process was killed (a crash, a timeout) never wrote its end to the
    ledger; ``recorded_ends`` (the orchestrator's own end of each attempt, in order) stands
    in for it: the moment the orchestrator saw the attempt over. Without either end, that
    delay is left out.
    """
    out = []
    ordered = sorted(attempts, key=lambda r: r.start)
    for i, (prev, nxt) in enumerate(zip(ordered, ordered[1:])):
        end = prev.end or (recorded_ends[i] if recorded_ends and i < len(recorded_ends)
                           else None)
        if end:
            out.append(round((datetime.fromisoformat(nxt.start)
                              - datetime.fromisoformat(end)).total_seconds(), 3))
    return out


def median(values: list[float]) -> float | None:
    """The median to the millisecond; None for no values."""
    return round(statistics.median(values), 3) if values else None
