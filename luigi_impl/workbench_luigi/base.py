"""The Luigi side of a workbench step: a task per spec step, its lake targets, its alerts.

Every task class is named as its step in the spec and lives in a Luigi task namespace named
as its pipeline (``customer_daily_etl.ingest_cdc``), so the same step name reads the same in
the core, the spec, luigid and the ledger. A task's ``run()`` only calls
``pipelines_core.runtime.run_step`` and writes the step's small result (row counts, paths,
metrics) as a JSON target; ``output()`` is that JSON target plus the lake partitions the
step writes, so ``complete()`` means "this date's partition is done".
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import luigi
from luigi.task import flatten

from pipelines_core import lake
from pipelines_core.alerts import send_alert
from pipelines_core.config import config_for
from pipelines_core.ledger import Ledger
from pipelines_core.runtime import run_step
from pipelines_core.spec import PipelineSpec, get_pipeline, retry_policy

from workbench_luigi.settings import ORCHESTRATOR

log = logging.getLogger("workbench.luigi")

# When this worker process started. A local scheduler forgets failures between invocations,
# so the alert handler counts only the attempts this worker made (see attempts_failed).
WORKER_STARTED = datetime.now(timezone.utc)


def results_root(config) -> Path:
    """Where the steps' JSON results live: inside the namespace's ``reports`` layer, so
    emptying the lake's layers empties them too (a floor run keeps its own)."""
    return config.namespace_root() / "reports" / ("_luigi_noop" if config.noop else "_luigi")


class PartitionTarget(luigi.Target):
    """A date partition of the lake (a symbolic link swapped in atomically by the core)."""

    def __init__(self, partition: lake.Partition) -> None:
        self.partition = partition

    @property
    def path(self) -> str:
        return str(self.partition.path)

    def exists(self) -> bool:
        return self.partition.exists()

    def __repr__(self) -> str:
        return f"PartitionTarget({self.partition.relative})"


class StepTask(luigi.Task):
    """One step of one pipeline for one date (and one region, for a mapped step).

    Subclasses set ``task_namespace`` to the pipeline's name, are named as the step, declare
    ``requires()`` as the spec's upstreams and ``writes`` as the lake tables the step writes.
    """

    date = luigi.DateParameter(description="The logical (data) date of the run.")

    # (layer, table) of every lake partition the step writes for its date
    writes: ClassVar[tuple[tuple[str, str], ...]] = ()

    @property
    def pipeline(self) -> PipelineSpec:
        return get_pipeline(self.get_task_namespace())

    @property
    def step(self) -> str:
        return type(self).__name__

    @property
    def map_key(self) -> str | None:
        return None

    @property
    def config(self):
        return config_for(ORCHESTRATOR)

    # --- retries, from the spec ---------------------------------------------------------
    @property
    def retry_count(self) -> int:
        """Attempts before the scheduler disables the task: the spec's retries + 1.

        A gate's verdict is about the data, not a transient fault, so a gate gets one
        attempt (the direct runner does not retry a gate either). Luigi cannot retry by
        exception type, so a transient fault injected into a gate is not retried here.
        """
        if self.pipeline.step(self.step).kind == "gate":
            return 1
        return retry_policy(self.pipeline, self.config).retries + 1

    @property
    def worker_timeout(self) -> int:  # type: ignore[override]
        """The spec's per-attempt timeout; the worker terminates the attempt's process."""
        return max(1, int(round(retry_policy(self.pipeline, self.config).timeout_s)))

    # --- targets ----------------------------------------------------------------------
    def result_target(self) -> luigi.LocalTarget:
        """The step's small result as JSON, in the lake next to the data it describes."""
        folder = (results_root(self.config) / self.pipeline.name / self.step
                  / f"date={self.date.isoformat()}")
        name = f"{self.map_key}.json" if self.map_key else "result.json"
        return luigi.LocalTarget(str(folder / name))

    def partitions(self) -> list[lake.Partition]:
        key = f"region={self.map_key}" if self.map_key else None
        return [lake.Partition(self.config.namespace_root(), layer, table,
                               self.date.isoformat(), key) for layer, table in self.writes]

    def output(self) -> dict[str, luigi.Target]:
        out: dict[str, luigi.Target] = {"result": self.result_target()}
        if self.config.noop:  # a floor run writes no data, only the step's result
            return out
        for part in self.partitions():
            out[part.relative] = PartitionTarget(part)
        return out

    def result(self) -> dict[str, Any]:
        """The small result this step recorded (read by downstream tasks)."""
        with self.result_target().open("r") as fh:
            return json.load(fh)

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """Dates already done, for ``RangeDaily`` (each checked through ``complete()``)."""
        return [p for p in parameter_tuples if cls(p).complete()]

    # --- running ----------------------------------------------------------------------
    def upstream_results(self) -> dict[str, Any]:
        """Small results of the upstream steps of this pipeline (lists for a mapped step)."""
        inputs: dict[str, Any] = {}
        for dep in flatten(self.requires()):
            if not isinstance(dep, StepTask) or dep.pipeline.name != self.pipeline.name:
                continue
            if dep.map_key:
                inputs.setdefault(dep.step, []).append(dep.result())
            else:
                inputs[dep.step] = dep.result()
        return inputs

    def attempt_number(self) -> int:
        """This attempt's number, 1-based.

        Luigi hands a task no attempt number (the scheduler only counts failures), so the
        task numbers itself from the ledger: the failed attempts this worker made since the
        task last succeeded, plus one. The same count tells the alert handler which failure
        is the last (``attempts_failed``).
        """
        return attempts_failed(self) + 1

    def run(self) -> None:
        self.run_core(self.upstream_results())

    def run_core(self, inputs: dict[str, Any]) -> None:
        """Run this attempt of the step through the core and write its result."""
        result = run_step(self.pipeline, self.step, self.date, config=self.config,
                          attempt=self.attempt_number(), map_key=self.map_key,
                          inputs=inputs, orchestrator=ORCHESTRATOR)
        with self.result_target().open("w") as fh:
            json.dump(result, fh, indent=2, sort_keys=True, default=str)


class RegionTask(StepTask):
    """A step mapped over regions: one task instance per region."""

    region = luigi.Parameter(description="The fan-out value (a region).")

    @property
    def map_key(self) -> str | None:
        return str(self.region)


def attempts_failed(task: StepTask) -> int:
    """Failed attempts of ``task`` made by this worker since the task last succeeded.

    Luigi gives a task no attempt number; the scheduler counts failures and disables the task
    at ``retry_count``. The ledger holds one record per attempt, so it tells this handler
    whether the failure it sees is the one that exhausts the task's attempts.
    """
    recs = Ledger(task.config.ledger_path).read_attempts(
        namespace=task.config.namespace, orchestrator=ORCHESTRATOR, pipeline=task.pipeline.name,
        step=task.step, date=task.date.isoformat(), map_key=task.map_key)
    since = WORKER_STARTED.isoformat()
    failed = 0
    for rec in recs:
        if rec.start < since:
            continue
        failed = 0 if rec.status == "success" else failed + 1
    return failed


def _alert_if_final(task: StepTask, error: str) -> None:
    failed = attempts_failed(task)
    if failed < task.retry_count:
        log.warning("%s failed (attempt %d of %d); the scheduler will retry it after "
                    "retry_delay", task.task_id, failed, task.retry_count)
        return
    send_alert(task.config, pipeline=task.pipeline.name, date=task.date.isoformat(),
               step=task.step, error=error, orchestrator=ORCHESTRATOR,
               extra={"attempts": failed, "task_id": task.task_id,
                      "map_key": task.map_key})


@StepTask.event_handler(luigi.Event.FAILURE)
def alert_on_failure(task: StepTask, exception: BaseException) -> None:
    """A step's last allowed attempt failed: tell the core's alert sink (once per task)."""
    _alert_if_final(task, f"{type(exception).__name__}: {exception}")


@StepTask.event_handler(luigi.Event.TIMEOUT)
def alert_on_timeout(task: StepTask, message: str) -> None:
    """The worker terminated an attempt that outlived ``worker_timeout``."""
    _alert_if_final(task, f"StepTimeout: {message}")


@StepTask.event_handler(luigi.Event.PROCESS_FAILURE)
def alert_on_process_failure(task: StepTask, message: str) -> None:
    """An attempt's process died (killed, crashed) before reporting back."""
    _alert_if_final(task, f"ProcessDied: {message}")
