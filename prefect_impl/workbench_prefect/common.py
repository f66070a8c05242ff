"""What the tasks and flows of both pipelines share: the configuration, the spec's retry policy
in Prefect's terms, the one call into the core, and the hooks that feed the core's alert sink."""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timezone
from types import SimpleNamespace
from typing import Any, Iterable

from prefect import Task, get_run_logger, runtime
from prefect.assets import materialize
from prefect.cache_policies import NO_CACHE
from prefect.context import AssetContext
from prefect.logging.loggers import flow_run_logger

from pipelines_core.alerts import send_alert
from pipelines_core.config import WorkbenchConfig, config_for
from pipelines_core.errors import GateFailed
from pipelines_core.runtime import run_step
from pipelines_core.spec import PipelineSpec, RetryPolicy, retry_policy

from workbench_prefect import ORCHESTRATOR

# PREFECT_LOGGING_EXTRA_LOGGERS attaches Prefect's handlers to the core's logger but leaves
# its level alone, and the root logger's WARNING would drop the core's INFO lines.
logging.getLogger("workbench").setLevel(logging.INFO)

HOOK_DONE = "workbench failure hook"
# Flow runs whose failure a task hook already reported: the flow hook stays quiet for them,
# so one failure gives one alert.
_alerted_flow_runs: set[str] = set()
_alerted_lock = threading.Lock()


def data_date(day: date | str | None) -> str:
    """The run's logical date: the ``day`` parameter, else the date the run was scheduled for.

    A deployment's cron run at 02:00 has no ``day`` parameter, so it processes the date of
    its scheduled start (UTC), as Airflow's cron timetable does with ``logical_date``.
    """
    if day:
        return day.isoformat() if isinstance(day, date) else date.fromisoformat(day).isoformat()
    scheduled = runtime.flow_run.scheduled_start_time
    if scheduled is None:
        scheduled = datetime.now(timezone.utc)
    return scheduled.astimezone(timezone.utc).date().isoformat()


def run_name(pipeline: str):
    """A flow-run name of pipeline and data date, also for scheduled runs without ``day``."""

    def name() -> str:
        return f"{pipeline} {data_date(runtime.flow_run.parameters.get('day'))}"

    return name


def prefect_retry_options(policy: RetryPolicy) -> dict[str, Any]:
    """The spec's policy as task options.

    Prefect's ``exponential_backoff`` has no ceiling, so the delays are the spec's own capped
    list (``policy.delays()``: base * factor**(n-1), at most max delay). The spec asks for no
    jitter, so ``retry_jitter_factor`` stays off.
    """
    delays = policy.delays()
    return {"retries": policy.retries,
            "retry_delay_seconds": delays if delays else 0,
            "retry_jitter_factor": None,
            "timeout_seconds": policy.timeout_s}


def retry_unless_gate(task: Task, task_run: Any, state: Any) -> bool:
    """A gate's verdict is about the data: retrying cannot change it, so it is final."""
    try:
        state.result()
    except GateFailed:
        return False
    except Exception:  # noqa: BLE001 - every other failure is worth another attempt
        return True
    return True


def alert_task_failure(spec: PipelineSpec, config: WorkbenchConfig, ds: str):
    """An ``on_failure`` hook that reports the task's final failure (retries exhausted)."""

    def hook(task: Task, task_run: Any, state: Any) -> None:
        with _alerted_lock:
            _alerted_flow_runs.add(str(task_run.flow_run_id))
        send_alert(config, pipeline=spec.name, date=ds, step=task.name,
                   error=state.message or state.name, orchestrator=ORCHESTRATOR,
                   extra={"task_run": task_run.name, "attempts": task_run.run_count,
                          "flow_run_id": str(task_run.flow_run_id)})

    hook.__name__ = f"alert_{spec.name}_task_failure"
    return hook


def alert_flow_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_failure``/``on_crashed`` hook of both flows: alert unless a task already did."""
    with _alerted_lock:
        if str(flow_run.id) in _alerted_flow_runs:
            return
    config = config_for(ORCHESTRATOR)
    day = (flow_run.parameters or {}).get("day")
    if not day and flow_run.expected_start_time:
        day = flow_run.expected_start_time.astimezone(timezone.utc).date().isoformat()
    send_alert(config, pipeline=flow.name, date=str(day), step=None,
               error=state.message or state.name, orchestrator=ORCHESTRATOR,
               extra={"flow_run_id": str(flow_run.id), "state": state.name})
    # In the flow run's own logs: for a crash, the worker runs this hook in a new process
    # after the run is already Crashed, and this line is how a reader knows it has run.
    flow_run_logger(flow_run, flow).info("%s: failure alert sent (%s)", HOOK_DONE, state.name)


def call_step(pipeline: str, step: str, ds: str, *, upstream: dict[str, Any] | None = None,
              region: str | None = None) -> dict[str, Any]:
    """The body of every task: read Prefect's attempt number, run the core step, return its
    small result (row counts, outputs, metrics) as the task's return value."""
    attempt = runtime.task_run.run_count or 1
    get_run_logger().info("%s %s attempt %d%s", step, ds, attempt,
                          f" region={region}" if region else "")
    result = run_step(pipeline, step, ds, config=config_for(ORCHESTRATOR), attempt=attempt,
                      map_key=region, inputs=upstream, orchestrator=ORCHESTRATOR)
    describe_materialization(ds, result, region)
    return result


def lake_asset(config: WorkbenchConfig, layer: str, table: str) -> str:
    """The Prefect asset key of a lake table: its folder as a ``file://`` URI (the date
    partition goes into the materialisation's metadata)."""
    return (config.namespace_root() / layer / table).resolve().as_uri()


def describe_materialization(ds: str, result: dict[str, Any], region: str | None) -> None:
    """Attach the partition written (date, region, paths, rows) to the materialisation
    event of every asset the running task materialises; nothing for other tasks."""
    ctx = AssetContext.get()
    if ctx is None or not ctx.downstream_assets:
        return
    meta = {"date": ds, "rows_out": result.get("rows_out"),
            "outputs": result.get("outputs") or []}
    if region:
        meta["region"] = region
    for asset in ctx.downstream_assets:
        ctx.add_asset_metadata(asset.key, meta)


def step_options(spec: PipelineSpec, step: str, config: WorkbenchConfig) -> dict[str, Any]:
    """Task options of ``step`` for one flow run: the retry policy, the no-retry rules for
    gates and the sensor, caching off (every run recomputes its partition)."""
    kind = spec.step(step).kind
    opts = prefect_retry_options(retry_policy(spec, config))
    if kind == "sensor":
        # The sensor's own timeout is its verdict; the direct runner does not retry it either.
        opts.update(retries=0, retry_delay_seconds=0,
                    timeout_seconds=max(opts["timeout_seconds"], config.sensor_timeout_s + 30))
    opts["retry_condition_fn"] = retry_unless_gate
    opts["cache_policy"] = NO_CACHE
    return opts


def bind_tasks(spec: PipelineSpec, config: WorkbenchConfig, ds: str,
               tasks: Iterable[Task],
               writes: dict[str, tuple[tuple[str, str], ...]] | None = None) -> SimpleNamespace:
    """The flow's tasks with this run's retry policy and failure hook applied, by step name.

    The policy depends on the configuration (tests and the benchmark shorten the delays), so
    it is applied per flow run with ``Task.with_options`` rather than frozen at import. A step
    that writes lake tables (``writes``: step -> (layer, table)...) becomes a materialising
    task (``@materialize``) of those tables in this run's lake, so each successful attempt
    emits a ``prefect.asset.materialization.succeeded`` event (Prefect's lineage).
    """
    hook = alert_task_failure(spec, config, ds)
    bound = {}
    for t in tasks:
        if t.name not in spec.step_names:
            raise ValueError(f"task {t.name!r} is not a step of {spec.name}")
        options = dict(step_options(spec, t.name, config), on_failure=[hook])
        tables = (writes or {}).get(t.name)
        if tables and not config.noop:
            bound[t.name] = materialize(
                *(lake_asset(config, layer, table) for layer, table in tables), by="spark",
                name=t.name, description=t.description, tags=t.tags,
                task_run_name=t.task_run_name, **options)(t.fn)
        else:
            bound[t.name] = t.with_options(**options)
    missing = set(spec.step_names) - set(bound)
    if missing:
        raise ValueError(f"{spec.name} has no task for {sorted(missing)}")
    return SimpleNamespace(**bound)
