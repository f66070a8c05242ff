"""Jobs, the 02:00 schedule, the export sensor and the run-failure sensor.

- ``customer_daily_etl`` and ``lead_scoring_mlops`` are partitioned asset jobs (one run per
  data date) carrying ``dagster/max_runtime``, the run monitor's ceiling.
- ``customer_daily_etl_schedule`` runs each date's partition at 02:00 the next day (Dagster
  schedules target the last complete partition; no catch-up of missed ticks).
- ``customer_export_sensor`` requests the ETL run of a date as soon as its bronze export is
  complete; a date still without an export ``sensor_timeout_s`` after the sensor first looked
  is given up and alerted once (the sensor's timeout).
- ``alert_on_run_failure`` sends every failed run of either job to the core's alert sink.
- The ML assets start themselves from fresh silver customers through their automation
  condition, evaluated by ``lead_scoring_automation``.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

from dagster import (AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus,
                     DagsterEventType, RunFailureSensorContext, RunRequest, SensorEvaluationContext,
                     SensorResult, SkipReason, build_schedule_from_partitioned_job,
                     define_asset_job, run_failure_sensor, sensor)

from pipelines_core.alerts import send_alert
from pipelines_core.config import parse_date
from pipelines_core.spec import get_pipeline
from pipelines_core.steps.etl import export_ready

from workbench_dagster.common import DAILY, ETL, ML, max_runtime_s
from workbench_dagster.resources import ORCHESTRATOR, WorkbenchResource
from workbench_dagster.service import AUTOMATION_SWITCH
from workbench_dagster.stepnames import error_message, parse_step_key


def _job(pipeline: str):
    spec = get_pipeline(pipeline)
    return define_asset_job(
        pipeline, selection=AssetSelection.groups(pipeline),
        description=spec.description,
        tags={"dagster/max_runtime": max_runtime_s(pipeline),
              **{f"workbench/{t}": "" for t in spec.tags}})


etl_job = _job(ETL)
ml_job = _job(ML)

etl_schedule = build_schedule_from_partitioned_job(
    etl_job, name=f"{ETL}_schedule", hour_of_day=2, minute_of_hour=0,
    description="Daily at 02:00 UTC: the previous day's partition (off until switched on).")

# How many recent dates the export sensor watches.
SENSOR_WINDOW_DAYS = 3


@sensor(job=etl_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED)
def customer_export_sensor(context: SensorEvaluationContext, workbench: WorkbenchResource):
    """Request the ETL run of each recent date whose bronze export is complete.

    The cursor remembers when each still-missing date was first seen; once it has waited
    ``sensor_timeout_s`` the date is alerted once and no longer watched.
    """
    config = workbench.load()
    state = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    keys = DAILY.get_partition_keys(
        current_time=datetime.now(timezone.utc) + timedelta(days=1))[-SENSOR_WINDOW_DAYS:]
    requests, waiting = [], []
    for key in keys:
        if state.get(key) in ("requested", "timed_out"):
            continue
        if export_ready(config, parse_date(key)):
            requests.append(RunRequest(run_key=f"{ETL}:{key}", partition_key=key))
            state[key] = "requested"
            continue
        first_seen = state.setdefault(key, now)
        if now - first_seen >= config.sensor_timeout_s:
            send_alert(config, pipeline=ETL, date=key, step="wait_for_export",
                       error=f"ExportNotReady: bronze export of {key} not found within "
                             f"{config.sensor_timeout_s:.0f} s", orchestrator=ORCHESTRATOR)
            state[key] = "timed_out"
        else:
            waiting.append(key)
    state = {k: v for k, v in state.items() if k in keys}
    if not requests:
        return SensorResult(skip_reason=SkipReason(
            f"no new export; waiting for {', '.join(waiting) or 'nothing'}"),
            cursor=json.dumps(state))
    return SensorResult(run_requests=requests, cursor=json.dumps(state))


def failed_steps(instance, run_id: str) -> list[tuple[str, str | None, str]]:
    """``(spec step, map key, error)`` of each step that failed for good, or whose blocking
    check failed, in the run's order."""
    out = []
    records = instance.get_records_for_run(
        run_id, of_type={DagsterEventType.STEP_FAILURE,
                         DagsterEventType.ASSET_CHECK_EVALUATION}).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = error_message(error) if error else "step failed"
        else:
            evaluation = event.event_specific_data
            if evaluation.passed:
                continue
            message = evaluation.description or "blocking check failed"
        name, map_key, _ = parse_step_key(event.step_key)
        out.append((name, map_key, message))
    return out


@run_failure_sensor(monitored_jobs=[etl_job, ml_job], minimum_interval_seconds=5,
                    default_status=DefaultSensorStatus.RUNNING)
def alert_on_run_failure(context: RunFailureSensorContext, workbench: WorkbenchResource):
    """One alert per failed run, naming its first failed step (or failed gate) and error."""
    run = context.dagster_run
    steps = failed_steps(context.instance, run.run_id)
    step, map_key, error = steps[0] if steps else (None, None, context.failure_event.message)
    send_alert(workbench.load(), pipeline=run.job_name, date=run.tags.get("dagster/partition", ""),
               step=step, error=error or "", orchestrator=ORCHESTRATOR,
               extra={"run_id": run.run_id, "map_key": map_key,
                      "failed_steps": [s for s, _, _ in steps]})


# The daemon evaluates the sensor as soon as it starts; a deployment that wants no ML runs
# of its own (the benchmark, the backfill test) declares it stopped with this switch.
lead_scoring_automation = AutomationConditionSensorDefinition(
    "lead_scoring_automation", target=AssetSelection.groups(ML),
    default_status=(DefaultSensorStatus.STOPPED if os.environ.get(AUTOMATION_SWITCH) == "off"
                    else DefaultSensorStatus.RUNNING),
    minimum_interval_seconds=30,
    description="Evaluates the ML assets' automation conditions: fresh silver customers of a "
                "date start that date's lead scoring.")

jobs = [etl_job, ml_job]
schedules = [etl_schedule]
sensors = [customer_export_sensor, alert_on_run_failure, lead_scoring_automation]
