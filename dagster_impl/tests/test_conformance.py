"""The Dagster asset graph equals the spec: names, upstreams, fan-out, branch, gates, docs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines_core.spec import PIPELINES, get_pipeline, retry_policy
from pipelines_core.testing import TEST_RETRY

from workbench_dagster.definitions import defs
from workbench_dagster.graph import native_graph
from workbench_dagster.resources import WorkbenchResource

IMPL = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_asset_graph_matches_spec(name):
    spec = get_pipeline(name)
    native = native_graph(defs, name)
    assert set(native.upstream) == set(spec.step_names)
    assert native.edges() == spec.edges()
    assert native.gates == {s.name for s in spec.steps if s.kind == "gate"}
    assert native.mapped == {s.name for s in spec.steps if s.fan_out}
    branches = [s for s in spec.steps if s.kind == "branch"]
    assert native.optional == {d.name for b in branches for d in spec.steps
                               if b.name in d.upstream}
    for step in spec.steps:  # descriptions come from the docstrings and match the spec's line
        assert native.descriptions[step.name].splitlines()[0] == step.doc


def test_ml_starts_from_fresh_silver_customers():
    spec = get_pipeline("lead_scoring_mlops")
    pipeline, step = spec.triggered_by.split(".")
    native = native_graph(defs, spec.name)
    assert native.external_upstream == {"generate_leads": {f"{pipeline}/{step}"}}
    graph = defs.resolve_asset_graph()
    for key in graph.asset_keys_for_group(spec.name):
        assert graph.get(key).automation_condition.get_label() == "fresh_upstream", key


def test_retry_policies_follow_the_spec():
    from dagster import Backoff

    graph = defs.resolve_asset_graph()
    config = WorkbenchResource().load()
    for name in PIPELINES:
        policy = retry_policy(get_pipeline(name), config)
        assert policy.retries == TEST_RETRY["retries"]  # the test environment's override
        for key in graph.asset_keys_for_group(name):
            step = key.path[-1]
            node_def = graph.get(key).assets_def.node_def
            ops = ([n.definition for n in node_def.nodes] if hasattr(node_def, "nodes")
                   else [node_def])
            for op in ops:
                if op.name in ("split_regions", "collect_regions"):
                    continue  # fan-out helpers run no core step
                if get_pipeline(name).step(step).kind == "sensor":
                    assert op.retry_policy is None  # waiting longer is the timeout's job
                    continue
                rp = op.retry_policy
                assert (rp.max_retries, rp.delay, rp.backoff) == (
                    policy.retries, policy.base_delay_s, Backoff.EXPONENTIAL), op.name


def test_partitions_schedule_and_jobs():
    from datetime import datetime, timezone

    etl = defs.resolve_job_def("customer_daily_etl")
    ml = defs.resolve_job_def("lead_scoring_mlops")
    for job, name in ((etl, "customer_daily_etl"), (ml, "lead_scoring_mlops")):
        spec = get_pipeline(name)
        keys = job.partitions_def.get_partition_keys(
            current_time=datetime(2026, 10, 4, tzinfo=timezone.utc))
        assert keys == ["2026-10-01", "2026-10-02", "2026-10-03"]
        assert spec.start_date.isoformat() == keys[0]
        # every step's every attempt at its timeout: the run monitor's ceiling
        policy = retry_policy(spec, WorkbenchResource().load())
        assert int(job.tags["dagster/max_runtime"]) == int(
            policy.timeout_s * (policy.retries + 1) * len(spec.steps))
    schedule = defs.get_schedule_def("customer_daily_etl_schedule")
    assert schedule.cron_schedule == get_pipeline("customer_daily_etl").schedule
    assert schedule.job_name == "customer_daily_etl"
    sensors = {s.name for s in defs.sensors}
    assert {"customer_export_sensor", "alert_on_run_failure",
            "lead_scoring_automation"} <= sensors


def test_definitions_validate_is_clean(tmp_path):
    dagster = Path(sys.executable).with_name("dagster")
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.run([str(dagster), "definitions", "validate", "-m",
                           "workbench_dagster.definitions"], cwd=IMPL, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
