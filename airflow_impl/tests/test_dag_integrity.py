"""DAG integrity: the DAG files import cleanly and carry docs, tags and the spec's retries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines_core.config import config_for
from pipelines_core.spec import PIPELINES, retry_policy
from workbench_airflow import ORCHESTRATOR
from workbench_airflow.common import SILVER_CUSTOMERS, alert_on_failure


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted(PIPELINES)


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_docs_and_tags(dagbag, name):
    dag = dagbag.dags[name]
    spec = PIPELINES[name]
    assert dag.doc_md and f"### {name}" in dag.doc_md  # the module docstring
    assert dag.description == spec.description
    assert set(spec.tags) <= set(dag.tags)
    for task in dag.tasks:
        assert task.doc_md == spec.step(task.task_id).doc


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_retries_from_spec(dagbag, name):
    dag = dagbag.dags[name]
    policy = retry_policy(PIPELINES[name], config_for(ORCHESTRATOR))
    assert policy.retries >= PIPELINES[name].retry.retries
    for task in dag.tasks:
        assert task.retries == policy.retries, task.task_id
        assert task.retry_delay == timedelta(seconds=policy.base_delay_s)
        assert task.retry_exponential_backoff == policy.backoff_factor
        assert task.max_retry_delay == timedelta(seconds=policy.max_delay_s)
        assert task.execution_timeout == timedelta(seconds=policy.timeout_s)
        callbacks = task.on_failure_callback
        assert alert_on_failure in (callbacks if isinstance(callbacks, list) else [callbacks])


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_schedule_and_deadline(dagbag, name):
    dag = dagbag.dags[name]
    spec = PIPELINES[name]
    assert dag.catchup is False
    assert dag.start_date.date() == spec.start_date
    assert dag.deadline, "a deadline alert replaces Airflow 2's SLA"
    if spec.triggered_by:
        # Data-aware: scheduled by the Asset the ETL's ingest step updates, one run per
        # partition (data date) of it.
        assert type(dag.timetable).__name__ == "PartitionedAssetTimetable"
        assert dag.timetable.asset_condition == SILVER_CUSTOMERS
        producer_step = spec.triggered_by.split(".")[1]
        producer = dagbag.dags[spec.triggered_by.split(".")[0]].get_task(producer_step)
        assert SILVER_CUSTOMERS in producer.outlets
    else:
        assert type(dag.timetable).__name__ == "CronTriggerTimetable"
        assert dag.timetable.expression == spec.schedule


@pytest.mark.parametrize("component, preloaded", [("scheduler", True), ("api-server", False)])
def test_local_settings_preload_the_spark_client_in_the_scheduler_only(tmp_path, component,
                                                                        preloaded):
    """Airflow imports airflow_local_settings from the services' PYTHONPATH when it starts;
    in the scheduler (whose forked task processes inherit its modules) that brings pyspark's
    Connect client, elsewhere nothing."""
    import subprocess
    import sys

    from workbench_airflow.service import AirflowService

    env = AirflowService(tmp_path, 18080).env()
    code = ("import sys, airflow.settings; "
            "print(sorted(m for m in ('pyspark.sql.connect.session', 'pipelines_core.steps.etl')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, component], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = out.stdout.strip().splitlines()[-1]
    expected = ["pipelines_core.steps.etl", "pyspark.sql.connect.session"] if preloaded else []
    assert loaded == str(expected)
