"""Both DAGs run in-process with ``dag.test()`` against the SQLite metadata DB of a temporary
AIRFLOW_HOME: outputs equal the direct runner's, retries are Airflow's own and match the
ledger, a permanent failure and a failed gate stop everything downstream and alert once."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from conftest import DAY
from pipelines_core import lake
from pipelines_core.alerts import read_alerts
from pipelines_core.ledger import Ledger
from pipelines_core.spec import get_pipeline, retry_policy
from pipelines_core.steps.etl import SILVER_TABLE, regions
from pipelines_core.testing import generate_exports
from pipelines_core.verify import output_checksums

ETL, ML = "customer_daily_etl", "lead_scoring_mlops"
FAILING_DAY = "2026-10-05"
BAD_DAY = "2026-10-06"


def logical(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=2, tzinfo=timezone.utc)


def airflow_record(dag_run) -> dict[tuple[str, int], dict]:
    """Airflow's own record of a run: every try of every task instance, from the metadata DB
    (``task_instance`` for the last try, ``task_instance_history`` for the earlier ones)."""
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    record: dict[tuple[str, int], dict] = {}
    with create_session() as session:
        for model in (TaskInstanceHistory, TaskInstance):
            rows = session.scalars(select(model).where(model.dag_id == dag_run.dag_id,
                                                       model.run_id == dag_run.run_id))
            for ti in rows:
                entry = record.setdefault((ti.task_id, ti.map_index), {"tries": []})
                entry["tries"].append({"try_number": ti.try_number, "state": str(ti.state),
                                       "start": ti.start_date, "end": ti.end_date})
                if model is TaskInstance:
                    entry.update(state=str(ti.state), map_key=ti.rendered_map_index)
    for entry in record.values():
        entry["tries"].sort(key=lambda t: t["try_number"])
    return record


def xcom(dag_run, task_id: str, map_index: int = -1, key: str = "return_value"):
    from sqlalchemy import select

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        value = session.scalar(select(XComModel.value).where(
            XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id,
            XComModel.task_id == task_id, XComModel.map_index == map_index,
            XComModel.key == key))
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def etl_run(test_dags, workbench, fault_plan_module):
    """One ETL run whose ``ingest_cdc`` fails twice (a transient fault) and then succeeds."""
    generate_exports(workbench, [date.fromisoformat(DAY)])
    fault_plan_module({"ingest_cdc": {"kind": "raise", "times": 2, "dates": [DAY]}})
    dag_run = test_dags[ETL].test(logical_date=logical(DAY))
    fault_plan_module({})
    return dag_run


@pytest.fixture(scope="module")
def fault_plan_module(workbench):
    import os
    from pathlib import Path

    path = Path(os.environ["WORKBENCH_FAULTS"])
    yield lambda plan: path.write_text(json.dumps(plan))
    path.write_text("{}")


def test_etl_outputs_equal_direct_runner(etl_run, workbench, reference):
    assert str(etl_run.state) == "success"
    day = date.fromisoformat(DAY)
    expected = reference.checksums(ETL, [day])[day]
    actual = output_checksums(workbench, ETL, date.fromisoformat(DAY))
    assert actual == expected
    assert len(actual) >= 8  # silver, quality, 4 regions, summary, report, notification


def test_etl_states_mapping_and_branch(etl_run):
    record = airflow_record(etl_run)
    mapped = {e["map_key"]: e["state"] for (task, _), e in record.items()
              if task == "gold_region_aggregates"}
    assert mapped == {r: "success" for r in regions()}
    assert record[("daily_report", -1)]["state"] == "success"
    assert record[("monthly_report", -1)]["state"] == "skipped"  # not the 1st: skipped, not failed
    assert record[("notify", -1)]["state"] == "success"


def test_etl_small_results_travel_as_xcom(etl_run, workbench):
    ingest = xcom(etl_run, "ingest_cdc")
    ledger = Ledger(workbench.ledger_path).read_attempts(
        pipeline=ETL, step="ingest_cdc", date=DAY, namespace=workbench.namespace,
        status="success")
    assert ingest["rows_out"] == ledger[-1].rows > 0
    per_region = [xcom(etl_run, "gold_region_aggregates", i) for i in range(len(regions()))]
    rows = {r.map_key: r.rows for r in Ledger(workbench.ledger_path).read_attempts(
        pipeline=ETL, step="gold_region_aggregates", date=DAY, namespace=workbench.namespace,
        status="success")}
    assert sorted(r["rows_out"] for r in per_region) == sorted(rows.values())
    assert sum(rows.values()) > 0 and all(r["outputs"] for r in per_region)
    assert xcom(etl_run, "choose_report", key="step_result")["next_step"] == "daily_report"


def test_quality_checks_are_visible_as_xcom(etl_run, workbench):
    checks = xcom(etl_run, "quality_gate", key="quality_checks")
    recorded = lake.read_json(lake.Partition(workbench.namespace_root(), "quality",
                                             SILVER_TABLE, DAY))
    assert checks == recorded and checks["passed"] is True and checks["date"] == DAY
    assert xcom(etl_run, "quality_gate")["metrics"]["checks"] == len(checks["checks"])


def test_transient_fault_retried_by_airflow_as_ledger_saw_it(etl_run, workbench):
    tries = airflow_record(etl_run)[("ingest_cdc", -1)]["tries"]
    ledger = Ledger(workbench.ledger_path).read_attempts(
        pipeline=ETL, step="ingest_cdc", date=DAY, namespace=workbench.namespace,
        orchestrator="airflow")
    assert [t["try_number"] for t in tries] == [1, 2, 3]
    assert [r.attempt for r in ledger] == [1, 2, 3]
    assert [r.status for r in ledger] == ["failed", "failed", "success"]
    assert [t["state"] for t in tries][-1] == "success"
    assert all(t["state"] in ("failed", "up_for_retry") for t in tries[:-1])
    # Each Airflow try brackets the ledger's attempt of the same number.
    for t, r in zip(tries, ledger):
        assert t["start"] <= datetime.fromisoformat(r.start)
        assert datetime.fromisoformat(r.end) <= t["end"]
    # Delays: Airflow waits at least the spec's backoff (plus its own hash jitter), capped.
    policy = retry_policy(get_pipeline(ETL), workbench)
    for n in (1, 2):
        gap = (tries[n]["start"] - tries[n - 1]["end"]).total_seconds()
        assert policy.delay_before(n) - 0.1 <= gap <= policy.max_delay_s + 5, (n, gap)


def test_ml_outputs_equal_direct_runner(etl_run, test_dags, workbench, reference):
    day = date.fromisoformat(DAY)
    dag_run = test_dags[ML].test(logical_date=logical(DAY))
    assert str(dag_run.state) == "success"
    expected = reference.checksums(ML, [day])[day]
    assert output_checksums(workbench, ML, day) == expected
    assert xcom(dag_run, "evaluate")["metrics"]["auc"] >= 0.75


def _downstream_states(dag_run, failed_step: str) -> dict[str, str]:
    record = airflow_record(dag_run)
    below = get_pipeline(dag_run.dag_id).downstream_of(failed_step)
    return {task: e["state"] for (task, _), e in record.items() if task in below}


def test_permanent_failure_stops_downstream_and_alerts_once(test_dags, workbench,
                                                            fault_plan):
    generate_exports(workbench, [date.fromisoformat(FAILING_DAY)])
    fault_plan({"ingest_cdc": {"kind": "permanent", "dates": [FAILING_DAY]}})
    dag_run = test_dags[ETL].test(logical_date=logical(FAILING_DAY))
    assert str(dag_run.state) == "failed"
    record = airflow_record(dag_run)
    assert record[("ingest_cdc", -1)]["state"] == "failed"
    assert len(record[("ingest_cdc", -1)]["tries"]) == 3
    downstream = _downstream_states(dag_run, "ingest_cdc")
    assert set(downstream) == get_pipeline(ETL).downstream_of("ingest_cdc")
    assert set(downstream.values()) == {"upstream_failed"}
    alerts = read_alerts(workbench, kind="failure", pipeline=ETL, date=FAILING_DAY)
    assert len(alerts) == 1
    assert alerts[0]["step"] == "ingest_cdc" and alerts[0]["orchestrator"] == "airflow"
    assert "InjectedFault" in alerts[0]["error"] and alerts[0]["attempts"] == 3


def test_failed_quality_gate_is_not_retried_and_stops_downstream(test_dags, workbench):
    day = date.fromisoformat(BAD_DAY)
    generate_exports(workbench.replace(bad_days=(day,)), [day])
    dag_run = test_dags[ETL].test(logical_date=logical(BAD_DAY))
    assert str(dag_run.state) == "failed"
    record = airflow_record(dag_run)
    assert record[("quality_gate", -1)]["state"] == "failed"
    assert len(record[("quality_gate", -1)]["tries"]) == 1  # the retry policy says FAIL
    ledger = Ledger(workbench.ledger_path).read_attempts(
        pipeline=ETL, step="quality_gate", date=BAD_DAY, namespace=workbench.namespace)
    assert [r.status for r in ledger] == ["gate_failed"]
    assert set(_downstream_states(dag_run, "quality_gate").values()) == {"upstream_failed"}
    # The failed gate still shows its checks: which one failed, and by how much.
    checks = xcom(dag_run, "quality_gate", key="quality_checks")
    assert checks["passed"] is False
    assert [c["name"] for c in checks["checks"] if not c["passed"]] == \
        [c.split("=")[0] for c in ledger[0].error.split(": ", 2)[2].split("; ")]
    alerts = read_alerts(workbench, kind="failure", pipeline=ETL, date=BAD_DAY)
    assert [a["step"] for a in alerts] == ["quality_gate"]


def test_noop_parameter_runs_the_floor_without_data(test_dags, workbench):
    """``conf={"noop": true}``: the same graph, every step recorded and free, the sensor not
    waiting for an export that does not exist, nothing written to the lake."""
    day = "2026-10-09"  # no export was generated for it
    dag_run = test_dags[ETL].test(logical_date=logical(day), run_conf={"noop": True})
    assert str(dag_run.state) == "success"
    record = airflow_record(dag_run)
    assert record[("wait_for_export", -1)]["state"] == "success"
    attempts = Ledger(workbench.ledger_path).read_attempts(pipeline=ETL, date=day,
                                                           namespace=workbench.namespace)
    assert {a.step for a in attempts} == {"wait_for_export", "ingest_cdc", "quality_gate",
                                         "gold_region_aggregates", "gold_summary",
                                         "choose_report", "daily_report", "notify"}
    assert {a.status for a in attempts} == {"success"}
    assert not lake.Partition(workbench.namespace_root(), "silver", SILVER_TABLE, day).exists()
