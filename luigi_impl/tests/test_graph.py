"""The Luigi graph of each pipeline equals its spec, and retries come from it.

The graph is what ``requires()`` declares, plus the branch's one dynamic dependency: ``notify``
requires ``choose_report`` (to read its recorded decision) and yields the chosen report.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from datetime import date

import luigi
import pytest
from luigi.task import flatten

from pipelines_core.ledger import Ledger
from pipelines_core.spec import get_pipeline, retry_policy
from pipelines_core.steps import etl

from workbench_luigi import customer_daily_etl, lead_scoring_mlops
from workbench_luigi.settings import luigi_settings
from conftest import IMPL_ROOT, clean_env, yielded_report

MODULES = {"customer_daily_etl": customer_daily_etl, "lead_scoring_mlops": lead_scoring_mlops}
FIRST, OTHER = date(2026, 10, 1), date(2026, 10, 2)

# the edge Luigi adds for the branch: notify reads choose_report's decision
DECISION = ("choose_report", "notify")

pytestmark = pytest.mark.usefixtures("workbench_env")


def walk(root: luigi.Task):
    """Every (upstream, downstream) pair of the graph under ``root``, as (pipeline, step)."""
    edges, keys, seen, stack = set(), defaultdict(set), set(), [root]
    while stack:
        task = stack.pop()
        if task.task_id in seen:
            continue
        seen.add(task.task_id)
        keys[(task.task_namespace, task.step)].add(task.map_key)
        for dep in flatten(task.requires()):
            edges.add(((dep.task_namespace, dep.step), (task.task_namespace, task.step)))
            stack.append(dep)
    return edges, keys


def own(edges, pipeline):
    return {(u[1], d[1]) for u, d in edges if u[0] == d[0] == pipeline}


@pytest.mark.parametrize("pipeline", sorted(MODULES))
def test_graph_equals_spec(pipeline):
    spec = get_pipeline(pipeline)
    terminal = MODULES[pipeline].TERMINAL
    edges = set()
    for day in (FIRST, OTHER):
        found, _ = walk(terminal(date=day))
        edges |= found
    if pipeline == "customer_daily_etl":
        assert DECISION in own(edges, pipeline)
        for day, decision in ((FIRST, "monthly_report"), (OTHER, "daily_report")):
            found, _ = walk(yielded_report(day, decision))
            edges |= found | {((pipeline, decision), (pipeline, "notify"))}
        assert own(edges, pipeline) == spec.edges() | {DECISION}
    else:
        assert own(edges, pipeline) == spec.edges()
    nodes = {s for e in own(edges, pipeline) for s in e}
    assert nodes == set(spec.step_names)


def test_building_the_graph_decides_no_branch(monkeypatch):
    """Luigi calls ``requires()`` to build its graph before anything runs (and again in every
    worker): the core's branch is not asked there, outside ``run_step``, and no report is
    scheduled before ``choose_report`` ran."""
    def decided_outside_run_step(ctx):
        raise AssertionError(f"choose_report decided for {ctx.ds} outside run_step")

    monkeypatch.setattr(etl, "choose_report", decided_outside_run_step)
    for day in (FIRST, OTHER):
        _, keys = walk(customer_daily_etl.notify(date=day))
        steps = {step for _, step in keys}
        assert "choose_report" in steps
        assert not steps & {"monthly_report", "daily_report"}


@pytest.mark.parametrize("recorded", ["monthly_report", "daily_report"])
def test_notify_follows_the_decision_choose_report_recorded(workbench_env, recorded):
    """Whatever ``choose_report``'s recorded result names is the report ``notify`` waits for
    (here recorded by hand for the 1st, where the core would pick the monthly report)."""
    notify = customer_daily_etl.notify(date=FIRST)
    assert notify.requires() == customer_daily_etl.choose_report(date=FIRST)
    assert yielded_report(FIRST, recorded) == customer_daily_etl.REPORTS[recorded](date=FIRST)
    assert Ledger(workbench_env.ledger_path).read_attempts() == []  # nothing ran


def test_fan_out_one_task_per_region():
    _, keys = walk(customer_daily_etl.notify(date=OTHER))
    assert keys[("customer_daily_etl", "gold_region_aggregates")] == set(etl.regions())
    assert keys[("customer_daily_etl", "gold_summary")] == {None}


def test_ml_pipeline_requires_the_etl_silver_target():
    spec = get_pipeline("lead_scoring_mlops")
    edges, _ = walk(lead_scoring_mlops.notify(date=OTHER))
    cross = {(u, d) for u, d in edges if u[0] != d[0]}
    trigger_pipeline, trigger_step = spec.triggered_by.split(".")
    assert cross == {((trigger_pipeline, trigger_step), ("lead_scoring_mlops", "generate_leads"))}
    ingest = customer_daily_etl.ingest_cdc(date=OTHER)
    assert "silver/customers/date=2026-10-02" in ingest.output()


@pytest.mark.parametrize("pipeline", sorted(MODULES))
def test_task_names_docs_and_retries_come_from_the_spec(pipeline, workbench_env):
    spec = get_pipeline(pipeline)
    policy = retry_policy(spec, workbench_env)
    for step in spec.steps:
        cls = getattr(MODULES[pipeline], step.name)
        assert cls.get_task_family() == f"{pipeline}.{step.name}"
        assert cls.__doc__ and cls.__doc__.strip()
        if step.kind == "sensor":
            assert issubclass(cls, luigi.ExternalTask)
            continue
        task = cls(date=OTHER, region="emea") if step.fan_out else cls(date=OTHER)
        expected = 1 if step.kind == "gate" else policy.retries + 1
        assert task.retry_count == expected
        assert task.worker_timeout == int(policy.timeout_s)
    assert MODULES[pipeline].__doc__.startswith(spec.description.split(":")[0])
    settings = luigi_settings(workbench_env)
    assert float(settings["scheduler"]["retry_delay"]) == policy.base_delay_s


def test_luigi_deps_tree_cli_shows_every_step(workbench_env):
    """Luigi's own tool renders the graph from the command line, as its docs show."""
    proc = subprocess.run(
        [str(IMPL_ROOT / ".venv" / "bin" / "luigi-deps-tree"), "--module",
         "workbench_luigi.customer_daily_etl", "customer_daily_etl.notify", "--date",
         OTHER.isoformat()],
        cwd=IMPL_ROOT, env=clean_env(workbench_env), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for step in get_pipeline("customer_daily_etl").step_names:
        if step not in ("monthly_report", "daily_report"):
            assert f"[{step}-{{'date': '2026-10-02'" in proc.stdout, step
    # the reports are dynamic dependencies: they appear once the branch has run
    assert "[monthly_report-" not in proc.stdout and "[daily_report-" not in proc.stdout
    assert proc.stdout.count("[gold_region_aggregates-") == 4
