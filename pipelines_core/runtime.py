"""Running one step: the only entry point an orchestrator's task body needs.

``run_step`` builds the run context, records the attempt in the ledger, applies the fault
plan, calls the core step and returns its small result as a plain dict (JSON-safe, fit for
XCom, Prefect results, Dagster metadata or a Luigi JSON target).
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict, dataclass, field
from datetime import date as Date
from typing import Any, Callable, Mapping

from pipelines_core import faults, lake
from pipelines_core.config import WorkbenchConfig, load_config, parse_date
from pipelines_core.errors import GateFailed
from pipelines_core.ledger import Ledger
from pipelines_core.spec import PipelineSpec, get_pipeline, retry_policy

log = logging.getLogger("workbench")


@dataclass
class RunContext:
    """What a core step knows about its run: no orchestrator objects, only plain values.

    Attributes:
        pipeline: The pipeline's spec.
        step: The step's name.
        date: The logical (data) date of the run.
        config: The workbench configuration (namespace, lake, Spark, seeds).
        attempt: The orchestrator's attempt number, 1-based (0 when it exposes none).
        map_key: The fan-out value (a region) for mapped steps.
        inputs: Small results of upstream steps, when the orchestrator passes them.
    """

    pipeline: PipelineSpec
    step: str
    date: Date
    config: WorkbenchConfig
    attempt: int = 1
    map_key: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def ds(self) -> str:
        return self.date.isoformat()

    @property
    def spark(self) -> Any:
        from pipelines_core.spark import get_session

        return get_session(self.config)

    def partition(self, layer: str, table: str, key: str | None = None,
                  date: Date | None = None) -> lake.Partition:
        """A partition of this run's namespace, for this run's date unless told otherwise."""
        return lake.Partition(self.config.namespace_root(), layer, table,
                              (date or self.date).isoformat(), key)


@dataclass
class StepResult:
    """What a step hands back: counts, paths and metrics, never data."""

    rows_in: int = 0
    rows_out: int = 0
    outputs: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None  # set by a branch step: the one downstream step to run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_step(pipeline: str | PipelineSpec, step: str, date: str | Date, *,
             config: WorkbenchConfig | None = None, attempt: int = 1,
             map_key: str | None = None, inputs: dict[str, Any] | None = None,
             orchestrator: str | None = None,
             fault_plan: Mapping[str, Any] | str | None = None) -> dict[str, Any]:
    """Run one attempt of one step and return its result as a dict.

    Records ``start`` and ``end`` in the ledger, applies the fault plan (``fault_plan``, a
    mapping, inline JSON or a file path, when the caller holds the run's own; otherwise the
    process's ``WORKBENCH_FAULTS``), and re-raises any failure after recording it, so the
    caller's orchestrator sees the exception and applies its own retry policy.
    """
    config = config or load_config()
    if orchestrator:
        config = config.replace(orchestrator=orchestrator)
    spec = get_pipeline(pipeline) if isinstance(pipeline, str) else pipeline
    step_spec = spec.step(step)
    day = parse_date(date) if isinstance(date, str) else date
    ctx = RunContext(spec, step, day, config, attempt, map_key, dict(inputs or {}))
    ledger = Ledger(config.ledger_path)
    rec = ledger.start(pipeline=spec.name, step=step, date=ctx.ds, namespace=config.namespace,
                       orchestrator=config.orchestrator, attempt=attempt, map_key=map_key)
    log.info("%s.%s%s %s attempt %s started (pid %s)", spec.name, step,
             f"[{map_key}]" if map_key else "", ctx.ds, attempt, rec.pid)
    token = None
    try:
        decision = faults.decide(
            faults.load_plan() if fault_plan is None else faults.parse_plan(fault_plan),
            state_dir=config.state_dir, namespace=config.namespace,
            pipeline=spec.name, step=step, date=ctx.ds, map_key=map_key,
            timeout_s=retry_policy(spec, config).timeout_s)
        token = lake.before_swap.set(decision.crash_now if decision.kind else None)
        func: Callable[[RunContext], StepResult] = step_spec.resolve()
        # In a floor run only branches decide (they touch no data); every other step is free.
        result = func(ctx) if not config.noop or step_spec.kind == "branch" else StepResult()
        decision.crash_now()  # a crash fault on a step that writes nothing lands here
    except BaseException as exc:
        status = "gate_failed" if isinstance(exc, GateFailed) else "failed"
        ledger.finish(rec, status=status, error=f"{type(exc).__name__}: {exc}")
        log.error("%s.%s %s attempt %s failed: %s\n%s", spec.name, step, ctx.ds, attempt, exc,
                  traceback.format_exc())
        raise
    finally:
        if token is not None:
            lake.before_swap.reset(token)
    ledger.finish(rec, status="success", rows=result.rows_out, metrics=result.metrics)
    log.info("%s.%s%s %s attempt %s succeeded: %s rows out", spec.name, step,
             f"[{map_key}]" if map_key else "", ctx.ds, attempt, result.rows_out)
    return result.to_dict()
