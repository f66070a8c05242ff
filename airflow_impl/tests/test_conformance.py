"""Conformance: each DAG's native task graph is the spec's graph, step for step."""

from __future__ import annotations

import pytest
from airflow.providers.standard.operators.python import BranchPythonOperator
from airflow.sdk import BaseSensorOperator, RetryAction
from airflow.sdk.definitions.mappedoperator import MappedOperator

from pipelines_core.errors import ContractViolation, GateFailed
from pipelines_core.spec import PIPELINES
from pipelines_core.steps.etl import regions


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_graph_equals_spec(dagbag, name):
    dag = dagbag.dags[name]
    spec = PIPELINES[name]
    assert sorted(dag.task_ids) == sorted(spec.step_names)
    edges = {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}
    assert edges == spec.edges()


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_step_kinds(dagbag, name):
    dag = dagbag.dags[name]
    for step in PIPELINES[name].steps:
        task = dag.get_task(step.name)
        if step.fan_out:
            assert isinstance(task, MappedOperator), step.name
            assert task.op_kwargs_expand_input.value == {step.fan_out: regions()}
            assert task.map_index_template == "{{ region }}"
        else:
            assert not isinstance(task, MappedOperator), step.name
        assert isinstance(task, BaseSensorOperator) == (step.kind == "sensor"), step.name
        if step.kind == "sensor":
            assert task.mode == "reschedule" and task.timeout > 0 and task.poke_interval > 0
        assert isinstance(task, BranchPythonOperator) == (step.kind == "branch"), step.name
        if step.kind == "branch":
            assert task.downstream_task_ids == {d.name for d in PIPELINES[name].steps
                                                if step.name in d.upstream}
        if step.kind == "join" and len(step.upstream) > 1:
            assert task.trigger_rule == "none_failed_min_one_success"
        # a failed gate or a broken input is not retried, in any step; any other error is
        gate = task.retry_policy.evaluate(GateFailed("AUC 0.5 < 0.75"), 1, 3)
        broken = task.retry_policy.evaluate(ContractViolation("lacks column op_ts"), 1, 3)
        other = task.retry_policy.evaluate(RuntimeError("Spark went away"), 1, 3)
        assert (gate.action, broken.action, other.action) == (
            RetryAction.FAIL, RetryAction.FAIL, RetryAction.DEFAULT), step.name
