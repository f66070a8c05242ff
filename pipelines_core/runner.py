"""The direct runner: a pipeline with no orchestrator, in one process with one Spark session.

It is the baseline every orchestrator is compared with. It follows the spec as an
orchestrator would: upstreams first, fan-out per region, the branch, gates that stop what is
downstream, the spec's retry policy (delays with exponential backoff capped at the max delay,
and the per-attempt timeout, enforced with SIGALRM when it runs in the main thread), and an
alert on failure. A backfill runs dates on a bounded thread pool sharing the one session.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import timedelta
from typing import Any, Callable, Iterator

from pipelines_core.alerts import send_alert
from pipelines_core.config import WorkbenchConfig
from pipelines_core.errors import GateFailed, StepTimeout, WorkbenchError
from pipelines_core.runtime import run_step
from pipelines_core.spec import PipelineSpec, check_date, retry_policy
from pipelines_core.steps.etl import regions

log = logging.getLogger("workbench.direct")


@dataclass
class StepOutcome:
    step: str
    state: str  # success | failed | skipped | upstream_failed
    attempts: int = 0
    map_key: str | None = None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunOutcome:
    pipeline: str
    date: str
    state: str  # success | failed
    start: float
    end: float
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return self.end - self.start

    @property
    def failed_step(self) -> str | None:
        return next((s.step for s in self.steps if s.state == "failed"), None)


def date_range(start: Date, end: Date) -> list[Date]:
    """Every date from ``start`` to ``end``, both included."""
    if end < start:
        raise WorkbenchError(f"end date {end} is before start date {start}")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@contextmanager
def _timeout(seconds: float, what: str) -> Iterator[None]:
    """Raise StepTimeout in the main thread after ``seconds``; no-op in other threads."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def _alarm(signum, frame):  # noqa: ARG001
        raise StepTimeout(f"{what} timed out after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _attempts(spec: PipelineSpec, step: str, date: Date, config: WorkbenchConfig,
              map_key: str | None, inputs: dict[str, Any],
              sleep: Callable[[float], None]) -> StepOutcome:
    policy = retry_policy(spec, config)
    kind = spec.step(step).kind
    attempt = 0
    while True:
        attempt += 1
        try:
            with _timeout(policy.timeout_s, f"{spec.name}.{step}"):
                result = run_step(spec, step, date, config=config, attempt=attempt,
                                  map_key=map_key, inputs=inputs)
            return StepOutcome(step, "success", attempt, map_key, result=result)
        except Exception as exc:  # noqa: BLE001 - every failure is retried or reported
            # A gate's verdict is about the data, not a transient fault: retrying cannot help.
            final = isinstance(exc, GateFailed) or kind == "sensor" or attempt > policy.retries
            if final:
                return StepOutcome(step, "failed", attempt, map_key,
                                   error=f"{type(exc).__name__}: {exc}")
            delay = policy.delay_before(attempt)
            log.warning("%s.%s attempt %d failed (%s); retrying in %.1f s", spec.name, step,
                        attempt, exc, delay)
            sleep(delay)


def run_pipeline(spec: PipelineSpec, date: Date, config: WorkbenchConfig, *,
                 sleep: Callable[[float], None] = time.sleep) -> RunOutcome:
    """Run every step of ``spec`` for ``date`` in order; never raises for a step failure.

    Raises:
        DateOutOfRange: ``date`` is before the pipeline's start date or after today; nothing
            ran.
    """
    check_date(spec, date)
    outcome = RunOutcome(spec.name, date.isoformat(), "success", time.time(), 0.0)
    state: dict[str, str] = {}
    results: dict[str, Any] = {}
    chosen: dict[str, str] = {}  # branch step -> the downstream it chose
    for s in spec.steps:
        ups = [state[u] for u in s.upstream]
        if any(x in ("failed", "upstream_failed") for x in ups):
            state[s.name] = "upstream_failed"
        elif s.kind == "join" and any(x == "success" for x in ups):
            state[s.name] = "run"
        elif ups and not all(x == "success" for x in ups):
            state[s.name] = "skipped"
        elif any(u in chosen and chosen[u] != s.name for u in s.upstream):
            state[s.name] = "skipped"
        else:
            state[s.name] = "run"
        if state[s.name] != "run":
            outcome.steps.append(StepOutcome(s.name, state[s.name]))
            continue
        inputs = {u: results.get(u) for u in s.upstream}
        keys = regions() if s.fan_out else [None]
        step_outcomes = [_attempts(spec, s.name, date, config, k, inputs, sleep) for k in keys]
        outcome.steps.extend(step_outcomes)
        failed = [o for o in step_outcomes if o.state == "failed"]
        state[s.name] = "failed" if failed else "success"
        results[s.name] = ([o.result for o in step_outcomes] if s.fan_out
                           else step_outcomes[0].result)
        if s.kind == "branch" and not failed:
            chosen[s.name] = step_outcomes[0].result["next_step"]
        for o in failed:
            outcome.state = "failed"
            send_alert(config, pipeline=spec.name, date=date.isoformat(), step=s.name,
                       error=o.error or "", extra={"attempts": o.attempts})
    outcome.end = time.time()
    return outcome


def backfill(spec: PipelineSpec, dates: list[Date], config: WorkbenchConfig, *,
             parallelism: int = 2,
             on_done: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
    """Run ``spec`` for every date, at most ``parallelism`` at a time, sharing one session.

    Timeouts are enforced only with ``parallelism=1`` (SIGALRM works in the main thread).
    """
    if parallelism < 1:
        raise WorkbenchError("parallelism must be at least 1")
    for day in dates:  # every date in range, or nothing starts
        check_date(spec, day)

    def one(day: Date) -> RunOutcome:
        out = run_pipeline(spec, day, config)
        if on_done:
            on_done(out)
        return out

    if parallelism == 1:
        return [one(d) for d in dates]
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="backfill") as pool:
        return list(pool.map(one, dates))
