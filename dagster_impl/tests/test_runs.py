"""Runs through Dagster with a temporary instance: outputs equal to the direct runner's, the
branch, the data-aware trigger, retries as the ledger saw them, a failing gate and its alert."""

from __future__ import annotations

import json
import os
from datetime import date

from dagster import (AssetKey, DagsterEventType, build_run_status_sensor_context,
                     evaluate_automation_conditions)

from pipelines_core.alerts import read_alerts
from pipelines_core.ledger import Ledger
from pipelines_core.testing import generate_exports
from pipelines_core.verify import output_checksums

from tests.helpers import step_events, steps_run
from workbench_dagster.automation import alert_on_run_failure
from workbench_dagster.definitions import defs
from workbench_dagster.resources import WorkbenchResource
from workbench_dagster.stepnames import error_message

ETL, ML = "customer_daily_etl", "lead_scoring_mlops"


def run_job(instance, job: str, day: date, **kwargs):
    return defs.resolve_job_def(job).execute_in_process(
        partition_key=day.isoformat(), instance=instance, raise_on_error=False, **kwargs)


def materialization(instance, key: list[str], day: date):
    record = instance.fetch_materializations(AssetKey(key), limit=100).records
    found = [r for r in record if r.partition_key == day.isoformat()]
    assert found, f"{key} {day} not materialised"
    return found[0].asset_materialization


def test_both_pipelines_match_the_direct_runner(config, instance, reference):
    day = date(2026, 11, 2)
    generate_exports(config, [day])
    cursor = evaluate_automation_conditions(defs, instance).cursor

    etl = run_job(instance, ETL, day)
    assert etl.success
    assert output_checksums(config, ETL, day) == reference(ETL, day)
    # The branch: the 2nd of a month writes the daily report; the monthly one is skipped.
    events = step_events(instance, etl.run_id)
    assert "STEP_SKIPPED" in events[f"{ETL}__report.monthly_report"]
    assert "STEP_SUCCESS" in events[f"{ETL}__report.daily_report"]
    assert "STEP_SUCCESS" in events[f"{ETL}__report.notify"]
    assert {k for k in steps_run(instance, etl.run_id) if k[0] == "gold_region_aggregates"} == {
        ("gold_region_aggregates", r) for r in ("amer", "apac", "emea", "latam")}
    # Metadata: the silver row count Dagster shows is the one the ledger recorded.
    ingest = [r for r in Ledger(config.ledger_path).read_attempts(
        pipeline=ETL, step="ingest_cdc", date=day.isoformat(), namespace="dagster")]
    meta = materialization(instance, [ETL, "ingest_cdc"], day).metadata
    assert meta["rows_out"].value == ingest[-1].rows > 0

    # Fresh silver customers of the date request the date's ML chain.
    evaluation = evaluate_automation_conditions(defs, instance, cursor=cursor)
    for step in ("generate_leads", "train", "evaluate", "deploy", "batch_predictions", "notify"):
        assert evaluation.get_requested_partitions(AssetKey([ML, step])) == {day.isoformat()}

    ml = run_job(instance, ML, day)
    assert ml.success
    assert output_checksums(config, ML, day) == reference(ML, day)
    auc = materialization(instance, [ML, "evaluate"], day).metadata["auc"].value
    metrics = json.loads((config.namespace_root() / "models" / "lead_scoring_metrics"
                          / f"date={day}" / "metrics.json").read_text())
    assert auc == metrics["auc"] >= 0.75


def test_retries_recorded_as_the_ledger_saw_them(config, instance, monkeypatch):
    day = date(2026, 10, 10)
    generate_exports(config, [day])
    monkeypatch.setenv("WORKBENCH_FAULTS", json.dumps({"ingest_cdc": {"kind": "raise",
                                                                       "times": 2}}))
    result = run_job(instance, ETL, day, asset_selection=[AssetKey([ETL, "wait_for_export"]),
                                                          AssetKey([ETL, "ingest_cdc"])])
    assert result.success
    types = step_events(instance, result.run_id)[f"{ETL}__ingest_cdc"]
    assert types.count("STEP_START") == 1 and types.count("STEP_RESTARTED") == 2
    assert types.count("STEP_UP_FOR_RETRY") == 2 and types.count("STEP_SUCCESS") == 1

    ledger = Ledger(config.ledger_path).read_attempts(
        pipeline=ETL, step="ingest_cdc", date=day.isoformat(), namespace="dagster")
    assert [(r.attempt, r.status, r.orchestrator) for r in ledger] == [
        (1, "failed", "dagster"), (2, "failed", "dagster"), (3, "success", "dagster")]
    retries = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(
        result.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY).records]
    for event, rec in zip(retries, ledger[:2]):
        assert error_message(event.event_specific_data.error) == rec.error
    assert [e.event_specific_data.seconds_to_wait for e in retries] == [1.0, 3.0]
    # Dagster's exponential backoff: (2**n - 1) * 1 s, i.e. 1 s then 3 s (no max delay).
    gaps = [(b_start - a_end) for a_end, b_start in zip(
        [_ts(r.end) for r in ledger[:2]], [_ts(r.start) for r in ledger[1:]])]
    assert 0.9 <= gaps[0] < 2.5 and 2.8 <= gaps[1] < 5.5, gaps


def test_a_run_fault_plan_does_not_reach_the_next_run_of_the_process(config, instance):
    """The fault plan of one in-process run (the workbench resource's ``run_env``) hits that
    run only: the next run in the same process, without one, sees no fault, and the process
    environment is left as it was."""
    first, second = date(2026, 10, 14), date(2026, 10, 15)
    generate_exports(config, [first, second])
    selection = [AssetKey([ETL, "wait_for_export"]), AssetKey([ETL, "ingest_cdc"])]
    plan = json.dumps({"ingest_cdc": {"kind": "raise", "times": 1}})
    faulty = run_job(instance, ETL, first, asset_selection=selection, run_config={
        "resources": {"workbench": {"config": {"run_env": {"WORKBENCH_FAULTS": plan}}}}})
    clean = run_job(instance, ETL, second, asset_selection=selection)
    assert faulty.success and clean.success

    def attempts(day):
        return [(r.attempt, r.status) for r in Ledger(config.ledger_path).read_attempts(
            pipeline=ETL, step="ingest_cdc", date=day.isoformat(), namespace="dagster")]
    assert attempts(first) == [(1, "failed"), (2, "success")]
    assert attempts(second) == [(1, "success")]
    assert "WORKBENCH_FAULTS" not in os.environ


def test_failing_quality_gate_stops_downstream_and_alerts_once(config, instance):
    day = date(2026, 10, 12)
    generate_exports(config.replace(bad_days=(day,)), [day])
    result = run_job(instance, ETL, day)
    assert not result.success
    check = [r.event_log_entry.dagster_event.event_specific_data
             for r in instance.get_records_for_run(
                 result.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records]
    assert [(c.check_name, c.passed) for c in check] == [("quality_gate", False)]
    assert steps_run(instance, result.run_id) == {("wait_for_export", None),
                                                  ("ingest_cdc", None), ("quality_gate", None)}
    ledger = Ledger(config.ledger_path).read_attempts(date=day.isoformat(), namespace="dagster")
    assert [(r.step, r.status) for r in ledger] == [
        ("wait_for_export", "success"), ("ingest_cdc", "success"),
        ("quality_gate", "gate_failed")]  # a gate's verdict is not retried

    run = instance.get_run_by_id(result.run_id)
    failure = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(
        result.run_id, of_type=DagsterEventType.RUN_FAILURE).records][0]
    context = build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_event=failure, dagster_instance=instance,
        dagster_run=run, resources={"workbench": WorkbenchResource()}).for_run_failure()
    alert_on_run_failure(context)
    alerts = read_alerts(config, kind="failure", date=day.isoformat())
    assert len(alerts) == 1
    assert alerts[0]["step"] == "quality_gate" and alerts[0]["pipeline"] == ETL
    assert alerts[0]["orchestrator"] == "dagster" and "quality gate failed" in alerts[0]["error"]
    assert alerts[0]["run_id"] == result.run_id


def _ts(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()
