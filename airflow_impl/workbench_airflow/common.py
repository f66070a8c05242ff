"""What both workbench DAGs share: the configuration, Airflow retry settings taken from the
spec, the silver-customers Asset, the failure and deadline alerts, and the one call a task
body makes (parse Airflow's context, run the core step, hand back its small result).
"""

from __future__ import annotations

import os
from datetime import date as Date
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import (Asset, AsyncCallback, DeadlineAlert, DeadlineReference,
                         ExceptionRetryPolicy, Param, PartitionedAssetTimetable, RetryAction,
                         RetryRule, get_current_context)

from pipelines_core import lake
from pipelines_core.alerts import send_alert
from pipelines_core.config import WorkbenchConfig, config_for, parse_date
from pipelines_core.runtime import run_step
from pipelines_core.spec import PipelineSpec, retry_policy
from pipelines_core.steps.etl import SILVER_TABLE
from workbench_airflow import ORCHESTRATOR

# The ETL's silver customers, produced by ``customer_daily_etl.ingest_cdc`` and scheduling
# ``lead_scoring_mlops``. ``x-`` marks a scheme Airflow has no normaliser for. It is
# partitioned by data date: each ETL run's event carries its date as the partition key.
SILVER_CUSTOMERS = Asset(name="silver_customers", uri="x-workbench://lake/silver/customers",
                         group="workbench")
# The ETL's gold daily summary: lineage of a lake output, consumed by no DAG.
GOLD_SUMMARY = Asset(name="gold_customer_daily_summary",
                     uri="x-workbench://lake/gold/customer_daily_summary", group="workbench")


def silver_customers_schedule() -> PartitionedAssetTimetable:
    """One ML run per partition (data date) of silver customers: events of several dates
    that arrive together still start one run each, with the date as the run's
    ``partition_key``; the identity mapper keeps the ETL's key."""
    return PartitionedAssetTimetable(assets=SILVER_CUSTOMERS)


def emit_partition(asset: Asset, context: Any, **extra: Any) -> None:
    """Put this run's data date on the task's asset event: as its partition key (which
    schedules the partition-aware consumer) and in its ``extra`` (with small metadata)."""
    day = data_date(context).isoformat()
    event = context["outlet_events"][asset]
    event.add_partitions(day)
    event.extra = {"date": day, **extra}


# Run parameters (the trigger form in the UI, ``conf`` through the API). ``noop`` runs the same
# graph with every step returning at once: the orchestrator's own floor, without restarting
# anything to change the tasks' environment.
RUN_PARAMS = {"noop": Param(False, type="boolean",
                            description="Every step records its attempt and returns at once "
                                        "(measures Airflow's own cost of the graph).")}


def default_args(spec: PipelineSpec, config: WorkbenchConfig) -> dict[str, Any]:
    """Airflow's retry settings from the spec's policy (with the configuration's overrides).

    Airflow computes the delay before retry ``n`` as ``retry_delay * factor**(n-1)`` plus a
    deterministic hash-based jitter of up to that much again, capped at ``max_retry_delay``.
    """
    policy = retry_policy(spec, config)
    return {
        "owner": "workbench",
        "retries": policy.retries,
        "retry_delay": timedelta(seconds=policy.base_delay_s),
        "retry_exponential_backoff": policy.backoff_factor,
        "max_retry_delay": timedelta(seconds=policy.max_delay_s),
        "execution_timeout": timedelta(seconds=policy.timeout_s),
        "on_failure_callback": alert_on_failure,
    }


# A gate's verdict is about the data, not a transient fault: retrying cannot change it. The
# same holds for an input that breaks its contract (``ContractViolation``, a GateFailed),
# which any step that reads one may raise; every other error keeps the spec's retries.
GATE_RETRY_POLICY = ExceptionRetryPolicy(rules=[
    RetryRule(exception="pipelines_core.errors.GateFailed", action=RetryAction.FAIL,
              reason="a failed gate or a broken input is a verdict on the data; retrying "
                     "cannot change it"),
])


def step_args(spec: PipelineSpec, name: str) -> dict[str, Any]:
    """Per-task arguments from the spec: the task id is the step's name, its doc the step's."""
    step = spec.step(name)
    return {"task_id": step.name, "doc_md": step.doc, "retry_policy": GATE_RETRY_POLICY}


def start_date(spec: PipelineSpec) -> datetime:
    return datetime(spec.start_date.year, spec.start_date.month, spec.start_date.day,
                    tzinfo=timezone.utc)


def data_date(context: Any) -> Date:
    """The data date of a run: its logical date; for an asset-triggered run (no logical date
    in Airflow 3) its partition key, which is the date the producing run emitted; else the
    date on its triggering asset event, else ``conf["date"]``."""
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date()
    if context.get("partition_key"):
        return parse_date(str(context["partition_key"])[:10])
    dates = {str(event.extra["date"])
             for events in (context.get("triggering_asset_events") or {}).values()
             for event in events if (event.extra or {}).get("date")}
    if len(dates) > 1:
        raise ValueError(f"run was triggered by events of several dates {sorted(dates)}")
    if dates:
        return parse_date(dates.pop())
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    if conf.get("date"):
        return parse_date(str(conf["date"]))
    raise ValueError("run has no logical date, no triggering asset event with a date, "
                     "and no conf['date']")


def run_config(context: Any) -> WorkbenchConfig:
    """The configuration of this run: the process's, with the run's ``noop`` parameter."""
    config = config_for(ORCHESTRATOR)
    if (context.get("params") or {}).get("noop"):
        config = config.replace(noop=True)
    return config


def run(spec: PipelineSpec, step: str, *, map_key: str | None = None,
        inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one attempt of ``step`` through the core, with Airflow's date and try number."""
    context = get_current_context()
    return run_step(spec, step, data_date(context), config=run_config(context),
                    attempt=context["ti"].try_number, map_key=map_key, inputs=inputs,
                    orchestrator=ORCHESTRATOR)


def publish_quality_checks(context: Any) -> None:
    """XCom ``quality_checks``: the gate's checks as the core recorded them in the lake,
    pushed whether the gate passed or failed, so the API and the UI show why a run stopped."""
    part = lake.Partition(config_for(ORCHESTRATOR).namespace_root(), "quality", SILVER_TABLE,
                          data_date(context).isoformat())
    if part.exists():
        context["ti"].xcom_push(key="quality_checks", value=lake.read_json(part))


def alert_on_failure(context: Any) -> None:
    """``on_failure_callback`` of every task: one alert per task that fails for good."""
    ti = context["ti"]
    exc = context.get("exception")
    try:
        day = data_date(context).isoformat()
    except ValueError:
        day = ""
    send_alert(config_for(ORCHESTRATOR), pipeline=ti.dag_id, date=day, step=ti.task_id,
               error=f"{type(exc).__name__}: {exc}" if exc else "failed",
               orchestrator=ORCHESTRATOR,
               extra={"attempts": ti.try_number, "run_id": ti.run_id,
                      "map_index": ti.map_index})


def deadline_after() -> timedelta:
    """How long a run may take, from being queued, before the deadline alert fires.

    Queued time, not logical date: a backfill of old dates would otherwise miss every
    deadline at once. ``WORKBENCH_AIRFLOW_DEADLINE_S`` (seconds) or
    ``WORKBENCH_AIRFLOW_DEADLINE_H`` (hours, default 4) set it; 0 turns the alert off
    (``dag.test()`` in Airflow 3.3.2 fails on DAGs with a deadline: it looks the alert up by
    a serialized dict instead of its id when the run ends).
    """
    if os.environ.get("WORKBENCH_AIRFLOW_DEADLINE_S"):
        return timedelta(seconds=float(os.environ["WORKBENCH_AIRFLOW_DEADLINE_S"]))
    return timedelta(hours=float(os.environ.get("WORKBENCH_AIRFLOW_DEADLINE_H", "4")))


async def deadline_missed(dag_id: str, **kwargs: Any) -> None:
    """Deadline callback (run by the triggerer): a run is still going past its deadline."""
    context = kwargs.get("context") or {}
    dag_run = context.get("dag_run") or {}
    day = dag_run.get("logical_date") or dag_run.get("partition_key") or ""
    send_alert(config_for(ORCHESTRATOR), pipeline=dag_id, date=str(day)[:10], step=None,
               error=f"run not finished within {deadline_after()} of being queued",
               orchestrator=ORCHESTRATOR, kind="deadline",
               extra={"run_id": dag_run.get("dag_run_id"),
                      "deadline_time": str((context.get("deadline") or {}).get("deadline_time"))})


def deadline(spec: PipelineSpec) -> DeadlineAlert | None:
    """Airflow 3's Deadline Alert (the successor of Airflow 2's SLA) for a daily run."""
    after = deadline_after()
    if after <= timedelta(0):
        return None
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=after,
                         callback=AsyncCallback(deadline_missed, kwargs={"dag_id": spec.name}))
