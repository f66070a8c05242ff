"""Shared fixtures: one Spark Connect server for the session, and a runner for the Luigi CLI.

Luigi runs in a child process (``python -m workbench_luigi``), as the adapter and the demo
run it; its worker forks one process per attempt, so the test process (which talks to Spark
for reference outputs and checksums) never forks with a live gRPC channel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipelines_core import testing
from pipelines_core.config import WorkbenchConfig
from pipelines_core.runner import run_pipeline
from pipelines_core.spec import get_pipeline
from pipelines_core.verify import output_checksums

IMPL_ROOT = Path(__file__).resolve().parent.parent
ETL_DAY = date(2026, 10, 1)  # the 1st: the monthly branch


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
