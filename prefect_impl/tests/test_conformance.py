"""Each flow's task graph equals the spec: the declared tasks, their options, and the graph
Prefect itself recorded for real runs (task runs and their task_inputs)."""

from __future__ import annotations

import pytest

from pipelines_core.spec import (CUSTOMER_DAILY_ETL, LEAD_SCORING_MLOPS, REGIONS,
                                 retry_policy)
from pipelines_core.testing import make_config

from workbench_prefect import etl, ml
from workbench_prefect.common import bind_tasks, retry_unless_gate
from workbench_prefect.flows import FLOWS

MODULES = {CUSTOMER_DAILY_ETL.name: (CUSTOMER_DAILY_ETL, etl),
           LEAD_SCORING_MLOPS.name: (LEAD_SCORING_MLOPS, ml)}


@pytest.mark.parametrize("pipeline", sorted(MODULES))
def test_declared_tasks_match_spec(pipeline):
    spec, module = MODULES[pipeline]
    assert [t.name for t in module.TASKS] == spec.step_names
    for t in module.TASKS:
        assert t.description == spec.step(t.name).doc
        assert set(t.tags) == set(spec.tags)
    flow = FLOWS[pipeline]
    assert flow.name == pipeline
    assert flow.description == module.__doc__
    assert spec.description.split(":")[0] in flow.description


def test_retry_options_follow_spec_with_cap(tmp_path):
    config = make_config(tmp_path, retries=4, retry_base_delay_s=2.0, retry_backoff_factor=3.0,
                         retry_max_delay_s=10.0, step_timeout_s=42.0)
    t = bind_tasks(CUSTOMER_DAILY_ETL, config, "2026-10-02", etl.TASKS)
    assert retry_policy(CUSTOMER_DAILY_ETL, config).delays() == [2.0, 6.0, 10.0, 10.0]
    assert t.ingest_cdc.retries == 4
    assert t.ingest_cdc.retry_delay_seconds == [2.0, 6.0, 10.0, 10.0]
    assert t.ingest_cdc.timeout_seconds == 42.0
    assert not t.ingest_cdc.retry_jitter_factor
    assert t.wait_for_export.retries == 0  # the sensor's timeout is final
    assert t.quality_gate.retry_condition_fn is retry_unless_gate
    assert len(t.gold_region_aggregates.on_failure_hooks) == 1


def test_a_gate_verdict_is_not_retried_any_other_failure_is():
    from prefect.states import Failed

    from pipelines_core.errors import GateFailed

    assert retry_unless_gate(None, None, Failed(data=GateFailed("quality gate failed"))) is False
    assert retry_unless_gate(None, None, Failed(data=ValueError("Spark went away"))) is True


def _recorded_graph(stack, run_id: str) -> tuple[set, list[str]]:
    """(upstream step, step) pairs from Prefect's task runs and their recorded inputs."""
    runs = stack.task_runs(run_id)
    step_of = {t["id"]: t["name"].split("[")[0] for t in runs}
    edges = set()
    for t in runs:
        for inputs in t["task_inputs"].values():
            for i in inputs:
                if i.get("input_type") == "task_run":
                    edges.add((step_of[i["id"]], step_of[t["id"]]))
    return edges, sorted(t["name"] for t in runs)


def test_etl_graph_recorded_by_prefect_equals_spec(stack, e2e, backfill):
    monthly_edges, monthly_names = _recorded_graph(stack, e2e.etl_run_id)
    daily = next(r for r in backfill if r["state"]["type"] == "COMPLETED")
    daily_edges, daily_names = _recorded_graph(stack, daily["id"])
    # The branch: only the chosen report runs, the other never appears.
    assert "monthly_report" in monthly_names and "daily_report" not in monthly_names
    assert "daily_report" in daily_names and "monthly_report" not in daily_names
    mapped = [n for n in daily_names if n.startswith("gold_region_aggregates[")]
    assert mapped == [f"gold_region_aggregates[{r}]" for r in sorted(REGIONS)]
    assert monthly_edges | daily_edges == CUSTOMER_DAILY_ETL.edges()


def test_ml_graph_recorded_by_prefect_equals_spec(stack, e2e):
    edges, names = _recorded_graph(stack, e2e.ml_run_id)
    assert sorted(names) == sorted(LEAD_SCORING_MLOPS.step_names)
    assert edges == LEAD_SCORING_MLOPS.edges()
