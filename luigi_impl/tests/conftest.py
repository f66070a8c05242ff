"""Shared fixtures: one Spark Connect server for the session, a runner for the Luigi CLI, a
luigid per test that needs one, and readers of what luigid recorded (Luigi's own clients).

Luigi runs in a child process (``python -m workbench_luigi``), as the adapter and the demo
run it; its worker forks one process per attempt, so the test process (which talks to Spark
for reference outputs and checksums) never forks with a live gRPC channel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import luigi.configuration
import pytest
from luigi.db_task_history import DbTaskHistory
from luigi.rpc import RemoteScheduler
from prometheus_client.parser import text_string_to_metric_families

from pipelines_core import testing
from pipelines_core.config import WorkbenchConfig
from pipelines_core.http import HttpClient
from pipelines_core.procs import free_port, port_open
from pipelines_core.runner import run_pipeline
from pipelines_core.spec import get_pipeline
from pipelines_core.verify import output_checksums

from workbench_luigi import customer_daily_etl
from workbench_luigi.base import results_root
from workbench_luigi.service import LuigiService

IMPL_ROOT = Path(__file__).resolve().parent.parent
ETL_DAY = date(2026, 10, 1)  # the 1st: the monthly branch
TAIL = ("choose_report", "monthly_report", "notify")  # the ETL's tail on ETL_DAY


def clean_env(config: WorkbenchConfig, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WORKBENCH_", "LUIGI_CONFIG_PATH"))}
    env.update(config.to_env())
    env.update(extra or {})
    env["PYTHONPATH"] = str(IMPL_ROOT)
    return env


def run_luigi(config: WorkbenchConfig, *args: str, env: dict[str, str] | None = None,
              timeout: float = 300) -> tuple[int, dict]:
    """Run ``python -m workbench_luigi ARGS`` with ``config``; (exit code, its JSON summary)."""
    proc = subprocess.run([sys.executable, "-m", "workbench_luigi", *args], cwd=IMPL_ROOT,
                          env=clean_env(config, env), capture_output=True, text=True,
                          timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError(f"no summary from workbench_luigi {args}: rc={proc.returncode}\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc.returncode, json.loads(lines[-1])


@pytest.fixture
def workbench_env(tmp_path, monkeypatch) -> WorkbenchConfig:
    """This process's environment set to a fresh configuration (no Spark): task classes built
    here read it, as they do in a worker."""
    cfg = testing.make_config(tmp_path, namespace="luigi")
    for key in [k for k in os.environ if k.startswith("WORKBENCH_")]:
        monkeypatch.delenv(key)
    for key, value in cfg.to_env().items():
        monkeypatch.setenv(key, value)
    return cfg


def yielded_report(day: date, decision: str) -> luigi.Task:
    """The report ``notify`` yields (its dynamic dependency) once ``choose_report`` has
    recorded ``decision`` for ``day``; nothing runs."""
    target = customer_daily_etl.choose_report(date=day).result_target()
    target.makedirs()
    with target.open("w") as fh:
        json.dump({"next_step": decision}, fh)
    return next(customer_daily_etl.notify(date=day).run())


@pytest.fixture(scope="session")
def spark_config(tmp_path_factory):
    """A connect-mode configuration whose Spark Connect server lives for the whole session."""
    base = testing.make_config(tmp_path_factory.mktemp("spark"), namespace="luigi")
    with testing.connect_server(base) as cfg:
        yield cfg


@pytest.fixture
def config(spark_config, tmp_path) -> WorkbenchConfig:
    """A fresh lake and state folder per test, sharing the session's Spark server."""
    return spark_config.replace(lake_root=tmp_path / "lake", state_dir=tmp_path / "state")


@pytest.fixture(scope="session")
def etl_done(spark_config, tmp_path_factory):
    """customer_daily_etl run once through Luigi for ETL_DAY; tests copy this lake."""
    root = tmp_path_factory.mktemp("etl_done")
    cfg = spark_config.replace(lake_root=root / "lake", state_dir=root / "state")
    testing.generate_exports(cfg, [ETL_DAY])
    rc, summary = run_luigi(cfg, "run", "--pipeline", "customer_daily_etl",
                            "--date", ETL_DAY.isoformat())
    return cfg, rc, summary


@pytest.fixture(scope="session")
def reference(spark_config, tmp_path_factory):
    """``reference(day)``: the direct runner's ETL checksums for ``day``, computed once."""
    cfg = spark_config.replace(lake_root=tmp_path_factory.mktemp("reference") / "lake")
    cache: dict[tuple[str, date], dict[str, str]] = {}

    def checksums(day: date, pipeline: str = "customer_daily_etl") -> dict[str, str]:
        if ("customer_daily_etl", day) not in cache:
            cache[("customer_daily_etl", day)] = testing.reference_outputs(
                cfg, "customer_daily_etl", day)
        if (pipeline, day) not in cache:  # the ML pipeline, on the ETL reference run above
            ref = cfg.replace(namespace="reference", orchestrator="direct")
            outcome = run_pipeline(get_pipeline(pipeline), day, ref)
            assert outcome.state == "success", outcome.steps
            cache[(pipeline, day)] = output_checksums(ref, pipeline, day)
        return cache[(pipeline, day)]

    return checksums


def copy_lake(source: WorkbenchConfig, target: WorkbenchConfig) -> None:
    """Copy a lake (its partitions are relative symbolic links, so they survive the copy)."""
    shutil.copytree(source.lake_root, target.lake_root, symlinks=True)


@pytest.fixture
def tail_to_run(etl_done, config):
    """A copy of ETL_DAY's finished lake without the results of the pipeline's tail
    (``choose_report`` and what follows): Luigi, which re-runs only incomplete tasks, runs
    just that tail, so the steps under test are real and the Spark work upstream is not paid
    again."""
    source, rc, _ = etl_done
    assert rc == 0
    copy_lake(source, config)
    for step in TAIL:
        shutil.rmtree(results_root(config) / "customer_daily_etl" / step)
    return config


@pytest.fixture
def luigid(config, tmp_path):
    """A luigid of its own (free port, fresh state), through the service command's class."""
    service = LuigiService(tmp_path / "luigid", free_port(), config=config,
                           options=argparse.Namespace(fresh_state=True))
    service.up()
    try:
        yield service
    finally:
        service.down()
        assert not port_open(service.port), "luigid still listens after down"


def scheduler(url: str) -> RemoteScheduler:
    """Luigi's own client of luigid's API."""
    return RemoteScheduler(url)


def history_events(service: LuigiService, family: str, **params: str
                   ) -> list[tuple[str, datetime]]:
    """The RUNNING, FAILED and DONE events of one task in luigid's task history, oldest
    first, read with Luigi's own ``DbTaskHistory``."""
    luigi.configuration.get_config().set("task_history", "db_connection",
                                         f"sqlite:///{service.history_db}")
    db = DbTaskHistory()
    session = db.session_factory()
    try:
        [task] = {t.id: t for t in db.find_all_by_parameters(family, session, **params)}.values()
        return [(e.event_name, e.ts) for e in reversed(task.events)  # newest first in Luigi
                if e.event_name in ("RUNNING", "FAILED", "DONE")]
    finally:
        session.close()


def metrics(service: LuigiService) -> dict[tuple[str, frozenset], float]:
    """luigid's Prometheus samples, ``{(name, frozenset of label pairs): value}``."""
    text = HttpClient(service.url).request("GET", "/metrics", raw=True)
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}
